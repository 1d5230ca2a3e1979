"""Hostile input through the real CLI (a subprocess, as pre-commit runs it) and ``lint_paths``.

Each hostile file is linted together with an ordinary bad manifest: the hostile one must give
``manifest-invalid`` at the exact line/column where one exists, the other file's findings
must still be reported, the exit code is 1 (2 for unreadable paths), stderr never holds a
traceback, and peak memory stays bounded (the limit is generous: the point is that nothing
grows without bound). A run still going after HANG_SECONDS is killed and fails as a hang;
speed is never asserted here (it is measured in bench/).
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG

HANG_SECONDS = 600  # a hang, not slowness: loaded CI machines are slow
MAX_RSS_KIB = 1024 * 1024  # 1 GiB; the worst case below (2M values in one document) ~450 MiB

BAD_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: app
      image: nginx
"""
# What BAD_POD yields, wherever it is: (rule, line, column, object, container)
BAD_POD_FINDINGS = {
    ("best-effort-pod", 6, 5, "Pod/p", None),
    ("memory-limit-missing", 6, 7, "Pod/p", "app"),
    ("memory-request-missing", 6, 7, "Pod/p", "app"),
}


def _alias_bomb() -> str:
    rows = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: lol}\n" + "\n".join(rows) + "\n"


