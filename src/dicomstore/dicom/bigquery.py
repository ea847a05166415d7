"""BigQuery rows and schemas for instance metadata: Google's flattened and JSON table layouts.

``dicomStores.export`` to a ``bigqueryDestination`` (``shared/spec/store-features.md`` §3, §8.2)
writes one row per instance. This module turns an instance's DICOM JSON (PS3.18 F.2, as the store
keeps it) into such a row, works out the table schema the rows need, and parses the destination's
``tableUri`` and write disposition. It does no I/O: the ``sinks`` providers write the rows.

Flattened schema (``schemaFlattened``, the default), one column per data element:

- the column is named by the element's keyword (PS3.6) and typed by its **dictionary** VR, never
  by the row, so two rows cannot disagree on a column's type: AE AS AT CS LO LT SH ST UC UI UR UT
  → STRING (AT as the 8 hexadecimal digits of DICOM JSON), DA → DATE, TM → TIME, DT → TIMESTAMP,
  DS FL FD → FLOAT, IS SL SS UL US SV UV → INTEGER, PN → RECORD, SQ → REPEATED RECORD whose fields
  follow the same rules. An ambiguous dictionary VR (``US or SS``, ``US or OW``) takes the type
  its non-binary alternatives share (INTEGER); whether the element is exported at all follows
  the VR written in the JSON;
- an element whose dictionary value multiplicity allows more than one value (``2``, ``1-n``, …)
  is a REPEATED column, even when a row holds a single value (the dictionary, not the row, decides,
  for the same reason as the type);
- a Person Name is ``RECORD{Alphabetic, Ideographic, Phonetic}``, each a
  ``RECORD{FamilyName, GivenName, MiddleName, NamePrefix, NameSuffix}`` of STRINGs (PS3.5
  §6.2.1), always complete whatever the rows hold;
- a column exists only for elements present in at least one row (an empty element counts; a
  sequence counts once one of its items holds an exported element);
- not exported, and not reported: binary VRs (OB OD OF OL OV OW UN), any element carried as bulk
  data (``BulkDataURI`` or ``InlineBinary``), private elements (odd group: they have no keyword
  and the same tag means different things from one creator to the next), and group lengths
  (gggg,0000);
- dropped and named in the row's ``DroppedTags``: a value that cannot be converted to its
  column's type (a malformed date, time or number, an IS that is not an integer, several values
  for a single-valued element, a person name with more than five components), a FLOAT that is not
  finite (FL/FD ``NaN``/``Infinity``: BigQuery could hold it, but not every backend and not JSON,
  and one NaN silently poisons every aggregate), an integer outside INT64 (UV), a sequence or
  person name nested deeper than BigQuery's 15 RECORD levels, and a standard element the
  dictionary has no keyword for (an unknown tag, or a repeating-group element (50xx, 60xx)
  outside the group's first instance, whose keyword the first one already uses). A dropped element
  is named by its keyword, or by its 8 hexadecimal digits when it has none of its own; inside a
  sequence, by the dotted path of keywords (``ReferencedSeriesSequence.SeriesDate``);
- dates are ``YYYY-MM-DD``, times ``HH:MM:SS[.ffffff]``; a DT becomes an ISO-8601 timestamp with
  its own UTC offset, else the instance's Timezone Offset From UTC (0008,0201) (PS3.3 C.12.1.1.8),
  else UTC;
- a repeated value that is empty in a string element (``ORIGINAL\\\\PRIMARY``) is ``""``, keeping
  the positions; an empty repeated element is ``[]`` (BigQuery has no NULL arrays).

JSON schema (``schemaJson``): the three UIDs as STRING columns and the whole DICOM JSON, verbatim,
in the JSON column ``Metadata``.

Both add ``StructuredStorageSize`` INTEGER, ``BlobStorageSize`` INTEGER, ``StorageClass`` STRING,
``LastUpdated`` TIMESTAMP, ``DroppedTags`` REPEATED STRING, ``Type`` STRING (``INSERT``) and, with
``includeSourceStore``, ``SourceDicomStore`` STRING. Row values are JSON-serialisable, ready to be
written as newline-delimited JSON for a load job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any, Final, Literal

from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
from pydicom.datadict import mask_match

from dicomstore.errors import FailedPrecondition, InvalidArgument

__all__ = [
    "EXTRA_COLUMNS",
    "MAX_RECORD_DEPTH",
    "PERSON_NAME_COMPONENTS",
    "PERSON_NAME_GROUPS",
    "Column",
    "ColumnMode",
    "ColumnType",
    "RowExtras",
    "SchemaBuilder",
    "SchemaType",
    "TableUri",
    "WriteDisposition",
    "flattened_row",
    "json_row",
    "merge_columns",
    "parse_table_uri",
    "resolve_disposition",
    "schema_type",
]

ColumnType = Literal[
    "STRING", "INTEGER", "FLOAT", "DATE", "TIME", "TIMESTAMP", "RECORD", "JSON", "BOOLEAN"
]
ColumnMode = Literal["NULLABLE", "REPEATED"]


@dataclass(frozen=True)
class Column:
    """A BigQuery column (a ``TableFieldSchema``): a name, a type, a mode and, for a RECORD, its
    fields in order."""

    name: str
    type: ColumnType
    mode: ColumnMode = "NULLABLE"
    fields: tuple[Column, ...] = ()

    def describe(self) -> str:
        """The type as a person reads it: ``REPEATED FLOAT``, ``RECORD<FamilyName STRING, …>``."""
        kind: str = self.type
        if self.type == "RECORD":
            kind = "RECORD<" + ", ".join(f"{f.name} {f.describe()}" for f in self.fields) + ">"
        return f"REPEATED {kind}" if self.mode == "REPEATED" else kind


class SchemaType(StrEnum):
    """The ``schema_type`` oneof of a BigQuery destination: which of its fields is set."""

    FLATTENED = "schemaFlattened"
    JSON = "schemaJson"


class WriteDisposition(StrEnum):
    """``BigQueryDestination.writeDisposition`` once resolved (``UNSPECIFIED`` is WRITE_EMPTY)."""

    WRITE_EMPTY = "WRITE_EMPTY"
    WRITE_TRUNCATE = "WRITE_TRUNCATE"
    WRITE_APPEND = "WRITE_APPEND"


@dataclass(frozen=True)
class RowExtras:
    """What a row holds besides the DICOM metadata: the instance's sizes and storage state.

    Parameters
    ----------
    structured_size : int
        Bytes of structured (metadata) storage, the ``StructuredStorageSize`` column.
    blob_size : int
        Bytes of blob storage, ``BlobStorageSize``.
    storage_class : str
        ``STANDARD``, ``NEARLINE``, ``COLDLINE`` or ``ARCHIVE``, ``StorageClass``.
    last_updated : datetime
        When the instance last changed, ``LastUpdated`` (a naive value is taken as UTC).
    source_store : str or None
        The store's resource name, ``SourceDicomStore``; None leaves the column out of the row.
    operation : str
        The ``Type`` column: ``INSERT`` for exports (streaming also writes ``DELETE`` rows).
    """

    structured_size: int
    blob_size: int
    storage_class: str
    last_updated: datetime
    source_store: str | None = None
    operation: str = "INSERT"


@dataclass(frozen=True)
class TableUri:
    """A BigQuery table named by ``bq://{project}.{dataset}.{table}``."""

    project: str
    dataset: str
    table: str

    def __str__(self) -> str:
        return f"bq://{self.project}.{self.dataset}.{self.table}"


