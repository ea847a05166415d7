"""Filter files of resource paths (store-features.md §6)."""

from __future__ import annotations

import pytest

from dicomstore.dicom.resource_paths import ResourcePath, parse_resource_paths
from dicomstore.errors import InvalidArgument


def test_studies_series_and_instances_one_a_line_blank_lines_and_repeats_ignored() -> None:
    text = (
        "/studies/1.123.456.789\r\n"
        "\n"
        "/studies/1.666.333.111/series/123.456\n"
        "/studies/1.888.999.222/series/123.456/instances/111\n"
        "/studies/1.123.456.789\n"
    )
    assert parse_resource_paths(text, source="gs://b/filter.txt") == [
        ResourcePath("1.123.456.789"),
        ResourcePath("1.666.333.111", "123.456"),
        ResourcePath("1.888.999.222", "123.456", "111"),
    ]


@pytest.mark.parametrize(
    "line",
    ["studies/1.2", "/studies/", "/studies/1.2/instances/3", "/studies/1.2/series", "/series/1",
     "/studies/1.2/series/3/instances/4/frames/1", "/studies/a.b"],
)  # fmt: skip
def test_a_malformed_line_is_refused_with_its_number_and_file(line: str) -> None:
    with pytest.raises(InvalidArgument, match=r"line 2 of gs://b/f\.txt"):
        parse_resource_paths(f"/studies/1.2\n{line}\n", source="gs://b/f.txt")
