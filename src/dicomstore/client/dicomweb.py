"""DICOMweb from the client side: STOW-RS of files and folders, QIDO-RS searches, WADO-RS
retrieval into folders and deletes, against a dicomstore server or Google's service.

Bodies stream both ways: a STOW-RS batch is read from its files while it is sent, and a WADO-RS
answer is written to disk part by part, so memory stays about one chunk whatever the sizes.

A store is named as the API names it, ``projects/{p}/locations/{l}/datasets/{d}/dicomStores/{s}``;
its DICOMweb root is ``v1/{store}/dicomWeb`` (PS3.18 §8; ``shared/spec/dicomweb-conformance.md``).

pydicom and ``dicomstore.dicom`` are imported where they are used: every ``dicomstore`` command
loads this module, and most never read a DICOM header.
"""

from __future__ import annotations

import glob
import json
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import httpx

from dicomstore.client.http import ApiError, HealthcareClient, Unreachable
from dicomstore.client.multipart import (
    boundary_of,
    iter_parts,
    media_type_of,
    multipart_file_body,
    new_boundary,
)

__all__ = [
    "DICOM_JSON",
    "FRAMES_ACCEPT",
    "DicomFile",
    "InstanceResult",
    "Outcome",
    "ScanResult",
    "StoreReport",
    "Target",
    "delete",
    "flat_attributes",
    "is_part10",
    "match_outcomes",
    "plan_batches",
    "retrieve_frames",
    "retrieve_instances",
    "retrieve_metadata",
    "retrieve_rendered",
    "scan",
    "search",
    "store_files",
]

DICOM_JSON: Final = "application/dicom+json"
FRAMES_ACCEPT: Final = 'multipart/related; type="application/octet-stream"'
"""Frames uncompressed, one part each (PS3.18 §8.7.3.5.2; Google's default)."""
_STUDY, _SERIES, _SOP = "0020000D", "0020000E", "00080018"
_UID_KEYWORDS: Final = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
_REFERENCED_SOP_SEQUENCE, _FAILED_SOP_SEQUENCE = "00081199", "00081198"
_REFERENCED_SOP_INSTANCE_UID, _FAILURE_REASON = "00081155", "00081197"
_EXISTING_PAGE: Final = 5000
_CHUNK: Final = 1 << 20
# A UID is digits and dots (PS3.5 §9.1); anything else from a server must not become a path.
_UID_RE: Final = re.compile(r"[0-9.]{1,64}")
_EXTENSIONS: Final = {
    "application/dicom": ".dcm",
    "application/octet-stream": ".raw",
    "image/jpeg": ".jpg",
    "image/jls": ".jls",
    "image/jp2": ".jp2",
    "image/jpx": ".jpx",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/dicom-rle": ".rle",
    "image/x-dicom-rle": ".rle",
    "video/mpeg": ".mpg",
    "video/mp4": ".mp4",
    "application/dicom+json": ".json",
}

_ByteCallback = Callable[[int], None]


def _dicomweb_root(store: str) -> str:
    """The path of a store's DICOMweb service below the endpoint."""
    return f"v1/{store}/dicomWeb"


# -- STOW-RS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DicomFile:
    """A Part 10 file to store; its UIDs once read (None where the header could not be read)."""

    path: Path
    size: int
    study: str | None = None
    series: str | None = None
    sop: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """What a set of paths holds: Part 10 files to store, in order, and the files skipped."""

    files: list[DicomFile]
    skipped: list[Path]


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(frozen=True)
class InstanceResult:
    file: DicomFile
    outcome: Outcome
    reason: str = ""


@dataclass
class StoreReport:
    """The outcome of every file given to `store_files`."""

    results: list[InstanceResult] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    def with_outcome(self, outcome: Outcome) -> list[InstanceResult]:
        return [result for result in self.results if result.outcome is outcome]


