"""STOW, QIDO and WADO figures on a generated corpus of CT-like instances (512x512, 16-bit).

The corpus is ``--instances`` (2,000) CT slices in studies of 5 series of 20 slices (20 studies
by default), two studies per patient, each study with its own date and accession number. Every
header is pydicom's ``CT_small.dcm`` (a real GE CT header with private groups) with patient,
study, series and slice attributes rewritten; the pixel data cycles through a few synthetic
phantom slices. Run::

    python benchmarks/dicomweb_corpus.py [--instances 2000] [--batch 50] [--concurrency 4]
        [--requests 200] [--workers N]
        [--postgres postgresql://postgres@127.0.0.1:5432 | --database-url URL]

It starts ``dicomstore serve`` on a free loopback port in a temporary folder (SQLite by default),
stores the corpus with STOW-RS (``--batch`` instances per request, ``--concurrency`` requests in
flight), checks the count with ``getDICOMStoreMetrics``, then times ``--requests`` sequential
requests of each kind of QIDO-RS search and WADO-RS retrieval over one keep-alive connection.
Prints a table, asserts nothing. Server CPU and memory are summed over the server's processes
(``--workers``).
"""

from __future__ import annotations

import argparse
import datetime
import io
import random
import secrets
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pydicom
from _harness import (
    MIB,
    add_database_arguments,
    cpu_seconds,
    create_store,
    machine,
    mib,
    percentile,
    process_tree,
    run_on_database,
    running_server,
    store_metrics,
    tree_memory,
)
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

SIZE = 512
PIXEL_BYTES = SIZE * SIZE * 2
SLICES_PER_SERIES = 20
SERIES_PER_STUDY = 5
STUDIES_PER_PATIENT = 2
PHANTOMS = 8
SERIES_KINDS = (
    ("SCOUT", "LOCALIZER", 10.0),
    ("AXIAL 5mm", "STANDARD", 5.0),
    ("AXIAL 1.25mm", "STANDARD", 1.25),
    ("AXIAL 1.25mm LUNG", "LUNG", 1.25),
    ("AXIAL 1.25mm BONE", "BONE", 1.25),
)
BODY_PARTS = ("CHEST", "ABDOMEN", "HEAD", "PELVIS")
DICOM_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
JSON_ACCEPT = "application/dicom+json"


# --- the corpus -------------------------------------------------------------------------------


@dataclass
class Study:
    uid: str
    patient_id: str
    date: str
    accession: str
    series: list[str] = field(default_factory=list)


@dataclass
class Corpus:
    studies: list[Study]
    instances: list[tuple[str, str, str]]  # (study, series, SOP instance) UIDs
    headers: list[bytes]  # Part 10 bytes up to the Pixel Data value
    phantoms: list[bytes]

    def pixels(self, number: int) -> bytes:
        return self.phantoms[number % len(self.phantoms)]


def phantoms(count: int) -> list[bytes]:
    """Synthetic CT slices: stored values = HU + 1024, a body ellipse with organs and noise."""
    generator = np.random.default_rng(7)
    y, x = np.mgrid[-1 : 1 : SIZE * 1j, -1 : 1 : SIZE * 1j]
    slices = []
    for index in range(count):
        image = np.full((SIZE, SIZE), -1000.0)
        scale = 0.8 + 0.1 * np.sin(index)
        body = (x / (0.85 * scale)) ** 2 + (y / (0.65 * scale)) ** 2 <= 1
        image[body] = 40.0
        image[((x + 0.35) / 0.22) ** 2 + (y / 0.35) ** 2 <= 1] = -850.0  # lungs
        image[((x - 0.35) / 0.22) ** 2 + (y / 0.35) ** 2 <= 1] = -850.0
        image[(x / 0.08) ** 2 + ((y - 0.45) / 0.08) ** 2 <= 1] = 900.0  # spine
        image += generator.normal(0, 12, image.shape)
        slices.append((image + 1024).clip(0, 4095).astype("<i2").tobytes())
    return slices


