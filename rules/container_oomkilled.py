"""A container of this workload was OOMKilled in the cluster.

The kubelet records `lastState.terminated.reason: OOMKilled` (exit code 137) when the kernel
killed a container at its memory limit. The finding aggregates every pod of the workload,
gives the number of kills, the latest time and the restart count, and names the catalogue
rules that explain the kill when they fire on the same container (a heap flag at the
limit, a limit that is too low). `oomguard audit` reads the status of every pod of a
workload; `oomguard lint` sees it only in Pod dumps that carry a `status`
(`kubectl get pod -o yaml`).

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: app
      image: example/api:1.0
      resources:
        limits: {memory: 256Mi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: app
      image: example/api:1.0
      resources:
        limits: {memory: 256Mi}
status:
  containerStatuses:
    - name: app
      restartCount: 4
      lastState:
        terminated: {reason: OOMKilled, exitCode: 137, finishedAt: "2026-11-20T10:00:00Z"}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.workload import Workload

ID = "container-oomkilled"
SEVERITY = "warning"
SUMMARY = "a container was OOMKilled in the cluster, with the rule that explains it"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "needs the pods' status in a running cluster (oomguard audit)"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    observed = workload.observed
    if not observed and workload.kind == "Pod":
        observed = terminations(workload.obj)
    explained_by: dict[str | None, set[str]] | None = None
    for container in workload.containers:
        kills = [r for r in observed.get(container.name, ()) if r.get("reason") == "OOMKilled"]
        if not kills:
            continue
        if explained_by is None:
            explained_by = explanations(workload, config)
        latest = max((str(r.get("finishedAt") or "") for r in kills), default="")
        restarts = sum(int(r.get("restartCount") or 0) for r in kills)
        pods = len({r.get("pod") for r in kills})
        limit = f" at its {container.limit.text} limit" if container.limit else " (no memory limit)"
        explained = sorted(explained_by.get(container.name, ()))
        because = f"; explained by {', '.join(explained)}" if explained else ""
        yield Problem(
            f"{container.label} was OOMKilled (exit 137){limit} in {pods} "
            f"pod{'s' if pods != 1 else ''}, last at {latest or 'an unknown time'}, "
            f"{restarts} restart{'s' if restarts != 1 else ''}{because}",
            container.path,
            container.name,
        )


def explanations(workload: Workload, config: Config) -> dict[str | None, set[str]]:
    """Per container name, the rules declaring ``EXPLAINS_OOM_KILL`` that fire on it: the
    engine's results for this view (``workload.found``), in catalogue order. A rule the
    config turns off still explains (its check runs here for that only)."""
    from oomguard.rules import CATALOGUE, META  # here: the catalogue imports this module

    found: dict[str | None, set[str]] = {}
    for rule in CATALOGUE:
        if not META[rule.ID].explains_oom_kill:
            continue
        problems = workload.found.get(rule.ID)
        if problems is None:  # not run on this view: disabled, or check() called alone
            problems = rule.check(workload, config)
        for problem in problems:
            found.setdefault(problem.container, set()).add(rule.ID)
    return found


def explaining_rules(workload: Workload, container: str, config: Config) -> list[str]:
    """The IDs of the rules that explain an OOM kill of ``container``: those that fire on it."""
    return sorted(explanations(workload, config).get(container, ()))


def terminations(pod: dict) -> dict[str, list[dict]]:
    """OOM-relevant terminations in a Pod's status, per container name."""
    status = pod.get("status") if isinstance(pod.get("status"), dict) else {}
    metadata = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else {}
    name = metadata.get("name")
    found: dict[str, list[dict]] = {}
    for key in ("containerStatuses", "initContainerStatuses"):
        entries = status.get(key)
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            for state_key in ("lastState", "state"):
                state = entry.get(state_key)
                terminated = state.get("terminated") if isinstance(state, dict) else None
                if isinstance(terminated, dict) and terminated.get("reason") == "OOMKilled":
                    found.setdefault(str(entry.get("name")), []).append(
                        {
                            "pod": name,
                            "reason": "OOMKilled",
                            "exitCode": terminated.get("exitCode"),
                            "finishedAt": terminated.get("finishedAt"),
                            "restartCount": entry.get("restartCount", 0),
                        }
                    )
                    break
    return found
