"""dicomstore against Orthanc, side by side: STOW-RS, QIDO-RS and WADO-RS on the same corpus.

    python benchmarks/vs_orthanc.py [--rounds 3] [--quick] [--json PATH] [--markdown PATH]
                                    [--postgres postgresql://postgres@127.0.0.1:5432]

Starts ``dicomstore serve --qido-mode standard`` (harness: free loopback port, temporary folder,
SQLite, or a throw-away PostgreSQL database with ``--postgres``) and Orthanc with its DICOMweb
plugin (``scripts/install-orthanc``; a temporary folder, its own network namespace holding only
``lo``, see ``_orthanc.py``), checks that both listen on loopback only, then runs the same
requests against both, the servers taking turns, ``--rounds`` times; medians of the rounds are
reported. Every answer is checked; failures are counted per figure and printed. Raw samples go
to ``--json`` (default /tmp/dicomstore-bench/vs_orthanc-<date>.json). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _harness import (
    MIB,
    create_store,
    free_port,
    fresh_page_microseconds,
    listening_sockets,
    percentile,
    running_server,
    throwaway_postgres,
    tree_memory,
    wait_until_quiet,
)
from _orthanc import HTTP_PORT, NotConfined, Orthanc, check_confined, running_orthanc
from _workload import (
    Corpus,
    Instance,
    Layout,
    Request,
    Response,
    Run,
    Series,
    Study,
    Target,
    call,
    client_ceiling,
    corpus,
    multipart_parts,
    reuse_client_memory,
    run_requests,
    stow_body,
)
from PIL import Image

JSON = "application/dicom+json"
DICOM_MULTIPART = 'multipart/related; type="application/dicom"'
FRAME_MULTIPART = 'multipart/related; type="application/octet-stream"'
STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"
STOW_CONFIGS = ((1, 1), (8, 1), (1, 10), (8, 10))  # (concurrency, instances per request)
DICOMSTORE, ORTHANC = "dicomstore", "Orthanc"


@dataclass(frozen=True)
class Counts:
    """Timed requests per figure and round."""

    qido_c1: int = 60
    qido_c8: int = 96
    instance: int = 100
    series: int = 20
    metadata: int = 20
    frame: int = 100
    multiframe: int = 50
    rendered: int = 60
    warmup: int = 3


FULL = (Layout(), Counts())
QUICK = (
    Layout(
        studies=4,
        series_per_study=4,
        instances_per_series=10,
        multiframe_instances=2,
        frames_per_multiframe=10,
    ),
    Counts(
        qido_c1=10,
        qido_c8=24,
        instance=10,
        series=4,
        metadata=4,
        frame=10,
        multiframe=6,
        rendered=6,
        warmup=2,
    ),
)


# --- checks -----------------------------------------------------------------------------------


class _Wrong(Exception):
    """An answer that is not the one expected (its message says how)."""


def _json_list(response: Response, status: int = 200) -> list[dict[str, Any]]:
    if response.status != status:
        raise _Wrong(f"status {response.status}: {response.body[:200]!r}")
    document = json.loads(response.body)
    if not isinstance(document, list):
        raise _Wrong("not a JSON array")
    return document


def _first(item: dict[str, Any], tag: str) -> str | None:
    values = item.get(tag, {}).get("Value") or [None]
    return values[0]  # type: ignore[no-any-return]


def _checker(function: Callable[[Response], None]) -> Callable[[Response], str | None]:
    def check(response: Response) -> str | None:
        try:
            function(response)
        except _Wrong as wrong:
            return str(wrong)
        return None

    return check


def expect_uids(tag: str, expected: set[str]) -> Callable[[Response], str | None]:
    """A QIDO or metadata answer: exactly the objects with these UIDs."""

    def check(response: Response) -> None:
        found = [_first(item, tag) for item in _json_list(response)]
        if len(found) != len(expected) or set(found) != expected:
            raise _Wrong(
                f"{len(found)} answers, expected {len(expected)} "
                f"({len(set(found) - expected)} unexpected)"
            )

    return _checker(check)


def expect_parts(datas: Sequence[bytes]) -> Callable[[Response], str | None]:
    """A multipart answer whose parts are exactly these bytes, in any order."""

    def check(response: Response) -> None:
        if response.status != 200:
            raise _Wrong(f"status {response.status}: {response.body[:200]!r}")
        parts = multipart_parts(response)
        if len(parts) != len(datas):
            raise _Wrong(f"{len(parts)} parts, expected {len(datas)}")
        if sorted(map(len, parts)) != sorted(map(len, datas)):
            raise _Wrong(
                f"part sizes {sorted(map(len, parts))[:3]}…, expected "
                f"{sorted(map(len, datas))[:3]}…"
            )
        if set(parts) != set(datas):
            raise _Wrong("part bytes differ from the stored instance or frame")

    return _checker(check)


def expect_stored(count: int) -> Callable[[Response], str | None]:
    def check(response: Response) -> None:
        if response.status != 200:
            raise _Wrong(f"status {response.status}: {response.body[:300]!r}")
        document = json.loads(response.body)
        stored = document.get("00081199", {}).get("Value") or []
        failed = document.get("00081198", {}).get("Value") or []
        if len(stored) != count or failed:
            raise _Wrong(f"{len(stored)} stored, {len(failed)} failed, expected {count} stored")

    return _checker(check)


def expect_jpeg(response: Response) -> str | None:
    if response.status != 200:
        return f"status {response.status}: {response.body[:200]!r}"
    if not response.content_type.startswith("image/jpeg") or response.body[:2] != b"\xff\xd8":
        return f"not a JPEG: {response.content_type!r} {response.body[:8]!r}"
    with Image.open(io.BytesIO(response.body)) as image:
        if image.size != (512, 512):
            return f"rendered {image.size}, expected (512, 512)"
    return None


def anything(response: Response) -> str | None:
    return None


# --- the workloads ----------------------------------------------------------------------------


def stow_requests(corpus: Corpus, studies: Sequence[Study], per_request: int) -> list[Request]:
    instances = [instance for study in studies for instance in study.instances()]
    requests = []
    for start in range(0, len(instances), per_request):
        chunk = instances[start : start + per_request]
        boundary = secrets.token_hex(16)
        headers = {"Content-Type": f"{DICOM_MULTIPART}; boundary={boundary}", "Accept": JSON}
        body = stow_body([corpus.data(instance) for instance in chunk], boundary)
        requests.append(
            Request("POST", "/studies", headers, expect_stored(len(chunk)), body, len(chunk))
        )
    return requests


def ping(count: int) -> list[Request]:
    """Requests that only open the connections (their answers are not looked at)."""
    return [Request("GET", "/studies?PatientID=NOBODY", {"Accept": JSON}, anything)] * count


@dataclass
class Kind:
    """One kind of read request: its figure names and how to make n of them."""

    name: str
    group: str  # "QIDO" or "WADO"
    make: Callable[[random.Random], Request]
    count: int
    concurrent: int = 0  # requests at concurrency 8 (QIDO)
    mb_per_s: bool = False


def read_kinds(corpus: Corpus, counts: Counts) -> list[Kind]:
    ct = corpus.ct_studies()
    every = corpus.studies
    dates = sorted({study.date for study in every})
    patients = sorted({study.patient_id for study in ct})
    modalities = [m for m in ("PT", "MR", "CT") if any(m in s.modalities for s in every)]
    multiframe = corpus.multiframe_study().instances()

    def qido(path: str, tag: str, expected: set[str], include: bool) -> Request:
        if include:
            path += ("&" if "?" in path else "?") + "includefield=all"
        return Request("GET", path, {"Accept": JSON}, expect_uids(tag, expected))

    def by_patient(include: bool) -> Callable[[random.Random], Request]:
        def make(rng: random.Random) -> Request:
            patient = rng.choice(patients)
            uids = {s.uid for s in every if s.patient_id == patient}
            return qido(f"/studies?PatientID={patient}", STUDY_UID, uids, include)

        return make

    def by_date(include: bool) -> Callable[[random.Random], Request]:
        def make(rng: random.Random) -> Request:
            start = rng.randrange(len(dates))
            end = min(len(dates) - 1, start + rng.randrange(1, 4))
            uids = {s.uid for s in every if dates[start] <= s.date <= dates[end]}
            return qido(f"/studies?StudyDate={dates[start]}-{dates[end]}", STUDY_UID, uids, include)

        return make

    def by_modality(include: bool) -> Callable[[random.Random], Request]:
        def make(rng: random.Random) -> Request:
            modality = rng.choice(modalities)
            uids = {s.uid for s in every if modality in s.modalities}
            return qido(f"/studies?ModalitiesInStudy={modality}", STUDY_UID, uids, include)

        return make

    def series_of_study(include: bool) -> Callable[[random.Random], Request]:
        def make(rng: random.Random) -> Request:
            study = rng.choice(ct)
            uids = {series.uid for series in study.series}
            return qido(f"/studies/{study.uid}/series", SERIES_UID, uids, include)

        return make

    def instances_of_series(include: bool) -> Callable[[random.Random], Request]:
        def make(rng: random.Random) -> Request:
            study = rng.choice(ct)
            series = rng.choice(study.series)
            uids = {instance.uid for instance in series.instances}
            path = f"/studies/{study.uid}/series/{series.uid}/instances"
            return qido(path, SOP_UID, uids, include)

        return make

    def random_slice(rng: random.Random) -> tuple[str, Instance]:
        study = rng.choice(ct)
        series = rng.choice(study.series)
        instance = rng.choice(series.instances)
        path = f"/studies/{study.uid}/series/{series.uid}/instances/{instance.uid}"
        return path, instance

    def instance(rng: random.Random) -> Request:
        path, item = random_slice(rng)
        check = expect_parts([corpus.data(item)])
        return Request("GET", path, {"Accept": DICOM_MULTIPART}, check)

    def series(rng: random.Random) -> Request:
        study = rng.choice(ct)
        chosen = rng.choice(study.series)
        check = expect_parts([corpus.data(item) for item in chosen.instances])
        path = f"/studies/{study.uid}/series/{chosen.uid}"
        return Request("GET", path, {"Accept": DICOM_MULTIPART}, check)

    def metadata(rng: random.Random) -> Request:
        study = rng.choice(ct)
        uids = {item.uid for item in study.instances()}
        return Request(
            "GET", f"/studies/{study.uid}/metadata", {"Accept": JSON}, expect_uids(SOP_UID, uids)
        )

    def frame(rng: random.Random) -> Request:
        path, item = random_slice(rng)
        return Request(
            "GET",
            f"{path}/frames/1",
            {"Accept": FRAME_MULTIPART},
            expect_parts([corpus.frame(item, 1)]),
        )

    def multiframe_frame(rng: random.Random) -> Request:
        study = corpus.multiframe_study()
        item = rng.choice(multiframe)
        number = item.frames // 2
        path = (
            f"/studies/{study.uid}/series/{study.series[0].uid}/instances/{item.uid}"
            f"/frames/{number}"
        )
        return Request(
            "GET", path, {"Accept": FRAME_MULTIPART}, expect_parts([corpus.frame(item, number)])
        )

    def rendered(rng: random.Random) -> Request:
        path, _ = random_slice(rng)
        return Request("GET", f"{path}/frames/1/rendered", {"Accept": "image/jpeg"}, expect_jpeg)

    kinds = []
    for name, make in (
        ("studies?PatientID", by_patient),
        ("studies?StudyDate=range", by_date),
        ("studies?ModalitiesInStudy", by_modality),
        ("studies/{s}/series", series_of_study),
        ("series/{s}/instances", instances_of_series),
    ):
        for include in (False, True):
            label = f"QIDO {name}" + (" +includefield=all" if include else "")
            kinds.append(Kind(label, "QIDO", make(include), counts.qido_c1, counts.qido_c8))
    mf = corpus.layout.frames_per_multiframe
    kinds += [
        Kind("WADO instance", "WADO", instance, counts.instance),
        Kind("WADO series", "WADO", series, counts.series, mb_per_s=True),
        Kind("WADO study metadata", "WADO", metadata, counts.metadata),
        Kind("WADO frame 1 of a CT slice", "WADO", frame, counts.frame),
        Kind(
            f"WADO frame {mf // 2} of {mf} (Enhanced CT)",
            "WADO",
            multiframe_frame,
            counts.multiframe,
        ),
        Kind("WADO rendered frame (JPEG)", "WADO", rendered, counts.rendered),
    ]
    return kinds


# --- figures ----------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    unit: str
    higher_is_better: bool
    target: float | None  # of dicomstore / Orthanc
    values: dict[str, list[float]] = field(default_factory=dict)  # server -> one per round
    failures: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, server: str, value: float, run: Run) -> None:
        self.values.setdefault(server, []).append(value)
        self.failures[server] = self.failures.get(server, 0) + run.failures
        self.errors.setdefault(server, []).extend(run.errors()[:5])

    def median(self, server: str) -> float | None:
        values = self.values.get(server)
        return statistics.median(values) if values else None

    def ratio(self) -> float | None:
        ours, theirs = self.median(DICOMSTORE), self.median(ORTHANC)
        if ours is None or not theirs:
            return None
        return ours / theirs

    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:g}×"

    def verdict(self) -> str:
        ratio = self.ratio()
        if self.target is None or ratio is None:
            return ""
        met = ratio >= self.target if self.higher_is_better else ratio <= self.target
        return "pass" if met else "FAIL"


class Figures:
    def __init__(self) -> None:
        self.by_name: dict[str, Figure] = {}

    def get(self, name: str, unit: str, higher: bool, target: float | None = None) -> Figure:
        if name not in self.by_name:
            self.by_name[name] = Figure(name, unit, higher, target)
        return self.by_name[name]


def _targets(kind: Kind) -> dict[str, float | None]:
    """Issue #8's targets, as dicomstore / Orthanc: p50, rate at concurrency 8, MB/s."""
    if kind.group == "QIDO":
        return {"p50": 0.2, "rate": 5.0}
    name = kind.name
    if "metadata" in name:
        return {"p50": 0.05}
    if "Enhanced" in name:
        return {"p50": 0.25}
    if "rendered" in name:
        return {"p50": 0.6}
    if "series" in name:
        return {"MB/s": 2.0}
    return {"p50": 0.5}  # instance, frame


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Server:
    target: Target
    prepare: Callable[[], None]  # an empty store before each STOW round
    quiet: Callable[[], float]  # waits until neither server is busy; the seconds waited


