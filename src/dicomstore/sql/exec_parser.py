"""``EXEC google.healthcare.<resource>.<method> @name='value', … [@@json='{…}']``: StackQL's
statement for calling a method, which is not SQL, read by a small tokenizer.

Values are strings ('…', with '' for a quote), numbers or bare words. Commas between arguments
may be missing, and comments may sit anywhere, as in StackQL's own examples::

    @dicomStoresId='s1' --required
    @@json=
    '{"gcsSource": {"uri": "gs://bucket/**"}}'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dicomstore.sql.errors import SqlError
from dicomstore.sql.registry import resource
from dicomstore.sql.statements import ExecStatement

__all__ = ["parse_exec"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<body>@@\w+)
  | (?P<variable>@\w+)
  | (?P<punctuation>[=,;])
  | (?P<word>[\w.$:+-]+)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int

    @property
    def value(self) -> str:
        if self.kind == "string":
            quote = self.text[0]
            return self.text[1:-1].replace(quote * 2, quote)
        return self.text


def _tokens(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            problem = "unterminated string" if text[position] in "'\"" else "unexpected"
            raise _syntax_error(text, position, f"{problem} {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    return tokens


def _syntax_error(text: str, position: int, problem: str) -> SqlError:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return SqlError(f"syntax error in EXEC at line {line}, column {column}: {problem}")


def parse_exec(text: str, *, wait: bool = False) -> ExecStatement:
    tokens = _tokens(text)
    if not tokens or tokens[0].text.lower() != "exec":
        raise _syntax_error(text, 0, "expected EXEC")
    if len(tokens) < 2 or tokens[1].kind != "word" or "." not in tokens[1].text:
        where = tokens[1].position if len(tokens) > 1 else len(text)
        raise _syntax_error(text, where, "expected google.healthcare.<resource>.<method>")
    qualified, _, method = tokens[1].text.rpartition(".")
    target = resource(qualified)
    target.variants(method)  # an unknown method is refused here, before any parameter
    parameters: dict[str, str] = {}
    body: str | None = None
    rest = tokens[2:]
    index = 0
    while index < len(rest):
        name = rest[index]
        if name.text == ",":
            index += 1
            continue
        if name.kind not in ("variable", "body"):
            raise _syntax_error(text, name.position, f"expected @name=value, not {name.text!r}")
        equals = rest[index + 1] if index + 1 < len(rest) else None
        if equals is None or equals.text != "=":
            raise _syntax_error(text, name.position, f"expected '=' after {name.text}")
        given = rest[index + 2] if index + 2 < len(rest) else None
        if given is None or given.kind not in ("string", "word"):
            raise _syntax_error(text, equals.position, f"expected a value after {name.text}=")
        value = given.value
        if name.kind == "body":
            if name.text.lower() != "@@json":
                raise _syntax_error(text, name.position, f"unknown {name.text}; only @@json")
            body = value
        else:
            parameters[name.text[1:]] = value
        index += 3
    return ExecStatement(target, method, parameters, body, wait)
