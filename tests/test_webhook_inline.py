"""The worker's inline path (``webhook/worker.py``): a whole small request on a kept-alive
connection is answered on the worker's poller thread instead of a pool thread. These tests
run a real ``oomguard serve`` over TLS and speak HTTP/1.1 by hand on one connection, so the
first request (a new connection: always a pool thread) and the next ones (kept alive: the
inline path) can be compared byte for byte, and the deadlines and caps checked on the
kept-alive requests. No timing assertions: socket timeouts below are liveness bounds."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import ssl
import threading
import time

import pytest
from conftest_webhook import Server, TLSFiles, container, deployment, review
from oomguard.webhook import worker

GOOD = review(
    deployment(
        "web",
        [
            container("web", limit="512Mi", request="512Mi", env={"GOMEMLIMIT": "400MiB"}),
            container("proxy", limit="128Mi", request="128Mi"),
        ],
    ),
    uid="0f0e0d0c-0b0a-0908-0706-050403020100",
)
BODY = json.dumps(GOOD).encode()
LIVENESS_SECONDS = 10  # a review takes milliseconds; only a hang comes near this


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inline")
    srv = Server(folder, TLSFiles(folder / "tls"), {"mode": "enforce"})
    yield srv
    assert srv.stop() == 0


def _connect(server: Server, timeout: float = LIVENESS_SECONDS) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(server.tls.ca_file))
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _request(body: bytes, path: str = "/validate") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _answer(sock: ssl.SSLSocket) -> bytes:
    """One whole HTTP answer (headers and a Content-Length body), raw."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside an answer"
        rest += chunk
    assert len(rest) == length, "bytes after the answer that nobody asked for"
    return head + b"\r\n\r\n" + rest


def _without_date(answer: bytes) -> bytes:
    return b"\r\n".join(line for line in answer.split(b"\r\n") if not line.startswith(b"Date:"))


