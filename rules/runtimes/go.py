"""Go's memory settings: ``GOMEMLIMIT`` and ``GOGC``, read from the environment.

``GOMEMLIMIT`` follows ``runtime.parseByteCount``: ``^[0-9]+(([KMGT]i)?B)?$`` (``1073741824``,
``900MiB``, ``1GiB``); ``512Mi``, ``1G``, ``1GB`` and ``1.5GiB`` abort the program at start-up.
Empty or ``off`` means no limit. ``GOGC=off`` turns the collector off until the memory limit
is reached, so without ``GOMEMLIMIT`` the heap grows until the kernel kills the container.
Any negative ``GOGC`` does the same: ``runtime.readGOGC`` (mgcpacer.go) returns ``atoi32``'s
signed value and a negative percent means "no heap goal", exactly like ``off`` (-1).

``GO`` at the bottom is this runtime in the shape the generic rules read
(``rules/runtimes/base.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from oomguard.rules.fixes import set_env, target_bytes
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.base import (
    NO_SETTINGS,
    FixedHeap,
    Heap,
    Invalid,
    Runtime,
    Settings,
    env_path,
)
from oomguard.rules.text import format_bytes, format_percent

if TYPE_CHECKING:
    from oomguard.rules.config import Config
    from oomguard.rules.model import PatchOp, Path
    from oomguard.rules.runtimes.env import EnvValue
    from oomguard.rules.workload import Container

_MEMLIMIT = re.compile(r"([0-9]+)(?:([KMGT]i)?B)?")
_NEGATIVE = re.compile(r"-[0-9]+")
_UNITS = {None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
# Images of well-known Go programs (matched on the last path segment of the repository).
GO_IMAGES = frozenset(
    {
        "golang",
        "prometheus",
        "alertmanager",
        "node-exporter",
        "node_exporter",
        "pushgateway",
        "blackbox-exporter",
        "kube-state-metrics",
        "prometheus-operator",
        "prometheus-config-reloader",
        "coredns",
        "etcd",
        "traefik",
        "consul",
        "vault",
        "minio",
        "thanos",
        "loki",
        "promtail",
        "tempo",
        "mimir",
        "grafana",
        "argocd",
        "cert-manager-controller",
        "external-dns",
        "cluster-autoscaler",
        "metrics-server",
        "kube-rbac-proxy",
        "pilot",
        "flannel",
        "cilium",
        "velero",
        "jaeger-all-in-one",
        "jaeger-collector",
        "cloudflared",
        "caddy",
        "registry",
    }
)
_GO_COMMAND = re.compile(r"^/ko-app/|^go$")


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class GoSettings:
    """The Go runtime's memory variables of one container."""

    memlimit: EnvValue | None  # the GOMEMLIMIT variable, when set
    memlimit_bytes: int | None  # None when unset, off, invalid or unresolved
    memlimit_error: str | None
    gogc_off: EnvValue | None  # GOGC=off or any negative number
    evidence: str | None  # why we believe a Go program runs here


def parse_gomemlimit(text: str) -> int | None:
    """Bytes for a GOMEMLIMIT value; None for no limit (empty/off); ValueError if Go aborts."""
    if text in ("", "off"):
        return None
    match = _MEMLIMIT.fullmatch(text)
    if match is None:
        raise ValueError(
            f"GOMEMLIMIT={text} is malformed (Go accepts e.g. 1073741824, 900MiB, 1GiB)"
        )
    size = int(match.group(1)) * _UNITS[match.group(2)]
    if size >= 2**63:
        raise ValueError(f"GOMEMLIMIT={text} overflows")
    return size


def gogc_turns_gc_off(text: str | None) -> bool:
    """True when Go reads ``GOGC`` as "collector off": ``off`` or a negative int32.

    ``runtime.readGOGC`` returns -1 for ``off``, else ``atoi32`` of the text (a leading ``-``
    is kept; anything unparsable, or outside int32, means the default 100); a negative
    ``gcPercent`` gives the pacer no heap goal (``gcControllerState.commit``)."""
    if text is None:
        return False
    if text == "off":
        return True
    match = _NEGATIVE.fullmatch(text)
    return match is not None and -(2**31) <= int(text) < 0


def format_gomemlimit(size: int, like: str | None) -> str:
    """``size`` bytes as GOMEMLIMIT text: in GiB when the old value used GiB and it divides,
    else MiB (``1843MiB``)."""
    if like and like.endswith("GiB") and size % 1024**3 == 0:
        return f"{size // 1024**3}GiB"
    return f"{size // 1024**2}MiB"


def go_settings(container: Container) -> GoSettings:
    env = container.env
    memlimit = env.get("GOMEMLIMIT")
    size = error = None
    if memlimit is not None and memlimit.value is not None:
        try:
            size = parse_gomemlimit(memlimit.value)
        except ValueError as exc:
            error = str(exc)
    gogc = env.get("GOGC")
    gogc_off = gogc if gogc is not None and gogc_turns_gc_off(gogc.value) else None
    evidence = _go_evidence(container)
    if memlimit is None and gogc_off is None and evidence is None:
        return _NO_GO_SETTINGS  # most containers: one shared, immutable answer
    return GoSettings(
        memlimit=memlimit,
        memlimit_bytes=size,
        memlimit_error=error,
        gogc_off=gogc_off,
        evidence=evidence,
    )


_NO_GO_SETTINGS = GoSettings(None, None, None, None, None)


