"""Admission policy: from an object's findings to an admission decision and a patch.

This is the webhook's whole policy, kept here so that ``oomguard serve`` holds no rule logic
(it parses AdmissionReviews, calls :func:`review` and serialises the answer):

* **modes** — ``enforce`` denies on errors and shows warnings; ``warn`` never denies and shows
  errors and warnings as warnings; ``audit`` allows silently (log and metrics only). The
  namespace's ``oomguard.io/mode`` label (when namespace look-ups are on) overrides its
  ``namespace_modes`` entry, which overrides ``mode`` (see ``config.namespace_mode``).
* **ConfigMap-sourced flags** resolve through the request's ``lookup`` (the webhook's
  budgeted cache, or nothing); what it cannot read stays ``runtime-flag-unresolved``.
* **UPDATE ratchet** — an UPDATE is denied only for errors the old object did not already
  have (same rule, container and message), so metadata edits, finalizer removal and garbage
  collection of objects created before oomguard (or in ``warn`` mode) keep working; the
  existing errors are shown as warnings.
* **warnings** follow the API server's limits: each at most :data:`WARNING_CHARS`
  characters (cut on a word, ending in an ellipsis), all together under
  :data:`WARNINGS_BYTES` bytes; the last one says how many were left out.
* **rule crashes** (a bug in oomguard, never the user's fault) follow ``on_crash``:
  ``allow`` (like ``failurePolicy: Ignore``, the default) or ``deny``.
* **mutation** applies the fixes of rules listed in ``mutate:`` (see
  :func:`~oomguard.rules.engine.mutation_enabled`), never in ``audit`` mode, never on a Pod
  UPDATE (the API server forbids changing a running pod's containers) and never on an
  UPDATE whose pod templates did not change; a patch sets ``oomguard.io/mutated``.
* **owned objects** — a Pod (ReplicaSet, Job …) CREATE by a trusted controller for a
  workload it owns (:mod:`oomguard.rules.admission_scope`) is judged at its controller:
  admitted, never mutated, its findings shown as warnings and counted (result ``owned``).
  The same object from any other requester (a hand-written ``ownerReference``) is judged
  as usual.
* ``info`` findings are never shown to the user; they are counted and logged only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from oomguard.rules.admission_scope import (
    mirror_pod,
    owned_by_controller,
    templates_unchanged,
)
from oomguard.rules.config import Config, namespace_mode
from oomguard.rules.converge import converge
from oomguard.rules.engine import Evaluation, check_object, mutation_enabled
from oomguard.rules.limit_ranges import LimitRangeLookup, no_limit_ranges
from oomguard.rules.model import Finding
from oomguard.rules.text import printable
from oomguard.rules.vpa import VpaLookup, no_vpas
from oomguard.rules.workload import Lookup, is_workload, no_lookup

ENFORCE, WARN, AUDIT = "enforce", "warn", "audit"
ALLOW, DENY = "allow", "deny"
CHECKED_OPERATIONS = ("CREATE", "UPDATE")

WARNING_CHARS = 120  # the API server's advice for one warning (longer ones may be cut at 256)
WARNINGS_BYTES = 4000  # the API server drops warnings past 4096 bytes in total
ELLIPSIS = "…"

# Results, also the ``result`` label of the webhook's metrics.
ALLOWED, WARNED, DENIED, PATCHED, SKIPPED = "allowed", "warned", "denied", "patched", "skipped"
OWNED = "owned"  # a controller's Pod, ReplicaSet or Job: judged at its controller
MUTATED_ANNOTATION = "oomguard.io/mutated"  # the rules whose fixes the last mutation applied


@dataclass(frozen=True)
class Decision:
    """What the webhook answers for one object, and what it logs and counts about it."""

    allowed: bool
    result: str  # allowed | warned | denied | patched | skipped
    mode: str
    code: int | None = None  # status code of a denial
    reason: str | None = None  # status reason of a denial
    message: str | None = None  # status message of a denial
    warnings: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()  # everything that fired (all severities)
    crashes: tuple[str, ...] = ()
    patch: tuple[dict[str, Any], ...] = ()  # RFC 6902 operations (``/mutate`` only)
    owner: str | None = None  # "Kind/name" of the controller an owned object was judged at

    @property
    def rules(self) -> list[str]:
        """Rule IDs that fired, each once, in catalogue order of first appearance."""
        return list(dict.fromkeys(f.rule for f in self.findings))


@dataclass(frozen=True)
class Request:
    """The parts of an AdmissionRequest the policy needs."""

    operation: str
    obj: Any
    old_obj: Any = None
    namespace: str | None = None
    on_crash: str = ALLOW
    namespace_label: str | None = None  # the namespace's oomguard.io/mode label, if looked up
    lookup: Lookup = no_lookup  # ConfigMap/Secret data for env resolution
    user: str | None = None  # request.userInfo.username
    groups: tuple[str, ...] = ()  # request.userInfo.groups
    limit_ranges: LimitRangeLookup = no_limit_ranges  # the namespace's LimitRanges
    vpas: VpaLookup = no_vpas  # the VerticalPodAutoscalers of the namespace


def admission_mode(request: Request, config: Config) -> str:
    """The mode this request is judged in."""
    return namespace_mode(config, request.namespace, request.namespace_label)


def is_checked(request: Request, config: Config) -> bool:
    """Only CREATE and UPDATE of objects of the registry's workload kinds are judged, and
    never the kubelet's mirror Pods (read-only copies of static Pods from a node's files:
    denying one hides the running Pod from the API, mutating one is refused)."""
    if request.operation not in CHECKED_OPERATIONS:
        return False
    return is_workload(request.obj, config.registry) and not mirror_pod(request)


def opted_out(request: Request, config: Config, mode: str) -> bool:
    """The object carries the opt-out label (``oomguard.io/ignore: "true"``). Any author can
    set it, so in ``enforce`` it counts only when the config says so
    (``opt_out_label.honor_in_enforce``); otherwise the object is judged like any other."""
    metadata = request.obj.get("metadata") if isinstance(request.obj, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if not isinstance(labels, dict) or labels.get(config.opt_out_label) != "true":
        return False
    return mode != ENFORCE or config.opt_out_in_enforce


def validate(request: Request, config: Config) -> Decision:
    """The validating webhook's decision for one AdmissionRequest."""
    mode = admission_mode(request, config)
    if not is_checked(request, config) or opted_out(request, config, mode):
        return Decision(allowed=True, result=SKIPPED, mode=mode)
    evaluation = check_object(
        request.obj,
        config,
        lookup=request.lookup,
        unsuppressible=_unsuppressible(config, mode),
        limit_ranges=request.limit_ranges,
        vpas=request.vpas,
    )
    owner = owned_by_controller(request, config)
    if owner is not None:
        # judged at its controller: denying it would stall the controller (drains, scale-ups)
        decision = decide(evaluation, AUDIT if mode == AUDIT else WARN)
        return dataclasses.replace(decision, mode=mode, result=OWNED, owner=owner)
    existing = _existing_errors(request, config, mode)
    return decide(evaluation, mode, existing=existing, on_crash=request.on_crash)