def _many_values(megabytes: int) -> str:
    head = "apiVersion: v1\nkind: Pod\nmetadata: {name: many}\nspec:\n  containers:\n"
    head += "    - name: app\n      env:\n"
    entry = '        - {name: V, value: "1"}\n'
    return head + entry * (megabytes * 2**20 // len(entry))


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    message: str | None  # manifest-invalid message part; None: the file is fine
    where: tuple[int, int] | None = None  # 1-based line, column of manifest-invalid


CASES = [
    Case("alias-bomb", _alias_bomb().encode(), "(an alias bomb?)", (10, 15)),
    Case("recursive-alias", b"kind: Pod\nspec: &a\n  x: *a\n", "recursive alias *a", (3, 6)),
    Case("unknown-alias", b"kind: Pod\nspec: *nowhere\n", "nowhere", (2, 7)),
    # Nesting positions are our MAX_DEPTH check's, the same on every libyaml build (0.2.6 has
    # a limit of its own, met first in flow context; the loader finds ours before its mark).
    Case(
        "flow-nesting-10k",
        b"kind: Pod\nspec: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
        "nested deeper than 100 levels",
        (2, 106),
    ),
    Case(
        "flow-nesting-100k",
        b"kind: Pod\nspec: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
        "nested deeper than 100 levels",
        (2, 106),
    ),
    Case(
        "block-nesting-3k",
        ("kind: Pod\nspec:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 3000))).encode(),
        "nested deeper than 100 levels",
        (102, 201),
    ),
    Case(
        "tab-indentation",
        b"kind: Pod\nspec:\n\tcontainers: []\n",
        "found character that cannot start any token",
        (3, 1),
    ),
    Case(
        "latin-1",
        BAD_POD.replace("nginx", "ng\u00efnx").encode("latin-1"),
        "not UTF-8 text (byte 0xef)",
        (7, 16),
    ),
    Case("nul-bytes", b"kind: Pod\x00\x01\x02" + bytes(range(256)) * 4, "binary file", (1, 1)),
    Case(
        "duplicate-keys",
        BAD_POD.replace("metadata: {name: p}", "metadata: {name: p}\nmetadata: {name: q}").encode(),
        "duplicate key 'metadata' in a mapping",
        (4, 11),
    ),
    Case("many-values-50mb", _many_values(50).encode(), "more than 2,000,000 values", None),
    Case("utf8-bom", codecs.BOM_UTF8 + BAD_POD.encode(), None),
    Case("utf16le-bom", codecs.BOM_UTF16_LE + BAD_POD.encode("utf-16-le"), None),
    Case("utf16be-bom", codecs.BOM_UTF16_BE + BAD_POD.encode("utf-16-be"), None),
    # Issue 12, "crashes that lose every finding": each crashed the whole run (traceback,
    # exit 1, empty SARIF) before it became a finding or was read as what it is.
    Case(
        "bom-then-bad-bytes",
        codecs.BOM_UTF8 + b"kind: Pod\n\xff\xfe\n",
        "not UTF-8 text (byte 0xff)",
        (2, 1),
    ),
    Case("utf16-bom-then-half-a-unit", codecs.BOM_UTF16_LE + b"k\x00\x00", "not UTF-16 text"),
    Case(
        "kind-is-a-mapping",
        b"apiVersion: v1\nkind: {a: 1}\nmetadata: {name: x}\n",
        "kind must be a string, not a mapping",
        (2, 7),
    ),
    Case(
        "kind-is-a-list",
        b"apiVersion: v1\nkind:\n  - Pod\nmetadata: {name: x}\n",
        "kind must be a string, not a list",
        (3, 3),
    ),
    Case(
        "secret-data-not-ascii",
        (
            BAD_POD + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {A: é}\n"
        ).encode(),
        None,
    ),
    Case(
        "empty-int-float-bool-tags",
        BAD_POD.replace(
            "metadata: {name: p}",
            "metadata: {name: p, labels: {a: !!int , b: !!float '', c: !!bool x}}",
        ).encode(),
        None,
    ),
    Case(
        "unclosed-flow",
        b"kind: Pod\nspec: {containers: [\n",
        "while parsing a flow node did not find expected node content",
        (3, 1),
    ),
]


def _run_cli(*args: str, cwd: Path, stdin: bytes | None = None, prefix: tuple[str, ...] = ()):
    """(exit code, stdout, stderr, seconds, peak RSS KiB) of ``oomguard`` in a subprocess.

    Output goes to temporary files and the child is reaped with ``os.wait4``, which gives
    that one child's peak RSS."""
    with (
        tempfile.TemporaryFile() as given,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        given.write(stdin or b"")
        given.seek(0)
        start = time.perf_counter()
        child = subprocess.Popen(
            [*prefix, sys.executable, "-m", "oomguard", *args],
            cwd=cwd,
            stdin=given,
            stdout=out,
            stderr=err,
            env={**os.environ, "NO_COLOR": "1"},
        )
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > HANG_SECONDS:
                child.kill()
                os.wait4(child.pid, 0)
                pytest.fail(f"oomguard {' '.join(args)} still running after {HANG_SECONDS} s")
            time.sleep(0.01)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return child.returncode, out.read().decode(), err.read().decode(), seconds, usage.ru_maxrss


def _located(findings: list[dict], file: str) -> set[tuple]:
    return {
        (
            f["rule"],
            f["line"],
            f["column"],
            f"{f['kind']}/{f['name']}" if f["kind"] else None,
            f["container"],
        )
        for f in findings
        if f["file"] == file
    }


def _assert_bounded(code: int, err: str, rss: int) -> None:
    assert code >= 0, f"killed by signal {-code}"
    assert "Traceback" not in err
    assert rss < MAX_RSS_KIB


@pytest.fixture
def bad_pod(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_POD)
    return path


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_cli_hostile_file_beside_a_bad_one(case: Case, tmp_path: Path, bad_pod: Path):
    (tmp_path / "hostile.yaml").write_bytes(case.content)
    code, out, err, seconds, rss = _run_cli(
        "lint", "hostile.yaml", "bad.yaml", "--format", "json", cwd=tmp_path
    )
    _assert_bounded(code, err, rss)
    assert code == 1
    findings = json.loads(out)["findings"]
    assert _located(findings, "bad.yaml") == BAD_POD_FINDINGS
    hostile = [f for f in findings if f["file"] == "hostile.yaml"]
    invalid = [f for f in hostile if f["rule"] == "manifest-invalid"]
    if case.message is None:
        assert invalid == []
        assert _located(hostile, "hostile.yaml") == BAD_POD_FINDINGS
        return
    assert len(invalid) == 1
    assert case.message in invalid[0]["message"]
    assert invalid[0]["severity"] == "error"
    if case.where is not None:
        assert (invalid[0]["line"], invalid[0]["column"]) == case.where


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.message and "50mb" not in c.name], ids=lambda c: c.name
)
def test_lint_paths_reports_the_same_position(case: Case, tmp_path: Path, bad_pod: Path):
    hostile = tmp_path / "hostile.yaml"
    hostile.write_bytes(case.content)
    result = lint_paths([str(hostile), str(bad_pod)], DEFAULT_CONFIG)
    assert result.crashes == []
    invalid = [f for f in result.findings if f.rule == "manifest-invalid"]
    assert [f.file for f in invalid] == [str(hostile)]
    assert case.message in invalid[0].message
    if case.where is not None:
        assert (invalid[0].line, invalid[0].column) == case.where
    assert {(f.rule, f.line, f.column) for f in result.findings if f.file == str(bad_pod)} == {
        (rule, line, column) for rule, line, column, _, _ in BAD_POD_FINDINGS
    }


def test_cli_fifty_megabyte_document_is_linted(tmp_path: Path, bad_pod: Path):
    blob = "x" * (50 * 2**20)
    (tmp_path / "big.yaml").write_text(
        f'apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\n  annotations:\n    blob: "{blob}"\n'
        "spec:\n  containers:\n    - name: app\n      image: nginx\n"
    )
    code, out, err, seconds, rss = _run_cli(
        "lint", "big.yaml", "bad.yaml", "--format", "json", cwd=tmp_path
    )
    _assert_bounded(code, err, rss)
    findings = json.loads(out)["findings"]
    assert ("memory-limit-missing", 9, 7, "Pod/big", "app") in _located(findings, "big.yaml")
    assert _located(findings, "bad.yaml") == BAD_POD_FINDINGS


def test_cli_file_over_the_size_cap_is_invalid_not_read_whole(tmp_path: Path, bad_pod: Path):
    with open(tmp_path / "huge.yaml", "wb") as handle:  # sparse: 65 MiB of nothing on disk
        handle.truncate(65 * 2**20)
    code, out, err, seconds, rss = _run_cli(
        "lint", "huge.yaml", "bad.yaml", "--format", "json", cwd=tmp_path
    )
    _assert_bounded(code, err, rss)
    assert code == 1
    findings = json.loads(out)["findings"]
    assert _located(findings, "huge.yaml") == {("manifest-invalid", 1, 1, None, None)}
    assert "larger than 64 MiB" in findings[0]["message"]
    assert _located(findings, "bad.yaml") == BAD_POD_FINDINGS


def test_cli_hundred_thousand_small_documents(tmp_path: Path, bad_pod: Path):
    documents = "".join(
        f"---\nkind: Service\nmetadata: {{name: s{i}}}\n" if i % 2 else f"---\na: {i}\n"
        for i in range(100_000)
    )
    (tmp_path / "many.yaml").write_text(documents + "---\n" + BAD_POD)
    code, out, err, seconds, rss = _run_cli("lint", "many.yaml", "--format", "json", cwd=tmp_path)
    _assert_bounded(code, err, rss)
    report = json.loads(out)
    assert report["summary"]["objects"] == 1
    # the pod is document 100,001: its lines are counted across all the others
    assert _located(report["findings"], "many.yaml") == {
        (rule, line + 250_001, column, obj, container)
        for rule, line, column, obj, container in BAD_POD_FINDINGS
    }


def test_cli_alias_bomb_on_stdin(tmp_path: Path):
    code, out, err, seconds, rss = _run_cli(
        "lint", "-", "--format", "json", cwd=tmp_path, stdin=_alias_bomb().encode()
    )
    _assert_bounded(code, err, rss)
    assert code == 1
    findings = json.loads(out)["findings"]
    assert [(f["rule"], f["file"], f["line"], f["column"]) for f in findings] == [
        ("manifest-invalid", "<stdin>", 10, 15)
    ]


def test_cli_deeply_nested_json_file(tmp_path: Path, bad_pod: Path):
    """Regression: the JSON fallback replaced libyaml's positioned depth error with
    "invalid JSON" at 1:1 (json.loads hit its recursion limit)."""
    (tmp_path / "deep.json").write_text(
        '{"kind": "Pod", "spec": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    code, out, err, seconds, rss = _run_cli(
        "lint", "deep.json", "bad.yaml", "--format", "json", cwd=tmp_path
    )
    _assert_bounded(code, err, rss)
    assert code == 1
    findings = json.loads(out)["findings"]
    invalid = [f for f in findings if f["file"] == "deep.json"]
    assert [(f["rule"], f["line"], f["column"]) for f in invalid] == [("manifest-invalid", 1, 124)]
    assert "nested deeper than 100 levels" in invalid[0]["message"]
    assert _located(findings, "bad.yaml") == BAD_POD_FINDINGS


def test_cli_fifo_in_a_folder_is_skipped_not_waited_on(tmp_path: Path, bad_pod: Path):
    """Regression: a FIFO named *.yaml in a linted folder blocked the run forever."""
    os.mkfifo(tmp_path / "pipe.yaml")
    code, out, err, seconds, rss = _run_cli("lint", ".", "--format", "json", cwd=tmp_path)
    _assert_bounded(code, err, rss)
    assert code == 1
    report = json.loads(out)
    assert report["summary"]["files"] == 1
    assert _located(report["findings"], "./bad.yaml") == BAD_POD_FINDINGS


def test_cli_folder_named_like_a_manifest_is_walked(tmp_path: Path):
    folder = tmp_path / "x.yaml"
    folder.mkdir()
    (folder / "bad.yaml").write_text(BAD_POD)
    code, out, err, seconds, rss = _run_cli("lint", "x.yaml", "--format", "json", cwd=tmp_path)
    _assert_bounded(code, err, rss)
    assert code == 1
    assert _located(json.loads(out)["findings"], "x.yaml/bad.yaml") == BAD_POD_FINDINGS


def test_cli_unreadable_file_exits_2_after_reporting_the_rest(tmp_path: Path, bad_pod: Path):
    """/proc/self/mem cannot be read from offset 0 (EIO), even by root, unlike chmod 000."""
    code, out, err, seconds, rss = _run_cli(
        "lint", "/proc/self/mem", "bad.yaml", "--format", "json", cwd=tmp_path
    )
    _assert_bounded(code, err, rss)
    assert code == 2
    assert err.strip().splitlines() == ["oomguard: cannot read /proc/self/mem: Input/output error"]
    assert _located(json.loads(out)["findings"], "bad.yaml") == BAD_POD_FINDINGS


def test_cli_permission_denied_exits_2(tmp_path: Path, bad_pod: Path):
    locked = tmp_path / "locked.yaml"
    locked.write_text(BAD_POD)
    locked.chmod(0)
    # root reads a mode-000 file through CAP_DAC_OVERRIDE; CI runs as root, so the child
    # drops those capabilities (util-linux setpriv) to see the error a normal user gets.
    prefix = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root needs util-linux setpriv to drop CAP_DAC_OVERRIDE"
        prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search")
    try:
        code, out, err, seconds, rss = _run_cli(
            "lint", "locked.yaml", "bad.yaml", "--format", "json", cwd=tmp_path, prefix=prefix
        )
    finally:
        locked.chmod(0o644)
    _assert_bounded(code, err, rss)
    assert code == 2
    assert err.strip() == "oomguard: cannot read locked.yaml: Permission denied"
    assert _located(json.loads(out)["findings"], "bad.yaml") == BAD_POD_FINDINGS


def test_cli_dangling_symlink_in_a_folder_exits_2(tmp_path: Path, bad_pod: Path):
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    code, out, err, seconds, rss = _run_cli("lint", ".", "--format", "json", cwd=tmp_path)
    _assert_bounded(code, err, rss)
    assert code == 2
    assert err.strip() == "oomguard: cannot read ./gone.yaml: No such file or directory"
    assert _located(json.loads(out)["findings"], "./bad.yaml") == BAD_POD_FINDINGS


@pytest.mark.parametrize("output", ["text", "json", "sarif", "github"])
def test_cli_lone_surrogates_in_names_are_printed_escaped(tmp_path: Path, output: str):
    """Regression: a JSON manifest may spell a lone surrogate ("\\ud800"), which UTF-8 cannot
    encode; messages quote names, and printing them crashed mid-report."""
    (tmp_path / "s.json").write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p\\ud800"},'
        ' "spec": {"containers": [{"name": "a\\ud800", "image": "x"}]}}'
    )
    code, out, err, seconds, rss = _run_cli("lint", "s.json", "--format", output, cwd=tmp_path)
    _assert_bounded(code, err, rss)
    assert code == 1
    if output == "json":
        names = {(f["rule"], f["name"], f["container"]) for f in json.loads(out)["findings"]}
        assert names == {
            ("best-effort-pod", "p\ud800", None),
            ("memory-limit-missing", "p\ud800", "a\ud800"),
            ("memory-request-missing", "p\ud800", "a\ud800"),
        }
    elif output == "sarif":
        assert len(json.loads(out)["runs"][0]["results"]) == 3
    else:
        assert 'container "a\\ud800" has no memory limit' in out


