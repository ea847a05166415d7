"""QIDO-RS and WADO metadata query latency over a million indexed instances, SQLite and PostgreSQL.

It bulk-loads a synthetic store of ``--instances`` instances (1,000,000) straight into the index
tables — the rows ``add_instance`` would write (study and series search columns and attributes
from ``dicomstore.dicom.attributes``, exact counts and sizes, DICOM JSON metadata of about
4.9 KB per instance: pydicom's ``CT_small.dcm`` without its private groups, rewritten per
patient, study, series and instance), in batches (``executemany``; ``COPY`` for instance rows on
PostgreSQL) — then times the index
queries the server runs: ``dicomstore.index.search.search`` on a ``QidoQuery`` parsed as
``services/search.py`` parses one, and ``instances.metadata_of`` (WADO metadata). Run::

    python benchmarks/index_scale.py [--instances 1000000] [--queries 200] [--seed 1]
        [--engine sqlite] [--engine postgresql] [--from-revision 0001] [--plans]
        [--no-gc-freeze] [--sqlite-path PATH] [--postgres-url URL | --postgres-server URL]

The corpus: one patient per 200 instances (5,000), about two studies each (StudyDate spread
over 2016-2025), modalities CT 30 %, MR 20 %, CR 20 %, US 15 %, DX 15 %. A CT study is a scout,
an axial series of 60-120 slices, in 30 % of them a thin series of 300 slices and in half of them
a reformat of 40-80; MR 4-8 series of 15-40; CR and DX 1-3 series of 1-2; US 1-2 series of
5-40, some multi-frame. That is about 110 instances and 3.3 series per study, 33 instances per
series on average. UIDs are random; AccessionNumber is unique per study.

``--from-revision 0001`` loads the store at that index schema revision, times the queries,
upgrades the schema to head (timing the migration on the loaded index) and times them again:
the before/after of an index change. ``--plans`` prints each query's plan at each stage:
``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite, of the very SQL
and parameters the query code sent (captured from the engine).

By default each engine gets a throw-away database (a temporary SQLite file; a new PostgreSQL
database on ``--postgres-server``, dropped at the end). ``--sqlite-path`` and ``--postgres-url``
name databases to use and keep instead: one already holding this benchmark's store is reused as
it is (no load), so that query changes can be timed again without loading again. PostgreSQL is
``VACUUM (ANALYZE)``-ed after the load and after a migration, as autovacuum would do after a bulk
load; SQLite is not analysed, since the server never does it. Before timing, the heap is frozen
(``gc.collect(); gc.freeze()``; ``--no-gc-freeze`` not to): Python's full collections walk
every tracked object every few searches and would add the benchmark's heap to the tail.
Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import hashlib
import json
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import sqlalchemy as sa
from _harness import machine, percentile, throwaway_postgres
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydicom.data import get_testdata_file

from dicomstore.dicom.attributes import (
    Level,
    series_attributes,
    series_columns,
    study_attributes,
    study_columns,
)
from dicomstore.dicom.json import to_dicom_json
from dicomstore.dicom.qido import QidoMode, parse_query
from dicomstore.errors import NotFound
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index.dicom_stores import DicomStoreConfig
from dicomstore.index.engine import create_index_engine
from dicomstore.index.instances import metadata_of
from dicomstore.index.migrate import alembic_config, upgrade
from dicomstore.index.schema import instances, series, studies
from dicomstore.index.search import search
from dicomstore.names import LocationName

STORE = LocationName("bench", "local").dataset("index-scale").dicom_store("store")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's UID root
EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
FIRST_DAY = datetime.date(2016, 1, 1)
DAYS = (datetime.date(2025, 12, 31) - FIRST_DAY).days
INSTANCES_PER_PATIENT = 200
BATCH = 5000  # instances per INSERT batch (whole studies)
LARGE_SERIES = 200  # "large series" query kinds pick series of at least this many instances
JSON_COLUMNS = ("metadata", "frame_ranges", "bulk_data")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FAMILY_NAMES = _words(
    "SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ LOPEZ "
    "GONZALEZ WILSON ANDERSON THOMAS TAYLOR MOORE JACKSON MARTIN LEE PEREZ THOMPSON WHITE HARRIS "
    "SANCHEZ CLARK RAMIREZ LEWIS ROBINSON WALKER YOUNG ALLEN KING WRIGHT SCOTT TORRES NGUYEN HILL "
    "FLORES GREEN ADAMS NELSON BAKER HALL RIVERA CAMPBELL MITCHELL CARTER ROBERTS MUELLER SCHMIDT "
    "SCHNEIDER FISCHER WEBER MEYER WAGNER BECKER SCHULZ HOFFMANN DUBOIS MOREAU LAURENT ROSSI "
    "RUSSO FERRARI ESPOSITO BIANCHI ROMANO COLOMBO SATO SUZUKI TAKAHASHI TANAKA WATANABE ITO "
    "KOWALSKI NOWAK WISNIEWSKI DE^JONG VAN^DIJK JANSSEN O'BRIEN MURPHY KELLY SULLIVAN"
)
GIVEN_NAMES = _words(
    "JAMES MARY ROBERT PATRICIA JOHN JENNIFER MICHAEL LINDA DAVID ELIZABETH WILLIAM BARBARA "
    "RICHARD SUSAN JOSEPH JESSICA THOMAS SARAH CHARLES KAREN CHRISTOPHER LISA DANIEL NANCY "
    "MATTHEW BETTY ANTHONY MARGARET MARK SANDRA ANNA LUCA SOFIA HANS PETRA YUKI HIROSHI MARIE "
    "PIERRE CHLOE JAN EWA SEAN AOIFE"
)
REFERRING = ("HOUSE^GREGORY", "GREY^MEREDITH", "ROSS^DOUG", "QUINN^MICHAELA", "KILDARE^JAMES")


@dataclass(frozen=True)
class Modality:
    """What studies of one modality look like."""

    name: str
    weight: float
    sop_class_uid: str
    rows: int
    columns: int
    samples: int
    descriptions: tuple[str, ...]
    series: Callable[[random.Random], list[tuple[str, int]]]  # (description, instance count)


def _ct(rng: random.Random) -> list[tuple[str, int]]:
    plan = [("SCOUT", 2), ("AXIAL 5MM", rng.randint(60, 120))]
    if rng.random() < 0.3:
        plan.append(("AXIAL 0.625MM", 300))
    if rng.random() < 0.5:
        plan.append(("CORONAL MPR", rng.randint(40, 80)))
    return plan


MODALITIES = (
    Modality("CT", 0.30, "1.2.840.10008.5.1.4.1.1.2", 512, 512, 1,
             ("CT CHEST W CONTRAST", "CT HEAD WO CONTRAST", "CT ABDOMEN PELVIS"), _ct),
    Modality("MR", 0.20, "1.2.840.10008.5.1.4.1.1.4", 256, 256, 1,
             ("MR BRAIN", "MR KNEE LEFT", "MR LUMBAR SPINE"),
             lambda rng: [(f"SEQ {n}", rng.randint(15, 40)) for n in range(rng.randint(4, 8))]),
    Modality("CR", 0.20, "1.2.840.10008.5.1.4.1.1.1", 2500, 2048, 1,
             ("CR CHEST PA", "CR HAND"),
             lambda rng: [(f"VIEW {n}", 1) for n in range(rng.randint(1, 3))]),
    Modality("US", 0.15, "1.2.840.10008.5.1.4.1.1.6.1", 480, 640, 3,
             ("US ABDOMEN", "US THYROID"),
             lambda rng: [(f"CINE {n}", rng.randint(5, 40)) for n in range(rng.randint(1, 2))]),
    Modality("DX", 0.15, "1.2.840.10008.5.1.4.1.1.1.1", 3000, 2500, 1,
             ("DX CHEST", "DX KNEE"),
             lambda rng: [(f"VIEW {n}", rng.randint(1, 2)) for n in range(rng.randint(1, 3))]),
)  # fmt: skip


# --- the corpus, as index rows ----------------------------------------------------------------


def _element(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)}


def template() -> dict[str, Any]:
    """DICOM JSON of ``CT_small.dcm`` without private groups, as ingest stores it, with every
    element the corpus rewrites present (so that keys keep their tag order)."""
    path = get_testdata_file("CT_small.dcm")
    assert isinstance(path, str)
    dataset = pydicom.dcmread(path)
    document = to_dicom_json(dataset, lambda path: f"bulkdata/{path}")
    public = {tag: value for tag, value in document.items() if int(tag[:4], 16) % 2 == 0}
    for tag in ("00080050", "00080090", "00081030", "0008103E", "00200010", "00280008"):
        public.setdefault(tag, {"vr": "LO"})
    return dict(sorted(public.items()))


INSTANCE_TAGS = ("00020003", "00080018", "00200013", "00200032", "00201041", "7FE00010")


def _split(document: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``json.dumps(document)`` cut around the values of :data:`INSTANCE_TAGS`: the text is
    ``fixed[0] + value(tags[0]) + fixed[1] + …``."""
    fixed, tags, current = [], [], "{"
    for number, (tag, element) in enumerate(document.items()):
        current += f'{", " if number else ""}"{tag}": '
        if tag in INSTANCE_TAGS:
            fixed.append(current)
            tags.append(tag)
            current = ""
        else:
            current += json.dumps(element)
    fixed.append(current + "}")
    return fixed, tags


