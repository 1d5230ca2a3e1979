"""``oomguard export --target vap``: the rules CEL can express, as Kubernetes-native
``ValidatingAdmissionPolicy`` + ``ValidatingAdmissionPolicyBinding``
(``admissionregistration.k8s.io/v1``, GA in Kubernetes 1.30), for clusters that run no
webhook. ``--target kyverno``: the same CEL as Kyverno ``ValidatingPolicy``
(``policies.kyverno.io/v1``, served since Kyverno 1.17), one per rule and action, since
Kyverno has no bindings.

Generic: a rule is exported when its module declares ``cel(config)`` (rules/cel.py); the
others are listed in the output's comment header with their module's ``CEL_REASON``. A rule
exported in part (the runtime heap rules: literal values only) declares both, and the header
lists it with what the policy leaves out. One
policy per rule, thresholds from the config baked into the expressions, the kinds from the
registry (the built-in kinds, whose pod template sits at one fixed path). Bindings map the
config's modes as the webhook does (rules/admission.py): ``enforce`` denies on ``error``
rules and warns on ``warning`` ones, ``warn`` warns on both, ``audit`` only records;
``info`` rules are recorded (``Audit``). A binding cannot mix ``Deny`` and ``Warn``, so a
rule whose namespaces (``namespace_modes``) need both gets one binding per action, split by
namespace name. The opt-out label is honoured outside ``enforce`` (and in it with
``opt_out_in_enforce``), through the binding's ``objectSelector``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import yaml
from oomguard.rules import CATALOGUE
from oomguard.rules.admission_scope import BUILTIN_CONTROLLERS, MIRROR_ANNOTATION
from oomguard.rules.catalogue_docs import help_uri
from oomguard.rules.cel import REASON_DEFAULT, cel_kinds, variables
from oomguard.rules.config import Config
from oomguard.rules.engine import rule_enabled, rule_severity
from oomguard.rules.kinds import BUILTIN, KindSpec

API_VERSION = "admissionregistration.k8s.io/v1"
KYVERNO_API_VERSION = "policies.kyverno.io/v1"  # served since Kyverno 1.17.0
NAMESPACE_NAME = "kubernetes.io/metadata.name"  # set on every namespace by the API server
LABELS = {"app.kubernetes.io/managed-by": "oomguard"}
# (mode, severity) -> validationAction
ACTIONS = {
    ("enforce", "error"): "Deny",
    ("enforce", "warning"): "Warn",
    ("warn", "error"): "Warn",
    ("warn", "warning"): "Warn",
}


# Judged elsewhere, as the webhook's scope decisions (rules/admission_scope.py) and the
# chart's matchConditions have it: an object a trusted controller identity CREATEs with a
# controller ownerReference (a ReplicaSet's Pods, a Deployment's ReplicaSets) is judged at its
# controller, so a rollout of an object created before the policy does not stall; a person's
# own ownerReference gets no pass (trust comes from request.userInfo). The kubelet's mirror
# Pods are read-only copies of static Pods.
MIRROR_POD = (
    "!(request.kind.kind == 'Pod' && request.userInfo.username.startsWith('system:node:') && "
    f"has(object.metadata.annotations) && '{MIRROR_ANNOTATION}' in object.metadata.annotations)"
)


def made_by_a_controller(config: Config) -> str:
    trusted = json.dumps(sorted({*BUILTIN_CONTROLLERS, *config.trusted_controllers}))
    return (
        "!(request.operation == 'CREATE' && has(object.metadata.ownerReferences) && "
        "object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller == true) "
        f"&& (request.userInfo.username in {trusted} || (has(request.userInfo.groups) && "
        f"request.userInfo.groups.exists(g, g in {trusted}))))"
    )


def action(mode: str, severity: str) -> str:
    return ACTIONS.get((mode, severity), "Audit")


def exported_kinds(config: Config) -> list[KindSpec]:
    builtin = {spec.key for spec in BUILTIN}
    return [spec for spec in cel_kinds(config.registry) if spec.key in builtin]


def export_vap(config: Config) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """(the policy and binding objects, [(rule ID, why it is not exported)])."""
    kinds = exported_kinds(config)
    shared = variables(kinds)
    objects: list[dict[str, Any]] = []
    left_out: list[tuple[str, str]] = []
    for rule in CATALOGUE:
        if not hasattr(rule, "cel"):
            left_out.append((rule.ID, getattr(rule, "CEL_REASON", REASON_DEFAULT)))
            continue
        if not rule_enabled(rule.ID, config):
            left_out.append((rule.ID, "turned off in the config"))
            continue
        declared = rule.cel(config)
        name = f"oomguard-{rule.ID}"
        objects.append(_policy(name, rule, declared, kinds, shared, config))
        objects.extend(_bindings(name, rule_severity(rule.ID, config), config))
    return objects, left_out


def _policy(
    name: str, rule, declared, kinds: list[KindSpec], shared: list, config: Config
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(LABELS)},
        "spec": {
            # a CEL error (an object shaped as no one expected) must never block the cluster
            "failurePolicy": "Ignore",
            "matchConstraints": {"resourceRules": _resource_rules(kinds)},
            "matchConditions": [
                {"name": "not-a-mirror-pod", "expression": MIRROR_POD},
                {"name": "not-a-controllers-object", "expression": made_by_a_controller(config)},
            ],
            "variables": shared,
            "validations": [
                {
                    "expression": f"variables.unchanged || ({declared.expression})",
                    "message": f"oomguard {rule.ID}: {declared.message} (see {help_uri(rule)})",
                    "reason": "Invalid",
                }
            ],
        },
    }


def _resource_rules(kinds: Iterable[KindSpec]) -> list[dict[str, Any]]:
    by_group: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for spec in kinds:
        by_group.setdefault((spec.group, spec.versions), []).append(spec.plural)
    return [
        {
            "apiGroups": [group],
            "apiVersions": list(versions),
            "operations": ["CREATE", "UPDATE"],
            "resources": plurals,
        }
        for (group, versions), plurals in by_group.items()
    ]


def _splits(severity: str, config: Config) -> list[tuple[str, dict | None, bool]]:
    """[(validationAction, namespace selector expression or None, opt-out label honoured)]:
    the config's default mode, then one entry per other action its namespace_modes give."""
    default = action(config.mode, severity)
    elsewhere: dict[str, list[str]] = {}  # action -> namespaces whose mode gives it
    for namespace, mode in sorted(config.namespace_modes.items()):
        chosen = action(mode, severity)
        if chosen != default:
            elsewhere.setdefault(chosen, []).append(namespace)
    others = sorted(ns for names in elsewhere.values() for ns in names)
    splits = [
        (
            default,
            {"key": NAMESPACE_NAME, "operator": "NotIn", "values": others} if others else None,
            config.mode != "enforce" or config.opt_out_in_enforce,
        )
    ]
    for chosen, namespaces in sorted(elsewhere.items()):
        modes = {config.namespace_modes[ns] for ns in namespaces}
        splits.append(
            (
                chosen,
                {"key": NAMESPACE_NAME, "operator": "In", "values": namespaces},
                modes != {"enforce"} or config.opt_out_in_enforce,
            )
        )
    return splits


