"""QIDO-RS queries: the query string of a search turned into a typed query (PS3.18 §8.3.4, §10.6).

:func:`parse_query` reads the ``(name, value)`` pairs of a search request into a
:class:`QidoQuery`: its level, the UIDs its path fixes, one :class:`Match` per matching key, the
``includefield`` set, ``fuzzymatching``, ``limit`` and ``offset``. Bad input raises
:class:`~dicomstore.errors.InvalidArgument` (HTTP 400). :func:`returned_attributes` says which
attributes each answer holds.

Two modes (:class:`QidoMode`, a server setting):

``GOOGLE`` (default)
    Google's DICOMweb service as ``shared/spec/dicomweb-conformance.md`` §3 describes it: only its
    nine searchable attributes, single value matching (a ``*`` or ``,`` is an ordinary character),
    StudyDate ranges, fuzzy PatientName; any other key is a 400.
``STANDARD``
    PS3.18 §10.6 and PS3.4 C.2.2.2 as viewers such as OHIF expect: the required matching
    attributes of PS3.18 Table 10.6.1-5 plus Study and Series Description; wildcard matching
    (``*``, ``?``) of text and names, UID lists (``,`` or ``\\``), date and time ranges,
    multiple values (``\\`` with ``multiplevaluematching=true``, and always for Modality and
    Modalities in Study), empty value matching (``""`` with ``emptyvaluematching=true``), the
    standard's return attributes (Modalities in Study and the related counts among them). A
    dictionary attribute it cannot match on is ignored and listed in
    :attr:`QidoQuery.unsupported_keys`, for a ``Warning: 299`` header.

Matchers are small frozen values, one class per PS3.4 C.2.2.2 matching type. Their values are
already normalised like the index's search columns (:mod:`dicomstore.dicom.attributes`), so
:func:`matches` (the reference semantics, over a column value) and the SQL compiled from them in
:mod:`dicomstore.index.search` agree. Decisions the spec leaves open:

- Person names match case-insensitively, exact or wildcard, on their alphabetic group (PS3.4
  C.2.2.2.1 allows it; Google's case sensitivity is UNCONFIRMED).
- Fuzzy matching: a name matches when any query word is the start of any of its words.
- An empty value is universal matching in both modes.
- ``limit=0`` means the default; a larger limit than the maximum is cut to the maximum; an
  ``offset`` above 1,000,000 is a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

from dicomstore.dicom.attributes import (
    GOOGLE_INSTANCE_DEFAULTS,
    GOOGLE_SEARCH_KEYS,
    GOOGLE_SERIES_ALL_ADDITIONS,
    GOOGLE_SERIES_DEFAULTS,
    GOOGLE_STUDY_ALL_ADDITIONS,
    GOOGLE_STUDY_DEFAULTS,
    SEARCH_KEYS,
    SERIES_INSTANCE_UID,
    SERIES_LEVEL_ATTRIBUTES,
    STANDARD_INSTANCE_DEFAULTS,
    STANDARD_SEARCH_KEYS,
    STANDARD_SERIES_DEFAULTS,
    STANDARD_STUDY_DEFAULTS,
    STUDY_INSTANCE_UID,
    STUDY_LEVEL_ATTRIBUTES,
    UNSUPPORTED_INCLUDEFIELDS,
    Level,
    MatchKind,
    SearchKey,
    attribute_level,
    keyword_for,
    normalise_date,
    normalise_person_name,
    normalise_text,
    normalise_time,
    tag_for,
    time_upper_bound,
)
from dicomstore.errors import InvalidArgument

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_LIMITS",
    "MAX_OFFSET",
    "AnyOf",
    "DateRange",
    "EmptyValue",
    "FuzzyPersonName",
    "Match",
    "Matcher",
    "QidoMode",
    "QidoQuery",
    "ReturnedAttributes",
    "SingleValue",
    "TimeRange",
    "UidList",
    "Universal",
    "Wildcard",
    "matches",
    "parse_query",
    "returned_attributes",
]


class QidoMode(StrEnum):
    """How closely QIDO-RS follows Google (default) or the full standard (module docstring)."""

    GOOGLE = "google"
    STANDARD = "standard"


DEFAULT_LIMITS: Final = {Level.STUDY: 100, Level.SERIES: 100, Level.INSTANCE: 1000}
"""Results per search when ``limit`` is absent (spec §3.3)."""

MAX_LIMITS: Final = {Level.STUDY: 5000, Level.SERIES: 5000, Level.INSTANCE: 50000}
"""The largest page; a larger ``limit`` is cut to it (spec §3.3, UNCONFIRMED: clamp)."""

MAX_OFFSET: Final = 1_000_000
"""The largest ``offset`` (spec §3.3)."""


# --- Matchers (PS3.4 C.2.2.2) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Universal:
    """Universal matching (C.2.2.2.3): every entity matches, with or without a value."""


@dataclass(frozen=True, slots=True)
class SingleValue:
    """Single value matching (C.2.2.2.1) against a normalised value (an ``int`` for IS)."""

    value: str | int


@dataclass(frozen=True, slots=True)
class UidList:
    """List of UID matching (C.2.2.2.2): any of the UIDs."""

    uids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Wildcard:
    """Wild card matching (C.2.2.2.4): ``*`` any run of characters, ``?`` any one character."""

    pattern: str


@dataclass(frozen=True, slots=True)
class DateRange:
    """Range matching of DA (C.2.2.2.5), ``YYYYMMDD`` bounds, inclusive; None is open."""

    start: str | None
    end: str | None


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Range matching of TM (C.2.2.2.5), ``HHMMSS.FFFFFF`` bounds, inclusive; None is open."""

    start: str | None
    end: str | None


