"""The discovery document's schemas as the SQL front end uses them: a resource's columns, which
of them hold JSON, and how values written in a statement become a request body.

Statements carry objects and arrays as JSON text (``data__labels = '{"env": "prod"}'``,
``@@json='{"gcsSource": "{\"uri\": \"…\"}"}'``): wherever the schema expects an object or an
array, a string is parsed as JSON, and a string that itself holds JSON text is parsed again,
since StackQL's templates quote every placeholder (``"gcsSource": "{{ gcsSource }}"``). An empty
string or NULL there leaves the field out, as an unfilled placeholder should.
"""

from __future__ import annotations

import json
from typing import Any

from dicomstore.client import discovery_document
from dicomstore.sql.errors import SqlError

__all__ = [
    "fields",
    "is_boolean",
    "is_output_only",
    "is_structured",
    "list_field",
    "list_item",
    "request_body",
    "value_for_field",
]


def fields(schema: str | None) -> dict[str, dict[str, Any]]:
    """The properties of the schema named ``schema`` (none for ``Empty`` or no schema), ``name``
    first as StackQL lists them."""
    if not schema:
        return {}
    found: dict[str, dict[str, Any]] = (
        discovery_document()["schemas"].get(schema, {}).get("properties", {})
    )
    return dict(sorted(found.items(), key=lambda item: item[0] != "name"))


def is_structured(field: dict[str, Any]) -> bool:
    """Whether values of ``field`` are JSON objects or arrays."""
    return "$ref" in field or field.get("type") in ("object", "array")


def is_boolean(field: dict[str, Any]) -> bool:
    return field.get("type") == "boolean"


def is_output_only(field: dict[str, Any]) -> bool:
    """Fields the server sets: never part of an update mask derived from SET columns."""
    description = str(field.get("description", ""))
    return description.startswith(("Output only.", "Identifier."))


def list_field(response: str | None) -> str | None:
    """The array a list method's response pages through (``dicomStores``), or None when
    ``response`` is not a page of resources."""
    properties = fields(response)
    if "nextPageToken" not in properties:
        return None
    for name, field in properties.items():
        if field.get("type") == "array" and "$ref" in field.get("items", {}):
            return name
    return None


def list_item(response: str, field: str) -> str:
    """The schema of the items of ``field`` in the list response ``response``."""
    return str(fields(response)[field]["items"]["$ref"])


def value_for_field(value: Any, field: dict[str, Any], name: str) -> Any:
    """``value`` as the JSON the field ``name`` takes; None when it is to be left out."""
    if value is None:
        return None
    if is_structured(field):
        if isinstance(value, str):
            if not value.strip():
                return None
            value = _json(value, name)
            if isinstance(value, str) and value.strip()[:1] in ("{", "["):
                value = _json(value, name)
        return _nested(value, field, name)
    kind = field.get("type")
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return bool(value) if isinstance(value, int) else value
    if kind == "integer" and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "string" and isinstance(value, int | float):
        return str(value)
    return value


def request_body(text: str, schema: str | None, where: str) -> dict[str, Any]:
    """The request body an ``@@json`` value holds, its fields converted as above."""
    body = _json(text, where)
    if isinstance(body, str):
        body = _json(body, where)
    if not isinstance(body, dict):
        raise SqlError(f"{where} must be a JSON object, not {type(body).__name__}")
    return _object(body, fields(schema), where)


def _json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SqlError(f"{name} is not valid JSON: {error}") from None


def _object(
    value: dict[str, Any], properties: dict[str, dict[str, Any]], name: str
) -> dict[str, Any]:
    converted = {}
    for key, item in value.items():
        item = value_for_field(item, properties.get(key, {}), f"{name}.{key}")
        if item is not None:
            converted[key] = item
    return converted


def _nested(value: Any, field: dict[str, Any], name: str) -> Any:
    if "$ref" in field and isinstance(value, dict):
        return _object(value, fields(field["$ref"]), name)
    if field.get("type") == "array" and isinstance(value, list):
        items = field.get("items", {})
        converted = (value_for_field(item, items, f"{name}[]") for item in value)
        return [item for item in converted if item is not None]
    if field.get("type") == "object" and isinstance(value, dict):
        extra = field.get("additionalProperties")
        if isinstance(extra, dict) and is_structured(extra):
            return _object(value, dict.fromkeys(value, extra), name)
    return value