def mutate(request: Request, config: Config) -> Decision:
    """The mutating webhook's answer: always allowed, with the enabled fixes as a patch.
    Never a patch for an owned object (judged at its controller), a Pod UPDATE (the API server
    forbids changing a running pod's containers) or an UPDATE whose pod templates did not
    change (a label or annotation edit must not roll the pods)."""
    mode = admission_mode(request, config)
    if not is_checked(request, config) or not config.mutate or opted_out(request, config, mode):
        return Decision(allowed=True, result=SKIPPED, mode=mode)
    owner = owned_by_controller(request, config)
    if owner is not None:
        return Decision(True, OWNED, mode, owner=owner)
    if templates_unchanged(request, config):
        return Decision(True, SKIPPED, mode)
    evaluation = check_object(
        request.obj,
        config,
        lookup=request.lookup,
        unsuppressible=_unsuppressible(config, mode),
        limit_ranges=request.limit_ranges,
        vpas=request.vpas,
    )
    findings = tuple(evaluation.findings)
    crashes = tuple(evaluation.crashes)
    if mode == AUDIT or (request.operation == "UPDATE" and request.obj.get("kind") == "Pod"):
        return Decision(True, ALLOWED, mode, findings=findings, crashes=crashes)
    fixed = converge(
        request.obj,
        config,
        lambda rule: mutation_enabled(rule, config),
        lookup=request.lookup,
        findings=evaluation.findings,
    )
    if not fixed.patch:
        return Decision(True, ALLOWED, mode, findings=findings, crashes=crashes)
    patch = [*fixed.patch, *mark_mutated(request.obj, fixed.rules)]
    note = limit_warnings([mutation_note(fixed.rules)])
    return Decision(
        True,
        PATCHED,
        mode,
        findings=findings,
        crashes=crashes,
        patch=tuple(patch),
        warnings=tuple(note),
    )


