"""gunicorn's ``gthread`` worker with bounds on slow clients (slowloris).

A stock ``gthread`` worker gives each new connection a thread that waits up to 5 s for its
first bytes, and once bytes arrive, reads the TLS handshake and the request headers with no
deadline. A handful of clients that connect and then send nothing, or trickle a byte at a
time, hold every thread of a worker, and the API server's reviews queue behind them. Two
changes fix that without touching how requests are served:

* **Idle connections go back to the poller at once** (:data:`FIRST_BYTES_WAIT_SECONDS`
  instead of 5 s): waiting for a client costs no thread.
* **A connection gets :data:`READ_DEADLINE_SECONDS` from the moment a thread takes it until
  its request headers are parsed**, handshake included; past that the worker shuts the socket
  down, which ends the blocked read at once. The API server sends a whole review in one go,
  so the deadline only ever hits a client that is stalling on purpose or broken. The
  worker's main loop checks once a second, so such a client holds a thread 1–2 s at most.

And one for load balance: **a connection is closed after :data:`KEEPALIVE_REQUESTS` requests**
(like nginx's ``keepalive_requests``). A kept-alive connection stays with the worker that
accepted it, and one worker is one CPU; closing now and then lets the client's reconnect
land on whichever worker is free to accept (a busy one rarely wins that race), so a 3 : 1
split of the API server's connections does not last. One TLS handshake per 200 reviews.

With ``THREADS_PER_WORKER`` threads per worker, up to that many stalling clients per worker
cost the API server's requests nothing; more of them delay requests by the deadline at most,
well inside the webhook's ``timeoutSeconds``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

# _DEFER is gthread's "no data yet, give the connection back to the poller" answer
from gunicorn.workers.gthread import _DEFER, ThreadWorker

FIRST_BYTES_WAIT_SECONDS = 0.05
READ_DEADLINE_SECONDS = 1.0
KEEPALIVE_REQUESTS = 200  # nginx used 100 until 1.19.10, 1000 since


class BoundedThreadWorker(ThreadWorker):
    """``gthread`` with the two bounds above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading: dict[Any, float] = {}  # connection -> when its thread took it

    def handle(self, conn: Any) -> Any:
        """Runs in a pool thread; the deadline starts now, not when the connection queued."""
        self.reading[conn] = time.monotonic()
        if not conn.initialized and not conn.data_ready:
            if not conn.wait_for_data(FIRST_BYTES_WAIT_SECONDS):
                self.reading.pop(conn, None)
                return _DEFER
            conn.data_ready = True  # skip the stock 5 s wait: the bytes are here
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        self.reading.pop(conn, None)  # headers are in: the app's own time is not bounded here
        conn.served = getattr(conn, "served", 0) + 1
        if conn.served >= KEEPALIVE_REQUESTS:
            req.must_close = True  # answered with "Connection: close"
        return super().handle_request(req, conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.reading.pop(conn, None)
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
