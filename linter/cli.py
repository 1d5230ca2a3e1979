"""``oomguard lint``: options → config → lint → output → exit code."""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from oomguard.exit_codes import EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from oomguard.linter.cores import choose_jobs
from oomguard.linter.formats import APPLYABLE_FORMATS, REPORT_FORMATS
from oomguard.linter.output import FORMATS, Shown, Writer
from oomguard.linter.run import (
    STDIN,
    LintInput,
    LintResult,
    UsageError,
    iter_findings,
    prepare,
)
from oomguard.rules import RULES
from oomguard.rules.config import (
    DEFAULT_CONFIG,
    Config,
    ConfigError,
    RenderSetting,
    find_config,
    load_config,
)
from oomguard.rules.engine import with_overrides
from oomguard.rules.model import SEVERITY_RANK, Finding, at_least
from oomguard.rules.text import printable


def run_lint(args: argparse.Namespace) -> int:
    try:
        config = _with_render_flags(_config(args), args)
        if not args.paths:
            raise UsageError(
                "give files or directories to lint, or - to read stdin (see oomguard lint --help)"
            )
        lint_input = prepare(args.paths, config)
    except (UsageError, ConfigError) as exc:
        say(str(exc))
        return EXIT_USAGE

    result = LintResult()
    jobs = choose_jobs(args.jobs, lint_input)
    findings: Iterable[Finding] = iter_findings(lint_input, config, result, jobs)
    if args.fix or args.diff:
        from oomguard.linter.fix import apply_fixes

        result.findings = list(findings)  # fixes are planned from them all, then lint runs again
        # the diff must not break a JSON or SARIF document on stdout
        diff_out = sys.stderr if REPORT_FORMATS[args.format].document else sys.stdout
        result = apply_fixes(
            result,
            config,
            args.paths,
            write=args.fix,
            diff=args.diff,
            out=diff_out,
            lookup=lint_input.sources.lookup,
            limit_ranges=lint_input.sources.limit_ranges_for,
            vpas=lint_input.sources.vpa_for,
        )
        findings = result.findings
    if not args.no_related:
        findings = itertools.chain(findings, _related(args, config, lint_input, result))

    code = report(result, noting_empty(findings, result, args.paths), config, args)
    if args.fail_on_empty and not result.objects and code == EXIT_OK:
        if args.quiet:  # the notice was not printed; a failing run must say why
            say(empty_notice(args.paths))
        return EXIT_USAGE
    return code


def _related(
    args: argparse.Namespace, config: Config, lint_input: LintInput, result: LintResult
) -> Iterator[Finding]:
    """The findings of the workloads elsewhere in the repository that read a ConfigMap or
    Secret of the named files, or that a LimitRange or VPA of them governs (see
    linter/related.py); nothing to do, and nothing imported, when the input holds none."""
    sources = lint_input.sources
    if not (sources.sources or sources.limit_ranges or sources.vpas):
        return
    from oomguard.linter.related import find_related, related_findings

    if args.fix:  # the fixes may have rewritten the sources: read them as they are now
        lint_input = prepare([path for path in args.paths if path != STDIN], config)
    related = find_related(lint_input, args.paths, config)
    yield from related_findings(lint_input, related, config, result)


def noting_empty(
    findings: Iterable[Finding], result: LintResult, paths: list[str]
) -> Iterator[Finding]:
    """``findings``, then, when the input held no workload and nothing was found, a notice
    saying so: a path typo or an unrendered chart must not look like a clean run. It is
    added once the findings are exhausted, when the count is known (SARIF writes its
    notifications after the results, text and JSON after the output)."""
    found = False
    for finding in findings:
        found = True
        yield finding
    if not found and not result.objects and not result.unreadable:
        result.notices.append(empty_notice(paths))


def empty_notice(paths: list[str]) -> str:
    shown = ", ".join("<stdin>" if path == "-" else path for path in paths[:3])
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return f"no Kubernetes workloads found in {shown}{more}"


