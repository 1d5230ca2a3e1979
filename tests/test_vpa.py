"""VerticalPodAutoscalers in the input (issue 17): vpa-heap-fixed and
vpa-limit-below-max-allowed.

VPA behaviour followed (kubernetes/autoscaler vertical-pod-autoscaler,
pkg/apis/autoscaling.k8s.io/v1/types.go): ``updatePolicy.updateMode`` Off / Initial /
Recreate / Auto (deprecated; the default) / InPlaceOrRecreate / InPlace, every one but Off
sets Pods' resources; ``containerPolicies[]`` by ``containerName`` (``*`` for the rest) with
``mode`` (Auto / Off), ``controlledResources`` (default cpu and memory),
``controlledValues`` (RequestsAndLimits by default: the limit keeps its ratio to the request;
RequestsOnly: the limit stays as written) and ``maxAllowed``.
"""

from __future__ import annotations

import textwrap

import pytest
from helpers import findings, none_of, one

FIXED = "vpa-heap-fixed"
BELOW = "vpa-limit-below-max-allowed"


def vpa(mode: str | None = "Auto", policies: str = "", target="orders", namespace="shop") -> str:
    lines = [
        "apiVersion: autoscaling.k8s.io/v1",
        "kind: VerticalPodAutoscaler",
        f"metadata: {{name: orders-vpa, namespace: {namespace}}}",
        "spec:",
        f"  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: {target}}}",
    ]
    if mode is not None:
        lines.append(f"  updatePolicy: {{updateMode: {mode}}}")
    if policies:
        lines.append(f"  resourcePolicy: {{containerPolicies: [{policies}]}}")
    return "\n".join(lines) + "\n"


