"""The Flask app of ``oomguard serve``: HTTP in, AdmissionReview out, nothing else.

Request → :func:`~oomguard.webhook.review.parse_review` → the optional cluster look-ups
(:mod:`oomguard.webhook.lookups`: namespace label, ConfigMap data) → the policy in
:mod:`oomguard.rules.admission` → :func:`~oomguard.webhook.review.response_body`; every
review is counted and logged as one JSON line. Any failure that is not the client's fault
follows the failure mode (``on_crash``) instead of becoming an HTTP 500.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from oomguard.rules import admission
from oomguard.rules.admission import ALLOW, Decision, Request
from oomguard.rules.config import Config
from oomguard.rules.text import printable
from oomguard.webhook import metrics
from oomguard.webhook.defaults import MAX_BODY_BYTES, SMALL_REVIEW_BYTES
from oomguard.webhook.lookups import ClusterLookups, ReviewContext
from oomguard.webhook.review import (
    BadReview,
    Review,
    envelope_validator,
    error_body,
    parse_review,
    response_body,
)
from werkzeug.exceptions import ClientDisconnected, HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

LOG = logging.getLogger("oomguard.webhook.reviews")
Policy = Callable[[Request, Config], Decision]

bp = Blueprint("admission", __name__)
# json.dumps(value, separators=(",", ":")) without building a JSONEncoder on every call (the
# encoder keeps no state between calls: one is shared by every thread)
compact_json = json.JSONEncoder(separators=(",", ":")).encode
GATE_WAIT_SECONDS = 2.0  # inside the chart's timeoutSeconds (3 s): a 503 comes before its timeout


class ByteGate:
    """At most ``budget`` bytes of request bodies parsed and judged at once in this process;
    one body alone always passes. Memory grows with the body judged (a parsed 6 MiB review is
    tens of MiB of Python objects), so this bounds a worker's memory by a multiple of the
    cap, not of the cap × threads. Small reviews (:data:`SMALL_REVIEW_BYTES`) never wait:
    they cost little, and one answered on a worker's poller thread must not stall it."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.in_use = 0
        self.cond = threading.Condition()

    def enter(self, size: int, timeout: float) -> bool:
        with self.cond:
            fits = lambda: (  # noqa: E731
                size <= SMALL_REVIEW_BYTES or self.in_use == 0 or self.in_use + size <= self.budget
            )
            if not self.cond.wait_for(fits, timeout):
                return False
            self.in_use += size
            return True

    def leave(self, size: int) -> None:
        with self.cond:
            self.in_use -= size
            self.cond.notify_all()


def create_app(
    config: Config, *, on_crash: str = ALLOW, max_body_bytes: int = MAX_BODY_BYTES
) -> Flask:
    """The webhook app for one config. ``on_crash``: ``allow`` or ``deny`` when a rule or
    oomguard itself fails on an object."""
    app = Flask("oomguard.webhook")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    _configure_log()
    lookups = ClusterLookups(config, on_error=_log_lookup_error)
    app.extensions["oomguard"] = {
        "config": config,
        "on_crash": on_crash,
        "lookups": lookups,
        "gate": ByteGate(max_body_bytes),
    }
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.wsgi_app = ReviewFastPath(app, app.wsgi_app)  # type: ignore[method-assign]
    envelope_validator()  # compile the schema now, not on the first review
    return app


@bp.post("/validate")
def validate() -> Response:
    return _admit_flask("validate", admission.validate)


@bp.post("/mutate")
def mutate() -> Response:
    return _admit_flask("mutate", admission.mutate)


