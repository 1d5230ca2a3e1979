"""The words of one shell script line, exactly as ``shlex`` splits them for oomguard.

The reference is ``shlex.shlex(line, posix=True, punctuation_chars=";&|()")`` with
``whitespace_split = True``: runs of ``;&|()`` are words of their own, other words end at a
blank or at such a run, quotes group text and are removed, ``\\`` escapes and ``#`` starts a
comment. shlex reads one character at a time in Python (~20x slower than a regular
expression), so the two kinds of line most scripts are made of are split here by regular
expressions that give the same words; any other line goes to shlex itself.
``tests/test_runtimes_argv.py`` checks these against shlex on generated lines.
"""

from __future__ import annotations

import re
import shlex

_PUNCTUATION = ";&|()"
# Blanks are what shlex's whitespace holds that a line can contain (splitlines() takes \r, \n).
# A plain line: nothing shlex treats specially (quotes, escapes, comments) and no blank but
# spaces and tabs; its words are the runs of punctuation and the runs of other characters.
_PLAIN_LINE = re.compile(r"[ \t!$%*+,\-./0-9:<=>?@A-Z\[\]^_`a-z{}~;&|()]*")
_PLAIN_WORD = re.compile(r"[;&|()]+|[^ \t;&|()]+")
# A quoted line: quotes, but no escape (\\) or comment (#). A word is a run of unquoted
# characters and whole quoted strings (shlex joins them, without their quotes). Each
# alternative starts with a different character, so matching is linear (no backtracking).
_QUOTED_TOKEN = re.compile(r"""[;&|()]+|(?:[^ \t;&|()'"\\#]|'[^']*'|"[^"\\]*")+""")
_QUOTED_PART = re.compile(r"""'([^']*)'|"([^"]*)"|([^'"]+)""")
_BLANKS = " \t"


def line_words(line: str) -> list[str]:
    """The words of ``line``; ValueError for what shlex refuses (a quote left open)."""
    if _PLAIN_LINE.fullmatch(line):
        return _PLAIN_WORD.findall(line)
    if "\\" not in line and "#" not in line:
        words = _quoted_words(line)
        if words is not None:
            return words
    lexer = shlex.shlex(line, posix=True, punctuation_chars=_PUNCTUATION)
    lexer.whitespace_split = True
    return list(lexer)


def _quoted_words(line: str) -> list[str] | None:
    """The words of a line with quotes, no escape and no comment; None when something
    between them is not blank (a quote left open: shlex then says why)."""
    words = []
    end = 0
    for match in _QUOTED_TOKEN.finditer(line):
        if line[end : match.start()].strip(_BLANKS):
            return None
        words.append(_unquoted(match.group()))
        end = match.end()
    return None if line[end:].strip(_BLANKS) else words


def _unquoted(word: str) -> str:
    if "'" not in word and '"' not in word:
        return word
    return "".join("".join(part) for part in _QUOTED_PART.findall(word))
