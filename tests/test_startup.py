"""The lint start-up path imports nothing heavy: every pre-commit run pays for each import.

flask, the kubernetes client and gunicorn belong to ``serve``/``audit``; ruamel.yaml only to
``--fix``/``--diff``; jsonschema only when a config file is read.
"""

from __future__ import annotations

import ast
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "flask",
    "werkzeug",
    "kubernetes",
    "gunicorn",
    "ruamel",
    "urllib3",
    "jsonschema",
    "prometheus_client",  # audit --metrics-file / --pushgateway only
    # worker processes (lint --jobs): only for an input big enough, never for a few files
    "multiprocessing",
    "concurrent.futures",
    "oomguard.linter.jobs",
)
# rendering charts and overlays (docs/charts.md): Helm's shared library, and subprocess (git,
# kustomize) stay off the path of plain manifests
RENDERING = ("helm_python", "subprocess", "oomguard.linter.render_lint")
MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: app
      image: eclipse-temurin:21
      command: [java, -Xmx2g, -jar, app.jar]
      resources: {limits: {memory: 2Gi}}
"""
# every probe runs `oomguard ARGS` as the console script does, then prints what it checks
RUN_OOMGUARD = """\
import runpy, sys
sys.argv = ["oomguard", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("oomguard", run_name="__main__")
except SystemExit as exit:
    code = exit.code
"""
PROBE = """\
import json
print(json.dumps({"code": code, "heavy": sorted({m.split(".")[0] for m in sys.modules} & %r),
                  "rendering": sorted(set(sys.modules) & %r)}))
"""


def _probe(cwd: Path, after: str, *args: str) -> str:
    """The last line ``after`` prints once ``oomguard ARGS`` has run in a fresh process (a
    cold start) in ``cwd``, with the config-verdict cache under ``cwd``."""
    run = subprocess.run(
        [sys.executable, "-c", RUN_OOMGUARD + after, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_CACHE_HOME": str(cwd / "cache")},
    )
    return run.stdout.strip().splitlines()[-1]


def _lint_imports(cwd: Path, *args: str) -> dict:
    probe = json.loads(_probe(cwd, PROBE % (set(HEAVY), set(RENDERING)), "lint", *args))
    assert probe.pop("rendering") == [], "a plain-manifest run must not load the renderers"
    return probe


@pytest.mark.parametrize("output", ["text", "json"])
def test_lint_imports_nothing_heavy(tmp_path: Path, output: str):
    (tmp_path / "pod.yaml").write_text(MANIFEST)
    assert _lint_imports(tmp_path, "pod.yaml", "--format", output) == {"code": 1, "heavy": []}


def test_lint_with_a_config_file_adds_only_jsonschema_and_only_once(tmp_path: Path):
    (tmp_path / "pod.yaml").write_text(MANIFEST)
    (tmp_path / ".oomguard.yaml").write_text("thresholds: {jvm_heap_ratio: 0.7}\n")
    assert _lint_imports(tmp_path, "pod.yaml") == {"code": 1, "heavy": ["jsonschema"]}
    # the passed validation is remembered: the same config again needs no jsonschema
    assert _lint_imports(tmp_path, "pod.yaml") == {"code": 1, "heavy": []}
    (tmp_path / ".oomguard.yaml").write_text("thresholds: {jvm_heap_ratio: 0.6}\n")
    assert _lint_imports(tmp_path, "pod.yaml") == {"code": 1, "heavy": ["jsonschema"]}


def test_a_bad_config_is_checked_every_time(tmp_path: Path):
    (tmp_path / "pod.yaml").write_text(MANIFEST)
    (tmp_path / ".oomguard.yaml").write_text("thresholds: {jvm_heap_ratio: lots}\n")
    for _ in range(2):
        assert _lint_imports(tmp_path, "pod.yaml") == {"code": 2, "heavy": ["jsonschema"]}
    assert not (tmp_path / "cache" / "oomguard").exists()


def test_an_unwritable_cache_costs_only_speed(tmp_path: Path):
    (tmp_path / "pod.yaml").write_text(MANIFEST)
    (tmp_path / ".oomguard.yaml").write_text("mode: warn\n")
    (tmp_path / "cache").write_text("a file where the cache folder would go")
    for _ in range(2):
        assert _lint_imports(tmp_path, "pod.yaml") == {"code": 1, "heavy": ["jsonschema"]}


# What a plain `oomguard lint FILE` (text report, no config file) leaves out of its cold start
# (bench/RESULTS.md, 2026-12-01 08:20): json (the JSON writers and the config cache), the config
# schema's importlib.resources (with tempfile and random), traceback (a rule's crash only) and
# the webhook's defaults (read by the serve command's flags, built only when serve is typed).
LAZY = ("json", "importlib.resources", "tempfile", "random", "traceback", "oomguard.webhook")
# prints with repr(), not json: nothing is imported after the run either
BARE_PROBE = """\
print(repr((code, sorted(set(sys.modules) & %r))))
"""


def _loaded(cwd: Path, *args: str) -> tuple[int, list[str]]:
    return ast.literal_eval(_probe(cwd, BARE_PROBE % (set(LAZY),), *args))


def test_plain_lint_leaves_out_json_the_schema_and_the_other_commands(tmp_path: Path):
    (tmp_path / "pod.yaml").write_text(MANIFEST)
    assert _loaded(tmp_path, "lint", "pod.yaml") == (1, [])
    # the probe sees them when a run does need them
    assert _loaded(tmp_path, "lint", "pod.yaml", "--format", "json") == (1, ["json"])
    (tmp_path / ".oomguard.yaml").write_text("thresholds: {jvm_heap_ratio: 0.7}\n")
    code, loaded = _loaded(tmp_path, "lint", "pod.yaml")
    assert (code, {"json", "importlib.resources"} <= set(loaded)) == (1, True)
    assert _loaded(tmp_path, "serve", "--help")[1] == ["oomguard.webhook"]


GC_PROBE = """\
import gc
print(repr((gc.isenabled(), gc.get_freeze_count() > 1000)))
"""


def _probe_lint_of_a_pod(cwd: Path, probe: str):
    """``oomguard lint pod.yaml`` run by ``probe`` in a fresh process; its last line, read."""
    (cwd / "pod.yaml").write_text(MANIFEST)
    return ast.literal_eval(_probe(cwd, probe, "lint", "pod.yaml"))


def test_a_lint_process_freezes_its_imports_and_collects_again_after(tmp_path: Path):
    # the command's modules are imported with the GC paused, then frozen (cli.py::_runner);
    # the lint itself must run with the GC on, as before
    assert _probe_lint_of_a_pod(tmp_path, GC_PROBE) == (True, True)


def test_main_called_by_a_caller_leaves_its_gc_alone(tmp_path: Path, capsys):
    from oomguard.cli import main

    (tmp_path / "pod.yaml").write_text(MANIFEST)
    frozen = gc.get_freeze_count()
    assert main(["lint", str(tmp_path / "pod.yaml"), "--no-related"]) == 1
    assert (gc.isenabled(), gc.get_freeze_count()) == (True, frozen)


DATACLASS_PROBE = """\
import dataclasses
found = {
    cls.__qualname__: cls.__doc__.startswith(cls.__name__ + "(")
    for name, module in list(sys.modules.items()) if name.startswith("oomguard.")
    for cls in vars(module).values()
    if dataclasses.is_dataclass(cls) and isinstance(cls, type) and cls.__module__ == name
}
print(repr((len(found), sorted(name for name, generated in found.items() if generated))))
"""


def test_the_dataclasses_of_a_lint_run_bring_their_own_docstrings(tmp_path: Path):
    # dataclasses writes a missing docstring from inspect.signature(cls) at every import:
    # ~0.3 M instructions per class on the lint start (bench/RESULTS.md, 2026-12-01 08:15)
    count, generated = _probe_lint_of_a_pod(tmp_path, DATACLASS_PROBE)
    assert count > 40  # the probe does see the rule model's classes
    assert generated == []
