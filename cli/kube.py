"""Talking to the Kubernetes API server with the kubernetes client's configuration, auth and
TLS, but plain JSON in and out: the rules want objects exactly as the API serves them
(camelCase dicts), not the client's generated models.

Used by ``oomguard audit`` and by the webhook's optional look-ups (their ConfigMap and Secret
reads: ``oomguard.cluster_sources``); never imported by ``oomguard lint``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

PAGE_SIZE = 250


class ApiError(Exception):
    """An API call that failed: HTTP status (0 for a connection problem) and reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {reason}" if status else reason)
        self.status = status


class Cluster:
    """GET requests against the API server, with the kubernetes client's auth and TLS."""

    def __init__(self, api_client: Any, timeout: float = 10.0):
        self.api_client = api_client
        self.timeout = timeout

    def get(
        self, path: str, query: list[tuple[str, Any]] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """One JSON object; ``timeout`` (seconds) overrides the client's for this call."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        method, url, headers, body, post = self.api_client.param_serialize(
            "GET",
            path,
            query_params=query or [],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api_client.call_api(
                method, url, headers, body, post, _request_timeout=timeout or self.timeout
            )
            data = response.read()
        except ApiException as exc:
            raise ApiError(exc.status or 0, exc.reason or "error") from None
        except (HTTPError, OSError) as exc:
            raise ApiError(0, connection_problem(exc, timeout or self.timeout)) from None
        if response.status >= 400:
            raise ApiError(response.status, _reason(data, response.reason))
        try:
            return json.loads(data)
        except ValueError:
            raise ApiError(
                response.status, "the API server answered with something not JSON"
            ) from None

    def apply(self, path: str, obj: dict[str, Any], field_manager: str) -> dict[str, Any]:
        """Server-side apply of ``obj`` at ``path`` (the object's own URL), owned by
        ``field_manager``; ``force``: this manager takes the fields it sets from any other
        (the report is oomguard's alone). The applied object as the server returns it."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        method, url, headers, body, post = self.api_client.param_serialize(
            "PATCH",
            path,
            query_params=[("fieldManager", field_manager), ("force", "true")],
            header_params={
                "Accept": "application/json",
                "Content-Type": "application/apply-patch+yaml",
            },
            body=json.dumps(obj),  # JSON is YAML; a string body is sent as it is
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api_client.call_api(
                method, url, headers, body, post, _request_timeout=self.timeout
            )
            data = response.read()
        except ApiException as exc:
            raise ApiError(exc.status or 0, exc.reason or "error") from None
        except (HTTPError, OSError) as exc:
            raise ApiError(0, connection_problem(exc, self.timeout)) from None
        if response.status >= 400:
            raise ApiError(response.status, _reason(data, response.reason))
        try:
            return json.loads(data)
        except ValueError:
            raise ApiError(
                response.status, "the API server answered with something not JSON"
            ) from None

    def watch(self, path: str, resource_version: str, timeout_seconds: int = 300) -> Iterator[dict]:
        """Watch events (``{"type": ..., "object": ...}``) of a collection from
        ``resource_version``, until the server ends the stream."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout_seconds),
        ]
        method, url, headers, body, post = self.api_client.param_serialize(
            "GET",
            path,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api_client.call_api(
                method,
                url,
                headers,
                body,
                post,
                _request_timeout=(self.timeout, timeout_seconds + 5),
            )
            if response.status >= 400:
                raise ApiError(response.status, _reason(response.read(), response.reason))
            pending = b""
            for chunk in response.response.stream(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        except ApiException as exc:
            raise ApiError(exc.status or 0, exc.reason or "error") from None
        except (HTTPError, OSError) as exc:
            raise ApiError(0, connection_problem(exc, self.timeout)) from None
        except ValueError as exc:
            raise ApiError(0, f"watch stream is not JSON lines: {exc}") from None

    def list(self, path: str, kind: str) -> Iterator[dict[str, Any]]:
        """Every item of a collection, page by page, with ``kind`` filled in (list items
        carry no kind of their own)."""
        for page in self.pages(path):
            for item in page.get("items") or ():
                if isinstance(item, dict):
                    item.setdefault("kind", kind)
                    yield item

    def pages(self, path: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The pages of a paged list (``limit`` items each, default :data:`PAGE_SIZE`;
        ``continue`` tokens), as the API server sends them: the one paging loop, for the
        audit's lists and the webhook's watches alike."""
        token = None
        while True:
            query: list[tuple[str, Any]] = [("limit", limit or PAGE_SIZE)]
            if token:
                query.append(("continue", token))
            page = self.get(path, query)
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return


def connect(kubeconfig: str | None, context: str | None, timeout: float) -> tuple[Cluster, str]:
    """A Cluster from a kubeconfig (``--kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config``) or,
    inside a pod, the service account; and the namespace to audit by default."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    # No retries: a retry multiplies every timeout (the webhook has a 50 ms budget), and
    # every caller reports the failure and goes on.
    configuration.retries = False
    namespace = "default"
    try:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = context or (active or {}).get("name")
        for entry in config.list_kube_config_contexts(config_file=kubeconfig)[0]:
            if entry.get("name") == chosen:
                namespace = (entry.get("context") or {}).get("namespace") or namespace
    except (ConfigException, OSError, TypeError) as exc:
        if kubeconfig or context:
            raise ApiError(0, f"kubeconfig: {exc}") from None
        try:
            config.load_incluster_config(client_configuration=configuration)
        except ConfigException:
            raise ApiError(0, f"no kubeconfig and not in a cluster ({exc})") from None
        namespace = _incluster_namespace() or namespace
    return Cluster(client.ApiClient(configuration), timeout), namespace


def connection_problem(exc: Exception, timeout: float) -> str:
    """One line for an error below HTTP: a timeout says so, anything else says what failed."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError

    reason = getattr(exc, "reason", None) or exc
    # urllib3 2 makes NewConnectionError (a refused or unroutable connection) a subclass of
    # ConnectTimeoutError: it is no timeout, and "connection refused" is what the user needs
    if isinstance(reason, NewConnectionError):
        cause = reason.__context__ or reason.__cause__
        why = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(reason)
        return f"cannot connect to the API server: {why}"
    if isinstance(reason, ReadTimeoutError | ConnectTimeoutError | TimeoutError):
        return f"API server timed out after {timeout * 1000:.0f} ms"
    return f"cannot reach the API server: {type(reason).__name__}: {reason}"


def _incluster_namespace() -> str | None:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def _reason(data: bytes, fallback: str | None) -> str:
    try:
        return json.loads(data).get("message") or fallback or "error"
    except (ValueError, AttributeError):
        return fallback or "error"
