"""Prometheus metrics of the webhook, correct across gunicorn worker processes.

``oomguard serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before this module is first imported, so
every worker writes its samples to files there and ``/metrics`` (whichever worker answers it)
adds them up. Without that variable (tests, other WSGI servers) the usual in-process registry
is used.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REVIEWS = Counter(
    "oomguard_admission_reviews",
    "AdmissionReviews answered, by endpoint, mode, result and dry-run",
    ["endpoint", "mode", "result", "dry_run"],
)
FINDINGS = Counter(
    "oomguard_admission_findings",
    "Findings in reviewed objects, by endpoint, mode, rule and severity",
    ["endpoint", "mode", "rule", "severity"],
)
ERRORS = Counter(
    "oomguard_admission_errors",
    "Requests that could not be judged normally, by endpoint and reason",
    ["endpoint", "reason"],
)
LOOKUP_FALLBACKS = Counter(
    "oomguard_lookup_fallbacks",
    "Cluster look-ups a review did without (budget spent, API failing, watch not synced)",
    ["endpoint", "lookup"],
)
LATENCY = Histogram(
    "oomguard_admission_review_duration_seconds",
    "Time to answer one AdmissionReview, body read to response built",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)


CHILDREN_REMEMBERED = 4096  # label sets remembered by :func:`child`; past that, asked each time
_CHILDREN: dict[tuple[object, ...], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, remembered: prometheus-client's ``labels`` checks the
    count, converts each value with ``str`` and takes the metric's lock on every call (~3 µs;
    a review makes 5–7 of them). It hands back the same child object for the same label
    values every time (its ``_metrics`` dict), and nothing here removes children, so the
    remembered one is that object."""
    key = (metric, *labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = metric.labels(*labels)
        if len(_CHILDREN) < CHILDREN_REMEMBERED:
            _CHILDREN[key] = found
    return found


def render() -> tuple[bytes, str]:
    """The exposition text and its content type, summed over workers when multiprocess."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
