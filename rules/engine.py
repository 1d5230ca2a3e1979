"""Running the catalogue over one object: enabled rules, severities, suppression annotations.

Both front ends call :func:`check_object`; neither knows anything about individual rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from oomguard.rules import CATALOGUE, META, RULES
from oomguard.rules.config import Config, RuleSetting
from oomguard.rules.kinds import Registry
from oomguard.rules.limit_ranges import LimitRangeLookup, no_limit_ranges
from oomguard.rules.manifest_invalid import ID as INVALID
from oomguard.rules.model import Finding, Path, Problem, milder
from oomguard.rules.vpa import VpaLookup, no_vpas
from oomguard.rules.workload import Lookup, Workload, build_workloads, no_lookup
from oomguard.rules.workload_kind_unknown import ID as UNKNOWN_KIND

ALL = "all"


@dataclass(eq=False, repr=False)
class Evaluation:
    """Findings for one object, plus rules that crashed on it (a bug, never the user's fault)."""

    findings: list[Finding] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    checked: bool = False  # the object was a workload
    unknown_kind: bool = False  # not in the registry, but it holds containers (said as info)
    notices: list[str] = field(default_factory=list)  # e.g. the template lives elsewhere


def rule_setting(rule_id: str, config: Config) -> RuleSetting:
    return config.rules.get(rule_id, _NO_SETTING)


_NO_SETTING = RuleSetting()  # shared: building one per rule and object was a hot spot


def rule_enabled(rule_id: str, config: Config) -> bool:
    enabled = rule_setting(rule_id, config).enabled
    return True if enabled is None else enabled


def rule_severity(rule_id: str, config: Config) -> str:
    return rule_setting(rule_id, config).severity or RULES[rule_id].SEVERITY


def enabled_rules(config: Config) -> tuple[tuple[Any, str], ...]:
    """(rule module, severity) of every enabled rule, in catalogue order: worked out once per
    config, not per rule and object (a hot spot on large inputs)."""
    cached = _ENABLED.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    rules = tuple(
        (rule, rule_severity(rule.ID, config))
        for rule in CATALOGUE
        if rule_enabled(rule.ID, config)
    )
    if len(_ENABLED) > 64:  # a process sees a handful of configs; never grow without bound
        _ENABLED.clear()
    _ENABLED[id(config)] = (config, rules)
    return rules


_ENABLED: dict[int, tuple[Config, tuple]] = {}


def _enabled_checks(config: Config) -> tuple[tuple[Any, str, str], ...]:
    """(rule module, rule ID, severity) of every enabled rule: :func:`enabled_rules` with the
    ID the engine reads several times per rule and view looked up once (``check`` is still
    read from the module each time: tests replace it)."""
    cached = _CHECKS.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    checks = tuple((rule, rule.ID, severity) for rule, severity in enabled_rules(config))
    if len(_CHECKS) > 64:  # as _ENABLED
        _CHECKS.clear()
    _CHECKS[id(config)] = (config, checks)
    return checks


_CHECKS: dict[int, tuple[Config, tuple]] = {}


def lint_fix_enabled(rule_id: str, config: Config) -> bool:
    """Whether ``oomguard lint --fix`` applies this rule's fix: rewrites of existing values by
    default; fixes that add values when ``defaults`` are configured; or exactly ``fix.enable``."""
    if config.fix_enable is not None:
        return rule_id in config.fix_enable
    meta = META[rule_id]
    if meta.fix == "rewrite":
        return True
    return (
        meta.fix == "add"
        and meta.fix_needs_defaults
        and bool(config.default_memory_limit or config.default_memory_request)
    )


def mutation_enabled(rule_id: str, config: Config) -> bool:
    """Whether the mutating webhook applies this rule's fix (``mutate: [...]``); never for
    fixes that guess the author's intent from the text (``memory-quantity-millibytes``)."""
    return rule_id in config.mutate and META[rule_id].fix_in_admission


def check_object(
    obj: Any,
    config: Config,
    *,
    lookup: Lookup = no_lookup,
    prefix: Path = (),
    honor_ignore: bool | None = None,
    observed: dict[str, list[dict[str, Any]]] | None = None,
    registry: Registry | None = None,
    unsuppressible: frozenset[str] = frozenset(),
    limit_ranges: LimitRangeLookup = no_limit_ranges,
    vpas: VpaLookup = no_vpas,
) -> Evaluation:
    """Every enabled rule over each pod template of one object (objects of kinds not in the
    registry, by default ``config.registry``, yield nothing). ``observed`` carries container
    terminations seen in a live cluster (``oomguard audit``); ``limit_ranges`` the
    LimitRanges of a namespace (rules/limit_ranges.py); ``vpas`` the VerticalPodAutoscalers
    known (rules/vpa.py). Findings of a severity in
    ``unsuppressible`` are kept whatever ``oomguard.io/ignore*`` annotations say (the webhook
    in ``enforce``: an annotation any author can write must not switch enforcement off)."""
    result = Evaluation()
    registry = registry or config.registry
    if not isinstance(obj, dict):
        return result
    spec = registry.lookup(obj)
    if spec is None:
        _check_unknown(obj, config, prefix, result)
        return result
    result.checked = True
    if spec.notice is not None and (notice := spec.notice(obj)):
        result.notices.append(notice)
    views = build_workloads(obj, lookup, registry, limit_ranges, vpas, spec)
    for index, workload in enumerate(views):
        workload.observed = observed or {}
        _check_view(workload, config, prefix, honor_ignore, result, index == 0, unsuppressible)
        # Containers point back at their workload (and rules' results at their container).
        # Breaking those cycles lets reference counting free the object (and the parsed file
        # it belongs to) now rather than at some later garbage collection, so lint memory
        # follows the largest file.
        workload.release()
    return result


def _check_view(
    workload: Workload,
    config: Config,
    prefix: Path,
    honor_ignore: bool | None,
    result: Evaluation,
    first: bool = True,
    unsuppressible: frozenset[str] = frozenset(),
) -> None:
    """The catalogue over one pod template's view. The object's own annotations are read by
    every view (they suppress in each) but judged in the first only."""
    honor = config.honor_ignore_annotations if honor_ignore is None else honor_ignore
    # Without any oomguard.io/ignore* annotation (most views) nothing is suppressed and no
    # entry names an unknown rule: neither is looked for per finding.
    honor = honor and workload.ignore_annotated()
    ignored: dict[str | None, set[str]] = {}  # per container: the annotations read once
    found = workload.found
    for rule, rule_id, severity in _enabled_checks(config):
        try:
            # a generator (most rules) or a list, read into a new list: `[*...]` costs two
            # opcodes per rule, less than asking which it is (~35 rules per view)
            problems = [*rule.check(workload, config)]
        except Exception as exc:  # a rule bug must not hide the other rules' findings
            result.crashes.append(
                f"rule {rule_id} failed on {workload.kind}/{workload.name}: "
                f"{type(exc).__name__}: {exc}"
            )
            continue
        found[rule_id] = problems  # read by later rules (container-oomkilled)
        if not problems:
            continue  # most rules on most views
        for problem in problems:
            final = severity if problem.severity is None else milder(severity, problem.severity)
            if (
                honor
                and final not in unsuppressible
                and _suppressed(workload, rule_id, problem.container, ignored)
            ):
                continue
            result.findings.append(_finding(rule_id, final, problem, workload, prefix))
    if (
        honor
        and rule_enabled(INVALID, config)
        and not _suppressed(workload, INVALID, None, ignored)
    ):
        # said as a warning unless the config sets manifest-invalid's severity
        severity = rule_setting(INVALID, config).severity or _UNKNOWN_RULE_SEVERITY
        for problem in _unknown_ignored_rules(workload, first):
            result.findings.append(_finding(INVALID, severity, problem, workload, prefix))


def _check_unknown(obj: dict, config: Config, prefix: Path, result: Evaluation) -> None:
    """An object outside the registry: said (workload-kind-unknown) when it holds containers."""
    if not isinstance(obj.get("kind"), str) or not rule_enabled(UNKNOWN_KIND, config):
        return
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name, namespace = metadata.get("name"), metadata.get("namespace")
    view = Workload(
        obj,
        obj["kind"],
        name if isinstance(name, str) else None,
        namespace if isinstance(namespace, str) else None,
        (),
        {},
        known=False,
    )
    severity = rule_severity(UNKNOWN_KIND, config)
    for problem in RULES[UNKNOWN_KIND].check(view, config):
        result.unknown_kind = True
        result.findings.append(_finding(UNKNOWN_KIND, severity, problem, view, prefix))


def invalid_document(message: str, **where: Any) -> Finding:
    """A ``manifest-invalid`` finding for input that never became an object."""
    return Finding(
        rule=INVALID,
        severity=RULES[INVALID].SEVERITY,
        message=message,
        **where,
    )


def with_overrides(config: Config, enable: list[str], disable: list[str]) -> Config:
    """``config`` with rules turned on or off from the command line."""
    rules = dict(config.rules)
    for rule_id, enabled in [*((r, True) for r in enable), *((r, False) for r in disable)]:
        rules[rule_id] = replace(rules.get(rule_id, RuleSetting()), enabled=enabled)
    return replace(config, rules=rules)


def _finding(rule_id: str, severity: str, problem: Problem, workload, prefix: Path) -> Finding:
    if workload.anchor is not None:  # an adapter's pod spec: no real path, so no fix
        problem = replace(problem, path=workload.anchor, fix=())
    path = problem.path
    return Finding(
        rule=rule_id,
        severity=severity,
        message=problem.message,
        path=path if not prefix and type(path) is tuple else (*prefix, *path),
        kind=workload.kind,
        namespace=workload.namespace,
        name=workload.name,
        container=problem.container,
        template=workload.template,
        fix=_prefixed(problem.fix, prefix) if problem.fix else (),
        api_version=_api_version(workload.obj),
    )


def _api_version(obj: Any) -> str | None:
    version = obj.get("apiVersion") if isinstance(obj, dict) else None
    return version if type(version) is str else None


def _prefixed(fix: tuple, prefix: Path) -> tuple:
    """The fix's operations with paths from the document's root; the rule's own (immutable
    in use: nothing edits an operation) when there is no prefix and they are tuples."""
    if not prefix and type(fix) is tuple and all(type(op["path"]) is tuple for op in fix):
        return fix
    return tuple({**op, "path": (*prefix, *op["path"])} for op in fix)


# An ignore annotation naming no rule suppresses nothing. Kubernetes accepts any annotation,
# so this is a warning (under manifest-invalid, the rule for input oomguard cannot use).
_UNKNOWN_RULE_SEVERITY = "warning"


def _unknown_ignored_rules(workload, first: bool = True) -> list[Problem]:
    return [
        Problem(
            f"annotation {key} names {rule_id!r}, which is not an oomguard rule, so it "
            "suppresses nothing (`oomguard rules` lists them)",
            path,
        )
        for path, key, rule_id in workload.ignore_entries()
        if rule_id != ALL and rule_id not in RULES and (first or path[0] != "metadata")
    ]


def _suppressed(
    workload, rule_id: str, container: str | None, cache: dict[str | None, set[str]]
) -> bool:
    ignored = cache.get(container)
    if ignored is None:
        ignored = cache[container] = workload.ignored_rules(container)
    return rule_id in ignored or ALL in ignored