def record(samples: list[dict[str, Any]], server: str, round_: int, what: str, run: Run) -> None:
    for index, sample in enumerate(run.samples):
        samples.append(
            {"server": server, "round": round_, "workload": what, "index": index, **asdict(sample)}
        )
    samples.append(
        {
            "server": server,
            "round": round_,
            "workload": what,
            "wall": run.wall,
            "sent": run.sent,
            "items": run.items,
        }
    )


def stow_rounds(
    servers: list[Server], corpus: Corpus, rounds: int, figures: Figures, samples: list[Any]
) -> None:
    ct = corpus.ct_studies()
    groups = len(STOW_CONFIGS)
    partitions = [ct[len(ct) * i // groups : len(ct) * (i + 1) // groups] for i in range(groups)]
    for round_ in range(rounds):
        order = servers if round_ % 2 == 0 else servers[::-1]
        for server in order:
            server.prepare()
            for (concurrency, per_request), studies in zip(STOW_CONFIGS, partitions, strict=True):
                requests = stow_requests(corpus, studies, per_request)
                server.quiet()
                run = run_requests(server.target, requests, concurrency, ping(concurrency))
                name = f"STOW c{concurrency}, {per_request} per request"
                what = f"{name} ({run.items} instances)"
                target = 1.5 if per_request == 1 else 2.0
                figures.get(f"{name}: instances/s", "inst/s", True, target).add(
                    server.target.name, run.items / run.wall, run
                )
                figures.get(f"{name}: MB/s", "MB/s", True).add(
                    server.target.name, run.sent / 1e6 / run.wall, run
                )
                record(samples, server.target.name, round_, what, run)
                print(
                    f"  round {round_ + 1} {server.target.name:10} {what}: "
                    f"{run.items / run.wall:7.1f} inst/s {run.sent / 1e6 / run.wall:7.1f} MB/s"
                    f"{f'  FAILURES {run.failures}' if run.failures else ''}",
                    flush=True,
                )


def read_rounds(
    servers: list[Server],
    corpus: Corpus,
    counts: Counts,
    rounds: int,
    seed: int,
    figures: Figures,
    samples: list[Any],
) -> None:
    kinds = read_kinds(corpus, counts)
    for round_ in range(rounds):
        order = servers if round_ % 2 == 0 else servers[::-1]
        started = time.perf_counter()
        for kind_index, kind in enumerate(kinds):
            rng = random.Random(seed * 1_000_003 + round_ * 1009 + kind_index)
            warmup = [kind.make(rng) for _ in range(counts.warmup)]
            sequential = [kind.make(rng) for _ in range(kind.count)]
            concurrent = [kind.make(rng) for _ in range(kind.concurrent)]
            targets = _targets(kind)
            for server in order:
                name = server.target.name
                server.quiet()
                run = run_requests(server.target, sequential, 1, warmup)
                seconds = [sample.seconds for sample in run.samples]
                figures.get(f"{kind.name}: p50", "ms", False, targets.get("p50")).add(
                    name, percentile(seconds, 0.5) * 1e3, run
                )
                figures.get(f"{kind.name}: p95", "ms", False).add(
                    name, percentile(seconds, 0.95) * 1e3, run
                )
                if kind.mb_per_s:
                    size = sum(sample.size for sample in run.samples)
                    figures.get(f"{kind.name}: MB/s", "MB/s", True, targets.get("MB/s")).add(
                        name, size / 1e6 / sum(seconds), run
                    )
                record(samples, name, round_, f"{kind.name} c1", run)
                if concurrent:
                    server.quiet()
                    run = run_requests(server.target, concurrent, 8, warmup * 3)
                    figures.get(f"{kind.name}: req/s c8", "req/s", True, targets.get("rate")).add(
                        name, len(run.samples) / run.wall, run
                    )
                    record(samples, name, round_, f"{kind.name} c8", run)
        print(f"  round {round_ + 1} of reads: {time.perf_counter() - started:.0f} s", flush=True)


class FreshOrthancs:
    """One Orthanc at a time, a fresh one (empty index and storage, in a folder of its own) for
    each STOW round, rather than one emptied between rounds: emptying it deletes 2,000 files
    during the run, and ext4 without a journal (this machine's root filesystem) then skips, when
    it allocates an inode, every free inode of the group freed within the last 60 s (360 s once
    new files dirty its inode table block), one lookup each. Creating a file took 0.4-1.3 ms
    after such deletions, for whichever server wrote next. The old folders go at the end."""

    def __init__(
        self, stack: contextlib.ExitStack, folder: Path, target: Target, access_on_find: str
    ) -> None:
        self._stack = stack
        self._folder = folder
        self._target = target
        self._access_on_find = access_on_find
        self._started = 0
        self.current: Orthanc | None = None
        self.confined = ""  # check_confined's line for the current one

    @property
    def pid(self) -> int:
        assert self.current is not None
        return self.current.pid

    def start(self) -> Orthanc:
        """Stop the running Orthanc, if any, and start a new one, confined to loopback."""
        if self.current is not None:
            self.current.stop()
        self._started += 1
        self.current = self._stack.enter_context(
            running_orthanc(
                self._folder / f"orthanc-{self._started}",
                storage_access_on_find=self._access_on_find,
            )
        )
        self._target.netns = self.current.netns
        self.confined = check_confined(self.current.pid, "Orthanc")
        return self.current

    def start_warm(self, corpus: Corpus, warm_up: Study) -> None:
        """`start`, then store ``warm_up`` and delete it again (two files), so that the first
        timed request finds Orthanc past its first STOW, as the running dicomstore is."""
        self.start()
        load(Server(self._target, lambda: None, lambda: 0.0), corpus, [warm_up])
        _delete_every_study(self._target)


def _delete_every_study(target: Target) -> None:
    """Delete every study in Orthanc (and check that none is left)."""
    studies = json.loads(call(target, "GET", "/studies").body)
    for study in studies:
        response = call(target, "DELETE", f"/studies/{study}")
        if response.status != 200:
            raise RuntimeError(f"Orthanc DELETE /studies/{study}: {response.status}")
    left = json.loads(call(target, "GET", "/statistics").body)["CountInstances"]
    if left:
        raise RuntimeError(f"Orthanc still holds {left} instances after deleting every study")


def load(server: Server, corpus: Corpus, studies: Sequence[Study]) -> None:
    """Store these studies, one instance per request, untimed."""
    run = run_requests(server.target, stow_requests(corpus, studies, 1), 1)
    if run.failures:
        raise RuntimeError(f"{server.target.name}: loading failed: {run.errors()[:3]}")


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


@contextlib.contextmanager
def database(arguments: argparse.Namespace) -> Iterator[str | None]:
    if arguments.postgres:
        with throwaway_postgres(arguments.postgres) as url:
            yield url
    else:
        yield None


def run(arguments: argparse.Namespace) -> int:
    layout, counts = QUICK if arguments.quick else FULL
    started = time.perf_counter()
    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/vs_orthanc.py", *sys.argv[1:]]),
        "machine": {
            "cpu": cpu_model(),
            "nproc": os.cpu_count(),
            "kernel": platform.release(),
            "load_average_start": os.getloadavg(),
            "fresh_page_us_start": fresh_page_microseconds(),
        },
        "rounds": arguments.rounds,
        "layout": asdict(layout),
        "counts": asdict(counts),
    }
    print(
        f"date {meta['date']}; {meta['machine']['cpu']}, {os.cpu_count()} CPUs, kernel "
        f"{platform.release()}, load average {os.getloadavg()[0]:.2f}, "
        f"{meta['machine']['fresh_page_us_start']:.2f} µs per fresh 4 KiB page"
    )
    data, generated = corpus(layout, Path(arguments.cache))
    data.load()
    ct = data.ct_studies()
    instances = sum(len(s.instances()) for s in data.studies)
    print(
        f"corpus {data.folder} ({'generated now' if generated else 'cached'}): {instances} "
        f"instances, {data.total_bytes() / 1e6:.0f} MB; {len(ct)} CT studies × "
        f"{layout.series_per_study} series × {layout.instances_per_series} slices 512×512 "
        f"16-bit, {layout.multiframe_instances} Enhanced CT × {layout.frames_per_multiframe} "
        f"frames"
    )

    reuse_client_memory()
    print("client ceiling (http.client, one keep-alive connection per thread, trivial server):")
    ceiling = {}
    port = free_port()
    n = 600 if arguments.quick else 3000
    for label, size, count, concurrency in (
        ("200 B body, c1", 200, n, 1),
        ("200 B body, c8", 200, 2 * n, 8),
        ("16 MiB body, c1", 16 * MIB, 20, 1),
    ):
        ceiling_run = client_ceiling(port, size, count, concurrency)
        seconds = [sample.seconds for sample in ceiling_run.samples]
        ceiling[label] = {
            "req_per_s": count / ceiling_run.wall,
            "p50_ms": percentile(seconds, 0.5) * 1e3,
            "MB_per_s": size * count / 1e6 / ceiling_run.wall,
            "failures": ceiling_run.failures,
        }
        print(f"  {ceiling_text(label, ceiling[label])}")
    meta["client_ceiling"] = ceiling

    figures = Figures()
    samples: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="dicomstore-vs-orthanc-") as folder,
        database(arguments) as database_url,
        running_server(
            Path(folder) / "dicomstore-data",
            database_url=database_url,
            extra=["--qido-mode", "standard"],
        ) as dicomstore,
        contextlib.ExitStack() as stack,
        httpx.Client(timeout=120) as admin,
    ):
        orthanc_target = Target(ORTHANC, HTTP_PORT, "/dicom-web")
        orthancs = FreshOrthancs(
            stack, Path(folder), orthanc_target, arguments.orthanc_storage_access_on_find
        )
        try:
            print(check_confined(dicomstore.pid, "dicomstore"))
            orthanc = orthancs.start()
            print(orthancs.confined)
        except NotConfined as error:
            print(f"refusing to run: {error}", file=sys.stderr)
            return 2
        meta["listeners"] = {
            DICOMSTORE: [asdict(item) for item in listening_sockets(dicomstore.pid)],
            ORTHANC: [asdict(item) for item in listening_sockets(orthanc.pid)],
        }
        ds_port = urllib.parse.urlsplit(dicomstore.url).port
        assert ds_port is not None
        ds_target = Target(DICOMSTORE, ds_port, "")
        system = json.loads(call(orthanc_target, "GET", "/system").body)
        plugin = json.loads(call(orthanc_target, "GET", "/plugins/dicom-web").body)
        import dicomstore as package

        meta["versions"] = {
            DICOMSTORE: package.__version__,
            ORTHANC: system["Version"],
            "orthanc-dicomweb": plugin.get("Version"),
        }
        meta["settings"] = {
            DICOMSTORE: {
                "index": "PostgreSQL" if database_url else "SQLite",
                "blobs": "local folder",
                "qido_mode": "standard",
            },
            ORTHANC: orthanc.config,
        }
        print(
            f"dicomstore {package.__version__} (pid {dicomstore.pid}, index "
            f"{'PostgreSQL' if database_url else 'SQLite'}, --qido-mode standard); "
            f"Orthanc {system['Version']} + DICOMweb plugin {plugin.get('Version')} "
            f"(pid {orthanc.pid}, SQLite index, StorageAccessOnFind "
            f"{arguments.orthanc_storage_access_on_find})"
        )

        def new_store() -> None:
            path = urllib.parse.urlsplit(create_store(admin, dicomstore.url)).path
            ds_target.root = path

        waited: list[float] = []

        def quiet() -> float:
            waited.append(wait_until_quiet([dicomstore.pid, orthancs.pid]))
            return waited[-1]

        # Warm-up: each server stores two instances before anything is timed (a fresh Orthanc
        # each round: `FreshOrthancs.start_warm`).
        first = ct[0].series[0]
        warm_study = Study("warm-up", "", "", [Series(first.uid, "CT", first.instances[:2])])
        servers = [
            Server(ds_target, new_store, quiet),
            Server(orthanc_target, lambda: orthancs.start_warm(data, warm_study), quiet),
        ]
        new_store()
        load(servers[0], data, [warm_study])
        print(
            f"STOW: {arguments.rounds} rounds, a fresh dicomstore store / a fresh Orthanc "
            f"each round, {len(STOW_CONFIGS)} configurations on disjoint quarters of the CT "
            f"studies"
        )
        stow_rounds(servers, data, arguments.rounds, figures, samples)
        for server in servers:  # the last round left every CT study on both
            load(server, data, [data.multiframe_study()])
        in_orthanc = json.loads(call(orthanc_target, "GET", "/statistics").body)["CountInstances"]
        store_url = f"{dicomstore.url}{ds_target.root.removesuffix('/dicomWeb')}"
        response = admin.get(f"{store_url}:getDICOMStoreMetrics")
        in_dicomstore = int(response.json().get("instanceCount", 0))
        print(
            f"loaded the multi-frame study; instances stored: dicomstore {in_dicomstore}, "
            f"Orthanc {in_orthanc}, corpus {instances}"
        )
        if in_orthanc != instances or in_dicomstore != instances:
            print("refusing to measure reads on a store that does not hold the corpus")
            return 3
        print(f"reads: {arguments.rounds} rounds, the servers taking turns per figure")
        read_rounds(servers, data, counts, arguments.rounds, arguments.seed, figures, samples)
        # Orthanc's: the last one, which stored the last round and answered every read.
        memory = {DICOMSTORE: tree_memory(dicomstore.pid), ORTHANC: tree_memory(orthancs.pid)}
        meta["memory"] = memory
        meta["quiet_waits"] = {"count": len(waited), "seconds": sum(waited),
                               "longest": max(waited, default=0.0)}  # fmt: skip
        print(
            f"waited {sum(waited):.1f} s in all for both servers to be idle before "
            f"{len(waited)} timed runs (longest {max(waited, default=0.0):.1f} s)"
        )
    meta["run_seconds"] = time.perf_counter() - started
    meta["machine"]["load_average_end"] = os.getloadavg()
    meta["machine"]["fresh_page_us_end"] = fresh_page_microseconds()

    print_table(figures, meta)
    write_outputs(arguments, figures, meta, samples)
    failures = sum(sum(f.failures.values()) for f in figures.by_name.values())
    return 1 if failures else 0


