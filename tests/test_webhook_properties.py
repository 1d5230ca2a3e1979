"""Property-based hardening of the webhook: generated and mutated objects, and random bytes,
through the real Flask app in process (hypothesis needs thousands of requests; the app is the
same one ``oomguard serve`` runs), then a sample of them through the real gunicorn/TLS server.

Properties: never a 500; a 200 is a well-formed AdmissionReview answer for the request's uid;
anything else is a 400 with a JSON error; a mutation patch applies cleanly with ``jsonpatch``
and the patched object gets no second patch.
"""

from __future__ import annotations

import base64
import json
import uuid

import jsonpatch
import pytest
from conftest_webhook import RESOURCES, Server, TLSFiles
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from oomguard.rules.config import config_from_data
from oomguard.webhook.app import create_app
from oomguard.webhook.review import (
    MAX_DEPTH,
    depth,
    envelope_accepts,
    envelope_check,
    envelope_schema,
    envelope_validator,
)
from test_properties import JUNK, mutated_corpus_objects, workloads

CONFIG = config_from_data(
    {
        "mode": "enforce",
        "defaults": {"memory_request": "256Mi", "memory_limit": "256Mi"},
        "mutate": [
            "memory-limit-missing",
            "memory-request-missing",
            "best-effort-pod",
            "memory-quantity-millibytes",
            "jvm-heap-exceeds-limit",
            "jvm-heap-headroom-low",
            "go-memlimit-exceeds-limit",
            "node-heap-exceeds-limit",
            "dotnet-heap-exceeds-limit",
            "dotnet-heap-percent-ignored",
            "jvm-container-support-disabled",
        ],
    }
)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
OBJECTS = workloads() | mutated_corpus_objects()


@pytest.fixture(scope="module")
def client():
    return create_app(CONFIG).test_client()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("properties")
    srv = Server(folder, TLSFiles(folder / "tls"), {"mode": "enforce", "mutate": []})
    yield srv
    assert srv.stop() == 0


def review(obj, operation: str = "CREATE", old=None) -> dict:
    """An AdmissionReview for any object, even one whose kind or metadata is junk."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    group, version, resource = RESOURCES.get(
        kind if isinstance(kind, str) else "", RESOURCES["Pod"]
    )
    request = {
        "uid": str(uuid.uuid4()),
        "kind": {
            "group": group,
            "version": version,
            "kind": kind if isinstance(kind, str) else "Pod",
        },
        "resource": {"group": group, "version": version, "resource": resource},
        "operation": operation,
        "userInfo": {"username": "system:serviceaccount:ci:deployer"},
        "namespace": "shop",
        "object": obj,
        "oldObject": old,
        "dryRun": False,
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def _post(client, path: str, body: bytes):
    return client.post(path, data=body, headers={"Content-Type": "application/json"})


def _judge(client, obj, operation: str = "CREATE", old=None) -> dict:
    sent = review(obj, operation=operation, old=old)
    answers = {}
    for path in ("/validate", "/mutate"):
        response = _post(client, path, json.dumps(sent).encode())
        assert response.status_code in (200, 400), response.get_data(as_text=True)
        body = response.get_json()
        if response.status_code == 400:
            assert isinstance(body, dict) and body  # {"error": …} or an error AdmissionReview
            answers[path] = None
            continue
        assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
        assert body["response"]["uid"] == sent["request"]["uid"]
        assert isinstance(body["response"]["allowed"], bool)
        for warning in body["response"].get("warnings", []):
            assert len(warning) <= 120 and warning.isprintable()
        answers[path] = body["response"]
    return answers


@SETTINGS
@given(OBJECTS)
def test_any_object_gets_a_well_formed_answer_and_a_patch_that_applies_once(client, obj):
    answers = _judge(client, obj)
    mutation = answers["/mutate"]
    event("patched" if mutation and "patch" in mutation else "not patched")
    if mutation is None or "patch" not in mutation:
        return
    assert mutation["patchType"] == "JSONPatch" and mutation["allowed"] is True
    operations = json.loads(base64.b64decode(mutation["patch"]))
    patched = jsonpatch.apply_patch(obj, operations)  # raises if a path does not exist
    again = _judge(client, patched)["/mutate"]
    assert again is not None and "patch" not in again, (operations, again)


@SETTINGS
@given(OBJECTS, OBJECTS)
def test_updates_between_any_two_objects_are_answered(client, old, new):
    new = {**new, "kind": old.get("kind")}  # an UPDATE keeps its kind
    _judge(client, new, operation="UPDATE", old=old)


@SETTINGS
@given(JUNK)
def test_any_json_value_in_place_of_the_request_is_a_400_or_an_answer(client, value):
    for body in ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": value},
                 value):  # fmt: skip
        response = _post(client, "/validate", json.dumps(body).encode())
        assert response.status_code in (200, 400)
        assert isinstance(response.get_json(), dict)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_are_a_400(client, data):
    response = _post(client, "/validate", data)
    assert response.status_code == 400
    assert "error" in response.get_json() or response.get_json()["response"]["allowed"] is False


# near misses per field of the envelope (besides junk and a missing key)
_NEAR = {
    ("apiVersion",): ["admission.k8s.io/v1beta1", "v1", ""],
    ("kind",): ["admissionreview"],
    ("request",): [{}, []],
    ("request", "uid"): ["", "u", "x" * 128, "x" * 129],
    ("request", "operation"): ["UPDATE", "DELETE", "CONNECT", "create"],
    ("request", "object"): [None, {}, []],
    ("request", "oldObject"): [None, {}, "x"],
    ("request", "dryRun"): [True, 0, "true"],
    ("request", "options"): [None, {}, 1],
    ("request", "userInfo"): [{}, [], None],
    ("request", "name"): ["", 1],
    ("request", "namespace"): ["", None],
    ("request", "subResource"): ["status", None],
    ("request", "requestSubResource"): ["scale", 1],
    **{
        ("request", section, *key): [{}, "x", 1, True]
        for section in ("kind", "resource", "requestKind", "requestResource")
        for key in ((), ("group",), ("version",), ("kind",), ("resource",))
    },
}


@st.composite
def envelopes(draw: st.DrawFn) -> dict:
    """A valid AdmissionReview envelope with up to three fields missing, junk or near misses:
    each keyword of the schema gets exercised on its own."""
    gvk = {"group": "apps", "version": "v1", "kind": "Deployment"}
    gvr = {"group": "apps", "version": "v1", "resource": "deployments"}
    request = {
        "uid": "0f1e",
        "operation": "CREATE",
        "kind": gvk,
        "resource": gvr,
        "requestKind": dict(gvk),
        "requestResource": dict(gvr),
        "name": "n",
        "namespace": "shop",
        "userInfo": {"username": "u"},
        "object": {"kind": "Deployment"},
        "oldObject": None,
        "dryRun": False,
        "options": None,
    }
    envelope = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(sorted(_NEAR)))
        parent = envelope
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["delete", "junk", "near"]))
        if action == "delete":
            parent.pop(path[-1], None)
        else:
            near = st.sampled_from(_NEAR[path])
            parent[path[-1]] = draw(JUNK if action == "junk" else near)
    return envelope


@pytest.fixture(scope="module")
def flask_only():
    """The same app with every request through Flask's dispatch (no ``ReviewFastPath``)."""
    app = create_app(CONFIG)
    app.wsgi_app = app.wsgi_app.flask_wsgi
    return app.test_client()