def orders(command="[java, -Xmx2g, -jar, app.jar]", env="[]", resources=None) -> str:
    resources = resources or "{requests: {memory: 3Gi}, limits: {memory: 3Gi}}"
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: orders, namespace: shop}}
        spec:
          template:
            spec:
              containers:
                - name: orders
                  image: eclipse-temurin:21-jre
                  command: {command}
                  env: {env}
                  resources: {resources}
        """
    )


def both(*docs: str) -> str:
    return "\n---\n".join(doc.rstrip("\n") for doc in docs) + "\n"


# --- vpa-heap-fixed --------------------------------------------------------------------------


def test_done_when_a_jvm_under_an_auto_vpa_with_xmx2g_is_told_the_relative_flag():
    found = one(both(vpa("Auto"), orders()), FIXED)
    assert (found.severity, found.container) == ("warning", "orders")
    assert found.message == (
        'VerticalPodAutoscaler "orders-vpa" (updateMode Auto) sets the memory of container '
        '"orders", but -Xmx2g (command) is a fixed size: the heap does not follow the limit VPA '
        "gives the Pod (below it: killed, exit 137; above it: unused memory); use "
        "-XX:MaxRAMPercentage=75.0 instead"
    )
    assert found.fix == ()


@pytest.mark.parametrize(
    ("mode", "fires"),
    [
        ("Auto", True),
        ("Recreate", True),
        ("InPlaceOrRecreate", True),
        ("InPlace", True),
        ("Initial", True),  # sets the resources when each Pod is created
        ("'Off'", False),  # recommendations only
        ("Off", False),  # unquoted, YAML 1.1 reads false: what the author meant is Off
        (None, True),  # no updatePolicy: Auto, the default
    ],
)
def test_every_update_mode_but_off_sets_the_memory(mode, fires):
    assert bool(findings(both(vpa(mode), orders()), FIXED)) is fires


def test_default_mode_is_said():
    assert "(updateMode Auto, the default)" in one(both(vpa(None), orders()), FIXED).message


@pytest.mark.parametrize(
    ("policies", "fires"),
    [
        ("{containerName: orders, mode: 'Off'}", False),
        ("{containerName: orders, mode: Off}", False),  # unquoted: YAML 1.1 false
        ("{containerName: '*', mode: 'Off'}", False),
        ("{containerName: '*', controlledResources: [cpu]}", False),
        ("{containerName: '*', mode: 'Off'}, {containerName: orders, mode: Auto}", True),
        ("{containerName: other, mode: 'Off'}", True),
    ],
)
def test_container_policies(policies, fires):
    assert bool(findings(both(vpa("Auto", policies), orders()), FIXED)) is fires


def test_relative_heap_settings_pass():
    none_of(both(vpa(), orders("[java, -XX:MaxRAMPercentage=75.0, -jar, app.jar]")), FIXED)
    none_of(both(vpa(), orders("[node, --max-old-space-size-percentage=75, app.js]")), FIXED)
    downward = "[{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}]"
    none_of(both(vpa(), orders("[/app]", env=downward)), FIXED)


def test_a_vpa_for_another_workload_or_namespace_does_not_apply():
    none_of(both(vpa(target="other"), orders()), FIXED)
    none_of(both(vpa(namespace="other"), orders()), FIXED)


def test_go_node_and_dotnet_absolute_settings():
    go = one(both(vpa(), orders("[/app]", env="[{name: GOMEMLIMIT, value: 1800MiB}]")), FIXED)
    assert "GOMEMLIMIT=1800MiB is a fixed size" in go.message
    assert "derive GOMEMLIMIT at start from the limit" in go.message
    node = one(both(vpa(), orders("[node, --max-old-space-size=1536, app.js]")), FIXED)
    assert node.message.endswith("use --max-old-space-size-percentage=75 instead")
    dotnet_env = "[{name: DOTNET_GCHeapHardLimit, value: '0x80000000'}]"
    net = one(both(vpa(), orders("[dotnet, app.dll]", env=dotnet_env)), FIXED)
    assert net.message.endswith("use DOTNET_GCHeapHardLimitPercent=0x4B (hexadecimal, 75%) instead")


# --- vpa-limit-below-max-allowed -------------------------------------------------------------

REQUESTS_ONLY = "{containerName: '*', controlledValues: RequestsOnly, maxAllowed: {memory: 8Gi}}"
NO_HEAP = "[/bin/loki]"


def test_requests_only_with_max_allowed_above_the_limit():
    resources = "{requests: {memory: 2Gi}, limits: {memory: 4Gi}}"
    found = one(both(vpa("Auto", REQUESTS_ONLY), orders(NO_HEAP, resources=resources)), BELOW)
    assert (found.severity, found.container) == ("warning", "orders")
    assert found.message == (
        'VerticalPodAutoscaler "orders-vpa" (updateMode Auto) with controlledValues '
        'RequestsOnly may raise the memory request of container "orders" up to its maxAllowed '
        "8Gi, but leaves its 4Gi limit: past 4Gi the container is killed (exit 137) however "
        "much VPA recommends; raise the limit to at least 8Gi, or use controlledValues "
        "RequestsAndLimits"
    )
    assert found.path[-3:] == ("resources", "limits", "memory")


def test_requests_only_without_max_allowed():
    policy = "{containerName: '*', controlledValues: RequestsOnly}"
    found = one(both(vpa("Auto", policy), orders(NO_HEAP)), BELOW)
    assert "with no maxAllowed to bound it" in found.message
    assert "set maxAllowed memory to the limit" in found.message


@pytest.mark.parametrize(
    "policy",
    [
        "{containerName: '*', controlledValues: RequestsOnly, maxAllowed: {memory: 3Gi}}",  # =
        "{containerName: '*', controlledValues: RequestsAndLimits}",  # the limit follows
        "{containerName: '*', controlledValues: RequestsOnly, mode: 'Off'}",
    ],
)
def test_requests_only_passes(policy):
    none_of(both(vpa("Auto", policy), orders(NO_HEAP)), BELOW)


def test_requests_only_without_a_limit_is_memory_limit_missings_business():
    text = both(vpa("Auto", REQUESTS_ONLY), orders(NO_HEAP, resources="{requests: {memory: 1Gi}}"))
    none_of(text, BELOW)
    assert one(text, "memory-limit-missing")


# --- oomguard lint: the VPA in another file ------------------------------------------------


def test_lint_vpa_in_another_file(tmp_path, run_oomguard):
    (tmp_path / "app.yaml").write_text(orders())
    (tmp_path / "vpa.yaml").write_text(vpa("Recreate"))
    result = run_oomguard("lint", "app.yaml", "vpa.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # a warning does not fail by default
    (line,) = [line for line in result.stdout.splitlines() if FIXED in line]
    assert line.startswith("app.yaml:10:")
    assert "-XX:MaxRAMPercentage=75.0" in line
