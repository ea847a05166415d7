"""The ``fields`` system parameter: Google's partial-response selector.

Syntax: ``a,b/c,d(e,f/g)`` — comma-separated paths, ``/`` descends into a sub-object, ``x(...)``
selects several fields under ``x``, ``*`` selects everything at its level. A selector applied to a
list applies to each item.
"""

from __future__ import annotations

from typing import Any

from dicomstore.errors import InvalidArgument

__all__ = ["MAX_DEPTH", "Selector", "apply_fields", "parse_fields"]

# Our messages are a few levels deep; the cap keeps a hostile selector from exhausting the stack.
MAX_DEPTH = 32

# A selector maps field names to the selector for their contents; None selects the whole value.
Selector = dict[str, "Selector | None"]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.depth = 0

    def error(self) -> InvalidArgument:
        return InvalidArgument(f"Invalid field selection {self.text!r}.")

    def peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def name(self) -> str:
        start = self.position
        while self.peek() and self.peek() not in ",/()":
            self.position += 1
        name = self.text[start : self.position].strip()
        if not name:
            raise self.error()
        return name

    def selection(self, into: Selector) -> None:
        """selection := path ("," path)*"""
        self.path(into)
        while self.peek() == ",":
            self.position += 1
            self.path(into)

    def path(self, into: Selector) -> None:
        """path := name ("/" path | "(" selection ")")?"""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidArgument(
                f"Invalid field selection {self.text[:64]!r}...: nested more than {MAX_DEPTH} "
                "levels deep."
            )
        self._path(into)
        self.depth -= 1

    def _path(self, into: Selector) -> None:
        name = self.name()
        if self.peek() == "/":
            self.position += 1
            child = into.get(name)
            if name in into and child is None:  # already selected whole
                self.path({})
                return
            child = child if child is not None else {}
            self.path(child)
            into[name] = child
        elif self.peek() == "(":
            self.position += 1
            child = into.get(name) or {}
            self.selection(child)
            if self.peek() != ")":
                raise self.error()
            self.position += 1
            into[name] = child
        else:
            into[name] = None


def parse_fields(text: str) -> Selector:
    parser = _Parser(text)
    selector: Selector = {}
    parser.selection(selector)
    if parser.position != len(text):
        raise parser.error()
    return selector


def apply_fields(value: Any, selector: Selector) -> Any:
    """The parts of ``value`` that ``selector`` names."""
    if isinstance(value, list):
        return [apply_fields(item, selector) for item in value]
    if not isinstance(value, dict):
        return value
    if "*" in selector and selector["*"] is None:
        return value
    picked: dict[str, Any] = {}
    for name, child in selector.items():
        if name in value:
            picked[name] = value[name] if child is None else apply_fields(value[name], child)
    return picked
