"""Render cost for pre-commit: ``oomguard lint chart/templates/t07.yaml`` (one changed
template of a 20-template chart) as a whole cold process, beside the plain-manifest cold start.

    .venv/bin/python bench/render_cost.py             # 11 runs each, interleaved
    .venv/bin/python bench/render_cost.py --runs 21

A chart of 20 templates is generated under bench/out/render-chart (each a Deployment whose
heap, limit and request come from values.yaml, as real charts write them), then three
commands are timed, interleaved so that machine noise hits them alike:

* ``oomguard lint small.yaml``: a plain manifest (the baseline pre-commit pays today);
* ``oomguard lint chart/templates/t07.yaml`` with ``OOMGUARD_HELM=sdk``: the chart rendered
  in-process by helm-python-sdk and linted, clean (no origin look-up: nothing is found);
* the same with a heap mistake in values.yaml: one finding, so one origin look-up
  (re-renders with a sentinel, bounded by MAX_RERENDERS in linter/render/helm.py).

Budget (issue 14): ≤ 0.5 s for the clean run. The numbers go to bench/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
PYTHON = REPO / ".venv" / "bin" / "python"
TEMPLATES = 20
BUDGET_S = 0.5

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ .Release.Name }}}}-svc{index:02d}
  labels: {{{{- include "bench.labels" . | nindent 4 }}}}
spec:
  replicas: {{{{ .Values.replicas }}}}
  selector:
    matchLabels: {{app: svc{index:02d}}}
  template:
    metadata:
      labels: {{app: svc{index:02d}}}
    spec:
      containers:
        - name: app
          image: "{{{{ .Values.image }}}}"
          env:
            - name: JAVA_TOOL_OPTIONS
              value: {{{{ .Values.services.svc{index:02d}.javaOpts | quote }}}}
          resources:
            {{{{- toYaml .Values.services.svc{index:02d}.resources | nindent 12 }}}}
"""
HELPERS = """\
{{- define "bench.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
"""
PLAIN = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: app
      image: eclipse-temurin:21
      command: [java, -Xmx512m, -jar, app.jar]
      resources: {requests: {memory: 1Gi}, limits: {memory: 1Gi}}
"""


def make_chart(root: Path, heap: str) -> Path:
    chart = root / "chart"
    if chart.exists():
        shutil.rmtree(chart)
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: bench\nversion: 0.1.0\n")
    (chart / "templates" / "_helpers.tpl").write_text(HELPERS)
    values = ["replicas: 2", "image: eclipse-temurin:21", "services:"]
    for index in range(TEMPLATES):
        (chart / "templates" / f"t{index:02d}.yaml").write_text(TEMPLATE.format(index=index))
        javaopts = heap if index == 7 else "-Xmx512m"
        values += [
            f"  svc{index:02d}:",
            f'    javaOpts: "{javaopts} -XX:+UseG1GC"',
            "    resources:",
            "      requests: {memory: 1Gi}",
            "      limits: {memory: 1Gi}",
        ]
    (chart / "values.yaml").write_text("\n".join(values) + "\n")
    return chart


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    run = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, run.returncode, run.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    env = {**os.environ, "OOMGUARD_HELM": "sdk", "NO_COLOR": "1"}
    lint = [str(PYTHON), "-m", "oomguard", "lint", "--no-related"]
    clean_root = OUT / "render-clean"
    bad_root = OUT / "render-bad"
    for root in (clean_root, bad_root):
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    make_chart(clean_root, "-Xmx512m")
    make_chart(bad_root, "-Xmx2g")
    (clean_root / "small.yaml").write_text(PLAIN)
    cases = {
        "plain manifest": (lint + ["small.yaml"], clean_root, 0),
        "chart, 1 template changed, clean": (
            lint + ["chart/templates/t07.yaml"],
            clean_root,
            0,
        ),
        "chart, 1 template changed, 1 finding": (
            lint + ["chart/templates/t07.yaml"],
            bad_root,
            1,
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    outputs: dict[str, str] = {}
    for _ in range(args.runs):
        for name, (command, cwd, expected) in cases.items():
            seconds, code, stdout = timed(command, cwd, env)
            assert code == expected, (name, code, stdout)
            times[name].append(seconds)
            outputs[name] = stdout.strip().splitlines()[-1]
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{name:40s} median {median * 1000:6.0f} ms  min {min(samples) * 1000:6.0f} ms"
            f"  max {max(samples) * 1000:6.0f} ms   ({outputs[name]})"
        )
    clean = statistics.median(times["chart, 1 template changed, clean"])
    print(f"budget {BUDGET_S * 1000:.0f} ms: {'within' if clean <= BUDGET_S else 'OVER'}")


if __name__ == "__main__":
    main()
