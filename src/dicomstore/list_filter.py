"""The ``filter`` of ``dicomStores.list``: Google's list-filter grammar, restricted to labels.

Grammar (``shared/spec/google-dicom-api.md`` §2.2, AIP-160 for precedence: unlike most
languages, OR binds tighter than AND, so ``a AND b OR c`` means ``a AND (b OR c)``)::

    filter     := and_expr
    and_expr   := or_expr (["AND"] or_expr)*      -- juxtaposition means AND
    or_expr    := unary ("OR" unary)*
    unary      := ("NOT" | "-") unary | primary
    primary    := "(" filter ")" | comparison
    comparison := "labels." KEY ("=" | ":") VALUE
    VALUE      := "quoted string" | bare-word | "*"   -- "*" only after ":"

``labels.k=v`` holds when label ``k`` equals ``v``; ``labels.k:*`` when the store has label ``k``
at all; ``labels.k:v`` is ``labels.k=v``. Only labels can be filtered on; anything else, ``!=``
and the ordering operators are rejected with INVALID_ARGUMENT.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dicomstore.errors import InvalidArgument

__all__ = ["MAX_NESTING", "LabelPredicate", "parse_label_filter"]

LabelPredicate = Callable[[Mapping[str, str]], bool]

# Parentheses and NOT nest by recursion; a hostile filter must not exhaust the stack.
MAX_NESTING = 64

_TOKEN_RE = re.compile(
    r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<op><=|>=|!=|=|:|<|>)
    | (?P<paren>[()])
    | (?P<minus>-(?=[\s(a-zA-Z]))
    | (?P<word>[^\s"()=:<>!]+)
    )""",
    re.VERBOSE,
)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 100 else repr(text[:97] + "...")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN_RE.match(text, position)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[position:].lstrip())
            if text[start] == '"':
                why = f"unterminated quoted string at position {start}."
            else:
                why = f"unexpected character {text[start]!r} at position {start}."
            raise InvalidArgument(f"Invalid filter {_shown(text)}: {why}")
        kind = match.lastgroup
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def error(self, why: str) -> InvalidArgument:
        return InvalidArgument(f"Invalid filter {_shown(self.text)}: {why}")

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of filter.")
        self.index += 1
        return token

    def at_keyword(self, keyword: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text == keyword

    def parse(self) -> LabelPredicate:
        if not self.tokens:
            raise self.error("the filter is empty.")
        predicate = self.and_expr()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.take().text!r}.")
        return predicate

    def and_expr(self) -> LabelPredicate:
        terms = [self.or_expr()]
        while True:
            token = self.peek()
            if token is None or token.text == ")":
                break
            if self.at_keyword("AND"):
                self.take()
            terms.append(self.or_expr())
        if len(terms) == 1:
            return terms[0]
        return lambda labels: all(term(labels) for term in terms)

    def or_expr(self) -> LabelPredicate:
        terms = [self.unary()]
        while self.at_keyword("OR"):
            self.take()
            terms.append(self.unary())
        if len(terms) == 1:
            return terms[0]
        return lambda labels: any(term(labels) for term in terms)

    def nested(self, parse: Callable[[], LabelPredicate]) -> LabelPredicate:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"more than {MAX_NESTING} nested parentheses or negations.")
        predicate = parse()
        self.depth -= 1
        return predicate

    def unary(self) -> LabelPredicate:
        token = self.peek()
        if self.at_keyword("NOT") or (token is not None and token.kind == "minus"):
            self.take()
            inner = self.nested(self.unary)
            return lambda labels: not inner(labels)
        return self.primary()

    def primary(self) -> LabelPredicate:
        token = self.take()
        if token.text == "(":
            inner = self.nested(self.and_expr)
            if self.take().text != ")":
                raise self.error("missing ')'.")
            return inner
        if token.kind != "word" or token.text in ("AND", "OR"):
            raise self.error(
                f"expected a comparison such as labels.KEY=VALUE, found {token.text!r}."
            )
        return self.comparison(token.text)

    def comparison(self, field: str) -> LabelPredicate:
        if not field.startswith("labels.") or len(field) == len("labels."):
            raise self.error(
                f"cannot filter on {field!r}; only labels can be filtered on (labels.KEY=VALUE)."
            )
        key = field.removeprefix("labels.")
        op = self.take()
        if op.kind != "op":
            raise self.error(f"expected an operator after {field!r}, found {op.text!r}.")
        if op.text not in ("=", ":"):
            raise self.error(f"operator {op.text!r} is not supported on labels; use '=' or ':'.")
        value_token = self.take()
        following = self.peek()
        if (
            value_token.kind == "minus"
            and following is not None
            and following.kind == "word"
            and following.position == value_token.position + 1
        ):  # a value may start with a dash (labels.k=-x); the tokenizer read it as negation
            value_token = _Token("word", "-" + self.take().text, value_token.position)
        if value_token.kind == "string":
            value = re.sub(r"\\(.)", r"\1", value_token.text[1:-1])
        elif value_token.kind == "word":
            value = value_token.text
        else:
            raise self.error(f"expected a value after {field}{op.text}.")
        if op.text == ":" and value_token.kind == "word" and value == "*":
            return lambda labels: key in labels
        return lambda labels: labels.get(key) == value


def parse_label_filter(text: str) -> LabelPredicate:
    """Compile a ``dicomStores.list`` filter into a predicate over a store's labels."""
    return _Parser(text).parse()
