"""LimitRanges (issue 17): the defaults and bounds the API server gives a namespace's Pods.

Kubernetes behaviour followed, by source:
* pkg/apis/core/v1/defaults.go ``SetDefaults_LimitRangeItem``: in a Container item a missing
  ``default`` is the ``max``; a missing ``defaultRequest`` is the ``default``, else the ``min``.
* plugin/pkg/admission/limitranger/admission.go ``defaultContainerResourceRequirements`` (a
  LimitRange's Container items, later overwriting earlier) and ``mergeContainerResources``
  (a default fills a container's limit / request only when it has none; containers and init
  containers); ``PodLimitFunc`` with ``minConstraint``, ``maxConstraint``,
  ``limitRequestRatioConstraint`` and ``sum`` (type Pod: the sum over the containers, absent
  when one has none, raised to any init container's larger value).
* pkg/apis/core/v1/defaults.go ``SetDefaults_Pod``: a container with a limit and no request
  gets the limit as request, before admission, so ``defaultRequest`` never applies to it.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from helpers import (
    ALL_RULES,
    config,
    container_view,
    documents,
    findings,
    limit_ranges_from,
    none_of,
    one,
)
from oomguard.rules.limit_ranges import parse_limit_range

LRV = "limitrange-violation"
ML = "memory-limit-missing"
JVM = "jvm-heap-exceeds-limit"
MI = 1024**2


def limit_range(container_item: str, name: str = "defaults", namespace: str = "shop") -> str:
    meta = f"{{name: {name}, namespace: {namespace}}}" if namespace else f"{{name: {name}}}"
    return f"apiVersion: v1\nkind: LimitRange\nmetadata: {meta}\nspec:\n  limits:\n{container_item}"


def item(type_: str = "Container", **values: str) -> str:
    lines = [f"    - type: {type_}"]
    lines += [f"      {key}: {{memory: {value}}}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def deployment(
    resources: str = "{}", command: str = "[java, -Xmx1g, -jar, app.jar]", namespace="shop"
) -> str:
    meta = f"{{name: orders, namespace: {namespace}}}" if namespace else "{name: orders}"
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {meta}
        spec:
          template:
            spec:
              containers:
                - name: orders
                  image: eclipse-temurin:21-jre
                  command: {command}
                  resources: {resources}
        """
    )


def both(*docs: str) -> str:
    return "\n---\n".join(doc.rstrip("\n") for doc in docs) + "\n"


DEFAULT_512 = limit_range(item(default="512Mi"))


# --- the LimitRange as the API server stores it -------------------------------------------


@pytest.mark.parametrize(
    ("values", "default", "default_request"),
    [
        ({"max": "1Gi"}, "1Gi", "1Gi"),  # default <- max, defaultRequest <- default
        ({"default": "512Mi", "min": "128Mi"}, "512Mi", "512Mi"),  # default wins over min
        ({"min": "128Mi"}, None, "128Mi"),  # defaultRequest <- min
        ({"default": "512Mi", "defaultRequest": "256Mi"}, "512Mi", "256Mi"),
    ],
)
def test_limit_range_items_get_the_api_servers_defaults(values, default, default_request):
    parsed = parse_limit_range(
        {
            "kind": "LimitRange",
            "metadata": {"name": "d", "namespace": "shop"},
            "spec": {
                "limits": [{"type": "Container", **{k: {"memory": v} for k, v in values.items()}}]
            },
        }
    )
    got = parsed.container_default("default")
    assert (got.text if got else None) == default
    assert parsed.container_default("default_request").text == default_request


def test_unparseable_limit_range_values_are_named_not_used():
    parsed = parse_limit_range(
        {
            "metadata": {"name": "d"},
            "spec": {"limits": [{"type": "Container", "default": {"memory": "lots"}}]},
        }
    )
    assert parsed.container_default("default") is None
    assert parsed.problems == ("spec.limits[0].default.memory 'lots'",)


# --- effective limit and request ----------------------------------------------------------


def effective(text: str):
    view = container_view(text, "orders")
    # container_view has no LimitRanges: give them as a lint run does
    view.workload.limit_ranges = limit_ranges_from(documents(text))
    return view.effective_limit, view.effective_request


