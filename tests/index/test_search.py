"""QIDO-RS searches (``dicomstore.index.search``) over a synthetic corpus, on SQLite and PostgreSQL.

The corpus (``qido_corpus``) goes in through ``add_instance`` with the values the ingest
functions of ``dicomstore.dicom.attributes`` extract from pydicom's DICOM JSON, as STOW does.
Searches only read, so one corpus per engine serves the module. Every query is checked twice:
against hand-written expectations, and against :func:`dicomstore.dicom.qido.matches` run over
the same column values in Python (the reference semantics of each matcher).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dicomstore.dicom.attributes import (
    GOOGLE_INSTANCE_DEFAULTS,
    GOOGLE_SERIES_ALL_ADDITIONS,
    GOOGLE_SERIES_DEFAULTS,
    GOOGLE_STUDY_ALL_ADDITIONS,
    GOOGLE_STUDY_DEFAULTS,
    SERIES_COLUMNS,
    STANDARD_SERIES_DEFAULTS,
    STANDARD_STUDY_DEFAULTS,
    STUDY_COLUMNS,
    Level,
    SearchKey,
    attribute_level,
    series_columns,
    study_columns,
    tag_for,
)
from dicomstore.dicom.qido import (
    AnyOf,
    FuzzyPersonName,
    Matcher,
    QidoMode,
    QidoQuery,
    matches,
    parse_query,
    returned_attributes,
)
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index.dicom_stores import DicomStoreConfig
from dicomstore.index.instances import IngestOutcome, add_instance
from dicomstore.index.schema import series, studies
from dicomstore.index.search import (
    _prepared,
    compile_search,
    search,
    search_in_named_store,
    search_values,
)
from dicomstore.names import DatasetName, DicomStoreName
from tests.conftest import ENGINES
from tests.index import qido_corpus as corpus
from tests.index.conftest import LOCATION, NOW

GOOGLE, STANDARD = QidoMode.GOOGLE, QidoMode.STANDARD
NAMED = DicomStoreName(DatasetName(LOCATION, "qido"), "store")
STUDY, SERIES, INSTANCE = Level.STUDY, Level.SERIES, Level.INSTANCE
EMPTY_CONFIG = DicomStoreConfig(
    labels={}, notification_config=None, notification_configs=[], stream_configs=[]
)


class Corpus:
    """The indexed corpus: where it is, and how to search it."""

    def __init__(self, index: Index, store_pk: int) -> None:
        self.index = index
        self.store_pk = store_pk

    def query(
        self,
        level: Level,
        params: Sequence[tuple[str, str]] = (),
        *,
        mode: QidoMode = GOOGLE,
        study: str | None = None,
        series: str | None = None,
    ) -> QidoQuery:
        return parse_query(level, params, study_uid=study, series_uid=series, mode=mode)

    def run(self, query: QidoQuery) -> list[dict[str, Any]]:
        with self.index.transaction() as tx:
            return search(tx, self.store_pk, query)

    def run_named(self, query: QidoQuery) -> list[dict[str, Any]]:
        """``run`` through the store's name: the compiled statement of the query's shape."""
        with self.index.transaction() as tx:
            return search_in_named_store(tx, NAMED, query)

    def search(
        self, level: Level, params: Sequence[tuple[str, str]] = (), **kwargs: Any
    ) -> list[dict[str, Any]]:
        return self.run(self.query(level, params, **kwargs))


@pytest.fixture(scope="module", params=ENGINES)
def indexed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Corpus]:
    """The corpus in one store, and a decoy study in another store of the same dataset."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('search') / Path('index.sqlite3')}"
    else:
        url = str(request.getfixturevalue("postgres_database")())
    index = Index.open(url)
    with index.transaction() as tx:
        dataset = dataset_rows.insert(
            tx, DatasetName(LOCATION, "qido"), time_zone="", encryption_spec=None, now=NOW
        )
        store = store_rows.insert(tx, dataset, "store", EMPTY_CONFIG, NOW)
        other = store_rows.insert(tx, dataset, "other", EMPTY_CONFIG, NOW)
        for instance in corpus.INSTANCES:
            assert add_instance(tx, store.pk, corpus.new_instance(instance), NOW)[0] is (
                IngestOutcome.STORED
            )
        for instance in corpus.OTHER_INSTANCES:
            add_instance(tx, other.pk, corpus.new_instance(instance), NOW)
    yield Corpus(index, store.pk)
    index.close()


# --- The reference: the same matching in Python over the same column values ----------------


def _first_json(uid_of: Any, wanted: str) -> dict[str, Any]:
    return corpus.instance_json(next(i for i in corpus.INSTANCES if uid_of(i) == wanted))


def _study_row(uid: str) -> dict[str, Any]:
    # The study row keeps what its first instance said (add_instance inserts it once).
    row = study_columns(_first_json(lambda i: i.series.study.uid, uid))
    return {**row, "study_instance_uid": uid}


def _series_row(uid: str) -> dict[str, Any]:
    row = series_columns(_first_json(lambda i: i.series.uid, uid))
    return {**row, "series_instance_uid": uid}


def _instance_row(instance: corpus.Instance) -> dict[str, Any]:
    return {
        "sop_instance_uid": instance.uid,
        "sop_class_uid": instance.sop_class,
        "instance_number": instance.number,
    }


def _key_matches(key: SearchKey, matcher: Matcher, instance: corpus.Instance) -> bool:
    if key.table is not key.level:  # ModalitiesInStudy: any series of the study
        return any(
            matches(matcher, _series_row(s.uid)[key.column])
            for s in corpus.SERIES
            if s.study is instance.series.study
        )
    rows = {
        STUDY: _study_row(instance.series.study.uid),
        SERIES: _series_row(instance.series.uid),
        INSTANCE: _instance_row(instance),
    }
    row = rows[key.table]
    if isinstance(matcher, AnyOf):
        return any(_key_matches(key, each, instance) for each in matcher.matchers)
    fuzzy = isinstance(matcher, FuzzyPersonName)
    return matches(matcher, row[key.fuzzy_column if fuzzy and key.fuzzy_column else key.column])


