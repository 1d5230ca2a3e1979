"""``oomguard serve``: the webhook app under gunicorn, over TLS, started from Python.

* **Workers**: ``gthread`` (keep-alive, which the API server relies on: a TLS handshake per
  review would cost more than the review), with bounds on slow clients
  (:mod:`oomguard.webhook.worker`). The app is loaded once in the master and forked.
* **TLS**: 1.2 or newer. gunicorn asks the ``ssl_context`` hook for a context for every new
  connection; :class:`CertificateStore` answers from a cache that it rebuilds when the
  certificate or key file changes (inode, mtime or size — cert-manager and kubelet secret
  volumes replace files through a symlink swap). Connections already open keep the context
  they were accepted with, so a rotation drops nothing; a half-written pair (new certificate,
  old key) fails to load and the previous context keeps serving until both files match.
* **Shutdown**: SIGTERM stops accepting and lets in-flight requests finish
  (:data:`GRACEFUL_SECONDS`, below Kubernetes' default 30 s termination grace period).
* **Probes** (``--probe-port``): ``/healthz``, ``/readyz`` and ``/metrics`` are also served in
  plain HTTP on their own port, by a small thread of the gunicorn master, so that clients
  holding the review workers' threads (or a review pool busy for any reason) cannot fail the
  kubelet's liveness probe and get the Pod restarted. ``/healthz`` is 200 while the master
  runs and has workers; ``/readyz`` turns 503 as soon as SIGTERM arrives (endpoints drop the
  Pod while it drains). The review port keeps its own ``/healthz`` etc.
* **Metrics**: ``PROMETHEUS_MULTIPROC_DIR`` is a fresh temporary folder per server, set
  before prometheus-client is imported, removed at exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading
from typing import Any

from oomguard.exit_codes import EXIT_OK, EXIT_USAGE
from oomguard.webhook.defaults import ON_RULE_ERROR, PROBE_PORT, THREADS_PER_WORKER

GRACEFUL_SECONDS = 25
# Longer than the API server's idle-connection timeout (90 s), so it is always the client that
# closes an idle connection and never races a server close with a new request.
KEEPALIVE_SECONDS = 120


# Mozilla's "intermediate" profile (Server Side TLS 5.7), TLS 1.2 suites exactly: AEAD only,
# forward secrecy only (no CBC, no static RSA). TLS 1.3 suites are OpenSSL's (all AEAD).
MOZILLA_INTERMEDIATE_TLS12 = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)


def build_tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context with the certificate chain, TLS 1.2+ with Mozilla's intermediate
    TLS 1.2 suites, and HTTP/1.1 only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(MOZILLA_INTERMEDIATE_TLS12)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(certfile=cert, keyfile=key)
    context.set_alpn_protocols(["http/1.1"])
    return context


class CertificateStore:
    """The current TLS context for a certificate/key pair, reloaded when the files change."""

    def __init__(self, cert: str, key: str, log: Any = None) -> None:
        self.cert, self.key = cert, key
        self.log = log
        self._lock = threading.Lock()
        self._stamp = self._files_stamp()
        self._context = build_tls_context(cert, key)
        self._failed: tuple | None = None

    def context(self) -> ssl.SSLContext:
        stamp = self._files_stamp()
        if stamp == self._stamp:
            return self._context
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._context = build_tls_context(self.cert, self.key)
                    self._stamp = stamp
                    self._say(f"oomguard: loaded TLS certificate {self.cert} (files changed)")
                except (OSError, ssl.SSLError) as exc:
                    if self._failed != stamp:  # once per change, not once per connection
                        self._failed = stamp
                        self._say(f"oomguard: keeping the previous TLS certificate: {exc}")
        return self._context

    def gunicorn_hook(self, _conf: Any, _default_factory: Any) -> ssl.SSLContext:
        return self.context()

    def _files_stamp(self) -> tuple:
        stamps = []
        for path in (self.cert, self.key):
            try:
                st = os.stat(path)
                stamps.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def _say(self, message: str) -> None:
        if self.log is not None:
            self.log.info(message)
        else:
            print(message, file=sys.stderr, flush=True)


class ProbeServer:
    """Plain-HTTP ``/healthz``, ``/readyz`` and ``/metrics`` on their own port, answered by a
    thread of the gunicorn master: independent of the review workers' threads."""

    def __init__(self, host: str, port: int) -> None:
        from http.server import ThreadingHTTPServer

        self.arbiter: Any = None
        self.stopping = threading.Event()
        handler = _probe_handler(self)
        server_class = ThreadingHTTPServer
        if ":" in host:
            server_class = type(
                "ProbeServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6}
            )
        self.httpd = server_class((host, port), handler)
        self.httpd.daemon_threads = True

    def answer(self, path: str) -> tuple[int, bytes, str]:
        workers = len(getattr(self.arbiter, "WORKERS", {}) or {})
        if path == "/healthz":
            ok = self.arbiter is not None and workers > 0
            return _probe_json(200 if ok else 503, "ok" if ok else "no workers")
        if path == "/readyz":
            if self.stopping.is_set():
                return _probe_json(503, "stopping")
            ok = self.arbiter is not None and workers > 0
            return _probe_json(200 if ok else 503, "ready" if ok else "no workers")
        if path == "/metrics":
            from oomguard.webhook import metrics

            text, content_type = metrics.render()
            return 200, text, content_type
        return _probe_json(404, "not found")

    def when_ready(self, arbiter: Any) -> None:
        """gunicorn hook in the master: start serving, and learn of SIGTERM/SIGINT at once
        (the arbiter handles signals on its main loop; this wraps its handlers)."""
        self.arbiter = arbiter
        for name in ("handle_term", "handle_int"):
            original = getattr(arbiter, name)

            def stopping(original: Any = original) -> None:
                self.stopping.set()
                original()

            setattr(arbiter, name, stopping)
        threading.Thread(target=self.httpd.serve_forever, name="probes", daemon=True).start()

    def post_fork(self, _arbiter: Any, _worker: Any) -> None:
        """In each worker: close the inherited probe socket (only the master answers it)."""
        self.httpd.socket.close()


