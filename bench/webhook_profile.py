"""What one AdmissionReview costs inside ``oomguard serve``, part by part, in one process.

Times the parts of the review path on the load test's review (``bench/webhook_load.py``'s
3-container Deployment) with ``time.process_time`` over many iterations: JSON parsing, the
envelope schema, the depth bound, the policy (``check_object``), the response body, the
metrics, the log line, and the whole WSGI call (Flask included), with the metrics in
multiprocess mode as ``oomguard serve`` runs them. TLS and gunicorn's HTTP handling are not
in this process: ``bench/webhook_load.py`` measures the whole server's CPU per review.

    python bench/webhook_profile.py                 # table of parts, µs per review
    python bench/webhook_profile.py --cprofile 20   # plus the top 20 functions of the WSGI call
    SORT=cumulative python bench/webhook_profile.py --cprofile 40
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="oomguard-prof-"))

from profiling import print_profile  # noqa: E402
from webhook_load import deployment_review  # noqa: E402


def per_call_us(fn, n: int) -> float:
    fn()
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) * 1e6 / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=3000, help="iterations per part")
    parser.add_argument("--cprofile", type=int, default=0, help="top N functions (0: off)")
    args = parser.parse_args(argv)

    from oomguard.rules import admission
    from oomguard.rules.config import DEFAULT_CONFIG
    from oomguard.webhook import app as app_module
    from oomguard.webhook import metrics, review

    body = deployment_review("00000000-0000-0000-0000-000000000001")
    app = app_module.create_app(DEFAULT_CONFIG)
    app_module.LOG.handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    data = json.loads(body)
    parsed = review.parse_review(body, "application/json", "allow")
    decision = admission.validate(parsed.request, DEFAULT_CONFIG)
    validator = review.envelope_validator()

    def wsgi() -> None:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/validate",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "8443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        out = b"".join(app(environ, lambda *a: None))
        assert b'"allowed":true' in out, out

    parts = {
        "json.loads": lambda: json.loads(body),
        "envelope schema (jsonschema)": lambda: validator.is_valid(data),
        "depth bound": lambda: review.depth(data["request"]["object"]),
        "parse_review (all of the above)": lambda: review.parse_review(
            body, "application/json", "allow"
        ),
        "policy: admission.validate (check_object)": lambda: admission.validate(
            parsed.request, DEFAULT_CONFIG
        ),
        "response body + json.dumps": lambda: app_module._json(
            review.response_body(parsed, decision)
        ),
        "metrics + log line (_record)": lambda: app_module._record(
            "validate", parsed, decision, 0.001, []
        ),
        "metrics only (2 counters + histogram)": lambda: (
            metrics.REVIEWS.labels("validate", "enforce", "warned", "false").inc(),
            metrics.FINDINGS.labels("validate", "enforce", "x", "warning").inc(),
            metrics.LATENCY.labels("validate").observe(0.001),
        ),
        "whole WSGI call (all parts, Flask or the fast path)": wsgi,
    }
    if hasattr(review, "envelope_accepts"):  # absent before 2026-12-01 (old code, compared)
        schema = review.envelope_schema()
        parts["envelope schema (envelope_accepts)"] = lambda: review.envelope_accepts(schema, data)
    if hasattr(review, "envelope_check"):  # absent before 2026-12-01 01:30 (compiled reading)
        check = review.envelope_check()
        parts["envelope schema (envelope_check, compiled)"] = lambda: check(data)
    logging.disable(logging.NOTSET)
    print(f"| part | µs per review (n={args.n}) |")
    print("|---|---|")
    for name, fn in parts.items():
        print(f"| {name} | {per_call_us(fn, args.n):.0f} |")
    print(f"load average {os.getloadavg()}")
    if args.cprofile:
        print_profile(wsgi, args.n, args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