def _reference(query: QidoQuery) -> list[str]:
    """The UIDs ``query`` should find, in indexing order, page applied."""
    found: list[str] = []
    for instance in corpus.INSTANCES:
        if query.study_uid and instance.series.study.uid != query.study_uid:
            continue
        if query.series_uid and instance.series.uid != query.series_uid:
            continue
        if not all(_key_matches(m.key, m.matcher, instance) for m in query.matches):
            continue
        uid = {
            STUDY: instance.series.study.uid,
            SERIES: instance.series.uid,
            INSTANCE: instance.uid,
        }[query.level]
        if uid not in found:
            found.append(uid)
    return found[query.offset : query.offset + query.limit]


UID_TAG = {STUDY: "0020000D", SERIES: "0020000E", INSTANCE: "00080018"}


def _uids(answers: list[dict[str, Any]], level: Level) -> list[str]:
    return [answer[UID_TAG[level]]["Value"][0] for answer in answers]


def _found(
    indexed: Corpus, level: Level, params: Sequence[tuple[str, str]], **kwargs: Any
) -> list[str]:
    """The UIDs found, checked against the reference semantics on the way."""
    query = indexed.query(level, params, **kwargs)
    answers = indexed.run(query)
    found = _uids(answers, level)
    assert found == _reference(query)
    assert indexed.run_named(query) == answers
    return found


def _studies(*items: corpus.Study) -> list[str]:
    return [item.uid for item in items]


def _series(*items: corpus.Series) -> list[str]:
    return [item.uid for item in items]


def _instances_of(*items: corpus.Series) -> list[str]:
    return [i.uid for i in corpus.INSTANCES if i.series in items]


C = corpus
ALL_STUDIES = _studies(*C.STUDIES)


# --- Matching rules ------------------------------------------------------------------------