def run_audit(args: argparse.Namespace) -> int:
    """``oomguard audit``: the same rules and output over a live cluster."""
    from oomguard.kube import ApiError, connect
    from oomguard.linter.audit import audit, tty_progress

    try:
        if args.apply and args.format not in APPLYABLE_FORMATS:
            raise UsageError(f"--apply needs --format {' or '.join(sorted(APPLYABLE_FORMATS))}")
        config = _config(args, enable=[], disable=[])
        cluster, default_namespace = connect(args.kubeconfig, args.context, args.timeout)
    except (UsageError, ConfigError, ApiError) as exc:
        say(str(exc))
        return EXIT_USAGE
    namespaces = None if args.all_namespaces else (args.namespace or [default_namespace])
    progress = tty_progress if sys.stderr.isatty() and not args.quiet else (lambda message: None)
    started = time.monotonic()
    result = audit(cluster, namespaces, config, progress)
    duration = time.monotonic() - started
    if progress is tty_progress:
        sys.stderr.write("\r\033[K")
    for error in result.api_errors:
        say(f"API error: {error}")
    apply_problems: list[str] = []
    write = None
    if args.apply:  # the reports go to the cluster (server-side apply), not to stdout
        from oomguard.linter.policy_report import FLAVOURS, applying_writer

        write = applying_writer(FLAVOURS[args.format], cluster, apply_problems)
    code = report(result, result.findings, config, args, write)
    if args.apply and code == EXIT_FINDINGS:
        code = EXIT_OK  # the applied reports carry the findings; the run itself succeeded
    for problem in apply_problems:
        say(f"API error: {problem}")
        code = EXIT_USAGE if code == EXIT_OK else code
    if args.metrics_file or args.pushgateway:  # prometheus_client is imported only then
        from oomguard.linter.audit_metrics import export

        for problem in export(
            result, duration, time.time(), args.metrics_file, args.pushgateway, args.timeout
        ):
            say(problem)
            code = EXIT_USAGE if code == EXIT_OK else code
    return EXIT_USAGE if result.api_errors and code == EXIT_OK else code


def report(
    result: LintResult,
    findings: Iterable[Finding],
    config: Config,
    args: argparse.Namespace,
    write: Writer | None = None,
) -> int:
    """Print findings in the chosen format as they come, then notices on stderr; return the
    exit code. ``result``'s counts must be complete once ``findings`` is exhausted."""
    shown_from = _threshold(args.min_severity, args.fail_on)
    shown = Shown((f for f in findings if at_least(f.severity, shown_from)), config)
    write = write or _writer(args.format)
    colour = (
        args.format == "text"
        and not args.no_color
        and "NO_COLOR" not in os.environ
        and sys.stdout.isatty()
    )
    write(sys.stdout, result, shown, config, colour=colour, quiet=args.quiet)
    if not args.quiet:
        for notice in result.notices:
            say(f"notice: {notice}")
    for problem in result.unreadable:
        say(f"cannot read {problem}")
    for crash in result.crashes:
        say(f"internal error: {crash} (please report this)")
    return exit_code(result, shown.totals, args.fail_on)


def say(line: str) -> None:
    """One line on stderr. It may quote file names, object names or an API server's words:
    escaped, so none of them can drive the terminal."""
    print(f"oomguard: {printable(line)}", file=sys.stderr)


def exit_code(result: LintResult, totals: dict[str, int], fail_on: str) -> int:
    if result.crashes:
        return EXIT_INTERNAL
    if result.unreadable:
        return EXIT_USAGE
    failing = any(count and at_least(severity, fail_on) for severity, count in totals.items())
    return EXIT_FINDINGS if failing else EXIT_OK


def _config(
    args: argparse.Namespace, enable: list[str] | None = None, disable: list[str] | None = None
) -> Config:
    enable = args.enable if enable is None else enable
    disable = args.disable if disable is None else disable
    unknown = [rule for rule in (*enable, *disable) if rule not in RULES]
    if unknown:
        raise UsageError(f"unknown rule {unknown[0]!r} (`oomguard rules` lists them)")
    path = Path(args.config) if args.config else find_config(Path.cwd())
    if args.config and not path.is_file():
        raise UsageError(f"config file {args.config}: no such file")
    config = load_config(path) if path else DEFAULT_CONFIG
    return with_overrides(config, enable, disable)


def _with_render_flags(config: Config, args: argparse.Namespace) -> Config:
    """``lint``'s rendering flags, applied after the config's ``render:`` entries."""
    flags = RenderSetting(
        values=tuple(args.values),
        set=tuple(args.set),
        release=args.release_name,
        namespace=args.namespace,
        kube_version=args.kube_version,
    )
    return replace(config, render_flags=flags) if flags != RenderSetting() else config


def _threshold(min_severity: str, fail_on: str) -> str:
    """Findings that can fail the run are always shown."""
    return min(min_severity, fail_on, key=SEVERITY_RANK.__getitem__)


def _writer(name: str) -> Writer:
    if name not in FORMATS:  # its module registers it when imported
        importlib.import_module(REPORT_FORMATS[name].module)
    return FORMATS[name]
