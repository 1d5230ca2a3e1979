"""gunicorn's ``gthread`` worker with bounds on slow clients (slowloris) and slow bodies.

A stock ``gthread`` worker gives each new connection a thread that waits up to 5 s for its
first bytes, and once bytes arrive, reads the TLS handshake, the request headers and the body
with no deadline. A handful of clients that connect and then send nothing, trickle a byte at a
time, or send whole headers with ``Content-Length: 1000000`` and then stall hold every thread of
a worker, and the API server's reviews (and ``/healthz``) queue behind them. The changes:

* **Idle connections go back to the poller at once** (:data:`FIRST_BYTES_WAIT_SECONDS`
  instead of 5 s): waiting for a client costs no thread.
* **Headers**: a connection gets :data:`READ_DEADLINE_SECONDS` from the moment a thread takes
  it until its request headers are parsed, handshake included; past that the worker shuts the
  socket down, which ends the blocked read at once. The worker's main loop checks once a
  second, so such a client holds a thread 1–2 s at most.
* **Bodies are read without holding a thread while the client is silent**: once the headers
  are in, the thread reads whatever body bytes have arrived without blocking and, if the body
  is not complete, gives the connection back to the poller (gthread's ``_DEFER``) until more
  bytes come. The app is called only with the whole body in memory, so it never blocks on the
  client. A body must be complete within :data:`BODY_DEADLINE_SECONDS` of its headers (the
  total deadline of one request; the API server gives up after the webhook's
  ``timeoutSeconds``, at most 30 s, anyway); past that the connection is closed.
* **Memory**: a body over the app's cap is never kept (with ``Content-Length`` over the cap
  the body is read and dropped, up to :data:`DISCARD_LIMIT_BODIES` × the cap, so the client
  sees the app's 413 rather than a reset; a chunked body is kept until it passes the cap, then
  answered 413 the same way; the connection is closed after either), and the bytes of
  unfinished bodies held by one worker are limited to :data:`BUFFER_BUDGET_BODIES` × the cap;
  a request that would pass that is answered 503 and its connection closed, so stalled
  near-complete bodies cannot add up to unbounded memory.

**Kept-alive requests are answered on the poller thread** when they are all here and
small (:data:`INLINE_MAX_BODY`) and the app says the review cannot wait (no ConfigMap
look-up, room in its byte gate): no future, queue, pipe write, thread switches or poller
changes per request. The socket stays non-blocking there; a body arriving in pieces is
collected on the poller under the same deadline and budget; an answer the kernel does not
take at once is finished on a pool thread (:class:`HeldWrites`); anything else goes to the
pool already parsed (:class:`ParsedOnce`), where gthread's handling takes over.

And two for load balance and clean stops: **a connection is closed after
:data:`KEEPALIVE_REQUESTS` requests** (like nginx's ``keepalive_requests``), so kept-alive
connections spread over the workers again now and then; and **once the worker is stopping,
every answer says** ``Connection: close`` and idle kept-alive connections stay open
:data:`STOP_KEEPALIVE_SECONDS` (not gthread's 2 s), so clients stop reusing a connection
after an answer instead of having a later request reset. On the fast path, status line,
headers and body leave in one write (one TLS record), and the ``Date`` header and the
heartbeat are refreshed once a second.

Over 400 lines because it is one subclass of gthread's worker: the deadlines, the body
buffering, the inline answers and the one-write answer override the same connection life
cycle and share its state; split, each part would have to re-learn gunicorn's internals the
others already hold.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
from concurrent.futures import Future
from functools import partial
from typing import Any

from gunicorn.http import message, wsgi
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http2 import negotiation

# _DEFER is gthread's "no data yet, give the connection back to the poller" answer
from gunicorn.workers.gthread import _DEFER, ThreadWorker
from oomguard.webhook.app import answers_without_waiting, log_event
from oomguard.webhook.defaults import MAX_BODY_BYTES, SMALL_REVIEW_BYTES

FIRST_BYTES_WAIT_SECONDS = 0.05
READ_DEADLINE_SECONDS = 1.0
BODY_DEADLINE_SECONDS = 10.0
KEEPALIVE_REQUESTS = 200  # nginx used 100 until 1.19.10, 1000 since
STOP_KEEPALIVE_SECONDS = 15.0  # idle kept-alive connections stay open this long after SIGTERM
BUFFER_BUDGET_BODIES = 4  # unfinished bodies per worker, in multiples of the body cap
DISCARD_LIMIT_BODIES = 4  # a larger Content-Length is answered 413 without reading the body
READ_CHUNK = 256 * 1024
INLINE_MAX_BODY = SMALL_REVIEW_BYTES  # larger reviews are judged on a pool thread, off the poller
NOTIFY_EVERY_SECONDS = 1.0  # heartbeat to the master; it waits ``timeout`` (30 s) before a kill
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: 46\r\n\r\n"
    b'{"error":"too many unfinished request bodies"}'
)


class BodyProgress:
    """How far one request's body has arrived: bytes in the parser's buffer, and for a chunked
    body where the scan stopped. Plain data, advanced by :func:`advance`."""

    def __init__(self, req: Any, deadline: float) -> None:
        self.req = req
        self.deadline = deadline
        self.chunked, self.length = body_framing(req)
        self.scan_pos = 0  # chunked: offset in the buffer of the next chunk-size line
        self.wanted = 0  # chunked: buffer size at which the chunk being received is complete
        self.scanned = 0  # chunked: bytes copied out of the buffer to scan (linear in the body)
        self.decoded = 0  # chunked: payload bytes seen so far
        self.in_trailer = False
        self.discard = False  # a body over the cap: counted, not kept
        self.dropped = 0
        self.parsed_only = False  # parsed on the poller thread, not yet handed to handle_request

    def buffered(self) -> int:
        """Bytes in the parser's buffer, without copying them (``getvalue`` would)."""
        buf = self.req.unreader.buf
        buf.seek(0, 2)  # the unreader seeks to the end itself before each use
        return buf.tell()


