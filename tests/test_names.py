"""Resource names and Google's ID rule ``[\\p{L}\\p{N}_\\-\\.]{1,256}`` (§1.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dicomstore.errors import Code, InvalidArgument
from dicomstore.names import (
    DatasetName,
    DicomStoreName,
    LocationName,
    validate_resource_id,
)


@pytest.mark.parametrize(
    "resource_id",
    [
        "a",
        "ds-1",
        "ct.scans_2024-01",
        "UPPER_and_lower",
        "...",  # only "." and ".." alone read as path segments
        ".hidden",
        "été",  # Unicode letters (Ll)
        "数据集",  # caseless letters (Lo)
        "Ⅻ",  # letter numbers (Nl)
        "٣٤",  # Arabic-Indic digits (Nd)
        "x" * 256,
    ],
)
def test_ids_of_letters_digits_underscores_dashes_and_periods_are_accepted(
    resource_id: str,
) -> None:
    assert validate_resource_id(resource_id, "Dataset ID") == resource_id


@pytest.mark.parametrize(
    ("resource_id", "why"),
    [
        ("", "must not be empty"),
        ("x" * 257, "257 characters long; the maximum is 256"),
        (".", "not a valid ID"),
        ("..", "not a valid ID"),
        ("a/b", "'/'"),
        ("a b", "' '"),
        (" a", "' '"),
        ("a\tb", "'\\t'"),
        ("a%2Fb", "'%'"),
        ("a:b", "':'"),
        ("a@b", "'@'"),
        ("a\x00b", "'\\x00'"),
        ("e\u0301", "'\u0301'"),  # a combining mark is not a letter
        ("ok😀", "'😀'"),
    ],
)
def test_other_ids_are_invalid_argument_saying_why(resource_id: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        validate_resource_id(resource_id, "DICOM store ID")
    assert raised.value.code is Code.INVALID_ARGUMENT
    assert raised.value.message.startswith("DICOM store ID")
    assert why in raised.value.message


def test_a_too_long_id_is_not_echoed_whole() -> None:
    with pytest.raises(InvalidArgument) as raised:
        validate_resource_id("x" * 10_000, "Dataset ID")
    assert len(raised.value.message) < 200


@pytest.mark.parametrize(
    ("project", "location"),
    [
        ("my-project", "us-central1"),
        ("123456789012", "us"),
        ("example.com:my-project", "europe-west4"),
        ("p", "eu"),
    ],
)
def test_location_names_accept_project_ids_numbers_and_domain_scoped_ids(
    project: str, location: str
) -> None:
    name = LocationName.of(project, location)
    assert str(name) == f"projects/{project}/locations/{location}"


@pytest.mark.parametrize(
    ("project", "location", "why"),
    [
        ("", "us", "project"),
        ("P!", "us", "project"),
        ("-p", "us", "project"),
        ("p p", "us", "project"),
        ("\u212a", "us", "project"),  # KELVIN SIGN, which case-folds to "k"
        ("p" * 101, "us", "project"),
        ("p", "", "location"),
        ("p", "US", "location"),
        ("p", "1us", "location"),
        ("p", "us_central1", "location"),
        ("p", "us:x", "location"),
    ],
)
def test_bad_project_or_location_ids_are_invalid_argument(
    project: str, location: str, why: str
) -> None:
    with pytest.raises(InvalidArgument, match=f"Invalid {why} ID"):
        LocationName.of(project, location)


def test_names_render_as_google_resource_names() -> None:
    store = DicomStoreName.of("p", "us", "ds", "ct")
    assert str(store) == "projects/p/locations/us/datasets/ds/dicomStores/ct"
    assert str(store.parent) == "projects/p/locations/us/datasets/ds"
    operation = DatasetName.of("p", "us", "ds").operation("1234567890123456789")
    assert str(operation) == "projects/p/locations/us/datasets/ds/operations/1234567890123456789"


@pytest.mark.parametrize(
    "build",
    [
        lambda: DatasetName.of("p", "us", "a b"),
        lambda: DicomStoreName.of("p", "us", "ds", ".."),
        lambda: DicomStoreName.of("p", "us", "..", "ct"),
        lambda: DatasetName.of("p", "us", "ds").operation("1/2"),
        lambda: DatasetName.of("p", "us", "ds").operation(""),
    ],
)
def test_every_segment_of_a_name_is_checked(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgument):
        build()