MAX_RECORD_DEPTH: Final = 15
"""BigQuery's limit on nested RECORD levels; deeper sequences and person names are dropped."""

PERSON_NAME_GROUPS: Final = ("Alphabetic", "Ideographic", "Phonetic")
"""The component groups of a Person Name, as DICOM JSON names them (PS3.18 F.2.2)."""

PERSON_NAME_COMPONENTS: Final = (
    "FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix",
)  # fmt: skip
"""The ``^``-separated components of a Person Name group, in order (PS3.5 §6.2.1)."""

_PERSON_NAME_FIELDS: Final = tuple(
    Column(group, "RECORD", fields=tuple(Column(part, "STRING") for part in PERSON_NAME_COMPONENTS))
    for group in PERSON_NAME_GROUPS
)

EXTRA_COLUMNS: Final = {
    column.name: column
    for column in (
        Column("SourceDicomStore", "STRING"),
        Column("Metadata", "JSON"),
        Column("StructuredStorageSize", "INTEGER"),
        Column("DroppedTags", "STRING", "REPEATED"),
        Column("StorageClass", "STRING"),
        Column("LastUpdated", "TIMESTAMP"),
        Column("BlobStorageSize", "INTEGER"),
        Column("Type", "STRING"),
    )
}
"""The non-DICOM columns, in the order ``schemaJson`` lists them (spec §3.3)."""