def is_part10(path: Path) -> bool:
    """Whether ``path`` starts as a DICOM Part 10 file: a 128-byte preamble, then ``DICM``
    (PS3.10 §7.1). Google's STOW-RS accepts nothing else."""
    try:
        with path.open("rb") as file:
            return file.read(132)[128:] == b"DICM"
    except OSError:
        return False


def scan(paths: Iterable[str | Path]) -> ScanResult:
    """Files of ``paths`` (files, folders walked recursively, glob patterns), each once, in the
    order given and sorted within folders; those that are not Part 10 files are skipped.

    Raises FileNotFoundError naming a path that matches nothing.
    """
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.update(dict.fromkeys(sorted(p for p in path.rglob("*") if p.is_file())))
        elif path.is_file():
            found[path] = None
        else:
            matches = sorted(glob.glob(str(given), recursive=True))
            if not matches:
                raise FileNotFoundError(f"no such file or folder: {given}")
            for match in map(Path, matches):
                if match.is_dir():
                    found.update(dict.fromkeys(sorted(p for p in match.rglob("*") if p.is_file())))
                elif match.is_file():
                    found[match] = None
    files: list[DicomFile] = []
    skipped: list[Path] = []
    for path in found:
        if is_part10(path):
            files.append(DicomFile(path, path.stat().st_size))
        else:
            skipped.append(path)
    return ScanResult(files, skipped)