@bp.get("/healthz")
def healthz() -> Response:
    return _json({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    return _json({"status": "ready"})


@bp.get("/metrics")
def metrics_page() -> Response:
    text, content_type = metrics.render()
    return Response(text, content_type=content_type)


REVIEW_ROUTES: dict[str, tuple[str, Policy]] = {
    "/validate": ("validate", admission.validate),
    "/mutate": ("mutate", admission.mutate),
}


class ReviewFastPath:
    """WSGI middleware: a plain ``POST /validate`` or ``/mutate`` with a ``Content-Length``
    within the cap goes straight to :func:`_admit`, the same function the blueprint's views
    call, without Flask's request dispatch (~100 µs of a ~1 ms review). Anything else (other
    paths and methods, chunked or oversized bodies: 404, 405, 413) goes to Flask as before,
    so the answers are the same byte for byte."""

    def __init__(self, app: Flask, flask_wsgi: Callable[..., Any]) -> None:
        self.app = app
        self.flask_wsgi = flask_wsgi

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        route = REVIEW_ROUTES.get(environ.get("PATH_INFO", ""))
        length = _plain_length(environ.get("CONTENT_LENGTH"))
        limit = self.app.config["MAX_CONTENT_LENGTH"]
        if (
            route is None
            or environ.get("REQUEST_METHOD") != "POST"
            or "HTTP_TRANSFER_ENCODING" in environ
            or length is None
            or length > limit
        ):
            return self.flask_wsgi(environ, start_response)
        endpoint, policy = route
        settings = self.app.extensions["oomguard"]
        read_body = lambda: _read_exactly(environ["wsgi.input"], length)  # noqa: E731
        try:
            answer = _admit(
                endpoint, policy, settings, environ.get("CONTENT_TYPE"), length, limit, read_body
            )
            return answer.wsgi(start_response)
        except ClientDisconnected as error:  # what werkzeug raises for a short body
            response = _http_error(error)
        except Exception:  # Flask's answer to an unhandled exception: logged, a JSON 500
            self.app.logger.exception(
                f"Exception on {environ.get('PATH_INFO')} [{environ.get('REQUEST_METHOD')}]"
            )
            response = _http_error(InternalServerError())
        return response(environ, start_response)


def answers_without_waiting(app: Any, length: int) -> bool:
    """Whether a review of ``length`` bytes would be judged without waiting on anything: no
    look-up that can wait on the API server (:meth:`ClusterLookups.may_wait`) and room in the
    body gate. The worker then answers it on its poller thread (``worker.py``); an app that
    is not this one never."""
    settings = getattr(app, "extensions", {}).get("oomguard")
    if settings is None or settings["lookups"].may_wait():
        return False
    gate = settings["gate"]
    return gate.in_use + length <= gate.budget


def _plain_length(text: str | None) -> int | None:
    """``Content-Length`` as digits only, else None (Flask then reads the header its way)."""
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None


def _read_exactly(stream: Any, length: int) -> bytes:
    data = stream.read(length)
    if len(data) < length:
        raise ClientDisconnected()
    return data


def _admit_flask(endpoint: str, policy: Policy) -> Response:
    """The blueprint's way in (chunked bodies, and the app without :class:`ReviewFastPath`)."""
    answer = _admit(
        endpoint,
        policy,
        current_app.extensions["oomguard"],
        request.content_type,
        request.content_length,
        current_app.config["MAX_CONTENT_LENGTH"],
        lambda: request.get_data(cache=False),
    )
    return Response(answer.body, answer.status, mimetype="application/json")


def _admit(
    endpoint: str,
    policy: Policy,
    settings: dict[str, Any],
    content_type: str | None,
    length: int | None,
    limit: int,
    read_body: Callable[[], bytes],
) -> Answer:
    started = time.perf_counter()
    # the worker has read the whole body by now; a chunked one counts as the full cap
    size = length if length is not None else limit
    if not settings["gate"].enter(size, GATE_WAIT_SECONDS):
        metrics.ERRORS.labels(endpoint, "busy").inc()
        _log_error(endpoint, "busy", "large reviews in progress; try again", None, started)
        return Answer.of({"error": "large reviews in progress; try again"}, 503)
    try:
        return _admit_body(endpoint, policy, settings, content_type, read_body, started)
    finally:
        settings["gate"].leave(size)


def _admit_body(
    endpoint: str,
    policy: Policy,
    settings: dict[str, Any],
    content_type: str | None,
    read_body: Callable[[], bytes],
    started: float,
) -> Answer:
    try:
        body = read_body()
        review = parse_review(body, content_type, settings["on_crash"])
    except BadReview as error:
        metrics.ERRORS.labels(endpoint, "bad_request").inc()
        _log_error(endpoint, "bad_request", str(error), error.uid, started)
        return Answer.of(error_body(error), 400)
    context = ReviewContext()
    internal = False
    try:
        context = settings["lookups"].for_review(review.request.namespace)
        judged = dataclasses.replace(
            review.request,
            namespace_label=context.namespace_label,
            lookup=context.lookup,
            limit_ranges=context.limit_ranges,
            vpas=context.vpas,
        )
        decision = policy(judged, settings["config"])
    except Exception as exc:  # a bug outside the rules: never a 500 to the API server
        internal = True
        decision = _failure_decision(review, context, settings["config"], exc)
    elapsed = time.perf_counter() - started
    fallbacks = context.fallbacks
    _record(endpoint, review, decision, elapsed, fallbacks, internal=internal)
    return Answer.of(response_body(review, decision))


def _failure_decision(
    review: Review, context: ReviewContext, config: Config, exc: Exception
) -> Decision:
    """The failure policy of :func:`oomguard.rules.admission.failed` (``on_crash`` is the
    request's, set when the review was parsed)."""
    request = dataclasses.replace(review.request, namespace_label=context.namespace_label)
    return admission.failed(request, config, f"oomguard failed: {type(exc).__name__}")


def _record(
    endpoint: str,
    review: Review,
    decision: Decision,
    elapsed: float,
    fallbacks: list[tuple[str, str]],
    *,
    internal: bool = False,
) -> None:
    """Count the review in the metrics and log it as one JSON line. A failure outside the
    rules (``internal``) is counted once, as ``internal``, not also as ``rule_crash``."""
    child = metrics.child
    dry_run = "true" if review.dry_run else "false"
    child(metrics.REVIEWS, endpoint, decision.mode, decision.result, dry_run).inc()
    for finding in decision.findings:
        child(metrics.FINDINGS, endpoint, decision.mode, finding.rule, finding.severity).inc()
    if decision.crashes:
        reason = "internal" if internal else "rule_crash"
        child(metrics.ERRORS, endpoint, reason).inc(len(decision.crashes))
    for lookup, _reason in fallbacks:
        child(metrics.LOOKUP_FALLBACKS, endpoint, lookup).inc()
    child(metrics.LATENCY, endpoint).observe(elapsed)

    record: dict[str, Any] = {
        "event": "admission",
        "endpoint": endpoint,
        "uid": review.uid,
        "kind": review.resource_kind,
        "namespace": review.request.namespace,
        "name": review.name,
        "operation": review.request.operation,
        "user": review.user,
        "dry_run": review.dry_run,
        "mode": decision.mode,
        "decision": decision.result,
        "allowed": decision.allowed,
        "rules": decision.rules,
        "warnings": len(decision.warnings),
        "patch_ops": len(decision.patch),
        "latency_ms": round(elapsed * 1000, 3),
    }
    if decision.owner:
        record["owner"] = printable(decision.owner)  # judged at this controller
    if decision.crashes:
        record["crashes"] = list(decision.crashes)
    if fallbacks:
        record["lookup_fallbacks"] = [f"{lookup}: {reason}" for lookup, reason in fallbacks]
    _log_line(logging.INFO, compact_json(record))


def _log_line(level: int, line: str) -> None:
    """``LOG.log(level, line)``, written straight to the stream when the log is as
    :func:`_configure_log` set it up (one :class:`_LineHandler`, the bare message, no
    filters): the same line for ~2 µs instead of ~19 µs of record building, caller lookup
    and formatting. Anything else (a handler added, a level raised) goes through logging."""
    handlers = LOG.handlers
    handler = handlers[0] if len(handlers) == 1 else None
    if (
        type(handler) is not _LineHandler
        or LOG.filters
        or handler.filters
        or not LOG.isEnabledFor(level)
        or level < handler.level
    ):
        LOG.log(level, line)
        return
    with handler.lock:
        try:
            handler.stream.write(line + "\n")
            handler.stream.flush()
        except Exception:  # as StreamHandler.emit: logging reports it, the review goes on
            LOG.log(level, line)


class _LineHandler(logging.StreamHandler):
    """The review log's handler: one message per line, nothing added."""


def _log_error(endpoint: str, reason: str, message: str, uid: str | None, started: float) -> None:
    record = {
        "event": "admission_error",
        "endpoint": endpoint,
        "reason": reason,
        "uid": uid,
        "message": message,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    LOG.warning(json.dumps(record, separators=(",", ":")))


def log_event(event: str, **fields: Any) -> None:
    """One structured warning line in the review log (json.dumps escapes control
    characters; strings quoted from clients are also made printable)."""
    record = {"event": event}
    record |= {k: printable(v) if isinstance(v, str) else v for k, v in fields.items()}
    LOG.warning(json.dumps(record, separators=(",", ":")))


def _log_lookup_error(message: str) -> None:
    LOG.warning(json.dumps({"event": "lookup_error", "message": message}, separators=(",", ":")))


def _http_error(error: HTTPException) -> Response:
    """404, 405, 413 …: a JSON body instead of Flask's HTML page."""
    code = error.code or 400
    if code == 413:
        endpoint = request.path.strip("/") or "-"
        metrics.ERRORS.labels(endpoint, "body_too_large").inc()
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        _log_error(
            endpoint, "body_too_large", f"body over {limit} bytes", None, time.perf_counter()
        )
        return _json({"error": f"request body is larger than {limit} bytes"}, 413)
    return _json({"error": error.description or error.name}, code)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, mimetype="application/json")


@dataclasses.dataclass(frozen=True)
class Answer:
    """A JSON answer: what :func:`_admit` returns to either way in. The fast path sends it
    without building a werkzeug ``Response`` (~30 µs); the status line and headers are the
    ones that ``Response(body, status, mimetype="application/json")`` sends."""

    status: int
    body: bytes

    @classmethod
    def of(cls, body: dict[str, Any], status: int = 200) -> Answer:
        return cls(status, compact_json(body).encode())

    def wsgi(self, start_response: Callable[..., Any]) -> list[bytes]:
        start_response(
            f"{self.status} {HTTP_STATUS_CODES[self.status].upper()}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))],
        )
        return [self.body]


def _configure_log() -> None:
    if LOG.handlers:
        return
    handler = _LineHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