def _probe_json(code: int, status: str) -> tuple[int, bytes, str]:
    return code, json.dumps({"status": status}).encode(), "application/json"


def _probe_handler(probes: ProbeServer) -> type:
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a client that stalls holds its own thread for 5 s at most
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            code, body, content_type = probes.answer(self.path.split("?", 1)[0])
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass  # probes every few seconds would drown the review log

    return Handler


def gunicorn_options(
    args: argparse.Namespace, store: CertificateStore, probes: ProbeServer | None = None
) -> dict[str, Any]:
    host = f"[{args.host}]" if ":" in args.host else args.host
    hooks: dict[str, Any] = {}
    if probes is not None:
        hooks = {"when_ready": probes.when_ready, "post_fork": probes.post_fork}
    return {
        **hooks,
        "bind": [f"{host}:{args.port}"],
        "workers": args.workers,
        "worker_class": "oomguard.webhook.worker.BoundedThreadWorker",
        "threads": getattr(args, "threads", None) or THREADS_PER_WORKER,
        # the worker's deadlines, body bounds and inline answers read the pure-Python
        # parser's buffer; gunicorn's "auto" would switch to the optional gunicorn_h1c
        # extension wherever it happens to be installed
        "http_parser": "python",
        "keepalive": KEEPALIVE_SECONDS,
        "graceful_timeout": GRACEFUL_SECONDS,
        "timeout": 30,
        "preload_app": True,
        "certfile": args.cert,
        "keyfile": args.key,
        "ssl_context": store.gunicorn_hook,
        "accesslog": None,  # every review is logged as one JSON line by the app instead
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "oomguard",
        "control_socket_disable": True,
        "child_exit": _child_exit,
        "post_worker_init": _start_worker,
    }