def table_rows(figures: Figures) -> list[list[str]]:
    rows = []
    for figure in figures.by_name.values():
        ours, theirs, ratio = figure.median(DICOMSTORE), figure.median(ORTHANC), figure.ratio()
        failures = f"{figure.failures.get(DICOMSTORE, 0)} / {figure.failures.get(ORTHANC, 0)}"
        rows.append(
            [
                figure.name,
                figure.unit,
                _number(ours),
                _number(theirs),
                f"{ratio:.2f}×" if ratio is not None else "-",
                figure.target_text(),
                figure.verdict(),
                failures,
            ]
        )
    return rows


HEADERS = [
    "figure",
    "unit",
    "dicomstore",
    "Orthanc",
    "dicomstore ÷ Orthanc",
    "target",
    "",
    "failures (ds / Orthanc)",
]


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def print_table(figures: Figures, meta: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dicomstore vs Orthanc (medians of rounds)")
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("figure", "unit") else "right")
    for row in table_rows(figures):
        style = "red" if row[6] == "FAIL" else None
        table.add_row(*row, style=style)
    console = Console(width=160)
    console.print(table)
    console.print(
        "ratio = dicomstore ÷ Orthanc: for ms lower is better (target ≤), for rates higher is "
        "better (target ≥)"
    )
    for figure in figures.by_name.values():
        for server, errors in figure.errors.items():
            for error in errors[:3]:
                console.print(f"[red]{server} {figure.name}: {error}[/red]", markup=True)
    for label, value in meta["client_ceiling"].items():
        console.print(f"client ceiling {ceiling_text(label, value)}")
    memory = meta["memory"]
    console.print(
        f"peak RSS: dicomstore {memory[DICOMSTORE]['VmHWM'] / MIB:.0f} MiB, Orthanc "
        f"{memory[ORTHANC]['VmHWM'] / MIB:.0f} MiB"
    )
    versions = meta["versions"]
    console.print(
        f"versions: dicomstore {versions[DICOMSTORE]}, Orthanc {versions[ORTHANC]}, "
        f"DICOMweb plugin {versions['orthanc-dicomweb']}"
    )
    machine = meta["machine"]
    console.print(
        f"machine: {machine['cpu']}, {machine['nproc']} CPUs, kernel {machine['kernel']}"
        f", load average {machine['load_average_start'][0]:.2f} at the start, "
        f"{machine['load_average_end'][0]:.2f} at the end; "
        f"{machine['fresh_page_us_start']:.2f} and {machine['fresh_page_us_end']:.2f} µs per "
        f"fresh 4 KiB page; {meta['date']}; "
        f"run time {meta['run_seconds']:.0f} s"
    )