def _go_evidence(container: Container) -> str | None:
    for line in container.commands:
        if line.program == "go" or (
            line.args and line.program and _GO_COMMAND.search(line.program)
        ):
            return f'its command runs "{line.program}"'
    command = container.spec.get("command")
    first = command[0] if isinstance(command, list) and command else None
    if isinstance(first, str) and first.startswith("/ko-app/"):
        return f'its command "{command[0]}" is a ko-built Go binary'
    repository = container.image.split("@")[0].rsplit(":", 1)[0] if container.image else ""
    if repository.rsplit("/", 1)[-1] in GO_IMAGES:
        return f'its image "{container.image}" is a Go program'
    return None


# --- Go as a Runtime (rules/runtimes/base.py) -----------------------------------------


def settings(container: Container) -> Settings:
    """Go's settings in the shape the generic rules read (once per container)."""
    native = container.derive(go_settings)
    memlimit = native.memlimit
    if memlimit is None:  # most containers: at most evidence
        return Settings(evidence=native.evidence) if native.evidence else NO_SETTINGS
    limit = container.effective_limit  # a LimitRange default when none is written
    heap = None
    if limit is not None and limit.usable and native.memlimit_bytes is not None:
        described = f"GOMEMLIMIT={memlimit.value}"
        if not memlimit.literal:
            described += f" ({memlimit.origin.removeprefix('env GOMEMLIMIT ')})"
        heap = Heap(
            Fraction(native.memlimit_bytes), described, env_path(container, memlimit), memlimit
        )
    invalid = ()
    if native.memlimit_error:
        invalid = (
            Invalid(
                native.memlimit_error,
                "; the Go program aborts at start-up",
                env_path(container, memlimit),
            ),
        )
    unresolved = ()
    if memlimit is not None and memlimit.value is None and memlimit.unresolved:
        unresolved = (memlimit,)
    return Settings(heap, invalid, unresolved, native.evidence, memlimit is not None)


def _rewrite(container: Container, heap: Heap, ratio: Fraction) -> tuple[PatchOp, ...]:
    memlimit: EnvValue = heap.source
    value = format_gomemlimit(
        target_bytes(container.effective_limit.usable, ratio),
        memlimit.value if memlimit.literal else None,
    )
    return set_env(container, "GOMEMLIMIT", value)


def _divided_memlimit(container: Container, config: Config) -> Problem | None:
    """GOMEMLIMIT from resourceFieldRef with a divisor: a unit count that Go reads as bytes."""
    go = container.derive(go_settings)
    memlimit = go.memlimit
    if memlimit is None or memlimit.divisor is None or go.memlimit_bytes is None:
        return None
    limit = container.limit
    target = target_bytes(limit.usable, config.thresholds.go_memlimit_ratio)
    value = format_gomemlimit(target, None)
    meant = int(memlimit.value) * memlimit.divisor_bytes
    return Problem(
        f"GOMEMLIMIT={memlimit.value} ({memlimit.origin.removeprefix('env GOMEMLIMIT ')}) in "
        f"{container.label} counts in units of {memlimit.divisor} ({memlimit.value} × "
        f"{memlimit.divisor} = {format_bytes(meant)}), but Go "
        f"reads a number without a unit as bytes: a soft limit of {memlimit.value} bytes "
        f"keeps the garbage collector running; replace the resourceFieldRef with "
        f"GOMEMLIMIT={value} (no divisor gives Go bytes)",
        env_path(container, memlimit),
        container.name,
    )


def _unset(container: Container, config: Config) -> Problem | None:
    """A Go program with a limit and no GOMEMLIMIT: its GC ignores the limit."""
    go = container.derive(go_settings)
    if not go.evidence or go.memlimit is not None:
        return None
    value = format_gomemlimit(
        target_bytes(container.limit_bytes, config.thresholds.go_memlimit_ratio), None
    )
    return Problem(
        f"{container.label} runs a Go program ({go.evidence}) with a "
        f"{container.limit.text} limit but no GOMEMLIMIT: the Go GC ignores the "
        f"limit; set GOMEMLIMIT={value}",
        container.path,
        container.name,
        set_env(container, "GOMEMLIMIT", value),
    )


def _fixed(container: Container, config: Config) -> FixedHeap | None:
    go = container.derive(go_settings)
    memlimit = go.memlimit
    if memlimit is None or not go.memlimit_bytes or "resourceFieldRef" in memlimit.origin:
        return None
    return (
        f"GOMEMLIMIT={memlimit.value}",
        env_path(container, memlimit),
        "derive GOMEMLIMIT at start from the limit (the downward API's limits.memory, "
        "env valueFrom.resourceFieldRef, lowered to about "
        f"{format_percent(config.thresholds.go_memlimit_ratio, 1)} by the start script, or "
        "a library that reads the cgroup limit)",
        int(go.memlimit_bytes),
    )


def _start_sized(container: Container) -> tuple[str, Path] | None:
    go = container.derive(go_settings)
    if go.memlimit is None or not go.memlimit_bytes:
        return None
    return f"GOMEMLIMIT ({go.memlimit.origin})", env_path(container, go.memlimit)


def _ratio(config: Config) -> Fraction:
    return config.thresholds.go_memlimit_ratio


GO = Runtime(
    "Go",
    settings,
    _ratio,
    _rewrite,
    misread=_divided_memlimit,
    unset=_unset,
    fixed=_fixed,
    start_sized=_start_sized,
)
