"""Where statements end in a script or in what a shell user has typed so far.

A statement ends at a ``;`` outside strings ('…' with '' for a quote, "…") and comments. As in
StackQL's documented examples, a ``;`` that ends a line comment also ends the statement:
``AND dicomStoresId = 's1' -- required;`` is a whole statement.
"""

from __future__ import annotations

import re

__all__ = ["is_blank", "split_statements"]

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def is_blank(statement: str) -> bool:
    """Whether ``statement`` holds nothing but whitespace and comments."""
    return not _COMMENTS.sub("", statement).strip()


def split_statements(text: str) -> tuple[list[str], str]:
    """The complete statements of ``text`` (without their ``;``, blank ones dropped) and what
    follows the last one: an unfinished statement, or blank."""
    statements: list[str] = []
    start = 0
    position = 0
    quote = ""
    while position < len(text):
        char = text[position]
        if quote:
            if char == quote and text[position + 1 : position + 2] == quote:
                position += 2
                continue
            if char == quote:
                quote = ""
            position += 1
        elif char in ("'", '"'):
            quote = char
            position += 1
        elif text.startswith("--", position):
            end = text.find("\n", position)
            if end < 0:
                break  # the line is not finished yet
            comment = text[position:end].rstrip()
            if comment.endswith(";"):
                statements.append(text[start:position] + comment[:-1])
                start = end + 1
            position = end + 1
        elif text.startswith("/*", position):
            end = text.find("*/", position + 2)
            if end < 0:
                break
            position = end + 2
        elif char == ";":
            statements.append(text[start:position])
            start = position = position + 1
        else:
            position += 1
    return [statement.strip() for statement in statements if not is_blank(statement)], text[start:]
