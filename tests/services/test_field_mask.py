"""``updateMask``: parsing a FieldMask and applying it with FieldMask update semantics (§2.1)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dicomstore.errors import Code, InvalidArgument
from dicomstore.services.field_mask import apply_update_mask, parse_update_mask

ALLOWED = {
    "labels": "labels",
    "streamConfigs": "streamConfigs",
    "stream_configs": "streamConfigs",
    "notificationConfig": "notificationConfig",
    "notification_config": "notificationConfig",
    "notificationConfig.pubsubTopic": "notificationConfig.pubsubTopic",
    "notification_config.pubsub_topic": "notificationConfig.pubsubTopic",
}


@pytest.mark.parametrize(
    ("mask", "fields"),
    [
        ("labels", {"labels"}),
        ("labels,streamConfigs", {"labels", "streamConfigs"}),
        (" labels , streamConfigs ", {"labels", "streamConfigs"}),
        ("stream_configs", {"streamConfigs"}),  # the proto (snake_case) name
        ("labels,labels", {"labels"}),
        ("labels,,streamConfigs", {"labels", "streamConfigs"}),
        # dotted paths into a sub-message, in either spelling (gcloud sends these)
        ("notificationConfig.pubsubTopic", {"notificationConfig.pubsubTopic"}),
        ("notification_config.pubsub_topic", {"notificationConfig.pubsubTopic"}),
    ],
)
def test_masks_name_camel_case_fields(mask: str, fields: set[str]) -> None:
    assert parse_update_mask(mask, ALLOWED) == fields


@pytest.mark.parametrize("mask", [None, "", " ", ",", " , "])
def test_a_missing_or_empty_mask_is_invalid_argument_naming_the_choices(mask: str | None) -> None:
    with pytest.raises(InvalidArgument, match="updateMask is required") as raised:
        parse_update_mask(mask, ALLOWED)
    assert raised.value.code is Code.INVALID_ARGUMENT
    assert "labels,notificationConfig,streamConfigs" in raised.value.message


@pytest.mark.parametrize(
    "mask", ["foo", "name", "Labels", "labels.env", "labels,foo", "streamConfigs.foo", "*"]
)
def test_a_path_outside_the_updatable_fields_is_invalid_argument(mask: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid updateMask path") as raised:
        parse_update_mask(mask, ALLOWED)
    assert "updatable fields: labels, notificationConfig" in raised.value.message


CURRENT: dict[str, Any] = {
    "name": "projects/p/locations/l/datasets/d/dicomStores/s",
    "labels": {"env": "dev", "team": "imaging"},
    "notificationConfig": {"pubsubTopic": "projects/p/topics/old", "sendForBulkImport": True},
    "streamConfigs": [{"bigqueryDestination": {"tableUri": "bq://p.d.t"}}],
}


@pytest.mark.parametrize(
    ("update", "fields", "changes"),
    [
        # only masked fields change; the rest of the body is ignored
        ({"labels": {"env": "prod"}, "streamConfigs": []}, {"labels"}, {"labels": {"env": "prod"}}),
        # maps and lists are replaced wholesale, not merged
        ({"labels": {"new": ""}}, {"labels"}, {"labels": {"new": ""}}),
        # a masked field absent from the body is cleared
        ({}, {"labels", "streamConfigs"}, {"labels": None, "streamConfigs": None}),
        # a dotted path changes only that sub-field
        (
            {"notificationConfig": {"pubsubTopic": "projects/p/topics/new"}},
            {"notificationConfig.pubsubTopic"},
            {
                "notificationConfig": {
                    "pubsubTopic": "projects/p/topics/new",
                    "sendForBulkImport": True,
                }
            },
        ),
        (
            {},
            {"notificationConfig.pubsubTopic"},
            {"notificationConfig": {"sendForBulkImport": True}},
        ),
        # naming the whole message replaces it
        (
            {"notificationConfig": {"pubsubTopic": "projects/p/topics/new"}},
            {"notificationConfig"},
            {"notificationConfig": {"pubsubTopic": "projects/p/topics/new"}},
        ),
    ],
)
def test_apply_replaces_exactly_the_masked_fields(
    update: dict[str, Any], fields: set[str], changes: dict[str, Any]
) -> None:
    expected = {**CURRENT, **changes}
    expected = {key: value for key, value in expected.items() if value is not None}
    assert apply_update_mask(CURRENT, update, fields) == expected


def test_apply_copies_instead_of_sharing_the_messages() -> None:
    current, update = copy.deepcopy(CURRENT), {"labels": {"env": "prod"}}
    merged = apply_update_mask(current, update, {"labels"})
    merged["labels"]["env"] = "changed"
    merged["streamConfigs"].append({})
    assert current == CURRENT
    assert update == {"labels": {"env": "prod"}}
