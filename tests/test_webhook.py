"""``oomguard serve`` end to end: a real gunicorn process over TLS on 127.0.0.1, spoken to with
AdmissionReviews shaped as kube-apiserver sends them."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jsonpatch
import pytest
import requests
from conftest_webhook import REPO, Server, TLSFiles, container, deployment, free_port, pod, review

MAIN_CONFIG = {
    "mode": "enforce",
    "namespace_modes": {"legacy": "warn", "observe": "audit"},
    "mutate": ["jvm-heap-exceeds-limit", "memory-limit-missing"],
}
BODY_CAP = 1024 * 1024

JVM_MESSAGE = (
    '-Xmx2g (env JAVA_TOOL_OPTIONS) is 100% of the 2Gi memory limit of container "ledger": '
    "heap plus off-heap memory will pass the limit and the kernel will kill the container "
    "(exit 137); use at most 75% (1536Mi)"
)
NO_LIMIT_MESSAGE = (
    'container "log-shipper" has no memory limit; its request is 64Mi: it can use the '
    "node's memory until the OOM killer picks a victim"
)
DENIAL = (
    "oomguard: Deployment shop/ledger has 2 memory errors:\n"
    f"- memory-limit-missing (container log-shipper): {NO_LIMIT_MESSAGE}\n"
    f"- jvm-heap-exceeds-limit (container ledger): {JVM_MESSAGE}"
)
# the advice and its numbers first, so the 120-character cut keeps them (issue 15)
JVM_WARNING = (
    "jvm-heap-exceeds-limit [ledger]: use at most 75% (1536Mi); -Xmx2g (env JAVA_TOOL_OPTIONS) "
    "is 100% of the 2Gi memory…"
)
RATIO_WARNING = (
    'memory-limit-request-ratio: memory limit 128Mi of container "log-shipper" is 8× its '
    "request 16Mi, above the 2×…"
)


def ledger(namespace: str = "shop", **kwargs) -> dict:
    """Two errors: -Xmx equal to the limit, and a sidecar without a limit."""
    return deployment(
        "ledger",
        [
            container(
                "ledger",
                limit="2Gi",
                request="2Gi",
                env={"JAVA_TOOL_OPTIONS": "-Xmx2g -XX:+UseG1GC"},
            ),
            container("log-shipper", request="64Mi"),
        ],
        namespace=namespace,
        **kwargs,
    )


def healthy(name: str = "web") -> dict:
    return deployment(name, [container(name, limit="512Mi", request="512Mi")])


def overcommitted() -> dict:
    """One warning: limit 8× the request."""
    return deployment("shipper", [container("log-shipper", limit="128Mi", request="16Mi")])


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return TLSFiles(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, tls):
    folder = tmp_path_factory.mktemp("serve")
    srv = Server(folder, tls, MAIN_CONFIG, ("--max-body-bytes", str(BODY_CAP), "--workers", "2"))
    yield srv
    assert srv.stop() == 0


def answer(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    return body["response"]


def log_line(server: Server, uid: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in server.json_log() if line.get("uid") == uid]
        if lines:
            assert len(lines) == 1
            return lines[0]
        time.sleep(0.05)
    raise AssertionError(f"no log line for {uid}")


# --- decisions -------------------------------------------------------------------------------


def test_enforce_denies_with_every_error_and_its_numbers(server):
    sent = review(ledger())
    response = answer(server.post("/validate", sent))
    assert response == {
        "uid": sent["request"]["uid"],
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": DENIAL},
    }


def test_denial_message_escapes_control_characters(server):
    # issue 12: the denial message quoted names raw; kubectl prints it to a terminal
    obj = ledger()
    obj["metadata"]["name"] = "ledger\x1b[2J\x1b[H0 errors\x85"
    obj["spec"]["template"]["spec"]["containers"][1]["name"] = "log\rshipper"
    message = answer(server.post("/validate", review(obj)))["status"]["message"]
    lines = message.split("\n")
    assert lines[0] == (
        "oomguard: Deployment shop/ledger\\x1b[2J\\x1b[H0 errors\\x85 has 2 memory errors:"
    )
    assert lines[1].startswith("- memory-limit-missing (container log\\x0dshipper): ")
    assert len(lines) == 3
    assert not any(ch < " " and ch != "\n" or "\x7f" <= ch <= "\x9f" for ch in message)


def test_denial_is_logged_as_one_json_line_without_the_object(server):
    sent = review(ledger())
    server.post("/validate", sent)
    line = log_line(server, sent["request"]["uid"])
    assert {k: line[k] for k in line if k != "latency_ms"} == {
        "event": "admission",
        "endpoint": "validate",
        "uid": sent["request"]["uid"],
        "kind": "Deployment",
        "namespace": "shop",
        "name": "ledger",
        "operation": "CREATE",
        "user": "system:serviceaccount:ci:deployer",
        "dry_run": False,
        "mode": "enforce",
        "decision": "denied",
        "allowed": False,
        "rules": ["memory-limit-missing", "qos-not-guaranteed", "jvm-heap-exceeds-limit"],
        "warnings": 0,
        "patch_ops": 0,
    }
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] > 0  # timing: bench/
    assert "-Xmx2g" not in server.log() and "example.com/app" not in server.log()


def test_warnings_allowed_and_shortened_to_the_api_server_limits(server):
    sent = review(overcommitted())
    response = answer(server.post("/validate", sent))
    assert response == {
        "uid": sent["request"]["uid"],
        "allowed": True,
        "warnings": [RATIO_WARNING],
    }
    assert len(RATIO_WARNING) <= 120


def test_clean_object_gets_a_bare_allow(server):
    sent = review(healthy())
    assert answer(server.post("/validate", sent)) == {
        "uid": sent["request"]["uid"],
        "allowed": True,
    }


def test_warn_namespace_turns_errors_into_warnings(server):
    sent = review(ledger("legacy"), namespace="legacy")
    response = answer(server.post("/validate", sent))
    assert response["allowed"] is True
    assert response["warnings"] == [
        'memory-limit-missing: container "log-shipper" has no memory limit; its request is 64Mi: '
        "it can use the node's memory…",
        JVM_WARNING,
    ]
    assert log_line(server, sent["request"]["uid"])["mode"] == "warn"


def test_audit_namespace_allows_silently_but_logs_the_rules(server):
    sent = review(ledger("observe"), namespace="observe")
    response = answer(server.post("/validate", sent))
    assert response == {"uid": sent["request"]["uid"], "allowed": True}
    line = log_line(server, sent["request"]["uid"])
    assert (line["mode"], line["decision"]) == ("audit", "allowed")
    assert "jvm-heap-exceeds-limit" in line["rules"]


def test_dry_run_is_judged_the_same_and_counted_apart(server):
    before = server.metrics()
    sent = review(ledger(), dry_run=True)
    response = answer(server.post("/validate", sent))
    assert response["allowed"] is False and response["status"]["message"] == DENIAL
    after = server.metrics()
    key = (
        'oomguard_admission_reviews_total{dry_run="true",endpoint="validate",'
        'mode="enforce",result="denied"}'
    )
    assert after[key] - before.get(key, 0) == 1
    assert log_line(server, sent["request"]["uid"])["dry_run"] is True


def test_update_is_denied_only_for_new_errors(server):
    old = healthy("ledger")
    introduced = answer(server.post("/validate", review(ledger(), operation="UPDATE", old=old)))
    assert introduced["allowed"] is False
    assert introduced["status"]["message"] == DENIAL

    relabelled = ledger()
    relabelled["metadata"]["labels"]["team"] = "payments"
    kept = answer(server.post("/validate", review(relabelled, operation="UPDATE", old=ledger())))
    assert kept["allowed"] is True
    assert [w.split(":")[0].split(" [")[0] for w in kept["warnings"]] == [
        "memory-limit-missing",
        "jvm-heap-exceeds-limit",
    ]

    worse = ledger()
    worse["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "-Xmx3g"
    changed = answer(server.post("/validate", review(worse, operation="UPDATE", old=ledger())))
    assert changed["allowed"] is False
    assert changed["status"]["message"].splitlines()[0] == (
        "oomguard: Deployment shop/ledger has 1 memory error:"
    )
    assert (
        "-Xmx3g (env JAVA_TOOL_OPTIONS) is 150% of the 2Gi memory limit"
        in (changed["status"]["message"])
    )
    assert changed["warnings"][0].startswith("memory-limit-missing: ")


def test_suppression_annotation_does_not_switch_enforce_off(server):
    # issue 12: any author can write the annotation; in enforce it quiets warnings only
    obj = ledger(annotations={"oomguard.io/ignore": "jvm-heap-exceeds-limit,memory-limit-missing"})
    sent = review(obj)
    response = answer(server.post("/validate", sent))
    assert response["allowed"] is False
    assert "- jvm-heap-exceeds-limit (container ledger)" in response["status"]["message"]


def test_pod_is_checked_like_a_controller(server):
    sent = review(pod("debug", [container("shell", request="64Mi")]))
    response = answer(server.post("/validate", sent))
    assert response["status"]["message"] == (
        "oomguard: Pod shop/debug has 1 memory error:\n"
        '- memory-limit-missing (container shell): container "shell" has no memory limit; '
        "its request is 64Mi: it can use the node's memory until the OOM killer picks a victim"
    )


@pytest.mark.parametrize(
    ("obj", "operation"),
    [
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}},
            "CREATE",
        ),
        ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}}, "UPDATE"),
        (None, "DELETE"),
    ],
    ids=["configmap", "service-update", "delete"],
)
def test_other_kinds_and_operations_pass_untouched(server, obj, operation):
    old = ledger() if operation != "CREATE" else None
    sent = review(obj, operation=operation, old=old)
    for path in ("/validate", "/mutate"):
        assert answer(server.post(path, sent)) == {"uid": sent["request"]["uid"], "allowed": True}


def test_reply_uses_the_request_api_version(server):
    sent = review(ledger(), api_version="admission.k8s.io/v1beta1")
    body = server.post("/validate", sent).json()
    assert body["apiVersion"] == "admission.k8s.io/v1beta1"
    assert body["response"]["allowed"] is False


# --- mutation --------------------------------------------------------------------------------


def test_mutation_round_trip_and_idempotency(server):
    obj = ledger()
    response = answer(server.post("/mutate", review(obj)))
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(response["patch"]))
    assert patch == [
        {
            "op": "add",
            "path": "/spec/template/spec/containers/1/resources/limits",
            "value": {"memory": "64Mi"},
        },
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/env/0/value",
            "value": "-Xmx1536m -XX:+UseG1GC",
        },
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"oomguard.io/mutated": "memory-limit-missing,jvm-heap-exceeds-limit"},
        },
    ]
    assert response["warnings"] == [
        "oomguard changed this object (memory-limit-missing, jvm-heap-exceeds-limit); "
        "annotation oomguard.io/mutated"
    ]
    mutated = jsonpatch.apply_patch(obj, patch)
    containers = mutated["spec"]["template"]["spec"]["containers"]
    assert containers[0]["env"] == [
        {"name": "JAVA_TOOL_OPTIONS", "value": "-Xmx1536m -XX:+UseG1GC"}
    ]
    assert containers[1]["resources"] == {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"memory": "64Mi"},
    }

    again = review(mutated)
    assert answer(server.post("/mutate", again)) == {
        "uid": again["request"]["uid"],
        "allowed": True,
    }
    validated = answer(server.post("/validate", review(mutated)))
    assert validated["allowed"] is True and "status" not in validated


def test_no_mutation_in_audit_mode_or_on_pod_update(server):
    audited = review(ledger("observe"), namespace="observe")
    assert "patch" not in answer(server.post("/mutate", audited))
    bad_pod = pod("p", [container("c", request="64Mi")])
    created = answer(server.post("/mutate", review(bad_pod)))
    assert json.loads(base64.b64decode(created["patch"])) == [
        {"op": "add", "path": "/spec/containers/0/resources/limits", "value": {"memory": "64Mi"}},
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"oomguard.io/mutated": "memory-limit-missing"},
        },
    ]
    updated = answer(server.post("/mutate", review(bad_pod, operation="UPDATE", old=bad_pod)))
    assert "patch" not in updated and updated["allowed"] is True


# --- bad input -------------------------------------------------------------------------------

GOOD = review(healthy(), uid="11111111-2222-3333-4444-555555555555")


def _with(path: tuple, value) -> dict:
    body = json.loads(json.dumps(GOOD))
    target = body
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def _nested(levels: int) -> dict:
    obj = healthy()
    inner: dict = {}
    obj["spec"]["template"]["spec"]["affinity"] = inner
    for _ in range(levels):
        inner["x"] = {}
        inner = inner["x"]
    return review(obj, uid="11111111-2222-3333-4444-555555555555")


BAD_BODIES = {
    "malformed-json": (b'{"apiVersion": "admission.k8s.io/v1", "kind": ', "not valid JSON"),
    "not-utf8": (b'{"a": "\xff\xfe"}', "not valid JSON"),
    "array": (b"[1, 2, 3]", "must be a JSON object, not array"),
    "string": (b'"AdmissionReview"', "must be a JSON object, not string"),
    "empty": (b"", "not valid JSON"),
    "deeply-nested-json": (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    "missing-request": (
        json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
        "'request' is a required property",
    ),
    "missing-uid": (
        json.dumps(_with(("request", "uid"), KeyError)).encode(),
        "'uid' is a required",
    ),
    "request-not-object": (json.dumps(_with(("request",), [1])).encode(), "must be of type object"),
}
BAD_WITH_UID = {
    "wrong-api-version": (_with(("apiVersion",), "admission.k8s.io/v2"), "apiVersion: must be"),
    "wrong-kind": (_with(("kind",), "TokenReview"), 'kind: must be "AdmissionReview"'),
    "missing-object": (_with(("request", "object"), KeyError), "'object' is a required property"),
    "object-not-object": (_with(("request", "object"), "pod"), "must be of type object"),
    "bad-operation": (_with(("request", "operation"), "PATCH"), "operation: must be"),
    "deeply-nested-object": (_nested(150), "nested more than 100 levels deep"),
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_bad_bodies_get_a_clear_400(server, case):
    body, reason = BAD_BODIES[case]
    response = server.post("/validate", body)
    assert response.status_code == 400
    assert reason in response.json()["error"]


@pytest.mark.parametrize("case", BAD_WITH_UID, ids=list(BAD_WITH_UID))
def test_bad_reviews_with_a_uid_get_an_error_status(server, case):
    body, reason = BAD_WITH_UID[case]
    response = server.post("/mutate", body)
    assert response.status_code == 400
    answer = response.json()["response"]
    assert answer["uid"] == GOOD["request"]["uid"] and answer["allowed"] is False
    assert answer["status"]["code"] == 400 and reason in answer["status"]["message"]


def test_wrong_content_type_and_method(server):
    response = server.post("/validate", GOOD, headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert response.json() == {"error": "content type must be application/json, not 'text/plain'"}
    assert server.session.get(server.url + "/validate").status_code == 405
    assert server.session.get(server.url + "/nope").status_code == 404


def test_body_over_the_cap_gets_413_and_the_server_carries_on(server):
    padded = _with(("request", "object", "metadata", "annotations"), {"pad": "x" * BODY_CAP})
    response = server.post("/validate", padded)
    assert response.status_code == 413
    assert response.json() == {"error": f"request body is larger than {BODY_CAP} bytes"}
    # gunicorn drains only a bounded part of an unread body, then closes that connection
    server.session.close()
    assert answer(server.post("/validate", GOOD))["allowed"] is True


def test_chunked_body_over_the_cap_gets_413_counted(server):
    # issue 12: a chunked body over the cap got 400 and was not counted as body_too_large
    key = 'oomguard_admission_errors_total{endpoint="validate",reason="body_too_large"}'
    before = server.metrics().get(key, 0)
    padded = json.dumps(
        _with(("request", "object", "metadata", "annotations"), {"pad": "x" * BODY_CAP})
    ).encode()
    chunks = (padded[i : i + 4096] for i in range(0, len(padded), 4096))  # a generator: chunked
    response = server.session.post(
        server.url + "/validate",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json() == {"error": f"request body is larger than {BODY_CAP} bytes"}
    assert server.metrics()[key] == before + 1
    server.session.close()
    assert answer(server.post("/validate", GOOD))["allowed"] is True


def test_chunked_body_under_the_cap_is_judged(server):
    body = json.dumps(review(ledger())).encode()
    chunks = (body[i : i + 100] for i in range(0, len(body), 100))
    response = server.session.post(
        server.url + "/validate",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["response"]["status"]["message"] == DENIAL


def test_bad_input_never_killed_a_worker(server):
    assert "Traceback" not in server.log()
    assert "Worker exiting" not in server.log() and "WORKER TIMEOUT" not in server.log()


# --- serving ---------------------------------------------------------------------------------


def test_metrics_after_a_known_sequence(server):
    before = server.metrics()
    for obj in (ledger(), ledger(), overcommitted(), healthy()):
        server.post("/validate", review(obj))
    server.post("/mutate", review(ledger()))
    server.post("/validate", b"{")
    after = server.metrics()

    def delta(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    reviews = (
        'oomguard_admission_reviews_total{{dry_run="false",endpoint="{}",mode="enforce",'
        'result="{}"}}'
    )
    assert delta(reviews.format("validate", "denied")) == 2
    assert delta(reviews.format("validate", "warned")) == 1
    assert delta(reviews.format("validate", "allowed")) == 1
    assert delta(reviews.format("mutate", "patched")) == 1
    finding = (
        'oomguard_admission_findings_total{{endpoint="validate",mode="enforce",rule="{}",'
        'severity="{}"}}'
    )
    assert delta(finding.format("jvm-heap-exceeds-limit", "error")) == 2
    assert delta(finding.format("memory-limit-request-ratio", "warning")) == 1
    assert delta('oomguard_admission_errors_total{endpoint="validate",reason="bad_request"}') == 1
    count = 'oomguard_admission_review_duration_seconds_count{endpoint="validate"}'
    assert delta(count) == 4
    assert (
        delta('oomguard_admission_review_duration_seconds_bucket{endpoint="validate",le="+Inf"}')
        == 4
    )


def test_many_parallel_clients_without_an_error(server):
    def client(index: int) -> list[bool]:
        with requests.Session() as session:
            session.verify = server.session.verify
            session.trust_env = False
            results = []
            for round_ in range(20):
                obj = ledger() if (index + round_) % 2 else healthy()
                path = "/mutate" if round_ % 5 == 0 else "/validate"
                sent = review(obj)
                response = session.post(
                    server.url + path,
                    data=json.dumps(sent),
                    headers={"Content-Type": "application/json"},
                    timeout=10,
                )
                body = response.json()["response"]
                expected = path == "/mutate" or obj["metadata"]["name"] == "web"
                results.append(
                    response.status_code == 200
                    and body["uid"] == sent["request"]["uid"]
                    and body["allowed"] is expected
                )
            return results

    with ThreadPoolExecutor(16) as pool:
        outcomes = [ok for batch in pool.map(client, range(16)) for ok in batch]
    assert len(outcomes) == 320 and all(outcomes)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_only_tls_1_2_and_newer(server):
    old = ssl.create_default_context(cafile=str(server.tls.ca_file))
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", server.port)) as raw, pytest.raises(ssl.SSLError):
        old.wrap_socket(raw, server_hostname="127.0.0.1")
    modern = ssl.create_default_context(cafile=str(server.tls.ca_file))
    modern.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", server.port)) as raw,
        modern.wrap_socket(raw, server_hostname="127.0.0.1") as tls_sock,
    ):
        assert tls_sock.version() == "TLSv1.2"


def test_tls_1_2_offers_only_mozilla_intermediate_suites(server):
    # issue 12: two CBC suites were still offered over TLS 1.2
    from oomguard.webhook.server import MOZILLA_INTERMEDIATE_TLS12, build_tls_context

    context = build_tls_context(str(server.tls.cert_file), str(server.tls.key_file))
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 and tls12 <= set(MOZILLA_INTERMEDIATE_TLS12.split(":"))
    assert not [name for name in tls12 if "CBC" in name or name[-4:] == "-SHA"]
    for cbc in ("ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES128-SHA"):
        client = ssl.create_default_context(cafile=str(server.tls.ca_file))
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        client.set_ciphers(cbc + ":@SECLEVEL=0")
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            pytest.raises(ssl.SSLError),
        ):
            client.wrap_socket(raw, server_hostname="127.0.0.1")


def test_failed_handshakes_are_logged_as_one_json_line_each(server):
    # issue 12: every failed handshake wrote a gunicorn text line
    old = ssl.create_default_context(cafile=str(server.tls.ca_file))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    old.set_ciphers("ECDHE-RSA-AES128-SHA:@SECLEVEL=0")
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
    ):
        old.wrap_socket(raw, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"\x16\x03\x01\x00\x05\x01\x1b[2J\x00")  # a broken ClientHello
        raw.recv(100)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        errors = [line for line in server.json_log() if line.get("event") == "tls_error"]
        if len(errors) >= 2:
            break
        time.sleep(0.1)
    assert len(errors) >= 2
    assert all(set(e) == {"event", "peer", "reason", "message"} for e in errors)
    assert {e["peer"] for e in errors} == {"127.0.0.1"}
    assert "Invalid request from ip" not in server.log()
    log = server.log()
    assert not any(ch < " " and ch not in "\n" for ch in log)


def served_common_name(port: int, ca_file) -> str:
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls_sock,
    ):
        subject = dict(item[0] for item in tls_sock.getpeercert()["subject"])
        return subject["commonName"]


def test_certificate_rotation_without_a_failed_request(tmp_path):
    tls = TLSFiles(tmp_path / "tls")
    srv = Server(tmp_path, tls, MAIN_CONFIG)
    failures: list[str] = []
    done = threading.Event()
    count = 0

    def hammer() -> None:
        nonlocal count
        while not done.is_set():
            try:  # a new connection each time, so each one takes whatever context is current
                response = requests.post(
                    srv.url + "/validate",
                    data=json.dumps(review(healthy())),
                    headers={"Content-Type": "application/json"},
                    verify=str(tls.ca_file),
                    timeout=5,
                )
                if (
                    response.status_code != 200
                    or response.json()["response"]["allowed"] is not True
                ):
                    failures.append(response.text)
            except requests.RequestException as exc:
                failures.append(repr(exc))
            count += 1

    try:
        assert served_common_name(srv.port, tls.ca_file) == "oomguard.test"
        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        leaf = tls.ca.issue_cert("127.0.0.1", "localhost", common_name="oomguard.rotated")
        # the certificate lands first and the key 0.5 s later, as a non-atomic writer would do
        tls.cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        time.sleep(0.5)
        tls.key_file.write_bytes(leaf.private_key_pem.bytes())
        time.sleep(0.5)
        assert served_common_name(srv.port, tls.ca_file) == "oomguard.rotated"
        done.set()
        for thread in threads:
            thread.join()
        assert failures == [] and count > 20
        assert "keeping the previous TLS certificate" in srv.log()
    finally:
        done.set()
        assert srv.stop() == 0


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    tls = TLSFiles(tmp_path / "tls")
    srv = Server(tmp_path, tls, MAIN_CONFIG, ("--workers", "1"))
    body = json.dumps(review(ledger(), uid="aaaaaaaa-0000-0000-0000-000000000001")).encode()
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    with (
        socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        conn.sendall(
            b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:100]
        )
        time.sleep(0.3)  # the worker is now reading this request
        srv.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.process.poll() is None  # still running: it waits for this request
        conn.sendall(body[100:])
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    status, _, payload = reply.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200")
    response = json.loads(payload)["response"]
    assert response["uid"] == "aaaaaaaa-0000-0000-0000-000000000001"
    assert response["status"]["message"] == DENIAL
    assert srv.process.wait(timeout=15) == 0
    srv.stop()


def test_a_crashing_rule_follows_the_failure_mode(tmp_path):
    tls = TLSFiles(tmp_path / "tls")
    srv = Server(tmp_path, tls, {}, entry=(str(REPO / "tests" / "webhook" / "crashing_serve.py"),))
    try:
        sent = review(healthy())
        response = answer(srv.post("/validate", sent))
        assert response["allowed"] is True
        assert response["warnings"] == [
            "oomguard could not finish its checks (rule memory-limit-too-low failed on "
            "Deployment/web: RuntimeError: injected fault)"
        ]
        denied = answer(srv.post("/validate", review(ledger())))
        assert denied["allowed"] is False and denied["status"]["message"] == DENIAL
        line = log_line(srv, sent["request"]["uid"])
        assert line["crashes"] == [
            "rule memory-limit-too-low failed on Deployment/web: RuntimeError: injected fault"
        ]
        errors = srv.metrics()[
            'oomguard_admission_errors_total{endpoint="validate",reason="rule_crash"}'
        ]
        assert errors == 2
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--cert", "/nonexistent.pem", "--key", "/nonexistent.key"),
            "cannot load TLS certificate",
        ),
        (("--config", "/nonexistent.yaml"), "cannot read config /nonexistent.yaml"),
    ],
)
def test_serve_refuses_bad_files_with_exit_2(tmp_path, tls, args, message):
    base = ["--cert", str(tls.cert_file), "--key", str(tls.key_file)]
    result = subprocess.run(
        [sys.executable, "-m", "oomguard", "serve", *base, *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_on_rule_error_deny_denies_when_a_rule_crashes(tmp_path):
    tls = TLSFiles(tmp_path / "tls")
    srv = Server(
        tmp_path,
        tls,
        {},
        ("--on-rule-error", "deny"),
        entry=(str(REPO / "tests" / "webhook" / "crashing_serve.py"),),
    )
    try:
        denied = answer(srv.post("/validate", review(healthy())))
        assert denied["allowed"] is False
        assert denied["status"] == {
            "code": 500,
            "reason": "InternalError",
            "message": "oomguard: internal error, denied by its failure policy: rule "
            "memory-limit-too-low failed on Deployment/web: RuntimeError: injected fault",
        }
    finally:
        assert srv.stop() == 0


def test_probe_port_answers_apart_from_the_review_threads_and_drains_on_sigterm(tmp_path):
    tls = TLSFiles(tmp_path / "tls")
    probe_port = free_port()
    srv = Server(tmp_path, tls, MAIN_CONFIG, ("--workers", "1", "--probe-port", str(probe_port)))
    probe = f"http://127.0.0.1:{probe_port}"
    try:
        assert requests.get(probe + "/healthz", timeout=10).json() == {"status": "ok"}
        assert requests.get(probe + "/readyz", timeout=10).json() == {"status": "ready"}
        answer(srv.post("/validate", review(ledger())))
        metrics_text = requests.get(probe + "/metrics", timeout=10).text
        assert (
            'oomguard_admission_reviews_total{dry_run="false",endpoint="validate"' in metrics_text
        )
        assert requests.get(probe + "/nope", timeout=10).status_code == 404
        # a request in flight keeps the server up after SIGTERM; meanwhile readiness fails
        # (endpoints drop the Pod) and liveness holds (no restart while it drains)
        body = json.dumps(review(ledger())).encode()
        context = ssl.create_default_context(cafile=str(tls.ca_file))
        with (
            socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
        ):
            conn.sendall(
                b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:100]
            )
            time.sleep(0.3)  # the worker has the headers (ordering only, nothing is timed)
            srv.process.send_signal(signal.SIGTERM)
            for _ in range(100):  # the master handles the signal on its main loop
                ready = requests.get(probe + "/readyz", timeout=10)
                if ready.status_code != 200:
                    break
                time.sleep(0.1)
            assert (ready.status_code, ready.json()) == (503, {"status": "stopping"})
            time.sleep(0.5)  # ordering only: the master has passed SIGTERM on to the worker
            assert requests.get(probe + "/healthz", timeout=10).status_code == 200
            conn.sendall(body[100:])
            reply = conn.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200")
        assert b"Connection: close" in reply  # answers after SIGTERM end the keep-alive
        assert srv.process.wait(timeout=30) == 0
    finally:
        srv.stop()


def test_an_internal_failure_warns_in_allow_mode_and_is_counted_once(tmp_path):
    # issue 12: a failure outside the rules got no warning in allow mode and was counted
    # under both reasons
    tls = TLSFiles(tmp_path / "tls")
    srv = Server(
        tmp_path,
        tls,
        {"mode": "enforce"},
        entry=(str(REPO / "tests" / "webhook" / "crashing_serve.py"),),
        env={"OOMGUARD_TEST_FAULT": "internal"},
    )
    try:
        response = answer(srv.post("/validate", review(healthy())))
        assert response["allowed"] is True
        assert response["warnings"] == [
            "oomguard could not finish its checks (oomguard failed: RuntimeError)"
        ]
        errors = {k: v for k, v in srv.metrics().items() if "admission_errors_total" in k}
        assert errors == {
            'oomguard_admission_errors_total{endpoint="validate",reason="internal"}': 1.0
        }
    finally:
        assert srv.stop() == 0


def test_kept_alive_connections_are_answered_with_close_after_sigterm(tmp_path):
    # issue 12: requests on kept-alive connections just after SIGTERM were reset. Stock
    # gthread closes idle kept-alive connections 2 s after SIGTERM; the server keeps them
    # 15 s and answers each request meanwhile with "Connection: close". 3 s is past the old
    # window (the old server fails all 35 here). A residual race (one connection in a few
    # hundred) remains where a connection closes as a request arrives, hence >= 33.
    tls = TLSFiles(tmp_path / "tls")
    srv = Server(tmp_path, tls, MAIN_CONFIG)
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    body = json.dumps(review(healthy()))
    headers = {"Content-Type": "application/json"}
    conns = []
    try:
        for _ in range(35):
            conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=10)
            conn.request("POST", "/validate", body, headers)
            assert conn.getresponse().read()
            conns.append(conn)
        srv.process.send_signal(signal.SIGTERM)
        time.sleep(3)  # ordering: past gthread's own 2 s, inside the 15 s window
        answers = []
        for conn in conns:
            try:
                conn.request("POST", "/validate", body, headers)
                response = conn.getresponse()
                response.read()
                answers.append((response.status, response.getheader("Connection")))
            except (OSError, http.client.HTTPException) as exc:
                answers.append((type(exc).__name__, None))
        assert answers.count((200, "close")) >= 33, answers
        assert srv.process.wait(timeout=30) == 0
    finally:
        for conn in conns:
            conn.close()
        srv.stop()


def test_serve_says_it_does_not_read_an_oomguard_yaml_in_its_working_directory(tmp_path):
    # serve reads only --config (README "Configuration"); a .oomguard.yaml beside it used to
    # be ignored silently, so an operator believed its mode was in force
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / ".oomguard.yaml").write_text("mode: audit\n")
    srv = Server(tmp_path, TLSFiles(tmp_path / "tls"), None, ("--workers", "1"), cwd=workdir)
    try:
        bad = deployment("ledger", [container("log-shipper", request="64Mi")])
        answer = srv.post("/validate", review(bad)).json()["response"]
        notices = [line for line in srv.log().splitlines() if "notice" in line]
    finally:
        assert srv.stop() == 0
    found = workdir.resolve() / ".oomguard.yaml"
    assert notices == [
        f"oomguard: notice: {found} is not read; serve reads only --config, "
        "using the defaults (no --config)"
    ]
    assert answer["allowed"] is False  # the default mode (enforce), not the file's audit


def test_no_notice_when_the_working_directory_file_is_the_config(tmp_path):
    from oomguard.webhook.server import ignored_config_notice

    config = tmp_path / ".oomguard.yaml"
    assert ignored_config_notice(None, str(tmp_path)) is None  # no file, nothing to say
    config.write_text("mode: warn\n")
    assert ignored_config_notice(None, str(tmp_path)) is not None
    assert ignored_config_notice(str(config), str(tmp_path)) is None
    assert ignored_config_notice("other.yaml", str(tmp_path)).endswith("using --config other.yaml")


def _chunked(payload: bytes, sizes: list[int]) -> bytes:
    """``payload`` in HTTP/1.1 chunked framing, chunk sizes cycling through ``sizes``."""
    out, pos, index = [], 0, 0
    while pos < len(payload):
        size = sizes[index % len(sizes)]
        data = payload[pos : pos + size]
        out.append(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        pos, index = pos + size, index + 1
    return b"".join(out) + b"0\r\n\r\n"


def _arriving(stream: bytes, piece: int):
    """A real gunicorn request (headers parsed by gunicorn's own parser) whose chunked body
    then arrives ``piece`` bytes at a time, as the worker appends them to the parser's
    buffer; yields (progress, complete?) after each piece."""
    from gunicorn.config import Config
    from gunicorn.http.parser import RequestParser
    from oomguard.webhook.worker import BodyProgress, BoundedThreadWorker

    head = b"POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    req = next(iter(RequestParser(Config(), [head], ("127.0.0.1", 1))))
    progress = BodyProgress(req, deadline=float("inf"))
    buf = req.unreader.buf
    for start in range(0, len(stream), piece):
        buf.seek(0, 2)
        buf.write(stream[start : start + piece])
        yield progress, BoundedThreadWorker._complete(progress, 6 * 1024 * 1024)


def test_chunked_body_in_tiny_pieces_is_scanned_once_not_per_arrival():
    # The completeness scan copied the whole buffer on every arrival (BytesIO.getvalue), so a
    # body in many small pieces cost its size squared. Now only bytes after the last complete
    # chunk are copied: the bytes scanned stay a small multiple of the body.
    payload = json.dumps(review(ledger())).encode() * 20
    stream = _chunked(payload, [1, 3, 7, 2])
    states = list(_arriving(stream, 5))
    assert [complete for _, complete in states] == [False] * (len(states) - 1) + [True]
    progress = states[-1][0]
    assert progress.decoded == len(payload)
    assert progress.scanned < 2 * len(stream), (progress.scanned, len(stream))
    assert progress.req.body.read() == payload  # gunicorn's own reader agrees on the body


def test_one_large_chunk_arriving_slowly_is_not_rescanned():
    payload = b"x" * 300_000
    stream = _chunked(payload, [len(payload)])
    states = list(_arriving(stream, 1000))
    assert states[-1][1] is True and [c for _, c in states].count(True) == 1
    progress = states[-1][0]
    assert progress.decoded == len(payload)
    assert progress.scanned < 2 * len(stream), (progress.scanned, len(stream))


def test_chunked_body_in_many_tiny_chunks_is_judged(server):
    obj = ledger()
    obj["metadata"]["annotations"] = {"pad": "x" * 50_000}
    body = json.dumps(review(obj)).encode()
    chunks = (body[i : i + 3] for i in range(0, len(body), 3))  # ~20,000 chunks
    response = server.session.post(
        server.url + "/validate",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["response"]["status"]["message"] == DENIAL
