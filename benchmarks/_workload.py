"""The corpus, the HTTP client and the request runners of ``vs_orthanc.py``.

Corpus: CT-like studies of 512x512 16-bit slices (explicit VR little endian, MONOCHROME2, the
header of pydicom's ``CT_small.dcm`` rewritten as ``dicomweb_corpus.py`` does), where some
studies have one PT or MR series so that ModalitiesInStudy means something, plus one study of
multi-frame Enhanced CT instances. UIDs come from a hash of the parameters and a counter, pixel
data from ``dicomweb_corpus.phantoms`` (a seeded RNG), so the same parameters give the same bytes.
It is written once as Part 10 files to a cache folder named after those parameters.

Client: ``http.client`` with one keep-alive connection per thread. httpx costs about 0.5 ms per
request on this kind of machine and stops scaling past one thread (the GIL); http.client about a
third of that, which matters when the servers answer in a millisecond or two. Every response is
checked (status, counts, bytes) after its time is taken.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import io
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from _orthanc import setns
from dicomweb_corpus import SIZE, phantoms
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicomstore.process_memory import reuse_freed_memory

GENERATOR_VERSION = 2  # bump when the bytes the generator writes change
FRAME_BYTES = SIZE * SIZE * 2
PHANTOM_COUNT = 16
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2.1"
SOP_CLASSES = {
    "CT": CT_IMAGE,
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
}
SERIES_KINDS = ("AXIAL 5mm", "AXIAL 1.25mm", "AXIAL 1.25mm LUNG", "AXIAL 1.25mm BONE")
BODY_PARTS = ("CHEST", "ABDOMEN", "HEAD", "PELVIS")


# --- the corpus -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    studies: int = 20
    series_per_study: int = 4
    instances_per_series: int = 25
    multiframe_instances: int = 4
    frames_per_multiframe: int = 50

    def key(self) -> str:
        text = json.dumps([GENERATOR_VERSION, asdict(self)])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Instance:
    uid: str
    file: str
    frames: int
    size: int


@dataclass
class Series:
    uid: str
    modality: str
    instances: list[Instance] = field(default_factory=list)


@dataclass
class Study:
    uid: str
    patient_id: str
    date: str
    series: list[Series] = field(default_factory=list)
    multiframe: bool = False

    @property
    def modalities(self) -> set[str]:
        return {series.modality for series in self.series}

    def instances(self) -> list[Instance]:
        return [instance for series in self.series for instance in series.instances]


@dataclass
class Corpus:
    folder: Path
    layout: Layout
    studies: list[Study]
    _bytes: dict[str, bytes] = field(default_factory=dict, repr=False)

    def ct_studies(self) -> list[Study]:
        return [study for study in self.studies if not study.multiframe]

    def multiframe_study(self) -> Study:
        return next(study for study in self.studies if study.multiframe)

    def data(self, instance: Instance) -> bytes:
        """The Part 10 bytes of an instance (read once, then kept in memory)."""
        cached = self._bytes.get(instance.file)
        if cached is None:
            cached = self._bytes[instance.file] = (self.folder / instance.file).read_bytes()
        return cached

    def frame(self, instance: Instance, number: int) -> bytes:
        """Frame ``number`` (1-based): Pixel Data is the last element of every file written."""
        data = self.data(instance)
        start = len(data) - instance.frames * FRAME_BYTES + (number - 1) * FRAME_BYTES
        return data[start : start + FRAME_BYTES]

    def load(self) -> None:
        for study in self.studies:
            for instance in study.instances():
                self.data(instance)

    def total_bytes(self) -> int:
        return sum(instance.size for study in self.studies for instance in study.instances())


def _uid(layout: Layout, *parts: object) -> str:
    # generate_uid joins its entropy sources with nothing between them: ("1", "12") would be
    # ("11", "2"). One source with separators keeps every UID distinct.
    source = "|".join(["dicomstore vs_orthanc", layout.key(), *map(str, parts)])
    return generate_uid(entropy_srcs=[source])


def corpus(layout: Layout, cache_root: Path) -> tuple[Corpus, bool]:
    """The corpus of ``layout``, generated into ``cache_root/dicomstore-bench-corpus-<key>``
    unless already there; (corpus, whether it was generated now)."""
    folder = cache_root / f"dicomstore-bench-corpus-{layout.key()}"
    manifest = folder / "manifest.json"
    generated = False
    if not manifest.exists():
        _generate(layout, folder)
        generated = True
    document = json.loads(manifest.read_text())
    studies = [
        Study(
            item["uid"],
            item["patient_id"],
            item["date"],
            [
                Series(s["uid"], s["modality"], [Instance(**i) for i in s["instances"]])
                for s in item["series"]
            ],
            item["multiframe"],
        )
        for item in document["studies"]
    ]
    uids = [instance.uid for study in studies for instance in study.instances()]
    if len(set(uids)) != len(uids):
        raise RuntimeError(f"corpus {folder}: {len(uids) - len(set(uids))} duplicate SOP UIDs")
    return Corpus(folder, layout, studies), generated


def _generate(layout: Layout, folder: Path) -> None:
    temporary = folder.with_name(folder.name + f".tmp{os.getpid()}")
    temporary.mkdir(parents=True, exist_ok=True)
    slices = phantoms(PHANTOM_COUNT)
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del template.PixelData
    template.Rows = template.Columns = SIZE
    template.BitsAllocated, template.BitsStored, template.HighBit = 16, 12, 11
    template.PixelRepresentation = 1
    template.PixelSpacing = [0.7, 0.7]
    template.RescaleIntercept, template.RescaleSlope = -1024, 1
    template.WindowCenter, template.WindowWidth = 40, 400
    template.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    first_date = datetime.date(2023, 1, 9)
    studies: list[Study] = []
    number = 0
    for study_index in range(layout.studies):
        patient = study_index // 2
        date = (first_date + datetime.timedelta(days=37 * study_index)).strftime("%Y%m%d")
        study = Study(_uid(layout, "study", study_index), f"PAT{patient:05d}", date)
        studies.append(study)
        dataset = template
        _set_study(dataset, layout, study, study_index, patient)
        for series_index in range(layout.series_per_study):
            modality = "CT"
            if series_index == layout.series_per_study - 1 and study_index % 5 in (2, 4):
                modality = "PT" if study_index % 5 == 2 else "MR"
            series = Series(_uid(layout, "series", study_index, series_index), modality)
            study.series.append(series)
            _set_series(dataset, series, series_index)
            for slice_index in range(layout.instances_per_series):
                uid = _uid(layout, "instance", study_index, series_index, slice_index)
                dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = uid
                dataset.InstanceNumber = slice_index + 1
                location = round(-float(dataset.SliceThickness) * slice_index, 3)
                dataset.ImagePositionPatient = [-179.2, -179.2, location]
                dataset.SliceLocation = location
                buffer = io.BytesIO()
                pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
                # (7FE0,0010) OW, explicit VR little endian: tag, VR, 2 reserved bytes, length.
                data = (
                    buffer.getvalue()
                    + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, FRAME_BYTES)
                    + slices[number % PHANTOM_COUNT]
                )
                name = f"{number:05d}.dcm"
                (temporary / name).write_bytes(data)
                series.instances.append(Instance(uid, name, 1, len(data)))
                number += 1
    if layout.multiframe_instances:
        studies.append(_multiframe_study(layout, temporary, slices, len(studies), first_date))
    document = {"layout": asdict(layout), "studies": [asdict(study) for study in studies]}
    (temporary / "manifest.json").write_text(json.dumps(document))
    if folder.exists():  # another run finished first
        return
    temporary.rename(folder)


def _set_study(dataset: Dataset, layout: Layout, study: Study, index: int, patient: int) -> None:
    dataset.StudyInstanceUID = study.uid
    dataset.StudyDate = dataset.SeriesDate = dataset.AcquisitionDate = study.date
    dataset.ContentDate = dataset.InstanceCreationDate = study.date
    dataset.StudyTime = f"{8 + index % 10:02d}{index * 7 % 60:02d}00"
    dataset.AccessionNumber = f"ACC{800000 + index:07d}"
    dataset.StudyID = str(1000 + index)
    dataset.StudyDescription = f"CT {BODY_PARTS[index % len(BODY_PARTS)]} WITH CONTRAST"
    dataset.BodyPartExamined = BODY_PARTS[index % len(BODY_PARTS)]
    dataset.ReferringPhysicianName = f"Referrer^R{index % 7}"
    dataset.PatientName = f"Doe^Patient{patient}"
    dataset.PatientID = study.patient_id
    dataset.PatientBirthDate = f"{1940 + patient % 60}0{1 + patient % 9}15"
    dataset.PatientSex = "MF"[patient % 2]
    dataset.PatientAge = f"{83 - patient % 60:03d}Y"
    dataset.FrameOfReferenceUID = _uid(layout, "frame-of-reference", index)


def _set_series(dataset: Dataset, series: Series, index: int) -> None:
    dataset.SeriesInstanceUID = series.uid
    dataset.Modality = series.modality
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = SOP_CLASSES[series.modality]
    dataset.SeriesNumber = index + 1
    dataset.SeriesDescription = (
        SERIES_KINDS[index % len(SERIES_KINDS)] if series.modality == "CT" else series.modality
    )
    dataset.SliceThickness = dataset.SpacingBetweenSlices = (5.0, 1.25, 1.25, 1.25)[index % 4]
    dataset.SeriesTime = f"{9 + index:02d}0000"


def _multiframe_study(
    layout: Layout, folder: Path, slices: list[bytes], index: int, first_date: datetime.date
) -> Study:
    """Enhanced CT instances (one series): the functional groups a viewer needs, no more."""
    date = (first_date + datetime.timedelta(days=37 * index)).strftime("%Y%m%d")
    study = Study(_uid(layout, "study", "enhanced"), "PAT-ENHANCED", date, multiframe=True)
    series = Series(_uid(layout, "series", "enhanced"), "CT")
    study.series.append(series)
    frames = layout.frames_per_multiframe
    for number in range(layout.multiframe_instances):
        uid = _uid(layout, "instance", "enhanced", number)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ENHANCED_CT_IMAGE
        meta.MediaStorageSOPInstanceUID = uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
        ds.InstanceCreationDate = ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
        ds.AcquisitionDateTime = f"{date}101500"
        ds.SOPClassUID, ds.SOPInstanceUID = ENHANCED_CT_IMAGE, uid
        ds.AccessionNumber = "ACC0899999"
        ds.Modality = "CT"
        ds.Manufacturer = "dicomstore-bench"
        ds.ReferringPhysicianName = "Referrer^R0"
        ds.StudyDescription = "ENHANCED CT CHEST"
        ds.SeriesDescription = "ENHANCED AXIAL 1.25mm"
        ds.PatientName, ds.PatientID = "Doe^Enhanced", study.patient_id
        ds.PatientBirthDate, ds.PatientSex = "19600115", "F"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study.uid, series.uid
        ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "9999", 1, number + 1
        ds.FrameOfReferenceUID = _uid(layout, "frame-of-reference", "enhanced")
        ds.PositionReferenceIndicator = ""
        ds.ContentQualification = "PRODUCT"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.NumberOfFrames = frames
        ds.Rows = ds.Columns = SIZE
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.BurnedInAnnotation, ds.LossyImageCompression = "NO", "00"
        shared = Dataset()
        shared.PixelMeasuresSequence = DicomSequence(
            [_item(PixelSpacing=[0.7, 0.7], SliceThickness=1.25)]
        )
        shared.PlaneOrientationSequence = DicomSequence(
            [_item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]
        )
        shared.PixelValueTransformationSequence = DicomSequence(
            [_item(RescaleIntercept=-1024, RescaleSlope=1, RescaleType="HU")]
        )
        shared.FrameVOILUTSequence = DicomSequence([_item(WindowCenter=40, WindowWidth=400)])
        shared.CTImageFrameTypeSequence = DicomSequence(
            [_item(FrameType=["ORIGINAL", "PRIMARY", "AXIAL", "NONE"])]
        )
        ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
        ds.PerFrameFunctionalGroupsSequence = DicomSequence(
            [
                _item(
                    FrameContentSequence=DicomSequence(
                        [_item(StackID="1", InStackPositionNumber=frame + 1)]
                    ),
                    PlanePositionSequence=DicomSequence(
                        [_item(ImagePositionPatient=[-179.2, -179.2, -1.25 * frame])]
                    ),
                )
                for frame in range(frames)
            ]
        )
        buffer = io.BytesIO()
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
        pixels = b"".join(slices[(number + frame) % PHANTOM_COUNT] for frame in range(frames))
        data = (
            buffer.getvalue()
            + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, len(pixels))
            + pixels
        )
        name = f"enhanced-{number:02d}.dcm"
        (folder / name).write_bytes(data)
        series.instances.append(Instance(uid, name, frames, len(data)))
    return study


def _item(**values: Any) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


# --- HTTP -------------------------------------------------------------------------------------


@dataclass
class Target:
    """One server as the client sees it: loopback port, DICOMweb root path, network namespace."""

    name: str
    port: int
    root: str  # path of the DICOMweb root, no trailing slash
    netns: str | None = None  # /proc/PID/ns/net to enter, None for ours


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection (reconnects if the server closed it)."""

    def __init__(self, port: int, timeout: float = 600) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self, method: str, path: str, headers: dict[str, str], body: Sequence[bytes] | None = None
    ) -> Response:
        headers = {"Accept-Encoding": "identity", **headers}
        if body is not None:
            headers["Content-Length"] = str(sum(map(len, body)))
        try:
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self._connection.close()  # an idle connection the server dropped: once more
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
        data = response.read()
        if response.will_close:
            self._connection.close()
        return Response(response.status, response.getheader("Content-Type", ""), data)

    def close(self) -> None:
        self._connection.close()


