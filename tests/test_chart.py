"""charts/oomguard: linted and rendered by real Helm (helm-sdkpy, see tests/helm_support.py)
under every documented value set, schema-checked, and run through oomguard's own linter.

Needs .venv-helm (scripts/helm-venv.sh); without it every Helm test fails, none is skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from helm_support import (
    CHART,
    HELM_PYTHON,
    NAMESPACE,
    REPO,
    HelmResult,
    default_values,
    helm,
    merge_values,
    require_helm,
)

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
CONFIG_SCHEMA = json.loads((REPO / "rules" / "config.schema.json").read_text())
FULLNAME = "oomguard"
CA_BUNDLE = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
CA_BUNDLE = CA_BUNDLE.decode()


def registry_rules() -> dict[tuple[str, str], tuple[list[str], str]]:
    """(API group, plural) -> (versions, scope) of every kind in oomguard's registry (built-ins
    and presets, rules/kinds.py): what the webhooks' rules must cover, nothing more."""
    from oomguard.rules.config import DEFAULT_CONFIG

    return {
        (spec.group, spec.plural): (
            list(spec.versions),
            "Namespaced" if spec.namespaced else "Cluster",
        )
        for spec in DEFAULT_CONFIG.registry.kinds.values()
    }


def webhook_rules(webhook: dict) -> dict[tuple[str, str], tuple[list[str], str]]:
    covered: dict[tuple[str, str], tuple[list[str], str]] = {}
    for rule in webhook["rules"]:
        assert rule["operations"] == ["CREATE", "UPDATE"]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) not in covered, f"{group}/{resource} twice"
                covered[(group, resource)] = (rule["apiVersions"], rule["scope"])
    return covered


