"""Object URIs, import wildcards and export prefixes (store-features.md §6–§8); pure."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import dicomstore.objects
from dicomstore.errors import InvalidArgument
from dicomstore.objects import (
    ObjectUri,
    export_prefix,
    parse_import_pattern,
    parse_object_uri,
)

# -- parse_object_uri ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gs://bucket/dir/file.dcm", ObjectUri("gs", "bucket", "dir/file.dcm")),
        ("gs://bucket", ObjectUri("gs", "bucket", "")),
        ("gs://bucket/", ObjectUri("gs", "bucket", "")),
        ("GS://bucket/x", ObjectUri("gs", "bucket", "x")),
        ("gs://my_bucket.example-1/x", ObjectUri("gs", "my_bucket.example-1", "x")),
        ("gs://bkt/with space/é.dcm", ObjectUri("gs", "bkt", "with space/é.dcm")),
        ("gs://bkt/a%20b", ObjectUri("gs", "bkt", "a%20b")),  # taken literally, as Google does
        ("s3://bucket/key/k.dcm", ObjectUri("s3", "bucket", "key/k.dcm")),
        ("file:///abs/dir/x.dcm", ObjectUri("file", "", "abs/dir/x.dcm")),
        ("file://localhost/abs/x", ObjectUri("file", "", "abs/x")),
        ("file:///", ObjectUri("file", "", "")),
        ("file:///tmp/with%20space/a%25b", ObjectUri("file", "", "tmp/with space/a%b")),
    ],
)
def test_parse_valid(text: str, expected: ObjectUri) -> None:
    assert parse_object_uri(text, field="f") == expected


@pytest.mark.parametrize(
    "uri",
    [
        ObjectUri("gs", "bkt", "a/b.dcm"),
        ObjectUri("gs", "bkt", ""),
        ObjectUri("s3", "bkt", "k"),
        ObjectUri("file", "", "tmp/a b/c%d/é"),
        ObjectUri("file", "", ""),
    ],
)
def test_str_round_trips(uri: ObjectUri) -> None:
    assert parse_object_uri(str(uri), field="f") == uri


def test_str() -> None:
    assert str(ObjectUri("gs", "bkt", "a/b")) == "gs://bkt/a/b"
    assert str(ObjectUri("s3", "bkt", "")) == "s3://bkt/"
    assert str(ObjectUri("file", "", "tmp/x")) == "file:///tmp/x"


def test_path_as_uri_is_understood(tmp_path: Path) -> None:
    path = tmp_path / "with space" / "é.dcm"
    uri = parse_object_uri(path.as_uri(), field="f")
    assert "/" + uri.name == str(path)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("gs://", "bucket name is missing"),
        ("gs:///x", "bucket name is missing"),
        ("s3:///x", "bucket name is missing"),
        ("http://example.com/x.dcm", "unsupported scheme http://"),
        ("https://storage.googleapis.com/b/x", "unsupported scheme https://"),
        ("bucket/x.dcm", "expected gs://bucket/object"),
        ("gs:/bucket/x", "expected gs://bucket/object"),
        ("gs://ab/x", "3 to 63 characters"),
        ("gs://" + "a" * 64 + "/x", "3 to 63 characters"),
        ("gs://Bucket/x", "lowercase letters"),
        ("gs://-bucket/x", "starting and ending with a letter or digit"),
        ("gs://bucket-/x", "starting and ending with a letter or digit"),
        ("gs://buc ket/x", "lowercase letters"),
        ("gs://a..b/x", "must not contain '..'"),
        ("gs://192.168.1.1/x", "IP address"),
        ("gs://b*t/x", "object name only"),
        ("gs://b?t/x", "object name only"),
        ("s3://under_score/x", "lowercase letters, digits, '-' and '.'"),
        ("gs://bkt/a/../b", "'..' path segments"),
        ("gs://bkt/..", "'..' path segments"),
        ("gs://bkt/./a", "'.' and '..'"),
        ("gs://bkt/a\x00b", "control character"),
        ("gs://bkt/a\nb", "control character"),
        ("gs://bkt/a\rb", "control character"),
        ("gs://bkt/" + "x" * 1025, "longer than 1024 bytes"),
        ("file://relative/x", "absolute path"),
        ("file:relative", "expected gs://bucket/object"),
        ("file:///tmp//x", "empty segment"),
        ("file:////tmp", "empty segment"),
        ("file:///tmp/../etc/passwd", "'..'"),
        ("file:///tmp/%2E%2E/etc", "'..'"),
        ("file:///tmp/a%00b", "control character"),
        ("file:///tmp/%ff", "not UTF-8"),
    ],
)
def test_parse_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=r"gcsSource\.uri") as raised:
        parse_object_uri(text, field="gcsSource.uri")
    assert reason in raised.value.message


def test_empty_is_required() -> None:
    with pytest.raises(InvalidArgument, match=r"^gcsSource\.uri is required"):
        parse_object_uri("", field="gcsSource.uri")


def test_dotted_gcs_bucket_names_may_be_longer() -> None:
    bucket = ".".join(["a" * 60] * 3)  # 182 characters, each part ≤ 63
    assert parse_object_uri(f"gs://{bucket}/x", field="f").bucket == bucket
    with pytest.raises(InvalidArgument, match="at most 63"):
        parse_object_uri(f"gs://{'a' * 64}.b/x", field="f")
    with pytest.raises(InvalidArgument, match="3 to 63"):
        parse_object_uri(f"s3://{bucket}/x", field="f")


def test_messages_show_control_characters_escaped() -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_object_uri("gs://bkt/a\nb", field="f")
    assert "\n" not in raised.value.message
    assert "a\\nb" in raised.value.message


def test_child() -> None:
    assert ObjectUri("gs", "b", "dir").child("x/y.dcm") == ObjectUri("gs", "b", "dir/x/y.dcm")
    assert ObjectUri("gs", "b", "dir/").child("y.dcm") == ObjectUri("gs", "b", "dir/y.dcm")
    assert ObjectUri("gs", "b", "").child("y.dcm") == ObjectUri("gs", "b", "y.dcm")
    with pytest.raises(ValueError, match="relative"):
        ObjectUri("gs", "b", "dir").child("/abs")
    with pytest.raises(ValueError, match="relative"):
        ObjectUri("gs", "b", "dir").child("")


# -- parse_import_pattern ----------------------------------------------------------------------


def matching(pattern: str, names: list[str]) -> list[str]:
    parsed = parse_import_pattern(pattern)
    return [name for name in names if parsed.matches(name)]


NAMES = [
    "top.dcm",
    "dir/a.dcm",
    "dir/b.DCM",
    "dir/a.txt",
    "dir/.dcm",
    "dir/sub/c.dcm",
    "dir/sub/deeper/d.dcm",
    "dir/sub/deeper/e.txt",
    "dir2/f.dcm",
    "dirx.dcm",
]


def test_literal_names_one_object() -> None:
    pattern = parse_import_pattern("gs://bkt/dir/a.dcm")
    assert not pattern.has_wildcards
    assert pattern.prefix == "dir/a.dcm"
    assert matching("gs://bkt/dir/a.dcm", NAMES) == ["dir/a.dcm"]
    assert not pattern.matches("dir/a.dcm.bak")


def test_double_star_with_extension_is_recursive() -> None:
    pattern = parse_import_pattern("gs://bkt/dir/**.dcm")
    assert pattern.has_wildcards
    assert pattern.prefix == "dir/"
    assert pattern.uri == ObjectUri("gs", "bkt", "dir/**.dcm")
    assert matching("gs://bkt/dir/**.dcm", NAMES) == [
        "dir/a.dcm",
        "dir/.dcm",
        "dir/sub/c.dcm",
        "dir/sub/deeper/d.dcm",
    ]


def test_double_star_alone_takes_everything_under() -> None:
    assert matching("gs://bkt/dir/**", NAMES) == [name for name in NAMES if name.startswith("dir/")]
    assert matching("gs://bkt/**", NAMES) == NAMES
    assert parse_import_pattern("gs://bkt/**").prefix == ""


def test_double_star_may_follow_a_partial_name() -> None:
    pattern = parse_import_pattern("gs://bkt/dir**")
    assert pattern.prefix == "dir"
    assert matching("gs://bkt/dir**", NAMES) == [name for name in NAMES if name.startswith("dir")]


def test_star_does_not_cross_slashes() -> None:
    assert matching("gs://bkt/dir/*", NAMES) == ["dir/a.dcm", "dir/b.DCM", "dir/a.txt", "dir/.dcm"]
    assert matching("gs://bkt/dir/*.dcm", NAMES) == ["dir/a.dcm", "dir/.dcm"]
    assert matching("gs://bkt/*.dcm", NAMES) == ["top.dcm", "dirx.dcm"]
    assert matching("gs://bkt/dir/*/*.dcm", NAMES) == ["dir/sub/c.dcm"]
    assert matching("gs://bkt/*/sub/*/*", NAMES) == ["dir/sub/deeper/d.dcm", "dir/sub/deeper/e.txt"]
    assert parse_import_pattern("gs://bkt/dir/*/*.dcm").prefix == "dir/"


def test_star_in_the_middle_of_a_segment() -> None:
    assert matching("gs://bkt/d*/a.*", NAMES) == ["dir/a.dcm", "dir/a.txt"]
    assert matching("gs://bkt/dir*", NAMES) == ["dirx.dcm"]
    assert parse_import_pattern("gs://bkt/d*/a.*").prefix == "d"


def test_question_mark_is_exactly_one_character() -> None:
    assert matching("gs://bkt/dir/?.dcm", NAMES) == ["dir/a.dcm"]
    assert matching("gs://bkt/dir?/f.dcm", NAMES) == ["dir2/f.dcm"]
    assert matching("gs://bkt/dir/??.dcm", NAMES) == []
    pattern = parse_import_pattern("gs://bkt/dir?x")
    assert not pattern.matches("dir/x")  # never "/"
    assert pattern.matches("dir/x".replace("/", "é"))
    assert pattern.prefix == "dir"


def test_stars_and_question_marks_combine() -> None:
    pattern = parse_import_pattern("gs://bkt/s-?/*-*.dcm")
    assert pattern.matches("s-1/a-b.dcm")
    assert pattern.matches("s-1/-.dcm")
    assert not pattern.matches("s-12/a-b.dcm")
    assert not pattern.matches("s-1/ab.dcm")
    assert not pattern.matches("s-1/x/a-b.dcm")


def test_many_stars_do_not_backtrack_exponentially() -> None:
    pattern = parse_import_pattern("gs://bkt/" + "*a" * 30 + "*b")
    started = time.perf_counter()
    assert not pattern.matches("a" * 1000)
    assert pattern.matches("a" * 1000 + "b")
    assert time.perf_counter() - started < 1


def test_file_and_s3_patterns() -> None:
    pattern = parse_import_pattern("file:///data/in/**.dcm")
    assert pattern.uri == ObjectUri("file", "", "data/in/**.dcm")
    assert pattern.prefix == "data/in/"
    assert pattern.matches("data/in/x/y.dcm")
    pattern = parse_import_pattern("s3://bkt/in/*.dcm")
    assert pattern.uri.scheme == "s3"
    assert pattern.matches("in/y.dcm")


def test_escaped_wildcards_in_file_uris_are_wildcards() -> None:
    assert parse_import_pattern("file:///in/%2A%2A.dcm").uri.name == "in/**.dcm"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("gs://bkt/a/**/b.dcm", "'**' must end the path"),
        ("gs://bkt/**/x", "'**' must end the path"),
        ("gs://bkt/a**b", "'**' must end the path"),
        ("gs://bkt/dir/**.", "'**' must end the path"),
        ("gs://bkt/**/*.dcm", "'**' must be the only wildcard"),
        ("gs://bkt/*/**.dcm", "'**' must be the only wildcard"),
        ("gs://bkt/dir/**.d?m", "'**' must be the only wildcard"),
        ("gs://bkt/**.dcm/**", "'**' must be the only wildcard"),
        ("gs://bkt/***", "'**' must be the only wildcard"),
        ("gs://bkt", "name an object"),
        ("gs://bkt/", "name an object"),
        ("gs://bkt/dir/", "names a folder"),
        ("file:///", "name an object"),
        ("gs://", "bucket name is missing"),
        ("gs:///x/**", "bucket name is missing"),
        ("gs://b*/x", "object name only"),
        ("http://host/x/**.dcm", "unsupported scheme"),
    ],
)
def test_invalid_patterns(text: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=r"gcsSource\.uri") as raised:
        parse_import_pattern(text)
    assert reason in raised.value.message


def test_pattern_field_name_is_used() -> None:
    with pytest.raises(InvalidArgument, match=r"^Invalid source\.uri "):
        parse_import_pattern("gs://bkt/**/x", field="source.uri")


# -- export_prefix -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gs://bkt/dir", ObjectUri("gs", "bkt", "dir/")),
        ("gs://bkt/dir/", ObjectUri("gs", "bkt", "dir/")),
        ("gs://bkt/a/b", ObjectUri("gs", "bkt", "a/b/")),
        ("gs://bkt", ObjectUri("gs", "bkt", "")),
        ("gs://bkt/", ObjectUri("gs", "bkt", "")),
        ("s3://bkt/out", ObjectUri("s3", "bkt", "out/")),
        ("file:///tmp/out", ObjectUri("file", "", "tmp/out/")),
    ],
)
def test_export_prefix(text: str, expected: ObjectUri) -> None:
    prefix = export_prefix(text)
    assert prefix == expected
    assert prefix.child("1.2/3.4/5.6.dcm").name == expected.name + "1.2/3.4/5.6.dcm"


@pytest.mark.parametrize("text", ["gs://bkt/out/*", "gs://bkt/out?", "gs://bkt/**", ""])
def test_export_prefix_refuses(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"gcsDestination\.uriPrefix"):
        export_prefix(text)


def test_public_surface() -> None:
    submodules = {"factory", "fsspec_store", "gcs", "store", "uri"}
    # "@py_builtins" and friends: pytest rewrites the asserts of a plugin's whole distribution.
    public = {name for name in vars(dicomstore.objects) if not name.startswith(("_", "@"))}
    assert set(dicomstore.objects.__all__) == public - submodules