def build_corpus(count: int) -> Corpus:
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del template.PixelData
    template.Rows = template.Columns = SIZE
    template.BitsAllocated, template.BitsStored, template.HighBit = 16, 12, 11
    template.PixelRepresentation = 1
    template.PixelSpacing = [0.7, 0.7]
    template.RescaleIntercept, template.RescaleSlope = -1024, 1
    template.WindowCenter, template.WindowWidth = 40, 400
    per_study = SLICES_PER_SERIES * SERIES_PER_STUDY
    first_date = datetime.date(2023, 1, 9)
    studies: list[Study] = []
    instances: list[tuple[str, str, str]] = []
    headers: list[bytes] = []
    dataset = template
    for number in range(count):
        study_index, within = divmod(number, per_study)
        series_index, slice_index = divmod(within, SLICES_PER_SERIES)
        if within == 0:
            patient = study_index // STUDIES_PER_PATIENT
            date = first_date + datetime.timedelta(days=23 * study_index)
            accession = f"ACC{700000 + study_index:07d}"
            study = Study(generate_uid(), f"PAT{patient:05d}", date.strftime("%Y%m%d"), accession)
            studies.append(study)
            _set_study(dataset, studies[-1], study_index, patient)
        study = studies[-1]
        if slice_index == 0:
            study.series.append(generate_uid())
            _set_series(dataset, study.series[-1], series_index)
        sop_instance = generate_uid()
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = sop_instance
        dataset.InstanceNumber = slice_index + 1
        location = -float(dataset.SliceThickness) * slice_index
        dataset.ImagePositionPatient = [-179.2, -179.2, round(location, 3)]
        dataset.SliceLocation = round(location, 3)
        buffer = io.BytesIO()
        pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
        # (7FE0,0010) OW, explicit VR little endian: tag, VR, 2 reserved bytes, 32-bit length.
        headers.append(
            buffer.getvalue() + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, PIXEL_BYTES)
        )
        instances.append((study.uid, study.series[-1], sop_instance))
    return Corpus(studies, instances, headers, phantoms(PHANTOMS))


def _set_study(dataset: Dataset, study: Study, index: int, patient: int) -> None:
    dataset.StudyInstanceUID = study.uid
    dataset.StudyDate = dataset.SeriesDate = dataset.AcquisitionDate = study.date
    dataset.ContentDate = dataset.InstanceCreationDate = study.date
    dataset.StudyTime = f"{8 + index % 10:02d}{index * 7 % 60:02d}00"
    dataset.AccessionNumber = study.accession
    dataset.StudyID = str(1000 + index)
    dataset.StudyDescription = f"CT {BODY_PARTS[index % len(BODY_PARTS)]} WITH CONTRAST"
    dataset.BodyPartExamined = BODY_PARTS[index % len(BODY_PARTS)]
    dataset.ReferringPhysicianName = f"Referrer^R{index % 7}"
    dataset.PatientName = f"Doe^Patient{patient}"
    dataset.PatientID = study.patient_id
    dataset.PatientBirthDate = f"{1940 + patient % 60}0{1 + patient % 9}15"
    dataset.PatientSex = "MF"[patient % 2]
    dataset.PatientAge = f"{83 - patient % 60:03d}Y"
    dataset.FrameOfReferenceUID = generate_uid()


def _set_series(dataset: Dataset, uid: str, index: int) -> None:
    description, kernel, thickness = SERIES_KINDS[index % len(SERIES_KINDS)]
    dataset.SeriesInstanceUID = uid
    dataset.SeriesNumber = index + 1
    dataset.SeriesDescription = description
    dataset.ConvolutionKernel = kernel
    dataset.SliceThickness = dataset.SpacingBetweenSlices = thickness
    dataset.SeriesTime = f"{9 + index:02d}0000"


# --- STOW -------------------------------------------------------------------------------------


def batch_pieces(corpus: Corpus, numbers: range, boundary: str) -> list[bytes]:
    """The multipart body of one STOW request, as pieces (pixel buffers shared, not copied)."""
    opening = f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    pieces: list[bytes] = []
    for position, number in enumerate(numbers):
        pieces += [(b"\r\n" if position else b"") + opening, corpus.headers[number],
                   corpus.pixels(number)]  # fmt: skip
    pieces.append(f"\r\n--{boundary}--\r\n".encode())
    return pieces


def stow_all(
    client: httpx.Client, dicomweb_url: str, corpus: Corpus, batch: int, concurrency: int
) -> tuple[float, int, list[float], list[str]]:
    """Store the whole corpus; wall time, bytes sent, per-request latencies, errors."""
    batches = [range(start, min(start + batch, len(corpus.headers)))
               for start in range(0, len(corpus.headers), batch)]  # fmt: skip

    def send(numbers: range) -> tuple[float, int, str | None]:
        boundary = secrets.token_hex(16)
        pieces = batch_pieces(corpus, numbers, boundary)
        size = sum(map(len, pieces))
        started = time.perf_counter()
        response = client.post(
            f"{dicomweb_url}/studies",
            content=iter(pieces),
            headers={
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Content-Length": str(size),
                "Accept": JSON_ACCEPT,
            },
        )
        elapsed = time.perf_counter() - started
        error = None if response.status_code == 200 else f"{response.status_code} {response.text}"
        return elapsed, size, error

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, batches))
    wall = time.perf_counter() - started
    errors = [error[:300] for _, _, error in results if error]
    return wall, sum(size for _, size, _ in results), [t for t, _, _ in results], errors


# --- timed reads ------------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)
    body_bytes: int = 0
    matches: int = 0
    counted: bool = False
    server_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)


