"""heap-resize-in-place (issue 17): heaps sized at start in containers resized in place.

Kubernetes: ``ContainerResizePolicy`` (pkg/apis/core/types.go) ``restartPolicy``
``NotRequired`` (the default when no resizePolicy is written) or ``RestartContainer``;
in-place resize applies to regular containers and restartable (sidecar) init containers.
Runtimes size their heap at start: HotSpot ``Arguments::set_heap_size`` reads the limit
once; Go reads ``GOMEMLIMIT`` at start (runtime/mgcpacer.go ``readGOMEMLIMIT``); V8's heap
size is fixed by the flags at isolate creation; .NET's GC reads ``GCHeapHardLimit*`` at
initialisation (gcconfig.h). VPA's in-place modes: kubernetes/autoscaler
vertical-pod-autoscaler types.go ``UpdateModeInPlaceOrRecreate`` / ``UpdateModeInPlace``.
"""

from __future__ import annotations

import textwrap

import pytest
from helpers import findings, none_of, one

RULE = "heap-resize-in-place"


def deployment(command="[java, -XX:MaxRAMPercentage=75.0, -jar, app.jar]", policy=None, env="[]"):
    resize = f"\n          resizePolicy: [{{resourceName: memory, restartPolicy: {policy}}}]"
    return (
        textwrap.dedent(
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
                  resources: {{limits: {{memory: 2Gi}}}}"""
        )
        + (resize if policy else "")
        + "\n"
    )


def vpa(mode: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: autoscaling.k8s.io/v1
        kind: VerticalPodAutoscaler
        metadata: {{name: orders, namespace: shop}}
        spec:
          targetRef: {{apiVersion: apps/v1, kind: Deployment, name: orders}}
          updatePolicy: {{updateMode: {mode}}}
        """
    )


def both(*docs: str) -> str:
    return "\n---\n".join(doc.rstrip("\n") for doc in docs) + "\n"


def test_not_required_with_a_percentage_heap():
    found = one(deployment(policy="NotRequired"), RULE)
    assert (found.severity, found.container) == ("warning", "orders")
    assert found.message == (
        'the memory limit of container "orders" may change while it runs (its memory '
        "resizePolicy is NotRequired), but -XX:MaxRAMPercentage=75.0 (command) sizes the heap "
        "once, at start: after a resize it still fits the old limit (a smaller one: killed, "
        "exit 137; a larger one: unused); set the memory resizePolicy to restartPolicy: "
        "RestartContainer"
    )
    assert found.path[-2:] == ("resizePolicy", 0)


def test_restart_container_passes_and_no_policy_without_vpa_passes():
    none_of(deployment(policy="RestartContainer"), RULE)
    none_of(deployment(), RULE)  # no resize is in sight: no finding


@pytest.mark.parametrize(
    ("mode", "fires"), [("InPlaceOrRecreate", True), ("InPlace", True), ("Recreate", False)]
)
def test_a_vpa_that_resizes_in_place(mode, fires):
    found = findings(both(vpa(mode), deployment()), RULE)
    assert bool(found) is fires
    if fires:
        assert f'VerticalPodAutoscaler "orders" (updateMode {mode}) resizes it in place' in (
            found[0].message
        )


def test_a_vpa_in_place_with_restart_container_passes():
    none_of(both(vpa("InPlaceOrRecreate"), deployment(policy="RestartContainer")), RULE)


@pytest.mark.parametrize(
    ("command", "env", "setting"),
    [
        ("[java, -Xmx1g, -jar, app.jar]", "[]", "-Xmx1g (command)"),
        (
            "[node, --max-old-space-size-percentage=75, app.js]",
            "[]",
            "--max-old-space-size-percentage=75",
        ),
        (
            "[/app]",
            "[{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}]",
            "GOMEMLIMIT (env GOMEMLIMIT from limits.memory via resourceFieldRef)",
        ),
        (
            "[dotnet, app.dll]",
            "[{name: DOTNET_GCHeapHardLimitPercent, value: '0x4B'}]",
            "DOTNET_GCHeapHardLimitPercent=0x4B",
        ),
    ],
)
def test_every_runtime_setting_read_at_start(command, env, setting):
    found = one(deployment(command, policy="NotRequired", env=env), RULE)
    assert f"but {setting}" in found.message


def test_no_heap_setting_no_finding():
    none_of(deployment("[/bin/server]", policy="NotRequired"), RULE)


def test_a_sidecar_is_resized_a_run_to_completion_init_container_is_not():
    def pod(restart: str) -> str:
        return textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: Pod
            metadata: {{name: api, namespace: shop}}
            spec:
              initContainers:
                - name: agent
                  image: x
                  {restart}
                  command: [java, -Xmx256m, -jar, agent.jar]
                  resizePolicy: [{{resourceName: memory, restartPolicy: NotRequired}}]
                  resources: {{limits: {{memory: 512Mi}}}}
              containers:
                - {{name: app, image: x, resources: {{limits: {{memory: 1Gi}}}}}}
            """
        )

    assert one(pod("restartPolicy: Always"), RULE).container == "agent"
    none_of(pod(""), RULE)