def failed(request: Request, config: Config, failure: str) -> Decision:
    """The decision when oomguard itself failed on a review outside the rules (the webhook's
    code, a look-up): the failure policy of a rule crash, ``request.on_crash`` (a warning in
    ``allow``; a denial in ``deny`` in enforce namespaces; silence in audit)."""
    mode = admission_mode(request, config)
    return decide(Evaluation(crashes=[failure]), mode, on_crash=request.on_crash)


def mark_mutated(obj: Any, rules: list[str]) -> list[dict[str, Any]]:
    """The patch operation that sets :data:`MUTATED_ANNOTATION` to the rules whose fixes this
    patch applies (so drift from the applied manifest is explainable at a glance)."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(metadata, dict):
        return []
    value = ",".join(rules)
    if isinstance(metadata.get("annotations"), dict):
        key = MUTATED_ANNOTATION.replace("~", "~0").replace("/", "~1")
        return [{"op": "add", "path": f"/metadata/annotations/{key}", "value": value}]
    return [{"op": "add", "path": "/metadata/annotations", "value": {MUTATED_ANNOTATION: value}}]


def mutation_note(rules: list[str]) -> str:
    """The warning that says a mutation happened: what, where it is recorded, how to stop it."""
    return f"oomguard changed this object ({', '.join(rules)}); annotation {MUTATED_ANNOTATION}"


def decide(
    evaluation: Evaluation,
    mode: str,
    *,
    existing: frozenset[tuple[str, str | None, str]] = frozenset(),
    on_crash: str = ALLOW,
) -> Decision:
    """Map findings to a decision under ``mode`` (see the module doc for the policy)."""
    findings = tuple(evaluation.findings)
    crashes = tuple(evaluation.crashes)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    new_errors = [f for f in errors if _key(f) not in existing]
    old_errors = [f for f in errors if _key(f) in existing]
    crash_notes = [f"oomguard could not finish its checks ({crash})" for crash in crashes]
    # what could not be judged here is said (a Rollout whose template is in its workloadRef)
    crash_notes = [*evaluation.notices, *crash_notes]

    if mode == AUDIT:
        return Decision(True, ALLOWED, mode, findings=findings, crashes=crashes)
    if crashes and on_crash == DENY and mode == ENFORCE:
        return Decision(
            False,
            DENIED,
            mode,
            code=500,
            reason="InternalError",
            message="oomguard: internal error, denied by its failure policy: " + "; ".join(crashes),
            findings=findings,
            crashes=crashes,
        )
    if mode == ENFORCE and new_errors:
        shown = limit_warnings([*map(warning_text, [*old_errors, *warnings]), *crash_notes])
        return Decision(
            False,
            DENIED,
            mode,
            code=403,
            reason="Forbidden",
            message=denial_message(new_errors),
            warnings=tuple(shown),
            findings=findings,
            crashes=crashes,
        )
    shown = limit_warnings([*map(warning_text, [*errors, *warnings]), *crash_notes])
    return Decision(
        True,
        WARNED if shown else ALLOWED,
        mode,
        warnings=tuple(shown),
        findings=findings,
        crashes=crashes,
    )


def denial_message(errors: list[Finding]) -> str:
    """The status message of a denial: one line per error with rule, container and numbers."""
    first = errors[0]
    subject = f"{first.kind} {first.namespace + '/' if first.namespace else ''}{first.name}"
    count = f"{len(errors)} memory error{'' if len(errors) == 1 else 's'}"
    lines = [f"oomguard: {subject} has {count}:"]
    for f in errors:
        where = f" (container {f.container})" if f.container else ""
        lines.append(f"- {f.rule}{where}: {f.message}")
    # names and messages quote the object: escape control characters line by line
    return "\n".join(printable(line) for line in lines)


def warning_text(finding: Finding, limit: int = WARNING_CHARS) -> str:
    """One finding as a warning of at most ``limit`` characters, advice and numbers first.

    Messages read "<fact with numbers>: <why it hurts>; <advice>". When the whole text is too
    long, the first later clause with a number in it (the advice: "use at most 75%
    (1536Mi)", "set GOMEMLIMIT=1843MiB") comes first, then the fact, then the other clauses;
    the explanation after the fact's colon is dropped (``oomguard lint`` and the denial
    message keep the full text), and the container is named up front, since the cut may take
    the fact's end."""
    full = f"{finding.rule}: {finding.message}"
    if len(full) <= limit:
        return full
    fact, colon, rest = finding.message.partition(": ")
    if colon:  # "fact: why; advice": the advice follows the explanation
        _why, *clauses = rest.split("; ")
    else:  # "fact; advice"
        fact, *clauses = finding.message.split("; ")
    advice = next((c for c in clauses if any(ch.isdigit() for ch in c)), None)
    if advice is None:  # nothing with numbers to bring forward: the text as it is, cut
        return full
    others = [c for c in clauses if c is not advice]
    compact = "; ".join([advice, fact, *others])
    where = f" [{finding.container}]" if finding.container else ""
    text = f"{finding.rule}: {compact}"
    return text if len(text) <= limit else f"{finding.rule}{where}: {compact}"