def timed(
    client: httpx.Client,
    name: str,
    requests: Sequence[tuple[str, dict[str, str], str]],
    count_matches: bool = False,
) -> Timing:
    """Send each (url, params, accept) in turn, reading each whole body; time each one."""
    timing = Timing(name, counted=count_matches)
    for url, params, accept in requests:
        started = time.perf_counter()
        response = client.get(url, params=params, headers={"Accept": accept})
        body = response.content
        timing.seconds.append(time.perf_counter() - started)
        timing.body_bytes += len(body)
        if response.status_code != 200:
            timing.errors.append(f"{response.status_code} {url} {params}: {response.text[:200]}")
        elif count_matches:
            timing.matches += len(response.json())
    return timing


def read_requests(
    corpus: Corpus, dicomweb_url: str, count: int, seed: int
) -> list[tuple[str, bool, list[tuple[str, dict[str, str], str]]]]:
    """The kinds of timed request: (name, count matches?, requests)."""
    rng = random.Random(seed)
    studies = corpus.studies
    dates = sorted(study.date for study in studies)

    def pick(choices: Sequence[object]) -> object:
        return choices[rng.randrange(len(choices))]

    def date_range() -> dict[str, str]:
        start = rng.randrange(len(dates))
        end = min(len(dates) - 1, start + rng.randrange(1, 4))
        return {"StudyDate": f"{dates[start]}-{dates[end]}"}

    def series_url(study: Study) -> str:
        return f"{dicomweb_url}/studies/{study.uid}/series/{rng.choice(study.series)}"

    def instance_url() -> str:
        study, series, instance = corpus.instances[rng.randrange(len(corpus.instances))]
        return f"{dicomweb_url}/studies/{study}/series/{series}/instances/{instance}"

    patients = sorted({study.patient_id for study in studies})
    kinds: list[tuple[str, bool, Callable[[], tuple[str, dict[str, str], str]]]] = [
        ("QIDO studies?PatientID", True,
         lambda: (f"{dicomweb_url}/studies", {"PatientID": str(pick(patients))}, JSON_ACCEPT)),
        ("QIDO studies?StudyDate=range", True,
         lambda: (f"{dicomweb_url}/studies", date_range(), JSON_ACCEPT)),
        ("QIDO studies?AccessionNumber", True,
         lambda: (f"{dicomweb_url}/studies",
                  {"AccessionNumber": rng.choice(studies).accession}, JSON_ACCEPT)),
        ("QIDO studies/{s}/series", True,
         lambda: (f"{dicomweb_url}/studies/{rng.choice(studies).uid}/series", {}, JSON_ACCEPT)),
        ("QIDO series/{s}/instances", True,
         lambda: (series_url(rng.choice(studies)) + "/instances", {}, JSON_ACCEPT)),
        ("WADO instance (ts=*)", False, lambda: (instance_url(), {}, DICOM_ACCEPT)),
        ("WADO series metadata", False,
         lambda: (series_url(rng.choice(studies)) + "/metadata", {}, JSON_ACCEPT)),
        ("WADO frame 1 (ts=*)", False, lambda: (instance_url() + "/frames/1", {}, FRAME_ACCEPT)),
        ("WADO frame 1 as image/jls", False,
         lambda: (instance_url() + "/frames/1", {}, "image/jls")),
        ("WADO rendered frame (jpeg)", False,
         lambda: (instance_url() + "/frames/1/rendered", {}, "image/jpeg")),
        ("WADO rendered frame (png)", False,
         lambda: (instance_url() + "/frames/1/rendered", {}, "image/png")),
    ]  # fmt: skip
    return [(name, matches, [make() for _ in range(count)]) for name, matches, make in kinds]


def print_table(timings: list[Timing]) -> None:
    print(f"{'operation':31} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} "
          f"{'matches/req':>11} {'body/req':>10} {'MB/s':>7} {'cpu ms/req':>10}")  # fmt: skip
    for timing in timings:
        seconds = timing.seconds
        n = len(seconds)
        total = sum(seconds)
        print(
            f"{timing.name:31} {n:>4} {percentile(seconds, 0.5) * 1e3:>8.2f} "
            f"{percentile(seconds, 0.95) * 1e3:>8.2f} {total / n * 1e3:>8.2f} "
            f"{f'{timing.matches / n:.1f}' if timing.counted else '-':>11} "
            f"{_size(timing.body_bytes / n):>10} {timing.body_bytes / 1e6 / total:>7.1f} "
            f"{timing.server_cpu / n * 1e3:>10.2f}"
        )
        for error in timing.errors[:3]:
            print(f"    error: {error}")
        if len(timing.errors) > 3:
            print(f"    … {len(timing.errors)} errors in all")


def _size(size: float) -> str:
    if size >= MIB:
        return f"{size / MIB:.1f}MiB"
    return f"{size / 1024:.1f}KiB"


