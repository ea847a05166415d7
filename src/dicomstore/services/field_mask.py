"""``updateMask``: a google.protobuf.FieldMask in its JSON form, comma-separated camelCase paths."""

from __future__ import annotations

from collections.abc import Mapping

from dicomstore.errors import InvalidArgument

__all__ = ["parse_update_mask"]


def parse_update_mask(mask: str | None, allowed: Mapping[str, str]) -> frozenset[str]:
    """The camelCase fields named by ``mask``.

    ``allowed`` maps each path a client may give (camelCase, and the snake_case proto name) to
    its camelCase field. An empty mask, or a path outside ``allowed``, is INVALID_ARGUMENT.
    """
    paths = [path.strip() for path in (mask or "").split(",") if path.strip()]
    if not paths:
        raise InvalidArgument(
            "updateMask is required; name the fields to change, for example updateMask="
            + ",".join(sorted({field for field in allowed.values()}))
        )
    fields: set[str] = set()
    for path in paths:
        if path not in allowed:
            choices = ", ".join(sorted(set(allowed.values())))
            raise InvalidArgument(f"Invalid updateMask path {path!r}; updatable fields: {choices}.")
        fields.add(allowed[path])
    return frozenset(fields)