_JSON_UIDS: Final = {
    "StudyInstanceUID": "0020000D",
    "SeriesInstanceUID": "0020000E",
    "SOPInstanceUID": "00080018",
}
_JSON_ORDER: Final = (*_JSON_UIDS, *EXTRA_COLUMNS)

_TYPE_OF_VR: Final[dict[str, ColumnType]] = {
    **dict.fromkeys(
        ("AE", "AS", "AT", "CS", "LO", "LT", "SH", "ST", "UC", "UI", "UR", "UT"), "STRING"
    ),
    "DA": "DATE",
    "TM": "TIME",
    "DT": "TIMESTAMP",
    **dict.fromkeys(("DS", "FL", "FD"), "FLOAT"),
    **dict.fromkeys(("IS", "SL", "SS", "UL", "US", "SV", "UV"), "INTEGER"),
    "PN": "RECORD",
    "SQ": "RECORD",
}
_BINARY_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_TIMEZONE_OFFSET_FROM_UTC: Final = "00080201"
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1


# --- The dictionary, by tag and by keyword -------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    tag: int
    column: Column  # a sequence's template has no fields yet; the rows provide them


def _template(keyword: str, tag: int, vr: str, vm: str) -> _Entry | None:
    types = {_TYPE_OF_VR[choice] for choice in vr.split(" or ") if choice in _TYPE_OF_VR}
    if len(types) != 1:
        return None
    (kind,) = types
    repeated = vr == "SQ" or vm != "1"
    fields = _PERSON_NAME_FIELDS if vr == "PN" else ()
    return _Entry(tag, Column(keyword, kind, "REPEATED" if repeated else "NULLABLE", fields))


def _first_of(mask: str) -> int:
    """The first tag of a repeating group's mask: ``60xx0010`` → (6000,0010)."""
    return int(mask.replace("x", "0"), 16)


@cache
def _keyword_entries() -> dict[str, _Entry]:
    """Every exportable keyword of the dictionary, repeating groups under their first group."""
    entries: dict[str, _Entry] = {}
    sources = list(DicomDictionary.items())
    sources += [(_first_of(mask), entry) for mask, entry in RepeatersDictionary.items()]
    for tag, (vr, vm, _name, _retired, keyword) in sources:
        if keyword and (template := _template(keyword, tag, vr, vm)) is not None:
            entries[keyword] = template
    return entries


@dataclass(frozen=True)
class _Spec:
    """How one tag of the metadata is exported: its column, or the name it is dropped under."""

    column: Column | None = None
    dropped_as: str | None = None
    plain_string: bool = False  # a single-valued STRING column


_SKIP: Final = _Spec()


@lru_cache(maxsize=8192)
def _spec(key: str) -> _Spec:
    try:
        tag = int(key, 16)
    except ValueError:
        return _Spec(dropped_as=key)
    if len(key) != 8 or (tag >> 16) & 1 or not tag & 0xFFFF:
        return _Spec(dropped_as=key) if len(key) != 8 else _SKIP  # private or group length
    entry = DicomDictionary.get(tag)
    if entry is None and (mask := mask_match(tag)) is not None:
        if _first_of(mask) != tag:
            return _Spec(dropped_as=key.upper())
        entry = RepeatersDictionary[mask]
    if entry is None or not entry[4]:
        return _Spec(dropped_as=key.upper())
    template = _keyword_entries().get(entry[4])
    if template is None:
        return _SKIP
    column = template.column
    return _Spec(column, plain_string=(column.type, column.mode) == ("STRING", "NULLABLE"))


# --- Values -------------------------------------------------------------------------------------


class _Unconvertible(Exception):
    """A value does not fit its column's type; the element is dropped."""