@dataclass(frozen=True, slots=True)
class FuzzyPersonName:
    """Fuzzy semantic matching of PN (PS3.18 §8.3.4.2, spec §3.3): case-folded words, any of
    which must start a word of the stored name."""

    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EmptyValue:
    """Empty value matching (C.2.2.2.7): the attribute is absent or empty."""


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Multiple value matching (C.2.2.2.8): any of the matchers."""

    matchers: tuple[Matcher, ...]


Matcher = (
    Universal
    | SingleValue
    | UidList
    | Wildcard
    | DateRange
    | TimeRange
    | FuzzyPersonName
    | EmptyValue
    | AnyOf
)
"""One matching rule, for one key."""


def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def matches(matcher: Matcher, value: str | int | None) -> bool:
    """Whether a normalised column value (None: absent or empty) satisfies ``matcher``.

    This is the reference semantics the SQL of :mod:`dicomstore.index.search` implements; it
    also serves matching without a database.
    """
    match matcher:
        case Universal():
            return True
        case EmptyValue():
            return value is None
        case AnyOf(matchers):
            return any(matches(each, value) for each in matchers)
    if value is None:
        return False
    match matcher:
        case SingleValue(expected):
            return value == expected
        case UidList(uids):
            return value in uids
        case DateRange(start, end) | TimeRange(start, end):
            text = str(value)
            return (start is None or text >= start) and (end is None or text <= end)
        case Wildcard(pattern):
            return _wildcard_regex(pattern).fullmatch(str(value)) is not None
        case FuzzyPersonName(tokens):
            return any(f" {token}" in str(value) for token in tokens)
    raise TypeError(f"not a matcher: {matcher!r}")  # pragma: no cover


# --- The query ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """A matching key of the query and its rule."""

    key: SearchKey
    matcher: Matcher


@dataclass(frozen=True, slots=True)
class QidoQuery:
    """A parsed QIDO-RS search (PS3.18 §10.6.1).

    ``study_uid`` / ``series_uid`` are the UIDs the resource path fixes
    (``studies/{study}/series``, ``studies/{study}/series/{series}/instances``).
    ``includefield`` holds the tags asked for by name; ``include_all`` is ``includefield=all``.
    ``unsupported_keys`` lists the query's attributes ignored in standard mode.
    """

    level: Level
    mode: QidoMode = QidoMode.GOOGLE
    study_uid: str | None = None
    series_uid: str | None = None
    matches: tuple[Match, ...] = ()
    includefield: frozenset[str] = frozenset()
    include_all: bool = False
    fuzzymatching: bool = False
    limit: int = 100
    offset: int = 0
    unsupported_keys: tuple[str, ...] = ()


_CONTROL = frozenset({"limit", "offset", "fuzzymatching", "includefield"})
_STANDARD_CONTROL = _CONTROL | {"emptyvaluematching", "multiplevaluematching"}
_LIST_SEPARATORS = re.compile(r"[,\\]")
# Modality values (CS) hold no comma: OHIF and dicomweb-client send lists of them comma-separated.
_CODE_LISTS = frozenset(tag_for(name) for name in ("Modality", "ModalitiesInStudy"))
_INT32 = range(-(2**31), 2**31)


def _invalid(key: SearchKey, value: str, expected: str) -> InvalidArgument:
    return InvalidArgument(f"invalid {key.keyword} value {value!r}: expected {expected}")


def _boolean(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise InvalidArgument(f"invalid {name} value {value!r}: expected true or false")
    return lowered == "true"


def _limit(value: str | None, level: Level) -> int:
    if value is None:
        return DEFAULT_LIMITS[level]
    if not re.fullmatch(r"[0-9]+", value.strip()):
        raise InvalidArgument(f"invalid limit value {value!r}: expected a non-negative integer")
    limit = int(value)
    if limit == 0:
        return DEFAULT_LIMITS[level]
    return min(limit, MAX_LIMITS[level])


def _offset(value: str | None) -> int:
    if value is None:
        return 0
    if not re.fullmatch(r"[0-9]+", value.strip()) or int(value) > MAX_OFFSET:
        raise InvalidArgument(
            f"invalid offset value {value!r}: expected an integer from 0 to {MAX_OFFSET}"
        )
    return int(value)


def _date_bound(key: SearchKey, value: str, bound: str) -> str:
    normalised = normalise_date(bound) if re.fullmatch(r"[0-9]{8}", bound) else None
    if normalised is None:
        raise _invalid(key, value, "YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    try:
        date(int(normalised[:4]), int(normalised[4:6]), int(normalised[6:]))
    except ValueError:
        raise _invalid(key, value, "a calendar date YYYYMMDD") from None
    return normalised


def _time_bound(key: SearchKey, value: str, bound: str, read: Callable[[str], str | None]) -> str:
    normalised = read(bound) if re.fullmatch(r"[0-9]{2,6}(\.[0-9]{1,6})?", bound) else None
    if normalised is None or not (
        normalised[:2] < "24" and normalised[2:4] < "60" and normalised[4:6] <= "60"
    ):
        raise _invalid(key, value, "HHMMSS.FFFFFF or a range HHMMSS-HHMMSS")
    return normalised


def _range(key: SearchKey, value: str) -> DateRange | TimeRange:
    """A DA or TM value or range: ``V``, ``V-``, ``-V``, ``V1-V2`` (PS3.4 C.2.2.2.5)."""
    start, dash, end = value.partition("-")
    if dash and not start and not end:
        raise _invalid(key, value, "a value or a range with at least one bound")
    if key.kind is MatchKind.DATE:
        low = _date_bound(key, value, start) if start else None
        high = _date_bound(key, value, end) if end else None
        matcher: DateRange | TimeRange = DateRange(low, high if dash else low)
    else:
        # A single time stands for its whole period (C.2.2.2.5.1): 1230 is 12:30:00-12:30:59.
        last = end if dash else start
        low_time = _time_bound(key, value, start, normalise_time) if start else None
        high_time = _time_bound(key, value, last, time_upper_bound) if last else None
        matcher = TimeRange(low_time, high_time)
    if matcher.start is not None and matcher.end is not None and matcher.start > matcher.end:
        raise InvalidArgument(f"invalid {key.keyword} range {value!r}: its start is after its end")
    return matcher


def _text(key: SearchKey, value: str, *, standard: bool) -> Matcher:
    """Single value or (standard mode) wildcard matching of text and person names."""
    if standard and ("*" in value or "?" in value):
        pattern = value.strip()
        if key.kind is MatchKind.PERSON_NAME:  # matched on the alphabetic group, any case
            pattern = pattern.split("=", 1)[0].strip().casefold()
        if pattern.strip("*") == "":
            return Universal()  # C.2.2.2.4: "*" alone is universal matching
        return Wildcard(pattern)
    normalised = (
        normalise_person_name(value) if key.kind is MatchKind.PERSON_NAME else normalise_text(value)
    )
    return Universal() if normalised is None else SingleValue(normalised)


def _fuzzy(value: str) -> Matcher:
    tokens = tuple(token for token in re.split(r"[\s^=*?]+", value.casefold()) if token)
    return FuzzyPersonName(tokens) if tokens else Universal()


def _one_value(key: SearchKey, value: str, mode: QidoMode, *, fuzzy: bool, empty: bool) -> Matcher:
    """The matcher of one value (not a list) of ``key``."""
    standard = mode is QidoMode.STANDARD
    if empty and value == '""':
        return EmptyValue()
    if value.strip() == "":
        return Universal()
    if standard and value.strip() == "*" and key.kind is not MatchKind.PERSON_NAME:
        return Universal()
    match key.kind:
        case MatchKind.UID:
            uid = value.strip()
            if standard and not re.fullmatch(r"[0-9.]{1,64}", uid):
                raise _invalid(key, value, "a UID or a comma-separated list of UIDs")
            return SingleValue(uid)
        case MatchKind.DATE | MatchKind.TIME:
            return _range(key, value.strip())
        case MatchKind.NUMBER:
            try:
                number = int(value.strip())
            except ValueError:
                raise _invalid(key, value, "an integer") from None
            if number not in _INT32:
                raise _invalid(key, value, "a 32-bit integer")
            return SingleValue(number)
        case MatchKind.PERSON_NAME if fuzzy:
            return _fuzzy(value)
    return _text(key, value, standard=standard)


def _matcher(
    key: SearchKey,
    values: Sequence[str],
    mode: QidoMode,
    *,
    fuzzy: bool,
    empty: bool,
    multiple: bool,
) -> Matcher:
    """The matcher of all values given for ``key`` (repeated parameters and lists)."""
    parts: list[str] = []
    for value in values:
        if mode is QidoMode.GOOGLE:
            parts.append(value)
        elif key.kind is MatchKind.UID or key.path in _CODE_LISTS:
            parts.extend(_LIST_SEPARATORS.split(value))  # PS3.18 uid-list-match; C.6.1.1.3
        elif multiple:
            parts.extend(value.split("\\"))
        else:
            parts.append(value)
    if len(parts) > 1 and any(not part.strip() for part in parts):
        raise _invalid(key, ",".join(values), "no empty item in a list of values")
    matchers = [_one_value(key, part, mode, fuzzy=fuzzy, empty=empty) for part in parts]
    if len(matchers) == 1:
        return matchers[0]
    if any(isinstance(each, Universal) for each in matchers):
        return Universal()
    if all(isinstance(each, SingleValue) for each in matchers) and key.kind is MatchKind.UID:
        return UidList(tuple(str(each.value) for each in matchers if isinstance(each, SingleValue)))
    return AnyOf(tuple(matchers))


def _resolve_key(name: str) -> str | None:
    """The path of a matching key named by keywords or tags (``A.B`` inside sequences)."""
    tags = [tag_for(part) for part in name.split(".")]
    if any(tag is None for tag in tags):
        return None
    return ".".join(tag for tag in tags if tag is not None)


def _includefields(names: Iterable[str], mode: QidoMode) -> tuple[frozenset[str], bool]:
    tags: set[str] = set()
    include_all = False
    for item in names:
        name = item.strip()
        if not name:
            continue
        if name.lower() == "all":
            include_all = True
            continue
        # An attribute inside a sequence is answered with its whole top-level sequence.
        tag = tag_for(name.split(".", 1)[0], dictionary_only=mode is QidoMode.GOOGLE)
        if tag is None or (mode is QidoMode.GOOGLE and tag in UNSUPPORTED_INCLUDEFIELDS):
            raise InvalidArgument(f"unknown/unsupported QIDO attribute: {name}")
        if tag not in UNSUPPORTED_INCLUDEFIELDS:
            tags.add(tag)
    return frozenset(tags), include_all


def _check_path(level: Level, study_uid: str | None, series_uid: str | None) -> None:
    if level is Level.STUDY and (study_uid or series_uid):
        raise ValueError("a study search has no UID in its path")
    if level is Level.SERIES and series_uid:
        raise ValueError("a series search cannot fix the series")
    if series_uid and not study_uid:
        raise ValueError("a path fixes the series only under its study")


def parse_query(
    level: Level,
    params: Sequence[tuple[str, str]],
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    mode: QidoMode = QidoMode.GOOGLE,
) -> QidoQuery:
    """Read a search's query parameters (decoded, in order, repeats kept) into a query.

    Parameters
    ----------
    level
        What is searched: studies, series or instances (PS3.18 §10.6.1).
    params
        The query string's ``(name, value)`` pairs. Matching keys are keywords or 8-hex tags, or
        dotted paths of them inside sequences (PS3.18 §8.3.4.1); ``includefield`` takes a
        comma-separated list or ``all`` and may be repeated (§8.3.4.3); ``fuzzymatching``,
        ``limit`` and ``offset`` are §8.3.4.2 and §8.3.4.4.
    study_uid, series_uid
        The UIDs the resource path fixes, if any.
    mode
        Google's behaviour or the full standard's.

    Raises
    ------
    InvalidArgument
        An unknown parameter, a key the mode cannot search at this level, a malformed value.
    """
    _check_path(level, study_uid, series_uid)
    standard = mode is QidoMode.STANDARD
    control: dict[str, str] = {}
    includefield: list[str] = []
    values: dict[str, list[str]] = {}
    unsupported: list[str] = []
    for name, value in params:
        if name == "includefield":
            includefield.extend(value.split(","))
        elif name in (_STANDARD_CONTROL if standard else _CONTROL):
            if name in control:
                raise InvalidArgument(f"{name} is given more than once")
            control[name] = value
        else:
            path = _resolve_key(name)
            if path is None:
                raise InvalidArgument(f"unknown/unsupported QIDO attribute: {name}")
            key = SEARCH_KEYS.get(path)
            allowed = STANDARD_SEARCH_KEYS if standard else GOOGLE_SEARCH_KEYS
            if key is None or path not in allowed or key.level.depth > level.depth:
                if standard:
                    unsupported.append(name)
                    continue
                raise InvalidArgument(
                    f"{keyword_for(path)} is not a supported {level} attribute for QIDO search"
                )
            if path in values and not standard:
                raise InvalidArgument(f"{name} is given more than once")
            values.setdefault(path, []).append(value)

    fuzzy = (
        _boolean("fuzzymatching", control["fuzzymatching"]) if "fuzzymatching" in control else False
    )
    empty = standard and _boolean("emptyvaluematching", control.get("emptyvaluematching", "false"))
    multiple = standard and _boolean(
        "multiplevaluematching", control.get("multiplevaluematching", "false")
    )
    found = []
    for path, given in values.items():
        key = SEARCH_KEYS[path]
        # Google applies fuzzy matching to PatientName only (spec §3.3); the standard to any PN.
        key_fuzzy = (
            fuzzy and key.fuzzy_column is not None and (standard or key.keyword == "PatientName")
        )
        matcher = _matcher(key, given, mode, fuzzy=key_fuzzy, empty=empty, multiple=multiple)
        found.append(Match(key, matcher))
    tags, include_all = _includefields(includefield, mode)
    return QidoQuery(
        level=level,
        mode=mode,
        study_uid=study_uid,
        series_uid=series_uid,
        matches=tuple(found),
        includefield=tags,
        include_all=include_all,
        fuzzymatching=fuzzy,
        limit=_limit(control.get("limit"), level),
        offset=_offset(control.get("offset")),
        unsupported_keys=tuple(unsupported),
    )


# --- What answers hold ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReturnedAttributes:
    """The attributes of each answer, by the row that holds them (PS3.18 §10.6.3.3, spec §3.4).

    Each listed attribute is always present, empty (``{"vr": VR}``) when it has no value;
    ``all_instance_metadata`` adds every attribute of the instance's stored metadata.
    A level whose set is empty is not part of the answer.
    """

    study: frozenset[str]
    series: frozenset[str]
    instance: frozenset[str]
    all_instance_metadata: bool


def _defaults(mode: QidoMode, level: Level) -> tuple[str, ...]:
    if mode is QidoMode.GOOGLE:
        return {
            Level.STUDY: GOOGLE_STUDY_DEFAULTS,
            Level.SERIES: GOOGLE_SERIES_DEFAULTS,
            Level.INSTANCE: GOOGLE_INSTANCE_DEFAULTS,
        }[level]
    return {
        Level.STUDY: STANDARD_STUDY_DEFAULTS,
        Level.SERIES: STANDARD_SERIES_DEFAULTS,
        Level.INSTANCE: STANDARD_INSTANCE_DEFAULTS,
    }[level]


def _all_additions(mode: QidoMode, level: Level) -> frozenset[str]:
    if mode is QidoMode.GOOGLE:
        google = {
            Level.STUDY: GOOGLE_STUDY_ALL_ADDITIONS,
            Level.SERIES: GOOGLE_SERIES_ALL_ADDITIONS,
        }
        return frozenset(google.get(level, ()))
    # PS3.18 §10.6.3.3: every optional key of the level that the server supports.
    held = {Level.STUDY: STUDY_LEVEL_ATTRIBUTES, Level.SERIES: SERIES_LEVEL_ATTRIBUTES}
    return held.get(level, frozenset())


def returned_attributes(query: QidoQuery) -> ReturnedAttributes:
    """Which attributes the answers to ``query`` hold, by level.

    An answer holds its own level's default attributes and those of each level above it that
    the path does not fix (spec §3.4); the UIDs of the levels above always (spec §3.4,
    UNCONFIRMED: viewers depend on them). ``includefield=all`` adds the level's "all"
    attributes. A named ``includefield`` attribute is answered by the row of its level
    (:func:`~dicomstore.dicom.attributes.attribute_level`) when that level is the searched one or
    above it; attributes of lower levels are not returned (PS3.18 §10.6.3.3.1-2). In standard
    mode the attributes of the matching keys are returned too.
    """
    sets: dict[Level, set[str]] = {Level.STUDY: set(), Level.SERIES: set(), Level.INSTANCE: set()}
    fixed = {Level.STUDY: query.study_uid is not None, Level.SERIES: query.series_uid is not None}
    for level in (Level.STUDY, Level.SERIES, Level.INSTANCE):
        if level.depth > query.level.depth:
            break
        if level is query.level or not fixed[level]:
            sets[level].update(_defaults(query.mode, level))
            if query.include_all:
                sets[level].update(_all_additions(query.mode, level))
    if query.level.depth >= Level.SERIES.depth:
        sets[Level.STUDY].add(STUDY_INSTANCE_UID)
    if query.level is Level.INSTANCE:
        sets[Level.SERIES].add(SERIES_INSTANCE_UID)
    asked = set(query.includefield)
    if query.mode is QidoMode.STANDARD:
        asked.update(match.key.tag for match in query.matches)
    for tag in asked:
        level = attribute_level(tag)
        if level.depth <= query.level.depth:
            sets[level].add(tag)
    return ReturnedAttributes(
        study=frozenset(sets[Level.STUDY]),
        series=frozenset(sets[Level.SERIES]),
        instance=frozenset(sets[Level.INSTANCE]),
        all_instance_metadata=query.include_all and query.level is Level.INSTANCE,
    )
