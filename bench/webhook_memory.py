"""Worker memory of ``oomguard serve`` under the largest reviews it accepts.

Starts ``oomguard serve`` (2 workers, 8 threads, the default 6 MiB body cap), then for each
payload shape sends reviews just under the cap, first one at a time and then ``--parallel``
at once on 127.0.0.1, and reports each worker's peak RSS (``VmHWM`` from ``/proc``) after
each step, beside the idle figure. The chart's memory limit must stay above the worst total.

    .venv/bin/python bench/webhook_memory.py
    .venv/bin/python bench/webhook_memory.py --shapes annotation,containers --parallel 6
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import ssl
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_load import server_pids, start_server  # noqa: E402

CAP = 6 * 1024 * 1024
TARGET = CAP - 64 * 1024  # just under the cap, room for the envelope


def _review(obj: dict) -> bytes:
    gvk = {"group": "apps", "version": "v1", "kind": obj["kind"]}
    gvr = {"group": "apps", "version": "v1", "resource": "deployments"}
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": str(uuid.uuid4()),
                "kind": gvk,
                "resource": gvr,
                "namespace": "shop",
                "operation": "CREATE",
                "userInfo": {"username": "bench"},
                "object": obj,
                "dryRun": True,
            },
        }
    ).encode()


def _deployment(containers: list[dict], annotations: dict | None = None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "big", "namespace": "shop", "annotations": annotations or {}},
        "spec": {
            "selector": {"matchLabels": {"app": "big"}},
            "template": {
                "metadata": {"labels": {"app": "big"}},
                "spec": {"containers": containers},
            },
        },
    }


def _container(name: str, env: list[dict] | None = None) -> dict:
    memory = {"memory": "1Gi"}
    return {
        "name": name,
        "image": "example.com/app:1",
        "env": env or [],
        "resources": {"requests": memory, "limits": memory},
    }


def _shaped(shape: str, n: int) -> dict:
    if shape == "annotation":  # one huge string: JSON parse and the body itself
        return _deployment([_container("app")], {"pad": "x" * n})
    if shape == "long-flag":  # one long JAVA_TOOL_OPTIONS: the rules' flag parsing
        value = "-Xmx512m " + " ".join(f"-Dk{i}=v" for i in range(n))
        return _deployment([_container("app", [{"name": "JAVA_TOOL_OPTIONS", "value": value}])])
    if shape == "many-env":  # many small env vars: many Python objects
        return _deployment([_container("app", [{"name": f"V{i}", "value": "1"} for i in range(n)])])
    if shape == "containers":  # many containers: every rule runs per container
        return _deployment([_container(f"c{i}") for i in range(n)])
    raise SystemExit(f"unknown shape {shape}")


def payload(shape: str) -> bytes:
    """A review of about TARGET bytes (just under the cap) in one of the shapes that cost
    most to judge: sized from a small sample, then scaled."""
    sample = 1000
    size = len(_review(_shaped(shape, sample)))
    per_item = (len(_review(_shaped(shape, sample * 2))) - size) / sample
    n = int(sample + (TARGET - size) / per_item)
    body = _review(_shaped(shape, n))
    while len(body) > TARGET:  # items grow with their index: shrink until it fits
        n = int(n * TARGET / len(body) * 0.995)
        body = _review(_shaped(shape, n))
    return body


def post(port: int, ca: str, body: bytes) -> int | str:
    context = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=120)
    try:
        conn.request("POST", "/validate", body, {"Content-Type": "application/json"})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:  # a timeout is a result here
        return type(exc).__name__
    finally:
        conn.close()


def peaks(master: int) -> dict[int, int]:
    """Peak RSS (VmHWM) of each worker, in MiB."""
    result = {}
    for pid in server_pids(master)[1:]:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                result[pid] = int(line.split()[1]) // 1024
    return result


def _rss(master: int) -> int:
    for line in Path(f"/proc/{master}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="annotation,long-flag,many-env,containers")
    parser.add_argument("--parallel", type=int, default=6)
    args = parser.parse_args(argv)
    rows = []
    for shape in args.shapes.split(","):  # a fresh server per shape: peaks do not carry over
        folder = Path(tempfile.mkdtemp(prefix="oomguard-bench-"))
        process, port, ca = start_server(folder, 2, 8)
        try:
            time.sleep(1)
            rows.append((f"{shape}: idle", "-", 0, 0.0, peaks(process.pid), _rss(process.pid)))
            body = payload(shape)
            started = time.monotonic()
            status = post(port, ca, body)
            elapsed = time.monotonic() - started
            rows.append((shape, status, 1, elapsed, peaks(process.pid), _rss(process.pid)))
            started = time.monotonic()
            with ThreadPoolExecutor(args.parallel) as pool:
                statuses = list(pool.map(partial(post, port, ca), [body] * args.parallel))
            elapsed = time.monotonic() - started
            status = ",".join(str(s) for s in statuses)
            rows.append(
                (shape, status, args.parallel, elapsed, peaks(process.pid), _rss(process.pid))
            )
            print(
                json.dumps({"shape": shape, "bytes": len(body), "rows": rows[-3:]}), file=sys.stderr
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}, body cap {CAP // 1024 // 1024} MiB, 2 workers")
    print("| reviews | at once | status | seconds | worker peak RSS MiB (VmHWM) | master MiB |")
    print("|---|---|---|---|---|---|")
    for shape, status, count, seconds, peak, master in rows:
        values = sorted(peak.values())
        print(f"| {shape} | {count} | {status} | {seconds:.2f} | {values} | {master} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
