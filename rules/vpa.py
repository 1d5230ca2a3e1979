"""VerticalPodAutoscalers (``autoscaling.k8s.io/v1``) as plain data, for the rules about heap
settings under a VPA. Read from lint's input (same namespace as the workload, or no namespace
on both) and matched to a workload by ``spec.targetRef`` kind and name.

Semantics, from kubernetes/autoscaler vertical-pod-autoscaler
``pkg/apis/autoscaling.k8s.io/v1/types.go``: ``updatePolicy.updateMode`` is ``Off``,
``Initial`` (resources set when a Pod is created), ``Recreate``, ``Auto`` (deprecated, the
default when unset), ``InPlaceOrRecreate`` or ``InPlace``: every mode but ``Off`` sets the
Pods' resources from the recommendation, so a heap size written in the template no longer
matches the limit the Pod gets. ``resourcePolicy.containerPolicies[]`` apply by
``containerName`` (``*`` for the others): ``mode: Off`` leaves a container alone,
``controlledResources`` (default cpu and memory), ``controlledValues``
(``RequestsAndLimits``, the default: the limit is scaled with the request, keeping their
ratio; ``RequestsOnly``: the limit stays as written), ``minAllowed`` and ``maxAllowed``.

The limit a VPA gives a container (``pkg/utils/vpa/limit_and_request_scaling.go``
``getProportionalResourceLimit``): the limit as written (else the LimitRange's default) ×
the recommended request ÷ the request as written (no request, or one equal to the limit:
the limit is the recommended request); no limit: none is set. The recommended request is
held between ``minAllowed`` and ``maxAllowed`` (``pkg/utils/vpa/capping.go``
``maybeCapToPolicyMin`` / ``maybeCapToPolicyMax``; a zero bound is no bound). A VPA read
from a cluster also carries ``status.recommendation.containerRecommendations[]`` (``target``
and ``upperBound``, already capped by the policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oomguard.rules.limit_ranges import Bound, bound

KIND = "VerticalPodAutoscaler"
GROUP = "autoscaling.k8s.io"
OFF = "Off"
DEFAULT_MODE = "Auto"
REQUESTS_ONLY = "RequestsOnly"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ContainerPolicy:
    """What a VPA does with one container's memory."""

    mode: str  # "Auto" or "Off"
    memory: bool  # memory is among controlledResources
    controlled_values: str  # RequestsAndLimits | RequestsOnly
    max_allowed: Bound | None
    min_allowed: Bound | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Vpa:
    """The memory part of one VerticalPodAutoscaler object."""

    name: str
    namespace: str | None
    target_kind: str
    target_name: str
    update_mode: str  # as written, else DEFAULT_MODE
    mode_written: bool
    policies: tuple[tuple[str, ContainerPolicy], ...] = ()  # (containerName, policy)
    # status.recommendation (a VPA read from a cluster): containerName -> memory
    targets: tuple[tuple[str, Bound], ...] = ()
    upper_bounds: tuple[tuple[str, Bound], ...] = ()

    @property
    def described(self) -> str:
        return f'{KIND} "{self.name}" (updateMode {self.update_mode}' + (
            ")" if self.mode_written else ", the default)"
        )

    @property
    def active(self) -> bool:
        """It sets Pods' resources (every updateMode but Off)."""
        return self.update_mode != OFF

    def policy(self, container: str) -> ContainerPolicy:
        """The container's policy: its own entry, else ``*``, else the defaults."""
        by_name = dict(self.policies)
        return by_name.get(container) or by_name.get("*") or _DEFAULT_POLICY

    def recommendation(self, container: str) -> tuple[Bound | None, Bound | None]:
        """(target, upperBound) memory of the container's recommendation, when known."""
        return dict(self.targets).get(container), dict(self.upper_bounds).get(container)

    def resizes_memory(self, container: str) -> bool:
        policy = self.policy(container)
        return self.active and policy.mode != OFF and policy.memory


_DEFAULT_POLICY = ContainerPolicy("Auto", True, "RequestsAndLimits", None)

# (namespace, kind, name) of a workload -> the VPA that targets it, or None
VpaLookup = Callable[[str | None, str, str], Vpa | None]


def no_vpas(namespace: str | None, kind: str, name: str) -> None:
    return None


def parse_vpa(obj: dict[str, Any]) -> Vpa | None:
    """A VPA object's target and memory policy; None without a name or a target."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    target = spec.get("targetRef") if isinstance(spec.get("targetRef"), dict) else {}
    name, kind, target_name = metadata.get("name"), target.get("kind"), target.get("name")
    if not all(isinstance(value, str) for value in (name, kind, target_name)):
        return None
    update = spec.get("updatePolicy") if isinstance(spec.get("updatePolicy"), dict) else {}
    mode = update.get("updateMode")
    if mode is False:  # YAML 1.1 reads an unquoted Off as false: the author meant Off
        mode = OFF
    resource_policy = spec.get("resourcePolicy")
    entries = (
        resource_policy.get("containerPolicies") if isinstance(resource_policy, dict) else None
    )
    policies = []
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("containerName"), str):
            policies.append((entry["containerName"], _policy(entry)))
    namespace = metadata.get("namespace")
    return Vpa(
        name,
        namespace if isinstance(namespace, str) else None,
        kind,
        target_name,
        mode if isinstance(mode, str) else DEFAULT_MODE,
        isinstance(mode, str),
        tuple(policies),
        _recommended(obj, "target"),
        _recommended(obj, "upperBound"),
    )


def _recommended(obj: dict[str, Any], key: str) -> tuple[tuple[str, Bound], ...]:
    """containerName -> the memory of ``status.recommendation.containerRecommendations[].key``."""
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    recommendation = status.get("recommendation")
    entries = (
        recommendation.get("containerRecommendations") if isinstance(recommendation, dict) else None
    )
    found = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("containerName"), str):
            continue
        values = entry.get(key)
        value = bound(values["memory"]) if isinstance(values, dict) and "memory" in values else None
        if value is not None:
            found.append((entry["containerName"], value))
    return tuple(found)


def _policy(entry: dict[str, Any]) -> ContainerPolicy:
    resources = entry.get("controlledResources")
    maximum, minimum = entry.get("maxAllowed"), entry.get("minAllowed")
    mode = OFF if entry.get("mode") is False else entry.get("mode")  # unquoted Off
    return ContainerPolicy(
        mode if isinstance(mode, str) else "Auto",
        "memory" in resources if isinstance(resources, list) else True,
        entry["controlledValues"]
        if isinstance(entry.get("controlledValues"), str)
        else "RequestsAndLimits",
        _memory(maximum),
        _memory(minimum),
    )


def _memory(values: Any) -> Bound | None:
    """The memory of a ``minAllowed`` / ``maxAllowed``; a zero is no bound (``capping.go``
    ``maybeCapToMax`` / ``maybeCapToMin`` skip it)."""
    found = bound(values["memory"]) if isinstance(values, dict) and "memory" in values else None
    return found if found is not None and found.value else None
