"""The C load generator of ``bench/webhook_load.py --generator c`` (``bench/loadgen/loadgen.c``):
it builds, and against a real ``oomguard serve`` over TLS it sends exactly the requests its
schedule holds, gets every one answered with HTTP 200 and the request's own uid, and reconnects
when the server ends a kept-alive connection. Needs gcc and the OpenSSL headers (libssl-dev):
without them this test fails and says so; it is never skipped. No timing is asserted: the
latencies live in bench/RESULTS.md."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from conftest_webhook import REPO, Server, TLSFiles

spec = importlib.util.spec_from_file_location("webhook_load", REPO / "bench" / "webhook_load.py")
webhook_load = importlib.util.module_from_spec(spec)
spec.loader.exec_module(webhook_load)

# webhook/worker.py KEEPALIVE_REQUESTS: the server answers the 200th request on a connection
# with "Connection: close"; warming one connection with 190 requests makes the measured run
# cross that limit, so the reconnect path is exercised on every run.
KEEPALIVE_REQUESTS = 200


NEEDS = (
    "tests/test_loadgen.py needs gcc and the OpenSSL headers (Debian: apt-get install gcc "
    "libssl-dev) to build bench/loadgen/loadgen.c"
)


def build(tmp_path: Path) -> Path:
    """The generator, compiled for this test; a failure, never a skip, when it cannot be."""
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.fail(f"{NEEDS}: no gcc on PATH")
    try:
        return webhook_load.build_loadgen(tmp_path / "bin")
    except SystemExit as error:  # the compiler's first line: usually the missing header
        pytest.fail(f"{NEEDS}: {error}")


def test_loadgen_builds_and_measures_a_real_server(tmp_path):
    binary = build(tmp_path)
    server = Server(tmp_path, TLSFiles(tmp_path / "tls"), None, ("--workers", "1"))
    try:
        request_file = tmp_path / "request.bin"
        placeholder = webhook_load._PLACEHOLDER
        request_file.write_bytes(webhook_load.request_bytes("127.0.0.1", "/validate", placeholder))
        command = [str(binary), "--port", str(server.port), "--ca", str(server.tls.ca_file)]
        command += ["--request", str(request_file), "--uid-placeholder", placeholder]
        command += ["--rate", "50", "--duration", "1", "--connections", "1", "--warmup", "190"]
        done = webhook_load.subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        assert server.stop() == 0
    assert done.returncode == 0, done.stderr
    result = webhook_load.json.loads(done.stdout)
    assert result["warmup_requests"] == 190 and result["warmup_errors"] == 0, result
    assert 45 <= result["requests"] <= 55, result  # 50/s x 1 s, +-10 %
    assert result["ok"] == result["requests"], result  # every answer 200 with its own uid
    assert result["errors"] == 0 and result["connect_errors"] == 0, result
    assert result["reconnects"] == 1, result  # request 200 of 240 on the one connection
    assert result["cpu_ms_per_request"] > 0, result


def test_loadgen_counts_a_wrong_uid_as_an_error(tmp_path):
    """The check is real: a request whose uid the generator does not splice (the placeholder is
    another string) is answered 200 with a uid the generator did not send, so it counts it."""
    binary = build(tmp_path)
    server = Server(tmp_path, TLSFiles(tmp_path / "tls"), None, ("--workers", "1"))
    try:
        request_file = tmp_path / "request.bin"
        fixed = "11111111-2222-3333-4444-555555555555"
        head, blank, body = webhook_load.request_bytes("127.0.0.1", "/validate", fixed).partition(
            b"\r\n\r\n"
        )
        # the placeholder only in a header the server ignores: the review keeps the fixed uid
        head += f"\r\nX-Id: {webhook_load._PLACEHOLDER}".encode()
        request_file.write_bytes(head + blank + body)
        command = [str(binary), "--port", str(server.port), "--ca", str(server.tls.ca_file)]
        command += ["--request", str(request_file), "--rate", "20", "--duration", "0.5"]
        command += ["--connections", "1", "--warmup", "0"]
        done = webhook_load.subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        assert server.stop() == 0
    assert done.returncode == 0, done.stderr
    result = webhook_load.json.loads(done.stdout)
    assert result["requests"] == 10, result
    assert result["ok"] == 0 and result["errors_body"] == 10, result
