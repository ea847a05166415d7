"""DICOM store label rules (google-dicom-api.md §1.4)."""

from __future__ import annotations

import pytest

from dicomstore.errors import Code, InvalidArgument
from dicomstore.labels import MAX_LABELS, validate_labels


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"env": "prod"},
        {"team": ""},  # values are optional
        {"a1_-": "1_-x"},
        {"env": "-leading-dash"},
        {"env": "2024"},  # values may start with a digit
        {"ключ": "значение"},  # lowercase letters beyond ASCII
        {"日本": "東京"},  # caseless letters
        {"k" * 63: "v" * 63},
        {"é" * 63: "é" * 63},  # 63 characters, 126 bytes
        {"日" * 42: "日" * 42},  # 42 characters, 126 bytes
        {f"k{index}": "" for index in range(MAX_LABELS)},
    ],
)
def test_valid_labels_are_returned_unchanged(labels: dict[str, str]) -> None:
    assert validate_labels(labels) == labels


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "must not be empty"),
        ("Env", "must start with a lowercase letter"),
        ("eNv", "must start with a lowercase letter"),
        ("1env", "must start with a lowercase letter"),
        ("_env", "must start with a lowercase letter"),
        ("-env", "must start with a lowercase letter"),
        ("env.x", "must start with a lowercase letter"),
        ("env x", "must start with a lowercase letter"),
        ("env/x", "must start with a lowercase letter"),
        ("k" * 64, "too long"),
        ("日" * 43, "too long"),  # 43 characters but 129 bytes
    ],
)
def test_invalid_keys_are_refused(key: str, why: str) -> None:
    with pytest.raises(InvalidArgument, match=why) as raised:
        validate_labels({key: "v"})
    assert raised.value.code is Code.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("Prod", "may contain only lowercase letters"),
        ("a b", "may contain only lowercase letters"),
        ("a.b", "may contain only lowercase letters"),
        ("a:b", "may contain only lowercase letters"),
        ("v" * 64, "too long"),
        ("日" * 43, "too long"),
        (1, "must have a string value"),
        (None, "must have a string value"),
    ],
)
def test_invalid_values_are_refused(value: object, why: str) -> None:
    with pytest.raises(InvalidArgument, match=why):
        validate_labels({"env": value})


def test_at_most_64_labels() -> None:
    labels = {f"k{index}": "" for index in range(MAX_LABELS + 1)}
    with pytest.raises(InvalidArgument, match="At most 64 labels"):
        validate_labels(labels)
    assert MAX_LABELS == 64


def test_the_message_names_the_offending_label() -> None:
    with pytest.raises(InvalidArgument) as raised:
        validate_labels({"env": "prod", "team": "Imaging"})
    assert "'Imaging'" in raised.value.message and "'team'" in raised.value.message
