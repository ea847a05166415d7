"""``updateMask``: a google.protobuf.FieldMask in its JSON form, comma-separated camelCase paths."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from dicomstore.errors import InvalidArgument

__all__ = ["apply_update_mask", "parse_update_mask"]


def parse_update_mask(mask: str | None, allowed: Mapping[str, str]) -> frozenset[str]:
    """The camelCase field paths named by ``mask``.

    ``allowed`` maps each path a client may give (camelCase, and the snake_case proto name) to
    its camelCase path, which may be dotted into a sub-message. An empty mask, or a path outside
    ``allowed``, is INVALID_ARGUMENT.
    """
    paths = [path.strip() for path in (mask or "").split(",") if path.strip()]
    if not paths:
        raise InvalidArgument(
            "updateMask is required; name the fields to change, for example updateMask="
            + ",".join(sorted({field for field in allowed.values() if "." not in field}))
        )
    fields: set[str] = set()
    for path in paths:
        if path not in allowed:
            choices = ", ".join(sorted(set(allowed.values())))
            raise InvalidArgument(f"Invalid updateMask path {path!r}; updatable fields: {choices}.")
        fields.add(allowed[path])
    return frozenset(fields)


def apply_update_mask(
    current: Mapping[str, Any], update: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, Any]:
    """``current`` with each field in ``fields`` replaced by its value in ``update``.

    FieldMask update semantics: a field may be a dotted path into singular sub-messages
    (``notificationConfig.pubsubTopic``, as gcloud sends), which changes only that sub-field; a
    field absent from ``update`` is cleared; maps and repeated fields are replaced wholesale.
    """
    merged = copy.deepcopy(dict(current))
    for path in sorted(fields):
        *parents, leaf = path.split(".")
        source: Mapping[str, Any] = update
        target = merged
        for part in parents:
            source = source.get(part) or {}
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        if leaf in source:
            target[leaf] = copy.deepcopy(source[leaf])
        else:
            target.pop(leaf, None)
    return merged
