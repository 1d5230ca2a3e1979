"""The supported ranges in pyproject.toml are honest: oomguard on the oldest Python and the
oldest dependency releases it admits (constraints/floor.txt, in .venv-floor made by
scripts/floor-venv.sh) answers exactly as it does in the pinned test environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FLOOR_PYTHON = REPO / ".venv-floor" / "bin" / "python"

# The webhook's answer to the README's admission example, through the Flask app factory.
WEBHOOK_SCRIPT = """
import json, sys
from oomguard.rules.config import config_from_data
from oomguard.webhook.app import create_app
client = create_app(config_from_data({"mode": "enforce", "mutate": ["jvm-heap-exceeds-limit"]})
                    ).test_client()
review = json.load(open(sys.argv[1]))
answers = {}
for path in ("/validate", "/mutate"):
    reply = client.post(path, json=review)
    answers[path] = [reply.status_code, reply.get_json()]
print(json.dumps(answers, sort_keys=True))
"""


@pytest.fixture(scope="module")
def floor_python() -> Path:
    subprocess.run(["bash", str(REPO / "scripts" / "floor-venv.sh")], check=True, timeout=900)
    return FLOOR_PYTHON


def _versions(python: Path | str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in"
        " ('PyYAML', 'ruamel.yaml', 'jsonschema', 'flask', 'kubernetes', 'gunicorn',"
        " 'prometheus-client')} | {'python': '%d.%d' % sys.version_info[:2]}))"
    )
    return json.loads(subprocess.check_output([str(python), "-c", code], text=True))


def _run(python: Path | str, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [str(python), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return done.returncode, done.stdout, done.stderr


def test_floor_environment_is_the_floor_of_pyproject(floor_python):
    pyproject = (REPO / "pyproject.toml").read_text()
    floor = _versions(floor_python)
    assert f'requires-python = ">={floor["python"]}"' in pyproject
    for name, version in floor.items():
        if name == "python":
            continue
        # pyproject says "name>=X" (any case); the floor venv has exactly X
        spelled = {n.lower() for n in (name, name.replace("-", "_"))}
        assert any(f'"{n}>={version}' in pyproject.lower() for n in spelled), (
            f"{name} {version} in .venv-floor is not the floor pyproject.toml states"
        )
    assert floor != _versions(sys.executable), "floor and pinned environments are the same"


@pytest.mark.parametrize(
    "args",
    [
        ("lint", "examples/", "--format", "json"),
        ("lint", "examples/", "--min-severity", "info"),
        ("lint", "--diff", "examples/bad/"),
        ("rules", "--format", "json"),
    ],
    ids=["lint-json", "lint-info", "diff", "rules"],
)
def test_floor_answers_like_pinned(floor_python, args):
    floor = _run(floor_python, "-m", "oomguard", *args)
    pinned = _run(sys.executable, "-m", "oomguard", *args)
    assert pinned[1], "the pinned run printed nothing: nothing was compared"
    assert floor == pinned


def test_floor_webhook_answers_like_pinned(floor_python):
    review = str(REPO / "examples" / "admission" / "deployment-deny.json")
    floor = _run(floor_python, "-c", WEBHOOK_SCRIPT, review)
    pinned = _run(sys.executable, "-c", WEBHOOK_SCRIPT, review)
    assert pinned[0] == 0, pinned[2]
    answers = json.loads(pinned[1])
    assert answers["/validate"][1]["response"]["allowed"] is False
    assert floor[:2] == pinned[:2]