# --- the run ----------------------------------------------------------------------------------


def tree_cpu(pid: int) -> float:
    """CPU seconds of the server and its worker processes so far."""
    total = 0.0
    for member in process_tree(pid):
        try:
            total += cpu_seconds(member)
        except OSError:  # exited meanwhile
            continue
    return total


def run(arguments: argparse.Namespace, database_url: str | None) -> None:
    print(f"machine: {machine()}")
    started = time.perf_counter()
    corpus = build_corpus(arguments.instances)
    series_count = sum(len(study.series) for study in corpus.studies)
    print(
        f"corpus: {len(corpus.instances)} CT instances {SIZE}x{SIZE} 16-bit in "
        f"{len(corpus.studies)} studies / {series_count} series "
        f"({len({s.patient_id for s in corpus.studies})} patients), header "
        f"{len(corpus.headers[0])} bytes, generated in {time.perf_counter() - started:.1f} s"
    )
    limits = httpx.Limits(max_connections=arguments.concurrency + 2)
    with (
        tempfile.TemporaryDirectory(prefix="dicomstore-bench-") as directory,
        running_server(
            Path(directory) / "data",
            database_url=database_url,
            extra=("--workers", str(arguments.workers)) if arguments.workers else (),
        ) as server,
        httpx.Client(timeout=httpx.Timeout(arguments.timeout, connect=10), limits=limits) as client,
    ):
        workers = f", {arguments.workers} workers" if arguments.workers else ""
        print(f"server: pid {server.pid}{workers}, {server.url}, index {database_url or 'SQLite'}")
        dicomweb_url = create_store(client, server.url)
        rss_start = tree_memory(server.pid)["VmRSS"]
        cpu_start = tree_cpu(server.pid)
        wall, sent, latencies, errors = stow_all(
            client, dicomweb_url, corpus, arguments.batch, arguments.concurrency
        )
        cpu_stow = tree_cpu(server.pid) - cpu_start
        metrics = store_metrics(client, dicomweb_url)
        stored = int(metrics.get("instanceCount", "0"))
        rss_after_stow = tree_memory(server.pid)
        print()
        print(f"STOW  {len(latencies)} requests of {arguments.batch} instances, "
              f"concurrency {arguments.concurrency}: {wall:.2f} s")  # fmt: skip
        print(f"      {len(corpus.instances) / wall:.1f} instances/s, "
              f"{sent / 1e6 / wall:.1f} MB/s ({sent / MIB / wall:.1f} MiB/s), "
              f"{mib(sent)} sent")  # fmt: skip
        print(f"      per request p50 {percentile(latencies, 0.5) * 1e3:.0f} ms, "
              f"p95 {percentile(latencies, 0.95) * 1e3:.0f} ms")  # fmt: skip
        print(f"      server CPU {cpu_stow:.1f} s ({cpu_stow / wall * 100:.0f}% of one core), "
              f"{cpu_stow / len(corpus.instances) * 1e3:.1f} ms per instance")  # fmt: skip
        print(f"      getDICOMStoreMetrics: instanceCount={stored} "
              f"(expected {len(corpus.instances)}), studyCount={metrics.get('studyCount')}, "
              f"seriesCount={metrics.get('seriesCount')}")  # fmt: skip
        for error in errors[:3]:
            print(f"      error: {error}")

        kinds = read_requests(corpus, dicomweb_url, arguments.requests, arguments.seed)
        for _name, _matches, requests in kinds:  # warm-up: a few of each, untimed
            timed(client, "warm-up", requests[:5])
        timings = []
        for name, matches, requests in kinds:
            cpu_start = tree_cpu(server.pid)
            timings.append(timed(client, name, requests, matches))
            timings[-1].server_cpu = tree_cpu(server.pid) - cpu_start
        rss_end = tree_memory(server.pid)
        print()
        print(f"reads: {arguments.requests} sequential requests each, one keep-alive connection")
        print_table(timings)
        print()
        print(
            f"server RSS: {mib(rss_start)} before STOW, {mib(rss_after_stow['VmRSS'])} after "
            f"STOW, {mib(rss_end['VmRSS'])} at the end; peak (VmHWM) {mib(rss_end['VmHWM'])}"
        )
    print(f"total run time {time.perf_counter() - started:.1f} s; machine at the end: {machine()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000, help="corpus size (2000)")
    parser.add_argument("--batch", type=int, default=50, help="instances per STOW request (50)")
    parser.add_argument("--concurrency", type=int, default=4, help="STOW requests in flight (4)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind (200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix (1)")
    parser.add_argument("--timeout", type=float, default=300, help="HTTP timeout in s (300)")
    parser.add_argument(
        "--workers", type=int, help="server processes (dicomstore serve --workers; its default)"
    )
    add_database_arguments(parser)
    run_on_database(parser.parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