Check = Callable[[Response], str | None]


@dataclass
class Request:
    """A request relative to a DICOMweb root, and how to tell that its answer is right."""

    method: str
    path: str  # e.g. "/studies?PatientID=…"
    headers: dict[str, str]
    check: Check
    body: Sequence[bytes] | None = None
    items: int = 1  # instances stored (STOW)

    @property
    def size(self) -> int:
        return sum(map(len, self.body)) if self.body is not None else 0


@dataclass
class Sample:
    seconds: float
    status: int
    size: int  # response body bytes
    error: str | None


@dataclass
class Run:
    samples: list[Sample]
    wall: float
    sent: int = 0
    items: int = 0

    @property
    def failures(self) -> int:
        return sum(1 for sample in self.samples if sample.error)

    def errors(self) -> list[str]:
        return [sample.error for sample in self.samples if sample.error]


def _checked(check: Check, response: Response) -> str | None:
    try:
        return check(response)
    except Exception as error:  # a malformed answer is a failure of the figure, not of the run
        return f"{response.status}: unreadable answer ({type(error).__name__}: {error})"


def reuse_client_memory() -> None:
    """Let the client read each answer into memory it has used before: glibc would map every
    answer above 32 MiB, and often smaller ones (a 13 MB series), as fresh pages, some 1,300 page
    faults per series on this machine (4–16 ms: its host supplies each fresh page anew), the same
    for both servers and none of their doing. Call once, before measuring."""
    reuse_freed_memory(largest_block=64 << 20, kept=256 << 20)