@SETTINGS
@given(OBJECTS | JUNK, st.sampled_from(["/validate", "/mutate"]), st.booleans())
def test_the_fast_path_answers_as_flask_does(client, flask_only, obj, path, as_review):
    """``POST /validate`` and ``/mutate`` skip Flask's dispatch; the answer (status, headers,
    body) is the one the blueprint's view gives, for reviews and for bodies that are not."""
    body = json.dumps(review(obj) if as_review else obj).encode()
    fast, flask = _post(client, path, body), _post(flask_only, path, body)
    assert fast.status == flask.status
    assert sorted(fast.headers.items()) == sorted(flask.headers.items())
    assert fast.get_data() == flask.get_data()


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(envelopes())
def test_the_fast_envelope_check_agrees_with_jsonschema(envelope):
    """``envelope_accepts`` (the per-review check) reads the schema as jsonschema does: a
    review it passes that jsonschema would refuse would skip the envelope check."""
    accepted = envelope_accepts(envelope_schema(), envelope)
    event("accepted" if accepted else "refused")
    assert accepted == envelope_validator().is_valid(envelope)
    # what parse_review runs: the same reading, compiled once into closures
    assert envelope_check()(envelope) == accepted


def _depth_recursive(value):
    """The nesting depth by its definition (recursive: fine for the sizes generated here)."""
    if isinstance(value, dict):
        return 1 + max(map(_depth_recursive, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth_recursive, value), default=0)
    return 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(JSON_VALUES, st.integers(0, MAX_DEPTH + 3))
def test_the_depth_bound_is_the_nesting_depth(value, wrap):
    """``review.depth`` (level by level, run on every review's object and oldObject) is the
    nesting depth, capped at ``MAX_DEPTH + 1``; deep values come from wrapping small ones."""
    for index in range(wrap):
        value = [value] if index % 2 else {"k": value}
    assert depth(value) == min(_depth_recursive(value), MAX_DEPTH + 1)


def test_the_fast_envelope_check_refuses_a_schema_keyword_it_does_not_read():
    from oomguard.webhook.review import _check_keywords

    schema = json.loads(json.dumps(envelope_schema()))
    _check_keywords(schema)  # the shipped schema: every keyword read
    schema["properties"]["request"]["properties"]["uid"]["pattern"] = "^[a-f0-9-]+$"
    with pytest.raises(ValueError, match="unsupported keyword"):
        _check_keywords(schema)
    schema = json.loads(json.dumps(envelope_schema()))
    schema["properties"]["request"]["properties"]["dryRun"]["enum"] = [True]
    with pytest.raises(ValueError, match="unsupported"):
        _check_keywords(schema)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(OBJECTS)
def test_generated_objects_through_the_real_server(server, obj):
    """The same properties over TLS and gunicorn, for fewer examples."""
    sent = review(obj)
    for path in ("/validate", "/mutate"):
        response = server.post(path, sent)
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            assert response.json()["response"]["uid"] == sent["request"]["uid"]
    assert server.process.poll() is None
    assert "Traceback" not in server.log()