def _bindings(policy: str, severity: str, config: Config) -> list[dict[str, Any]]:
    return [
        _binding(policy, chosen, namespaces, opt_out=opt_out, config=config)
        for chosen, namespaces, opt_out in _splits(severity, config)
    ]


def _selectors(namespaces: dict | None, opt_out: bool, config: Config) -> dict[str, Any]:
    match: dict[str, Any] = {}
    if namespaces is not None:
        match["namespaceSelector"] = {"matchExpressions": [namespaces]}
    if opt_out:
        match["objectSelector"] = {
            "matchExpressions": [
                {"key": config.opt_out_label, "operator": "NotIn", "values": ["true"]}
            ]
        }
    return match


def _binding(
    policy: str, chosen: str, namespaces: dict | None, *, opt_out: bool, config: Config
) -> dict[str, Any]:
    match = _selectors(namespaces, opt_out, config)
    spec: dict[str, Any] = {"policyName": policy, "validationActions": [chosen]}
    if match:
        spec["matchResources"] = match
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": f"{policy}-{chosen.lower()}", "labels": dict(LABELS)},
        "spec": spec,
    }


def exported_in_part(config: Config) -> list[tuple[str, str]]:
    """[(rule ID, what its policy leaves to the webhook, lint and audit)]."""
    return [
        (rule.ID, rule.CEL_REASON)
        for rule in CATALOGUE
        if hasattr(rule, "cel") and hasattr(rule, "CEL_REASON") and rule_enabled(rule.ID, config)
    ]