def run_requests(
    target: Target, requests: Sequence[Request], concurrency: int, warmup: Sequence[Request] = ()
) -> Run:
    """Send ``requests`` with ``concurrency`` threads (one connection each, in the target's
    network namespace), after each thread's share of ``warmup`` requests; time each one.

    With one thread every answer is checked as soon as it is timed; with several, after the run
    (so that checking costs no client CPU while the server is measured).
    """
    lock = threading.Lock()
    position = iter(range(len(requests)))
    gathered: list[tuple[int, float, Response]] = []
    failures: list[BaseException] = []
    ready = threading.Barrier(concurrency + 1)
    finished: list[float] = []
    inline = concurrency == 1
    results: dict[int, Sample] = {}

    def worker(thread_index: int) -> None:
        try:
            if target.netns:
                setns(target.netns)
            connection = Connection(target.port)
            for request in warmup[thread_index::concurrency]:
                connection.request(
                    request.method, target.root + request.path, request.headers, request.body
                )
        except BaseException as error:
            failures.append(error)
            ready.abort()
            return
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            return
        local: list[tuple[int, float, Response]] = []
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                break
            request = requests[index]
            started = time.perf_counter()
            try:
                response = connection.request(
                    request.method, target.root + request.path, request.headers, request.body
                )
            except (OSError, http.client.HTTPException) as error:
                response = Response(0, "", f"{type(error).__name__}: {error}".encode())
                connection = Connection(target.port)
            elapsed = time.perf_counter() - started
            if inline:
                results[index] = _sample(request, elapsed, response)
            else:
                local.append((index, elapsed, response))
        finished.append(time.perf_counter())
        connection.close()
        with lock:
            gathered.extend(local)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise RuntimeError(f"{target.name}: warm-up failed: {failures[:1]}") from None
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = max(finished, default=started) - started
    for index, elapsed, response in gathered:
        results[index] = _sample(requests[index], elapsed, response)
    samples = [results[index] for index in range(len(requests))]
    return Run(samples, wall, sum(r.size for r in requests), sum(r.items for r in requests))


