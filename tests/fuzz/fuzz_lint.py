"""Fuzz target for ``oomguard lint``: bytes -> a manifest file -> ``lint_paths`` -> every format.

    .venv/bin/python tests/fuzz/fuzz_lint.py                  # 5 minutes
    .venv/bin/python tests/fuzz/fuzz_lint.py --runs 2000      # a fixed number of inputs
    .venv/bin/python tests/fuzz/fuzz_lint.py --seeds-from ../shared/corpus/real
    .venv/bin/python tests/fuzz/fuzz_lint.py CRASH_FILE ...   # replay inputs, show tracebacks

With atheris installed (``pip install atheris``) the search is coverage-guided (libFuzzer);
without it, or with ``--random``, the seeds are mutated at random (byte edits, YAML tokens,
splices, line-break swaps). Seeds: ``tests/fuzz/seeds/`` (small, hand-made), plus any
folder given with ``--seeds-from`` (read, never copied into the repository).

A finding is any exception out of lint or the writers, a ``result.crashes`` entry (the
run's safety net turned a bug into a finding: still a bug), a change in the findings of
an ordinary file linted beside the fuzzed one, or a workload, ConfigMap or Secret that a
full parse reads but the loader's text pre-filter skips (a gate bypass). Inputs that find
one are saved under ``tests/fuzz/crashes/`` (git-ignored), named by the hash of their bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
CRASHES = HERE / "crashes"
MAX_SEED_BYTES = 64 * 1024  # larger corpus files slow every execution down

COMPANION = """\
apiVersion: v1
kind: Pod
metadata: {name: companion}
spec:
  containers:
    - name: app
      image: nginx
