"""The serve hot path's shortcuts say exactly what the stock parts say.

``OneWriteResponse`` (webhook/worker.py) replaces gunicorn's ``Response`` in the worker to send
status line, headers and body in one write; ``_log_line`` (webhook/app.py) writes the review
log line without building a LogRecord. Both are compared here with the stock code on the same
input (gunicorn 27's ``gunicorn.http.wsgi.Response``, Python's ``logging``), byte for byte. The
real server's answers are covered by tests/test_webhook.py.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from gunicorn.http import wsgi
from oomguard.webhook import app as app_module
from oomguard.webhook import metrics, worker


class RecordingSocket:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))


class FakeRequest:
    version = (1, 1)
    method = "POST"

    def __init__(self, close: bool = False) -> None:
        self.close = close

    def should_close(self) -> bool:
        return self.close


class FakeConfig:
    sendfile = False
    is_ssl = True


def _send(response_class, status, headers, body_items, close=False):
    sock = RecordingSocket()
    response = response_class(FakeRequest(close), sock, FakeConfig())
    response.start_response(status, headers)
    for item in body_items:
        response.write(item)
    response.close()
    return sock.writes


@pytest.fixture
def frozen_clock(monkeypatch):
    # both classes format the same second: gunicorn's util.http_date and the cached one
    monkeypatch.setattr("time.time", lambda: 1_764_550_000.25)
    worker.OneWriteResponse._date = (0, "")


@pytest.mark.parametrize(
    ("status", "headers", "items", "close"),
    [
        (
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", "13")],
            [b'{"allowed":1}'],
            False,
        ),
        (
            "400 BAD REQUEST",
            [("Content-Type", "application/json"), ("Content-Length", "2")],
            [b"{}"],
            True,
        ),
        ("200 OK", [("Content-Type", "text/plain")], [b"a", b"bc"], False),  # chunked
        ("204 NO CONTENT", [], [], False),
        ("200 OK", [("Content-Length", "0")], [b""], False),
    ],
)
def test_one_write_response_sends_gunicorns_bytes(frozen_clock, status, headers, items, close):
    stock = _send(wsgi.Response, status, headers, items, close)
    ours = _send(worker.OneWriteResponse, status, headers, items, close)
    assert b"".join(ours) == b"".join(stock)
    assert b"Date: Mon, 01 Dec 2025 00:46:40 GMT\r\n" in b"".join(ours)


def test_one_write_response_sends_headers_and_a_body_in_one_write(frozen_clock):
    headers = [("Content-Type", "application/json"), ("Content-Length", "13")]
    stock = _send(wsgi.Response, "200 OK", headers, [b'{"allowed":1}'])
    ours = _send(worker.OneWriteResponse, "200 OK", headers, [b'{"allowed":1}'])
    assert len(stock) == 2  # gunicorn: headers, then the body
    assert len(ours) == 1


def test_the_date_header_follows_the_clock(monkeypatch):
    worker.OneWriteResponse._date = (0, "")
    headers = [("Content-Length", "0")]
    monkeypatch.setattr("time.time", lambda: 1_764_550_000.9)
    first = b"".join(_send(worker.OneWriteResponse, "200 OK", headers, [b""]))
    monkeypatch.setattr("time.time", lambda: 1_764_550_001.1)
    second = b"".join(_send(worker.OneWriteResponse, "200 OK", headers, [b""]))
    assert b"00:46:40 GMT" in first and b"00:46:41 GMT" in second


@pytest.fixture
def review_log():
    before = app_module.LOG.level
    app_module.LOG.setLevel(logging.INFO)  # as serve's _configure_log sets it
    yield app_module.LOG
    app_module.LOG.setLevel(before)


def test_the_review_log_line_is_what_logging_writes(monkeypatch, review_log):
    line = '{"event":"admission","uid":"u-1","name":"caf\\u00e9"}'
    stream = io.StringIO()
    handler = app_module._LineHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    monkeypatch.setattr(app_module.LOG, "handlers", [handler])
    app_module._log_line(logging.INFO, line)
    app_module.LOG.log(logging.INFO, line)  # the stock way, same handler
    first, second = stream.getvalue().splitlines()
    assert first == second == line


def test_the_review_log_goes_through_logging_when_configured_otherwise(monkeypatch, review_log):
    """An added handler (or filter, or a raised level) is honoured: the shortcut is taken
    only for the log exactly as serve sets it up."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    stream = io.StringIO()
    ours = app_module._LineHandler(stream)
    ours.setFormatter(logging.Formatter("%(message)s"))
    monkeypatch.setattr(app_module.LOG, "handlers", [ours, Keep()])
    app_module._log_line(logging.INFO, "x")
    assert [r.getMessage() for r in records] == ["x"] and stream.getvalue() == "x\n"
    monkeypatch.setattr(app_module.LOG, "handlers", [ours])
    ours.setLevel(logging.WARNING)
    app_module._log_line(logging.INFO, "quiet")
    assert stream.getvalue() == "x\n"


def test_the_heartbeat_is_written_once_a_second_not_on_every_loop_turn(monkeypatch):
    """gthread calls notify() on every turn of its loop (about once per request under load);
    each was a utime system call. The master kills a worker after ``timeout`` (30 s) without
    one, so once a second is plenty."""
    beats: list[float] = []

    class Tmp:
        def notify(self) -> None:
            beats.append(clock[0])

    clock = [100.0]
    monkeypatch.setattr(worker.time, "monotonic", lambda: clock[0])
    bounded = object.__new__(worker.BoundedThreadWorker)
    bounded.tmp, bounded.notified = Tmp(), 0.0
    for step in range(30):  # 30 loop turns over 1.5 s
        clock[0] = 100.0 + step * 0.05
        bounded.notify()
    assert beats == [100.0, 101.0]


@pytest.mark.parametrize(
    "value",
    [
        {"uid": "a", "allowed": True, "warnings": ["x\u00e9\x1b[31m\u2028", "\ud800"]},
        {"n": [1, 2.5, -0.0, 1e300, float("inf"), None, False], "": {"nested": {}}},
        ["top", "level", 3],
        "text",
    ],
)
def test_compact_json_is_json_dumps_with_compact_separators(value):
    """The shared encoder of the log line and the answers writes what ``json.dumps`` writes
    (ASCII only, control characters escaped, the same separators)."""
    assert app_module.compact_json(value) == json.dumps(value, separators=(",", ":"))


def test_remembered_metric_children_are_prometheus_own():
    """``metrics.child`` hands back the object ``labels`` does, so a count made through it is
    the count prometheus exports; past ``CHILDREN_REMEMBERED`` it still answers."""
    found = metrics.child(metrics.ERRORS, "validate", "test-child")
    assert found is metrics.ERRORS.labels("validate", "test-child")
    assert metrics.child(metrics.ERRORS, "validate", "test-child") is found
    before = found._value.get()
    metrics.child(metrics.ERRORS, "validate", "test-child").inc()
    assert metrics.ERRORS.labels("validate", "test-child")._value.get() == before + 1
    remembered = dict(metrics._CHILDREN)
    try:
        metrics._CHILDREN.update({(object(), str(i)): None for i in range(5000)})
        other = metrics.child(metrics.ERRORS, "mutate", "test-child-full")
        assert other is metrics.ERRORS.labels("mutate", "test-child-full")
        assert (metrics.ERRORS, "mutate", "test-child-full") not in metrics._CHILDREN
    finally:
        metrics._CHILDREN.clear()
        metrics._CHILDREN.update(remembered)