def _start_worker(worker: Any) -> None:
    """Per worker, after the fork: start the cluster look-ups (their watch thread and
    connections cannot be inherited), then move everything loaded so far into the permanent
    GC generation, so a full collection scans only per-request garbage (it was ~18 ms over
    the loaded app)."""
    import gc

    from oomguard.kube import ApiError

    try:
        worker.wsgi.extensions["oomguard"]["lookups"].start()
    except ApiError as exc:  # each review retries and falls back meanwhile
        worker.log.warning(f"oomguard: cluster look-ups not started: {exc}")
    gc.collect()
    gc.freeze()


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def run_server(args: argparse.Namespace) -> int:
    """Run the webhook until SIGTERM/SIGINT. Exit 2 (one line on stderr) on a bad config,
    certificate or key."""
    from oomguard.rules.config import DEFAULT_CONFIG, ConfigError, load_config

    on_crash = getattr(args, "on_rule_error", None) or ON_RULE_ERROR
    notice = ignored_config_notice(args.config)
    if notice:
        print(notice, file=sys.stderr, flush=True)
    try:
        config = load_config(args.config) if args.config else DEFAULT_CONFIG
        store = CertificateStore(args.cert, args.key)
    except ConfigError as exc:
        return _usage(str(exc))
    except (OSError, ssl.SSLError) as exc:
        return _usage(f"cannot load TLS certificate {args.cert} / key {args.key}: {exc}")
    if not 0 < args.port < 65536:
        return _usage(f"--port {args.port} is not a TCP port")
    if args.workers < 1:
        return _usage("--workers must be at least 1")
    probe_port = getattr(args, "probe_port", None) or PROBE_PORT
    if not 0 <= probe_port < 65536 or (probe_port and probe_port == args.port):
        return _usage(f"--probe-port {probe_port} is not a free TCP port beside --port")
    if config.lookup_namespace_labels or config.lookup_configmaps:
        from oomguard.kube import ApiError, connect

        try:
            connect(None, None, timeout=1.0)  # credentials only; each worker connects itself
        except ApiError as exc:
            return _usage(f"config enables cluster look-ups, but {exc}")

    metrics_dir = tempfile.mkdtemp(prefix="oomguard-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # before prometheus_client loads
    try:
        from oomguard.webhook.app import create_app

        max_body = getattr(args, "max_body_bytes", None)
        app_options = {"on_crash": on_crash}
        if max_body:
            app_options["max_body_bytes"] = max_body
        app = create_app(config, **app_options)
        probes = None
        if probe_port:
            try:
                probes = ProbeServer(args.host, probe_port)
            except OSError as exc:
                return _usage(f"cannot listen on --probe-port {probe_port}: {exc}")
        return _run_gunicorn(app, gunicorn_options(args, store, probes), store)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def ignored_config_notice(config: str | None, folder: str = ".") -> str | None:
    """The one-line notice when ``folder`` (the working directory) holds a ``.oomguard.yaml``
    that serve will not read: unlike lint and audit, serve reads only ``--config`` (a pod's
    working directory is the image's, not the operator's choice), so say it, never ignore it
    silently."""
    from oomguard.rules.text import printable

    found = os.path.join(os.path.abspath(folder), ".oomguard.yaml")
    if not os.path.isfile(found):
        return None
    if config and os.path.exists(config) and os.path.samefile(config, found):
        return None
    using = f"--config {config}" if config else "the defaults (no --config)"
    return printable(
        f"oomguard: notice: {found} is not read; serve reads only --config, using {using}"
    )


def _run_gunicorn(app: Any, options: dict[str, Any], store: CertificateStore) -> int:
    from gunicorn.app.base import BaseApplication

    class WebhookServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    try:
        WebhookServer().run()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"oomguard: {message}", file=sys.stderr)
    return EXIT_USAGE
