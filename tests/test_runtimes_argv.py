"""Command lines and environments: argv/shell parsing, $(VAR) and $VAR expansion, env order,
envFrom, resourceFieldRef, ConfigMap/Secret look-ups."""

from __future__ import annotations

import pytest
from helpers import container_view, pod
from hypothesis import example, given, settings
from hypothesis import strategies as st
from oomguard.rules.runtimes.argv import rewrite_occurrence
from oomguard.rules.runtimes.env import expand_references, source_data


def lines(body: str) -> list[tuple[str, list[str]]]:
    container = container_view(pod(body))
    return [(line.program, [t.text for t in line.args]) for line in container.commands]


def env_of(body: str, prefix: str = "") -> dict[str, str | None]:
    container = container_view(prefix + pod(body))
    return {name: value.value for name, value in container.env.values.items()}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{name: a, command: [java, -Xmx1g, -jar, a]}", [("java", ["-Xmx1g", "-jar", "a"])]),
        ("{name: a, command: [/usr/bin/java], args: [-Xmx1g]}", [("java", ["-Xmx1g"])]),
        ("{name: a, args: [-Xmx1g]}", [("", ["-Xmx1g"])]),  # the image's entrypoint
        ('{name: a, command: [sh, -c, "exec java -Xmx1g -jar a.jar"]}',
         [("java", ["-Xmx1g", "-jar", "a.jar"])]),
        ('{name: a, command: [/bin/bash, -ec, "cd /x && env A=1 exec java -Xmx1g x.Main"]}',
         [("cd", ["/x"]), ("java", ["-Xmx1g", "x.Main"])]),
        ('{name: a, command: [sh, -c, "java \'-Xmx1g\' \\"-Dx=a b\\" M | tee log"]}',
         [("java", ["-Xmx1g", "-Dx=a b", "M"]), ("tee", ["log"])]),
        ("{name: a, command: [tini, --, node, s.js]}", [("node", ["s.js"])]),
        ("{name: a}", []),
    ],
)  # fmt: skip
def test_command_lines(body, expected):
    assert lines(body) == expected


def test_shell_variables_from_env_script_and_defaults():
    body = (
        '{name: a, env: [{name: OPTS, value: "-Xmx1g -Xms1g"}], command: [sh, -c, '
        '"X=-Dy; export Z=-Dz; exec java $OPTS ${X} ${Z} ${UNSET:--Dd} -jar a.jar"]}'
    )
    assert lines(body) == [("java", ["-Xmx1g", "-Xms1g", "-Dy", "-Dz", "-Dd", "-jar", "a.jar"])]


def test_kubernetes_expansion_in_command_and_args():
    body = (
        '{name: a, env: [{name: HEAP, value: "-Xmx1g"}, {name: P, value: "8080"}], '
        'command: [java, "$(HEAP)", "-Dport=$(P)", "$(MISSING)", "$$(HEAP)", -jar, a.jar]}'
    )
    assert lines(body) == [
        ("java", ["-Xmx1g", "-Dport=8080", "$(MISSING)", "$(HEAP)", "-jar", "a.jar"])
    ]


def test_expand_references():
    defined = {"A": "1", "B": "x y"}
    assert expand_references("$(A)-$(B)-$(C)-$$(A)-$$$(A)", defined) == "1-x y-$(C)-$(A)-$1"


def test_env_order_later_wins_and_references_use_earlier_values():
    body = (
        "{name: a, env: [{name: A, value: one}, {name: B, value: '$(A)-$(C)'}, "
        "{name: C, value: three}, {name: A, value: two}]}"
    )
    assert env_of(body) == {"A": "two", "B": "one-$(C)", "C": "three"}


def test_env_from_order_prefix_and_env_override():
    sources = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {A: '1', B: '1'}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\ndata: {B: '2'}\n---\n"
    )
    body = (
        "{name: a, envFrom: [{configMapRef: {name: one}}, {configMapRef: {name: two}}, "
        "{configMapRef: {name: one}, prefix: P_}, {configMapRef: {name: gone}}], "
        "env: [{name: A, value: env}]}"
    )
    assert env_of(body, sources) == {"A": "env", "B": "2", "P_A": "1", "P_B": "1"}
    container = container_view(sources + pod(body))
    assert container.env.unresolved_sources == ['ConfigMap "gone"']


def test_resource_field_ref_divisors():
    def value(divisor: str, resource: str = "limits.memory") -> str | None:
        ref = (
            f"{{resource: {resource}, divisor: {divisor}}}"
            if divisor
            else f"{{resource: {resource}}}"
        )
        body = (
            f"{{name: a, env: [{{name: M, valueFrom: {{resourceFieldRef: {ref}}}}}], "
            "resources: {limits: {memory: 1536Mi}, requests: {memory: 1Gi}}}"
        )
        return env_of(body)["M"]

    assert value("") == str(1536 * 1024**2)
    assert value("1Mi") == "1536"
    assert value("1Gi") == "2"  # rounded up, as the kubelet does
    assert value("1M") == "1611"  # 1610.6 MB, rounded up
    assert value("1Ki", "requests.memory") == "1048576"
    assert value("", "limits.cpu") is None
    # validation compares the divisor's canonical string with 1, 1k…1E, 1Ki…1Ei
    # (pkg/apis/core/validation validateContainerResourceDivisor): 1000 is "1k", 1024Ki is
    # "1Mi"; 1024 stays "1024", 1e3 stays "1e3", 3Mi is not a unit: the pod is refused
    assert value("1000") == "1610613"
    assert value("1024Ki") == "1536"
    for refused in ("1024", "1e3", "3Mi", "2k", "0.5Ki", "x"):
        assert value(refused) is None, refused


