"""Values written in statements → request bodies, following the discovery schemas."""

from __future__ import annotations

import pytest

from dicomstore.sql import SqlError
from dicomstore.sql.schemas import fields, list_field, list_item, request_body, value_for_field
from tests.sql.examples import as_json_string

STORE_FIELDS = fields("DicomStore")


def test_columns_list_name_first() -> None:
    assert next(iter(STORE_FIELDS)) == "name"
    assert set(STORE_FIELDS) == {
        "name", "labels", "notificationConfig", "notificationConfigs", "streamConfigs",
    }  # fmt: skip


def test_list_responses_page_through_their_array() -> None:
    assert list_field("ListDicomStoresResponse") == "dicomStores"
    assert list_item("ListDicomStoresResponse", "dicomStores") == "DicomStore"
    assert list_field("ListOperationsResponse") == "operations"
    assert list_field("DicomStore") is None


def test_object_fields_take_json_text_or_json_strings_holding_json() -> None:
    labels = STORE_FIELDS["labels"]
    assert value_for_field('{"env": "prod"}', labels, "data__labels") == {"env": "prod"}
    assert value_for_field(f'"{as_json_string({"env": "prod"})}"', labels, "x") == {"env": "prod"}
    assert value_for_field({"env": "prod"}, labels, "x") == {"env": "prod"}


def test_empty_values_leave_structured_fields_out() -> None:
    assert value_for_field("", STORE_FIELDS["notificationConfig"], "x") is None
    assert value_for_field(None, STORE_FIELDS["name"], "x") is None
    assert value_for_field("", STORE_FIELDS["name"], "x") == ""


def test_scalars_follow_the_field_type() -> None:
    boolean = {"type": "boolean"}
    assert value_for_field(1, boolean, "x") is True
    assert value_for_field("false", boolean, "x") is False
    assert value_for_field("10", {"type": "integer"}, "x") == 10
    assert value_for_field(10, {"type": "string"}, "x") == "10"


def test_request_bodies_convert_nested_fields() -> None:
    body = request_body(
        '{"gcsSource": "' + as_json_string({"uri": "gs://b/**"}) + '", '
        '"blobStorageSettings": "", "extra": 1}',
        "ImportDicomDataRequest",
        "@@json",
    )
    assert body == {"gcsSource": {"uri": "gs://b/**"}, "extra": 1}
    nested = request_body(
        '{"notificationConfigs": [{"pubsubTopic": "projects/p/topics/t", '
        '"filter": ""}], "labels": "{\\"a\\": \\"b\\"}"}',
        "DicomStore",
        "body",
    )
    assert nested == {
        "notificationConfigs": [{"pubsubTopic": "projects/p/topics/t", "filter": ""}],
        "labels": {"a": "b"},
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "@@json is not valid JSON"),
        ("[1]", "@@json must be a JSON object, not list"),
        ('{"gcsSource": "{oops"}', "@@json.gcsSource is not valid JSON"),
    ],
)
def test_bad_json_is_named(text: str, message: str) -> None:
    with pytest.raises(SqlError, match="^" + message.replace("[", r"\[")):
        request_body(text, "ImportDicomDataRequest", "@@json")
