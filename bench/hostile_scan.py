"""Linear scans on hostile text: the loader's template check (``looks_like_template``) on a
chart template holding many ``{{`` and no ``}}``, the shape that made the lazy regex it
replaced quadratic (issue 12: 80 KB took 24 s).

    .venv/bin/python bench/hostile_scan.py            # 20, 80 and 320 KB
    .venv/bin/python bench/hostile_scan.py --kb 80 640

For each size: the in-process check alone, and the whole ``oomguard lint`` process on the
file inside a chart's ``templates/`` folder (the only place the check decides anything).
Linear means the time grows with the size (4x the bytes, ~4x the time), not its square.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OOMGUARD = REPO / ".venv" / "bin" / "oomguard"


def hostile(kilobytes: int) -> str:
    head = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
    line = '    a: "{{"\n'
    rows = (kilobytes * 1024 - len(head)) // len(line)
    return head + "".join(line.replace("a:", f"a{i}:") for i in range(rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", type=int, nargs="+", default=[20, 80, 320])
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from oomguard.linter.loader import looks_like_template

    print(f"**{datetime.now(UTC):%Y-%m-%d %H:%M} UTC**, load average "
          f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}\n")  # fmt: skip
    print("| file | `looks_like_template` | `oomguard lint` (process) |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        chart = Path(folder)
        (chart / "Chart.yaml").write_text("name: c\nversion: 0.1.0\n")
        (chart / "templates").mkdir()
        for kilobytes in args.kb:
            text = hostile(kilobytes)
            path = chart / "templates" / f"many-{kilobytes}.yaml"
            path.write_text(text)
            start = time.perf_counter()
            looks_like_template(text)
            check = time.perf_counter() - start
            start = time.perf_counter()
            subprocess.run([str(OOMGUARD), "lint", str(path)], capture_output=True, check=False)
            whole = time.perf_counter() - start
            count = text.count("{{")
            print(f"| {kilobytes} KB, {count:,} `{{{{` | {check * 1e3:.2f} ms | {whole:.2f} s |")


if __name__ == "__main__":
    main()
