"""Node.js rules: --max-old-space-size (MiB) and its percentage form against the limit."""

from __future__ import annotations

from fractions import Fraction

import pytest
from helpers import (
    apply_fix,
    config,
    container_view,
    dump,
    findings,
    none_of,
    one,
    pod,
    workload_object,
)
from oomguard.rules.runtimes.node import node_heap, node_settings

EXCEEDS = "node-heap-exceeds-limit"
HEADROOM = "node-heap-headroom-low"
INVALID = "runtime-flag-invalid"
UNSET = "runtime-heap-unset"
NODE_RULES = (EXCEEDS, HEADROOM, INVALID)


def node(*flags: str, env: str = "", limit: str = "2Gi", command: str = "") -> str:
    command = command or "[" + ", ".join(["node", *flags, "server.js"]) + "]"
    env_part = f", env: {env}" if env else ""
    return pod(
        f"{{name: web, image: node:22-slim, command: {command}{env_part}, "
        f"resources: {{limits: {{memory: {limit}}}}}}}"
    )


def rules(text: str, cfg=None) -> list[str]:
    found = findings(text) if cfg is None else findings(text, cfg=cfg)
    return [f.rule for f in found if f.rule in NODE_RULES]


def test_exceeds_full_message_and_fix():
    text = node("--max-old-space-size=4096")
    finding = one(text, EXCEEDS)
    assert (finding.severity, finding.container) == ("error", "web")
    assert finding.path == ("spec", "containers", 0, "command", 1)
    assert finding.message == (
        '--max-old-space-size=4096 (command) is 200% of the 2Gi memory limit of container "web": '
        "heap plus off-heap memory will pass the limit and the kernel will kill the container "
        "(exit 137); use at most 75% (1536Mi)"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/command/1",
         "value": "--max-old-space-size=1536"},
    ]  # fmt: skip
    assert rules(dump(patched)) == []


def test_headroom_full_message():
    finding = one(node("--max-old-space-size=1800"), HEADROOM)
    assert finding.severity == "warning"
    assert finding.message == (
        '--max-old-space-size=1800 (command) is 87.9% of the 2Gi memory limit of container "web", '
        "above the 75% that leaves room for off-heap memory; use at most 1536Mi"
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("--max-old-space-size=1536",), []),  # exactly 0.75 × 2Gi
        (("--max-old-space-size=1537",), [HEADROOM]),
        (("--max-old-space-size=2048",), [EXCEEDS]),
        (("--max_old_space_size=2048",), [EXCEEDS]),  # underscores are the same flag
        (("--max-old-space-size=2g",), [INVALID]),
        (("--max-old-space-size=1.5",), [INVALID]),
        (("--max-old-space-size=",), [INVALID]),
        (("--max-old-space-size", "'4096'"), [INVALID]),  # node exits: see below
        (("--max_old_space_size", "'512'"), [INVALID]),
        (("--max-old-space-size",), [INVALID]),
        (("--max-old-space-size=512", "--max-old-space-size=4096"), [EXCEEDS]),  # last wins
        (("--max-old-space-size=4096", "--max-old-space-size=512"), []),
        (("--max-old-space-size-percentage=75",), []),
        (("--max-old-space-size-percentage=90",), [HEADROOM]),
        (("--max-old-space-size-percentage=100",), [EXCEEDS]),
        (("--max-old-space-size-percentage=0",), [INVALID]),
        (("--max-old-space-size-percentage=150",), [INVALID]),
        # the percentage takes precedence over the size, in either order
        (("--max-old-space-size=4096", "--max-old-space-size-percentage=50"), []),
        (("--max-old-space-size-percentage=50", "--max-old-space-size=4096"), []),
        (("--max-old-space-size-percentage=90", "--max-old-space-size=512"), [HEADROOM]),
    ],
)
def test_flags_and_precedence(flags, expected):
    assert rules(node(*flags)) == expected


def test_percentage_heap_is_exact_for_a_whole_byte_limit():
    """--max-old-space-size-percentage=33.3 (src/node_options.cc) of a 2Gi limit is
    715112529.5104 bytes, kept exact: the limit is an int, the heap a Fraction, never a
    float."""
    view = container_view(node("--max-old-space-size-percentage=33.3"))
    heap = node_heap(node_settings(view).effective(), view.limit.usable)
    assert type(view.limit.usable) is int
    assert type(heap) is Fraction
    assert heap == Fraction(2 * 1024**3 * 333, 1000)