class Loader:
    """Builds the rows of the corpus study by study and inserts them in batches."""

    def __init__(self, engine: sa.Engine, store_pk: int, blob_prefix: str, seed: int) -> None:
        self.engine = engine
        self.store_pk = store_pk
        self.blob_prefix = blob_prefix
        self.rng = random.Random(seed)
        self.template = template()
        self.patients: dict[int, dict[str, Any]] = {}
        self.pks = {"studies": 0, "series": 0, "instances": 0}
        with engine.connect() as connection:
            for table in (studies, series, instances):
                top = connection.execute(sa.select(sa.func.max(table.c.pk))).scalar()
                self.pks[table.name] = int(top or 0)
        self.rows: dict[str, list[dict[str, Any]]] = {"studies": [], "series": [], "instances": []}
        self.counts = {"studies": 0, "series": 0, "instances": 0}

    def uid(self) -> str:
        return f"{ROOT}{self.rng.getrandbits(100)}"

    def _next_pk(self, table: str) -> int:
        self.pks[table] += 1
        return self.pks[table]

    def patient(self, number: int) -> dict[str, Any]:
        found = self.patients.get(number)
        if found is None:
            rng = self.rng
            name = f"{rng.choice(FAMILY_NAMES)}^{rng.choice(GIVEN_NAMES)}"
            if rng.random() < 0.3:
                name += f"^{rng.choice(GIVEN_NAMES)}"
            birth = FIRST_DAY - datetime.timedelta(days=rng.randrange(365 * 90))
            found = {
                "00100010": _element("PN", {"Alphabetic": name}),
                "00100020": _element("LO", f"PID{number:07d}"),
                "00100030": _element("DA", birth.strftime("%Y%m%d")),
                "00100040": _element("CS", rng.choice("MF")),
            }
            self.patients[number] = found
        return found

    def study(self, patient_count: int, wanted: int) -> int:
        """Add one study of a random patient, at most ``wanted`` instances; how many it has."""
        rng = self.rng
        modality = rng.choices(MODALITIES, [m.weight for m in MODALITIES])[0]
        study_uid, study_pk = self.uid(), self._next_pk("studies")
        self.counts["studies"] += 1
        day = FIRST_DAY + datetime.timedelta(days=rng.randrange(DAYS + 1))
        seconds = rng.randrange(7 * 3600, 20 * 3600)
        study_elements = {
            **self.patient(rng.randrange(patient_count)),
            "00080020": _element("DA", day.strftime("%Y%m%d")),
            "00080030": _element("TM", f"{seconds // 3600:02d}{seconds // 60 % 60:02d}"
                                       f"{seconds % 60:02d}"),
            "00080050": _element("SH", f"ACC{study_pk:09d}"),
            "00080090": _element("PN", {"Alphabetic": rng.choice(REFERRING)}),
            "00081030": _element("LO", rng.choice(modality.descriptions)),
            "0020000D": _element("UI", study_uid),
            "00200010": _element("SH", str(rng.randrange(1, 99999))),
        }  # fmt: skip
        totals = {"series_count": 0, "instance_count": 0, "blob_size_bytes": 0,
                  "structured_size_bytes": 0}  # fmt: skip
        study_row: dict[str, Any] | None = None
        plan = modality.series(rng)
        for number, (description, count) in enumerate(plan, start=1):
            count = min(count, wanted - totals["instance_count"])
            if count <= 0:
                break
            frames = rng.choice((1, 1, 40)) if modality.name == "US" else 1
            series_uid, series_pk = self.uid(), self._next_pk("series")
            base = {
                **self.template,
                **study_elements,
                "00080016": _element("UI", modality.sop_class_uid),
                "00080060": _element("CS", modality.name),
                "0008103E": _element("LO", description),
                "0020000E": _element("UI", series_uid),
                "00200011": _element("IS", number),
                "00280002": _element("US", modality.samples),
                "00280010": _element("US", modality.rows),
                "00280011": _element("US", modality.columns),
            }
            if frames > 1:
                base["00280008"] = _element("IS", frames)
            else:
                base.pop("00280008", None)
            frame_bytes = modality.rows * modality.columns * 2 * modality.samples
            blob_size = frame_bytes * frames + 2048
            # The metadata is written as ``json.dumps`` (what the JSON columns do) would write
            # it, but only the instance's own elements are encoded per instance (by hand: the
            # first instance of each series checks them against json.dumps).
            fixed, tags = _split(base)
            frame_ranges = json.dumps([[[2048 + n * frame_bytes, frame_bytes]]
                                       for n in range(frames)])  # fmt: skip
            bulk_data = json.dumps({"7FE00010": [2048, frame_bytes * frames, "OW", True, False]})
            first: dict[str, Any] | None = None
            structured = 0
            for slice_number in range(1, count + 1):
                sop_uid = self.uid()
                path = f"studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
                z = -2.5 * slice_number
                own = {
                    "00020003": f'{{"vr": "UI", "Value": ["{sop_uid}"]}}',
                    "00080018": f'{{"vr": "UI", "Value": ["{sop_uid}"]}}',
                    "00200013": f'{{"vr": "IS", "Value": [{slice_number}]}}',
                    "00200032": f'{{"vr": "DS", "Value": [-125.0, -125.0, {z!r}]}}',
                    "00201041": f'{{"vr": "DS", "Value": [{z!r}]}}',
                    "7FE00010": f'{{"vr": "OW", "BulkDataURI": "{path}/bulkdata/7FE00010"}}',
                }
                text = fixed[0] + "".join(
                    own[tag] + after for tag, after in zip(tags, fixed[1:], strict=True)
                )
                if first is None:
                    first = json.loads(text)
                    assert json.dumps(first) == text
                    structured = len(json.dumps(first, separators=(",", ":")))
                sha = hashlib.sha256(sop_uid.encode()).hexdigest()
                self.rows["instances"].append({
                    "pk": self._next_pk("instances"),
                    "dicom_store_pk": self.store_pk,
                    "series_pk": series_pk,
                    "sop_instance_uid": sop_uid,
                    "sop_class_uid": modality.sop_class_uid,
                    "instance_number": slice_number,
                    "transfer_syntax_uid": EXPLICIT_LITTLE,
                    "number_of_frames": frames if frames > 1 else None,
                    "blob_key": f"{self.blob_prefix}/{sha[:2]}/{sha}-{sop_uid[-12:]}",
                    "blob_size_bytes": blob_size,
                    "sha256": sha,
                    "storage_class": "STANDARD",
                    "storage_class_update_time": NOW,
                    "metadata": text,
                    "structured_size_bytes": structured,
                    "frame_ranges": frame_ranges,
                    "bulk_data": bulk_data,
                    "create_time": NOW,
                })  # fmt: skip
            assert first is not None
            if study_row is None:  # the study row is written with its first instance's values
                study_row = {
                    "pk": study_pk,
                    "dicom_store_pk": self.store_pk,
                    "study_instance_uid": study_uid,
                    "attributes": study_attributes(first),
                    "create_time": NOW,
                    "update_time": NOW,
                    **study_columns(first),
                }
            self.rows["series"].append({
                "pk": series_pk,
                "dicom_store_pk": self.store_pk,
                "study_pk": study_pk,
                "series_instance_uid": series_uid,
                "attributes": series_attributes(first),
                "instance_count": count,
                "blob_size_bytes": blob_size * count,
                "structured_size_bytes": structured * count,
                "create_time": NOW,
                "update_time": NOW,
                **series_columns(first),
            })  # fmt: skip
            self.counts["series"] += 1
            totals["series_count"] += 1
            totals["instance_count"] += count
            totals["blob_size_bytes"] += blob_size * count
            totals["structured_size_bytes"] += structured * count
        assert study_row is not None
        self.rows["studies"].append({**study_row, **totals})
        self.counts["instances"] += totals["instance_count"]
        return totals["instance_count"]

    def flush(self) -> None:
        """Insert the rows built so far in one transaction; instance rows carry their JSON
        columns as text already (COPY on PostgreSQL, which parses it into JSONB)."""
        with self.engine.begin() as tx:
            if tx.dialect.name == "postgresql":
                tx.exec_driver_sql("SET LOCAL synchronous_commit = off")
            for table in (studies, series):
                if self.rows[table.name]:
                    tx.execute(table.insert(), self.rows[table.name])
            rows = self.rows["instances"]
            if rows and tx.dialect.name == "postgresql":
                names = list(rows[0])
                with (
                    tx.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
                    cursor.copy(f"COPY instances ({', '.join(names)}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row([row[name] for name in names])
            elif rows:
                text = {name: sa.bindparam(name, type_=sa.Text()) for name in JSON_COLUMNS}
                tx.execute(instances.insert().values(text), rows)
        self.rows = {"studies": [], "series": [], "instances": []}

    def load(self, total: int, progress: Callable[[int], None]) -> None:
        patient_count = max(1, total // INSTANCES_PER_PATIENT)
        loaded = 0
        while loaded < total:
            loaded += self.study(patient_count, total - loaded)
            if len(self.rows["instances"]) >= BATCH:
                self.flush()
                progress(loaded)
        self.flush()
        progress(loaded)
        if self.engine.dialect.name == "postgresql":  # the pks were given: move the sequences on
            with self.engine.begin() as tx:
                for table in (studies, series, instances):
                    tx.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'pk'), "
                        f"(SELECT max(pk) FROM {table.name}))"
                    )


# --- the queries ------------------------------------------------------------------------------


@dataclass
class Pools:
    """What the queries pick from, read back from the index in primary-key order."""

    studies: Sequence[Any]  # rows: study_instance_uid, patient_id, patient_name, …
    series: Sequence[Any]  # rows: study_instance_uid, series_instance_uid, instance_count, …
    sop_uids: list[str]
    first_date: datetime.date
    last_date: datetime.date

    @classmethod
    def read(cls, tx: sa.Connection, store_pk: int) -> Pools:
        study_rows = tx.execute(
            sa.select(studies.c.study_instance_uid, studies.c.patient_id,
                      studies.c.patient_name, studies.c.accession_number, studies.c.study_date)
            .where(studies.c.dicom_store_pk == store_pk)
            .order_by(studies.c.pk)
        ).all()  # fmt: skip
        series_rows = tx.execute(
            sa.select(studies.c.study_instance_uid, series.c.series_instance_uid,
                      series.c.instance_count, series.c.modality)
            .select_from(series.join(studies))
            .where(studies.c.dicom_store_pk == store_pk)
            .order_by(series.c.pk)
        ).all()  # fmt: skip
        sop_uids = tx.execute(  # one instance in 100
            sa.select(instances.c.sop_instance_uid)
            .where(instances.c.dicom_store_pk == store_pk, instances.c.pk % 100 == 0)
            .order_by(instances.c.pk)
        ).scalars().all()  # fmt: skip
        dates = sorted(row.study_date for row in study_rows if row.study_date)
        return cls(study_rows, series_rows, list(sop_uids), _day(dates[0]), _day(dates[-1]))


def _day(text: str) -> datetime.date:
    return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))