def _closed_by_server(sock: ssl.SSLSocket) -> bool:
    """True once the server ends the connection (within the socket's timeout)."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
        return True
    except TimeoutError:
        return False


def test_kept_alive_answers_are_byte_for_byte_those_of_a_pool_thread(server):
    with _connect(server) as sock:
        sock.sendall(_request(BODY))
        first = _answer(sock)  # a new connection: answered on a pool thread
        sock.sendall(_request(BODY))
        second = _answer(sock)  # kept alive, all here: answered on the poller thread
        request = _request(BODY)
        sock.sendall(request[: len(request) - len(BODY) // 2])
        time.sleep(0.3)  # the rest of the body comes later: collected on the poller
        sock.sendall(request[len(request) - len(BODY) // 2 :])
        third = _answer(sock)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: keep-alive\r\n" in first
    assert json.loads(first.partition(b"\r\n\r\n")[2])["response"]["uid"] == GOOD["request"]["uid"]
    assert _without_date(second) == _without_date(first)
    assert _without_date(third) == _without_date(first)


def test_kept_alive_body_that_stalls_is_closed_and_others_are_answered(server):
    deadline = worker.BODY_DEADLINE_SECONDS + LIVENESS_SECONDS
    with _connect(server, timeout=deadline) as sock:
        sock.sendall(_request(BODY))
        _answer(sock)
        request = _request(BODY)
        sock.sendall(request[: len(request) - 10])  # the last 10 bytes never come
        for _ in range(5):  # the stalled body holds no thread: reviews go on
            assert server.post("/validate", GOOD).status_code == 200
        assert _closed_by_server(sock), "a kept-alive connection with a stalled body stayed open"


def test_kept_alive_headers_that_stall_are_closed_at_the_read_deadline(server):
    deadline = worker.READ_DEADLINE_SECONDS + LIVENESS_SECONDS
    with _connect(server, timeout=deadline) as sock:
        sock.sendall(_request(BODY))
        _answer(sock)
        sock.sendall(b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no more
        assert server.post("/validate", GOOD).status_code == 200
        assert _closed_by_server(sock), "a kept-alive connection with stalled headers stayed open"


def test_an_invalid_request_on_a_kept_alive_connection_gets_the_same_400(server):
    bad = b"NOT A REQUEST LINE\r\nHost: x\r\n\r\n"
    with _connect(server) as sock:
        sock.sendall(bad)
        fresh = sock.recv(65536)
    with _connect(server) as sock:
        sock.sendall(_request(BODY))
        _answer(sock)
        sock.sendall(bad)
        kept = sock.recv(65536)
    assert fresh.startswith(b"HTTP/1.1 400 ")
    assert kept.split(b"\r\n", 1)[0] == fresh.split(b"\r\n", 1)[0]


def test_a_kept_alive_review_over_the_inline_size_is_judged_on_the_pool(server):
    large = json.loads(BODY)
    annotations = {f"note-{i}": "x" * 1000 for i in range(worker.INLINE_MAX_BODY // 1000 + 8)}
    large["request"]["object"]["metadata"]["annotations"] = annotations
    body = json.dumps(large).encode()
    assert len(body) > worker.INLINE_MAX_BODY
    with _connect(server) as sock:
        sock.sendall(_request(BODY))
        _answer(sock)
        sock.sendall(_request(body))
        answer = _answer(sock)
        sock.sendall(_request(BODY))  # and the connection goes on
        after = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["response"]["allowed"] is True
    assert after.startswith(b"HTTP/1.1 200 OK\r\n")


def test_pipelined_reviews_are_answered_in_order(server):
    uids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(50)]
    bodies = [BODY.replace(GOOD["request"]["uid"].encode(), uid.encode()) for uid in uids]
    with _connect(server) as sock:
        sock.sendall(_request(BODY))
        _answer(sock)
        sock.sendall(b"".join(_request(body) for body in bodies))
        answered = [json.loads(_answer(sock).partition(b"\r\n\r\n")[2]) for _ in uids]
    assert [a["response"]["uid"] for a in answered] == uids


def test_an_answer_the_kernel_does_not_take_is_held_in_order_and_sent_on_the_pool():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        writer = worker.HeldWrites(ours)
        pieces = [bytes([65 + i % 26]) * 100_000 for i in range(40)]  # far over the buffers
        for piece in pieces:
            writer.sendall(piece)
        assert writer.pending, "4 MB went into a socket nobody reads: some must be held"
        received = bytearray()

        def read_all() -> None:
            theirs.settimeout(LIVENESS_SECONDS)
            while len(received) < sum(map(len, pieces)):
                chunk = theirs.recv(1 << 20)
                if not chunk:
                    return
                received.extend(chunk)

        reader = threading.Thread(target=read_all)
        reader.start()
        conn = type("Conn", (), {"sock": ours})()
        assert worker._send_rest(conn, b"".join(writer.pending), True) is True
        reader.join(LIVENESS_SECONDS)
    assert bytes(received) == b"".join(pieces)


def test_only_reviews_that_cannot_wait_are_answered_inline():
    from oomguard.rules.config import DEFAULT_CONFIG
    from oomguard.webhook.app import answers_without_waiting, create_app

    plain = create_app(DEFAULT_CONFIG)
    assert answers_without_waiting(plain, len(BODY)) is True
    with_configmaps = create_app(dataclasses.replace(DEFAULT_CONFIG, lookup_configmaps=True))
    assert answers_without_waiting(with_configmaps, len(BODY)) is False  # reads can wait
    with_labels = create_app(dataclasses.replace(DEFAULT_CONFIG, lookup_namespace_labels=True))
    assert answers_without_waiting(with_labels, len(BODY)) is False  # not started: connects
    gate = plain.extensions["oomguard"]["gate"]
    gate.in_use = gate.budget  # a large review is being judged: a new one would wait
    assert answers_without_waiting(plain, len(BODY)) is False
    assert answers_without_waiting(object(), len(BODY)) is False  # not this app


def test_the_remembered_peer_check_answers_as_gunicorns(monkeypatch):
    import ipaddress

    from gunicorn.http import message

    monkeypatch.setattr(worker, "_PEERS", {})
    cases = [
        ("127.0.0.1", ["127.0.0.1", "::1"]),
        ("10.1.2.3", ["127.0.0.1", "::1"]),
        ("10.1.2.3", ["10.0.0.0/8"]),
        ("::1", ["127.0.0.1", "::1"]),
        ("not an address", ["127.0.0.1"]),
        ("192.0.2.7", ["*"]),
    ]
    for _ in range(2):  # the second round is answered from memory
        for peer, allowed in cases:
            networks = [ipaddress.ip_network(a) for a in allowed if a != "*"]
            expected = message._ip_in_allow_list(peer, allowed, networks)
            assert worker._allowed_peer(peer, allowed, networks) is expected, (peer, allowed)
    assert len(worker._PEERS) == len(cases)
    monkeypatch.setattr(worker, "PEERS_REMEMBERED", len(cases))
    assert worker._allowed_peer("10.9.9.9", ["10.0.0.0/8"], [ipaddress.ip_network("10.0.0.0/8")])
    assert len(worker._PEERS) == len(cases)  # bounded: answered, not remembered


def test_the_server_keeps_gunicorns_python_parser_even_when_h1c_is_installed(monkeypatch):
    """The worker's deadlines, body bounds and inline answers read the pure-Python parser's
    buffer, so ``oomguard serve`` sets ``http_parser = "python"``: gunicorn's default
    ("auto") switches to the optional ``gunicorn_h1c`` extension wherever it is installed
    (gunicorn/http/message.py ``_check_fast_parser``). A stand-in module plays h1c here
    (nothing is compiled on this machine), named so."""
    import argparse
    import sys
    import types

    from gunicorn.config import Config
    from gunicorn.http import message
    from oomguard.webhook.server import gunicorn_options

    stand_in_h1c = types.ModuleType("gunicorn_h1c")
    stand_in_h1c.LimitRequestLine = object  # what gunicorn checks for h1c >= 0.4.1
    monkeypatch.setitem(sys.modules, "gunicorn_h1c", stand_in_h1c)
    monkeypatch.setattr(message, "_fast_parser_available", None)
    args = argparse.Namespace(host="0.0.0.0", port=8443, workers=1, threads=2, cert="c", key="k")
    store = types.SimpleNamespace(gunicorn_hook=None)

    def parser_in_use(options: dict) -> bool:
        cfg = Config()
        for key in ("http_parser", "worker_class", "threads"):
            if key in options:
                cfg.set(key, options[key])
        return message._check_fast_parser(cfg)

    options = gunicorn_options(args, store)
    assert options["http_parser"] == "python"
    assert parser_in_use(options) is False
    # the control: with gunicorn's default the stand-in would be used
    assert parser_in_use({k: v for k, v in options.items() if k != "http_parser"}) is True


def test_a_small_review_never_waits_at_the_byte_gate():
    """Regression (review of the inline path): the poller checked for room in the gate, then a
    large review waiting on a pool thread could take that room first, and the poller's
    ``enter`` waited up to GATE_WAIT_SECONDS with the whole worker stalled. A review of at
    most SMALL_REVIEW_BYTES now passes a full gate at once; a larger one still waits."""
    from oomguard.webhook.app import ByteGate
    from oomguard.webhook.defaults import SMALL_REVIEW_BYTES

    gate = ByteGate(budget=4 * 1024 * 1024)
    assert gate.enter(4 * 1024 * 1024, timeout=0)  # a large review fills the gate
    assert gate.enter(SMALL_REVIEW_BYTES, timeout=0)
    assert not gate.enter(SMALL_REVIEW_BYTES + 1, timeout=0)
    gate.leave(SMALL_REVIEW_BYTES)
    gate.leave(4 * 1024 * 1024)
    assert gate.in_use == 0


def test_the_poller_reads_ahead_at_most_one_inline_request(monkeypatch):
    """Regression (review of the inline path): the poller's read-ahead was up to ~576 KiB per
    connection (READ_CHUNK past the limit), kept in the parser's buffer, outside the body
    budget, while the connection queued for a pool thread. It is now at most limit + 1."""
    reader, writer = socket.socketpair()
    try:
        writer.setblocking(False)
        sent = 0
        with contextlib.suppress(BlockingIOError):  # fill the pair's buffer, never block
            while sent < worker.INLINE_MAX_BODY * 4:
                sent += writer.send(b"x" * 65536)
        assert sent > worker.INLINE_MAX_BODY + 1  # enough arrived to read past the limit
        reader.setblocking(False)
        data, ended = worker.recv_available(reader, worker.INLINE_MAX_BODY)
        assert len(data) == worker.INLINE_MAX_BODY + 1 and not ended
    finally:
        reader.close()
        writer.close()
