"""How ``oomguard lint --fix`` scales with the occurrences of the text it edits (issue 12).

One Pod whose ``JAVA_OPTS`` holds N decoys (``-Dsize=2g``) before the flag the fix rewrites
(``-Xmx2g`` → ``-Xmx1536m`` at a 2Gi limit). The splicer used to parse the document once per
earlier occurrence of ``2g`` (200 → 55 s, 3,000 → over 300 s); it should now be linear.
Prints, per N, the wall time of the fix step (lint excluded) and the number of ruamel.yaml
parses (``_compose`` cache misses).

    .venv/bin/python bench/fix_scaling.py 100 1000 3000 10000
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from oomguard.linter import fix_splice
from oomguard.linter.fix import apply_fixes
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG


def pod(value: str) -> str:
    return (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: app\n    image: eclipse-temurin:21\n    env:\n    - name: JAVA_OPTS\n"
        f'      value: "{value}"\n'
        "    resources: {limits: {memory: 2Gi}, requests: {memory: 2Gi}}\n"
    )


def measure(decoys: int) -> tuple[float, int]:
    prefix = " ".join(["-Dsize=2g"] * decoys)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "pod.yaml")
        with open(path, "w") as stream:
            stream.write(pod(f"{prefix} -Xmx2g"))
        result = lint_paths([path], DEFAULT_CONFIG)
        fix_splice._compose.cache_clear()
        start = time.perf_counter()
        apply_fixes(result, DEFAULT_CONFIG, [path], write=True, diff=False)
        elapsed = time.perf_counter() - start
        with open(path) as stream:
            assert stream.read() == pod(f"{prefix} -Xmx1536m"), "wrong edit"
    return elapsed, fix_splice._compose.cache_info().misses


def main(argv: list[str]) -> None:
    sizes = [int(arg) for arg in argv] or [100, 1000, 3000, 10000]
    print(f"load average {os.getloadavg()[0]:.2f} / {os.getloadavg()[1]:.2f}")
    print("| earlier occurrences | fix step | ruamel parses |")
    print("|---|---|---|")
    for size in sizes:
        elapsed, parses = measure(size)
        print(f"| {size:,} | {elapsed * 1000:,.0f} ms | {parses} |")


if __name__ == "__main__":
    main(sys.argv[1:])