def _sample(request: Request, elapsed: float, response: Response) -> Sample:
    if response.status == 0:
        error: str | None = f"transport error: {response.body.decode(errors='replace')}"
    else:
        error = _checked(request.check, response)
    if error:
        error = f"{request.method} {request.path[:160]}: {error}"[:400]
    return Sample(elapsed, response.status, len(response.body), error)


def call(target: Target, method: str, path: str, headers: dict[str, str] | None = None) -> Response:
    """One request outside any measurement (setup, clean-up), in the target's namespace."""
    outcome: list[Any] = []

    def go() -> None:
        try:
            if target.netns:
                setns(target.netns)
            connection = Connection(target.port)
            try:
                outcome.append(connection.request(method, path, headers or {}))
            finally:
                connection.close()
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    result: Response = outcome[0]
    return result


# --- multipart --------------------------------------------------------------------------------


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def multipart_parts(response: Response) -> list[bytes]:
    """The bodies of the parts of a multipart/related answer."""
    if not response.content_type.lower().startswith("multipart/related"):
        raise ValueError(f"not multipart/related: {response.content_type!r}")
    found = _BOUNDARY.search(response.content_type)
    if not found:
        raise ValueError(f"no boundary in {response.content_type!r}")
    delimiter = b"--" + found.group(1).encode()
    body = response.body
    position = body.find(delimiter)
    if position < 0:
        raise ValueError("no opening delimiter")
    position += len(delimiter)
    parts = []
    while not body.startswith(b"--", position):
        headers_end = body.find(b"\r\n\r\n", position)
        end = body.find(b"\r\n" + delimiter, headers_end + 4)
        if headers_end < 0 or end < 0:
            raise ValueError("truncated multipart body")
        parts.append(body[headers_end + 4 : end])
        position = end + 2 + len(delimiter)
    return parts


