"""Helpers for the webhook tests: dev certificates, a real ``oomguard serve`` process over TLS,
and AdmissionReviews shaped exactly as the API server sends them."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import trustme

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "webhook"

# kind -> (group, version, resource) as the API server names them in an AdmissionRequest
RESOURCES = {
    "Pod": ("", "v1", "pods"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "ConfigMap": ("", "v1", "configmaps"),
    "Service": ("", "v1", "services"),
}
OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TLSFiles:
    """A dev CA and a server certificate for 127.0.0.1/localhost, written as PEM files."""

    def __init__(self, folder: Path, ca: trustme.CA | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.ca = ca or trustme.CA()
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.cert_file = folder / "tls.crt"
        self.key_file = folder / "tls.key"
        self.issue()

    def issue(self, common_name: str = "oomguard.test") -> trustme.LeafCert:
        """A fresh server certificate, written the way kubelet updates a secret volume: new
        files renamed into place (each rename is atomic)."""
        leaf = self.ca.issue_cert("127.0.0.1", "localhost", common_name=common_name)
        for target, pem in (
            (self.cert_file, b"".join(blob.bytes() for blob in leaf.cert_chain_pems)),
            (self.key_file, leaf.private_key_pem.bytes()),
        ):
            staging = target.with_suffix(".new")
            staging.write_bytes(pem)
            os.replace(staging, target)
        return leaf


class Server:
    """``oomguard serve`` in a subprocess on a free port; stderr goes to a log file."""

    def __init__(
        self,
        folder: Path,
        tls: TLSFiles,
        config: dict[str, Any] | None = None,
        extra_args: tuple[str, ...] = (),
        entry: tuple[str, ...] = ("-m", "oomguard"),
        env: dict[str, str] | None = None,
        cwd: Path = REPO,
    ) -> None:
        self.tls = tls
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log_file = folder / f"serve-{self.port}.log"
        args = ["serve", "--cert", str(tls.cert_file), "--key", str(tls.key_file)]
        args += ["--host", "127.0.0.1", "--port", str(self.port), *extra_args]
        if config is not None:
            config_file = folder / f"config-{self.port}.json"  # JSON is YAML
            config_file.write_text(json.dumps(config))
            args += ["--config", str(config_file)]
        self._log = self.log_file.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *entry, *args],
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.session = requests.Session()
        self.session.verify = str(tls.ca_file)
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would replace verify otherwise
        self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oomguard serve exited {self.process.returncode}: {self.log()}")
            try:
                if requests.get(self.url + "/readyz", verify=self.session.verify, timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"oomguard serve not ready after {timeout} s: {self.log()}")

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        headers = kwargs.pop("headers", {"Content-Type": "application/json"})
        return self.session.post(self.url + path, data=data, headers=headers, timeout=10, **kwargs)

    def log(self) -> str:
        self._log.flush()
        return self.log_file.read_text(errors="replace")

    def json_log(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def metrics(self) -> dict[str, float]:
        """Samples of the oomguard metrics: ``name{labels}`` (labels sorted) → value."""
        text = self.session.get(self.url + "/metrics", timeout=10).text
        samples = {}
        for line in text.splitlines():
            if line.startswith("oomguard_"):
                key, value = line.rsplit(" ", 1)
                samples[key] = float(value)
        return samples

    def stop(self) -> int:
        self.session.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    namespace: str | None = "shop",
    old: dict[str, Any] | None = None,
    dry_run: bool = False,
    uid: str | None = None,
    api_version: str = "admission.k8s.io/v1",
    user: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An AdmissionReview as kube-apiserver sends it to a webhook. ``user``: the
    ``userInfo`` (username, uid, groups), by default a CI deployer's service account."""
    source = obj if obj is not None else old or {}
    kind = source.get("kind", "Pod")
    group, version, resource = RESOURCES[kind]
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": source.get("metadata", {}).get("name", ""),
        "operation": operation,
        "userInfo": user
        or {
            "username": "system:serviceaccount:ci:deployer",
            "uid": "5d1c2c1a-43f4-4a0e-9b3e-0f6a2c1d9e11",
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:ci",
                "system:authenticated",
            ],
            "extra": {"authentication.kubernetes.io/pod-name": ["deployer-7d9c"]},
        },
        "object": copy.deepcopy(obj),
        "oldObject": copy.deepcopy(old),
        "dryRun": dry_run,
        "options": {
            "apiVersion": "meta.k8s.io/v1",
            "kind": OPTIONS_KIND[operation],
            "fieldManager": "kubectl-client-side-apply",
        },
    }
    if namespace is not None:
        request["namespace"] = namespace
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": request}


def container(
    name: str,
    *,
    limit: str | None = None,
    request: str | None = None,
    env: dict[str, str] | None = None,
    image: str = "example.com/app:1.0",
    cpu: str | None = "100m",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "image": image}
    resources: dict[str, dict[str, str]] = {}
    if request or cpu:
        resources["requests"] = {
            **({"cpu": cpu} if cpu else {}),
            **({"memory": request} if request else {}),
        }
    if limit:
        resources["limits"] = {"memory": limit}
    if resources:
        spec["resources"] = resources
    if env:
        spec["env"] = [{"name": key, "value": value} for key, value in env.items()]
    return spec


def deployment(
    name: str,
    containers: list[dict[str, Any]],
    namespace: str = "shop",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": name}}
    template_metadata: dict[str, Any] = {"labels": {"app": name}}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": template_metadata, "spec": {"containers": containers}},
        },
    }


def pod(name: str, containers: list[dict[str, Any]], namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": containers},
    }