def body_framing(req: Any) -> tuple[bool, int]:
    """(chunked, Content-Length) of a parsed gunicorn request, from its body reader."""
    reader = req.body.reader
    if isinstance(reader, ChunkedReader):
        return True, 0
    return False, reader.length if isinstance(reader, LengthReader) else 0


def chunked_scan(data: bytes, progress: BodyProgress) -> bool:
    """Advance ``progress`` over ``data``, the chunked body from ``progress.scan_pos`` on; True
    once it is complete (or malformed: gunicorn's own reader then answers 400). Resumable:
    complete chunks are never scanned again, and a chunk still arriving sets
    ``progress.wanted``, the buffer size to wait for before scanning again."""
    base, pos = progress.scan_pos, 0
    while True:
        if progress.in_trailer:
            if data.startswith(b"\r\n", pos):
                return True
            end = data.find(b"\r\n\r\n", pos)
            return end >= 0 if data[pos:] else False
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return len(data) - pos > 1024  # an endless size line: let the parser reject it
        size_text = data[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return True
        if size == 0:
            pos = line_end + 2
            progress.scan_pos = base + pos
            progress.in_trailer = True
            continue
        chunk_end = line_end + 2 + size + 2
        if chunk_end > len(data):
            progress.wanted = base + chunk_end
            return False
        progress.decoded += size
        pos = chunk_end
        progress.scan_pos = base + pos


class OneWriteResponse(wsgi.Response):
    """gunicorn's HTTP/1.1 response, with its status line and headers sent in the same
    write as the first body bytes: one TLS record and one ``send`` per answer instead of two
    (an AdmissionReview answer is one body item). The ``Date`` header is formatted once a
    second, not per response (``email.utils.formatdate`` was ~3 % of a worker's Python
    time). Headers, their order and the body are byte for byte gunicorn's."""

    _held = b""
    _date = (0, "")

    def default_headers(self) -> list[str]:
        """gunicorn 27's ``Response.default_headers`` with the Date string cached."""
        if self.upgrade:
            connection = "upgrade"
        elif self.should_close():
            connection = "close"
        else:
            connection = "keep-alive"
        now = int(time.time())
        if OneWriteResponse._date[0] != now:
            OneWriteResponse._date = (now, _http_date(now))
        headers = [
            f"HTTP/{self.req.version[0]}.{self.req.version[1]} {self.status}\r\n",
            f"Server: {self.version}\r\n",
            f"Date: {OneWriteResponse._date[1]}\r\n",
            f"Connection: {connection}\r\n",
        ]
        if self.chunked:
            headers.append("Transfer-Encoding: chunked\r\n")
        return headers

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        tosend = self.default_headers()
        tosend.extend([f"{k}: {v}\r\n" for k, v in self.headers])
        self._held = ("".join(tosend) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def _emit_body(self, data: bytes) -> None:
        held, self._held = self._held, b""
        if held and not self.chunked:
            self.sock.sendall(held + data)
            return
        if held:
            self.sock.sendall(held)
        super()._emit_body(data)

    def sendfile(self, _respiter: Any) -> bool:
        # gunicorn never uses sendfile over TLS (serve's only mode); refusing it here also
        # keeps held headers from being overtaken by file bytes: write() sends the file
        return False

    def close(self) -> None:
        if not self.headers_sent:
            self.send_headers()
        held, self._held = self._held, b""
        if held:  # no body bytes came (HEAD, 204, an empty body)
            self.sock.sendall(held)
        super().close()


def _send_rest(conn: Any, data: bytes, result: Any) -> Any:
    """On a pool thread: the end of an answer the client did not take at once, within
    :data:`BODY_DEADLINE_SECONDS` (a client that never reads would otherwise hold the thread
    for good); past that the connection is closed."""
    try:
        conn.sock.settimeout(BODY_DEADLINE_SECONDS)
        conn.sock.sendall(data)
    except OSError:  # socket.timeout and ssl errors included
        return False
    return result


def _body_consumed(req: Any) -> bool:
    """The app read all of a ``Content-Length`` body (the usual review)."""
    body = getattr(req, "body", None)
    reader = getattr(body, "reader", None)
    return (
        isinstance(reader, LengthReader)
        and reader.length == 0
        and body.buf.tell() == 0
        and getattr(body, "failed", False) is False
    )


def _empty(unreader: Any) -> bool:
    buf = unreader.buf
    buf.seek(0, 2)
    return buf.tell() == 0


_ip_in_allow_list = message._ip_in_allow_list  # type: ignore[attr-defined]


def _settled_config_class(base: type) -> type:
    """``base`` (gunicorn's ``Config``) remembering each setting's value on first use, in
    the instance's ``__dict__``, where later look-ups find it without ``__getattr__``."""

    class SettledConfig(base):  # type: ignore[valid-type,misc]
        def __getattr__(self, name: str) -> Any:
            value = super().__getattr__(name)
            self.__dict__[name] = value
            return value

    return SettledConfig


_PEERS: dict[tuple[Any, ...], bool] = {}
PEERS_REMEMBERED = 4096  # bounded: past this many (peer, list) pairs, parsed each time


def _allowed_peer(ip: Any, allow_list: Any, networks: Any) -> bool:
    """gunicorn's ``_ip_in_allow_list``, remembered per (peer, allow list): the networks
    passed are always those of that list (``forwarded_allow_ips``, ``proxy_allow_ips``)."""
    try:
        key = (ip, *allow_list)
        answer = _PEERS.get(key)
    except TypeError:  # not hashable: ask gunicorn each time
        return _ip_in_allow_list(ip, allow_list, networks)
    if answer is None:
        answer = _ip_in_allow_list(ip, allow_list, networks)
        if len(_PEERS) < PEERS_REMEMBERED:
            _PEERS[key] = answer
    return answer


def _http_date(seconds: int) -> str:
    import email.utils

    return email.utils.formatdate(seconds, localtime=False, usegmt=True)


class ParsedOnce:
    """A connection's parser for one ``next()``: hands gthread's ``handle`` the request (or
    the parse error) the poller thread already read, then puts the real parser back. A
    request the inline path does not answer goes to the pool this way, parsed once, and
    meets gthread's own error handling there."""

    def __init__(self, conn: Any, req: Any = None, error: BaseException | None = None) -> None:
        self.conn, self.parser = conn, conn.parser
        self.req, self.error = req, error

    def __iter__(self) -> ParsedOnce:
        return self

    def __next__(self) -> Any:
        self.conn.parser = self.parser
        if self.error is not None:
            raise self.error
        return self.req

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parser, name)


class HeldWrites:
    """The socket as an answer on the poller thread sees it: it stays non-blocking, and what
    the kernel does not take at once (a client that does not read its answers) is held, in
    order, for a pool thread to send; the poller never blocks on a client."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.pending: list[bytes] = []

    def setblocking(self, _flag: bool) -> None:
        """gthread's ``handle`` makes the socket blocking for a pool thread; not here."""

    def sendall(self, data: bytes) -> None:
        if not self.pending:
            try:
                sent = self.sock.send(data)
            except (ssl.SSLWantWriteError, BlockingIOError):
                sent = 0  # TLS: the same bytes must be offered again, from the start
            if sent >= len(data):
                return
            data = bytes(data[sent:])
        self.pending.append(bytes(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def recv_available(sock: Any, limit: int) -> tuple[bytes, bool]:
    """What has arrived on a non-blocking socket, up to about ``limit`` bytes, and whether
    the stream ended (or failed: the pool thread's own read then meets it again)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            # never more than limit + 1 bytes: what the poller reads ahead stays in the
            # parser's buffer while the connection queues for a pool thread
            data = sock.recv(min(READ_CHUNK, limit + 1 - size))
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            break
        except OSError:
            return b"".join(chunks), True
        if not data:
            return b"".join(chunks), True
        chunks.append(data)
        size += len(data)
    return b"".join(chunks), False


class BoundedThreadWorker(ThreadWorker):
    """``gthread`` with the bounds above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading: dict[Any, float] = {}  # connection -> when its thread took it
        self.bodies: dict[Any, BodyProgress] = {}  # connection -> its unfinished body
        self.bodies_lock = threading.Lock()
        self.notified = 0.0

    def init_process(self) -> None:
        # gthread builds each response with wsgi.create(), which takes the module's class;
        # this runs in the worker process only, after the fork
        wsgi.Response = OneWriteResponse  # type: ignore[misc]
        # gunicorn parses the peer's address with ipaddress on every request to decide
        # whether it may send X-Forwarded-*; the answer is the same for every request from
        # that peer and that allow list
        message._ip_in_allow_list = _allowed_peer  # type: ignore[attr-defined]
        # gunicorn looks each setting up through Config.__getattr__ (~20 per request); they
        # are fixed once the worker runs (a reload starts new workers)
        self.cfg.__class__ = _settled_config_class(type(self.cfg))
        super().init_process()

    def notify(self) -> None:
        """The heartbeat the master watches: gthread writes it (an ``utime`` system call) on
        every turn of its loop, i.e. about once per request under load; once a second is
        plenty for the master's 30 s timeout."""
        now = time.monotonic()
        if now - self.notified >= NOTIFY_EVERY_SECONDS:
            self.notified = now
            super().notify()

    def max_body(self) -> int:
        return self.wsgi.config.get("MAX_CONTENT_LENGTH") or MAX_BODY_BYTES

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """On the poller thread: a kept-alive connection has bytes. A whole small request
        whose answer cannot wait on anything is answered here (:meth:`_serve_inline`);
        anything else goes to the pool as in gthread."""
        if not self.alive or conn.is_http2 or conn.parser is None:
            super().on_client_socket_readable(conn, client)
            return
        self.keepalived_conns.remove(conn)
        self._guarded(self._serve_inline, conn)

    def on_pending_socket_readable(self, conn: Any, client: Any) -> None:
        """More of a body that the poller thread is collecting (else gthread's way)."""
        progress = self.bodies.get(conn)
        if progress is None or not progress.parsed_only:
            super().on_pending_socket_readable(conn, client)
            return
        self.pending_conns.remove(conn)
        self._forget_body(conn)
        self._guarded(self._collect_inline, conn, progress)

    def _guarded(self, serve: Any, conn: Any, *args: Any) -> None:
        try:
            serve(conn, *args)
        except Exception:  # a bug here must not end the worker's loop and its connections
            self.log.exception("oomguard: error answering on the poller thread")
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()

    def _serve_inline(self, conn: Any) -> None:
        """Answer on the poller thread, without the pool's hand-offs (a future, a queue, a
        pipe write, two thread switches and two poller changes per request), when the
        request is all here: headers and a ``Content-Length`` body of at most
        :data:`INLINE_MAX_BODY` (a body that comes in pieces is collected on the poller,
        within :data:`BODY_DEADLINE_SECONDS` and the buffer budget), and the app says the
        review will not wait (no ConfigMap look-up, room in its body gate). Nothing here
        blocks: the socket stays non-blocking, only bytes that have arrived are parsed, and
        an answer the kernel does not take at once is finished by a pool thread. The answer
        comes from gthread's ``handle`` and this worker's ``handle_request``, as on a pool
        thread; anything else goes to the pool, already parsed (:class:`ParsedOnce`)."""
        if not self._take_arrived(conn):
            self._to_pool(conn)
            return
        if b"\r\n\r\n" not in conn.parser.unreader.buf.getvalue():
            self._to_pool(conn)  # the headers come on a pool thread, in READ_DEADLINE_SECONDS
            return
        try:
            req = next(conn.parser)
        except Exception as exc:  # an invalid request: gthread answers it on the pool
            conn.parser = ParsedOnce(conn, error=exc)
            self._to_pool(conn)
            return
        progress = BodyProgress(req, time.monotonic() + BODY_DEADLINE_SECONDS)
        progress.parsed_only = True
        self._serve_or_collect(conn, progress, pending=False)

    def _collect_inline(self, conn: Any, progress: BodyProgress) -> None:
        if not self.alive or not self._take_arrived(conn):
            conn.parser = ParsedOnce(conn, req=progress.req)
            self._to_pool(conn)  # the pool's read meets the end of the stream, or stops
            return
        self._serve_or_collect(conn, progress, pending=True)

    def _take_arrived(self, conn: Any) -> bool:
        """Move what has arrived into the parser's buffer; False when the stream ended or
        more came than the poller thread answers."""
        data, ended = recv_available(conn.sock, INLINE_MAX_BODY)
        if data:
            buf = conn.parser.unreader.buf
            buf.seek(0, 2)
            buf.write(data)
        return not ended and len(data) <= INLINE_MAX_BODY

    def _serve_or_collect(self, conn: Any, progress: BodyProgress, pending: bool) -> None:
        req = progress.req
        if not self._inline_kind(req, conn):
            conn.parser = ParsedOnce(conn, req=req)
            self._to_pool(conn)
            return
        if progress.buffered() < progress.length:  # wait on the poller for the rest
            with self.bodies_lock:
                held = sum(p.buffered() for p in self.bodies.values()) + progress.buffered()
                if held <= BUFFER_BUDGET_BODIES * self.max_body():
                    self.bodies[conn] = progress
            if conn not in self.bodies:  # over the budget: the pool answers 503
                conn.parser = ParsedOnce(conn, req=req)
                self._to_pool(conn)
                return
            conn.timeout = progress.deadline
            self.pending_conns.append(conn)
            if not pending:
                self.poller.modify(
                    conn.sock,
                    selectors.EVENT_READ,
                    partial(self.on_pending_socket_readable, conn),
                )
            return
        conn.parser = ParsedOnce(conn, req=req)
        if not answers_without_waiting(self.wsgi, progress.length):
            self._to_pool(conn)
            return
        self._answer_inline(conn, pending)

    def _inline_kind(self, req: Any, conn: Any) -> bool:
        """A request the poller thread may answer, by its framing and headers."""
        if req.method != "POST":
            return False  # reviews; /metrics merges every worker's files: not on the poller
        chunked, length = body_framing(req)
        if chunked or length > INLINE_MAX_BODY:
            return False
        if any(name == "EXPECT" for name, _ in req.headers):
            return False  # gunicorn writes "100 Continue" straight to the socket
        return not negotiation.upgrade_allowed(self.cfg, conn.client)

    def _answer_inline(self, conn: Any, pending: bool) -> None:
        sock = conn.sock
        writer = conn.sock = HeldWrites(sock)
        try:
            result = ThreadWorker.handle(self, conn)
        finally:
            conn.sock = sock
        if writer.pending:  # the client is not reading: a pool thread may block on it
            self.poller.unregister(sock)
            fs = self.tpool.submit(_send_rest, conn, b"".join(writer.pending), result)
            fs.add_done_callback(partial(self._finished_on_pool, conn))
            return
        if result is True and self.alive and _empty(conn.parser.unreader):
            conn.set_timeout()  # still registered with the poller, still non-blocking
            self.keepalived_conns.append(conn)
            if pending:
                self.poller.modify(
                    sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
                )
            return
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(sock)
        done: Future = Future()
        done.set_result(result)
        self.finish_request(conn, done)

    def _finished_on_pool(self, conn: Any, fs: Any) -> None:
        self.method_queue.defer(self.finish_request, conn, fs)

    def _to_pool(self, conn: Any) -> None:
        """gthread's way: off the poller, onto a pool thread."""
        self.poller.unregister(conn.sock)
        self.enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        """Runs in a pool thread; the deadline starts now, not when the connection queued."""
        progress = self.bodies.get(conn)
        if progress is not None:  # a body that was waiting for bytes
            try:
                return self._keepalive_after(conn, self._read_body_then_serve(progress, conn))
            except Exception as exc:  # as gthread's handle() does for a first read
                self._forget_body(conn)
                if not isinstance(exc, OSError | StopIteration):
                    self.handle_error(progress.req, conn.sock, conn.client, exc)
                return False
        self.reading[conn] = time.monotonic()
        if not conn.initialized and not conn.data_ready:
            if not conn.wait_for_data(FIRST_BYTES_WAIT_SECONDS):
                self.reading.pop(conn, None)
                return _DEFER
            conn.data_ready = True  # skip the stock 5 s wait: the bytes are here
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        """Headers are in (called from gthread's ``handle``)."""
        self.reading.pop(conn, None)
        conn.served = getattr(conn, "served", 0) + 1
        if conn.served >= KEEPALIVE_REQUESTS or not self.alive:
            req.must_close = True  # answered with "Connection: close"
        chunked, length = body_framing(req)
        if not chunked and not length:
            return super().handle_request(req, conn)
        progress = BodyProgress(req, time.monotonic() + BODY_DEADLINE_SECONDS)
        if length > self.max_body():
            # The app answers 413 from the header. The body is read and dropped first (no
            # memory, no thread while the client is silent), so a client that sends it all
            # before reading gets that answer, not a reset; an absurd length is not waited
            # for.
            req.must_close = True
            if length > DISCARD_LIMIT_BODIES * self.max_body():
                self._drop_body(req)
                return super().handle_request(req, conn)
            progress.discard = True
        return self._read_body_then_serve(progress, conn)

    def _read_body_then_serve(self, progress: BodyProgress, conn: Any) -> Any:
        """Read what has arrived of the body without blocking; serve it once complete, else
        wait on the poller (no thread held)."""
        req = progress.req
        try:
            complete = self._read_available(progress, conn)
        except EOFError:
            self._forget_body(conn)
            return False
        if complete is None:  # over the per-worker budget
            self._forget_body(conn)
            with contextlib.suppress(OSError):
                conn.sock.sendall(BUSY)
            self.log.warning("oomguard: too many unfinished request bodies, answered 503")
            return False
        if not complete:
            with self.bodies_lock:
                self.bodies[conn] = progress
            return _DEFER
        self._forget_body(conn)
        if progress.discard:
            self._drop_body(req)
        elif progress.chunked and progress.decoded > self.max_body():
            self._as_too_large(req, progress.decoded)
        return super().handle_request(req, conn)

    def _read_available(self, progress: BodyProgress, conn: Any) -> bool | None:
        """Move the bytes that have arrived into the parser's buffer. True when the body is
        complete, False when more must come, None when the worker's budget is spent."""
        cap = self.max_body()
        if self._complete(progress, cap):  # the usual case: the body came with the headers
            return True
        buf = progress.req.unreader.buf
        conn.sock.setblocking(False)
        try:
            while True:
                if self._complete(progress, cap):
                    return True
                try:
                    data = conn.sock.recv(READ_CHUNK)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    return False
                if not data:
                    raise EOFError
                if progress.discard:
                    progress.dropped += len(data)
                    continue
                with self.bodies_lock:
                    self.bodies[conn] = progress
                    held = sum(p.buffered() for p in self.bodies.values()) + len(data)
                if held > BUFFER_BUDGET_BODIES * cap:
                    return None
                buf.seek(0, 2)
                buf.write(data)
        finally:
            conn.sock.setblocking(True)

    @staticmethod
    def _complete(progress: BodyProgress, cap: int) -> bool:
        if not progress.chunked:
            return progress.buffered() + progress.dropped >= progress.length
        if progress.buffered() >= progress.wanted:  # else a chunk is still arriving
            # only the bytes after the last complete chunk are copied: each byte of the body
            # is scanned about once (the whole buffer each time was quadratic in its size)
            buf = progress.req.unreader.buf
            buf.seek(progress.scan_pos)
            data = buf.read()
            buf.seek(0, 2)
            progress.scanned += len(data)
            if chunked_scan(data, progress):
                return True
        return progress.decoded > cap  # enough to know it is too large

    @staticmethod
    def _as_too_large(req: Any, decoded: int) -> None:
        """A chunked body past the cap: present it to the app as what it is, a body with a
        length over the cap, so the app's own 413 answers it (counted and logged); the rest
        of the body is never read and the connection is closed."""
        req.headers = [(n, v) for n, v in req.headers if n != "TRANSFER-ENCODING"]
        req.headers.append(("CONTENT-LENGTH", str(decoded)))
        req.body = Body(LengthReader(req.unreader, 0))
        req.must_close = True

    @staticmethod
    def _drop_body(req: Any) -> None:
        """The app will not read this body (413 from the header): drop what is buffered and
        give it an empty one, so nothing blocks on the socket for it afterwards."""
        import io

        req.unreader.buf = io.BytesIO()
        req.body = Body(LengthReader(req.unreader, 0))
        req.must_close = True

    def _forget_body(self, conn: Any) -> None:
        with self.bodies_lock:
            self.bodies.pop(conn, None)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """A failed TLS handshake (a scanner, an old client, a wrong CA) is one structured
        JSON line in the review log, never gunicorn's text line, and no HTTP answer: there
        is no TLS session to send it on."""
        if isinstance(exc, ssl.SSLError):
            peer = addr[0] if isinstance(addr, tuple) and addr else None
            log_event(
                "tls_error",
                peer=peer,
                reason=str(exc.reason or type(exc).__name__),
                message=str(exc),
            )
            return
        super().handle_error(req, client, addr, exc)

    def _keepalive_after(self, conn: Any, keepalive: Any) -> Any:
        if keepalive is _DEFER:
            return _DEFER
        if keepalive is True and _body_consumed(conn.parser.mesg):
            return True  # nothing to drain: skip gthread's drain and its socket timeouts
        return super()._keepalive_after(conn, keepalive)

    def _cap_keepalive(self, deadline: float) -> None:
        """On SIGTERM gthread closes idle kept-alive connections after 2 s; a client that
        sends on one just then has its request reset (the API server does not retry a
        POST it has written). Keep them :data:`STOP_KEEPALIVE_SECONDS` instead: a request
        meanwhile is answered with ``Connection: close``, so each client connection ends
        on an answer, and only connections idle for the whole window are closed."""
        super()._cap_keepalive(time.monotonic() + STOP_KEEPALIVE_SECONDS)

    def finish_request(self, conn: Any, fs: Any) -> None:
        """On the main loop. A connection whose body is waiting for bytes goes to the poller,
        also when the worker is stopping (stock gthread would re-queue it at once, since its
        parser holds buffered bytes: a busy loop)."""
        self.reading.pop(conn, None)
        progress = self.bodies.get(conn)
        waiting = progress is not None and not fs.cancelled() and fs.exception() is None
        if waiting and fs.result() is _DEFER:
            conn.sock.setblocking(False)
            conn.timeout = progress.deadline
            self.pending_conns.append(conn)
            self.poller.register(
                conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
            )
            return
        super().finish_request(conn, fs)

    def murder_pending(self) -> None:
        """Runs on the worker's main loop at least once a second."""
        super().murder_pending()
        now = time.monotonic()
        for conn, taken in list(self.reading.items()):
            if now - taken > READ_DEADLINE_SECONDS:
                self.reading.pop(conn, None)
                self.log.debug("oomguard: closing a connection that sent no request in time")
                with contextlib.suppress(OSError):  # its thread may have closed it already
                    conn.sock.shutdown(socket.SHUT_RDWR)
        for conn, progress in list(self.bodies.items()):
            if now > progress.deadline and conn in self.pending_conns:
                self._forget_body(conn)
                self.pending_conns.remove(conn)
                with contextlib.suppress(OSError, KeyError, ValueError):
                    self.poller.unregister(conn.sock)
                self.nr_conns -= 1
                self.log.debug("oomguard: closing a connection whose body did not come in time")
                conn.close()
            elif conn.sock.fileno() < 0:  # closed elsewhere (worker stopping)
                self._forget_body(conn)