_INTEGER_RE: Final = re.compile(r"[+-]?\d+")
_DECIMAL_RE: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATE_RE: Final = re.compile(r"(\d{4})\.?(\d{2})\.?(\d{2})")
_TIME_RE: Final = re.compile(r"(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?")
_DATETIME_RE: Final = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?"
    r"([+-]\d{4})?"
)
_OFFSET_RE: Final = re.compile(r"([+-])(\d{2})(\d{2})")


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Unconvertible
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _Unconvertible
    if isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and _INTEGER_RE.fullmatch(value.strip())
    ):
        number = int(value)
    else:
        raise _Unconvertible
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise _Unconvertible
    return number


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Unconvertible
    try:
        if isinstance(value, int | float) or (
            isinstance(value, str) and _DECIMAL_RE.fullmatch(value.strip())
        ):
            number = float(value)
        else:
            raise _Unconvertible
    except OverflowError as error:
        raise _Unconvertible from error
    if not math.isfinite(number):
        raise _Unconvertible
    return number


def _fraction(digits: str | None) -> int:
    return int(digits.ljust(6, "0")) if digits else 0


def _date(value: Any) -> str:
    match = _DATE_RE.fullmatch(_string(value).strip())
    if match is None:
        raise _Unconvertible
    try:
        return date(*map(int, match.groups())).isoformat()
    except ValueError as error:
        raise _Unconvertible from error


def _time(value: Any) -> str:
    match = _TIME_RE.fullmatch(_string(value).strip())
    if match is None:
        raise _Unconvertible
    hours, minutes, seconds, fraction = match.groups()
    try:
        parsed = time(int(hours), int(minutes or 0), int(seconds or 0), _fraction(fraction))
    except ValueError as error:  # hour 24, second 60 (PS3.5 allows a leap second)
        raise _Unconvertible from error
    return parsed.isoformat()


def _offset(text: str) -> timezone | None:
    """A DICOM UTC offset ``&ZZXX`` (PS3.5 Table 6.2-1, DT), or None if it is not one."""
    match = _OFFSET_RE.fullmatch(text.strip())
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if int(minutes) >= 60 or delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def _timestamp(value: Any, default_zone: tzinfo) -> str:
    match = _DATETIME_RE.fullmatch(_string(value).strip())
    if match is None:
        raise _Unconvertible
    year, month, day, hours, minutes, seconds, fraction, offset = match.groups()
    zone = default_zone if offset is None else _offset(offset)
    if zone is None:
        raise _Unconvertible
    try:
        parsed = datetime(
            int(year), int(month or 1), int(day or 1), int(hours or 0), int(minutes or 0),
            int(seconds or 0), _fraction(fraction), tzinfo=zone,
        )  # fmt: skip
    except ValueError as error:
        raise _Unconvertible from error
    return parsed.isoformat()


def _person_name(value: Any) -> dict[str, dict[str, str]]:
    """A Person Name value (PS3.18 F.2.2: an object of component groups) as its RECORD."""
    if value is None:
        return {}
    if isinstance(value, str):  # the PS3.5 form, groups separated by "="
        value = dict(zip(PERSON_NAME_GROUPS, value.split("="), strict=False))
    if not isinstance(value, Mapping):
        raise _Unconvertible
    record: dict[str, dict[str, str]] = {}
    for group in PERSON_NAME_GROUPS:
        text = value.get(group)
        if text is None:
            continue
        parts = _string(text).split("^")
        if len(parts) > len(PERSON_NAME_COMPONENTS):
            raise _Unconvertible
        named = zip(PERSON_NAME_COMPONENTS, parts, strict=False)
        components = {name: part for name, part in named if part}
        if components:
            record[group] = components
    return record


_OMIT: Final = object()