MATCHING = [
    # Google mode: single value matching, StudyDate ranges, fuzzy PatientName.
    (GOOGLE, [], ALL_STUDIES),
    (GOOGLE, [("PatientID", "PID1")], _studies(C.JOHN_1, C.JOHN_2)),
    (GOOGLE, [("00100020", "PID2")], _studies(C.SALLY)),
    (GOOGLE, [("PatientID", "pid1")], []),  # case-sensitive
    (GOOGLE, [("PatientID", " PID1 ")], _studies(C.JOHN_1, C.JOHN_2)),  # padding ignored
    (GOOGLE, [("PatientName", "Doe^John")], _studies(C.JOHN_1, C.JOHN_2)),
    (GOOGLE, [("PatientName", "DOE^JOHN")], _studies(C.JOHN_1, C.JOHN_2)),  # PN: any case
    (GOOGLE, [("PatientName", "doe^jane")], _studies(C.JANE)),
    (GOOGLE, [("PatientName", "Doe^John^^")], _studies(C.JOHN_1, C.JOHN_2)),
    (GOOGLE, [("PatientName", "Doe")], []),  # exact, not a prefix
    (GOOGLE, [("PatientName", "Doe*")], []),  # no wildcards in Google mode
    (GOOGLE, [("PatientName", "van der Berg^Anna Maria")], _studies(C.ANNA)),
    (GOOGLE, [("PatientName", "Yamada^Tarou")], _studies(C.TAROU)),
    (GOOGLE, [("PatientName", "")], ALL_STUDIES),  # empty: universal
    (GOOGLE, [("ReferringPhysicianName", "House^Gregory")], _studies(C.JOHN_1, C.SALLY, C.JANE)),
    (GOOGLE, [("AccessionNumber", "ACC-003_x%")], _studies(C.SALLY)),
    (GOOGLE, [("AccessionNumber", "ACC-003?x%")], []),
    (GOOGLE, [("AccessionNumber", "ACC00*")], []),
    (GOOGLE, [("AccessionNumber", "ACC00_")], []),  # LIKE's own wildcards are plain text too
    (GOOGLE, [("StudyInstanceUID", C.SALLY.uid)], _studies(C.SALLY)),
    (GOOGLE, [("StudyInstanceUID", f"{C.SALLY.uid},{C.ANNA.uid}")], []),  # no UID lists
    (GOOGLE, [("StudyDate", "20240115")], _studies(C.JOHN_1, C.JANE)),
    (GOOGLE, [("StudyDate", "20240101-20240131")], _studies(C.JOHN_1, C.JANE)),
    (GOOGLE, [("StudyDate", "20240115-20240220")], _studies(C.JOHN_1, C.JOHN_2, C.JANE)),
    (GOOGLE, [("StudyDate", "-20231231")], _studies(C.SALLY, C.ANNA, C.TAROU)),
    (GOOGLE, [("StudyDate", "20240201-")], _studies(C.JOHN_2)),
    (GOOGLE, [("StudyDate", "20250101-")], []),
    (GOOGLE, [("PatientID", "PID1"), ("StudyDate", "20240201-")], _studies(C.JOHN_2)),
    # Fuzzy matching: any query word starts any word of the name (spec §3.3's examples).
    (GOOGLE, [("PatientName", "jo"), ("fuzzymatching", "true")], _studies(C.JOHN_1, C.JOHN_2)),
    (
        GOOGLE,
        [("PatientName", "Do"), ("fuzzymatching", "true")],
        _studies(C.JOHN_1, C.JOHN_2, C.JANE),
    ),
    (
        GOOGLE,
        [("PatientName", "John Doe"), ("fuzzymatching", "true")],
        _studies(C.JOHN_1, C.JOHN_2, C.JANE),
    ),
    (GOOGLE, [("PatientName", "ohn"), ("fuzzymatching", "true")], []),
    (GOOGLE, [("PatientName", "sa"), ("fuzzymatching", "true")], _studies(C.SALLY)),
    (GOOGLE, [("PatientName", "Zh"), ("fuzzymatching", "true")], _studies(C.SALLY)),
    (GOOGLE, [("PatientName", "Sally^Zhang"), ("fuzzymatching", "true")], _studies(C.SALLY)),
    (GOOGLE, [("PatientName", "ally"), ("fuzzymatching", "true")], []),
    (GOOGLE, [("PatientName", "BERG"), ("fuzzymatching", "true")], _studies(C.ANNA)),
    (GOOGLE, [("PatientName", "mar"), ("fuzzymatching", "true")], _studies(C.ANNA)),
    (GOOGLE, [("PatientName", "山"), ("fuzzymatching", "true")], _studies(C.TAROU)),
    (GOOGLE, [("PatientName", "たろう"), ("fuzzymatching", "true")], _studies(C.TAROU)),
    (GOOGLE, [("PatientName", "%"), ("fuzzymatching", "true")], []),
    (
        GOOGLE,
        [("PatientName", "Doe^John"), ("fuzzymatching", "false")],
        _studies(C.JOHN_1, C.JOHN_2),
    ),
    # Google applies fuzzy matching to PatientName only.
    (GOOGLE, [("ReferringPhysicianName", "hou"), ("fuzzymatching", "true")], []),
    # Standard mode: wildcards, UID lists, ranges, more keys.
    (STANDARD, [("PatientName", "doe^j*")], _studies(C.JOHN_1, C.JOHN_2, C.JANE)),
    (STANDARD, [("PatientName", "D?E^*")], _studies(C.JOHN_1, C.JOHN_2, C.JANE)),
    (STANDARD, [("PatientName", "*an*")], _studies(C.SALLY, C.ANNA, C.JANE)),
    (STANDARD, [("PatientName", "*")], ALL_STUDIES),
    (STANDARD, [("PatientName", "Doe^John")], _studies(C.JOHN_1, C.JOHN_2)),
    (STANDARD, [("PatientName", "hou"), ("fuzzymatching", "true")], []),
    (
        STANDARD,
        [("ReferringPhysicianName", "hou"), ("fuzzymatching", "true")],
        _studies(C.JOHN_1, C.SALLY, C.JANE),
    ),
    (STANDARD, [("AccessionNumber", "ACC00*")], _studies(C.JOHN_1, C.JOHN_2, C.JANE, C.TAROU)),
    (STANDARD, [("AccessionNumber", "acc*")], _studies(C.ANNA)),  # case-sensitive
    (STANDARD, [("AccessionNumber", "ACC-003?x%")], _studies(C.SALLY)),
    (STANDARD, [("AccessionNumber", "ACC?00_")], []),  # "_" is no wildcard
    (STANDARD, [("AccessionNumber", "*%")], _studies(C.SALLY)),
    (STANDARD, [("AccessionNumber", "*")], ALL_STUDIES),
    (STANDARD, [("StudyDescription", "CT*")], _studies(C.JOHN_1, C.SALLY, C.JANE)),
    (STANDARD, [("StudyDescription", "*K*")], _studies(C.ANNA, C.TAROU)),
    (STANDARD, [("StudyID", "S1")], _studies(C.JOHN_1)),
    (STANDARD, [("StudyInstanceUID", f"{C.SALLY.uid},{C.ANNA.uid}")], _studies(C.SALLY, C.ANNA)),
    (STANDARD, [("StudyInstanceUID", f"{C.ANNA.uid}\\{C.SALLY.uid}")], _studies(C.SALLY, C.ANNA)),
    (
        STANDARD,
        [("StudyInstanceUID", C.ANNA.uid), ("StudyInstanceUID", C.SALLY.uid)],
        _studies(C.SALLY, C.ANNA),
    ),
    (STANDARD, [("StudyTime", "1015")], _studies(C.JOHN_1)),
    (STANDARD, [("StudyTime", "23")], _studies(C.SALLY, C.JANE)),
    (STANDARD, [("StudyTime", "0800-0900")], _studies(C.JOHN_2)),
    (STANDARD, [("StudyTime", "083000.5")], _studies(C.JOHN_2)),
    (STANDARD, [("StudyTime", "-0700")], _studies(C.TAROU)),
    (STANDARD, [("StudyTime", "1200-")], _studies(C.SALLY, C.ANNA, C.JANE)),
    (STANDARD, [("StudyDate", "20240115"), ("StudyTime", "12-")], _studies(C.JANE)),
    (STANDARD, [("ModalitiesInStudy", "SR")], _studies(C.JOHN_1)),
    (STANDARD, [("ModalitiesInStudy", "CT,PR")], _studies(C.JOHN_1, C.SALLY, C.JANE)),
    (STANDARD, [("ModalitiesInStudy", "MR\\US")], _studies(C.JOHN_2, C.ANNA, C.TAROU)),
    (STANDARD, [("ModalitiesInStudy", "M*")], _studies(C.JOHN_2, C.TAROU)),
    (STANDARD, [("ModalitiesInStudy", "XA")], []),
    (STANDARD, [("PatientID", "PID2\\PID3")], []),  # "\" is a character without the flag
    (
        STANDARD,
        [("PatientID", "PID2\\PID3"), ("multiplevaluematching", "true")],
        _studies(C.SALLY, C.ANNA),
    ),
    (STANDARD, [("PatientID", "PID2"), ("PatientID", "PID3")], _studies(C.SALLY, C.ANNA)),
    (STANDARD, [("PatientName", '""'), ("emptyvaluematching", "true")], _studies(C.NOBODY)),
    (STANDARD, [("AccessionNumber", '""'), ("emptyvaluematching", "true")], _studies(C.NOBODY)),
    (STANDARD, [("StudyDate", '""'), ("emptyvaluematching", "true")], _studies(C.NOBODY)),
    (STANDARD, [("AccessionNumber", '""')], []),  # without the flag, "" is two quote marks
    (STANDARD, [("PatientAge", "054Y")], ALL_STUDIES),  # unsupported: ignored
]


