"""Facts defined once (issue 16, item 5): exit codes, report formats, serve defaults, the
nesting limit and the failure policy each live in one module that the others read."""

from __future__ import annotations

import inspect
import re

from conftest import REPO
from oomguard import exit_codes
from oomguard.cli import build_parser
from oomguard.linter import loader
from oomguard.linter.formats import REPORT_FORMATS, format_choices
from oomguard.linter.output import FORMATS
from oomguard.rules import admission, model
from oomguard.rules.admission import ALLOW, DENY, Request, failed
from oomguard.rules.config import config_from_data
from oomguard.webhook import defaults, review

SOURCES = [
    path
    for path in REPO.rglob("*.py")
    if not {".venv", ".venv-helm", "tests", "bench", "build"} & set(path.relative_to(REPO).parts)
]


def test_exit_codes_are_assigned_only_in_their_module():
    assigned = re.compile(r"^EXIT_[A-Z_]+(, EXIT_[A-Z_]+)* =", re.M)
    where = [p for p in SOURCES if assigned.search(p.read_text("utf-8"))]
    assert [p.name for p in where] == ["exit_codes.py"], where
    assert (exit_codes.EXIT_OK, exit_codes.EXIT_FINDINGS) == (0, 1)  # the specification's
    assert (exit_codes.EXIT_USAGE, exit_codes.EXIT_INTERNAL) == (2, 3)


def _subparser(name: str):
    return build_parser().commands[name]  # type: ignore[attr-defined]


def _option(parser, flag: str):
    (action,) = [a for a in parser._actions if flag in a.option_strings]
    return action


def test_format_choices_come_from_the_registry_and_each_has_a_writer():
    for command in ("lint", "audit"):
        assert tuple(_option(_subparser(command), "--format").choices) == format_choices(command)
        assert set(format_choices(command)) <= set(REPORT_FORMATS)
    for name, fmt in REPORT_FORMATS.items():
        __import__(fmt.module)
        assert callable(FORMATS[name]), name
    # the documents on stdout are the ones --diff must not break
    assert {n for n, f in REPORT_FORMATS.items() if f.document} == {
        "json",
        "sarif",
        "policyreport",
        "openreports",
    }


def test_serve_defaults_are_the_defaults_module():
    serve = _subparser("serve")
    expected = {
        "--port": defaults.PORT,
        "--host": defaults.HOST,
        "--probe-port": defaults.PROBE_PORT,
        "--workers": defaults.WORKERS,
        "--threads": defaults.THREADS_PER_WORKER,
        "--max-body-bytes": defaults.MAX_BODY_BYTES,
        "--on-rule-error": defaults.ON_RULE_ERROR,
    }
    for flag, value in expected.items():
        assert _option(serve, flag).default == value, flag
    assert tuple(_option(serve, "--on-rule-error").choices) == (ALLOW, DENY)
    assert defaults.ON_RULE_ERROR == ALLOW
    from oomguard.webhook.app import create_app

    default = inspect.signature(create_app).parameters["max_body_bytes"].default
    assert default == defaults.MAX_BODY_BYTES == 6 * 1024 * 1024


def test_one_nesting_limit_for_every_front_end():
    assert loader.MAX_DEPTH is review.MAX_DEPTH is model.MAX_DEPTH == 100


def test_a_failure_outside_the_rules_follows_the_rule_crash_policy():
    """The webhook's HTTP layer asks rules/admission.py (``failed``) what to answer when its
    own code fails; it holds no policy of its own."""
    config = config_from_data({"namespace_modes": {"quiet": "audit"}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}

    def answer(on_crash: str, namespace: str = "shop"):
        request = Request("CREATE", pod, namespace=namespace, on_crash=on_crash)
        return failed(request, config, "oomguard failed: KeyError")

    denied = answer(DENY)
    assert (denied.allowed, denied.code, denied.reason) == (False, 500, "InternalError")
    assert denied.message == (
        "oomguard: internal error, denied by its failure policy: oomguard failed: KeyError"
    )
    allowed = answer(ALLOW)
    assert allowed.allowed is True
    assert allowed.warnings == ("oomguard could not finish its checks (oomguard failed: KeyError)",)
    assert answer(DENY, "quiet").allowed is True  # audit mode never denies
    app_source = (REPO / "webhook" / "app.py").read_text("utf-8")
    assert "admission.decide(" not in app_source and "admission.failed(" in app_source
    assert admission.failed is failed
