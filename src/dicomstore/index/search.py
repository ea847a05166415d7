"""QIDO-RS searches over the index: one SQL statement per search, answered as DICOM JSON.

A :class:`~dicomstore.dicom.qido.QidoQuery` becomes one ``SELECT`` (:func:`compile_search`) on
the search columns of ``studies``, ``series`` and ``instances``, joined upwards from the searched
level; each matcher compiles to a condition through one small function per PS3.4 C.2.2.2
matching type, the SQL form of :func:`dicomstore.dicom.qido.matches`. The same statement runs on
SQLite and PostgreSQL:

- wildcard matching is ``GLOB`` on SQLite (its ``LIKE`` ignores ASCII case) and ``LIKE`` on
  PostgreSQL, both case-sensitive; person names are stored and queried case-folded;
- range bounds and values are fixed-width digit strings, in time order under any collation, so
  they compare in the column's own collation: the one its index is built in;
- Modalities in Study matches through ``EXISTS`` on the study's series and is answered by an
  aggregate of their modalities.

Rows come in primary-key order of the searched level (the order they were first indexed), so
``offset`` paging is stable while nothing is added or removed.

Answers (PS3.18 §10.6.3.3, spec §3.4) are built from the study row's ``attributes``, the series
row's ``attributes`` and the instance's stored ``metadata`` — only the requested attributes of
the latter are read, unless ``includefield=all`` — plus the computed Instance Availability,
Modalities in Study and related counts. Every attribute
:func:`~dicomstore.dicom.qido.returned_attributes` lists is present, ``{"vr": VR}`` when empty.
BulkDataURIs in ``includefield=all`` answers are as stored; making them absolute is the
caller's.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from dicomstore.dicom.attributes import (
    COMPUTED_ATTRIBUTES,
    INSTANCE_AVAILABILITY,
    MODALITIES_IN_STUDY,
    NUMBER_OF_SERIES_RELATED_INSTANCES,
    NUMBER_OF_STUDY_RELATED_INSTANCES,
    NUMBER_OF_STUDY_RELATED_SERIES,
    SERIES_INSTANCE_UID,
    SOP_INSTANCE_UID,
    STUDY_INSTANCE_UID,
    Level,
    empty_element,
    instance_availability,
)
from dicomstore.dicom.qido import (
    AnyOf,
    DateRange,
    EmptyValue,
    FuzzyPersonName,
    Match,
    Matcher,
    QidoQuery,
    ReturnedAttributes,
    SingleValue,
    TimeRange,
    UidList,
    Universal,
    Wildcard,
    returned_attributes,
)
from dicomstore.index.instances import NAMED_STORE_PK, store_name_values
from dicomstore.index.prepared import Compiled, prepared_once
from dicomstore.index.schema import instances, series, studies
from dicomstore.names import DicomStoreName

__all__ = ["compile_search", "search", "search_in_named_store", "search_values"]

Condition = sa.ColumnElement[bool]

_TABLES = {Level.STUDY: studies, Level.SERIES: series, Level.INSTANCE: instances}
# Modality values (CS) cannot hold a backslash: a safe separator for their aggregate.
_SEPARATOR = "\\"


# --- One function per matching type (PS3.4 C.2.2.2) ----------------------------------------
#
# A condition takes its values from ``params``, bind parameters handed out in the order
# `_matcher_values` lists the values: statements of the same shape (`_shape`) are then one SQL
# text, compiled once (`search_in_named_store`), run with each search's values.

Params = Iterator[sa.BindParameter[Any]]


def _universal(column: sa.ColumnElement[Any], matcher: Universal, params: Params) -> Condition:
    return sa.true()


def _single_value(column: sa.ColumnElement[Any], matcher: SingleValue, params: Params) -> Condition:
    return column == next(params)


def _uid_list(column: sa.ColumnElement[Any], matcher: UidList, params: Params) -> Condition:
    return column.in_([next(params) for _ in matcher.uids])


def _range(
    column: sa.ColumnElement[Any], matcher: DateRange | TimeRange, params: Params
) -> Condition:
    # Normalised values and bounds are fixed-width digit strings (YYYYMMDD, HHMMSS.FFFFFF: the
    # dot always sixth), which every collation orders as code points do: compared in the
    # column's own collation, the range can walk the column's index. ``COLLATE "C"`` would not
    # (PostgreSQL uses an index only for comparisons in the collation it was built with).
    conditions: list[Condition] = [column.is_not(None)]
    if matcher.start is not None:
        conditions.append(column >= next(params))
    if matcher.end is not None:
        conditions.append(column <= next(params))
    return sa.and_(*conditions)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _wildcard(
    column: sa.ColumnElement[Any], matcher: Wildcard, params: Params, dialect: sa.Dialect
) -> Condition:
    if dialect.name == "sqlite":  # GLOB is case-sensitive (see `_wildcard_pattern`)
        return column.op("GLOB", is_comparison=True)(next(params))
    return column.like(next(params), escape="\\")


def _wildcard_pattern(matcher: Wildcard, dialect: sa.Dialect) -> str:
    if dialect.name == "sqlite":  # only "[" needs quoting ("*" and "?" mean what DICOM's do)
        return matcher.pattern.replace("[", "[[]")
    return _like_escaped(matcher.pattern).replace("*", "%").replace("?", "_")


def _fuzzy_person_name(
    column: sa.ColumnElement[Any], matcher: FuzzyPersonName, params: Params
) -> Condition:
    # The column holds " word word ": " token" found in it means a word starts with the token.
    return sa.or_(*(column.like(next(params), escape="\\") for _ in matcher.tokens))


def _empty_value(column: sa.ColumnElement[Any], matcher: EmptyValue, params: Params) -> Condition:
    return column.is_(None)


def _condition(
    matcher: Matcher,
    column: sa.ColumnElement[Any],
    fuzzy_column: sa.ColumnElement[Any] | None,
    dialect: sa.Dialect,
    params: Params,
) -> Condition:
    match matcher:
        case Universal():
            return _universal(column, matcher, params)
        case SingleValue():
            return _single_value(column, matcher, params)
        case UidList():
            return _uid_list(column, matcher, params)
        case DateRange() | TimeRange():
            return _range(column, matcher, params)
        case Wildcard():
            return _wildcard(column, matcher, params, dialect)
        case FuzzyPersonName():
            assert fuzzy_column is not None, "fuzzy matching is parsed for PN keys only"
            return _fuzzy_person_name(fuzzy_column, matcher, params)
        case EmptyValue():
            return _empty_value(column, matcher, params)
        case AnyOf(matchers):
            return sa.or_(
                *(_condition(each, column, fuzzy_column, dialect, params) for each in matchers)
            )
    raise TypeError(f"not a matcher: {matcher!r}")  # pragma: no cover


def _matcher_values(matcher: Matcher, dialect: sa.Dialect) -> list[Any]:
    """The values ``matcher``'s condition binds, in the order it takes them."""
    match matcher:
        case SingleValue():
            return [matcher.value]
        case UidList():
            return list(matcher.uids)
        case DateRange() | TimeRange():
            return [bound for bound in (matcher.start, matcher.end) if bound is not None]
        case Wildcard():
            return [_wildcard_pattern(matcher, dialect)]
        case FuzzyPersonName():
            return [f"% {_like_escaped(token)}%" for token in matcher.tokens]
        case AnyOf(matchers):
            return [value for each in matchers for value in _matcher_values(each, dialect)]
    return []  # Universal, EmptyValue


