"""Page sizes and opaque page tokens of the list methods (``google-dicom-api.md`` §2.3)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from dicomstore.errors import InvalidArgument
from dicomstore.names import validate_resource_id

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "PageRequest"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _fingerprint(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:12]


def _is_position(after: Any) -> bool:
    """Whether ``after`` is a key a list method could have issued: a resource ID or an int64
    row number. Tokens are not signed; anything else is a forgery that must not reach SQL."""
    if isinstance(after, bool):
        return False
    if isinstance(after, int):
        return -(2**63) <= after < 2**63
    if not isinstance(after, str):
        return False
    try:
        validate_resource_id(after, "page token key")
    except InvalidArgument:
        return False
    return True


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated ``pageSize`` and the position a ``pageToken`` points at.

    The token carries the last key of the previous page and a fingerprint of the query (the
    filter) it was issued for, so a token cannot be replayed against a different query.
    """

    size: int
    after: Any
    query: str

    @classmethod
    def parse(cls, page_size: int | None, page_token: str | None, query: str = "") -> PageRequest:
        if page_size is not None and page_size < 0:
            raise InvalidArgument(f"pageSize must not be negative; got {page_size}.")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        if not page_token:
            return cls(size, None, query)
        try:
            padded = page_token + "=" * (-len(page_token) % 4)
            state = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            after, fingerprint = state["after"], state["query"]
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError) as error:
            raise InvalidArgument(f"Invalid page token {page_token!r}.") from error
        if after is not None and not _is_position(after):
            raise InvalidArgument(f"Invalid page token {page_token!r}.")
        if fingerprint != _fingerprint(query):
            raise InvalidArgument("The page token does not belong to this query.")
        return cls(size, after, query)

    def next_token(self, last_key: Any) -> str:
        state = {"after": last_key, "query": _fingerprint(self.query)}
        encoded = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode())
        return encoded.decode("ascii").rstrip("=")
