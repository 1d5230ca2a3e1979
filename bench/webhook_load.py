"""Load test of ``oomguard serve``: TLS, keep-alive, real AdmissionReviews, fixed rates.

Starts ``oomguard serve`` (a dev certificate from trustme, its log to a file), then drives
it from separate client processes, one keep-alive connection each, run at the lowest CPU
priority since they share the machine with the server. Fixed-rate runs schedule every request
in advance; latency is measured from the actual send, and also from the scheduled slot (a
slow answer that delays the next send then counts against the server: no coordinated
omission) with the client's own lag beside it. The saturation run sends back to back on
``--connections`` connections and reports what the server sustains. ``machine busy %`` shows
whether anything else was using the CPUs during a run.

    python bench/webhook_load.py                       # 100, 500, 1000/s for 60 s + saturation
    python bench/webhook_load.py --rates 500 --duration 10 --saturation 0
    python bench/webhook_load.py --abuse malformed,stall,slowbody   # good reviews beside abuse

``--generator c`` drives the same fixed-rate and saturation runs from a small C program
(``bench/loadgen/loadgen.c``: epoll, OpenSSL, one thread; compiled with gcc into ``bench/out``
on first use) instead of Python processes: it sends the same request bytes on the same number
of keep-alive connections and uses 0.03-0.09 ms of CPU per request (TLS, and the loopback TCP
work the kernel charges it) instead of the Python generator's 0.27-0.45 ms, so at 1,000/s far
less of the two CPUs goes to the generator. It still shares them with the server: a leaner
generator, not a second machine.

``--abuse`` runs, for each named kind of abuse, good reviews one after another (``--abuse-reviews``)
while adversaries run beside them on 127.0.0.1, and reports their latency: ``malformed`` (2
threads posting malformed bodies, ~200/s each), ``stall`` (30 clients that connect and stall:
silent TCP, half a ClientHello, headers one byte per 200 ms), ``slowbody`` (50 clients that send
full headers with ``Content-Length: 1000000`` and then stall). This is where those latencies
live; the tests (``tests/test_webhook_abuse.py``) only check that every good review is answered.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOADGEN_SOURCE = Path(__file__).resolve().parent / "loadgen" / "loadgen.c"
WARMUP_PER_CONNECTION = 20


def deployment_review(uid: str) -> bytes:
    """A 3-container Deployment (JVM app, Go sidecar, log shipper) as the API server sends it;
    it passes, with one headroom warning."""

    def container(name, image, memory, env):
        return {
            "name": name,
            "image": image,
            "env": [{"name": k, "value": v} for k, v in env.items()],
            "resources": {
                "requests": {"cpu": "250m", "memory": memory},
                "limits": {"cpu": "1", "memory": memory},
            },
        }

    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "labels": {"app": "checkout"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {
                    "containers": [
                        container(
                            "checkout",
                            "example.com/shop/checkout:3.2.0",
                            "2Gi",
                            {"JAVA_TOOL_OPTIONS": "-XX:MaxRAMPercentage=80 -XX:+UseG1GC"},
                        ),
                        container(
                            "proxy", "example.com/mesh/proxy:1.9", "256Mi", {"GOMEMLIMIT": "200MiB"}
                        ),
                        container("log-shipper", "fluent/fluent-bit:3.1", "128Mi", {}),
                    ]
                },
            },
        },
    }
    gvk = {"group": "apps", "version": "v1", "kind": "Deployment"}
    gvr = {"group": "apps", "version": "v1", "resource": "deployments"}
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": "checkout",
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:ci:deployer", "groups": ["ci"]},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
    return json.dumps(review).encode()


# --- client side (runs in separate processes) --------------------------------------------------


def _connect(host: str, port: int, ca: str) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=10)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
_TEMPLATE = deployment_review(_PLACEHOLDER).split(_PLACEHOLDER.encode())


def request_bytes(host: str, path: str, uid: str) -> bytes:
    """One whole request, headers and body, as both load generators send it."""
    body = uid.encode().join(_TEMPLATE)  # the same review, a fresh uid, no per-request dumps
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _one(conn: http.client.HTTPSConnection, path: str) -> bool:
    """One review. The request leaves in one write, as the API server's Go client sends a
    review of a few KiB (its transport buffers headers and body, 4 KiB, and flushes once);
    ``http.client`` writes headers and body apart, so the server often woke for half a
    request. A ``Connection: close`` answer (every 200th) closes ``conn``; the caller
    reconnects."""
    uid = str(uuid.uuid4())
    conn.sock.sendall(request_bytes(conn.host, path, uid))
    response = http.client.HTTPResponse(conn.sock, method="POST")
    response.begin()
    data = response.read()
    if response.will_close:
        conn.close()
    return response.status == 200 and f'"uid":"{uid}"'.encode() in data


def client(job: dict) -> dict:
    """One connection: fixed-rate (``rate`` > 0) or back to back until ``end``."""
    # The load generator shares the 2 CPUs with the server: at the lowest priority it takes
    # the CPU only when the server does not need it, as a separate machine would.
    os.nice(job["nice"])
    conn = _connect(job["host"], job["port"], job["ca"])
    for _ in range(WARMUP_PER_CONNECTION):  # warm the connection and the server's code paths
        if conn.sock is None:
            conn = _connect(job["host"], job["port"], job["ca"])
        _one(conn, job["path"])
    latencies, lags, errors = [], [], 0
    start, end, rate = job["start"], job["end"], job["rate"]
    index = job["index"]  # of this connection's next slot in the whole schedule
    while True:
        now = time.monotonic()
        if rate:  # fixed rate: slot j is start + j / rate for j < total, never accumulated
            if index >= job["total"]:
                break
            scheduled = start + index / rate
            if scheduled > now:
                time.sleep(scheduled - now)
            slot = scheduled
            index += job["connections"]
        else:  # back to back
            if now >= end:
                break
            if now < start:
                time.sleep(start - now)
                continue
            slot = now
        if conn.sock is None:  # the server said Connection: close
            conn = _connect(job["host"], job["port"], job["ca"])
        sent = time.monotonic()
        try:
            ok = _one(conn, job["path"])
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = _connect(job["host"], job["port"], job["ca"])
        latencies.append(time.monotonic() - sent)
        lags.append(sent - slot)
        errors += not ok
    conn.close()
    return {"latencies": latencies, "lags": lags, "errors": errors, "finished": time.monotonic()}


def run_load(host, port, ca, path, rate, duration, connections, nice=19) -> dict:
    """``rate`` reviews/s spread over ``connections`` processes (0 = back to back)."""
    start = time.monotonic() + 2.0  # time to fork and warm up
    end = start + duration
    # slots j / rate < duration: the first rate x duration indices, rounded up
    total = math.ceil(rate * duration - 1e-9) if rate else 0
    jobs = [
        {
            "host": host,
            "port": port,
            "ca": ca,
            "path": path,
            "start": start,
            "end": end,
            "rate": rate,
            "index": index,
            "total": total,
            "connections": connections,
            "nice": nice,
        }
        for index in range(connections)
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with ProcessPoolExecutor(connections) as pool:
        results = list(pool.map(client, jobs))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's processes, now reaped
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    latencies = sorted(x for r in results for x in r["latencies"])
    # with the slot lag: what a client would see if it could not send early
    from_slot = sorted(
        x + y for r in results for x, y in zip(r["latencies"], r["lags"], strict=True)
    )
    lags = sorted(x for r in results for x in r["lags"])
    errors = sum(r["errors"] for r in results)
    # a load generator that fell behind keeps sending after ``end``: rate over the real span
    span = max(duration, max(r["finished"] for r in results) - start)
    summary = summarise(latencies, from_slot, lags, errors, span, rate)
    summary["warmup_requests"] = WARMUP_PER_CONNECTION * connections
    sent = len(latencies) + summary["warmup_requests"]
    summary["client_cpu_ms_per_review"] = round(client_cpu * 1000 / sent, 3)
    summary["load_average"] = round(os.getloadavg()[0], 1)
    return summary


# --- the C load generator (bench/loadgen/loadgen.c) ---------------------------------------------


def build_loadgen(folder: Path) -> Path:
    """Compile ``loadgen.c`` into ``folder`` unless an up-to-date binary is there; a clear
    one-line ``SystemExit`` when gcc or the OpenSSL headers are missing."""
    binary = folder / "loadgen"
    if binary.exists() and binary.stat().st_mtime >= LOADGEN_SOURCE.stat().st_mtime:
        return binary
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise SystemExit("--generator c needs gcc (and the OpenSSL headers, libssl-dev): not found")
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f"loadgen.{os.getpid()}"  # renamed into place: parallel builds never race
    command = [gcc, "-O2", "-Wall", "-o", str(staging), str(LOADGEN_SOURCE), "-lssl", "-lcrypto"]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        first = (built.stderr.strip().splitlines() or ["no output"])[0]
        raise SystemExit(
            f"--generator c: {' '.join(command)} failed (gcc and the OpenSSL headers, "
            f"libssl-dev, are needed): {first}"
        )
    os.replace(staging, binary)
    return binary


def run_load_c(
    binary: Path, folder: Path, host, port, ca, path, rate, duration, connections, nice=0
) -> dict:
    """``run_load`` with the C generator: the same request bytes (written to a file for it),
    the same connections and warm-up, the same summary keys plus its own figures."""
    request_file = folder / "request.bin"
    request_file.write_bytes(request_bytes(host, path, _PLACEHOLDER))
    command = [str(binary), "--host", host, "--port", str(port), "--ca", ca]
    command += ["--request", str(request_file), "--uid-placeholder", _PLACEHOLDER]
    command += ["--rate", str(rate), "--duration", str(duration)]
    command += ["--connections", str(connections), "--warmup", str(WARMUP_PER_CONNECTION)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=duration + 120,
        preexec_fn=lambda: os.nice(nice),  # --nice: 0 unless asked (see main)
    )
    if done.returncode != 0:
        raise SystemExit(f"loadgen failed ({done.returncode}): {done.stderr.strip()}")
    return summarise_c(json.loads(done.stdout), rate)


def summarise_c(raw: dict, rate: float) -> dict:
    """The C generator's JSON line in ``summarise``'s keys (ms, 2 decimals) plus its own."""

    def ms(key: str) -> float:
        return round(raw[key], 2)

    return {
        "target_rate": rate or "max",
        "requests": raw["requests"],
        "achieved_rate": raw["achieved_rate"],
        "errors": raw["errors"],
        "p50_ms": ms("p50_ms"),
        "p90_ms": ms("p90_ms"),
        "p99_ms": ms("p99_ms"),
        "max_ms": ms("max_ms"),
        "slot_p99_ms": ms("slot_p99_ms") if rate else None,
        "slot_p999_ms": ms("slot_p999_ms") if rate else None,
        "lag_p99_ms": ms("lag_p99_ms") if rate else None,
        "own_lag_p99_ms": ms("own_lag_p99_ms") if rate else None,
        "reconnects": raw["reconnects"],
        "warmup_requests": raw["warmup_requests"],
        "client_cpu_ms_per_review": round(raw["cpu_ms_per_request"], 4),
        "load_average": round(os.getloadavg()[0], 1),
        "loadgen": raw,
    }


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000, 2)


def summarise(latencies, from_slot, lags, errors, duration, rate) -> dict:
    """Latency from send to answer (``p*_ms``); from the scheduled slot (``slot_p99_ms``,
    includes load-generator lag); and the lag itself (``lag_p99_ms``)."""
    return {
        "target_rate": rate or "max",
        "requests": len(latencies),
        "achieved_rate": round(len(latencies) / duration, 1),
        "errors": errors,
        "p50_ms": _pct(latencies, 50),
        "p90_ms": _pct(latencies, 90),
        "p99_ms": _pct(latencies, 99),
        "max_ms": _pct(latencies, 100),
        "slot_p99_ms": _pct(from_slot, 99) if rate else None,
        "slot_p999_ms": _pct(from_slot, 99.9) if rate else None,
        "lag_p99_ms": _pct(lags, 99) if rate else None,
        "own_lag_p99_ms": None,  # not told apart: a Python client's lag includes its busy time
        "reconnects": None,
    }


# --- abuse beside good reviews (threads in this process, 127.0.0.1 only) ------------------------

MALFORMED = [b"{not json", b"[]", b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00garbage"]


def _malformed_flood(port: int, ca: str, stop) -> None:
    conn = _connect("127.0.0.1", port, ca)
    index = 0
    while not stop.is_set():
        try:
            conn.request(
                "POST",
                "/validate",
                MALFORMED[index % len(MALFORMED)],
                {"Content-Type": "application/json"},
            )
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = _connect("127.0.0.1", port, ca)
        index += 1
        time.sleep(0.005)
    conn.close()


def _staller(port: int, ca: str, stop, kind: str) -> None:
    """Hold a connection without finishing a request; reconnect when the server cuts it."""
    context = ssl.create_default_context(cafile=ca)
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                if kind == "silent":
                    stop.wait(30)
                    continue
                if kind == "half-hello":
                    raw.sendall(b"\x16\x03\x01\x00")
                    while not stop.is_set() and raw.recv(1):
                        pass
                    continue
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    if kind == "trickle":
                        for byte in b"POST /validate HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 999:
                            if stop.is_set():
                                break
                            tls.sendall(bytes([byte]))
                            time.sleep(0.2)
                    else:  # slowbody: whole headers, then a body that never comes
                        tls.sendall(
                            b"POST /validate HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
                        )
                        while not stop.is_set() and tls.recv(1024):
                            pass
        except OSError:
            stop.wait(0.05)


ABUSE = {
    "malformed": [("flood", 2)],
    "stall": [("silent", 10), ("half-hello", 10), ("trickle", 10)],
    "slowbody": [("slowbody", 50)],
}


def run_abuse(port: int, ca: str, kind: str, reviews: int) -> dict:
    """Good reviews, one after another on one keep-alive connection, beside ``kind``."""
    import threading

    stop = threading.Event()
    threads = []
    for role, count in ABUSE[kind]:
        for _ in range(count):
            if role == "flood":
                target, extra = _malformed_flood, ()
            else:
                target, extra = _staller, (role,)
            thread = threading.Thread(target=target, args=(port, ca, stop, *extra), daemon=True)
            thread.start()
            threads.append(thread)
    time.sleep(1.0)  # let the adversaries take their threads
    latencies, errors = [], 0
    conn = _connect("127.0.0.1", port, ca)
    try:
        for _ in range(reviews):
            if conn.sock is None:  # the server said Connection: close
                conn = _connect("127.0.0.1", port, ca)
            sent = time.monotonic()
            try:
                ok = _one(conn, "/validate")
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = _connect("127.0.0.1", port, ca)
            latencies.append(time.monotonic() - sent)
            errors += not ok
            time.sleep(0.01)
        health = http.client.HTTPSConnection(
            "127.0.0.1", port, context=ssl.create_default_context(cafile=ca), timeout=10
        )
        health.request("GET", "/healthz")
        healthz = health.getresponse().status
    finally:
        conn.close()
        stop.set()
        for thread in threads:
            thread.join(5)
    latencies.sort()
    return {
        "abuse": kind,
        "adversaries": sum(count for _, count in ABUSE[kind]),
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": _pct(latencies, 50),
        "p99_ms": _pct(latencies, 99),
        "max_ms": _pct(latencies, 100),
        "healthz_after": healthz,
    }


# --- server side -------------------------------------------------------------------------------


def server_pids(pid: int) -> list[int]:
    """The master and its workers."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *map(int, children)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by the server's processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in server_pids(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def rss_mib(pid: int) -> float:
    """Resident memory of the server: the master and its workers."""
    total = 0
    for each in server_pids(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def start_server(
    folder: Path, workers: int, threads: int, repo: Path = REPO
) -> tuple[subprocess.Popen, int, str]:
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, ca_file = folder / "tls.crt", folder / "tls.key", folder / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (folder / "serve.log").open("wb")
    python = sys.executable if repo == REPO else str(repo / ".venv" / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    process = subprocess.Popen(
        [python, "-m", "oomguard", "serve", "--cert", str(cert), "--key", str(key)]
        + ["--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", str(workers), "--threads", str(threads)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=repo,
        env=env,  # with bytecode, as users have it
    )
    context = ssl.create_default_context(cafile=str(ca_file))
    for _ in range(200):
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return process, port, str(ca_file)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start; see {folder / 'serve.log'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,500,1000", help="reviews/s, comma-separated")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument(
        "--connections", type=int, default=4, help="keep-alive connections (Python: processes)"
    )
    parser.add_argument(
        "--generator",
        choices=("python", "c"),
        default="python",
        help="load generator: Python processes, or bench/loadgen/loadgen.c (needs gcc, libssl-dev)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=None,
        help="the load generator's niceness; default 19 for python (it takes only the CPU the "
        "server leaves), 0 for c (it needs ~5 %% of a core and, woken at once, measures the "
        "server rather than its own wait for a CPU)",
    )
    parser.add_argument("--saturation", type=float, default=30.0, help="seconds (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--endpoint", choices=("validate", "mutate"), default="validate")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--abuse", default="", help="malformed,stall,slowbody (see above)")
    parser.add_argument("--abuse-reviews", type=int, default=300, help="good reviews per abuse")
    parser.add_argument(
        "--repo",
        type=Path,
        default=REPO,
        help="serve this checkout (its .venv) with this load generator, to compare trees",
    )
    args = parser.parse_args(argv)
    if args.abuse:
        return main_abuse(args)

    binary = build_loadgen(REPO / "bench" / "out") if args.generator == "c" else None
    if args.nice is None:
        args.nice = 19 if binary is None else 0
    folder = Path(tempfile.mkdtemp(prefix="oomguard-bench-"))
    process, port, ca = start_server(folder, args.workers, args.threads, args.repo.resolve())
    path = f"/{args.endpoint}"
    results = []
    try:
        rss_before = rss_mib(process.pid)
        runs = [(float(r), args.duration) for r in args.rates.split(",") if r]
        if args.saturation:
            runs.append((0.0, args.saturation))
        for rate, duration in runs:
            cpu_before, ticks_before = cpu_seconds(process.pid), machine_ticks()
            load = ("127.0.0.1", port, ca, path, rate, duration, args.connections, args.nice)
            result = run_load(*load) if binary is None else run_load_c(binary, folder, *load)
            cpu_used = cpu_seconds(process.pid) - cpu_before  # includes the warm-up requests
            ticks_after = machine_ticks()
            busy = ticks_after[0] - ticks_before[0]
            # every CPU of the machine, busy %: server + load generator + anything else running
            result["machine_busy_pct"] = round(100 * busy / (ticks_after[1] - ticks_before[1]))
            result["server_cpu_ms_per_review"] = round(
                cpu_used * 1000 / (result["requests"] + result["warmup_requests"]), 3
            )
            result["rss_mib_after"] = rss_mib(process.pid)
            results.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(),
        "server": {"workers": args.workers, "threads": args.threads, "endpoint": path},
        "repo": str(args.repo),
        "generator": args.generator,
        "connections": args.connections,
        "generator_nice": args.nice,
        "duration_s": args.duration,
        "rss_mib_before": rss_before,
        "runs": results,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{summary['date']}, {summary['cpus']} CPUs, server {summary['server']} from "
        f"{summary['repo']}, "
        f"{args.connections} keep-alive TLS connections from the {args.generator} load generator "
        f"(nice {args.nice}), "
        f"RSS before {rss_before} MiB"
    )
    columns = [
        ("rate/s", "target_rate"),
        ("requests", "requests"),
        ("achieved/s", "achieved_rate"),
        ("errors", "errors"),
        ("p50 ms", "p50_ms"),
        ("p90 ms", "p90_ms"),
        ("p99 ms", "p99_ms"),
        ("max ms", "max_ms"),
        ("p99 from slot ms", "slot_p99_ms"),
        ("p99.9 from slot ms", "slot_p999_ms"),
        ("client lag p99 ms", "lag_p99_ms"),
        ("generator's own lag p99 ms", "own_lag_p99_ms"),
        ("reconnects", "reconnects"),
        ("server CPU ms/review", "server_cpu_ms_per_review"),
        ("load generator CPU ms/review", "client_cpu_ms_per_review"),
        ("load average after", "load_average"),
        ("machine busy %", "machine_busy_pct"),
        ("RSS after MiB", "rss_mib_after"),
    ]
    print("| " + " | ".join(title for title, _ in columns) + " |")
    print("|" + "---|" * len(columns))
    for r in results:
        print("| " + " | ".join(_cell(r[key]) for _, key in columns) + " |")
    return 0


def _cell(value) -> str:
    return "–" if value is None else str(value)


def main_abuse(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="oomguard-bench-"))
    process, port, ca = start_server(folder, args.workers, args.threads)
    results = []
    try:
        for kind in args.abuse.split(","):
            result = run_abuse(port, ca, kind, args.abuse_reviews)
            result["rss_mib_after"] = rss_mib(process.pid)
            results.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, server --workers "
        f"{args.workers} --threads {args.threads}, load average {os.getloadavg()}"
    )
    keys = ["abuse", "adversaries", "requests", "errors", "p50_ms", "p99_ms", "max_ms"]
    keys += ["healthz_after", "rss_mib_after"]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in results:
        print("| " + " | ".join(str(r[key]) for key in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
