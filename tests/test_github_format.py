"""``--format github``: workflow commands that GitHub Actions turns into annotations."""

from __future__ import annotations

import io

from conftest import EXAMPLES
from oomguard.linter.ci_formats import escape_data, escape_property, write_github
from oomguard.linter.output import Shown
from oomguard.linter.run import LintResult
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.model import Finding


def test_examples_become_annotations(run_oomguard):
    proc = run_oomguard("lint", "--format", "github", "examples/bad/node.yaml")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        "::error file=examples/bad/node.yaml,line=17,col=29,"
        "title=oomguard node-heap-exceeds-limit::--max-old-space-size=4096 (command) is 400%25 "
        'of the 1Gi memory limit of container "web": heap plus off-heap memory will pass the '
        "limit and the kernel will kill the container (exit 137); use at most 75%25 (768Mi) "
        "[Deployment/storefront web]"
    )
    assert lines[1].startswith(
        "::warning file=examples/bad/node.yaml,line=25,col=22,"
        "title=oomguard node-heap-headroom-low::"
    )
    assert lines[2] == "1 file, 1 workload: 1 error, 1 warning (2 fixable with --fix)"


def test_quiet_prints_only_commands(run_oomguard):
    proc = run_oomguard("lint", "--format", "github", "--quiet", "examples/bad/node.yaml")
    assert all(line.startswith("::") for line in proc.stdout.splitlines())
    assert len(proc.stdout.splitlines()) == 2


def test_info_is_a_notice(run_oomguard):
    proc = run_oomguard(
        "lint", "--format", "github", "--min-severity", "info", "examples/bad/memory-limits.yaml"
    )
    notices = [line for line in proc.stdout.splitlines() if line.startswith("::notice ")]
    assert notices and all("title=oomguard qos-not-guaranteed::" in n for n in notices)


def test_escaping_follows_the_actions_toolkit():
    assert escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d"
    assert escape_property("dir,x/a:b%.yaml\n") == "dir%2Cx/a%3Ab%25.yaml%0A"


def test_properties_and_message_are_escaped():
    finding = Finding(
        rule="memory-limit-missing",
        severity="error",
        message="line one\nline two: 50% done",
        kind="Pod",
        name="p",
        container="c",
        file="we:ird,dir/m.yaml",
        line=3,
        column=5,
    )
    out = io.StringIO()
    shown = Shown([finding], DEFAULT_CONFIG)
    write_github(out, LintResult(files=1, objects=1), shown, DEFAULT_CONFIG, quiet=True)
    assert out.getvalue() == (
        "::error file=we%3Aird%2Cdir/m.yaml,line=3,col=5,title=oomguard memory-limit-missing::"
        "line one%0Aline two: 50%25 done [Pod/p c]\n"
    )


def test_stdin_findings_have_no_file(run_oomguard):
    text = (EXAMPLES / "bad" / "node.yaml").read_text()
    proc = run_oomguard("lint", "--format", "github", "--quiet", "-", stdin=text)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("::error title=oomguard node-heap-exceeds-limit::")
