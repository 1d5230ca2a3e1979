"""``oomguard audit`` as a user meets it: the progress line, what a 403 or a refused
connection reads like. Against tests/fake_apiserver.py, a local server that answers with the
Kubernetes API's JSON shapes (a contract test double: there is no API server here)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from fake_apiserver import FakeApiServer
from oomguard.kube import connect
from oomguard.linter.audit import audit, progress_line
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.engine import check_object
from test_audit import cluster_objects

LONG_NAMESPACE = "payments-" + "x" * 60


def test_progress_line_is_cut_to_the_width_and_escaped():
    line = progress_line(f"[1/3] {LONG_NAMESPACE}", 40)
    assert line.startswith("\r\033[K")  # back to the start, clear the old line
    text = line.removeprefix("\r\033[K")
    assert text == f"oomguard audit [1/3] {LONG_NAMESPACE}"[:39]
    assert progress_line("[1/1] a\x1b[2Jb", 80) == "\r\033[Koomguard audit [1/1] a\\x1b[2Jb"


def _audit_on_a_terminal(kubeconfig: str, columns: int) -> tuple[bytes, str]:
    """stderr (a pseudo-terminal) and stdout (a pipe) of ``oomguard audit -A``."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "oomguard", "audit", "--kubeconfig", kubeconfig, "-A"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)},
    )
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    stdout = child.communicate(timeout=60)[0].decode()
    os.close(leader)
    return terminal, stdout


def test_progress_on_a_narrow_terminal_never_wraps(tmp_path):
    with FakeApiServer(cluster_objects(), namespace_labels={LONG_NAMESPACE: {}}) as api:
        terminal, stdout = _audit_on_a_terminal(api.kubeconfig(tmp_path / "kubeconfig"), 30)
    updates = terminal.decode().split("\r\x1b[K")
    progress = [u for u in updates if u.startswith("oomguard audit [")]
    assert len(progress) == 4  # one per namespace: payments-xxx…, secure, shop, tools
    assert all(len(u) <= 29 for u in progress), progress
    assert progress[0] == "oomguard audit [1/4] payments"  # 29 columns of a 30-column terminal
    assert stdout.splitlines()[-1].startswith("4 namespaces, ")


def test_forbidden_configmap_says_forbidden_not_missing(tmp_path):
    forbidden = {"/api/v1/namespaces/tools/configmaps/"}
    with FakeApiServer(cluster_objects(), forbidden=forbidden) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        result = audit(cluster, ["tools"], DEFAULT_CONFIG)
    (unresolved,) = [
        f for f in result.findings if f.rule == "runtime-flag-unresolved" and f.name == "search"
    ]
    assert unresolved.message == (
        'env JAVA_TOOL_OPTIONS from ConfigMap "jvm-flags" key "JAVA_TOOL_OPTIONS" in container '
        '"search" cannot be checked: ConfigMap "jvm-flags" cannot be read: forbidden (403): '
        "the audit's credentials may not read it"
    )
    assert result.api_errors == [
        "ConfigMap tools/jvm-flags: 403 forbidden: cannot list resource at "
        '"/api/v1/namespaces/tools/configmaps/jvm-flags"'
    ]


def test_unreadable_envfrom_source_says_why():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "eclipse-temurin:21-jre",
                    "command": ["java", "-jar", "app.jar"],
                    "envFrom": [{"configMapRef": {"name": "jvm"}}],
                    "resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "1Gi"}},
                }
            ]
        },
    }
    evaluation = check_object(pod, DEFAULT_CONFIG, lookup=lambda kind, ns, name: "forbidden (403)")
    (unresolved,) = [f for f in evaluation.findings if f.rule == "runtime-flag-unresolved"]
    assert unresolved.message.startswith(
        'envFrom ConfigMap "jvm" (cannot be read: forbidden (403)) of container "app" '
        "is not available, so the heap settings"
    )
    assert evaluation.crashes == []


def test_all_namespaces_without_list_permission_says_to_use_n(tmp_path, run_oomguard):
    with FakeApiServer(cluster_objects(), forbidden={"/api/v1/namespaces"}) as api:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
        result = run_oomguard("audit", "--kubeconfig", kubeconfig, "-A")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "oomguard: API error: listing namespaces: 403 forbidden: cannot list resource at "
        '"/api/v1/namespaces"; these credentials may not list namespaces: name the ones to '
        "audit with -n NS (repeatable)"
    )


def test_refused_connection_is_not_called_a_timeout(tmp_path, run_oomguard):
    with FakeApiServer([]) as api:  # started for its free port, then closed: nothing listens
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    result = run_oomguard("audit", "--kubeconfig", kubeconfig, "-n", "shop")
    assert result.returncode == 2
    assert "timed out" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "oomguard: API error: namespace shop: cannot connect to the API server: Connection refused"
    )