@pytest.mark.parametrize("opener", ["[", "{a: ", "[{a: "])
def test_deep_flow_nesting_gets_our_message_and_position(opener: str):
    """libyaml >= 0.2.6 (bundled with PyYAML 6.0.4) has its own nesting limit of 1000, hit
    by its scanner's look-ahead before our MAX_DEPTH check sees an event; the loader reads
    the text before libyaml's mark again, so message and position are ours on any build."""
    from oomguard.linter.loader import LoadError, build_documents

    text = "kind: Pod\nspec: " + opener * 5000
    with pytest.raises(LoadError) as caught:
        build_documents(text)
    assert caught.value.message == "nested deeper than 100 levels"
    # the root mapping is level 1: the 100th bracket after "spec: " opens level 101
    line = "spec: " + opener * 5000
    brackets = [column for column, char in enumerate(line) if char in "[{"]
    assert (caught.value.line, caught.value.column) == (1, brackets[99])


def test_nesting_past_libyamls_own_limit_is_still_said_in_our_words(monkeypatch):
    """With our limit above libyaml's (as with a libyaml built with a low limit), the
    error is libyaml's position but our wording, never the parser's internal message."""
    import oomguard.linter.loader as loader

    monkeypatch.setattr(loader, "MAX_DEPTH", 100_000)
    text = "kind: Pod\nspec: " + "[" * 50_000
    try:
        loader.build_documents(text)
    except loader.LoadError as exc:
        error = exc
    else:  # a libyaml without a limit of its own: nothing to check here
        pytest.skip("this libyaml has no nesting limit of its own")
    assert error.message == "nested deeper than the YAML parser allows"
    assert error.line == 1


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name in ("bom-then-bad-bytes", "kind-is-a-mapping")],
    ids=lambda c: c.name,
)
def test_cli_sarif_holds_both_files_when_one_is_hostile(case: Case, tmp_path: Path, bad_pod: Path):
    """Regression: these inputs crashed the run, and the SARIF document was empty."""
    (tmp_path / "hostile.yaml").write_bytes(case.content)
    code, out, err, seconds, rss = _run_cli(
        "lint", "hostile.yaml", "bad.yaml", "--format", "sarif", cwd=tmp_path
    )
    _assert_bounded(code, err, rss)
    assert code == 1
    results = json.loads(out)["runs"][0]["results"]
    located = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in results
    }
    assert located == {
        ("manifest-invalid", "hostile.yaml"),
        ("best-effort-pod", "bad.yaml"),
        ("memory-limit-missing", "bad.yaml"),
        ("memory-request-missing", "bad.yaml"),
    }