@dataclass(frozen=True)
class Call:
    """One query: QIDO (level, params, path UIDs) or WADO metadata (study, series)."""

    level: Level | None
    params: tuple[tuple[str, str], ...] = ()
    study: str | None = None
    series: str | None = None
    mode: QidoMode = QidoMode.GOOGLE

    def run(self, index: Index, store_pk: int) -> int:
        """Run it as the services do (parse, one transaction); the number of answers."""
        if self.level is None:
            assert self.study is not None
            with index.transaction() as tx:
                return len(metadata_of(tx, store_pk, self.study, self.series))
        query = parse_query(self.level, self.params, study_uid=self.study,
                            series_uid=self.series, mode=self.mode)  # fmt: skip
        with index.transaction() as tx:
            return len(search(tx, store_pk, query))


def calls(pools: Pools, count: int, seed: int) -> list[tuple[str, list[Call]]]:
    """Each kind of query with ``count`` random parameter sets (the same for any engine)."""
    rng = random.Random(seed)
    large = [row for row in pools.series if row.instance_count >= LARGE_SERIES]
    span = (pools.last_date - pools.first_date).days

    def study() -> Any:
        return pools.studies[rng.randrange(len(pools.studies))]

    def a_series(rows: Sequence[Any]) -> Any:
        return rows[rng.randrange(len(rows))]

    def month() -> str:
        start = pools.first_date + datetime.timedelta(days=rng.randrange(max(1, span - 30)))
        end = start + datetime.timedelta(days=30)
        return f"{start:%Y%m%d}-{end:%Y%m%d}"

    modalities = sorted({row.modality for row in pools.series if row.modality})
    study_pages = max(1, len(pools.studies) - 100)
    kinds: list[tuple[str, Callable[[], Call]]] = [
        ("studies?PatientID", lambda: Call(Level.STUDY, (("PatientID", study().patient_id),))),
        ("studies?StudyDate=<1 month>", lambda: Call(Level.STUDY, (("StudyDate", month()),))),
        ("studies?AccessionNumber",
         lambda: Call(Level.STUDY, (("AccessionNumber", study().accession_number),))),
        ("studies/{s}/series", lambda: Call(Level.SERIES, study=study().study_instance_uid)),
        ("studies/{s}/series/{s}/instances", lambda: _instances(a_series(pools.series))),
        ("series metadata (WADO)", lambda: _metadata(a_series(pools.series))),
        # more shapes: a person name, a store-wide series search, deep paging, a whole study
        ("studies?PatientName",
         lambda: Call(Level.STUDY, (("PatientName", study().patient_name),))),
        ("series?Modality", lambda: Call(Level.SERIES, (("Modality", rng.choice(modalities)),))),
        ("studies?offset=<0..all>",
         lambda: Call(Level.STUDY, (("offset", str(rng.randrange(study_pages))),))),
        ("studies/{s}/instances", lambda: Call(Level.INSTANCE, study=study().study_instance_uid)),
        ("series?SeriesInstanceUID",
         lambda: Call(Level.SERIES,
                      (("SeriesInstanceUID", a_series(pools.series).series_instance_uid),))),
        ("instances?SOPInstanceUID",
         lambda: Call(Level.INSTANCE, (("SOPInstanceUID", rng.choice(pools.sop_uids)),))),
        ("studies?ModalitiesInStudy&StudyDate (std)",
         lambda: Call(Level.STUDY, (("ModalitiesInStudy", rng.choice(modalities)),
                                    ("StudyDate", month())), mode=QidoMode.STANDARD)),
    ]  # fmt: skip
    if large:  # the worst case of the two before: the 300-slice CT series
        kinds[6:6] = [
            (f"…/instances, series ≥ {LARGE_SERIES}", lambda: _instances(a_series(large))),
            (f"series metadata, ≥ {LARGE_SERIES}", lambda: _metadata(a_series(large))),
        ]
    return [(name, [make() for _ in range(count)]) for name, make in kinds]