def limit_warnings(
    texts: list[str], *, each: int = WARNING_CHARS, total: int = WARNINGS_BYTES
) -> list[str]:
    """Warnings within the API server's limits; the last says how many did not fit."""
    shortened = [shorten(_printable(text), each) for text in texts]
    kept: list[str] = []
    used = 0
    for index, text in enumerate(shortened):
        size = len(text.encode())
        rest = len(shortened) - index - 1
        # keep room for the "N more" note unless this is the last warning
        reserve = len(_more_note(rest + 1).encode()) if rest else 0
        if used + size + reserve > total:
            kept.append(_more_note(len(shortened) - index))
            return kept
        kept.append(text)
        used += size
    return kept


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters on a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + ELLIPSIS


def _more_note(count: int) -> str:
    plural = "" if count == 1 else "s"
    return f"oomguard: {count} more warning{plural} not shown (run oomguard lint)"


def _printable(text: str) -> str:
    # the API server rejects warnings with control characters; messages quote user input
    if text.isprintable():  # nearly always: no copy, character by character
        return text
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _key(finding: Finding) -> tuple:
    return (finding.rule, finding.template, finding.container, finding.message)


def _unsuppressible(config: Config, mode: str) -> frozenset[str]:
    """In ``enforce`` an ``oomguard.io/ignore*`` annotation quiets warnings and infos, never
    an error, unless the config says so (``honor_ignore_annotations_in_enforce``)."""
    if mode == ENFORCE and not config.honor_ignore_annotations_in_enforce:
        return frozenset({"error"})
    return frozenset()


def _existing_errors(request: Request, config: Config, mode: str) -> frozenset[tuple]:
    if request.operation != "UPDATE" or not is_workload(request.old_obj, config.registry):
        return frozenset()
    old = check_object(
        request.old_obj,
        config,
        lookup=request.lookup,
        unsuppressible=_unsuppressible(config, mode),
        limit_ranges=request.limit_ranges,
        vpas=request.vpas,
    )
    return frozenset(_key(f) for f in old.findings if f.severity == "error")