def test_no_limit_gets_the_default_and_the_default_request():
    limit, request = effective(
        both(limit_range(item(default="512Mi", defaultRequest="256Mi")), deployment())
    )
    assert (limit.value, limit.text) == (512 * MI, "512Mi")
    assert limit.origin == 'the default of LimitRange "defaults" in namespace shop'
    assert (request.value, request.origin) == (
        256 * MI,
        'the defaultRequest of LimitRange "defaults" in namespace shop',
    )


def test_a_written_limit_is_kept_and_is_the_request():
    # SetDefaults_Pod: the request is the limit, defaultRequest does not apply
    limit, request = effective(
        both(
            limit_range(item(default="512Mi", defaultRequest="256Mi")),
            deployment("{limits: {memory: 1Gi}}"),
        )
    )
    assert (limit.text, limit.origin) == ("1Gi", None)
    assert (request.text, request.origin) == ("1Gi", None)


def test_a_written_request_gets_only_the_default_limit():
    limit, request = effective(both(DEFAULT_512, deployment("{requests: {memory: 300Mi}}")))
    assert (limit.text, request.text, request.origin) == ("512Mi", "300Mi", None)


def test_a_limit_of_zero_is_written_so_no_default_applies():
    limit, _ = effective(both(DEFAULT_512, deployment("{limits: {memory: 0}}")))
    assert (limit.value, limit.origin) == (0, None)


def test_the_first_limit_range_with_a_default_wins_and_the_last_item_of_one():
    first = limit_range(item(default="256Mi") + item(default="384Mi"), name="a")
    second = limit_range(item(default="1Gi"), name="b")
    limit, _ = effective(both(first, second, deployment()))
    assert (limit.text, limit.origin) == (
        "384Mi",
        'the default of LimitRange "a" in namespace shop',
    )


@pytest.mark.parametrize(
    ("range_namespace", "workload_namespace", "applies"),
    [("shop", "shop", True), ("other", "shop", False), (None, None, True), (None, "shop", False)],
)
def test_namespaces_must_match(range_namespace, workload_namespace, applies):
    text = both(
        limit_range(item(default="512Mi"), namespace=range_namespace),
        deployment(namespace=workload_namespace),
    )
    assert bool(findings(text, JVM)) is applies


# --- memory-limit-missing and the heap rules against a default ------------------------------


def test_done_when_xmx1g_under_a_512mi_default_is_an_error_with_both_numbers_and_the_name():
    text = both(DEFAULT_512, deployment())
    heap = one(text, JVM)
    assert heap.severity == "error"
    assert heap.container == "orders"
    assert heap.message == (
        '-Xmx1g (command) is 200% of the 512Mi memory limit container "orders" gets from the '
        'default of LimitRange "defaults" in namespace shop (no limit is written): heap plus '
        "off-heap memory will pass the limit and the kernel will kill the container (exit 137); "
        "write a memory limit, or use at most 75% (384Mi)"
    )
    assert heap.fix == ()  # the limit is nobody's written value: the author decides


def test_memory_limit_missing_is_info_when_a_default_applies():
    text = both(DEFAULT_512, deployment("{requests: {memory: 256Mi}}"))
    missing = one(text, ML)
    assert missing.severity == "info"
    assert missing.message == (
        'container "orders": no limit written; LimitRange "defaults" in namespace shop gives '
        "512Mi; its request is 256Mi"
    )
    assert missing.fix  # writing the limit out is still offered (limit = request)


def test_memory_limit_missing_stays_an_error_without_a_default():
    text = both(limit_range(item(defaultRequest="256Mi")), deployment())
    assert one(text, ML).severity == "error"
    none_of(text, JVM)


def test_memory_limit_missing_says_when_the_limit_ranges_could_not_be_read():
    text = deployment()
    missing = one(text, ML, limit_ranges=lambda namespace: "forbidden (403)")
    assert missing.severity == "error"
    assert missing.message == (
        'container "orders" has no memory limit; the namespace\'s LimitRanges could not be '
        "read (forbidden (403)): it can use the node's memory until the OOM killer picks a victim"
    )


