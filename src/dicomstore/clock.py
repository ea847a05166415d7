"""Time in UTC, and its RFC 3339 form in proto3 JSON (``2024-05-01T10:00:00.123456Z``)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_timestamp", "utc", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; SQLite hands back naive ones that were stored as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """proto3 JSON Timestamp: UTC, ``Z``, and 0, 3 or 6 fractional digits."""
    moment = utc(moment)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        fraction = f"{moment.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + "Z"
