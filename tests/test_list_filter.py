"""The ``dicomStores.list`` filter: Google's list-filter grammar over labels (§2.2, AIP-160)."""

from __future__ import annotations

import pytest

from dicomstore.errors import Code, InvalidArgument
from dicomstore.list_filter import MAX_NESTING, parse_label_filter

PROD = {"env": "prod", "team": "imaging"}
DEV = {"env": "dev"}
BARE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("labels.env=prod", PROD, True),
        ("labels.env=prod", DEV, False),
        ("labels.env=prod", BARE, False),
        ("labels.env=pro", PROD, False),  # whole-value equality, not a prefix
        ('labels.env="prod"', PROD, True),
        ("labels.env = prod", PROD, True),
        ("labels.env:prod", PROD, True),
        ("labels.env:dev", PROD, False),
        # existence
        ("labels.env:*", PROD, True),
        ("labels.env:*", {"env": ""}, True),
        ("labels.env:*", BARE, False),
        ('labels.env:"*"', PROD, False),  # a quoted star is a value, not "any"
        ('labels.env=""', {"env": ""}, True),
        ('labels.env=""', BARE, False),
        # AND, explicit and implicit
        ("labels.env=prod AND labels.team=imaging", PROD, True),
        ("labels.env=prod AND labels.team=other", PROD, False),
        ("labels.env=prod labels.team=imaging", PROD, True),
        ("labels.env=prod labels.team=other", PROD, False),
        # OR
        ("labels.env=dev OR labels.env=prod", PROD, True),
        ("labels.env=dev OR labels.env=test", PROD, False),
        # NOT and -
        ("NOT labels.env=prod", PROD, False),
        ("NOT labels.env=prod", DEV, True),
        ("-labels.env=prod", DEV, True),
        ("- labels.env=prod", PROD, False),
        ("NOT NOT labels.env=prod", PROD, True),
        ("NOT labels.env:*", BARE, True),
        # OR binds tighter than AND (AIP-160): a AND b OR c is a AND (b OR c), not (a AND b) OR c
        ("labels.team=imaging AND labels.env=dev OR labels.env=prod", PROD, True),
        ("labels.team=imaging AND labels.env=dev OR labels.env=prod", {"env": "prod"}, False),
        ("labels.env=prod OR labels.env=dev AND labels.team=imaging", {"env": "prod"}, False),
        ("labels.env=prod OR labels.env=dev labels.team=imaging", {"env": "prod"}, False),
        # parentheses override it
        ("(labels.team=imaging AND labels.env=dev) OR labels.env=prod", {"env": "prod"}, True),
        ("labels.env=prod OR (labels.env=dev AND labels.team=imaging)", {"env": "prod"}, True),
        ("((labels.env=prod))", PROD, True),
        ("NOT (labels.env=prod OR labels.env=dev)", DEV, False),
        ("-(labels.env=dev)", PROD, True),
        # quoted values: operators and keywords inside are literal, escapes are honoured
        ('labels.env="a AND b"', {"env": "a AND b"}, True),
        ('labels.env="x=y OR (z)"', {"env": "x=y OR (z)"}, True),
        ('labels.env="say \\"hi\\""', {"env": 'say "hi"'}, True),
        ('labels.env="back\\\\slash"', {"env": "back\\slash"}, True),
        # values as labels hold them
        ("labels.env=-prod", {"env": "-prod"}, True),
        ("labels.env=-1", {"env": "-1"}, True),
        ("labels.n=2024", {"n": "2024"}, True),
        ("labels.ключ=значение", {"ключ": "значение"}, True),
        ("labels.env=AND", {"env": "AND"}, True),
    ],
)
def test_filters_match_labels(text: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_label_filter(text)(labels) is matches


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "the filter is empty"),
        ("   ", "the filter is empty"),
        # only labels can be filtered on
        ("name=x", "only labels can be filtered on"),
        ("env=prod", "only labels can be filtered on"),
        ("labels=prod", "only labels can be filtered on"),
        ("labels.=prod", "only labels can be filtered on"),
        ("labels.env=prod x", "only labels can be filtered on"),  # trailing garbage
        # unsupported operators
        ("labels.env!=prod", "operator '!=' is not supported"),
        ("labels.env<prod", "operator '<' is not supported"),
        ("labels.env<=prod", "operator '<=' is not supported"),
        ("labels.env>prod", "operator '>' is not supported"),
        ("labels.env>=prod", "operator '>=' is not supported"),
        # unbalanced parentheses
        ("(labels.env=prod", "unexpected end of filter"),
        ("labels.env=prod)", "unexpected ')'"),
        ("(labels.env=prod))", "unexpected ')'"),
        ("()", "expected a comparison"),
        # incomplete expressions
        ("labels.env", "unexpected end of filter"),
        ("labels.env=", "unexpected end of filter"),
        ("labels.env prod", "expected an operator"),
        ("labels.env==prod", "expected a value"),
        ("labels.env=(prod)", "expected a value"),
        ("NOT", "unexpected end of filter"),
        ("labels.env=prod AND", "unexpected end of filter"),
        ("labels.env=prod OR", "unexpected end of filter"),
        ("AND labels.env=prod", "expected a comparison"),
        ("labels.env=prod OR OR labels.env=dev", "expected a comparison"),
        # lexical errors
        ('labels.env="prod', "unterminated quoted string at position 11"),
        ('"', "unterminated quoted string at position 0"),
        ("labels.env!prod", "unexpected character '!' at position 10"),
    ],
)
def test_malformed_filters_are_invalid_argument_saying_why(text: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_label_filter(text)
    assert raised.value.code is Code.INVALID_ARGUMENT
    assert raised.value.message.startswith("Invalid filter ")
    assert why in raised.value.message


def test_nesting_is_bounded_instead_of_exhausting_the_stack() -> None:
    deepest = "(" * MAX_NESTING + "labels.env=prod" + ")" * MAX_NESTING
    assert parse_label_filter(deepest)(PROD) is True
    assert parse_label_filter("NOT " * MAX_NESTING + "labels.env=prod")(PROD) is True
    for too_deep in (
        "(" * 5000 + "labels.env=prod" + ")" * 5000,
        "NOT " * 5000 + "labels.env=prod",
        "- " * 5000 + "labels.env=prod",
    ):
        with pytest.raises(InvalidArgument, match="nested"):
            parse_label_filter(too_deep)


def test_long_flat_filters_are_fine_and_messages_stay_short() -> None:
    wide = " OR ".join(f"labels.k{index}=v" for index in range(2000))
    assert parse_label_filter(wide)({"k1999": "v"}) is True
    with pytest.raises(InvalidArgument) as raised:
        parse_label_filter(wide + " OR")
    assert len(raised.value.message) < 200