def _instances(row: Any) -> Call:
    return Call(Level.INSTANCE, study=row.study_instance_uid, series=row.series_instance_uid)


def _metadata(row: Any) -> Call:
    return Call(None, study=row.study_instance_uid, series=row.series_instance_uid)


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)
    answers: int = 0


def time_calls(index: Index, store_pk: int, kinds: list[tuple[str, list[Call]]]) -> list[Timing]:
    for _name, each in kinds:  # warm-up, untimed
        for call in each[:5]:
            call.run(index, store_pk)
    timings = []
    for name, each in kinds:
        timing = Timing(name)
        for call in each:
            started = time.perf_counter()
            timing.answers += call.run(index, store_pk)
            timing.seconds.append(time.perf_counter() - started)
        timings.append(timing)
    return timings


def print_timings(timings: list[Timing]) -> None:
    print(f"  {'query':42} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'max ms':>8} "
          f"{'answers':>8}")  # fmt: skip
    for timing in timings:
        seconds = timing.seconds
        print(
            f"  {timing.name:42} {percentile(seconds, 0.5) * 1e3:>8.2f} "
            f"{percentile(seconds, 0.95) * 1e3:>8.2f} {sum(seconds) / len(seconds) * 1e3:>8.2f} "
            f"{max(seconds) * 1e3:>8.2f} {timing.answers / len(seconds):>8.1f}"
        )


