"""``pageSize`` and ``pageToken`` of the list methods (google-dicom-api.md §2.3)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from dicomstore.errors import Code, InvalidArgument
from dicomstore.services.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest


@pytest.mark.parametrize(
    ("page_size", "size"),
    [(None, 100), (0, 100), (1, 1), (37, 37), (1000, 1000), (1001, 1000), (2**31 - 1, 1000)],
)
def test_page_size_defaults_to_100_and_is_capped_at_1000(page_size: int | None, size: int) -> None:
    assert (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) == (100, 1000)
    assert PageRequest.parse(page_size, None).size == size


@pytest.mark.parametrize("page_size", [-1, -1000])
def test_a_negative_page_size_is_invalid_argument(page_size: int) -> None:
    with pytest.raises(InvalidArgument, match="pageSize must not be negative") as raised:
        PageRequest.parse(page_size, None)
    assert raised.value.code is Code.INVALID_ARGUMENT


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_is_the_first_page(token: str | None) -> None:
    assert PageRequest.parse(10, token).after is None


@pytest.mark.parametrize("last_key", ["ds-1", "été.2024_x", "us-central1", 0, 42, 2**63 - 1])
def test_a_token_round_trips_the_last_key_of_the_page(last_key: Any) -> None:
    token = PageRequest.parse(5, None, query="labels.env=prod").next_token(last_key)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    page = PageRequest.parse(7, token, query="labels.env=prod")
    assert (page.after, page.size) == (last_key, 7)


def test_a_token_is_refused_with_another_filter() -> None:
    token = PageRequest.parse(5, None, query="labels.env=prod").next_token("s1")
    for other in ("labels.env=dev", ""):
        with pytest.raises(InvalidArgument, match="does not belong to this query"):
            PageRequest.parse(5, token, query=other)
    unfiltered = PageRequest.parse(5, None).next_token("s1")
    with pytest.raises(InvalidArgument, match="does not belong to this query"):
        PageRequest.parse(5, unfiltered, query="labels.env=prod")


def _encoded(state: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def _forged(after: Any) -> str:
    """A well-formed token for the unfiltered query whose key is ``after``."""
    real = json.loads(base64.urlsafe_b64decode(PageRequest.parse(5, None).next_token("x") + "=="))
    return _encoded({**real, "after": after})


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "%%%",
        "eyJ9",  # base64 of '{}' cut short
        "not base64 at all!",
        "ëtoken",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _encoded([1, 2]),
        _encoded("after"),
        _encoded({"after": "x"}),  # no query fingerprint
        _encoded({"query": "x"}),  # no key
        _forged(True),
        _forged(1.5),
        _forged([1]),
        _forged({"a": 1}),
        _forged(2**63),  # beyond int64: would overflow the database
        _forged(""),
        _forged("\x00"),  # PostgreSQL refuses NUL in text
        _forged("\ud800"),  # not encodable as UTF-8
        _forged("a/b"),
        _forged("x" * 257),
    ],
)
def test_garbage_and_forged_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid page token") as raised:
        PageRequest.parse(5, token)
    assert raised.value.code is Code.INVALID_ARGUMENT