def test_percentage_message_and_fix():
    finding = one(node("--max-old-space-size-percentage=90"), HEADROOM)
    assert finding.message.startswith(
        "--max-old-space-size-percentage=90 (command), 1.8Gi, is 90% of the 2Gi memory limit"
    )
    assert finding.fix[0]["value"] == "--max-old-space-size-percentage=75"


def test_invalid_message():
    finding = one(node("--max-old-space-size=2g"), INVALID)
    assert finding.message == (
        "--max-old-space-size=2g (command) in container \"web\": '2g' is not a whole number of "
        "MiB (write e.g. 1536); node rejects it"
    )


def test_node_options_and_command_line():
    opts = '[{name: NODE_OPTIONS, value: "--max-old-space-size=4096"}]'
    finding = one(node(env=opts), EXCEEDS)
    assert finding.path == ("spec", "containers", 0, "env", 0, "value")
    assert finding.message.startswith("--max-old-space-size=4096 (env NODE_OPTIONS) is 200%")
    # the command line is read after NODE_OPTIONS and wins
    assert rules(node("--max-old-space-size=1024", env=opts)) == []
    # NODE_OPTIONS applies whatever starts node (npm, a script)
    assert rules(node(env=opts, command="[npm, start]")) == [EXCEEDS]


def test_flags_after_the_script_belong_to_the_script():
    assert rules(node(command="[node, server.js, --max-old-space-size=4096]")) == []


def test_node_in_a_shell_script():
    command = '[sh, -c, "cd /app && exec node --max-old-space-size=4096 server.js"]'
    finding = one(node(command=command), EXCEEDS)
    assert finding.fix[0]["value"] == "cd /app && exec node --max-old-space-size=1536 server.js"


# node declares --max-old-space-size a V8Option (src/node_options.cc:
# AddOption("--max-old-space-size", "", V8Option{}, kAllowedInEnvvar)); OptionsParser::Parse
# (src/node_options-inl.h) consumes a value only when `info.type != kV8Option`, so V8 gets
# the flag alone and FlagList::SetFlagsFromCommandLine (deps/v8/src/flags/flags.cc) prints
# "Error: missing value for flag --max-old-space-size of type size_t": node exits at start.
@pytest.mark.parametrize("value", ["'1024'", "'512'"])
def test_space_separated_value_is_invalid_not_a_heap(value):
    text = node("--max-old-space-size", value, limit="2Gi")
    finding = one(text, INVALID)
    number = value.strip("'")
    assert finding.message == (
        f'--max-old-space-size {number} (command) in container "web": node hands this flag to '
        "V8 without the word after it, so V8 finds no value and node exits at start (write it "
        "with =, e.g. --max-old-space-size=1024); node rejects it"
    )
    assert finding.fix == ()
    assert rules(text) == [INVALID]  # not judged as a heap size
    settings = node_settings(container_view(text))
    assert [(f.value, f.mib, f.error is not None) for f in settings.flags] == [(number, None, True)]
    assert settings.effective() is None


def test_space_form_in_node_options_is_invalid_and_not_rewritten():
    opts = '[{name: NODE_OPTIONS, value: "--max-old-space-size 4096"}]'
    text = node(env=opts)
    finding = one(text, INVALID)
    assert finding.path == ("spec", "containers", 0, "env", 0, "value")
    assert finding.message.startswith("--max-old-space-size 4096 (env NODE_OPTIONS) in ")
    assert finding.fix == ()
    assert rules(text) == [INVALID]  # no heap finding, so no heap fix


def test_no_fix_writes_the_space_form():
    # a valid "=" flag beside a space-form one: the fix rewrites only the "=" token, in its
    # "=" form, and the space-form stays reported, never turned into a heap size
    text = node("--max-old-space-size=4096", "--max-old-space-size", "'4096'")
    assert sorted(rules(text)) == [EXCEEDS, INVALID]
    finding = one(text, EXCEEDS)
    assert finding.fix[0]["value"] == "--max-old-space-size=1536"
    patch, patched = apply_fix(workload_object(text), [finding])
    assert "--max-old-space-size=1536" in dump(patched)
    assert all(" " not in op["value"] for op in patch if isinstance(op.get("value"), str))


def test_threshold_is_configurable():
    cfg = config(thresholds={"node_heap_ratio": 0.5})
    finding = one(node("--max-old-space-size=1536"), HEADROOM, cfg)
    assert finding.fix[0]["value"] == "--max-old-space-size=1024"


def test_no_flag_is_not_a_finding_for_node():
    text = node()
    assert rules(text) == []
    none_of(text, UNSET)