# --- plans ------------------------------------------------------------------------------------


@contextlib.contextmanager
def captured(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their DB-API parameters) the engine sends meanwhile."""
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def plan(index: Index, store_pk: int, call: Call) -> str:
    """The plan of the statement ``call`` sends, with the parameters it sends."""
    with captured(index.engine) as statements:
        call.run(index, store_pk)
    statement, parameters = statements[-1]
    with index.transaction() as tx:
        if tx.dialect.name == "postgresql":
            analysed = tx.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
            return "\n".join(f"    {line}" for (line,) in analysed)
        rows = tx.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    depth: dict[int, int] = {0: 0}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, 0) + 1
        lines.append(f"    {'  ' * depth[node]}{detail}")
    return "\n".join(lines)


def print_plans(index: Index, store_pk: int, kinds: list[tuple[str, list[Call]]]) -> None:
    for name, each in kinds:
        call = each[0]
        what = "metadata_of" if call.level is None else f"{call.level} {dict(call.params)}"
        print(f"  -- {name}: {what}")
        print(plan(index, store_pk, call))


# --- the run ----------------------------------------------------------------------------------


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return heads[0] if heads else None


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _vacuum(engine: sa.Engine) -> float:
    """VACUUM (ANALYZE) on PostgreSQL (what autovacuum does after a bulk load); seconds."""
    if engine.dialect.name != "postgresql":
        return 0.0
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")
    return time.perf_counter() - started


def _size(engine: sa.Engine, sqlite_path: Path | None) -> str:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            size = connection.exec_driver_sql("SELECT pg_database_size(current_database())")
            return f"{size.scalar_one() / 1e9:.2f} GB"
    assert sqlite_path is not None
    return f"{sqlite_path.stat().st_size / 1e9:.2f} GB"


def _store(index: Index) -> tuple[int, bool]:
    """The benchmark store's pk, created if missing; whether it already existed."""
    with index.transaction() as tx:
        try:
            return store_rows.get_by_name(tx, STORE).pk, True
        except NotFound:
            pass
        try:
            dataset = dataset_rows.get(tx, STORE.parent)
        except NotFound:
            dataset = dataset_rows.insert(
                tx, STORE.parent, time_zone="", encryption_spec=None, now=NOW
            )
        config = DicomStoreConfig(
            labels={}, notification_config=None, notification_configs=[], stream_configs=[]
        )
        return store_rows.insert(tx, dataset, STORE.store_id, config, NOW).pk, False


