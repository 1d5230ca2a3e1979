"""Abuse of a real ``oomguard serve`` (gunicorn, TLS, default workers and threads): clients that
stall (slowloris), a flood of malformed requests beside good ones, and memory over many
requests. Every good review must be answered (200, within the client's 10 s timeout, which
only a thread held for ever can exceed) and the server must stay up. How *fast* they are
answered under the same abuse is measured in ``bench/webhook_load.py --abuse``, not here:
latency depends on the machine's load and is no pass/fail criterion."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest_webhook import Server, TLSFiles, container, deployment, review

GOOD = review(
    deployment(
        "web",
        [
            container("web", limit="512Mi", request="512Mi", env={"GOMEMLIMIT": "400MiB"}),
            container("proxy", limit="128Mi", request="128Mi"),
            container("log-shipper", limit="128Mi", request="16Mi"),
        ],
    )
)
MALFORMED = [
    b"{not json",
    b"[]",
    json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
    json.dumps({**GOOD, "request": {**GOOD["request"], "object": "a string"}}).encode(),
    b"[" * 5000 + b"]" * 5000,
    b"\xff\xfe\x00garbage",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("abuse")
    srv = Server(folder, TLSFiles(folder / "tls"), {"mode": "enforce"})
    yield srv
    assert srv.stop() == 0


def _good_reviews(server: Server, count: int, pause: float = 0.0) -> int:
    """Send ``count`` good reviews one after another; each must be answered 200 and allowed
    within ``Server.post``'s 10 s timeout (a liveness bound: a review takes milliseconds, a
    thread held by a staller for ever would exceed it). Returns how many were answered."""
    answered = 0
    for _ in range(count):
        response = server.post("/validate", GOOD)
        assert response.status_code == 200
        assert response.json()["response"]["allowed"] is True
        answered += 1
        time.sleep(pause)
    return answered


class Stallers:
    """Clients that connect and never finish a request, in the three classic ways."""

    def __init__(self, server: Server, per_kind: int):
        self.port = server.port
        self.ca = str(server.tls.ca_file)
        self.sockets: list[socket.socket] = []
        self.stop = threading.Event()
        self.threads = []
        for _ in range(per_kind):
            self.sockets.append(socket.create_connection(("127.0.0.1", self.port)))  # silent
            half_hello = socket.create_connection(("127.0.0.1", self.port))
            half_hello.sendall(b"\x16\x03\x01\x00")  # the first bytes of a TLS ClientHello
            self.sockets.append(half_hello)
            thread = threading.Thread(target=self._trickle, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _trickle(self) -> None:
        """Complete TLS, then send headers one byte per 200 ms; reconnect when cut off."""
        context = ssl.create_default_context(cafile=self.ca)
        while not self.stop.is_set():
            try:
                with context.wrap_socket(
                    socket.create_connection(("127.0.0.1", self.port)),
                    server_hostname="127.0.0.1",
                ) as tls:
                    for byte in b"POST /validate HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
                        if self.stop.is_set():
                            return
                        tls.sendall(bytes([byte]))
                        time.sleep(0.2)
            except OSError:
                time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        for sock in self.sockets:
            sock.close()
        for thread in self.threads:
            thread.join(5)


def test_stalling_clients_do_not_starve_good_reviews(server):
    # 9 stallers, 3 of each kind; 6 of them hold a thread until cut off. Even if one of the 2
    # workers accepted all 6, it has 8 threads: the API server's requests still find one free.
    stallers = Stallers(server, per_kind=3)
    try:
        time.sleep(0.5)
        answered = _good_reviews(server, 60, pause=0.05)  # 3 s: the trickles get cut, retry
    finally:
        stallers.close()
    assert answered == 60 and server.process.poll() is None


def test_many_stalling_clients_delay_good_reviews_by_the_deadline_at_most(server):
    stallers = Stallers(server, per_kind=10)  # 30: more than the server has threads
    try:
        time.sleep(0.5)
        answered = _good_reviews(server, 30, pause=0.05)
    finally:
        stallers.close()
    # the read deadline (1 s, checked once a second) frees a thread within ~2 s; without it
    # the 30 stallers would hold every thread and a review would wait past its 10 s timeout
    assert answered == 30
    assert _good_reviews(server, 5) == 5 and server.process.poll() is None


def test_malformed_flood_keeps_good_reviews_answered(server):
    stop = threading.Event()
    sent: list[object] = []  # each malformed request's status code, or the exception it raised

    def flood() -> None:
        with requests.Session() as session:
            session.verify = str(server.tls.ca_file)
            session.trust_env = False  # REQUESTS_CA_BUNDLE would replace verify
            index = 0
            while not stop.is_set():
                body = MALFORMED[index % len(MALFORMED)]
                try:
                    answer = session.post(
                        server.url + "/validate",
                        data=body,
                        headers={"Content-Type": "application/json"},
                        timeout=10,
                    )
                    sent.append(answer.status_code)
                except requests.RequestException as exc:
                    sent.append(type(exc).__name__)
                index += 1
                time.sleep(0.004)  # ~200/s per flooder, beside the good reviews

    flooders = [threading.Thread(target=flood, daemon=True) for _ in range(2)]
    for thread in flooders:
        thread.start()
    try:
        time.sleep(0.3)
        answered = _good_reviews(server, 300, pause=0.005)
    finally:
        stop.set()
        for thread in flooders:
            thread.join(10)
    assert answered == 300
    # the flood really ran beside the good reviews, and every malformed request got its 400
    assert len(sent) > 50, f"the flood only sent {len(sent)} requests"
    assert set(sent) == {400}
    assert server.process.poll() is None
    # latency in the flood: bench/webhook_load.py --abuse malformed


def _workers_rss_kib(server: Server) -> int:
    """RSS of the master and its workers, from /proc."""
    master = server.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in [master, *map(int, children)]:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def test_memory_does_not_grow_over_thousands_of_requests(server):
    with requests.Session() as session:
        session.verify = str(server.tls.ca_file)
        session.trust_env = False

        def burst(count: int) -> None:
            for index in range(count):
                body = MALFORMED[index % len(MALFORMED)] if index % 2 else json.dumps(GOOD)
                session.post(
                    server.url + "/validate",
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=10,
                )

        burst(1000)  # warm: caches, allocator arenas, metrics files
        before = _workers_rss_kib(server)
        burst(3000)
        after = _workers_rss_kib(server)
    assert after - before < 8 * 1024, (
        f"RSS grew {(after - before) / 1024:.1f} MiB in 3,000 requests"
    )


def test_a_connection_is_closed_after_200_reviews_so_clients_spread_over_workers(server):
    context = ssl.create_default_context(cafile=str(server.tls.ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
    body = json.dumps(GOOD)
    closing = []
    for _ in range(201):
        conn.request("POST", "/validate", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        closing.append(response.getheader("Connection"))
    conn.close()
    # the 200th answer says close; http.client reconnects for the 201st by itself
    assert [i for i, value in enumerate(closing, 1) if value == "close"] == [200]


class SlowBodies:
    """Clients that send whole headers with ``Content-Length: 1000000`` and a byte of body,
    then stall (issue 12: 16 of them held every thread for as long as they liked). Each
    reconnects when the server closes it, until stopped."""

    def __init__(self, server: Server, count: int):
        self.port, self.ca = server.port, str(server.tls.ca_file)
        self.stop = threading.Event()
        self.connected = 0
        self.closed_by_server = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        context = ssl.create_default_context(cafile=self.ca)
        while not self.stop.is_set():
            try:
                with context.wrap_socket(
                    socket.create_connection(("127.0.0.1", self.port), timeout=30),
                    server_hostname="127.0.0.1",
                ) as tls:
                    tls.sendall(
                        b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                        b"\r\nContent-Length: 1000000\r\n\r\n{"
                    )
                    self.connected += 1
                    tls.settimeout(0.5)
                    while not self.stop.is_set():
                        try:
                            if not tls.recv(1024):
                                self.closed_by_server += 1
                                break
                        except TimeoutError:
                            continue
            except OSError:
                self.stop.wait(0.05)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)


def test_slow_bodies_do_not_hold_threads(server):
    # 50 slow bodies against 16 threads (2 workers x 8). Bodies are read without holding a
    # thread while the client is silent, so reviews and /healthz are answered meanwhile.
    slow = SlowBodies(server, 50)
    try:
        deadline = time.monotonic() + 10
        while slow.connected < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(20):
            assert _good_reviews(server, 1) == 1
            health = server.session.get(server.url + "/healthz", timeout=10)
            assert health.status_code == 200
            time.sleep(0.05)
        assert slow.connected >= 50  # every slow client got its connection and headers in
        assert server.process.poll() is None
    finally:
        slow.close()