def test_configured_severity_is_only_ever_lowered_by_a_default():
    cfg = config(rules={ML: {"severity": "warning"}})
    assert one(both(DEFAULT_512, deployment()), ML, cfg).severity == "info"
    assert one(deployment(), ML, cfg).severity == "warning"


def test_go_memlimit_from_the_downward_api_reads_the_default_limit():
    # the kubelet's downward API gives the container's real limit: the LimitRange's default
    go = deployment(
        command="[/app]",
    ).replace(
        "resources: {}",
        "resources: {}\n          env: [{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: "
        "{resource: limits.memory}}}]",
    )
    text = both(DEFAULT_512, go)
    found = one(text, "go-memlimit-exceeds-limit")
    assert "GOMEMLIMIT=536870912" in found.message
    assert '512Mi, the default of LimitRange "defaults" in namespace shop' in found.message


def test_node_heap_against_the_default_limit():
    text = both(DEFAULT_512, deployment(command="[node, --max-old-space-size=600, app.js]"))
    found = one(text, "node-heap-exceeds-limit")
    assert 'of the 512Mi memory limit container "orders" gets from the default' in found.message


def test_headroom_against_the_default_limit():
    text = both(DEFAULT_512, deployment(command="[java, -Xmx448m, -jar, app.jar]"))
    found = one(text, "jvm-heap-headroom-low")
    assert found.message.startswith(
        '-Xmx448m (command) is 87.5% of the 512Mi memory limit container "orders" gets from '
    )
    assert found.fix == ()


# --- limitrange-violation ----------------------------------------------------------------


def test_max_below_the_written_limit():
    text = both(limit_range(item(max="1Gi"), name="caps"), deployment("{limits: {memory: 2Gi}}"))
    found = one(text, LRV)
    assert (found.severity, found.container) == ("error", "orders")
    assert found.message == (
        'the API server would reject the Pod: container "orders" breaks LimitRange "caps" in '
        "namespace shop: maximum memory usage per Container is 1Gi, but limit is 2Gi"
    )
    assert found.path[-3:] == ("resources", "limits", "memory")


def test_max_below_the_written_request():
    text = both(
        limit_range(item(max="1Gi", default="512Mi")),
        deployment("{requests: {memory: 2Gi}, limits: {memory: 1Gi}}"),
    )
    assert "maximum memory usage per Container is 1Gi, but request is 2Gi" in one(text, LRV).message


def test_min_above_the_request():
    text = both(limit_range(item(min="512Mi")), deployment("{limits: {memory: 256Mi}}"))
    assert one(text, LRV).message.endswith(
        "minimum memory usage per Container is 512Mi, but request is 256Mi"
    )


def test_ratio_with_the_default_limit_says_where_it_comes_from():
    text = both(
        limit_range(item(default="512Mi", maxLimitRequestRatio="1.5")),
        deployment("{requests: {memory: 256Mi}}"),
    )
    assert one(text, LRV).message == (
        'the API server would reject the Pod: container "orders" breaks LimitRange "defaults" '
        "in namespace shop: memory max limit to request ratio per Container is 1.5, but limit "
        '512Mi / request 256Mi is 2 (limit 512Mi is the default of LimitRange "defaults" in '
        "namespace shop)"
    )


def test_ratio_exactly_at_the_maximum_passes():
    text = both(
        limit_range(item(maxLimitRequestRatio="2")),
        deployment("{requests: {memory: 256Mi}, limits: {memory: 512Mi}}"),
    )
    none_of(text, LRV)


def test_ratio_just_above_the_maximum_is_exact():
    """oomguard judges limit/request against the maximum exactly, as before byte counts
    became ints: (2^54 + 1) / 2^53 is above 2; int / int would round it to 2.0 and pass.
    (The API server's limitRequestRatioConstraint, plugin/pkg/admission/limitranger/
    admission.go, divides float64s and would accept this 16 PiB limit: only values of
    2^53 bytes and more tell the two apart.)"""
    text = both(
        limit_range(item(maxLimitRequestRatio="2")),
        deployment("{requests: {memory: 9007199254740992}, limits: {memory: 18014398509481985}}"),
    )
    assert one(text, LRV).message.endswith(
        "memory max limit to request ratio per Container is 2, but limit 18014398509481985 / "
        "request 9007199254740992 is 2"
    )