"""
COMPANION_FINDINGS = [
    ("best-effort-pod", 6, 5),
    ("memory-limit-missing", 6, 7),
    ("memory-request-missing", 6, 7),
]

# Pieces that steer random mutation towards what YAML, manifests and the rules care about.
TOKENS = [
    b"kind: Pod\n", b"kind: Service\n", b"kind: List\nitems:\n- ", b"kind: Secret\ndata: {A: ",
    b"kind: ConfigMap\n", b"kind:\n  ", b"kind: {a: 1}\n", b"---\n", b"...\n", b"%YAML 1.1\n",
    b"{", b"}", b"[", b"]", b", ", b": ", b"- ", b"? ", b"&a ", b"*a", b"<<: ", b"!!int ",
    b"!!float ", b"!!bool ", b"!!binary ", b"!!str ", b"!!null ", b"!!timestamp ", b"!x ",
    b'"', b"'", b"\\x41", b"\\u00e9", b"\\\n", b"\r", b"\r\n", b"\xc2\x85", b"\xe2\x80\xa8",
    b"\t", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\xff", b"\xc3", b"{{ .Values.x }}", b"{{",
    b"-Xmx2g", b"-Xmx0", b"-XX:MaxRAMPercentage=", b"--max-old-space-size=", b"GOMEMLIMIT",
    b"GOGC", b"DOTNET_GCHeapHardLimit", b"0x", b"$(A)", b"$$", b"memory: ", b"1Gi", b"512m",
    b"-1", b"1e400", b".inf", b".nan", b"~", b"null", b"2024-01-01", b"0o17", b"1_000",
    b"resources: {limits: {memory: ", b"containers:\n- name: c\n  image: i\n  ",
    b"env: [{name: JAVA_OPTS, value: ",
    b"valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: ",
    b"configMapKeyRef: {name: cfg, key: ", b"envFrom: [{configMapRef: {name: cfg}}]",
    b"oomguard.io/ignore: ", b"  ", b"#", b"\n",
]  # fmt: skip


def _all_rules_config():
    from oomguard.rules import RULES
    from oomguard.rules.config import config_from_data

    return config_from_data({"rules": {rule: {"enabled": True} for rule in RULES}})


def full_parse(text: str) -> list[Any]:
    """The documents libyaml reads (PyYAML's C loader, no pre-filter), up to the first it
    cannot read."""
    import yaml

    read = []
    try:
        for data in yaml.load_all(text, Loader=yaml.CSafeLoader):
            read.append(data)
    except Exception:  # noqa: BLE001  PyYAML's own failures (e.g. !!timestamp on odd text)
        pass
    return read


def interesting(data: Any) -> bool:
    """Whether a document is what lint must read: a workload of the registry (by API group
    and kind: a core Service is not Knative's), a ConfigMap, a Secret, a list, or any kind
    that is not one of the core kinds known never to hold containers (it may be an unknown
    workload kind, which lint must name)."""
    from oomguard.linter.loader import NOT_WORKLOADS
    from oomguard.rules.kinds import registry_for
    from oomguard.rules.workload import SOURCE_KINDS

    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        return False
    if kind in SOURCE_KINDS or kind.endswith("List") or kind not in NOT_WORKLOADS:
        return True
    return registry_for().lookup(data) is not None


def signatures(documents: list[Any]) -> Counter:
    """How many interesting documents of each kind, for comparing two readings of a file
    (kinds only: PyYAML's loader reads tags our loader keeps as text, e.g. a ``!!binary``
    key, so other fields may differ between the two)."""
    return Counter(d["kind"] for d in documents if interesting(d))


def check_prefilter(text: str) -> None:
    """The loader's text pre-filter hides nothing a full parse reads as interesting (unless
    the file is reported invalid: then the gate fails anyway)."""
    from oomguard.linter.loader import load_text
    from oomguard.linter.reading import may_hold_source as _may_hold_source

    expected = [d for d in full_parse(text) if interesting(d)]
    if not expected:
        return
    loaded = load_text(text)
    if not loaded.errors:
        found = signatures([d.data for d in loaded.documents])
        assert signatures(expected) <= found, f"pre-filter hid {signatures(expected) - found}"
    sources = [d for d in expected if d["kind"] in ("ConfigMap", "Secret")]
    if sources:
        assert _may_hold_source(text), "first pass skips a file holding a ConfigMap/Secret"
        first = load_text(text, wanted=_may_hold_source)
        if not first.errors:
            found = signatures([d.data for d in first.documents])
            assert signatures(sources) <= found, f"first pass hid {signatures(sources) - found}"


class Target:
    """Lints one input at a time in a private folder, beside :data:`COMPANION`."""

    def __init__(self, prefilter: bool = True) -> None:
        from oomguard.linter import ci_formats  # noqa: F401  (registers sarif and github)
        from oomguard.linter.output import FORMATS, Shown
        from oomguard.linter.run import lint_paths

        self._lint_paths, self._formats, self._shown = lint_paths, FORMATS, Shown
        self._config = _all_rules_config()
        self._prefilter = prefilter
        self._folder = Path(tempfile.mkdtemp(prefix="oomguard-fuzz-"))
        self._companion = self._folder / "companion.yaml"
        self._companion.write_text(COMPANION)

    def __call__(self, data: bytes) -> None:
        """Raise AssertionError (or whatever lint raises) when ``data`` finds a bug."""
        suffix = ".json" if data[:1] in (b"{", b"[") or len(data) % 7 == 0 else ".yaml"
        path = self._folder / f"input{suffix}"
        path.write_bytes(data)
        try:
            result = self._lint_paths([str(path), str(self._companion)], self._config)
        finally:
            path.unlink()
        assert result.crashes == [], result.crashes
        companion = str(self._companion)
        beside = [(f.rule, f.line, f.column) for f in result.findings if f.file == companion]
        assert sorted(beside) == COMPANION_FINDINGS, beside
        for write in self._formats.values():
            out = io.StringIO()
            write(out, result, self._shown(result.findings, self._config), self._config)
            out.getvalue().encode("utf-8", "backslashreplace")
        if self._prefilter:
            from oomguard.linter.loader import LoadError, decode

            try:
                text = decode(data)
            except LoadError:
                return
            check_prefilter(text)


def load_seeds(extra: list[Path]) -> list[bytes]:
    paths = sorted(SEEDS.iterdir())
    for folder in extra:
        paths += sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    seeds = [p.read_bytes() for p in paths if p.is_file()]
    return [s for s in seeds if len(s) <= MAX_SEED_BYTES] or [COMPANION.encode()]


def mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    """One to four random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(out))
        op = rng.randrange(9)
        if op == 0 and out:  # flip a byte
            out[min(at, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op in (1, 2, 3):  # insert a token
            out[at:at] = rng.choice(TOKENS)
        elif op == 4 and out:  # delete a range
            out[at : at + rng.randint(1, 16)] = b""
        elif op == 5 and out:  # duplicate a range
            start = rng.randrange(len(out))
            out[at:at] = out[start : start + rng.randint(1, 64)]
        elif op == 6:  # splice in part of another seed
            other = rng.choice(seeds)
            start = rng.randint(0, len(other))
            out[at:at] = other[start : start + rng.randint(1, 256)]
        elif op == 7:  # change the line breaks
            out = bytearray(bytes(out).replace(b"\n", rng.choice([b"\r", b"\r\n", b"\xc2\x85"])))
        else:  # random bytes
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    return bytes(out[: 256 * 1024])


def _signature(exc: BaseException) -> str:
    """One failure, whatever the input: its type and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def _save(data: bytes) -> Path:
    CRASHES.mkdir(exist_ok=True)
    path = CRASHES / f"crash-{hashlib.sha1(data).hexdigest()[:16]}.yaml"
    path.write_bytes(data)
    return path


def fuzz_random(
    check: Callable[[bytes], None],
    seeds: list[bytes],
    *,
    runs: int | None = None,
    seconds: float | None = None,
    rng_seed: int = 0,
    save: bool = True,
    report: Callable[[str], None] = print,
) -> dict[str, object]:
    """Mutate seeds at random until ``runs`` inputs or ``seconds`` have gone by. Returns
    the number of executions and the distinct failures (signature -> first input)."""
    rng = random.Random(rng_seed)
    failures: dict[str, bytes] = {}
    start = time.monotonic()
    execs = 0
    queue = [*seeds]  # the seeds themselves first, then mutations
    while (runs is None or execs < runs) and (
        seconds is None or time.monotonic() - start < seconds
    ):
        data = queue.pop(0) if queue else mutate(rng, rng.choice(seeds), seeds)
        execs += 1
        try:
            check(data)
        except Exception as exc:  # noqa: BLE001  every failure is a finding of the fuzzer
            signature = _signature(exc)
            if signature not in failures:
                failures[signature] = data
                where = f" -> {_save(data)}" if save else ""
                first = str(exc).splitlines()[0][:120] if str(exc) else ""
                report(f"FAILURE #{len(failures)} after {execs} execs: {signature}: {first}{where}")
    return {"execs": execs, "seconds": round(time.monotonic() - start, 1), "failures": failures}


def fuzz_atheris(seeds: list[bytes], seconds: float, argv: list[str]) -> None:
    """Coverage-guided: libFuzzer keeps its corpus in a scratch folder, seeded from ours."""
    import atheris

    with atheris.instrument_imports(include=["oomguard"]):
        check = Target()
    corpus = Path(tempfile.mkdtemp(prefix="oomguard-fuzz-corpus-"))
    for index, seed in enumerate(seeds):
        (corpus / f"seed-{index:05d}").write_bytes(seed)
    tokens = corpus.with_name(corpus.name + ".dict")
    tokens.write_text("".join(f'"{_dict_escape(token)}"\n' for token in TOKENS))
    CRASHES.mkdir(exist_ok=True)
    args = [
        sys.argv[0],
        str(corpus),
        f"-dict={tokens}",
        f"-max_total_time={int(seconds)}",
        f"-artifact_prefix={CRASHES}/",
        "-max_len=65536",
        "-timeout=20",
        "-rss_limit_mb=4096",
        *argv,
    ]
    print(f"atheris: corpus {corpus}, {len(seeds)} seeds, {int(seconds)} s")
    atheris.Setup(args, check)
    atheris.Fuzz()


def _dict_escape(token: bytes) -> str:
    """A libFuzzer dictionary entry: printable ASCII as is, the rest as \\xNN."""
    return "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\x{b:02x}" for b in token)


def replay(paths: list[Path]) -> int:
    check = Target()
    failed = 0
    for path in paths:
        try:
            check(path.read_bytes())
            print(f"{path}: ok")
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"{path}: FAILED")
            traceback.print_exc()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", type=Path, help="replay these inputs and stop")
    parser.add_argument("--runs", type=int, help="stop after this many inputs (random mode)")
    parser.add_argument("--seconds", type=float, default=300, help="stop after (default 300)")
    parser.add_argument("--seeds-from", type=Path, action="append", default=[], metavar="DIR")
    parser.add_argument("--random", action="store_true", help="random mutation, even with atheris")
    parser.add_argument("--rng-seed", type=int, default=0)
    args, libfuzzer_args = parser.parse_known_args(argv)
    if args.inputs:
        return replay(args.inputs)
    seeds = load_seeds(args.seeds_from)
    if not args.random and args.runs is None:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed: random mutation of the seeds instead")
        else:
            fuzz_atheris(seeds, args.seconds, libfuzzer_args)
            return 0
    result = fuzz_random(
        Target(),
        seeds,
        runs=args.runs,
        seconds=None if args.runs else args.seconds,
        rng_seed=args.rng_seed,
    )
    failures = result["failures"]
    print(f"random: {result['execs']} execs in {result['seconds']} s, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