class _Flattener:
    """Converts one instance, collecting the names of the elements it drops."""

    def __init__(self, default_zone: tzinfo) -> None:
        self.dropped: list[str] = []
        self._scalars: dict[ColumnType, Callable[[Any], Any]] = {
            "STRING": _string,
            "INTEGER": _integer,
            "FLOAT": _float,
            "DATE": _date,
            "TIME": _time,
            "TIMESTAMP": lambda value: _timestamp(value, default_zone),
        }

    def drop(self, name: str) -> None:
        if name not in self.dropped:
            self.dropped.append(name)

    def dataset(self, elements: Mapping[str, Any], path: str, depth: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key, element in elements.items():
            spec = _spec(key)
            column = spec.column
            if column is None:
                if spec.dropped_as is not None:
                    self.drop(path + spec.dropped_as)
                continue
            if type(element) is not dict and not isinstance(element, Mapping):
                self.drop(path + column.name)
                continue
            values = element.get("Value")
            if element.get("vr") in _BINARY_VRS or (
                values is None and ("BulkDataURI" in element or "InlineBinary" in element)
            ):
                continue
            if (  # the common case, first: one text value
                spec.plain_string
                and type(values) is list
                and len(values) == 1
                and type(values[0]) is str
            ):
                row[column.name] = values[0]
                continue
            try:
                value = self.value(column, values, path, depth)
            except _Unconvertible:
                self.drop(path + column.name)
                continue
            if value is not _OMIT:
                row[column.name] = value
        return row

    def value(self, column: Column, values: Any, path: str, depth: int) -> Any:
        if values is None:
            values = []
        elif type(values) is not list:
            values = [values]
        if column.type == "RECORD" and not column.fields:
            return self.sequence(column, values, path, depth)
        if column.type == "RECORD":
            if depth + 1 > MAX_RECORD_DEPTH:
                raise _Unconvertible
            convert: Callable[[Any], Any] = _person_name
        else:
            convert = self._scalars[column.type]
        if column.mode == "REPEATED":
            if column.type == "STRING":
                return ["" if value is None else convert(value) for value in values]
            if None in values and column.type != "RECORD":
                raise _Unconvertible  # a NULL cannot stand in an array
            return [convert(value) for value in values]
        if len(values) > 1:
            raise _Unconvertible
        if not values or values[0] is None:
            return None
        return convert(values[0]) or None  # an empty person name is NULL

    def sequence(self, column: Column, items: list[Any], path: str, depth: int) -> Any:
        if depth > MAX_RECORD_DEPTH:
            raise _Unconvertible
        inner = f"{path}{column.name}."
        rows = []
        for item in items:
            if item is not None and type(item) is not dict and not isinstance(item, Mapping):
                raise _Unconvertible
            rows.append(self.dataset(item or {}, inner, depth + 1))
        return rows if any(rows) else _OMIT


def _default_zone(metadata: Mapping[str, Any]) -> tzinfo:
    """Timezone Offset From UTC (0008,0201), which applies to every DT without its own offset."""
    element = metadata.get(_TIMEZONE_OFFSET_FROM_UTC)
    values = element.get("Value") if isinstance(element, Mapping) else None
    if isinstance(values, list) and values and isinstance(values[0], str):
        return _offset(values[0]) or UTC
    return UTC


def _extras(extras: RowExtras, dropped: list[str]) -> dict[str, Any]:
    updated = extras.last_updated
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    row: dict[str, Any] = {}
    if extras.source_store is not None:
        row["SourceDicomStore"] = extras.source_store
    row.update(
        StructuredStorageSize=extras.structured_size,
        DroppedTags=dropped,
        StorageClass=extras.storage_class,
        LastUpdated=updated.isoformat(),
        BlobStorageSize=extras.blob_size,
        Type=extras.operation,
    )
    return row


def flattened_row(metadata: Mapping[str, Any], extras: RowExtras) -> dict[str, Any]:
    """One instance as a row of the flattened schema (see the module's documentation).

    Parameters
    ----------
    metadata : Mapping[str, Any]
        The instance's DICOM JSON (PS3.18 F.2): tag keys, ``{"vr", "Value"}`` elements.
    extras : RowExtras
        The non-DICOM columns.

    Returns
    -------
    dict[str, Any]
        Column name to JSON-serialisable value; NULL columns may be absent.
    """
    flattener = _Flattener(_default_zone(metadata))
    row = flattener.dataset(metadata, "", 1)
    row.update(_extras(extras, flattener.dropped))
    return row


def _uid(metadata: Mapping[str, Any], key: str) -> str | None:
    element = metadata.get(key)
    values = element.get("Value") if isinstance(element, Mapping) else None
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def json_row(metadata: Mapping[str, Any], extras: RowExtras) -> dict[str, Any]:
    """One instance as a row of the JSON schema: its UIDs and its DICOM JSON, verbatim, in
    ``Metadata`` (nothing is dropped, so ``DroppedTags`` is empty)."""
    row: dict[str, Any] = {name: _uid(metadata, key) for name, key in _JSON_UIDS.items()}
    row["Metadata"] = dict(metadata)
    row.update(_extras(extras, []))
    return row


# --- Schemas ------------------------------------------------------------------------------------


@dataclass
class _Node:
    column: Column
    children: dict[str, _Node] | None = field(default=None)  # a sequence's fields, by name


def _column_of(name: str) -> Column:
    entry = _keyword_entries().get(name)
    if entry is not None:
        return entry.column
    if name in EXTRA_COLUMNS:
        return EXTRA_COLUMNS[name]
    raise ValueError(f"{name!r} is not a column of a DICOM metadata table")


def _position(name: str, order: Sequence[str]) -> tuple[int, int]:
    """DICOM columns in tag order, then the fixed columns in their order."""
    if name in order:
        return (1, order.index(name))
    return (0, _keyword_entries()[name].tag)


class SchemaBuilder:
    """The schema of a table, merged from the rows written to it.

    Rows are added one at a time (only their column names are looked at, so the builder keeps
    the schema, never the rows); :meth:`columns` then gives the columns every added row fits.
    The fixed columns of the schema type are present even before the first row.

    Parameters
    ----------
    schema : SchemaType
        Flattened or JSON.
    include_source_store : bool
        Whether the table has the ``SourceDicomStore`` column.
    """

    def __init__(
        self, schema: SchemaType = SchemaType.FLATTENED, *, include_source_store: bool = False
    ) -> None:
        self._order: tuple[str, ...] = (
            _JSON_ORDER if schema is SchemaType.JSON else tuple(EXTRA_COLUMNS)
        )
        fixed = [name for name in self._order if name in EXTRA_COLUMNS or schema is SchemaType.JSON]
        if schema is SchemaType.FLATTENED:
            fixed.remove("Metadata")
        if not include_source_store:
            fixed.remove("SourceDicomStore")
        self._fields: dict[str, _Node] = {name: _Node(_column_of(name)) for name in fixed}

    def add(self, row: Mapping[str, Any]) -> None:
        """Merge the columns ``row`` needs (a row of :func:`flattened_row` or :func:`json_row`).

        Raises
        ------
        ValueError
            A column name is neither a DICOM keyword nor one of :data:`EXTRA_COLUMNS`.
        """
        self._merge(self._fields, row)

    def _merge(self, fields: dict[str, _Node], row: Mapping[str, Any]) -> None:
        for name, value in row.items():
            node = fields.get(name)
            if node is None:
                column = _column_of(name)
                is_sequence = column.type == "RECORD" and not column.fields
                node = fields[name] = _Node(column, {} if is_sequence else None)
            if node.children is not None and value:
                for item in value:
                    self._merge(node.children, item)

    def columns(self) -> list[Column]:
        """The table's columns: DICOM columns in tag order, then the fixed ones."""
        return self._columns(self._fields, self._order)

    def _columns(self, fields: dict[str, _Node], order: Sequence[str]) -> list[Column]:
        columns = []
        for name in sorted(fields, key=lambda name: _position(name, order)):
            node = fields[name]
            if node.children is None:
                columns.append(node.column)
            elif nested := self._columns(node.children, ()):
                columns.append(replace(node.column, fields=tuple(nested)))
        return columns


def merge_columns(existing: Sequence[Column], new: Sequence[Column]) -> list[Column]:
    """The columns of a table that holds ``existing`` and must now take rows of ``new``.

    Existing columns keep their place and spelling (BigQuery and DuckDB compare names without
    case); new columns, and new fields of existing RECORDs, are appended.

    Raises
    ------
    FailedPrecondition
        A column is in both with a different type or mode.
    """
    return _merge_columns(existing, new, "")


def _merge_columns(existing: Sequence[Column], new: Sequence[Column], path: str) -> list[Column]:
    merged = list(existing)
    where = {column.name.casefold(): index for index, column in enumerate(merged)}
    for column in new:
        index = where.get(column.name.casefold())
        if index is None:
            where[column.name.casefold()] = len(merged)
            merged.append(column)
            continue
        old = merged[index]
        if (old.type, old.mode) != (column.type, column.mode):
            raise FailedPrecondition(
                f"column {path}{old.name} is {old.describe()} in the table but the export writes "
                f"{column.describe()}"
            )
        if old.type == "RECORD":
            fields = _merge_columns(old.fields, column.fields, f"{path}{old.name}.")
            merged[index] = replace(old, fields=tuple(fields))
    return merged


# --- The destination ----------------------------------------------------------------------------

_PROJECT_RE: Final = re.compile(r"(?:[a-z0-9][a-z0-9.-]*:)?[a-z](?:[a-z0-9-]*[a-z0-9])?")
_ID_RE: Final = re.compile(r"[A-Za-z0-9_]+")
_MAX_URI_LENGTH: Final = 2000
_MAX_ID_LENGTH: Final = 1024


def parse_table_uri(text: str, field: str = "bigqueryDestination.tableUri") -> TableUri:
    """Parse ``bq://{projectId}.{datasetId}.{tableId}`` (spec §3.1).

    The project ID is lowercase letters, digits and hyphens, starting with a letter, optionally
    domain-scoped (``example.com:my-project``); dataset and table IDs are letters, digits and
    underscores, at most 1024 characters; the whole URI at most 2000.

    Raises
    ------
    InvalidArgument
        ``text`` is not such a URI; the message names ``field`` and what is wrong.
    """

    def invalid(reason: str) -> InvalidArgument:
        return InvalidArgument(
            f"Invalid {field} {text!r}: {reason}; expected bq://PROJECT_ID.DATASET_ID.TABLE_ID."
        )

    if not isinstance(text, str) or not text.startswith("bq://"):
        raise invalid("it must start with bq://")
    if len(text) > _MAX_URI_LENGTH:
        raise invalid(f"it is longer than {_MAX_URI_LENGTH} characters")
    # A domain-scoped project ID holds dots too: the dataset and table are the last two parts.
    head, _, table = text.removeprefix("bq://").rpartition(".")
    project, _, dataset = head.rpartition(".")
    if not project or not dataset or not table:
        raise invalid("it must name a project, a dataset and a table, separated by dots")
    if not _PROJECT_RE.fullmatch(project):
        raise invalid(f"project ID {project!r} is not valid")
    for kind, identifier in (("dataset", dataset), ("table", table)):
        if not _ID_RE.fullmatch(identifier) or len(identifier) > _MAX_ID_LENGTH:
            raise invalid(
                f"{kind} ID {identifier!r} must be 1 to {_MAX_ID_LENGTH} letters, digits or "
                "underscores"
            )
    return TableUri(project, dataset, table)


def resolve_disposition(write_disposition: str | None, force: bool | None) -> WriteDisposition:
    """The write disposition a destination asks for (spec §3.1).

    ``writeDisposition``, when set to anything but ``WRITE_DISPOSITION_UNSPECIFIED``, wins; else
    the legacy ``force`` decides: true is WRITE_TRUNCATE, false or absent WRITE_EMPTY.

    Raises
    ------
    InvalidArgument
        ``write_disposition`` is not a WriteDisposition value.
    """
    if write_disposition in (None, "", "WRITE_DISPOSITION_UNSPECIFIED"):
        return WriteDisposition.WRITE_TRUNCATE if force else WriteDisposition.WRITE_EMPTY
    try:
        return WriteDisposition(write_disposition)
    except ValueError:
        allowed = ", ".join(("WRITE_DISPOSITION_UNSPECIFIED", *WriteDisposition))
        raise InvalidArgument(
            f"Invalid bigqueryDestination.writeDisposition {write_disposition!r}: expected one "
            f"of {allowed}."
        ) from None


def schema_type(destination: Mapping[str, Any]) -> SchemaType:
    """Which schema a destination asks for: ``schemaJson`` if set, else flattened.

    Raises
    ------
    InvalidArgument
        Both ``schemaFlattened`` and ``schemaJson`` are set (they form a oneof).
    """
    flattened = destination.get("schemaFlattened") is not None
    as_json = destination.get("schemaJson") is not None
    if flattened and as_json:
        raise InvalidArgument(
            "Invalid bigqueryDestination: schemaFlattened and schemaJson cannot both be set."
        )
    return SchemaType.JSON if as_json else SchemaType.FLATTENED