def test_default_limit_below_the_written_request_is_rejected():
    text = both(DEFAULT_512, deployment("{requests: {memory: 1Gi}}"))
    assert one(text, LRV).message == (
        'the API server would reject the Pod: container "orders" gets the 512Mi memory limit '
        'from the default of LimitRange "defaults" in namespace shop, below its 1Gi request '
        "(a request may not exceed its limit); write a memory limit of at least 1Gi"
    )


def test_pod_max_is_judged_on_the_sum_of_the_containers():
    text = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Pod
        metadata: {name: api, namespace: shop}
        spec:
          initContainers:
            - {name: migrate, image: x, resources: {limits: {memory: 1Gi}}}
          containers:
            - {name: a, image: x, resources: {limits: {memory: 768Mi}}}
            - {name: b, image: x, resources: {limits: {memory: 512Mi}}}
        """
    )
    text = both(limit_range(item("Pod", max="1Gi"), name="pods"), text)
    found = one(text, LRV)
    assert found.container is None
    assert found.message == (
        'the API server would reject the Pod: the pod breaks LimitRange "pods" in namespace '
        "shop: maximum memory usage per Pod is 1Gi, but limit is 1280Mi"
    )


def test_pod_max_is_raised_to_a_larger_init_container():
    text = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Pod
        metadata: {name: api, namespace: shop}
        spec:
          initContainers:
            - {name: migrate, image: x, resources: {limits: {memory: 3Gi}}}
          containers:
            - {name: a, image: x, resources: {limits: {memory: 1Gi}}}
        """
    )
    text = both(limit_range(item("Pod", max="2Gi"), name="pods"), text)
    assert one(text, LRV).message.endswith("maximum memory usage per Pod is 2Gi, but limit is 3Gi")


def test_pod_max_without_a_limit_on_every_container():
    text = both(limit_range(item("Pod", max="2Gi"), name="pods"), deployment())
    assert one(text, LRV).message.endswith(
        "maximum memory usage per Pod is 2Gi, but no limit is specified"
    )


def test_values_that_do_not_parse_are_left_to_their_own_rule():
    text = both(limit_range(item(max="1Gi")), deployment("{limits: {memory: lots}}"))
    none_of(text, LRV)
    assert one(text, "memory-quantity-invalid")


def test_no_limit_ranges_no_finding():
    none_of(deployment("{limits: {memory: 2Gi}}"), LRV, ALL_RULES)


def test_within_bounds_passes():
    text = both(
        limit_range(item(max="2Gi", min="128Mi", maxLimitRequestRatio="2")),
        deployment("{requests: {memory: 1Gi}, limits: {memory: 2Gi}}"),
    )
    none_of(text, LRV)


# --- oomguard lint: LimitRanges beside the workload, in the same file or another ------------

DONE_WHEN_HEAP = (
    '-Xmx1g (command) is 200% of the 512Mi memory limit container "orders" gets from the '
    'default of LimitRange "defaults" in namespace shop'
)


def test_lint_same_file(tmp_path, run_oomguard):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(both(deployment(), DEFAULT_512))
    result = run_oomguard("lint", "--format", "json", "--min-severity", "info", str(manifest))
    assert result.returncode == 1, result.stderr
    found = {
        (f["rule"], f["severity"]): f["message"] for f in json.loads(result.stdout)["findings"]
    }
    assert found[(JVM, "error")].startswith(DONE_WHEN_HEAP)
    assert found[(ML, "info")] == (
        'container "orders": no limit written; LimitRange "defaults" in namespace shop gives 512Mi'
    )
    assert (ML, "error") not in found