def test_secret_data_is_base64_and_string_data_plain():
    secret = {
        "kind": "Secret",
        "data": {"A": "LVhteDFn", "BAD": "%%%"},  # "-Xmx1g"
        "stringData": {"B": "-Xmx2g"},
    }
    assert source_data(secret) == {"A": "-Xmx1g", "B": "-Xmx2g"}
    assert source_data({"kind": "ConfigMap", "data": {"N": 5, "S": "x"}}) == {"N": "5", "S": "x"}


def test_rewrite_occurrence_whole_words_only():
    assert rewrite_occurrence("-Xmx2g -Xmx2g", "-Xmx2g", "-Xmx1g", 1) == "-Xmx2g -Xmx1g"
    assert rewrite_occurrence("-Xmx2gb -Xmx2g", "-Xmx2g", "-Xmx1g", 0) == "-Xmx2gb -Xmx1g"
    assert rewrite_occurrence("exec java '-Xmx2g';", "-Xmx2g", "-Xmx1g", 0) == (
        "exec java '-Xmx1g';"
    )
    assert rewrite_occurrence("a -X b", "-X", "", 0) == "a b"
    assert rewrite_occurrence("a b", "-X", "", 0) is None


_SHELL_PIECES = [
    *("java", "-Xmx1g", "$A", "A=b", "./x", "{}", "[~*?:<>]", " ", " ", "\t", "\n"),
    *("'", '"', "\\", "#", ";", "&", "|", "(", ")", "\x0b", "\x0c", "\xa0", "\x85", "é"),
]


@given(st.lists(st.sampled_from(_SHELL_PIECES), max_size=8).map("".join))
@settings(max_examples=300)
@example("java '-Xmx1g' -jar a")
@example('java "-Xmx1g"')
@example("a\\ b")
@example("a #b")
@example("a;b")
@example("date; echo hi && a||b | c;;d (e)")
@example("while [ ! -f /x ]; do sleep 2; done;")
@example("for i in $(seq 1 $N); do")
@example("a\x0bb\xa0c")
def test_plain_script_lines_split_as_shlex_does(script):
    # _simple_commands reads a line without quotes, escapes or comments by a regular
    # expression instead of shlex (a fast path, punctuation runs such as `;` and `&&` as words
    # of their own): the words must be shlex's, whatever the line.
    import shlex

    from oomguard.rules.runtimes.argv import _SEPARATORS, _simple_commands

    expected: list[list[str]] = []
    for line in script.splitlines():
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
            lexer.whitespace_split = True
            words = list(lexer)
        except ValueError:
            words = line.split()
        current: list[str] = []
        for word in words:
            if word in _SEPARATORS:
                if current:
                    expected.append(current)
                current = []
            else:
                current.append(word)
        if current:
            expected.append(current)
    assert _simple_commands(script) == expected


def _shlex_words(line: str) -> list[str] | str:
    """The reference: how shlex splits a script line for oomguard (or that it refuses it)."""
    import shlex

    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        return list(lexer)
    except ValueError:
        return "refused"


def test_quoted_script_lines_split_as_shlex_does():
    # rules/runtimes/shell_words.py splits lines with quotes (no escapes, no comments) by
    # regular expressions instead of shlex: the words, and the lines shlex refuses (a quote
    # left open), must be shlex's. Seeded, so a failure names a line that can be replayed.
    import random

    from oomguard.rules.runtimes import shell_words

    pieces = [*"ab =-.$é\xa0{}", " ", "\t", *";&|()", "'", '"', "'", '"', "\\", "#", "-Xmx1g"]
    rng = random.Random(19)
    quoted = 0
    for _ in range(20_000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        try:
            words: list[str] | str = shell_words.line_words(line)
        except ValueError:
            words = "refused"
        assert words == _shlex_words(line), line
        quoted += not shell_words._PLAIN_LINE.fullmatch(line) and (
            "\\" not in line and "#" not in line and shell_words._quoted_words(line) is not None
        )
    assert quoted > 1_000  # the fast path for quoted lines was taken, not only shlex


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (
            """exec java "-Xmx1g" '-Dname=a b' -jar app.jar""",
            ["exec", "java", "-Xmx1g", "-Dname=a b", "-jar", "app.jar"],
        ),
        ("""a'b"c'd "x;y"&&z""", ['ab"cd', "x;y", "&&", "z"]),
        ("""'' "" x""", ["", "", "x"]),
    ],
)
def test_quoted_line_words(line, words):
    from oomguard.rules.runtimes.shell_words import line_words

    assert line_words(line) == words == _shlex_words(line)