def _matcher_shape(matcher: Matcher) -> Hashable:
    """What of ``matcher`` its condition's SQL depends on: its type and how many values."""
    kind = type(matcher).__name__
    match matcher:
        case UidList():
            return kind, len(matcher.uids)
        case DateRange() | TimeRange():
            return kind, matcher.start is None, matcher.end is None
        case FuzzyPersonName():
            return kind, len(matcher.tokens)
        case AnyOf(matchers):
            return kind, tuple(_matcher_shape(each) for each in matchers)
    return kind


def _predicate(match: Match, dialect: sa.Dialect, params: Params) -> Condition:
    key = match.key
    if isinstance(match.matcher, Universal):
        return sa.true()
    if key.table is not key.level:  # Modalities in Study: any series of the study
        related = series.alias("related_series")
        return sa.exists().where(
            related.c.study_pk == studies.c.pk,
            _condition(match.matcher, related.c[key.column], None, dialect, params),
        )
    table = _TABLES[key.table]
    fuzzy = table.c[key.fuzzy_column] if key.fuzzy_column else None
    return _condition(match.matcher, table.c[key.column], fuzzy, dialect, params)


# --- The statement --------------------------------------------------------------------------


def _needs_row_attributes(tags: frozenset[str], uid: str) -> bool:
    return any(tag != uid and tag not in COMPUTED_ATTRIBUTES for tag in tags)