# Every documented value set (README "Value sets"): name -> overrides.
VALUE_SETS = {
    "defaults": {},
    "cert-manager": {"tls": {"source": "certManager"}},
    "cert-manager-cluster-issuer": {
        "tls": {
            "source": "certManager",
            "certManager": {"issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}},
        }
    },
    "existing-secret": {
        "tls": {
            "source": "existingSecret",
            "existingSecret": {"name": "my-webhook-tls", "caBundle": CA_BUNDLE},
        }
    },
    "validating-off": {"webhooks": {"validating": {"enabled": False}}},
    "mutating-off": {"webhooks": {"mutating": {"enabled": False}}},
    "webhooks-off": {
        "webhooks": {"validating": {"enabled": False}, "mutating": {"enabled": False}}
    },
    "service-monitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "lookups": {"lookups": {"namespaceLabels": True, "configMaps": True}},
    "enforce-fail-closed": {
        "config": {"mode": "enforce", "mutate": ["jvm-heap-exceeds-limit"]},
        "webhooks": {
            "validating": {"failurePolicy": "Fail"},
            "mutating": {"failurePolicy": "Fail", "reinvocationPolicy": "IfNeeded"},
        },
    },
    "minimal": {
        "networkPolicy": {"enabled": False},
        "podDisruptionBudget": {"enabled": False},
        "serviceAccount": {"create": False, "name": "existing-sa"},
        "replicaCount": 1,
    },
    "include-namespaces": {"webhooks": {"includeNamespaces": ["team-a", "team-a", "kube-system"]}},
    "pinned-digest": {"image": {"digest": "sha256:" + "ab" * 32}},
    "scheduled-audit": {"audit": {"enabled": True, "pushgateway": "http://pushgateway:9091"}},
}


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    """Render a value set once per module: render(name_or_overrides) -> HelmResult."""
    cache: dict[str, HelmResult] = {}

    def _render(key: str | dict, **kwargs) -> HelmResult:
        overrides = VALUE_SETS[key] if isinstance(key, str) else key
        cache_key = json.dumps([overrides, kwargs], sort_keys=True)
        if cache_key not in cache:
            cache[cache_key] = helm(tmp_path_factory.mktemp("chart"), overrides, **kwargs)
        return cache[cache_key]

    return _render


def _container(result: HelmResult) -> dict:
    deployment = result.one("Deployment", FULLNAME)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _config(result: HelmResult) -> dict:
    return yaml.safe_load(result.one("ConfigMap", FULLNAME)["data"]["oomguard.yaml"])


# --- Helm environment -------------------------------------------------------------------


def test_helm_venv_is_installed():
    require_helm()  # fails (never skips) with the command that creates .venv-helm


def test_helm_version_is_helm_4_library():
    require_helm()

    out = subprocess.run(
        [str(HELM_PYTHON), "-c", "import helm_sdkpy; print(helm_sdkpy.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "0.1.32"


# --- values.yaml / values.schema.json ---------------------------------------------------


def test_schema_is_valid_draft7():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["additionalProperties"] is False


def test_values_yaml_is_valid_against_schema():
    jsonschema.Draft7Validator(SCHEMA).validate(default_values())


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_value_sets_are_valid_against_schema(name):
    jsonschema.Draft7Validator(SCHEMA).validate(merge_values(default_values(), VALUE_SETS[name]))


def _leaf_paths(values: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths.extend(_leaf_paths(value, path + "."))
        else:
            paths.append(path)
    return paths


def _schema_at(path: str) -> dict:
    node = SCHEMA
    for part in path.split("."):
        while "$ref" in node:
            node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
        assert part in node.get("properties", {}), f"values.schema.json has no {path}"
        node = node["properties"][part]
    return node


def test_schema_describes_every_value():
    paths = _leaf_paths(default_values())
    assert len(paths) > 60
    for path in paths:
        assert _schema_at(path), path
    # Every object value with fixed keys is closed: a typo is an error, not ignored.
    for path in (
        "image",
        "config",
        "lookups",
        "server",
        "webhooks",
        "webhooks.validating",
        "webhooks.mutating",
        "tls",
        "tls.certManager",
        "tls.existingSecret",
        "service",
        "resources",
        "probes",
        "networkPolicy",
        "serviceMonitor",
        "audit",
        "audit.resources",
    ):
        assert _schema_at(path)["additionalProperties"] is False, path


def test_schema_config_matches_the_oomguard_config_schema():
    config = _schema_at("config")
    assert SCHEMA["definitions"]["rule"]["enum"] == CONFIG_SCHEMA["$defs"]["rule"]["enum"]
    assert SCHEMA["definitions"]["mode"]["enum"] == CONFIG_SCHEMA["$defs"]["mode"]["enum"]
    # Look-ups are chart values (they drive RBAC); `render:` tells `oomguard lint` how to render
    # charts and overlays, which the webhook never does; everything else maps 1:1.
    assert set(config["properties"]) == set(CONFIG_SCHEMA["properties"]) - {"lookups", "render"}
    # kinds: the same schema, its path pattern under this draft-07 schema's "definitions"
    chart_kinds = json.dumps(config["properties"]["kinds"]["items"])
    assert chart_kinds == json.dumps(CONFIG_SCHEMA["properties"]["kinds"]["items"]).replace(
        "#/$defs/path_pattern", "#/definitions/pathPattern"
    )
    assert SCHEMA["definitions"]["pathPattern"] == CONFIG_SCHEMA["$defs"]["path_pattern"]
    for key in ("thresholds", "defaults", "fix"):
        assert set(config["properties"][key]["properties"]) == set(
            CONFIG_SCHEMA["properties"][key]["properties"]
        ), key


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_schema_ref_resolves_in_the_chart_schema():
    # A $ref Helm cannot resolve (e.g. a copied "#/$defs/..." from rules/config.schema.json)
    # fails `helm lint` with an empty message through helm-sdkpy: say which one here.
    for ref in _refs(SCHEMA):
        assert ref.startswith("#/definitions/"), ref
        assert ref.removeprefix("#/definitions/") in SCHEMA["definitions"], ref


def test_chart_workload_kinds_are_the_registry_kinds():
    kinds = default_values()["webhooks"]["workloadKinds"]
    listed = {
        (k["group"], k["plural"]): (
            k["versions"],
            "Cluster" if k.get("namespaced") is False else "Namespaced",
        )
        for k in kinds
    }
    assert len(listed) == len(kinds)  # no kind twice
    assert listed == registry_rules()


def test_config_kinds_reach_the_config_file_and_the_webhook_rules(render):
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "templates": [{"path": "spec.workerGroups[*].template.spec", "label": "worker-group"}],
    }
    gadget = {
        "apiVersion": "example.com/v2beta1",
        "kind": "Gadget",
        "plural": "gadgetry",
        "namespaced": False,
        "templates": [{"path": "spec.template.spec"}],
    }
    result = render({"config": {"kinds": [widget, gadget]}})
    assert result.returncode == 0, result.stderr
    assert _config(result)["kinds"] == [widget, gadget]
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        (webhook,) = result.one(kind, FULLNAME)["webhooks"]
        assert webhook_rules(webhook) == {
            **registry_rules(),
            ("example.com", "widgets"): (["v1"], "Namespaced"),
            ("example.com", "gadgetry"): (["v2beta1"], "Cluster"),
        }
    # a bad path pattern is refused by the chart's schema, as by oomguard's
    bad = {**widget, "templates": [{"path": "spec..template"}]}
    refused = render({"config": {"kinds": [bad]}})
    assert refused.returncode != 0


def test_readme_values_table_lists_every_value():
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Za-z0-9_.]+)` \|", readme, re.M))
    missing = [p for p in _leaf_paths(default_values()) if p not in documented]
    assert not missing, f"README values table lacks {missing}"


def test_readme_has_install_upgrade_uninstall_and_rollout():
    readme = (CHART / "README.md").read_text()
    for needle in (
        "helm install oomguard ./charts/oomguard --namespace oomguard-system --create-namespace",
        "helm upgrade oomguard ./charts/oomguard",
        "helm uninstall oomguard --namespace oomguard-system",
        "--set config.mode=audit",
        "--set config.mode=warn",
        "--set config.mode=enforce",
        "oomguard.io/ignore=true",
    ):
        assert needle in readme, needle


def test_values_comment_explains_when_to_choose_fail():
    text = (CHART / "values.yaml").read_text()
    block = text[text.index("validating:") : text.index("failurePolicy: Ignore")]
    assert "Choose Fail only once you run in enforce mode" in block
    assert "fail open" in block and "fail closed" in block


# --- Helm lint under every value set ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_is_clean(render, name):
    result = render(name)
    assert result.problems == [], result.stderr
    assert result.fails == []
    assert result.returncode == 0
    kinds = {doc["kind"] for doc in result.documents()}
    assert {"Deployment", "Service", "ConfigMap"} <= kinds


BAD_VALUES = {
    "unknown-top-level-key": {"replicas": 3},
    "failure-policy": {"webhooks": {"validating": {"failurePolicy": "Sometimes"}}},
    "timeout-over-30s": {"webhooks": {"mutating": {"timeoutSeconds": 31}}},
    "tls-source": {"tls": {"source": "vault"}},
    "existing-secret-without-ca": {
        "tls": {"source": "existingSecret", "existingSecret": {"name": "x"}}
    },
    "issuer-ref-without-name": {
        "tls": {"source": "certManager", "certManager": {"issuerRef": {"kind": "ClusterIssuer"}}}
    },
    "config-mode": {"config": {"mode": "block"}},
    "config-unknown-rule": {"config": {"mutate": ["not-a-rule"]}},
    "config-unknown-key": {"config": {"severity": "error"}},
    "millibyte-memory-limit": {"resources": {"limits": {"memory": "512m"}}},
    "memory-limit-removed": {"resources": {"limits": {"memory": None}}},
    "latest-tag": {"image": {"tag": "latest"}},
    "privileged-port": {"server": {"port": 443}},
    "zero-replicas": {"replicaCount": 0},
    "kube-system-not-excluded": {"webhooks": {"excludeNamespaces": ["default"]}},
    "include-not-a-namespace": {"webhooks": {"includeNamespaces": ["Team_A"]}},
    "lookup-budget": {"lookups": {"budgetMs": 0}},
    "string-boolean": {"webhooks": {"mutating": {"enabled": "yes"}}},
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_values_are_rejected_by_the_schema(tmp_path, name):
    values = merge_values(default_values(), BAD_VALUES[name])
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(values))
    assert errors, f"jsonschema accepted {name}"

    rejected = helm(tmp_path / "with-schema", values=values, render=False)
    assert {"severity": "ERROR", "path": "values.yaml"} in rejected.messages
    assert rejected.returncode == 1

    # The same values without values.schema.json: the values.yaml error disappears, so it
    # was the schema that rejected them.
    control = helm(tmp_path / "no-schema", values=values, render=False, schema=False)
    assert {"severity": "ERROR", "path": "values.yaml"} not in control.messages


# --- What the default values render ----------------------------------------------------


def test_default_deployment(render):
    deployment = render("defaults").one("Deployment", FULLNAME)
    spec = deployment["spec"]
    assert deployment["metadata"]["namespace"] == NAMESPACE
    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == FULLNAME
    assert pod["automountServiceAccountToken"] is False
    selector = spec["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "oomguard",
        "app.kubernetes.io/instance": "oomguard",
    }
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert anti[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["labelSelector"]["matchLabels"] == selector


def test_default_container_runs_oomguard_serve_with_mounted_tls_and_config(render):
    result = render("defaults")
    container = _container(result)
    pod = result.one("Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert container["image"] == "ghcr.io/oomguard/oomguard:0.1.0"
    assert "command" not in container  # the image's entrypoint is `oomguard serve`
    assert container["args"] == [
        "--cert", "/etc/oomguard/tls/tls.crt",
        "--key", "/etc/oomguard/tls/tls.key",
        "--port", "8443",
        "--workers", "2",
        "--probe-port", "8081",
        "--config", "/etc/oomguard/config/oomguard.yaml",
    ]  # fmt: skip
    assert container["ports"] == [
        {"name": "https", "containerPort": 8443, "protocol": "TCP"},
        {"name": "probes", "containerPort": 8081, "protocol": "TCP"},
    ]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["tls"]["mountPath"] == "/etc/oomguard/tls"
    assert mounts["config"]["mountPath"] == "/etc/oomguard/config"
    assert not any("subPath" in m for m in container["volumeMounts"])  # rotation reaches pods
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "oomguard-tls"
    assert volumes["config"]["configMap"]["name"] == FULLNAME
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "64Mi"}  # not tmpfs: no memory charge
    assert {"name": "PYTHONUNBUFFERED", "value": "1"} in container["env"]


def test_default_resources_make_the_pod_guaranteed(render):
    resources = _container(render("defaults"))["resources"]
    assert resources == {
        "requests": {"cpu": "500m", "memory": "640Mi"},
        "limits": {"cpu": "500m", "memory": "640Mi"},
    }


def test_default_probes_use_the_probe_port_apart_from_the_review_threads(render):
    # issue 12: probes on the review port failed whenever clients held its threads
    container = _container(render("defaults"))
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": "probes",
        "scheme": "HTTP",
    }
    assert container["livenessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": "probes",
        "scheme": "HTTP",
    }
    assert {"name": "probes", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    args = container["args"]
    assert args[args.index("--probe-port") + 1] == "8081"
    assert container["readinessProbe"]["periodSeconds"] == 5
    assert container["livenessProbe"]["failureThreshold"] == 3


def test_pods_drain_before_sigterm_within_their_grace_period(render):
    # issue 12: no preStop delay, so pods stopped while endpoints still routed to them
    result = render("defaults")
    pod = result.one("Deployment", FULLNAME)["spec"]["template"]["spec"]
    pre_stop = _container(result)["lifecycle"]["preStop"]
    # the sleep action (no shell in the image needed) on Kubernetes >= 1.30, else the
    # image's own python; which one depends on the cluster version Helm renders for
    assert pre_stop in (
        {"sleep": {"seconds": 10}},
        {"exec": {"command": ["python", "-c", "import time; time.sleep(10)"]}},
    )
    assert pod["terminationGracePeriodSeconds"] == 40  # 10 s drain + 25 s server grace + 5


def test_grace_period_shorter_than_the_drain_is_refused(tmp_path):
    result = helm(tmp_path, {"lifecycle": {"preStopSleepSeconds": 20}})
    assert any(
        "terminationGracePeriodSeconds (40) must be at least" in f for f in result.fails
    ) or ("terminationGracePeriodSeconds (40) must be at least" in result.stderr), result.stderr
    no_hook = helm(tmp_path / "off", {"lifecycle": {"preStopSleepSeconds": 0}})
    assert "lifecycle" not in _container(no_hook)


def test_opt_out_label_in_enforce_only_when_the_config_allows_it(render):
    default = _config(render("defaults"))
    assert default["opt_out_label"] == {"key": "oomguard.io/ignore", "honor_in_enforce": False}
    allowed = render({"config": {"opt_out_label": {"honor_in_enforce": True}}})
    assert _config(allowed)["opt_out_label"]["honor_in_enforce"] is True
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        (webhook,) = allowed.one(kind, FULLNAME)["webhooks"]
        assert webhook["objectSelector"]["matchExpressions"] == [
            {"key": "oomguard.io/ignore", "operator": "NotIn", "values": ["true"]}
        ]


def test_default_security_context(render):
    result = render("defaults")
    pod = result.one("Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert _container(result)["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_default_pdb_service_and_service_account(render):
    result = render("defaults")
    pdb = result.one("PodDisruptionBudget", FULLNAME)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "oomguard",
                "app.kubernetes.io/instance": "oomguard",
            }
        },
    }
    service = result.one("Service", FULLNAME)
    assert service["spec"]["ports"] == [
        {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == pdb["spec"]["selector"]["matchLabels"]
    sa = result.one("ServiceAccount", FULLNAME)
    assert sa["automountServiceAccountToken"] is False


def test_default_has_no_rbac(render):
    kinds = {doc["kind"] for doc in render("defaults").documents()}
    assert not kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}


def test_default_config_map_is_a_valid_oomguard_config(render):
    result = render("defaults")
    config = _config(result)
    jsonschema.Draft202012Validator(CONFIG_SCHEMA).validate(config)
    assert config == {
        "mode": "audit",
        "namespace_modes": {},
        "rules": {},
        "thresholds": {},
        "defaults": {},
        "mutate": [],
        "kinds": [],
        "honor_ignore_annotations": True,
        "honor_ignore_annotations_in_enforce": False,
        "opt_out_label": {"key": "oomguard.io/ignore", "honor_in_enforce": False},
        "admission": {"trusted_controllers": [], "owner_kinds": []},
        "lookups": {
            "namespace_labels": False,
            "configmaps": False,
            "limit_ranges": False,
            "vpas": False,
            "budget_ms": 50,
            "cache_seconds": 30,
        },
    }
    # Pods roll when the config changes.
    text = result.one("ConfigMap", FULLNAME)["data"]["oomguard.yaml"]
    annotations = result.one("Deployment", FULLNAME)["spec"]["template"]["metadata"]
    checksum = annotations["annotations"]["checksum/config"]
    assert checksum == hashlib.sha256(text.rstrip("\n").encode()).hexdigest()


def test_default_webhook_configurations(render):
    result = render("defaults")
    for kind, name, path in (
        ("ValidatingWebhookConfiguration", "validate.oomguard.io", "/validate"),
        ("MutatingWebhookConfiguration", "mutate.oomguard.io", "/mutate"),
    ):
        (webhook,) = result.one(kind, FULLNAME)["webhooks"]
        assert webhook["name"] == name
        assert webhook["admissionReviewVersions"] == ["v1"]
        assert webhook["sideEffects"] == "None"
        assert webhook["failurePolicy"] == "Ignore"
        assert webhook["timeoutSeconds"] == 3  # p99 4 ms; worst legitimate wait ~2 s
        assert webhook["matchPolicy"] == "Equivalent"
        assert webhook["clientConfig"]["service"] == {
            "name": FULLNAME,
            "namespace": NAMESPACE,
            "path": path,
            "port": 443,
        }
        # every registry kind's group/plural covered at its versions, nothing extra
        assert webhook_rules(webhook) == registry_rules()
        assert webhook["namespaceSelector"]["matchExpressions"] == [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": ["kube-system", NAMESPACE],
            },
            {"key": "oomguard.io/ignore", "operator": "NotIn", "values": ["true"]},
        ]
        # issue 12: an object label any author can set must not skip enforce, so by default
        # the API server sends labelled objects and the server decides by mode
        assert "objectSelector" not in webhook
    (mutating,) = result.one("MutatingWebhookConfiguration", FULLNAME)["webhooks"]
    assert mutating["reinvocationPolicy"] == "Never"


def _verify_signed_by(cert: x509.Certificate, ca: x509.Certificate) -> None:
    key = ca.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    else:
        key.verify(
            cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
        )


def test_self_signed_ca_signs_the_serving_cert_and_is_in_both_ca_bundles(render):
    result = render("defaults")
    secret = result.one("Secret", "oomguard-tls")
    assert secret["type"] == "kubernetes.io/tls"
    ca_pem = base64.b64decode(secret["data"]["ca.crt"])
    ca = x509.load_pem_x509_certificate(ca_pem)
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    assert b"PRIVATE KEY" in base64.b64decode(secret["data"]["tls.key"])
    _verify_signed_by(cert, ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {
        "oomguard",
        "oomguard.oomguard-system",
        "oomguard.oomguard-system.svc",
        "oomguard.oomguard-system.svc.cluster.local",
    }
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        (webhook,) = result.one(kind, FULLNAME)["webhooks"]
        assert webhook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
        assert "annotations" not in result.one(kind, FULLNAME)["metadata"]
    assert not result.find("Certificate")


def test_default_network_policy_admits_only_the_server_port_and_denies_egress(render):
    policy = render("defaults").one("NetworkPolicy", FULLNAME)["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"port": "https", "protocol": "TCP"}]}]
    assert policy["egress"] == []


# --- Other value sets -------------------------------------------------------------------


def test_cert_manager_issues_the_certificate_and_injects_the_ca(render):
    result = render("cert-manager")
    assert not result.find("Secret")
    cert = result.one("Certificate", "oomguard-tls")["spec"]
    assert cert["secretName"] == "oomguard-tls"
    assert cert["dnsNames"] == [
        "oomguard",
        "oomguard.oomguard-system",
        "oomguard.oomguard-system.svc",
        "oomguard.oomguard-system.svc.cluster.local",
    ]
    assert cert["issuerRef"] == {
        "name": "oomguard-ca",
        "kind": "Issuer",
        "group": "cert-manager.io",
    }
    assert cert["privateKey"]["rotationPolicy"] == "Always"
    root = result.one("Certificate", "oomguard-ca")["spec"]
    assert root["isCA"] is True and root["secretName"] == "oomguard-ca"
    assert root["issuerRef"]["name"] == "oomguard-selfsigned"
    assert result.one("Issuer", "oomguard-selfsigned")["spec"] == {"selfSigned": {}}
    assert result.one("Issuer", "oomguard-ca")["spec"] == {"ca": {"secretName": "oomguard-ca"}}
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        doc = result.one(kind, FULLNAME)
        assert doc["metadata"]["annotations"] == {
            "cert-manager.io/inject-ca-from": "oomguard-system/oomguard-tls"
        }
        assert "caBundle" not in doc["webhooks"][0]["clientConfig"]
    volumes = result.one("Deployment", FULLNAME)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "tls", "secret": {"secretName": "oomguard-tls", "defaultMode": 0o440}} in (
        volumes
    )


def test_cert_manager_with_an_existing_cluster_issuer(render):
    result = render("cert-manager-cluster-issuer")
    assert not result.find("Issuer")
    assert [c["metadata"]["name"] for c in result.find("Certificate")] == ["oomguard-tls"]
    assert result.one("Certificate")["spec"]["issuerRef"] == {
        "name": "corp-ca",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }


def test_existing_secret_is_mounted_and_its_ca_bundle_used(render):
    result = render("existing-secret")
    assert not result.find("Secret") and not result.find("Certificate")
    pod = result.one("Deployment", FULLNAME)["spec"]["template"]["spec"]
    tls = next(v for v in pod["volumes"] if v["name"] == "tls")
    assert tls["secret"]["secretName"] == "my-webhook-tls"
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        assert result.one(kind, FULLNAME)["webhooks"][0]["clientConfig"]["caBundle"] == CA_BUNDLE


@pytest.mark.parametrize(
    ("name", "validating", "mutating"),
    [("validating-off", 0, 1), ("mutating-off", 1, 0), ("webhooks-off", 0, 0)],
)
def test_each_webhook_can_be_turned_off(render, name, validating, mutating):
    result = render(name)
    assert len(result.find("ValidatingWebhookConfiguration")) == validating
    assert len(result.find("MutatingWebhookConfiguration")) == mutating
    # The server and its TLS stay: the other webhook, probes and metrics still need them.
    assert result.one("Secret", "oomguard-tls")
    assert result.one("Deployment", FULLNAME)


def test_service_monitor_scrapes_metrics_over_https(render):
    monitor = render("service-monitor").one("ServiceMonitor", FULLNAME)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == NAMESPACE
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [
        {
            "port": "https",
            "path": "/metrics",
            "scheme": "https",
            "interval": "30s",
            "scrapeTimeout": "10s",
            "tlsConfig": {
                "serverName": "oomguard.oomguard-system.svc",
                "ca": {"secret": {"name": "oomguard-tls", "key": "ca.crt"}},
            },
        }
    ]
    assert not render("defaults").find("ServiceMonitor")


@pytest.mark.parametrize(
    ("lookups", "resources"),
    [
        ({"namespaceLabels": True}, ["namespaces"]),
        ({"configMaps": True}, ["configmaps"]),
        ({"namespaceLabels": True, "configMaps": True}, ["namespaces", "configmaps"]),
        ({"limitRanges": True}, ["limitranges"]),
        ({"configMaps": True, "limitRanges": True}, ["configmaps", "limitranges"]),
        ({"vpas": True}, ["verticalpodautoscalers"]),
    ],
)
def test_lookups_grant_exactly_the_read_access_they_need(render, lookups, resources):
    result = render({"lookups": lookups})
    assert result.problems == []
    role = result.one("ClusterRole", FULLNAME)
    verbs = {  # watches vs reads
        "namespaces": ["get", "list", "watch"],
        "configmaps": ["get"],
        "limitranges": ["list", "watch"],
        "verticalpodautoscalers": ["list", "watch"],
    }
    groups = {"verticalpodautoscalers": ["autoscaling.k8s.io"]}
    assert role["rules"] == [
        {"apiGroups": groups.get(r, [""]), "resources": [r], "verbs": verbs[r]} for r in resources
    ]
    binding = result.one("ClusterRoleBinding", FULLNAME)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": FULLNAME,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
    ]
    pod = result.one("Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert result.one("ServiceAccount", FULLNAME)["automountServiceAccountToken"] is True
    config = _config(result)
    jsonschema.Draft202012Validator(CONFIG_SCHEMA).validate(config)
    assert config["lookups"]["namespace_labels"] is bool(lookups.get("namespaceLabels"))
    assert config["lookups"]["configmaps"] is bool(lookups.get("configMaps"))
    assert config["lookups"]["limit_ranges"] is bool(lookups.get("limitRanges"))
    assert config["lookups"]["vpas"] is bool(lookups.get("vpas"))
    egress = result.one("NetworkPolicy", FULLNAME)["spec"]["egress"]
    assert egress == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]},
    ]


def test_enforce_mode_and_fail_closed(render):
    result = render("enforce-fail-closed")
    config = _config(result)
    jsonschema.Draft202012Validator(CONFIG_SCHEMA).validate(config)
    assert config["mode"] == "enforce"
    assert config["mutate"] == ["jvm-heap-exceeds-limit"]
    (validating,) = result.one("ValidatingWebhookConfiguration")["webhooks"]
    (mutating,) = result.one("MutatingWebhookConfiguration")["webhooks"]
    assert validating["failurePolicy"] == mutating["failurePolicy"] == "Fail"
    assert mutating["reinvocationPolicy"] == "IfNeeded"
    # Fail-closed never covers the namespace oomguard itself runs in.
    assert NAMESPACE in validating["namespaceSelector"]["matchExpressions"][0]["values"]


def test_minimal_value_set(render):
    result = render("minimal")
    kinds = {doc["kind"] for doc in result.documents()}
    assert not kinds & {"NetworkPolicy", "PodDisruptionBudget", "ServiceAccount"}
    deployment = result.one("Deployment", FULLNAME)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "existing-sa"


def test_pinned_digest(render):
    assert _container(render("pinned-digest"))["image"] == (
        "ghcr.io/oomguard/oomguard@sha256:" + "ab" * 32
    )


def test_release_name_and_namespace_drive_names_and_exclusions(tmp_path):
    result = helm(tmp_path, {}, release="platform", namespace="tools")
    assert result.problems == []
    deployment = result.one("Deployment", "platform-oomguard")
    assert deployment["metadata"]["namespace"] == "tools"
    (webhook,) = result.one("ValidatingWebhookConfiguration", "platform-oomguard")["webhooks"]
    assert webhook["clientConfig"]["service"]["namespace"] == "tools"
    assert webhook["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "kube-system",
        "tools",
    ]
    cert = result.one("Secret", "platform-oomguard-tls")["data"]["tls.crt"]
    sans = x509.load_pem_x509_certificate(base64.b64decode(cert)).extensions
    names = sans.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "platform-oomguard.tools.svc" in names.get_values_for_type(x509.DNSName)


# --- The chart passes its own linter ----------------------------------------------------


def test_rendered_chart_passes_oomguard_lint(render, run_oomguard):
    rendered = render("defaults").rendered
    proc = run_oomguard(
        "lint", "--min-severity", "warning", "--fail-on", "warning", "-", stdin=rendered
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["defaults", "lookups", "cert-manager", "scheduled-audit"])
def test_rendered_chart_has_no_findings_at_any_severity(render, run_oomguard, name):
    proc = run_oomguard(
        "lint", "--format", "json", "--min-severity", "info", "--fail-on", "info", "-",
        stdin=render(name).rendered,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    assert report["findings"] == [], proc.stdout
    assert report["summary"]["objects"] >= 1
    assert proc.returncode == 0


def test_oomguard_lint_does_read_the_rendered_deployment(render, run_oomguard):
    """Control: a Burstable variant of the same chart is reported, so the clean result above
    comes from checking the Deployment, not from skipping it."""
    rendered = render({"resources": {"requests": {"memory": "384Mi"}}}).rendered
    proc = run_oomguard("lint", "--format", "json", "--min-severity", "info", "-", stdin=rendered)
    findings = json.loads(proc.stdout)["findings"]
    assert [(f["rule"], f["kind"], f["name"], f["container"]) for f in findings] == [
        ("qos-not-guaranteed", "Deployment", FULLNAME, "oomguard")
    ]


def test_chart_files_exist():
    for name in ("Chart.yaml", "values.yaml", "values.schema.json", "README.md", ".helmignore"):
        assert (CHART / name).is_file(), name
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "oomguard"
    from oomguard import __version__  # the one place the version is written (pyproject: dynamic)

    assert chart["appVersion"] == __version__
    assert Path(CHART / "templates" / "NOTES.txt").is_file()


# --- The server runs with what the chart renders ----------------------------------------


@pytest.mark.parametrize("name", ["defaults", "lookups", "enforce-fail-closed"])
def test_rendered_config_loads_in_oomguard(render, tmp_path, name):
    from oomguard.rules.config import load_config

    path = tmp_path / "oomguard.yaml"
    path.write_text(render(name).one("ConfigMap", FULLNAME)["data"]["oomguard.yaml"])
    config = load_config(path)
    assert config is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _https_get(context: ssl.SSLContext, port: int, host: str, path: str) -> str:
    """The status line of GET path over TLS to 127.0.0.1:port, verified for host."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return tls.recv(4096).decode().split("\r\n", 1)[0]


def _http_get(port: int, path: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return sock.recv(4096).decode().split("\r\n", 1)[0]


def test_server_starts_with_the_rendered_args_secret_and_config(render, tmp_path):
    """`oomguard serve` with the Deployment's args, the generated Secret and the ConfigMap
    mounted as the chart mounts them: the probes answer over TLS, verified against the CA the
    webhook configurations carry, for the Service's DNS name."""
    result = render("defaults")
    container = _container(result)
    secret = result.one("Secret", "oomguard-tls")["data"]
    config_data = result.one("ConfigMap", FULLNAME)["data"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    files = {f"{mounts['tls']}/{k}": base64.b64decode(v) for k, v in secret.items()}
    files.update({f"{mounts['config']}/{k}": v.encode() for k, v in config_data.items()})
    root = tmp_path / "root"
    for mount_path, content in files.items():
        (root / mount_path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / mount_path.lstrip("/")).write_bytes(content)
    port = _free_port()
    args = [
        str(root / a.lstrip("/")) if a.startswith("/etc/oomguard/") else a
        for a in container["args"]
    ]
    args[args.index("--port") + 1] = str(port)
    probe_port = _free_port()
    args[args.index("--probe-port") + 1] = str(probe_port)
    args[args.index("--workers") + 1] = "1"
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"]}}
    env["TMPDIR"] = str(tmp_path)
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "oomguard", "serve", "--host", "127.0.0.1", *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        context = ssl.create_default_context(cadata=files[f"{mounts['tls']}/ca.crt"].decode())
        host = f"{FULLNAME}.{NAMESPACE}.svc"
        answers = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(answers) < 4:
            assert proc.poll() is None, log.read_text()
            try:
                for probe in ("readinessProbe", "livenessProbe"):
                    path = container[probe]["httpGet"]["path"]
                    answers[path] = _https_get(context, port, host, path)
                    # what the kubelet asks: plain HTTP on the probe port
                    assert container[probe]["httpGet"]["port"] == "probes"
                    answers["probes" + path] = _http_get(probe_port, path)
            except OSError:  # not listening yet
                time.sleep(0.2)
        expected = {"/readyz": "HTTP/1.1 200 OK", "/healthz": "HTTP/1.1 200 OK"}
        expected |= {"probes" + path: "HTTP/1.1 200 OK" for path in ("/readyz", "/healthz")}
        assert answers == expected, log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- Scheduled audit ------------------------------------------------------------------------

AUDIT = f"{FULLNAME}-audit"


def test_scheduled_audit_is_off_by_default(render):
    documents = render("defaults").documents()
    assert not [d for d in documents if d["kind"] == "CronJob"]
    assert not [d for d in documents if d["metadata"]["name"] == AUDIT]


def test_scheduled_audit_cronjob(render):
    result = render("scheduled-audit")
    assert result.returncode == 0 and not result.problems
    cronjob = result.one("CronJob", AUDIT)
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["oomguard"]
    assert container["args"] == [
        "audit", "--all-namespaces", "--format", "policyreport", "--apply",
        "--config", "/etc/oomguard/config/oomguard.yaml", "--timeout", "10",
        "--pushgateway", "http://pushgateway:9091",
    ]  # fmt: skip
    assert pod["serviceAccountName"] == AUDIT and pod["automountServiceAccountToken"] is True
    assert pod["restartPolicy"] == "Never"
    # as strict as the webhook's pod
    webhook = result.one("Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert pod["securityContext"] == webhook["securityContext"]
    assert container["securityContext"] == webhook["containers"][0]["securityContext"]
    assert container["resources"]["requests"] == container["resources"]["limits"]
    # the same config file as the webhook
    (config,) = [v for v in pod["volumes"] if v["name"] == "config"]
    assert config["configMap"]["name"] == FULLNAME
    # the webhook's Service and NetworkPolicy do not select the audit's pods
    labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    selector = result.one("Service", FULLNAME)["spec"]["selector"]
    assert not all(labels.get(k) == v for k, v in selector.items())


def test_scheduled_audit_rbac_reads_the_registry_kinds_and_writes_only_reports(render):
    result = render("scheduled-audit")
    role = result.one("ClusterRole", AUDIT)
    verbs: dict[tuple[str, str], list[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) not in verbs, (group, resource)
                verbs[(group, resource)] = rule["verbs"]
    read = ["get", "list", "watch"]
    for group, plural in registry_rules():
        assert verbs.pop((group, plural)) == read, (group, plural)
    assert verbs == {
        ("", "configmaps"): read,
        ("", "namespaces"): read,
        ("wgpolicyk8s.io", "policyreports"): ["get", "create", "patch"],
        ("wgpolicyk8s.io", "clusterpolicyreports"): ["get", "create", "patch"],
    }  # pods are a registry kind; no secrets unless asked
    binding = result.one("ClusterRoleBinding", AUDIT)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": AUDIT, "namespace": NAMESPACE}
    ]
    secrets = render({"audit": {"enabled": True, "readSecrets": True, "format": "openreports"}})
    rules = secrets.one("ClusterRole", AUDIT)["rules"]
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]} in rules
    assert {"apiGroups": ["openreports.io"], "resources": ["reports", "clusterreports"],
            "verbs": ["get", "create", "patch"]} in rules  # fmt: skip


def test_oomguard_lint_does_read_the_rendered_cronjob(render, run_oomguard):
    """Control: a Burstable audit CronJob is reported, so the clean scheduled-audit result
    above comes from checking the CronJob, not from skipping it."""
    burstable = {"audit": {"enabled": True, "resources": {"requests": {"memory": "128Mi"}}}}
    proc = run_oomguard(
        "lint", "--format", "json", "--min-severity", "info", "-", stdin=render(burstable).rendered
    )
    findings = json.loads(proc.stdout)["findings"]
    assert [(f["rule"], f["kind"], f["name"], f["container"]) for f in findings] == [
        ("qos-not-guaranteed", "CronJob", AUDIT, "audit")
    ]


# --- issue 15: the admission webhook good practices -------------------------------------------


def _webhook(result: HelmResult, kind: str) -> dict:
    (webhook,) = result.one(kind, FULLNAME)["webhooks"]
    return webhook


def _cel(expression: str, request: dict) -> bool:
    """Evaluate a matchCondition as the API server does: ``request``, ``object`` and
    ``oldObject`` bound to the AdmissionRequest's parts (cel-python, the CEL spec's
    standard macros and string functions, which is all these expressions use)."""
    import celpy

    env = celpy.Environment()
    program = env.program(env.compile(expression))
    activation = {
        "request": celpy.json_to_cel(request),
        "object": celpy.json_to_cel(request.get("object")),
        "oldObject": celpy.json_to_cel(request.get("oldObject")),
    }
    return bool(program.evaluate(activation))


def _calls(webhook: dict, request: dict) -> bool:
    """Whether the API server calls the webhook: every matchCondition true."""
    return all(_cel(c["expression"], request) for c in webhook.get("matchConditions", []))


def test_match_conditions_only_from_kubernetes_1_30(render):
    # matchConditions are GA in 1.30; older API servers get the same decisions from the server
    old = render({"config": {"mutate": ["jvm-heap-exceeds-limit"]}}, kube_version="1.29.5")
    new = render({"config": {"mutate": ["jvm-heap-exceeds-limit"]}}, kube_version="1.30.0")
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        assert "matchConditions" not in _webhook(old, kind)
    validating = _webhook(new, "ValidatingWebhookConfiguration")
    mutating = _webhook(new, "MutatingWebhookConfiguration")
    assert [c["name"] for c in validating["matchConditions"]] == ["not-a-mirror-pod"]
    assert [c["name"] for c in mutating["matchConditions"]] == [
        "not-a-mirror-pod",
        "not-a-controllers-pod",
        "pod-spec-changed",
    ]
    off = render({"webhooks": {"matchConditions": {"enabled": False}}}, kube_version="1.31.0")
    assert "matchConditions" not in _webhook(off, "MutatingWebhookConfiguration")


def test_match_conditions_skip_what_they_say_and_nothing_else(render):
    from conftest_webhook import container, deployment, pod, review
    from oomguard.rules.admission_scope import BUILTIN_CONTROLLERS

    operator = "system:serviceaccount:strimzi:strimzi-cluster-operator"
    values = {
        "config": {
            "mutate": ["jvm-heap-exceeds-limit"],
            "admission": {"trusted_controllers": [operator]},
        }
    }
    mutating = _webhook(render(values, kube_version="1.30.0"), "MutatingWebhookConfiguration")
    validating = _webhook(render(values, kube_version="1.30.0"), "ValidatingWebhookConfiguration")
    bare = pod("p", [container("c", limit="64Mi", request="64Mi")])
    owned = pod("p", [container("c", limit="64Mi", request="64Mi")])
    owned["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-1",
            "uid": "u",
            "controller": True,
        }
    ]
    mirror = pod("p", [container("c", limit="64Mi", request="64Mi")])
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "3f2a"}

    def req(obj, user, groups=(), **kwargs):
        return review(obj, user={"username": user, "uid": "1", "groups": list(groups)}, **kwargs)[
            "request"
        ]

    for controller in (*BUILTIN_CONTROLLERS, operator):
        assert not _calls(mutating, req(owned, controller))
        assert _calls(validating, req(owned, controller))  # counted and logged by default
    assert not _calls(mutating, req(owned, "someone", groups=[operator]))  # a trusted group
    assert _calls(mutating, req(owned, "jane@example.com"))  # a forged ownerReference
    assert _calls(mutating, req(bare, BUILTIN_CONTROLLERS[0]))  # no ownerReference
    node = "system:node:worker-1"
    for webhook in (mutating, validating):
        assert not _calls(webhook, req(mirror, node))
        assert _calls(webhook, req(mirror, "jane@example.com"))  # only the kubelet's mirrors
        assert _calls(webhook, req(bare, node))
    web = deployment("web", [container("web", limit="64Mi", request="64Mi")])
    relabelled = {**web, "metadata": {**web["metadata"], "labels": {"team": "a"}}}
    assert not _calls(mutating, req(relabelled, "jane", operation="UPDATE", old=web))
    assert _calls(validating, req(relabelled, "jane", operation="UPDATE", old=web))
    scaled = {**web, "spec": {**web["spec"], "replicas": 9}}
    assert _calls(mutating, req(scaled, "jane", operation="UPDATE", old=web))
    assert _calls(mutating, req(web, "jane"))  # CREATE
    skip_all = {"webhooks": {"matchConditions": {"skipOwnedPodsInValidation": True}}}
    validating = _webhook(render(skip_all, kube_version="1.30.0"), "ValidatingWebhookConfiguration")
    assert not _calls(validating, req(owned, BUILTIN_CONTROLLERS[0]))


def test_reinvocation_if_needed_when_mutations_are_on(render):
    policy = lambda result: _webhook(result, "MutatingWebhookConfiguration")["reinvocationPolicy"]  # noqa: E731
    assert policy(render("defaults")) == "Never"  # nothing is mutated
    assert policy(render({"config": {"mutate": ["jvm-heap-exceeds-limit"]}})) == "IfNeeded"
    pinned = {
        "config": {"mutate": ["jvm-heap-exceeds-limit"]},
        "webhooks": {"mutating": {"reinvocationPolicy": "Never"}},
    }
    assert policy(render(pinned)) == "Never"


def test_cert_manager_namespace_left_out_when_a_webhook_fails_closed(render):
    def excluded(result, kind):
        return _webhook(result, kind)["namespaceSelector"]["matchExpressions"][0]["values"]

    fail = {"tls": {"source": "certManager"}, "webhooks": {"validating": {"failurePolicy": "Fail"}}}
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        assert excluded(render(fail), kind) == ["kube-system", NAMESPACE, "cert-manager"]
        assert excluded(render("cert-manager"), kind) == ["kube-system", NAMESPACE]
        assert excluded(render("enforce-fail-closed"), kind) == ["kube-system", NAMESPACE]
    elsewhere = merge_values(fail, {"tls": {"certManager": {"namespace": "security"}}})
    values = excluded(render(elsewhere), "MutatingWebhookConfiguration")
    assert values == ["kube-system", NAMESPACE, "security"]


def test_trusted_controllers_in_the_chart_are_the_servers(render):
    from oomguard.rules.admission_scope import BUILTIN_CONTROLLERS

    mutating = _webhook(render("defaults", kube_version="1.30.0"), "MutatingWebhookConfiguration")
    (condition,) = [c for c in mutating["matchConditions"] if c["name"] == "not-a-controllers-pod"]
    listed = re.search(r"username in (\[[^\]]*\])", condition["expression"]).group(1)
    assert json.loads(listed) == list(BUILTIN_CONTROLLERS)


def test_include_namespaces_limits_both_webhooks_and_keeps_the_exclusions(render):
    """A gradual rollout (the Kubernetes good-practices page: a test namespace first): only the
    listed namespaces, once each, and an excluded one stays excluded (the expressions AND)."""
    result = render("include-namespaces")
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        (webhook,) = result.one(kind, FULLNAME)["webhooks"]
        assert webhook["namespaceSelector"]["matchExpressions"] == [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "In",
                "values": ["team-a", "kube-system"],
            },
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": ["kube-system", NAMESPACE],
            },
            {"key": "oomguard.io/ignore", "operator": "NotIn", "values": ["true"]},
        ]