@pytest.mark.parametrize("limit_range_first", [True, False])
def test_lint_other_file_in_either_order(tmp_path, run_oomguard, limit_range_first):
    (tmp_path / "app.yaml").write_text(deployment())
    (tmp_path / "ranges.yaml").write_text(DEFAULT_512)
    files = ["ranges.yaml", "app.yaml"] if limit_range_first else ["app.yaml", "ranges.yaml"]
    result = run_oomguard("lint", *files, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    heap = [line for line in lines if f"error {JVM}:" in line]
    assert len(heap) == 1 and DONE_WHEN_HEAP in heap[0], result.stdout
    assert heap[0].startswith("app.yaml:10:")
    assert f"error {ML}" not in result.stdout


def test_lint_limit_range_of_another_namespace_does_not_apply(tmp_path, run_oomguard):
    (tmp_path / "app.yaml").write_text(deployment())
    (tmp_path / "ranges.yaml").write_text(limit_range(item(default="512Mi"), namespace="other"))
    result = run_oomguard("lint", "app.yaml", "ranges.yaml", cwd=tmp_path)
    assert f"error {ML}:" in result.stdout
    assert JVM not in result.stdout


# --- best-effort-pod: the admitted Pod gets the defaults -------------------------------------


@pytest.mark.parametrize(
    ("limits", "fires"),
    [
        (item(default="512Mi"), False),  # memory limit and request from the LimitRange
        ("    - type: Container\n      default: {cpu: 500m}\n", False),  # cpu only: still not
        (item(max="1Gi"), False),  # max is the default limit (SetDefaults_LimitRangeItem)
        ("    - type: Pod\n      max: {memory: 4Gi}\n", True),  # a Pod item defaults nothing
    ],
)
def test_best_effort_pod_counts_the_limit_range_defaults(limits, fires):
    text = both(limit_range(limits), deployment(command="[/app]"))
    assert bool(findings(text, "best-effort-pod")) is fires


def test_an_unreadable_limit_range_value_is_said_as_a_warning():
    text = both(limit_range(item(default="lots", max="1Gi")), deployment())
    (said,) = findings(text, LRV)
    assert said.severity == "warning"
    assert said.message == (
        "LimitRange \"defaults\" in namespace shop: spec.limits[0].default.memory 'lots' is not a "
        "memory quantity the API server accepts (it would refuse that LimitRange); oomguard "
        "leaves that value out"
    )
    # the max still applies, and gives the default limit (SetDefaults_LimitRangeItem)
    assert "1Gi memory limit" in one(text, JVM).message


def test_memory_request_missing_is_info_when_a_default_request_applies():
    text = both(limit_range(item(default="512Mi", defaultRequest="256Mi")), deployment())
    given = one(text, "memory-request-missing")
    assert given.severity == "info"
    assert given.message == (
        'container "orders": no request written; the defaultRequest of LimitRange "defaults" in '
        "namespace shop gives 256Mi"
    )
    assert one(deployment(), "memory-request-missing").severity == "warning"


# --- oomguard lint on a Helm chart: LimitRanges rendered with it or beside it ----------------


def _chart(root, with_limit_range: bool):
    chart = root / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("heap: -Xmx1g\n")
    (chart / "templates" / "deployment.yaml").write_text(
        deployment(command="[java, '{{ .Values.heap }}', -jar, app.jar]")
    )
    if with_limit_range:
        (chart / "templates" / "limitrange.yaml").write_text(DEFAULT_512)
    return chart


@pytest.mark.parametrize("rendered_with_it", [True, False])
def test_lint_chart_with_a_limit_range(tmp_path, run_oomguard, rendered_with_it):
    _chart(tmp_path, with_limit_range=rendered_with_it)
    args = ["chart"] if rendered_with_it else ["chart", "ranges.yaml"]
    if not rendered_with_it:
        (tmp_path / "ranges.yaml").write_text(DEFAULT_512)
    result = run_oomguard("lint", *args, cwd=tmp_path, env={"OOMGUARD_HELM": "sdk"})
    assert result.returncode == 1, result.stdout + result.stderr
    heap = [line for line in result.stdout.splitlines() if f"error {JVM}:" in line]
    assert len(heap) == 1, result.stdout
    assert "-Xmx1g" in heap[0] and "is 200% of the 512Mi memory limit" in heap[0]
    assert 'default of LimitRange "defaults" in namespace shop' in heap[0]
    assert f"error {ML}" not in result.stdout