# The safety net in linter/run.py is for bugs not yet known; the known ones are fixed, so a
# bug is injected here (monkeypatch: a fault injection, named so) to show what one would do.
BOOM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\ndata: {A: b}\n---\n" + (
    BAD_POD.replace("name: p", "name: boom")
)
BUG = r"RuntimeError at {}\.py:\d+ \(test_hostile_input\.py:\d+\)"  # ours, then the deepest


def _fails_on_boom(monkeypatch, target: str) -> None:
    """Make ``linter.run``'s ``target`` (``source_data``: the input index's, which the first
    pass fills) raise when its first argument mentions "boom"."""
    import oomguard.linter.run
    import oomguard.rules.sources

    run = oomguard.rules.sources if target == "source_data" else oomguard.linter.run
    original = getattr(run, target)

    def fails_on_boom(value, *args, **kwargs):
        if "boom" in json.dumps(value, default=str):
            raise RuntimeError("injected: secret-looking text \x1b[2J")
        return original(value, *args, **kwargs)

    monkeypatch.setattr(run, target, fails_on_boom)


@pytest.mark.parametrize(
    ("target", "where", "line", "ours"),
    [
        ("source_data", "reading its ConfigMaps and Secrets", 1, "sources"),  # first pass
        ("_objects", "reading it", 1, "run"),  # second pass, loading
        ("check_object", "checking the object at line 6", 6, "run"),  # second pass, one object
    ],
)
def test_injected_bug_on_one_file_is_a_finding_and_the_rest_is_reported(
    monkeypatch, tmp_path: Path, bad_pod: Path, target: str, where: str, line: int, ours: str
):
    _fails_on_boom(monkeypatch, target)
    boom = tmp_path / "boom.yaml"
    boom.write_text(BOOM)
    result = lint_paths([str(boom), str(bad_pod)], DEFAULT_CONFIG)
    invalid = [f for f in result.findings if f.file == str(boom) and f.rule == "manifest-invalid"]
    assert [f.line for f in invalid] == [line]
    assert re.fullmatch(
        rf"oomguard failed while {where}: {BUG.format(ours)} \(a bug: please report it\)",
        invalid[0].message,
    )
    what = invalid[0].message.removeprefix("oomguard ").removesuffix(" (a bug: please report it)")
    assert result.crashes == [f"{boom}: {what}"]
    assert "secret-looking" not in invalid[0].message  # never the exception's text
    assert {(f.rule, f.line, f.column) for f in result.findings if f.file == str(bad_pod)} == {
        (rule, line, column) for rule, line, column, _, _ in BAD_POD_FINDINGS
    }


