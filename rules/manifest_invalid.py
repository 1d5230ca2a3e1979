"""A file or document cannot be read as a Kubernetes manifest.

A YAML or JSON syntax error (reported with its line and column), a document that is too
large or too deeply nested, an alias bomb, text that is not UTF-8, or a field of the wrong
type (`resources: "abc"`, `containers: null`, a number where Kubernetes wants a string).
`kubectl apply` would refuse it; oomguard reports it and goes on with the other documents.

An `oomguard.io/ignore` or `oomguard.io/ignore.<container>` annotation that names a rule
that does not exist (a typo) suppresses nothing and is reported here as a **warning** (the
configured severity of `manifest-invalid`, when set, applies instead).

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: app
      image: example/api:1.0
      args: ["--port", "8080"]
      resources:
        limits: {memory: 128Mi}
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
      args: ["--port", 8080]
      resources:
        limits: {memory: 128Mi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.workload import Workload

ID = "manifest-invalid"
SEVERITY = "error"
SUMMARY = "a file or document cannot be parsed, or a field has the wrong type"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "the API server's schema validation rejects malformed objects before any admission "
    "policy sees them"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    yield from workload.problems
