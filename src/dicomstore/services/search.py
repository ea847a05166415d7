"""QIDO-RS (``dicomweb-conformance.md`` §3): query string → typed query → one SQL statement.

Google-exact by default; the full-standard mode (PS3.18 §10.6, a server setting) adds wildcards,
UID lists, the standard's required attributes and a RetrieveURL on every match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dicomstore.dicom.attributes import Level
from dicomstore.dicom.qido import QidoMode, parse_query
from dicomstore.index import Index
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index import instances as instance_rows
from dicomstore.index.search import search_in_named_store
from dicomstore.json_text import compact_json
from dicomstore.names import DicomStoreName
from dicomstore.services.retrieve import absolute_bulk_data_uris

__all__ = ["SearchResult", "SearchService"]

_STUDY_UID, _SERIES_UID, _SOP_UID = "0020000D", "0020000E", "00080018"
_RETRIEVE_URL = "00081190"


def _uid(match: dict[str, Any], tag: str) -> str | None:
    values = match.get(tag, {}).get("Value")
    return str(values[0]) if values else None


class SearchResult:
    """Matches as a DICOM JSON array (``None``: no match, answered with 204), and the keys the
    standard mode ignored (for a ``Warning`` header)."""

    def __init__(self, body: bytes | None, unsupported_keys: Sequence[str]) -> None:
        self.body = body
        self.unsupported_keys = tuple(unsupported_keys)


class SearchService:
    def __init__(self, index: Index, mode: QidoMode = QidoMode.GOOGLE) -> None:
        self.index = index
        self.mode = mode

    def search(
        self,
        store: DicomStoreName,
        level: Level,
        params: Sequence[tuple[str, str]],
        *,
        dicomweb_url: str,
        study_uid: str | None = None,
        series_uid: str | None = None,
    ) -> SearchResult:
        query = parse_query(
            level, params, study_uid=study_uid, series_uid=series_uid, mode=self.mode
        )
        with self.index.transaction() as tx:
            matches = search_in_named_store(tx, store, query)
            if not matches and instance_rows.named_store_pk(tx, store) is None:
                store_rows.get_by_name(tx, store)  # NotFound naming the missing store or dataset
        if not matches:
            return SearchResult(None, query.unsupported_keys)
        if self.mode is QidoMode.STANDARD:
            for match in matches:
                self._add_retrieve_url(match, level, dicomweb_url)
        text = compact_json(matches)
        return SearchResult(
            absolute_bulk_data_uris(text, dicomweb_url).encode(), query.unsupported_keys
        )

    @staticmethod
    def _add_retrieve_url(match: dict[str, Any], level: Level, dicomweb_url: str) -> None:
        """PS3.18 §10.6.3.3.1: each match carries the URL that retrieves it."""
        parts = [("studies", _uid(match, _STUDY_UID))]
        if level.depth >= 1:
            parts.append(("series", _uid(match, _SERIES_UID)))
        if level.depth >= 2:
            parts.append(("instances", _uid(match, _SOP_UID)))
        if any(uid is None for _, uid in parts):
            return
        path = "/".join(f"{collection}/{uid}" for collection, uid in parts)
        match[_RETRIEVE_URL] = {"vr": "UR", "Value": [f"{dicomweb_url}/{path}"]}
