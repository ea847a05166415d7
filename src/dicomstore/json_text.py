"""Compact JSON text, fast: how documents are written to the index and measured."""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["compact_json", "parse_json"]


def compact_json(document: Any) -> str:
    """``document`` as compact JSON (no spaces, UTF-8 kept as is). orjson is several times
    faster than ``json.dumps``; what it refuses (integers beyond 64 bits, non-string keys)
    falls back to the standard library with the same output shape."""
    try:
        return orjson.dumps(document).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def parse_json(text: str | bytes) -> Any:
    return orjson.loads(text)
