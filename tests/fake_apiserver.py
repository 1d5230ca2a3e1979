"""A local HTTP server that answers like the Kubernetes API server, for API contract tests.

There is no Kubernetes API server on these machines. This one serves the JSON shapes of the
Kubernetes API reference (``v1.NamespaceList``, ``apps/v1.DeploymentList`` with
``metadata.continue`` paging, ``v1.Status`` errors) for the objects a test gives it, checks
the bearer token, honours ``limit``/``continue``, and can answer 403 or hang for chosen
paths. It is a contract test double, not a cluster: nothing here is end-to-end.

Discovery is served as the API reference shapes it (``/api`` ``APIVersions``, ``/apis``
``APIGroupList``, ``/api/v1`` and ``/apis/<group>/<version>`` ``APIResourceList``) for the
built-in resources below plus the custom resources (CRDs) a test installs with ``crds=``;
objects of a CRD kind are listed only when its CRD is installed, at every version it serves.
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

# (group, version, kind, plural, namespaced) of the built-in resources served
BUILTIN_RESOURCES = (
    ("", "v1", "Pod", "pods", True),
    ("", "v1", "ReplicationController", "replicationcontrollers", True),
    ("", "v1", "PodTemplate", "podtemplates", True),
    ("", "v1", "ConfigMap", "configmaps", True),
    ("", "v1", "Secret", "secrets", True),
    ("", "v1", "LimitRange", "limitranges", True),
    ("", "v1", "Namespace", "namespaces", False),
    ("apps", "v1", "Deployment", "deployments", True),
    ("apps", "v1", "StatefulSet", "statefulsets", True),
    ("apps", "v1", "DaemonSet", "daemonsets", True),
    ("apps", "v1", "ReplicaSet", "replicasets", True),
    ("batch", "v1", "Job", "jobs", True),
    ("batch", "v1", "CronJob", "cronjobs", True),
)
# a custom resource definition as discovery shows it: (group, versions served, preferred first)
CRD = tuple  # (group, (versions...), kind, plural, namespaced)

ALL_NAMESPACES = "*all*"  # not a namespace name (those cannot hold "*")

COLLECTION_PATHS = {
    kind: ("/api/v1" if not group else f"/apis/{group}/{version}") + f"/namespaces/{{ns}}/{plural}"
    for group, version, kind, plural, namespaced in BUILTIN_RESOURCES
    if namespaced
}


def _group_of(obj: dict) -> str:
    return str(obj.get("apiVersion", "v1")).rpartition("/")[0]


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
        crds: tuple = (),
        discovery_forbidden: bool = False,
    ):
        self.objects = objects
        # (group, version, kind, plural, namespaced) served: built-ins, then each CRD version
        self.resources = list(BUILTIN_RESOURCES) + [
            (group, version, kind, plural, namespaced)
            for group, versions, kind, plural, namespaced in crds
            for version in versions
        ]
        self.crds = crds
        self.discovery_forbidden = discovery_forbidden
        self.namespace_labels = namespace_labels or {}  # name -> labels
        self.watch_events: queue.Queue = queue.Queue()  # events to stream; None ends a watch
        self.forbidden = forbidden  # path prefixes answered with 403
        self.hang = hang  # path prefixes that never answer in time
        self.requests: list[str] = []
        # server-side apply (PATCH application/apply-patch+yaml) of CRD objects: path -> object
        self.applied: dict[str, dict] = {}
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

            def do_PATCH(self):
                server.requests.append(f"PATCH {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                code, body = server.apply(
                    self.path,
                    self.headers.get("Authorization"),
                    self.headers.get("Content-Type"),
                    self.rfile.read(length),
                )
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

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

    def apply(
        self, raw_path: str, authorization: str | None, content_type: str | None, raw: bytes
    ) -> tuple[int, dict]:
        """Server-side apply, as far as a one-manager client sees it: the object is created,
        or its content replaced by what was applied (every field and list the manager set
        last time and omits now is removed: lists of these CRDs are atomic); uid and
        creationTimestamp stay, resourceVersion moves. Only objects of installed CRDs."""
        if authorization != f"Bearer {TOKEN}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        url = urlparse(raw_path)
        query = parse_qs(url.query)
        if any(url.path.startswith(prefix) for prefix in self.forbidden):
            return 403, status(
                403, "Forbidden", f'forbidden: cannot patch resource at "{url.path}"'
            )
        if content_type != "application/apply-patch+yaml":
            return 415, status(415, "UnsupportedMediaType", f"unsupported {content_type}")
        if not query.get("fieldManager"):
            return 400, status(400, "BadRequest", "fieldManager is required for apply patch")
        obj = json.loads(raw)  # JSON is YAML, and it is what the client sends
        for group, versions, kind, plural, namespaced in self.crds:
            for version in versions:
                root = f"/apis/{group}/{version}"
                name = (obj.get("metadata") or {}).get("name")
                ns = (obj.get("metadata") or {}).get("namespace")
                where = f"/namespaces/{ns}" if namespaced else ""
                if url.path != f"{root}{where}/{plural}/{name}":
                    continue
                if obj.get("kind") != kind or obj.get("apiVersion") != f"{group}/{version}":
                    return 400, status(400, "BadRequest", "kind or apiVersion does not match")
                old = self.applied.get(url.path)
                metadata = dict(obj["metadata"])
                metadata["uid"] = (old or {}).get("metadata", {}).get("uid") or f"uid-{name}-{ns}"
                metadata["resourceVersion"] = str(len(self.requests))
                metadata["managedFields"] = [
                    {"manager": query["fieldManager"][0], "operation": "Apply"}
                ]
                stored = {**obj, "metadata": metadata}
                self.applied[url.path] = stored
                return (200 if old else 201), stored
        return 404, status(404, "NotFound", f"the server could not find {url.path}")

    def answer(self, raw_path: str, authorization: str | None) -> tuple[int, dict]:
        if authorization != f"Bearer {TOKEN}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        url = urlparse(raw_path)
        if url.path in self.applied:
            return 200, self.applied[url.path]
        query = parse_qs(url.query)
        if any(url.path.startswith(prefix) for prefix in self.hang):
            time.sleep(3)
        if any(url.path.startswith(prefix) for prefix in self.forbidden):
            return 403, status(403, "Forbidden", f'forbidden: cannot list resource at "{url.path}"')
        if url.path == "/api/v1/namespaces":
            namespaces = sorted(
                {o["metadata"]["namespace"] for o in self.objects if o["metadata"].get("namespace")}
                | set(self.namespace_labels)
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
        if url.path in ("/api", "/apis") or url.path.startswith(("/api/v1", "/apis/")):
            discovery = self._discovery(url.path)
            if discovery is not None:
                if self.discovery_forbidden:
                    return 403, status(403, "Forbidden", "forbidden: discovery")
                return 200, discovery
        for group, version, kind, plural, _namespaced in self.resources:
            root = f"/apis/{group}/{version}" if group else f"/api/{version}"
            for obj in self.objects:
                ns = obj["metadata"].get("namespace")
                if (
                    url.path == f"{root}/namespaces/{ns}/{plural}/" + obj["metadata"]["name"]
                    and obj["kind"] == kind
                    and _group_of(obj) == group
                ):
                    return 200, {"apiVersion": obj.get("apiVersion", "v1"), **obj}
        for group, version, kind, plural, namespaced in self.resources:
            root = f"/apis/{group}/{version}" if group else f"/api/{version}"
            prefix, suffix = f"{root}/namespaces/", f"/{plural}"
            if namespaced and url.path.startswith(prefix) and url.path.endswith(suffix):
                ns = url.path[len(prefix) : len(url.path) - len(suffix)]
            elif not namespaced and url.path == f"{root}/{plural}" and kind != "Namespace":
                ns = None
            elif namespaced and url.path == f"{root}/{plural}":
                ns = ALL_NAMESPACES  # a namespaced kind listed across namespaces (watch caches)
            else:
                continue
            if ns is not None and "/" in ns:
                continue
            # built-in list items carry no kind/apiVersion, as in the real API
            strip = ("kind", "apiVersion") if not any(c[2] == kind for c in self.crds) else ()
            items = [
                {k: v for k, v in o.items() if k not in strip}
                for o in self.objects
                if o["kind"] == kind
                and _group_of(o) == group
                and (ns is ALL_NAMESPACES or o["metadata"].get("namespace") == ns)
            ]
            return 200, self._page(f"{kind}List", items, query)
        return 404, status(404, "NotFound", f"the server could not find {url.path}")

    def _discovery(self, path: str) -> dict | None:
        """The discovery document at ``path``, or None when ``path`` is not one."""
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for group, version, *_ in self.resources:
                if group and version not in groups.setdefault(group, []):
                    groups[group].append(version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [
                            {"groupVersion": f"{group}/{v}", "version": v} for v in versions
                        ],
                        "preferredVersion": {
                            "groupVersion": f"{group}/{versions[0]}",
                            "version": versions[0],
                        },
                    }
                    for group, versions in groups.items()
                ],
            }
        for group, version, *_ in self.resources:
            root = f"/apis/{group}/{version}" if group else f"/api/{version}"
            if path == root:
                return {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version,
                    "resources": [
                        {
                            "name": name,
                            "singularName": kind.lower(),
                            "namespaced": namespaced,
                            "kind": kind,
                            "verbs": ["get", "list", "watch", "create", "delete"],
                        }
                        for g, v, kind, name, namespaced in self.resources
                        if (g, v) == (group, version)
                    ]
                    + [
                        {
                            "name": f"{name}/status",
                            "namespaced": namespaced,
                            "kind": kind,
                            "verbs": ["get", "patch"],
                        }
                        for g, v, kind, name, namespaced in self.resources
                        if (g, v) == (group, version)
                    ],
                }
        return None

    def _page(self, list_kind: str, items: list[dict], query: dict) -> dict:
        limit = int(query.get("limit", ["0"])[0]) or len(items) or 1
        start = int(query.get("continue", ["0"])[0] or 0)
        page = items[start : start + limit]
        metadata = {"resourceVersion": "12345"}
        if start + limit < len(items):
            metadata["continue"] = str(start + limit)
        return {"kind": list_kind, "apiVersion": "v1", "metadata": metadata, "items": page}