@pytest.mark.parametrize(("mode", "params", "expected"), MATCHING)
def test_study_matching(
    indexed: Corpus, mode: QidoMode, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert _found(indexed, STUDY, params, mode=mode) == expected


SERIES_MATCHING = [
    (GOOGLE, [("Modality", "MR")], _series(C.JOHN_2_MR_A, C.JOHN_2_MR_B, C.TAROU_MR)),
    (GOOGLE, [("Modality", "mr")], []),
    (GOOGLE, [("Modality", "CT,MR")], []),
    (GOOGLE, [("SeriesInstanceUID", C.ANNA_US.uid)], _series(C.ANNA_US)),
    (GOOGLE, [("PatientID", "PID1"), ("Modality", "MR")], _series(C.JOHN_2_MR_A, C.JOHN_2_MR_B)),
    (GOOGLE, [("StudyDate", "20240115")], _series(C.JOHN_1_CT, C.JOHN_1_SR, C.JANE_CT, C.JANE_PR)),
    (
        GOOGLE,
        [("PatientName", "Doe"), ("fuzzymatching", "true"), ("Modality", "CT")],
        _series(C.JOHN_1_CT, C.JANE_CT),
    ),
    (
        STANDARD,
        [("Modality", "CT,MR")],
        _series(C.JOHN_1_CT, C.JOHN_2_MR_A, C.JOHN_2_MR_B, C.SALLY_CT, C.JANE_CT, C.TAROU_MR),
    ),
    (
        STANDARD,
        [("Modality", "?R")],
        _series(C.JOHN_1_SR, C.JOHN_2_MR_A, C.JOHN_2_MR_B, C.JANE_PR, C.TAROU_MR),
    ),
    (STANDARD, [("Modality", '""'), ("emptyvaluematching", "true")], _series(C.NOBODY_OT)),
    (STANDARD, [("SeriesNumber", "7")], _series(C.ANNA_US)),
    (STANDARD, [("SeriesDescription", "*[PV]")], _series(C.SALLY_CT)),
    (STANDARD, [("SeriesDescription", "*[?V]")], _series(C.SALLY_CT)),
    (STANDARD, [("SeriesDescription", "*[V]")], []),
    (GOOGLE, [("Modality", "CT"), ("PatientName", "ZHANG^SALLY")], _series(C.SALLY_CT)),
    (
        STANDARD,
        [("SeriesNumber", "1\\3"), ("multiplevaluematching", "true")],
        _series(C.JOHN_1_CT, C.JOHN_2_MR_A, C.SALLY_CT, C.JANE_CT, C.TAROU_MR),
    ),
    (STANDARD, [("SeriesDescription", "T?")], _series(C.JOHN_2_MR_A, C.JOHN_2_MR_B)),
    (STANDARD, [("PerformedProcedureStepStartDate", "20240115")], _series(C.JOHN_1_CT)),
    (
        STANDARD,
        [("PerformedProcedureStepStartDate", "20230101-")],
        _series(C.JOHN_1_CT, C.JOHN_2_MR_A, C.SALLY_CT),
    ),
    (STANDARD, [("PerformedProcedureStepStartTime", "08-09")], _series(C.JOHN_2_MR_A)),
    (
        STANDARD,
        [("RequestAttributesSequence.ScheduledProcedureStepID", "SPS1")],
        _series(C.JOHN_1_CT),
    ),
    (STANDARD, [("00400275.00401001", "RP2")], _series(C.JOHN_2_MR_B)),
    (
        STANDARD,
        [("RequestAttributesSequence.RequestedProcedureID", "RP*")],
        _series(C.JOHN_1_CT, C.JOHN_2_MR_B),
    ),
    (STANDARD, [("ModalitiesInStudy", "SR")], _series(C.JOHN_1_CT, C.JOHN_1_SR)),
    (
        STANDARD,
        [("SeriesInstanceUID", f"{C.TAROU_MR.uid},{C.ANNA_US.uid}")],
        _series(C.ANNA_US, C.TAROU_MR),
    ),
]


@pytest.mark.parametrize(("mode", "params", "expected"), SERIES_MATCHING)
def test_series_matching(
    indexed: Corpus, mode: QidoMode, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert _found(indexed, SERIES, params, mode=mode) == expected


INSTANCE_MATCHING = [
    (GOOGLE, [("SOPInstanceUID", f"{C.SALLY_CT.uid}.2")], [f"{C.SALLY_CT.uid}.2"]),
    (GOOGLE, [("00080018", f"{C.SALLY_CT.uid}.2")], [f"{C.SALLY_CT.uid}.2"]),
    (GOOGLE, [("Modality", "SR")], _instances_of(C.JOHN_1_SR)),
    (GOOGLE, [("AccessionNumber", "ACC002")], _instances_of(C.JOHN_2_MR_A, C.JOHN_2_MR_B)),
    (GOOGLE, [("PatientName", "tar"), ("fuzzymatching", "true")], _instances_of(C.TAROU_MR)),
    (STANDARD, [("SOPClassUID", C.MR)], _instances_of(C.JOHN_2_MR_A, C.JOHN_2_MR_B, C.TAROU_MR)),
    (STANDARD, [("SOPClassUID", f"{C.US},{C.SR}")], _instances_of(C.JOHN_1_SR, C.ANNA_US)),
    (
        STANDARD,
        [("InstanceNumber", "2")],
        [f"{s.uid}.2" for s in (C.JOHN_1_CT, C.JOHN_2_MR_A, C.SALLY_CT, C.TAROU_MR)],
    ),
    (STANDARD, [("InstanceNumber", "3"), ("Modality", "CT")], [f"{C.JOHN_1_CT.uid}.3"]),
    (
        STANDARD,
        [("StudyDescription", "MR*"), ("InstanceNumber", "1")],
        [f"{s.uid}.1" for s in (C.JOHN_2_MR_A, C.JOHN_2_MR_B, C.TAROU_MR)],
    ),
]


@pytest.mark.parametrize(("mode", "params", "expected"), INSTANCE_MATCHING)
def test_instance_matching(
    indexed: Corpus, mode: QidoMode, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert _found(indexed, INSTANCE, params, mode=mode) == expected


def test_unsupported_standard_keys_are_reported(indexed: Corpus) -> None:
    query = indexed.query(STUDY, [("PatientAge", "054Y"), ("SOPClassUID", C.CT)], mode=STANDARD)
    assert query.unsupported_keys == ("PatientAge", "SOPClassUID")
    assert _uids(indexed.run(query), STUDY) == ALL_STUDIES


def test_one_statement_per_search(indexed: Corpus) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = indexed.index.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        params = [("ModalitiesInStudy", "CT"), ("includefield", "all")]
        indexed.search(INSTANCE, params, mode=STANDARD)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements


@pytest.mark.parametrize(
    ("level", "params"),
    [
        (STUDY, []),
        (SERIES, [("Modality", "CT"), ("includefield", "all")]),
        (INSTANCE, [("ModalitiesInStudy", "CT"), ("includefield", "all")]),
    ],
)
def test_a_search_by_store_name_answers_as_by_store_key(
    indexed: Corpus, level: Level, params: list[tuple[str, str]]
) -> None:
    query = indexed.query(level, params, mode=STANDARD)
    with indexed.index.transaction() as tx:
        answers = search_in_named_store(tx, NAMED, query)
        assert answers
        assert answers == search(tx, indexed.store_pk, query)
        missing = DicomStoreName(DatasetName(LOCATION, "qido"), "missing")
        assert search_in_named_store(tx, missing, query) == []


def test_searches_of_one_shape_share_a_statement_but_not_their_values(indexed: Corpus) -> None:
    first = indexed.query(STUDY, [("PatientID", "PID1"), ("StudyDate", "20240101-")])
    second = indexed.query(STUDY, [("PatientID", "PID2"), ("StudyDate", "20000101-")])
    with indexed.index.transaction() as tx:
        shared = _prepared(tx.dialect, first, returned_attributes(first))
        assert _prepared(tx.dialect, second, returned_attributes(second)) is shared
    assert _uids(indexed.run_named(first), STUDY) == _reference(first) != []
    assert _uids(indexed.run_named(second), STUDY) == _reference(second) != []
    assert _reference(first) != _reference(second)


def test_search_values_are_those_the_statement_binds(indexed: Corpus) -> None:
    params = [
        ("PatientName", "yam*"),
        ("StudyDate", "20240101-20241231"),
        ("ModalitiesInStudy", "CT,MR"),
        ("fuzzymatching", "true"),
        ("limit", "7"),
        ("offset", "1"),
    ]
    query = indexed.query(SERIES, params, mode=STANDARD, study=C.JOHN_1.uid)
    with indexed.index.transaction() as tx:
        statement = compile_search(query, indexed.store_pk, tx.dialect)
        values = search_values(query, tx.dialect)
    bound = {name for name in statement.compile(dialect=tx.dialect).params if name[0] == "q"}
    assert bound | {"limit", "offset"} == set(values)
    assert values["q0"] == C.JOHN_1.uid
    assert (values["limit"], values["offset"]) == (7, 1)


# --- Levels and paths ----------------------------------------------------------------------

PATIENT_NAME, MODALITY, SOP_CLASS = "00100010", "00080060", "00080016"


def test_every_path_form(indexed: Corpus) -> None:
    john, ct = C.JOHN_1.uid, C.JOHN_1_CT.uid
    assert _found(indexed, STUDY, []) == ALL_STUDIES
    assert _found(indexed, SERIES, []) == _series(*C.SERIES)
    assert _found(indexed, INSTANCE, []) == [i.uid for i in C.INSTANCES]
    assert _found(indexed, SERIES, [], study=john) == _series(C.JOHN_1_CT, C.JOHN_1_SR)
    assert _found(indexed, INSTANCE, [], study=john) == _instances_of(C.JOHN_1_CT, C.JOHN_1_SR)
    assert _found(indexed, INSTANCE, [], study=john, series=ct) == _instances_of(C.JOHN_1_CT)
    # A path and a query key narrow together; UIDs of another study or store find nothing.
    assert _found(indexed, SERIES, [("Modality", "SR")], study=john) == _series(C.JOHN_1_SR)
    assert _found(indexed, SERIES, [("Modality", "MR")], study=john) == []
    assert _found(indexed, INSTANCE, [], study=john, series=C.SALLY_CT.uid) == []
    assert _found(indexed, SERIES, [], study=C.OTHER_STORE.uid) == []


def test_other_stores_are_invisible(indexed: Corpus) -> None:
    # The other store holds a copy of JOHN_1's patient under another study UID.
    assert C.OTHER_STORE.uid not in _found(indexed, STUDY, [("PatientID", "PID1")])
    assert C.OTHER_INSTANCES[0].uid not in _found(indexed, INSTANCE, [])
    # Searches that fix no study match the store on the searched row too: still this store's.
    assert _found(indexed, INSTANCE, [("SOPInstanceUID", C.OTHER_INSTANCES[0].uid)]) == []
    assert _found(indexed, SERIES, [("SeriesInstanceUID", C.OTHER_CT.uid)]) == []
    assert C.OTHER_CT.uid not in _found(indexed, SERIES, [("Modality", "CT")])


def test_answers_of_each_path_hold_the_levels_the_path_leaves_open(indexed: Corpus) -> None:
    john, ct = C.JOHN_1.uid, C.JOHN_1_CT.uid
    study_keys = set(GOOGLE_STUDY_DEFAULTS)
    series_keys = set(GOOGLE_SERIES_DEFAULTS)
    instance_keys = set(GOOGLE_INSTANCE_DEFAULTS)
    study_uid, series_uid = {"0020000D"}, {"0020000E"}
    cases = [
        (indexed.search(STUDY), study_keys),
        (indexed.search(SERIES), series_keys | study_keys),
        (indexed.search(SERIES, study=john), series_keys | study_uid),
        (indexed.search(INSTANCE), instance_keys | series_keys | study_keys),
        (indexed.search(INSTANCE, study=john), instance_keys | series_keys | study_uid),
        (indexed.search(INSTANCE, study=john, series=ct), instance_keys | series_uid | study_uid),
    ]
    for answers, keys in cases:
        assert answers
        for answer in answers:
            assert set(answer) == keys
            assert list(answer) == sorted(answer)


def test_values_are_the_instances_dicom_json(indexed: Corpus) -> None:
    (answer,) = indexed.search(INSTANCE, [("SOPInstanceUID", f"{C.JOHN_2_MR_B.uid}.1")])
    document = corpus.instance_json(next(i for i in C.INSTANCES if i.series is C.JOHN_2_MR_B))
    for tag, element in answer.items():
        if tag != "00080056":  # InstanceAvailability is computed
            assert element == document.get(tag, {"vr": element["vr"]}), tag
    assert answer["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]}
    assert answer["00280008"] == {"vr": "IS", "Value": [20]}
    assert answer["00400275"]["Value"][0]["00400009"] == {"vr": "SH", "Value": ["SPS2"]}


def test_empty_default_attributes_are_present_with_their_vr(indexed: Corpus) -> None:
    (nobody,) = indexed.search(STUDY, [("StudyInstanceUID", C.NOBODY.uid)])
    for tag, vr in [("00100010", "PN"), ("00080050", "SH"), ("00080020", "DA"),
                    ("00080030", "TM"), ("00080201", "SH"), ("00100040", "CS")]:  # fmt: skip
        assert nobody[tag] == {"vr": vr}
    (series_answer,) = indexed.search(SERIES, study=C.NOBODY.uid)
    assert series_answer[MODALITY] == {"vr": "CS"}
    assert series_answer["00400275"] == {"vr": "SQ"}
    assert series_answer["00400245"] == {"vr": "TM"}
    (report,) = indexed.search(INSTANCE, study=C.JOHN_1.uid, series=C.JOHN_1_SR.uid)
    assert report["00280010"] == {"vr": "US"}
    assert report["00280008"] == {"vr": "IS"}


def test_instance_availability_follows_the_storage_class(indexed: Corpus) -> None:
    answers = indexed.search(INSTANCE, study=C.JOHN_2.uid)
    availability = {a["00080018"]["Value"][0]: a["00080056"]["Value"] for a in answers}
    assert availability == {
        f"{C.JOHN_2_MR_A.uid}.1": ["NEARLINE"],
        f"{C.JOHN_2_MR_A.uid}.2": ["NEARLINE"],
        f"{C.JOHN_2_MR_B.uid}.1": ["ONLINE"],
    }
    (study,) = indexed.search(STUDY, [("StudyInstanceUID", C.JOHN_2.uid)])
    assert study["00080056"] == {"vr": "CS", "Value": ["ONLINE"]}


# --- Standard mode's return attributes and computed values -------------------------------


def test_standard_study_answers_hold_modalities_and_counts(indexed: Corpus) -> None:
    answers = {a["0020000D"]["Value"][0]: a for a in indexed.search(STUDY, mode=STANDARD)}
    for answer in answers.values():
        assert set(answer) == set(STANDARD_STUDY_DEFAULTS)
    john = answers[C.JOHN_1.uid]
    assert john["00080061"] == {"vr": "CS", "Value": ["CT", "SR"]}
    assert john["00201206"] == {"vr": "IS", "Value": [2]}
    assert john["00201208"] == {"vr": "IS", "Value": [4]}
    assert answers[C.JOHN_2.uid]["00080061"] == {"vr": "CS", "Value": ["MR"]}
    assert answers[C.JANE.uid]["00080061"] == {"vr": "CS", "Value": ["CT", "PR"]}
    assert answers[C.NOBODY.uid]["00080061"] == {"vr": "CS"}
    assert answers[C.NOBODY.uid]["00201208"] == {"vr": "IS", "Value": [1]}


def test_standard_series_answers_hold_their_counts(indexed: Corpus) -> None:
    answers = indexed.search(SERIES, study=C.JOHN_1.uid, mode=STANDARD)
    assert [set(a) for a in answers] == [set(STANDARD_SERIES_DEFAULTS) | {"0020000D"}] * 2
    assert [a["00201209"]["Value"] for a in answers] == [[3], [1]]
    assert [a["00200011"]["Value"] for a in answers] == [[1], [99]]
    # At the root, each series carries its study's standard attributes, computed ones included.
    answers = indexed.search(SERIES, [("SeriesInstanceUID", C.JANE_PR.uid)], mode=STANDARD)
    assert answers[0]["00080061"] == {"vr": "CS", "Value": ["CT", "PR"]}
    assert answers[0]["00201206"] == {"vr": "IS", "Value": [2]}


def test_standard_mode_returns_the_matching_keys(indexed: Corpus) -> None:
    (answer,) = indexed.search(
        SERIES, [("StudyDescription", "CT*"), ("Modality", "SR")], study=C.JOHN_1.uid,
        mode=STANDARD,
    )  # fmt: skip
    assert answer["00081030"] == {"vr": "LO", "Value": ["CT CHEST"]}
    (answer,) = indexed.search(
        INSTANCE, [("InstanceNumber", "1")], study=C.JOHN_1.uid, series=C.JOHN_1_SR.uid,
        mode=STANDARD,
    )  # fmt: skip
    assert answer["00200013"] == {"vr": "IS", "Value": [1]}


def test_google_mode_answers_computed_attributes_only_when_asked(indexed: Corpus) -> None:
    (plain,) = indexed.search(STUDY, [("StudyInstanceUID", C.JANE.uid)])
    assert "00080061" not in plain
    (asked,) = indexed.search(
        STUDY,
        [("StudyInstanceUID", C.JANE.uid), ("includefield", "ModalitiesInStudy,00201208")],
    )
    assert asked["00080061"] == {"vr": "CS", "Value": ["CT", "PR"]}
    assert asked["00201208"] == {"vr": "IS", "Value": [2]}
    (series_answer,) = indexed.search(
        SERIES, [("includefield", "NumberOfSeriesRelatedInstances")], study=C.ANNA.uid
    )
    assert series_answer["00201209"] == {"vr": "IS", "Value": [1]}


# --- includefield ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["StudyDescription", "00081030", "00081030,PatientAge"])
def test_includefield_by_keyword_or_tag(indexed: Corpus, name: str) -> None:
    (answer,) = indexed.search(STUDY, [("StudyInstanceUID", C.JOHN_1.uid), ("includefield", name)])
    assert answer["00081030"] == {"vr": "LO", "Value": ["CT CHEST"]}
    assert set(answer) >= set(GOOGLE_STUDY_DEFAULTS)


def test_includefield_repeated_parameters(indexed: Corpus) -> None:
    params = [("includefield", "StudyDescription"), ("includefield", "PatientAge")]
    (answer,) = indexed.search(STUDY, [("StudyInstanceUID", C.JOHN_1.uid), *params])
    assert answer["00081030"]["Value"] == ["CT CHEST"]
    assert answer["00101010"] == {"vr": "AS", "Value": ["054Y"]}


def test_includefield_all_at_study_level(indexed: Corpus) -> None:
    (answer,) = indexed.search(STUDY, [("StudyInstanceUID", C.JOHN_1.uid), ("includefield", "all")])
    assert set(answer) == set(GOOGLE_STUDY_DEFAULTS) | set(GOOGLE_STUDY_ALL_ADDITIONS)
    assert answer["00080080"] == {"vr": "LO", "Value": ["General Hospital"]}
    assert answer["00401102"] == {"vr": "ST"}  # PersonAddress, empty


def test_includefield_all_at_series_level(indexed: Corpus) -> None:
    (answer,) = indexed.search(
        SERIES, [("includefield", "all"), ("Modality", "CT")], study=C.JOHN_1.uid
    )
    assert set(answer) == set(GOOGLE_SERIES_DEFAULTS) | set(GOOGLE_SERIES_ALL_ADDITIONS) | {
        "0020000D"
    }
    assert answer["00200060"] == {"vr": "CS", "Value": ["L"]}
    assert answer["00080021"] == {"vr": "DA"}


def test_includefield_all_at_instance_level_is_the_whole_metadata(indexed: Corpus) -> None:
    instance = C.INSTANCES[0]
    (answer,) = indexed.search(
        INSTANCE,
        [("includefield", "all"), ("SOPInstanceUID", instance.uid)],
        study=instance.series.study.uid,
        series=instance.series.uid,
    )
    document = corpus.instance_json(instance)
    assert {tag: answer[tag] for tag in document} == document
    assert answer["00180050"] == {"vr": "DS", "Value": [5.0]}
    assert answer["00080056"] == {"vr": "CS", "Value": ["ONLINE"]}


def test_includefield_of_an_instance_attribute(indexed: Corpus) -> None:
    answers = indexed.search(INSTANCE, [("includefield", "SliceThickness")], study=C.JOHN_1.uid)
    assert [a["00180050"] for a in answers] == [{"vr": "DS", "Value": [5.0]}] * 3 + [{"vr": "DS"}]


def test_includefield_of_many_instance_attributes(indexed: Corpus) -> None:
    # More elements than SQL functions take arguments (SQLite: 127; PostgreSQL: 100).
    instance = C.INSTANCES[0]
    document = corpus.instance_json(instance)
    present = [tag for tag in document if attribute_level(tag) is INSTANCE]
    absent = [f"0009{element:04X}" for element in range(0x1000, 0x1000 + 150)]  # private
    (answer,) = indexed.search(
        INSTANCE,
        [("includefield", ",".join(present + absent)), ("SOPInstanceUID", instance.uid)],
        mode=STANDARD,
    )
    assert len(present) > 5
    assert {tag: answer[tag] for tag in present} == {tag: document[tag] for tag in present}
    assert not set(absent) & set(answer)


def test_includefield_of_a_higher_level_attribute_comes_from_its_row(indexed: Corpus) -> None:
    answers = indexed.search(
        INSTANCE, [("includefield", "PatientAge,StudyDescription")], study=C.JOHN_1.uid,
        series=C.JOHN_1_SR.uid,
    )  # fmt: skip
    assert answers[0]["00101010"] == {"vr": "AS", "Value": ["054Y"]}
    assert answers[0]["00081030"] == {"vr": "LO", "Value": ["CT CHEST"]}
    assert PATIENT_NAME not in answers[0]


def test_includefield_of_a_lower_level_attribute_is_not_returned(indexed: Corpus) -> None:
    # PS3.18 §10.6.3.3.1: series and instance attributes are not returned by a study search.
    (answer,) = indexed.search(
        STUDY, [("StudyInstanceUID", C.JOHN_1.uid), ("includefield", "Modality,Rows")]
    )
    assert MODALITY not in answer
    assert "00280010" not in answer
    (series_answer, _) = indexed.search(SERIES, [("includefield", SOP_CLASS)], study=C.JOHN_1.uid)
    assert SOP_CLASS not in series_answer


# --- Paging --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "params"),
    [
        (STUDY, []),
        (SERIES, []),
        (INSTANCE, []),
        (INSTANCE, [("Modality", "CT")]),
        (STUDY, [("StudyDate", "20230101-")]),
    ],
)
@pytest.mark.parametrize("size", [1, 2, 4])
def test_pages_partition_the_results(
    indexed: Corpus, level: Level, params: list[tuple[str, str]], size: int
) -> None:
    everything = _found(indexed, level, params)
    pages: list[str] = []
    for offset in range(0, len(everything) + size, size):
        page = _found(indexed, level, [*params, ("limit", str(size)), ("offset", str(offset))])
        assert len(page) <= size
        pages.extend(page)
    assert pages == everything


def test_default_limit_and_offset_beyond_the_end(indexed: Corpus) -> None:
    assert indexed.query(STUDY).limit == 100
    assert indexed.query(INSTANCE).limit == 1000
    assert _found(indexed, INSTANCE, [("offset", str(len(C.INSTANCES)))]) == []
    assert _found(indexed, INSTANCE, [("offset", "1000000")]) == []
    assert len(_found(indexed, INSTANCE, [("limit", "5000000")])) == len(C.INSTANCES)


# --- Ingest values and the schema ----------------------------------------------------------


def test_ingest_columns_fit_the_schema() -> None:
    for columns, table in ((STUDY_COLUMNS, studies), (SERIES_COLUMNS, series)):
        for column in columns:
            declared = table.c[column.name].type
            assert getattr(declared, "length", None) == column.length, column.name


def test_search_keys_name_existing_columns() -> None:
    from dicomstore.dicom.attributes import SEARCH_KEYS
    from dicomstore.index.search import _TABLES

    for key in SEARCH_KEYS.values():
        table = _TABLES[key.table]
        assert key.column in table.c, key.keyword
        if key.fuzzy_column:
            assert key.fuzzy_column in table.c


def test_stored_search_columns(indexed: Corpus) -> None:
    with indexed.index.transaction() as tx:
        row = tx.execute(
            sa.select(studies).where(studies.c.study_instance_uid == C.TAROU.uid)
        ).one()
        series_row = tx.execute(
            sa.select(series).where(series.c.series_instance_uid == C.JOHN_1_CT.uid)
        ).one()
    assert row.patient_name == "yamada^tarou"
    assert row.patient_name_search == " yamada tarou 山田 太郎 やまだ たろう "
    assert row.study_time == "070000.000000"
    assert row.study_date == "20220610"
    assert series_row.scheduled_procedure_step_id == "SPS1"
    assert series_row.requested_procedure_id == "RP1"
    assert series_row.series_number == 1


def test_compiled_statement_is_one_select(indexed: Corpus) -> None:
    query = indexed.query(STUDY, [("ModalitiesInStudy", "CT")], mode=STANDARD)
    with indexed.index.transaction() as tx:
        statement = compile_search(query, indexed.store_pk, tx.dialect)
    assert isinstance(statement, sa.Select)
    assert "EXISTS" in str(statement)


def _plan(indexed: Corpus, query: QidoQuery) -> str:
    """The plan of the statement ``search`` sends for ``query``, sequential scans disabled on
    PostgreSQL (the corpus is too small for its planner to prefer an index otherwise)."""
    sent: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        sent.append((args[2], args[3]))

    engine = indexed.index.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        indexed.run(query)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    ((statement, parameters),) = sent
    with indexed.index.transaction() as tx:
        if tx.dialect.name == "postgresql":
            tx.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = tx.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
            return "\n".join(row[0] for row in rows)
        rows = tx.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(row[3] for row in rows)


# The index each search is answered through (SQLite names the index of a unique constraint
# sqlite_autoindex_<table>_<n>). SQLite, without statistics, plans from the schema alone;
# PostgreSQL plans from statistics, so on this small corpus only the lookup of an instance by
# its UID is certain to go through its index there.
PLANNED = [
    ((STUDY, [("StudyDate", "20240101-20240131")]), "ix_studies_dicom_store_pk_study_date", False),
    ((STUDY, [("PatientID", "PID1")]), "ix_studies_dicom_store_pk_patient_id", False),
    ((STUDY, [("AccessionNumber", "ACC001")]), "ix_studies_dicom_store_pk_accession_number", False),
    ((SERIES, [("Modality", "CT")]), "ix_series_dicom_store_pk_modality", False),
    (
        (SERIES, [("SeriesInstanceUID", C.SALLY_CT.uid)]),
        "ix_series_dicom_store_pk_series_instance_uid",
        False,
    ),
    (
        (INSTANCE, [("SOPInstanceUID", C.OTHER_INSTANCES[0].uid)]),
        "uq_instances_dicom_store_pk_sop_instance_uid|sqlite_autoindex_instances_1",
        True,
    ),
    # Across the store, through the highest level a key narrows, not every row of a lower one.
    (
        (INSTANCE, [("SeriesInstanceUID", C.SALLY_CT.uid)]),
        "ix_series_dicom_store_pk_series_instance_uid",
        False,
    ),
    ((INSTANCE, [("PatientID", "PID1")]), "ix_studies_dicom_store_pk_patient_id", False),
    (
        (SERIES, [("PatientID", "PID1"), ("Modality", "CT")]),
        "ix_studies_dicom_store_pk_patient_id",
        False,
    ),
    ((INSTANCE, [("StudyInstanceUID", C.SALLY.uid)]), "sqlite_autoindex_studies_1", False),
]


@pytest.mark.parametrize(("search", "index_name", "on_postgresql"), PLANNED)
def test_searches_use_the_store_leading_indexes(
    indexed: Corpus,
    search: tuple[Level, list[tuple[str, str]]],
    index_name: str,
    on_postgresql: bool,
) -> None:
    if indexed.index.engine.dialect.name == "postgresql" and not on_postgresql:
        pytest.skip("PostgreSQL's choice follows statistics")
    plan = _plan(indexed, indexed.query(*search))
    assert any(name in plan for name in index_name.split("|")), plan


def test_ranges_compare_in_the_columns_collation(indexed: Corpus) -> None:
    # PostgreSQL uses an index only for comparisons in the collation it was built with.
    params = [("StudyDate", "20240101-20240131"), ("StudyTime", "10-")]
    query = indexed.query(STUDY, params, mode=STANDARD)
    with indexed.index.transaction() as tx:
        statement = compile_search(query, indexed.store_pk, tx.dialect)
        assert "COLLATE" not in str(statement.compile(dialect=tx.dialect))


@pytest.mark.parametrize(
    ("level", "index_name"),
    [(STUDY, "ix_studies_dicom_store_pk_pk"), (SERIES, "ix_series_dicom_store_pk_pk")],
)
def test_a_stores_studies_and_series_are_paged_in_index_order(
    indexed: Corpus, level: Level, index_name: str
) -> None:
    # Not every study (series) of the store sorted for each page (SQLite; see PLANNED).
    if indexed.index.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL's choice follows statistics")
    plan = _plan(indexed, indexed.query(level, [("offset", "2")]))
    assert index_name in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_keyword_resolution_used_by_the_tests() -> None:
    assert tag_for("PatientName") == PATIENT_NAME
