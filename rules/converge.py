"""One fix convergence, shared by ``oomguard lint --fix``, ``lint --diff`` and ``/mutate``.

A fix can make another check possible (``512m`` → ``512Mi``, and only then is ``-Xmx`` compared
with the limit), so fixing is a loop: apply the enabled fixes of the findings, check the
patched document again, repeat, at most :data:`~oomguard.rules.fixes.FIX_ROUNDS` rounds. The
loop runs in memory on plain data; its result is one strict RFC 6902 patch against the
document as given. The webhook returns that patch; the linter splices the same patch into the
file's text once (so ``--diff`` shows exactly what ``--fix`` writes). Every round is checked
with the same LimitRanges and VerticalPodAutoscalers as the first: a round without them would
judge another Pod (a BestEffort one where a LimitRange gives defaults) and fix what a single
check never reported.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from oomguard.rules.config import Config
from oomguard.rules.engine import check_object
from oomguard.rules.fixes import FIX_ROUNDS, apply_intents
from oomguard.rules.limit_ranges import LimitRangeLookup, no_limit_ranges
from oomguard.rules.model import Finding
from oomguard.rules.vpa import VpaLookup, no_vpas
from oomguard.rules.workload import Lookup, iter_objects, no_lookup


@dataclass
class Convergence:
    """The rounds of fixing one document: each round's patch and how many findings it fixed.
    Round *n*'s patch applies to the document patched by the rounds before it."""

    rounds: list[list[dict[str, Any]]] = field(default_factory=list)
    fixed: list[int] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # whose fixes changed the document

    @property
    def patch(self) -> list[dict[str, Any]]:
        """All rounds as one RFC 6902 patch against the original document."""
        return [op for ops in self.rounds for op in ops]


def converge(
    document: Any,
    config: Config,
    enabled: Callable[[str], bool],
    *,
    lookup: Lookup = no_lookup,
    findings: Iterable[Finding] | None = None,
    limit_ranges: LimitRangeLookup = no_limit_ranges,
    vpas: VpaLookup = no_vpas,
) -> Convergence:
    """Fix ``document`` (a workload or a ``List`` of them) until no enabled fix changes it.

    ``enabled(rule_id)`` says whose fixes apply (``lint_fix_enabled`` or ``mutation_enabled``);
    ``findings``, when the caller has them already, are the document's first-round findings
    (checked with the same ``limit_ranges`` and ``vpas``). ``document`` itself is not changed.
    """
    work = copy.deepcopy(document)

    def check(document: Any) -> list[Finding]:
        return check_document(document, config, lookup, limit_ranges=limit_ranges, vpas=vpas)

    current = list(findings) if findings is not None else check(work)
    result = Convergence()
    for _ in range(FIX_ROUNDS):
        chosen = [f for f in current if f.fix and enabled(f.rule)]
        applied = apply_intents(work, [op for f in chosen for op in f.fix]) if chosen else []
        if not applied:
            break
        result.rounds.append(applied)
        result.fixed.append(len(chosen))
        result.rules.extend(
            r for r in dict.fromkeys(f.rule for f in chosen) if r not in result.rules
        )
        current = check(work)
    return result


def check_document(
    document: Any,
    config: Config,
    lookup: Lookup = no_lookup,
    *,
    limit_ranges: LimitRangeLookup = no_limit_ranges,
    vpas: VpaLookup = no_vpas,
) -> list[Finding]:
    """Every finding of every object in ``document``, paths relative to the document."""
    return [
        finding
        for prefix, obj in iter_objects(document)
        for finding in check_object(
            obj, config, lookup=lookup, prefix=prefix, limit_ranges=limit_ranges, vpas=vpas
        ).findings
    ]
