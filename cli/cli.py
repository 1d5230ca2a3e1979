"""The ``oomguard`` command: ``lint``, ``audit``, ``rules``, ``export`` and ``serve``.

Bare ``oomguard`` prints the help and exits 0 (as kubectl and helm do). Exit codes: 0 nothing
at or above ``--fail-on``; 1 findings at or above it; 2 usage error (bad flag, bad config,
unreadable path; with ``lint --fail-on-empty``, an input without workloads), one line on
stderr, no traceback; 3 internal error (a rule crashed: a bug to report).
Heavy imports (flask, gunicorn, the kubernetes client) happen only in the command that needs
them, so ``oomguard lint`` starts fast enough for every pre-commit run.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable

from oomguard import __version__
from oomguard.exit_codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_PIPE_CLOSED, EXIT_USAGE
from oomguard.linter.formats import format_choices

SEVERITY_CHOICES = ("error", "warning", "info")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        # self.prog is "oomguard" or "oomguard lint": point at the help of what was typed
        self.exit(EXIT_USAGE, f"oomguard: {message} (see {self.prog} --help)\n")


def _jobs(text: str) -> int:
    """``--jobs``: a whole number ≥ 0 (0 is the default: the cores available)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, not {text!r}")
    return value


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command`` (a name typed first), the top parser with that
    one subcommand: it parses that command's arguments alike, and a lint run does not build
    the other four (~2 % of its cold start)."""
    parser = _Parser(prog="oomguard", description="Catch Kubernetes OOMKills before they happen.")
    parser.add_argument("--version", action="version", version=f"oomguard {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    parser.commands = commands.choices  # type: ignore[attr-defined]  # name -> its parser
    for name, add in _COMMANDS.items():
        if command in (None, name):
            add(commands)
    return parser


def _add_lint(commands: argparse._SubParsersAction) -> None:
    lint = commands.add_parser("lint", help="check manifest files", description="Check manifests.")
    lint.add_argument("paths", nargs="*", metavar="PATH", help="files, directories, or - for stdin")
    lint.add_argument("--format", choices=format_choices("lint"), default="text")
    lint.add_argument(
        "--config", metavar="FILE", help="config file (default: nearest .oomguard.yaml)"
    )
    lint.add_argument("--fix", action="store_true", help="rewrite files with the available fixes")
    lint.add_argument("--diff", action="store_true", help="print the fixes as a unified diff")
    lint.add_argument(
        "--fail-on",
        choices=SEVERITY_CHOICES,
        default="error",
        help="lowest severity that makes the exit code 1 (default: error)",
    )
    lint.add_argument(
        "--min-severity",
        choices=SEVERITY_CHOICES,
        default="warning",
        help="lowest severity reported (default: warning)",
    )
    lint.add_argument(
        "--enable", action="append", default=[], metavar="RULE", help="turn a rule on"
    )
    lint.add_argument(
        "--disable", action="append", default=[], metavar="RULE", help="turn a rule off"
    )
    lint.add_argument(
        "--fail-on-empty",
        action="store_true",
        help="exit 2 when the input holds no Kubernetes workload (default: a notice, exit 0)",
    )
    lint.add_argument(
        "--no-related",
        action="store_true",
        help="do not also check the workloads in the git repository that read a ConfigMap or "
        "Secret of the files named (default: checked, for pre-commit)",
    )
    lint.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="worker processes for the files (default: the cores available, cgroup CPU quota "
        "included; one process for a small input; 1: never; same output either way)",
    )
    lint.add_argument("--no-color", action="store_true", help="never colour the text output")
    lint.add_argument("-q", "--quiet", action="store_true", help="no summary line and no notices")
    render = lint.add_argument_group(
        "charts and overlays", "how chart and kustomize folders are rendered (docs/charts.md)"
    )
    render.add_argument(
        "-f",
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="values file for every chart given, as helm -f (repeatable; later wins)",
    )
    render.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="value for every chart given, as helm --set (repeatable; wins over --values)",
    )
    render.add_argument(
        "--release-name", metavar="NAME", help="release name (default: release-name)"
    )
    render.add_argument("-n", "--namespace", metavar="NS", help="namespace charts are rendered in")
    render.add_argument(
        "--kube-version",
        metavar="VERSION",
        help="Kubernetes version for .Capabilities (e.g. 1.30.0; default: Helm's)",
    )


def _add_rules(commands: argparse._SubParsersAction) -> None:
    rules = commands.add_parser("rules", help="list the rule catalogue")
    rules.add_argument("--format", choices=("text", "markdown", "json"), default="text")


def _add_audit(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="check the workloads of a live cluster")
    audit.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    audit.add_argument("--context", metavar="NAME", help="kubeconfig context")
    where = audit.add_mutually_exclusive_group()
    where.add_argument(
        "-n", "--namespace", metavar="NS", action="append", help="namespace (repeatable)"
    )
    where.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    audit.add_argument("--format", choices=format_choices("audit"), default="text")
    audit.add_argument(
        "--config", metavar="FILE", help="config file (default: nearest .oomguard.yaml)"
    )
    audit.add_argument("--fail-on", choices=SEVERITY_CHOICES, default="error")
    audit.add_argument("--min-severity", choices=SEVERITY_CHOICES, default="warning")
    audit.add_argument("--timeout", type=float, default=10.0, help="seconds per API call")
    audit.add_argument(
        "--apply",
        action="store_true",
        help="apply the reports of --format policyreport/openreports to the cluster "
        "(server-side apply, field manager oomguard) instead of printing them",
    )
    audit.add_argument(
        "--metrics-file",
        metavar="PATH",
        help="write Prometheus gauges of the run to PATH (text format, atomically)",
    )
    audit.add_argument(
        "--pushgateway", metavar="URL", help="push Prometheus gauges of the run to a Pushgateway"
    )
    audit.add_argument("--no-color", action="store_true")
    audit.add_argument("-q", "--quiet", action="store_true")


def _add_export(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="write the rules CEL can express as Kubernetes-native admission policies",
        description="Write ValidatingAdmissionPolicies (and bindings), or Kyverno "
        "ValidatingPolicies, for the rules CEL can express, with the config's thresholds and "
        "modes, on stdout.",
    )
    export.add_argument(
        "--target",
        choices=("vap", "kyverno"),
        required=True,
        help="vap: admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy; kyverno: "
        "Kyverno (1.17+) policies.kyverno.io/v1 ValidatingPolicy",
    )
    export.add_argument(
        "--config", metavar="FILE", help="config file (default: nearest .oomguard.yaml)"
    )


def _add_serve(commands: argparse._SubParsersAction) -> None:
    from oomguard.webhook import defaults as serve_defaults  # read by this command's flags only

    serve = commands.add_parser("serve", help="run the admission webhook (TLS)")
    serve.add_argument("--cert", required=True, metavar="FILE", help="TLS certificate (PEM)")
    serve.add_argument("--key", required=True, metavar="FILE", help="TLS private key (PEM)")
    serve.add_argument(
        "--port",
        type=int,
        default=serve_defaults.PORT,
        help=f"HTTPS port (default: {serve_defaults.PORT})",
    )
    serve.add_argument(
        "--host",
        default=serve_defaults.HOST,
        help=f"address to bind (default: {serve_defaults.HOST})",
    )
    serve.add_argument(
        "--probe-port",
        type=int,
        default=serve_defaults.PROBE_PORT,
        metavar="PORT",
        help="also serve /healthz, /readyz and /metrics in plain HTTP on this port, "
        "apart from the review threads (default: 0, off)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=serve_defaults.WORKERS,
        help=f"gunicorn worker processes (default: {serve_defaults.WORKERS})",
    )
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="oomguard config (.oomguard.yaml format); default: built-in",
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=serve_defaults.THREADS_PER_WORKER,
        help=f"threads per worker (default: {serve_defaults.THREADS_PER_WORKER})",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=serve_defaults.MAX_BODY_BYTES,
        metavar="N",
        help="larger AdmissionReview bodies get HTTP 413 (default: 6 MiB)",
    )
    serve.add_argument(
        "--on-rule-error",
        choices=serve_defaults.ON_RULE_ERROR_CHOICES,
        default=serve_defaults.ON_RULE_ERROR,
        help="decision when a rule fails internally (default: allow, like failurePolicy Ignore)",
    )


# in the order `oomguard --help` lists them
_COMMANDS = {
    "lint": _add_lint,
    "rules": _add_rules,
    "audit": _add_audit,
    "export": _add_export,
    "serve": _add_serve,
}


def main(argv: list[str] | None = None) -> int:
    # Manifests can hold lone surrogates ("\ud800" in JSON) and messages quote them: print
    # them escaped (valid inside JSON strings too) instead of failing mid-report.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    whole_process = argv is None  # the console script or python -m oomguard, not a caller
    argv = sys.argv[1:] if argv is None else argv
    # the command typed first gets a parser with it alone; anything else (a flag, a typo,
    # nothing) the whole one, whose help and errors list every command
    parser = build_parser(argv[0] if argv and argv[0] in _COMMANDS else None)
    args, extra = parser.parse_known_args(argv)
    if extra:  # unknown flags: argparse reports them on the top parser; point at the command's
        command_parsers = getattr(parser, "commands", {})
        command_parsers.get(args.command, parser).error(
            f"unrecognized arguments: {' '.join(extra)}"
        )
    if args.command is None:
        # bare `oomguard`: the help, exit 0, as kubectl and helm do
        parser.print_help()
        return EXIT_OK
    try:
        if args.command == "rules":
            from oomguard.rules.catalogue_docs import render_catalogue

            sys.stdout.write(render_catalogue(args.format))
            return EXIT_OK
        return _runner(args.command, whole_process)(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader left; later flushes go nowhere, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED


# the function that runs each command, in the module that holds it
_RUNNERS = {
    "lint": ("oomguard.linter.cli", "run_lint"),
    "audit": ("oomguard.linter.cli", "run_audit"),
    "export": ("oomguard.linter.export", "run_export"),
    "serve": ("oomguard.webhook.server", "run_server"),
}


def _runner(command: str, whole_process: bool) -> Callable[[argparse.Namespace], int]:
    """The command's function. When the process is this command, its modules are imported
    with the cyclic GC paused and what exists then is moved out of its sight (``gc.freeze``):
    the classes, functions and tables an import makes live as long as the process, so
    collecting among them, during the imports and in every later full collection, finds
    nothing to free (4 % of a lint cold start). A caller's process (tests calling ``main``)
    keeps its GC as it is: freezing would keep its garbage of the moment for good; so does
    ``serve``, a long-lived server whose workers tune their own."""
    module, name = _RUNNERS[command]
    if not whole_process or command == "serve":
        return getattr(importlib.import_module(module), name)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return getattr(importlib.import_module(module), name)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