def stow_body(datas: Sequence[bytes], boundary: str) -> list[bytes]:
    """A ``multipart/related; type="application/dicom"`` body as pieces (instances not copied)."""
    opening = f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    pieces: list[bytes] = []
    for position, data in enumerate(datas):
        pieces += [(b"\r\n" if position else b"") + opening, data]
    pieces.append(f"\r\n--{boundary}--\r\n".encode())
    return pieces


# --- the client's own ceiling -----------------------------------------------------------------


_STATIC_SERVER = r"""
import asyncio, sys
try:
    import uvloop
    uvloop.install()
except ImportError:
    pass
BODY = b"x" * int(sys.argv[2])
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
class Static(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            self.buffer = self.buffer[end + 4:]
            self.transport.write(ANSWER)
async def main():
    server = await asyncio.get_running_loop().create_server(Static, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def client_ceiling(port: int, body_size: int, count: int, concurrency: int) -> Run:
    """Run ``count`` GETs against a trivial server answering a fixed ``body_size``-byte 200."""
    process = subprocess.Popen(
        [sys.executable, "-c", _STATIC_SERVER, str(port), str(body_size)], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        target = Target("static", port, "")

        def check(response: Response) -> str | None:
            return None if len(response.body) == body_size else "short body"

        request = Request("GET", "/static", {"Accept": "application/octet-stream"}, check)
        return run_requests(target, [request] * count, concurrency, [request] * concurrency)
    finally:
        process.terminate()
        process.wait(timeout=10)