TITLES = {
    "vap": (
        "oomguard export --target vap: ValidatingAdmissionPolicies for the rules CEL can express",
        "(admissionregistration.k8s.io/v1, Kubernetes 1.30+)",
    ),
    "kyverno": (
        "oomguard export --target kyverno: Kyverno ValidatingPolicies for the rules CEL can "
        "express",
        f"({KYVERNO_API_VERSION}, Kyverno 1.17+)",
    ),
}


def header(config: Config, left_out: list[tuple[str, str]], target: str = "vap") -> str:
    kinds = ", ".join(spec.kind for spec in exported_kinds(config))
    not_covered = sorted(
        f"{spec.kind}.{spec.group}" if spec.group else spec.kind
        for spec in config.registry.kinds.values()
        if spec not in exported_kinds(config)
    )
    title, api = TITLES[target]
    lines = [
        title,
        f"{api}, over {kinds}.",
        "Not exported (the webhook, lint and audit still judge them):",
        *(f"  {rule}: {why}" for rule, why in left_out),
    ]
    partial = exported_in_part(config)
    if partial:
        lines.append("Exported in part (the rest is left to the webhook, lint and audit):")
        lines.extend(f"  {rule}: {what}" for rule, what in partial)
    if not_covered:
        lines.append(
            "Kinds the webhook judges that these policies do not match: " + ", ".join(not_covered)
        )
    return "".join(f"# {line}\n" for line in lines)


def export_kyverno(config: Config) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """(Kyverno ValidatingPolicies, [(rule ID, why it is not exported)]): each exported
    rule's policy once per validationAction its modes give, with the selectors a binding
    would carry in ``matchConstraints``."""
    objects, left_out = export_vap(config)
    policies = []
    for vap in (o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"):
        rule = vap["metadata"]["name"].removeprefix("oomguard-")
        for chosen, namespaces, opt_out in _splits(rule_severity(rule, config), config):
            spec = vap["spec"]
            policies.append(
                {
                    "apiVersion": KYVERNO_API_VERSION,
                    "kind": "ValidatingPolicy",
                    "metadata": {
                        "name": f"{vap['metadata']['name']}-{chosen.lower()}",
                        "labels": dict(LABELS),
                    },
                    "spec": {
                        "validationActions": [chosen],
                        "failurePolicy": spec["failurePolicy"],
                        "matchConstraints": {
                            **spec["matchConstraints"],
                            **_selectors(namespaces, opt_out, config),
                        },
                        "matchConditions": spec["matchConditions"],
                        "variables": spec["variables"],
                        "validations": spec["validations"],
                        # the expressions reach each kind's pod spec themselves
                        "autogen": {"podControllers": {"controllers": []}},
                        # the match conditions read `request`, which a background scan lacks
                        # (oomguard audit covers existing objects)
                        "evaluation": {"background": {"enabled": False}},
                    },
                }
            )
    return policies, left_out


def run_export(args: Any) -> int:
    """``oomguard export``: the config (``--config`` or the nearest ``.oomguard.yaml``) →
    policies on stdout."""
    from oomguard.linter.cli import EXIT_OK, EXIT_USAGE, _config, say
    from oomguard.linter.run import UsageError
    from oomguard.rules.config import ConfigError

    try:
        config = _config(args, enable=[], disable=[])
    except (UsageError, ConfigError) as exc:
        say(str(exc))
        return EXIT_USAGE
    if args.target == "kyverno":
        write_kyverno(sys.stdout, config)
    else:
        write_vap(sys.stdout, config)
    return EXIT_OK


def write_vap(out: TextIO, config: Config) -> None:
    objects, left_out = export_vap(config)
    out.write(header(config, left_out))
    yaml.safe_dump_all(objects, out, sort_keys=False, width=100_000, explicit_start=True)


def write_kyverno(out: TextIO, config: Config) -> None:
    objects, left_out = export_kyverno(config)
    out.write(header(config, left_out, "kyverno"))
    yaml.safe_dump_all(objects, out, sort_keys=False, width=100_000, explicit_start=True)