def measure(
    label: str,
    index: Index,
    store_pk: int,
    arguments: argparse.Namespace,
    results: dict[str, list[Timing]],
) -> None:
    with index.transaction() as tx:
        pools = Pools.read(tx, store_pk)
    kinds = calls(pools, arguments.queries, arguments.seed)
    if arguments.plans:
        print(f"\nplans, {label}:")
        print_plans(index, store_pk, kinds)
    if arguments.gc_freeze:
        # Out of the cyclic collector's way: what exists now (modules, the pools above). Its
        # full collections, which walk every tracked object, come every few searches of a
        # few hundred answers and would otherwise set the p95 of the process, not the query.
        gc.collect()
        gc.freeze()
    try:
        timings = time_calls(index, store_pk, kinds)
    finally:
        gc.unfreeze()
    frozen = ", heap frozen (gc.freeze)" if arguments.gc_freeze else ""
    print(f"\n{label}: {arguments.queries} queries of each kind, one after another{frozen}")
    print_timings(timings)
    results[label] = timings


def run_engine(
    engine_name: str, url: str, sqlite_path: Path | None, arguments: argparse.Namespace
) -> dict[str, list[Timing]]:
    print(f"\n=== {engine_name} ({url}) ===")
    engine = create_index_engine(url)
    index = Index(engine)
    head = _head()
    results: dict[str, list[Timing]] = {}
    try:
        if _revision(engine) is None:
            upgrade(engine, arguments.from_revision or head)
        store_pk, existed = _store(index)
        if existed:
            with index.transaction() as tx:
                total = tx.execute(
                    sa.select(sa.func.count()).where(instances.c.dicom_store_pk == store_pk)
                ).scalar_one()
            print(f"reusing the loaded store: {total} instances")
        else:
            with index.transaction() as tx:
                blob_prefix = store_rows.get_by_name(tx, STORE).blob_prefix
            loader = Loader(engine, store_pk, blob_prefix, arguments.seed)
            started = time.perf_counter()
            last = [started]

            def progress(done: int) -> None:
                now = time.perf_counter()
                if now - last[0] > 30 or done >= arguments.instances:
                    last[0] = now
                    print(f"  {done} instances, {now - started:.0f} s", flush=True)

            loader.load(arguments.instances, progress)
            seconds = time.perf_counter() - started
            counts = loader.counts
            print(f"loaded {counts['instances']} instances, {counts['series']} series, "
                  f"{counts['studies']} studies ({len(loader.patients)} patients) in "
                  f"{seconds:.0f} s ({counts['instances'] / seconds:.0f} instances/s)")  # fmt: skip
            vacuum = _vacuum(engine)
            if vacuum:
                print(f"VACUUM (ANALYZE): {vacuum:.0f} s")
        print(f"database size: {_size(engine, sqlite_path)}")
        revision = _revision(engine)
        measure(f"{engine_name} at {revision}", index, store_pk, arguments, results)
        if revision != head:
            started = time.perf_counter()
            upgrade(engine)
            print(f"\nupgrade {revision} → {head}: {time.perf_counter() - started:.1f} s")
            vacuum = _vacuum(engine)
            if vacuum:
                print(f"VACUUM (ANALYZE): {vacuum:.0f} s")
            measure(f"{engine_name} at {head}", index, store_pk, arguments, results)
    finally:
        engine.dispose()
    return results


