"""What a container runs: its command lines as tokens that remember where they were written.

``command`` + ``args`` form one argv after Kubernetes ``$(VAR)`` expansion. When that argv is
``sh -c SCRIPT`` (or bash, ash, dash, zsh), the script is split into simple commands
(``;``, ``&&``, ``||``, ``|``, newlines), ``exec``/``env``/``VAR=value`` prefixes are
stripped, and ``$VAR``/``${VAR}``/``${VAR:-default}`` expand from the container's
environment and from assignments earlier in the script. Every token records the string it
came from (a path into the object, or a ConfigMap) so a fix can rewrite exactly that text.

Never silent: an element or script oomguard does not read (its expansion too long, the
object's budget spent) is kept in ``Commands.unread`` with the reason, which
``runtime-flag-unresolved`` reports; a word that expands a variable whose value is unknown (a
ConfigMap not in the input) yields no token (its text is unknown, not the literal
``$(VAR)``) and the name stays in ``references``, where the runtime reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from oomguard.rules.model import Path
from oomguard.rules.runtimes.env import (
    MAX_READ,
    MAX_STRING,
    OVER_BUDGET,
    OVER_READ_BUDGET,
    TextBudget,
    TooLong,
    expand_references,
    too_long_reason,
)
from oomguard.rules.runtimes.shell_words import line_words

if TYPE_CHECKING:
    from oomguard.rules.runtimes.env import Env
    from oomguard.rules.workload import Container

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"})
_PREFIX_COMMANDS = frozenset({"exec", "env", "nohup", "time", "command", "su-exec", "gosu", "tini"})
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", ";;", "{", "}", "then", "do", "else"})
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
_K8S_WHOLE_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_SHELL_REF = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)
# Longest script worth tokenising; longer ones are data, not launch commands.
_MAX_SCRIPT = 64 * 1024
SCRIPT_OVER_BUDGET = (
    f"oomguard reads at most {MAX_READ // 1024} KiB of flag text (environment values and "
    "shell scripts) per object and this object has used it"
)


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class Token:
    """One argv word and where its text is written."""

    text: str
    origin: str  # for messages: 'args', 'command', 'env JAVA_OPTS', …
    path: Path | None = None  # the string that holds the text; None when not in the object
    occurrence: int = 0  # which occurrence of `text` in that string this is


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Unread:
    """Command text oomguard did not read, and why; reads like an unresolved ``EnvValue``."""

    name: str  # unique per container: 'args[3]', 'script in command[2]'
    origin: str  # for messages
    path: Path | None
    unresolved: str
    value: None = None
    literal: bool = False


class Commands(list):
    """The command lines of a container (a list of :class:`CommandLine`), and ``unread``."""

    def __init__(self, lines=(), unread: list[Unread] | None = None) -> None:
        super().__init__(lines)
        self.unread: list[Unread] = unread or []


@dataclass(eq=False, repr=False)
class CommandLine:
    """One simple command: a program and its arguments."""

    program: str  # basename of the executable ('' when the image's entrypoint runs)
    args: list[Token]
    references: set[str] = field(default_factory=set)  # env names the line expands


def command_lines(container: Container) -> Commands:
    """The command lines a container runs, in order (the last is usually the long-lived one)."""
    env = container.env
    budget = container.workload.budget
    references: set[str] = set()
    argv: list[Token] = []
    unread: list[Unread] = []
    has_command = isinstance(container.spec.get("command"), list)
    defined: dict[str, str] | None = None  # built for the first element that expands
    unexpanded: dict[str, str] = {}
    for key in ("command", "args"):
        items = container.spec.get(key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if isinstance(item, str):
                path = (*container.path, key, index)
                if "$" not in item:  # most elements: nothing to expand
                    argv.append(Token(item, key, path))
                    continue
                if defined is None:
                    defined = {n: v.value for n, v in env.values.items() if v.value is not None}
                    unexpanded = {n: v.overlong for n, v in env.values.items() if v.overlong}
                try:
                    argv.extend(_expand_k8s(item, path, key, env, defined, unexpanded, references))
                except TooLong as exc:
                    where = f"{key}[{index}]"
                    unread.append(Unread(where, where, path, str(exc)))
    if not argv:
        return Commands((), unread)
    if not has_command:
        # args only: the image's entrypoint receives them; its program is unknown
        return Commands([CommandLine("", argv, references)], unread)
    script = _shell_script(argv)
    if script is None:
        return Commands([_strip_prefixes(argv, references)], unread)
    return Commands(_script_lines(script, env, budget, references, unread), unread)


def _expand_k8s(
    text: str,
    path: Path,
    origin: str,
    env: Env,
    defined: dict[str, str],
    unexpanded: dict[str, str],
    references: set[str],
) -> list[Token]:
    """Kubernetes ``$(VAR)`` expansion of one argv element. Kubernetes does not word-split:
    ``"$(JAVA_OPTS)"`` holding ``-Xms1g -Xmx2g`` is one argument (a shell script splits it
    later, when the element is an ``sh -c`` script). An element that would expand past what
    Linux passes to a program (or past the object's budget) raises :class:`TooLong`; one
    that references a variable of unknown value yields nothing, and the variables stay in
    ``references``, where their unresolved values are reported."""
    whole = _K8S_WHOLE_REF.fullmatch(text)
    if whole and whole.group(1) in env.values:
        name = whole.group(1)
        references.add(name)
        value = env.get(name)
        if value.value is None:
            if _over_bound(value):
                raise TooLong(f"$({name}) is not read: {value.unresolved}")
            return []
        return [Token(value.value, value.origin, (*value.path, "value") if value.literal else None)]
    names = []
    for match in _K8S_WHOLE_REF.finditer(text):
        references.add(match.group(1))
        names.append(match.group(1))
    for name in names:
        value = env.values.get(name)
        if value is not None and value.value is None:
            if _over_bound(value):
                raise TooLong(f"$({name}) is not read: {value.unresolved}")
            return []  # "-Xmx$(MEM)" with MEM from a ConfigMap not in the input: unknown
    expanded = expand_references(text, defined, unexpanded=unexpanded, budget=env.budget)
    if expanded == text:
        return [Token(text, origin, path)]
    # the flags came from variables: say so, and do not rewrite text that is not written here
    used = ", ".join(_described(name, env) for name in dict.fromkeys(names) if name in defined)
    return [Token(expanded, f"{origin} expanding {used}" if used else origin, None)]


def _described(name: str, env: Env) -> str:
    """``$(MEM)``, saying when its value counts units of a resourceFieldRef divisor."""
    value = env.values.get(name)
    if value is not None and value.divisor:
        return f"$({name}) = {value.value} units of {value.divisor}"
    return f"$({name})"


def env_words(value, references: set[str]) -> list[Token]:
    """The words of an env value used as arguments (word-split, as a shell would)."""
    if value.value is None:
        return []
    counts: dict[str, int] = {}
    tokens = []
    for word in value.value.split():
        tokens.append(
            Token(
                word,
                value.origin,
                value.path + ("value",) if value.literal else None,
                counts.get(word, 0),
            )
        )
        counts[word] = counts.get(word, 0) + 1
    return tokens


def _shell_script(argv: list[Token]) -> Token | None:
    """The script of ``sh -c SCRIPT …``, or None when argv is not a shell invocation."""
    if _basename(argv[0].text) not in SHELLS:
        return None
    for position, token in enumerate(argv[1:4], start=1):
        if token.text.startswith("-") and "c" in token.text[1:] and position + 1 < len(argv):
            return argv[position + 1]
    return None


def _over_bound(value) -> bool:
    """The value is unknown because oomguard would not build or read it (not its source)."""
    return bool(value.overlong) or value.unresolved == OVER_READ_BUDGET


def _script_lines(
    script: Token, env: Env, budget: TextBudget, references: set[str], unread: list[Unread]
) -> list[CommandLine]:
    where = f"the shell script ({script.origin})"
    name = f"script {script.origin}"
    if len(script.text) > _MAX_SCRIPT:
        unread.append(
            Unread(
                name,
                where,
                script.path,
                f"it is {len(script.text)} bytes long and oomguard reads only its first "
                f"{_MAX_SCRIPT // 1024} KiB as commands",
            )
        )
    text = script.text[:_MAX_SCRIPT].replace("\\\n", " ")
    if not budget.spend_read(len(text)):  # the object has spent its budget on other flag text
        unread.append(Unread(name, where, script.path, SCRIPT_OVER_BUDGET))
        return []
    dropped: list[str] = []
    local: dict[str, str] = {}
    lines: list[CommandLine] = []
    counts: dict[str, int] = {}
    for words in _simple_commands(text):
        tokens: list[Token] = []
        for word in words:
            for expanded in _expand_shell(word, env, local, budget, references, dropped):
                if isinstance(expanded, Token):
                    tokens.append(expanded)
                else:
                    occurrence = counts.get(expanded, 0)
                    counts[expanded] = occurrence + 1
                    tokens.append(Token(expanded, script.origin, script.path, occurrence))
        assignments = _leading_assignments(tokens)
        if assignments == len(tokens) or (tokens and tokens[0].text == "export"):
            for token in tokens:
                match = _ASSIGNMENT.fullmatch(token.text)
                if match:
                    local[match.group(1)] = match.group(2)
            continue
        if tokens:
            lines.append(_strip_prefixes(tokens, set(references)))
    if dropped:
        more = f" (and {len(dropped) - 1} more words)" if len(dropped) > 1 else ""
        unread.append(Unread(f"words of {name}", where, script.path, dropped[0] + more))
    return lines


def _simple_commands(script: str) -> list[list[str]]:
    commands: list[list[str]] = []
    for line in script.splitlines():
        try:
            words = line_words(line)
        except ValueError:  # unbalanced quotes: fall back to plain words
            words = line.split()
        current: list[str] = []
        for word in words:
            if word in _SEPARATORS:
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(word)
        if current:
            commands.append(current)
    return commands


def _expand_shell(
    word: str,
    env: Env,
    local: dict[str, str],
    budget: TextBudget,
    references: set[str],
    dropped: list[str],
):
    """Expand ``$VAR`` forms in one shell word; a word that is only a reference is word-split.

    Each split and each built word is charged to the object's budget, and no word grows past
    what Linux passes to a program (``A=$A$A`` lines double a variable each time): past
    either bound the word yields nothing, and why is added to ``dropped``. A variable of
    unknown value (set from a ConfigMap not in the input) makes the word unknown: nothing."""
    whole = _SHELL_REF.fullmatch(word)
    if whole:
        name = whole.group(1) or whole.group(3)
        references.add(name)
        if name in local:
            if budget.spend_read(len(local[name])):
                return local[name].split()
            dropped.append(f"${name} is not read: {OVER_READ_BUDGET}")
            return []
        value = env.get(name)
        if value is not None and value.value is not None:
            if budget.spend_read(len(value.value)):
                return env_words(value, references)
            dropped.append(f"${name} is not read: {OVER_READ_BUDGET}")
            return []
        if value is not None:  # set, value unknown
            if _over_bound(value):
                dropped.append(f"${name} is not read: {value.unresolved}")
            return []
        return (whole.group(2) or "").split()
    if "$" not in word:
        return [word]
    pieces: list[str] = []
    size = 0
    last = 0
    for match in _SHELL_REF.finditer(word):
        name = match.group(1) or match.group(3)
        references.add(name)
        value = None if name in local else env.get(name)
        if name in local:
            piece = local[name]
        elif value is not None and value.value is not None:
            piece = value.value
        elif value is not None:  # "-Xmx$MEM" with MEM unknown: the word is unknown
            if _over_bound(value):
                dropped.append(f"${name} is not read: {value.unresolved}")
            return []
        else:
            piece = match.group(2) or ""
        pieces += (word[last : match.start()], piece)
        size += match.start() - last + len(piece)
        last = match.end()
        if size > MAX_STRING:
            dropped.append(f"a word {too_long_reason(f'expands to over {MAX_STRING} bytes')}")
            return []
    pieces.append(word[last:])
    size += len(word) - last
    if size > MAX_STRING:
        dropped.append(f"a word {too_long_reason(f'expands to {size} bytes')}")
        return []
    if not budget.spend_expanded(size):
        dropped.append(f"a word: {OVER_BUDGET}")
        return []
    return ["".join(pieces)]


def _leading_assignments(tokens: list[Token]) -> int:
    count = 0
    for token in tokens:
        if not _ASSIGNMENT.fullmatch(token.text):
            break
        count += 1
    return count


def _strip_prefixes(tokens: list[Token], references: set[str]) -> CommandLine:
    """Drop ``exec``, ``env``, ``VAR=value`` and similar wrappers before the real program."""
    start = 0
    while start < len(tokens):
        word = tokens[start].text
        if (
            _basename(word) in _PREFIX_COMMANDS
            or _ASSIGNMENT.fullmatch(word)
            or word == "--"
            or word.startswith("-")
            and start > 0
            and _basename(tokens[start - 1].text) == "env"
        ):
            start += 1
        else:
            break
    if start >= len(tokens):
        return CommandLine("", [], references)
    return CommandLine(_basename(tokens[start].text), tokens[start + 1 :], references)


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def rewrite_occurrence(text: str, old: str, new: str, occurrence: int) -> str | None:
    """``text`` with the ``occurrence``-th whole-word ``old`` replaced by ``new`` (an empty
    ``new`` also takes one neighbouring blank with it); None if there is no such word."""
    pattern = re.compile(r"(?<![^\s'\"=])" + re.escape(old) + r"(?![^\s'\";&|)])")
    for index, match in enumerate(pattern.finditer(text)):
        if index == occurrence:
            start, end = match.start(), match.end()
            if not new:
                if end < len(text) and text[end] == " ":
                    end += 1
                elif start > 0 and text[start - 1] == " ":
                    start -= 1
            return text[:start] + new + text[end:]
    return None
