"""A local HTTP server that answers like the Kubernetes API server, for API contract tests.

There is no Kubernetes API server on these machines. This one serves the JSON shapes of the
Kubernetes API reference (``v1.NamespaceList``, ``apps/v1.DeploymentList`` with
``metadata.continue`` paging, ``v1.Status`` errors) for the objects a test gives it, checks
the bearer token, honours ``limit``/``continue``, and can answer 403 or hang for chosen
paths. It is a contract test double, not a cluster: nothing here is end-to-end.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "test-token-123"

COLLECTION_PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
    "ReplicationController": "/api/v1/namespaces/{ns}/replicationcontrollers",
    "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
}


def status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class FakeApiServer:
    def __init__(
        self,
        objects: list[dict],
        forbidden: set[str] = frozenset(),
        hang: set[str] = frozenset(),
        namespace_labels: dict | None = None,
    ):
        self.objects = objects
        self.namespace_labels = namespace_labels or {}  # name -> labels
        self.watch_events: queue.Queue = queue.Queue()  # events to stream; None ends a watch
        self.forbidden = forbidden  # path prefixes answered with 403
        self.hang = hang  # path prefixes that never answer in time
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.requests.append(self.path)
                authorized = self.headers.get("Authorization") == f"Bearer {TOKEN}"
                if "watch=true" in self.path and authorized:
                    # a watch streams one JSON event per line in HTTP chunks, as the API does
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        while (event := server.watch_events.get()) is not None:
                            line = json.dumps(event).encode() + b"\n"
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                    return
                code, body = server.answer(self.path, self.headers.get("Authorization"))
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)  # the client may have given up (timeout tests)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, path, namespace: str = "default") -> str:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "test",
                    "clusters": [{"name": "test", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": TOKEN}}],
                    "contexts": [
                        {
                            "name": "test",
                            "context": {
                                "cluster": "test",
                                "user": "tester",
                                "namespace": namespace,
                            },
                        }
                    ],
                }
            )
        )
        return str(path)

    def answer(self, raw_path: str, authorization: str | None) -> tuple[int, dict]:
        if authorization != f"Bearer {TOKEN}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        url = urlparse(raw_path)
        query = parse_qs(url.query)
        if any(url.path.startswith(prefix) for prefix in self.hang):
            time.sleep(3)
        if any(url.path.startswith(prefix) for prefix in self.forbidden):
            return 403, status(403, "Forbidden", f'forbidden: cannot list resource at "{url.path}"')
        if url.path == "/api/v1/namespaces":
            namespaces = sorted(
                {o["metadata"]["namespace"] for o in self.objects} | set(self.namespace_labels)
            )
            items = [
                {
                    "metadata": {
                        "name": ns,
                        "uid": f"ns-{ns}",
                        "resourceVersion": "100",
                        "labels": self.namespace_labels.get(ns, {}),
                    }
                }
                for ns in namespaces
            ]
            return 200, self._page("NamespaceList", items, query)
        for kind, template in COLLECTION_PATHS.items():
            for obj in self.objects:
                ns = obj["metadata"]["namespace"]
                if (
                    url.path == template.format(ns=ns) + "/" + obj["metadata"]["name"]
                    and obj["kind"] == kind
                ):
                    return 200, {"apiVersion": obj.get("apiVersion", "v1"), **obj}
        for kind, template in COLLECTION_PATHS.items():
            prefix, suffix = template.split("{ns}")
            if url.path.startswith(prefix) and url.path.endswith(suffix):
                ns = url.path[len(prefix) : len(url.path) - len(suffix)]
                # list items carry no kind/apiVersion, as in the real API
                items = [
                    {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                    for o in self.objects
                    if o["kind"] == kind and o["metadata"]["namespace"] == ns
                ]
                return 200, self._page(f"{kind}List", items, query)
        return 404, status(404, "NotFound", f"the server could not find {url.path}")

    def _page(self, list_kind: str, items: list[dict], query: dict) -> dict:
        limit = int(query.get("limit", ["0"])[0]) or len(items) or 1
        start = int(query.get("continue", ["0"])[0] or 0)
        page = items[start : start + limit]
        metadata = {"resourceVersion": "12345"}
        if start + limit < len(items):
            metadata["continue"] = str(start + limit)
        return {"kind": list_kind, "apiVersion": "v1", "metadata": metadata, "items": page}