@functools.cache  # statements are immutable; building the alias costs more than the query
def _modalities() -> sa.ColumnElement[Any]:
    related = series.alias("study_modalities")
    return (
        # The separator written into the text, not bound: the same text for every search.
        sa.select(
            sa.func.aggregate_strings(
                related.c.modality,
                sa.literal_column(f"'{_SEPARATOR}'"),  # type: ignore[arg-type]
            )
        )
        .where(related.c.study_pk == studies.c.pk)
        .scalar_subquery()
    )


# jsonb_build_object takes at most 100 arguments, SQLite's json_object 127 (by default).
_ELEMENTS_PER_CALL = 50


def _instance_elements(tags: list[str], dialect: sa.Dialect) -> sa.ColumnElement[Any]:
    """The elements ``tags`` of the instance's stored metadata as one DICOM JSON object, with
    ``null`` for those it lacks.

    On PostgreSQL, not one ``metadata -> tag`` per tag: a stored JSONB value is detoasted (read
    and decompressed: an instance's metadata is kept compressed, out of line beyond ~2 KB) anew
    for every operator applied to it. ``metadata || '{}'`` is the document itself, detoasted
    once; the fence (``OFFSET 0``) keeps the planner from copying that expression into each
    lookup. SQLite parses a document once for all the ``json_extract`` calls on it in a row.
    """
    json_type = instances.c.metadata.type
    chunks = [
        tags[start : start + _ELEMENTS_PER_CALL]
        for start in range(0, len(tags), _ELEMENTS_PER_CALL)
    ]
    objects: list[sa.ColumnElement[Any]]
    if dialect.name != "postgresql":
        objects = [
            sa.func.json_object(
                *_pairs(
                    chunk, lambda tag: sa.func.json_extract(instances.c.metadata, f'$."{tag}"')
                ),
                type_=json_type,
            )
            for chunk in chunks
        ]
        return functools.reduce(lambda a, b: sa.func.json_patch(a, b, type_=json_type), objects)
    detoasted = instances.c.metadata.op("||", return_type=json_type)(
        sa.literal_column("'{}'::jsonb")
    )
    stored = (
        sa.select(detoasted.label("document"))
        .correlate(instances)
        .offset(sa.literal_column("0"))
        .subquery("stored")
    )
    objects = [
        sa.func.jsonb_build_object(
            *_pairs(chunk, lambda tag: stored.c.document[tag]), type_=json_type
        )
        for chunk in chunks
    ]
    merged = functools.reduce(lambda a, b: a.op("||", return_type=json_type)(b), objects)
    return sa.select(merged).scalar_subquery()


def _pairs(
    tags: list[str], element: Callable[[str], sa.ColumnElement[Any]]
) -> list[str | sa.ColumnElement[Any]]:
    """``tag, element(tag)`` for each tag: the arguments of a JSON object constructor."""
    return [part for tag in tags for part in (tag, element(tag))]


def _selected(
    query: QidoQuery, returned: ReturnedAttributes, dialect: sa.Dialect
) -> list[sa.ColumnElement[Any]]:
    """The columns the answers are made of, labelled for :func:`_answer`."""
    columns: list[sa.ColumnElement[Any]] = [studies.c.study_instance_uid]
    if _needs_row_attributes(returned.study, STUDY_INSTANCE_UID):
        columns.append(studies.c.attributes.label("study_attributes"))
    if MODALITIES_IN_STUDY in returned.study:
        columns.append(_modalities().label("modalities"))
    if returned.study & {NUMBER_OF_STUDY_RELATED_SERIES, NUMBER_OF_STUDY_RELATED_INSTANCES}:
        columns.append(studies.c.series_count.label("study_series_count"))
        columns.append(studies.c.instance_count.label("study_instance_count"))
    if query.level is Level.STUDY:
        return columns
    columns.append(series.c.series_instance_uid)
    if _needs_row_attributes(returned.series, SERIES_INSTANCE_UID):
        columns.append(series.c.attributes.label("series_attributes"))
    if NUMBER_OF_SERIES_RELATED_INSTANCES in returned.series:
        columns.append(series.c.instance_count.label("series_instance_count"))
    if query.level is Level.SERIES:
        return columns
    columns.append(instances.c.sop_instance_uid)
    columns.append(instances.c.storage_class)
    if returned.all_instance_metadata:
        columns.append(instances.c.metadata.label("instance_metadata"))
    elif tags := sorted(returned.instance - set(COMPUTED_ATTRIBUTES)):
        # Only the requested elements leave the database, not whole (CT-sized) headers.
        columns.append(_instance_elements(tags, dialect).label("instance_elements"))
    return columns