def test_cli_injected_bug_exits_3_with_valid_sarif_and_no_traceback(
    monkeypatch, tmp_path: Path, bad_pod: Path, capsys
):
    from oomguard.cli import main

    _fails_on_boom(monkeypatch, "_objects")
    (tmp_path / "boom.yaml").write_text(BOOM)
    monkeypatch.chdir(tmp_path)
    code = main(["lint", "boom.yaml", "bad.yaml", "--format", "sarif"])
    out, err = capsys.readouterr()
    assert code == 3  # README: 3 = internal error, other findings still printed
    results = json.loads(out)["runs"][0]["results"]
    assert sorted(
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"])
        for r in results
    ) == [
        ("bad.yaml", "best-effort-pod"),
        ("bad.yaml", "memory-limit-missing"),
        ("bad.yaml", "memory-request-missing"),
        ("boom.yaml", "manifest-invalid"),
    ]
    assert re.fullmatch(
        rf"oomguard: internal error: boom\.yaml: failed while reading it: {BUG.format('run')} "
        r"\(please report this\)",
        err.strip(),
    )


@given(st.text(alphabet="{} x\n", max_size=40))
def test_template_check_is_its_definition(text: str):
    """``looks_like_template`` (two str.find, linear) says what the lazy regex it replaced
    said: a ``{{`` with a ``}}`` somewhere after it. Its speed is measured in
    bench/hostile_scan.py (the regex took 24 s on 80 KB of ``{{``)."""
    from oomguard.linter.loader import looks_like_template

    assert looks_like_template(text) == (re.search(r"\{\{.*?\}\}", text, re.S) is not None)