def ceiling_text(label: str, value: dict[str, float]) -> str:
    text = f"{label}: {value['req_per_s']:.0f} req/s, p50 {value['p50_ms']:.3f} ms"
    if "MiB" in label:
        text += f", {value['MB_per_s']:.0f} MB/s"
    return text + (f", {value['failures']:.0f} FAILURES" if value["failures"] else "")


def markdown_table(figures: Figures) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in table_rows(figures):
        row[6] = "**FAIL**" if row[6] == "FAIL" else row[6]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(
    arguments: argparse.Namespace, figures: Figures, meta: dict[str, Any], samples: list[Any]
) -> None:
    path = Path(
        arguments.json
        or f"/tmp/dicomstore-bench/vs_orthanc-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "meta": meta,
        "figures": [
            {
                **asdict(figure),
                "median": {s: figure.median(s) for s in (DICOMSTORE, ORTHANC)},
                "ratio": figure.ratio(),
                "verdict": figure.verdict(),
            }
            for figure in figures.by_name.values()
        ],
        "samples": samples,
    }
    path.write_text(json.dumps(document))
    print(f"raw runs: {path}")
    if arguments.markdown:
        Path(arguments.markdown).write_text(markdown_table(figures))
        print(f"markdown table: {arguments.markdown}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure (3)")
    parser.add_argument("--quick", action="store_true", help="a small corpus: a smoke run")
    parser.add_argument("--json", help="raw runs (/tmp/dicomstore-bench/vs_orthanc-<date>.json)")
    parser.add_argument("--markdown", help="also write the table as Markdown to this file")
    parser.add_argument(
        "--postgres",
        metavar="SERVER_URL",
        help="run dicomstore on a throw-away database on this PostgreSQL server "
        "(postgresql://postgres@127.0.0.1:5432)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix (1)")
    parser.add_argument(
        "--cache", default=tempfile.gettempdir(), help="where the generated corpus is kept (/tmp)"
    )
    parser.add_argument(
        "--orthanc-storage-access-on-find",
        choices=("Always", "Answers", "Never"),
        default="Always",
        help="Orthanc's StorageAccessOnFind (Always, its default)",
    )
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    return run(arguments)


if __name__ == "__main__":
    sys.exit(main())