def plan_batches(
    files: Sequence[DicomFile], max_instances: int, max_bytes: int
) -> list[list[DicomFile]]:
    """Consecutive files in batches of at most ``max_instances`` files and ``max_bytes`` bytes,
    whichever is reached first (a file larger than ``max_bytes`` goes alone)."""
    batches: list[list[DicomFile]] = []
    current: list[DicomFile] = []
    size = 0
    for file in files:
        if current and (len(current) >= max_instances or size + file.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(file)
        size += file.size
    if current:
        batches.append(current)
    return batches


def _header_uids(path: Path) -> tuple[str | None, str | None, str | None]:
    """Study, Series and SOP Instance UIDs from a file's header, None where unreadable."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=list(_UID_KEYWORDS)
            )
        uids = [dataset.get(keyword) for keyword in _UID_KEYWORDS]
    except (InvalidDicomError, OSError, ValueError, TypeError, KeyError, EOFError):
        return None, None, None
    study, series, sop = (str(uid) if uid else None for uid in uids)
    return study, series, sop


def _identified(file: DicomFile) -> DicomFile:
    """``file`` with the UIDs of its header, as far as they can be read here."""
    return DicomFile(file.path, file.size, *_header_uids(file.path))


class _KnownInstances:
    """The SOP Instance UIDs each study held before this run stored anything in it, found by
    QIDO-RS once per study: an instance stored again with identical bytes is a success for the
    server (Google answers it as a new store), so only the client can call it a duplicate."""

    def __init__(self, client: HealthcareClient, store: str) -> None:
        self._client = client
        self._store = store
        self._studies: dict[str, frozenset[str]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._stored_now: set[str] = set()

    def prefetch(self, study: str) -> None:
        with self._guard:
            lock = self._locks.setdefault(study, threading.Lock())
        with lock:
            if study not in self._studies:
                self._studies[study] = frozenset(self._instances_of(study))

    def _instances_of(self, study: str) -> Iterator[str]:
        offset = 0
        while True:
            page = search(
                self._client,
                self._store,
                "instances",
                study=study,
                includefields=(_SOP,),
                limit=_EXISTING_PAGE,
                offset=offset,
            )
            for instance in page:
                values = instance.get(_SOP, {}).get("Value") or [None]
                if values[0]:
                    yield str(values[0])
            if len(page) < _EXISTING_PAGE:
                return
            offset += len(page)

    def stored(self, file: DicomFile) -> Outcome:
        """The outcome of ``file`` that the server said it stored."""
        if file.sop is None:
            return Outcome.STORED
        with self._guard:
            again = file.sop in self._stored_now
            self._stored_now.add(file.sop)
        before = file.study is not None and file.sop in self._studies.get(file.study, ())
        return Outcome.DUPLICATE if before or again else Outcome.STORED


def store_files(
    client: HealthcareClient,
    store: str,
    files: Sequence[DicomFile],
    *,
    study: str | None = None,
    batch_size: int = 10,
    batch_bytes: int = 32 << 20,
    concurrency: int = 4,
    find_duplicates: bool = True,
    on_bytes: _ByteCallback | None = None,
    on_result: Callable[[InstanceResult], None] | None = None,
) -> list[InstanceResult]:
    """Store ``files`` with STOW-RS, ``concurrency`` requests at a time, each a batch of files.

    Each file comes back as stored, a duplicate (already in the store before this run, or sent
    twice in it; needs ``find_duplicates``, which costs one QIDO-RS search per study) or failed
    with the reason the server gave (Failure Reason (0008,1197) and Google's FailureDetail) or
    the error of its whole request. `ApiError` stops the run when no batch can succeed (no server,
    no such store, no access). With ``study``, the requests go to that study's URL, and the
    server refuses instances of other studies.
    """
    known = _KnownInstances(client, store) if find_duplicates else None

    def run(batch: list[DicomFile]) -> list[InstanceResult]:
        batch = [_identified(file) for file in batch]
        if known is not None:
            for uid in dict.fromkeys(file.study for file in batch if file.study):
                known.prefetch(uid)
        results = _store_batch(client, store, study, batch, on_bytes)
        if known is not None:
            results = [
                InstanceResult(r.file, known.stored(r.file)) if r.outcome is Outcome.STORED else r
                for r in results
            ]
        if on_result is not None:
            for result in results:
                on_result(result)
        return results

    batches = plan_batches(files, batch_size, batch_bytes)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(run, batch) for batch in batches]
        try:
            return [result for future in futures for result in future.result()]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _store_batch(
    client: HealthcareClient,
    store: str,
    study: str | None,
    batch: list[DicomFile],
    on_bytes: _ByteCallback | None,
) -> list[InstanceResult]:
    boundary = new_boundary()
    length, body = multipart_file_body(
        [file.path for file in batch],
        boundary,
        part_headers={"Content-Type": "application/dicom"},
        on_bytes=on_bytes,
    )
    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Content-Length": str(length),
        "Accept": DICOM_JSON,
    }
    try:
        response = client.request(
            "POST",
            f"{_dicomweb_root(store)}/studies" + (f"/{study}" if study else ""),
            content=body,
            headers=headers,
            allow_status=(409,),
        )
    except ApiError as error:
        # No store, no access, no server: every batch would fail alike, so stop the run.
        if isinstance(error, Unreachable) or error.status in (401, 403, 404):
            raise
        return [InstanceResult(file, Outcome.FAILED, str(error)) for file in batch]
    try:
        answer = response.json()
    except ValueError:
        reason = f"unreadable STOW-RS response ({response.status_code})"
        return [InstanceResult(file, Outcome.FAILED, reason) for file in batch]
    return match_outcomes(batch, answer if isinstance(answer, dict) else {})


def match_outcomes(batch: list[DicomFile], answer: dict[str, Any]) -> list[InstanceResult]:
    """Each file's fate in a Store Instances Response (PS3.18 Table I.1-1): by its SOP Instance
    UID, or, for what neither side could read a UID from, in request order."""
    stored: list[str | None] = [
        _first(item, _REFERENCED_SOP_INSTANCE_UID)
        for item in _items(answer, _REFERENCED_SOP_SEQUENCE)
    ]
    failures: dict[str | None, list[str]] = {}
    for item in _items(answer, _FAILED_SOP_SEQUENCE):
        failures.setdefault(_first(item, _REFERENCED_SOP_INSTANCE_UID), []).append(_reason(item))
    results: list[InstanceResult | None] = []
    for file in batch:
        if file.sop is not None and failures.get(file.sop):
            results.append(InstanceResult(file, Outcome.FAILED, failures[file.sop].pop(0)))
        elif file.sop is not None and file.sop in stored:
            stored.remove(file.sop)
            results.append(InstanceResult(file, Outcome.STORED))
        else:
            results.append(None)
    # Files whose UIDs this side could not read take the answers whose UIDs it does not know.
    anonymous = [reason for sop, reasons in failures.items() for reason in reasons]
    final: list[InstanceResult] = []
    for file, result in zip(batch, results, strict=True):
        if result is None:
            if anonymous:
                result = InstanceResult(file, Outcome.FAILED, anonymous.pop(0))
            elif stored:
                stored.pop(0)
                result = InstanceResult(file, Outcome.STORED)
            else:
                result = InstanceResult(file, Outcome.FAILED, "missing from the STOW-RS response")
        final.append(result)
    return final


def _items(dataset: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    items = dataset.get(tag, {}).get("Value") or []
    return [item for item in items if isinstance(item, dict)]


def _first(dataset: dict[str, Any], tag: str) -> Any:
    values = dataset.get(tag, {}).get("Value") or [None]
    return values[0]


def _reason(item: dict[str, Any]) -> str:
    """``"<detail> (Failure Reason 0110H: processing failure)"`` from a Failed SOP item."""
    from dicomstore.dicom.stow_response import FAILURE_DETAIL_JSON_TAG, FailureReason

    detail = _first(item, FAILURE_DETAIL_JSON_TAG) or ""
    code = _first(item, _FAILURE_REASON)
    if not isinstance(code, int):
        return detail or "no reason given"
    try:
        meaning = FailureReason(code).name.replace("_", " ").lower()
    except ValueError:
        meaning = "unknown reason"
    reason = f"Failure Reason {code:04X}H: {meaning}"
    return f"{detail} ({reason})" if detail else reason


# -- QIDO-RS --------------------------------------------------------------------------------------


def search(
    client: HealthcareClient,
    store: str,
    level: str,
    *,
    study: str | None = None,
    series: str | None = None,
    filters: Sequence[tuple[str, str]] = (),
    includefields: Sequence[str] = (),
    limit: int | None = None,
    offset: int | None = None,
    fuzzymatching: bool | None = None,
) -> list[dict[str, Any]]:
    """A QIDO-RS search (PS3.18 §10.6) of ``level`` (``studies``, ``series`` or ``instances``),
    within ``study`` and ``series`` when given; the matches as DICOM JSON."""
    scope = "".join(
        f"/{name}/{uid}" for name, uid in (("studies", study), ("series", series)) if uid
    )
    params: dict[str, Any] = {}
    for key, value in filters:
        params.setdefault(key, []).append(value)
    if includefields:
        params["includefield"] = list(includefields)
    params.update(limit=limit, offset=offset, fuzzymatching=fuzzymatching)
    response = client.request(
        "GET",
        f"{_dicomweb_root(store)}{scope}/{level}",
        params=params,
        headers={"Accept": DICOM_JSON},
    )
    if response.status_code == 204 or not response.content:
        return []
    matches = response.json()
    return matches if isinstance(matches, list) else []


def flat_attributes(dataset: dict[str, Any]) -> dict[str, str]:
    """A DICOM JSON data set as ``{keyword: text}``: person names by their alphabetic group,
    several values joined by ``\\``, sequences and bulk data summarised."""
    from dicomstore.dicom.attributes import keyword_for

    flat: dict[str, str] = {}
    for tag, element in dataset.items():
        if not isinstance(element, dict):
            continue
        values = element.get("Value")
        if element.get("vr") == "SQ":
            text = f"<{len(values)} items>" if values else ""
        elif "BulkDataURI" in element or "InlineBinary" in element:
            text = "<bulk data>"
        else:
            text = "\\".join(_text(value) for value in values or [])
        flat[keyword_for(tag)] = text
    return flat


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("Alphabetic", ""))
    return "" if value is None else str(value)


# -- WADO-RS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a request is about: a study, one of its series, or one instance."""

    study: str
    series: str | None = None
    instance: str | None = None

    def __post_init__(self) -> None:
        if self.instance and not self.series:
            raise ValueError("an instance needs its series")

    @property
    def path(self) -> str:
        path = f"studies/{self.study}"
        if self.series:
            path += f"/series/{self.series}"
        if self.instance:
            path += f"/instances/{self.instance}"
        return path


def retrieve_instances(
    client: HealthcareClient,
    store: str,
    target: Target,
    output: Path,
    *,
    transfer_syntax: str = "*",
    on_bytes: _ByteCallback | None = None,
    on_total: _ByteCallback | None = None,
) -> list[Path]:
    """Retrieve the instances of ``target`` (PS3.18 §10.4) as ``{study}/{series}/{sop}.dcm``
    files below ``output``, named from each file's own header. ``transfer_syntax="*"`` asks for
    the bytes as stored; a UID asks the server to transcode."""
    accept = f'multipart/related; type="application/dicom"; transfer-syntax={transfer_syntax}'
    written: list[Path] = []
    with client.stream(
        "GET", f"{_dicomweb_root(store)}/{target.path}", headers={"Accept": accept}
    ) as response:
        _announce_length(response, on_total)
        for index, content_type, chunks in _response_parts(response, on_bytes):
            if media_type_of(content_type or "application/dicom") != "application/dicom":
                raise ApiError(0, "UNKNOWN", f"part {index} is {content_type}, not a DICOM file")
            spooled = _spool(chunks, output)
            study, series, sop = _safe_uids(_header_uids(spooled), target, index)
            written.append(_move(spooled, output / study / series / f"{sop}.dcm"))
    return written


def retrieve_metadata(
    client: HealthcareClient,
    store: str,
    target: Target,
    output: Path,
    *,
    on_bytes: _ByteCallback | None = None,
    on_total: _ByteCallback | None = None,
) -> list[Path]:
    """Retrieve the metadata of ``target`` (PS3.18 §10.4.1.1.2) as one DICOM JSON file per
    instance, ``{study}/{series}/{sop}.json`` below ``output``."""
    body = bytearray()
    with client.stream(
        "GET", f"{_dicomweb_root(store)}/{target.path}/metadata", headers={"Accept": DICOM_JSON}
    ) as response:
        _announce_length(response, on_total)
        for chunk in response.iter_bytes():
            body += chunk
            if on_bytes is not None:
                on_bytes(len(chunk))
    instances = json.loads(body) if body else []
    written: list[Path] = []
    for index, instance in enumerate(instances):
        uids = [_first(instance, tag) for tag in (_STUDY, _SERIES, _SOP)]
        study, series, sop = _safe_uids(uids, target, index)
        path = output / study / series / f"{sop}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(instance, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def retrieve_frames(
    client: HealthcareClient,
    store: str,
    target: Target,
    frames: Sequence[int],
    output: Path,
    *,
    accept: str = FRAMES_ACCEPT,
    on_bytes: _ByteCallback | None = None,
    on_total: _ByteCallback | None = None,
) -> list[Path]:
    """Retrieve ``frames`` (numbered from 1) of the instance ``target`` (PS3.18 §10.4.1.1.3) as
    ``{study}/{series}/{sop}/frame-{n}{ext}``, the extension following each part's media type."""
    if not target.instance or not frames:
        raise ValueError("frames are retrieved from one instance, by number")
    folder = output / target.study / str(target.series) / target.instance
    numbers = ",".join(map(str, frames))
    written: list[Path] = []
    with client.stream(
        "GET",
        f"{_dicomweb_root(store)}/{target.path}/frames/{numbers}",
        headers={"Accept": accept},
    ) as response:
        _announce_length(response, on_total)
        for index, content_type, chunks in _response_parts(response, on_bytes):
            number = frames[index] if index < len(frames) else index + 1
            spooled = _spool(chunks, output)
            extension = _EXTENSIONS.get(media_type_of(content_type), ".raw")
            written.append(_move(spooled, folder / f"frame-{number}{extension}"))
    return written


def retrieve_rendered(
    client: HealthcareClient,
    store: str,
    target: Target,
    output: Path,
    *,
    frame: int | None = None,
    accept: str = "image/jpeg",
    viewport: str | None = None,
    on_bytes: _ByteCallback | None = None,
    on_total: _ByteCallback | None = None,
) -> Path:
    """Retrieve the instance ``target`` (or one of its frames) rendered as an image (PS3.18
    §10.4.1.1.4): ``{study}/{series}/{sop}.jpg``, or ``{sop}/frame-{n}.jpg`` for a frame."""
    if not target.instance:
        raise ValueError("a rendered image is of one instance")
    path = f"{_dicomweb_root(store)}/{target.path}"
    if frame is not None:
        path += f"/frames/{frame}"
    with client.stream(
        "GET", f"{path}/rendered", params={"viewport": viewport}, headers={"Accept": accept}
    ) as response:
        _announce_length(response, on_total)
        extension = _EXTENSIONS.get(media_type_of(response.headers.get("content-type", "")), "")
        spooled = _spool(_counted(response.iter_bytes(), on_bytes), output)
    folder = output / target.study / str(target.series)
    name = f"{target.instance}{extension}"
    if frame is not None:
        folder, name = folder / target.instance, f"frame-{frame}{extension}"
    return _move(spooled, folder / name)


def delete(client: HealthcareClient, store: str, target: Target) -> dict[str, Any]:
    """Delete ``target``: a study or series answers the long-running Operation that deletes
    it, an instance an empty object."""
    answer = client.call("DELETE", f"{_dicomweb_root(store)}/{target.path}")
    return answer if isinstance(answer, dict) else {}


def _announce_length(response: httpx.Response, on_total: _ByteCallback | None) -> None:
    length = response.headers.get("content-length")
    if on_total is not None and length and length.isdigit():
        on_total(int(length))


def _counted(chunks: Iterator[bytes], on_bytes: _ByteCallback | None) -> Iterator[bytes]:
    for chunk in chunks:
        if on_bytes is not None:
            on_bytes(len(chunk))
        yield chunk


def _response_parts(
    response: httpx.Response, on_bytes: _ByteCallback | None
) -> Iterator[tuple[int, str, Iterator[bytes]]]:
    """The parts of a multipart answer (index, Content-Type, chunks); a single-part answer
    is its one part."""
    content_type = response.headers.get("content-type", "")
    raw = _counted(response.iter_bytes(_CHUNK), on_bytes)
    if not media_type_of(content_type).startswith("multipart/"):
        yield 0, content_type, raw
        return
    for part in iter_parts(raw, boundary_of(content_type)):
        yield part.index, part.content_type, part.chunks()


def _spool(chunks: Iterable[bytes], output: Path) -> Path:
    """Write ``chunks`` to a new hidden file in ``output``; its path."""
    output.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=output, prefix=".retrieving-")
    try:
        with os.fdopen(handle, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _move(spooled: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    spooled.replace(destination)
    return destination


def _safe_uids(uids: Sequence[Any], target: Target, index: int) -> tuple[str, str, str]:
    """Folder and file names from UIDs, falling back on the request's own (a name that is not a
    UID never becomes a path: it could climb out of the output folder)."""
    fallback = (target.study, target.series or "unknown-series", target.instance or f"part-{index}")
    safe = [
        str(uid) if uid and _UID_RE.fullmatch(str(uid)) else default
        for uid, default in zip(uids, fallback, strict=True)
    ]
    return safe[0], safe[1], safe[2]