def test_chart_template_with_many_open_braces_is_linted_not_skipped(tmp_path: Path):
    """Many ``{{`` and no ``}}``: not template syntax, so the text is read as YAML; one
    ``}}`` at the end makes it a template, skipped whole in a chart's templates folder. (A
    chart named to lint is rendered by Helm now; the loader still decides for any template
    text it is handed, e.g. a stray file outside a chart.)"""
    from oomguard.linter.loader import load_text

    rows = "".join(f'    a{i}: "{{{{"\n' for i in range(5000))
    text = BAD_POD.replace("metadata: {name: p}", f"metadata:\n  name: p\n  annotations:\n{rows}")
    loaded = load_text(text, in_chart=True)
    assert loaded.skipped is None and loaded.errors == []
    assert [d.data["kind"] for d in loaded.documents] == ["Pod"]
    many = tmp_path / "many.yaml"  # outside a chart: linted with the same findings
    many.write_text(text)
    result = lint_paths([str(many)], DEFAULT_CONFIG)
    assert {f.rule for f in result.findings} == {r for r, *_ in BAD_POD_FINDINGS}
    again = load_text(text + "# }}\n", in_chart=True)
    assert again.skipped == "unrendered Helm template" and again.documents == []


def test_yaml_that_is_not_kubernetes_may_have_any_kind(tmp_path: Path):
    """A ``kind`` that is a mapping in YAML without ``apiVersion`` is not a Kubernetes
    object (a tool's own config): skipped silently like any such file, never a crash."""
    other = tmp_path / "tool.yaml"
    other.write_text("kind: {plugin: x}\nsettings: [1, 2]\n---\nkind: [a, b]\n")
    result = lint_paths([str(other)], DEFAULT_CONFIG)
    assert (result.findings, result.crashes, result.objects) == ([], [], 0)
