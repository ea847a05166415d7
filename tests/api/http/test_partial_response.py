"""The ``fields`` system parameter: Google's partial-response selector."""

from __future__ import annotations

from typing import Any

import pytest

from dicomstore.api.http.partial_response import MAX_DEPTH, apply_fields, parse_fields
from dicomstore.errors import Code, InvalidArgument

STORE = {
    "name": "projects/p/locations/l/datasets/d/dicomStores/s",
    "labels": {"env": "prod", "team": "imaging"},
    "notificationConfig": {"pubsubTopic": "projects/p/topics/t", "sendForBulkImport": True},
    "streamConfigs": [
        {"bigqueryDestination": {"tableUri": "bq://p.d.t1", "force": True}},
        {"bigqueryDestination": {"tableUri": "bq://p.d.t2"}},
    ],
}
LISTED = {"dicomStores": [STORE, {"name": "projects/p/locations/l/datasets/d/dicomStores/t"}]}


@pytest.mark.parametrize(
    ("fields", "selector"),
    [
        ("name", {"name": None}),
        ("a,b", {"a": None, "b": None}),
        ("a, b", {"a": None, "b": None}),
        ("b/c", {"b": {"c": None}}),
        ("b/c/d", {"b": {"c": {"d": None}}}),
        ("b/c,b/d", {"b": {"c": None, "d": None}}),
        ("d(e,f)", {"d": {"e": None, "f": None}}),
        ("a,b/c,d(e,f)", {"a": None, "b": {"c": None}, "d": {"e": None, "f": None}}),
        ("d(e/g,f(h))", {"d": {"e": {"g": None}, "f": {"h": None}}}),
        ("d(e),d(f)", {"d": {"e": None, "f": None}}),
        ("b,b/c", {"b": None}),  # the whole of b stays selected
        ("b/c,b", {"b": None}),
        ("*", {"*": None}),
    ],
)
def test_selectors_parse(fields: str, selector: dict[str, Any]) -> None:
    assert parse_fields(fields) == selector


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("name", {"name": STORE["name"]}),
        ("name,labels", {"name": STORE["name"], "labels": STORE["labels"]}),
        ("labels/env", {"labels": {"env": "prod"}}),
        (
            "notificationConfig(pubsubTopic)",
            {"notificationConfig": {"pubsubTopic": "projects/p/topics/t"}},
        ),
        # a selector on a list applies to each item
        (
            "streamConfigs/bigqueryDestination/tableUri",
            {
                "streamConfigs": [
                    {"bigqueryDestination": {"tableUri": "bq://p.d.t1"}},
                    {"bigqueryDestination": {"tableUri": "bq://p.d.t2"}},
                ]
            },
        ),
        ("*", STORE),
        ("notificationConfig(*)", {"notificationConfig": STORE["notificationConfig"]}),
        # fields the message does not hold are simply absent
        ("missing", {}),
        ("name,missing/deeper", {"name": STORE["name"]}),
    ],
)
def test_a_selector_keeps_only_what_it_names(fields: str, expected: dict[str, Any]) -> None:
    assert apply_fields(STORE, parse_fields(fields)) == expected


def test_list_answers_are_selected_item_by_item() -> None:
    assert apply_fields(LISTED, parse_fields("dicomStores/name")) == {
        "dicomStores": [{"name": STORE["name"]}, {"name": LISTED["dicomStores"][1]["name"]}]
    }
    assert apply_fields(LISTED, parse_fields("dicomStores(name,labels)")) == {
        "dicomStores": [
            {"name": STORE["name"], "labels": STORE["labels"]},
            {"name": LISTED["dicomStores"][1]["name"]},
        ]
    }
    assert apply_fields(LISTED, parse_fields("nextPageToken")) == {}


def test_applying_a_selector_leaves_the_message_untouched() -> None:
    before = repr(STORE)
    apply_fields(STORE, parse_fields("labels/env,streamConfigs/bigqueryDestination/force"))
    assert repr(STORE) == before


@pytest.mark.parametrize(
    "fields",
    ["", " ", ",", "a,", ",a", "a,,b", "a/", "/a", "a//b", "(", ")", "a(", "a()", "a(b", "a(b))",
     "a)", "a(b)c", "a(,b)", "a(b,)"],
)  # fmt: skip
def test_malformed_selectors_are_invalid_argument(fields: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid field selection") as raised:
        parse_fields(fields)
    assert raised.value.code is Code.INVALID_ARGUMENT


def test_nesting_is_bounded_instead_of_exhausting_the_stack() -> None:
    deepest = "/".join(["a"] * MAX_DEPTH)
    assert parse_fields(deepest)
    for too_deep in ("a/" * 5000 + "b", "a(" * 5000 + "b" + ")" * 5000):
        with pytest.raises(InvalidArgument, match="nested"):
            parse_fields(too_deep)