def _entry_table(query: QidoQuery) -> sa.Table | None:
    """For a search across the store (no study in its path) that no study key narrows: the
    highest table below the studies that its keys narrow, or the searched table if none does
    (its rows then come in key order). None otherwise.

    The store is matched on that table's rows as well, so that its own indexes, which lead with
    the store, can find them: a SOP Instance UID, a series' Modality, a page in key order. Not
    when a study key narrows the search: SQLite, which plans without statistics, would then take
    every instance of the store as its way in.
    """
    if query.level is Level.STUDY or query.study_uid is not None:
        return None
    narrowed = {match.key.table for match in query.matches if _narrows(match.matcher)}
    for level in (Level.STUDY, Level.SERIES, Level.INSTANCE):
        if level in narrowed:
            return None if level is Level.STUDY else _TABLES[level]
    return _TABLES[query.level]


def _narrows(matcher: Matcher) -> bool:
    if isinstance(matcher, AnyOf):
        return not any(isinstance(each, Universal) for each in matcher.matchers)
    return not isinstance(matcher, Universal)


def compile_search(
    query: QidoQuery,
    store_pk: int | sa.ScalarSelect[Any],
    dialect: sa.Dialect,
    returned: ReturnedAttributes | None = None,
) -> sa.Select[Any]:
    """The one statement that answers ``query`` in the store ``store_pk``.

    Parameters
    ----------
    query
        The parsed search.
    store_pk
        The ``dicom_stores`` row searched, or an expression giving it (``NAMED_STORE_PK``).
    dialect
        The engine's dialect (``tx.dialect``): wildcards and ordering differ by engine.
    returned
        :func:`~dicomstore.dicom.qido.returned_attributes` of ``query``, if already known.
    """
    returned = returned or returned_attributes(query)
    if query.level is Level.STUDY:
        source: sa.FromClause = studies
    elif query.level is Level.SERIES:
        source = series.join(studies, series.c.study_pk == studies.c.pk)
    else:
        source = instances.join(series, instances.c.series_pk == series.c.pk).join(
            studies, series.c.study_pk == studies.c.pk
        )
    searched = _TABLES[query.level]
    params: Params = (sa.bindparam(f"q{number}") for number in itertools.count())
    # The store is matched on the study row, which every level joins: the planners then walk
    # study → series → instances through their keys instead of every instance of the store.
    conditions: list[Condition] = [studies.c.dicom_store_pk == store_pk]
    if query.study_uid is not None:
        conditions.append(studies.c.study_instance_uid == next(params))
    entry = _entry_table(query)
    if entry is not None:
        conditions.append(entry.c.dicom_store_pk == store_pk)
    if query.series_uid is not None:
        conditions.append(series.c.series_instance_uid == next(params))
    conditions.extend(_predicate(match, dialect, params) for match in query.matches)
    return (
        sa.select(*_selected(query, returned, dialect))
        .select_from(source)
        .where(*conditions)
        .order_by(searched.c.pk)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )


def search_values(query: QidoQuery, dialect: sa.Dialect) -> dict[str, Any]:
    """The values of the bind parameters `compile_search` gives ``query``'s statement."""
    values = [uid for uid in (query.study_uid, query.series_uid) if uid is not None]
    for match in query.matches:
        values.extend(_matcher_values(match.matcher, dialect))
    named = {f"q{number}": value for number, value in enumerate(values)}
    return {**named, "limit": query.limit, "offset": query.offset}


def _shape(query: QidoQuery, returned: ReturnedAttributes) -> Hashable:
    """What `compile_search`'s SQL for ``query`` depends on, all but the values bound."""
    matches = tuple((match.key, _matcher_shape(match.matcher)) for match in query.matches)
    return (
        query.level,
        query.study_uid is None,
        query.series_uid is None,
        matches,
        returned,
    )


# --- Answers --------------------------------------------------------------------------------