def print_summary(results: dict[str, list[Timing]]) -> None:
    labels = list(results)
    names = [timing.name for timing in results[labels[0]]]
    print("\nsummary, p50 / p95 ms:")
    print(f"  {'query':42} " + " ".join(f"{label:>24}" for label in labels))
    for name in names:
        cells = []
        for label in labels:
            found = [t for t in results[label] if t.name == name]
            cells.append(
                f"{percentile(found[0].seconds, 0.5) * 1e3:.1f} / "
                f"{percentile(found[0].seconds, 0.95) * 1e3:.1f}"
                if found
                else "-"
            )
        print(f"  {name:42} " + " ".join(f"{cell:>24}" for cell in cells))


def run(arguments: argparse.Namespace) -> None:
    warnings.simplefilter("ignore")
    print(f"machine: {machine()}")
    started = time.perf_counter()
    results: dict[str, list[Timing]] = {}
    for engine_name in arguments.engine or ["sqlite", "postgresql"]:
        if engine_name == "sqlite":
            with contextlib.ExitStack() as stack:
                if arguments.sqlite_path:
                    path = Path(arguments.sqlite_path)
                else:
                    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-"))
                    path = Path(folder) / "index.sqlite3"
                results.update(run_engine("sqlite", f"sqlite:///{path}", path, arguments))
        elif arguments.postgres_url:
            results.update(run_engine("postgresql", arguments.postgres_url, None, arguments))
        else:
            with throwaway_postgres(arguments.postgres_server) as url:
                results.update(run_engine("postgresql", url, None, arguments))
    print_summary(results)
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s; machine at the end: "
          f"{machine()}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1_000_000,
                        help="instances in the store (1000000)")  # fmt: skip
    parser.add_argument("--queries", type=int, default=200, help="timed queries per kind (200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpus and queries (1)")
    parser.add_argument("--engine", action="append", choices=("sqlite", "postgresql"),
                        help="engine to run on, repeatable (both)")  # fmt: skip
    parser.add_argument("--from-revision", metavar="REVISION",
                        help="load at this schema revision, time, upgrade to head, time "
                             "again")  # fmt: skip
    parser.add_argument("--plans", action="store_true", help="print each query's plan")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="leave the heap to the garbage collector while timing")  # fmt: skip
    parser.add_argument("--sqlite-path", help="SQLite file to use and keep (reused if loaded)")
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--postgres-url", help="PostgreSQL database to use and keep (reused "
                                                 "if loaded)")  # fmt: skip
    database.add_argument("--postgres-server", default="postgresql://postgres@127.0.0.1:5432",
                          help="server of the throw-away database "
                               "(postgresql://postgres@127.0.0.1:5432)")  # fmt: skip
    run(parser.parse_args())


if __name__ == "__main__":
    main()