def _value(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


@functools.lru_cache(maxsize=4096)
def _empty_element(tag: str) -> tuple[tuple[str, Any], ...] | None:
    # Once per tag, not per answer: the data dictionary lookup costs more than the rest of
    # filling in a missing attribute.
    element = empty_element(tag)
    return None if element is None else tuple(element.items())


def _fill(
    answer: dict[str, Any],
    tags: frozenset[str],
    source: Mapping[str, Any],
    computed: Mapping[str, Callable[[], dict[str, Any]]],
) -> None:
    """Put each of ``tags`` in ``answer``: computed, else from ``source``, else empty."""
    for tag in tags:
        if tag in computed:
            answer[tag] = computed[tag]()
            continue
        element = source.get(tag)
        if element is not None:
            answer[tag] = element
        elif (empty := _empty_element(tag)) is not None:
            answer[tag] = dict(empty)


def _study_part(row: dict[str, Any], returned: ReturnedAttributes, answer: dict[str, Any]) -> None:
    source = dict(row.get("study_attributes") or {})
    source.setdefault(STUDY_INSTANCE_UID, _value("UI", row["study_instance_uid"]))

    def modalities() -> dict[str, Any]:
        aggregated = row["modalities"]
        return _value("CS", *sorted(set(aggregated.split(_SEPARATOR)) if aggregated else ()))

    computed = {
        INSTANCE_AVAILABILITY: lambda: _value("CS", "ONLINE"),
        MODALITIES_IN_STUDY: modalities,
        NUMBER_OF_STUDY_RELATED_SERIES: lambda: _value("IS", row["study_series_count"]),
        NUMBER_OF_STUDY_RELATED_INSTANCES: lambda: _value("IS", row["study_instance_count"]),
    }
    _fill(answer, returned.study, source, computed)


def _series_part(row: dict[str, Any], returned: ReturnedAttributes, answer: dict[str, Any]) -> None:
    source = dict(row.get("series_attributes") or {})
    source.setdefault(SERIES_INSTANCE_UID, _value("UI", row["series_instance_uid"]))
    computed = {
        NUMBER_OF_SERIES_RELATED_INSTANCES: lambda: _value("IS", row["series_instance_count"]),
    }
    _fill(answer, returned.series, source, computed)


def _instance_part(
    row: dict[str, Any], returned: ReturnedAttributes, answer: dict[str, Any]
) -> None:
    if returned.all_instance_metadata:
        source = dict(row["instance_metadata"])
        answer.update(source)  # the instance's own values win over its study's and series'
    else:
        elements = row.get("instance_elements") or {}
        source = {tag: element for tag, element in elements.items() if element is not None}
    source.setdefault(SOP_INSTANCE_UID, _value("UI", row["sop_instance_uid"]))
    computed = {
        INSTANCE_AVAILABILITY: lambda: _value("CS", instance_availability(row["storage_class"])),
    }
    _fill(answer, returned.instance, source, computed)


def _answer(
    values: dict[str, Any], query: QidoQuery, returned: ReturnedAttributes
) -> dict[str, Any]:
    # ``values`` is a plain dict: looking up a column the statement did not select is then
    # cheap (a Row's mapping goes through an exception for each miss).
    answer: dict[str, Any] = {}
    _study_part(values, returned, answer)
    if query.level is not Level.STUDY:
        _series_part(values, returned, answer)
    if query.level is Level.INSTANCE:
        _instance_part(values, returned, answer)
    return dict(sorted(answer.items()))


def search(tx: sa.Connection, store_pk: int, query: QidoQuery) -> list[dict[str, Any]]:
    """The answers to ``query`` in the store ``store_pk``: one DICOM JSON object per match
    (PS3.18 F.2), in a stable order, ``query.limit`` at most after ``query.offset``.

    An empty list means no match (HTTP 204, spec §3.4).
    """
    returned = returned_attributes(query)
    statement = compile_search(query, store_pk, tx.dialect, returned)
    rows = tx.execute(statement, search_values(query, tx.dialect))
    return [_answer(row._asdict(), query, returned) for row in rows]


def search_in_named_store(
    tx: sa.Connection, store: DicomStoreName, query: QidoQuery
) -> list[dict[str, Any]]:
    """``search`` in the store called ``store``, found by name inside the same statement (one
    statement per search). Empty when there is no such store: the caller tells the two apart.

    Searches of one shape share one SQL text, compiled once per dialect and run on the DBAPI
    cursor (`index.prepared`): building and compiling the statement costs more than running it.
    """
    returned = returned_attributes(query)
    compiled = _prepared(tx.dialect, query, returned)
    values = {**search_values(query, tx.dialect), **store_name_values(store)}
    rows = compiled.run(tx.connection, values)
    names = compiled.columns
    return [_answer(dict(zip(names, row, strict=True)), query, returned) for row in rows]


def _prepared(dialect: sa.Dialect, query: QidoQuery, returned: ReturnedAttributes) -> Compiled:
    """The compiled statement of searches shaped as ``query`` in a store named by the caller."""
    return prepared_once(
        dialect,
        ("search", _shape(query, returned)),
        lambda: compile_search(query, NAMED_STORE_PK, dialect, returned),
    )
