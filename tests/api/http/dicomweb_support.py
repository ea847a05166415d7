"""Helpers for the DICOMweb integration tests.

google-api-python-client's DICOMweb methods (``storeInstances``, ``retrieveStudy``, …) carry raw
HTTP bodies (``google.api.HttpBody``): :func:`execute_raw` sends one with its own Content-Type and
Accept and returns the raw answer, which the JSON model of the client would otherwise try to
decode. The rest builds STOW-RS bodies and Part 10 files, reads multipart answers with an
independent parser (requests-toolbelt), and groups pydicom's test files into batches that can
share a store.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from googleapiclient.errors import HttpError
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from requests_toolbelt.multipart.decoder import MultipartDecoder

from dicomstore.dicom.part10 import InstanceHeader, read_instance
from dicomstore.errors import InvalidArgument
from tests.dicom.corpus import corpus

__all__ = [
    "CorpusFile",
    "RawResponse",
    "blob_files",
    "corpus_batches",
    "corpus_files",
    "error_of",
    "execute_raw",
    "instance_path",
    "make_instance",
    "multipart_body",
    "part10",
    "refused_files",
    "stores_api",
]

BOUNDARY = "dicomstore-test-boundary-7c1f"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


@dataclass(frozen=True)
class RawResponse:
    """A 2xx answer of the server, as sent."""

    status: int
    headers: dict[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers["content-type"]

    def json(self) -> Any:
        return json.loads(self.content)

    def parts(self) -> list[tuple[dict[str, str], bytes]]:
        """The parts of a multipart answer, read by requests-toolbelt (not our own parser)."""
        decoder = MultipartDecoder(self.content, self.content_type)
        return [
            ({key.decode().lower(): value.decode() for key, value in part.headers.items()},
             part.content)
            for part in decoder.parts
        ]  # fmt: skip


def stores_api(healthcare: Any) -> Any:
    """``projects.locations.datasets.dicomStores`` of the healthcare v1 client."""
    return healthcare.projects().locations().datasets().dicomStores()


def execute_raw(
    request: Any,
    *,
    body: bytes | None = None,
    content_type: str | None = None,
    accept: str | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """Execute a google-api-python-client request with a raw body and the given headers.

    The client's JSON model sets ``Accept: application/json``; ``accept=None`` removes it, so the
    server's default representation is what comes back. Non-2xx answers raise ``HttpError`` as
    the client always does.
    """
    if body is not None:
        request.body = body
        request.body_size = len(body)
        request.headers["content-length"] = str(len(body))
    if content_type is not None:
        request.headers["content-type"] = content_type
    request.headers.pop("accept", None)
    if accept is not None:
        request.headers["accept"] = accept
    request.headers.update(headers or {})
    request.postproc = lambda response, content: RawResponse(
        response.status, {key.lower(): value for key, value in response.items()}, content
    )
    answer: RawResponse = request.execute()
    return answer


def error_of(request: Any, **options: Any) -> tuple[int, dict[str, Any]]:
    """The status and Google error envelope of a request expected to fail."""
    with pytest.raises(HttpError) as raised:
        execute_raw(request, **options)
    response = raised.value.resp
    assert response["content-type"].startswith("application/json"), response
    envelope = json.loads(raised.value.content)
    assert set(envelope) == {"error"}
    error = envelope["error"]
    assert error["code"] == response.status
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["status"], str)
    return int(response.status), error


def multipart_body(
    parts: Iterable[bytes],
    *,
    boundary: str = BOUNDARY,
    part_type: str | None = "application/dicom",
) -> bytes:
    """A multipart/related body of ``parts`` (RFC 2046 §5.1.1)."""
    out = io.BytesIO()
    for part in parts:
        out.write(f"--{boundary}\r\n".encode())
        if part_type is not None:
            out.write(f"Content-Type: {part_type}\r\n".encode())
        out.write(b"\r\n")
        out.write(part)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def stow_content_type(boundary: str = BOUNDARY, *, quoted: bool = True) -> str:
    root = '"application/dicom"' if quoted else "application/dicom"
    return f"multipart/related; type={root}; boundary={boundary}"


def make_instance(
    *,
    study: str | None = None,
    series: str | None = None,
    sop: str | None = None,
    number: int = 1,
    transfer_syntax: str = ExplicitVRLittleEndian,
    **attributes: Any,
) -> Dataset:
    """A small Secondary Capture image (4x4, 8-bit) with the given UIDs."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = transfer_syntax
    dataset.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    dataset.SOPClassUID = SECONDARY_CAPTURE
    dataset.SOPInstanceUID = sop or generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.StudyInstanceUID = study or generate_uid()
    dataset.SeriesInstanceUID = series or generate_uid()
    dataset.PatientName = "Test^Patient"
    dataset.PatientID = "P-1"
    dataset.Modality = "OT"
    dataset.InstanceNumber = number
    dataset.Rows = dataset.Columns = 4
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 8
    dataset.HighBit = 7
    dataset.PixelRepresentation = 0
    dataset.PixelData = bytes(range(number, number + 16))
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return dataset


def part10(dataset: Dataset) -> bytes:
    """``dataset`` as a Part 10 file."""
    with io.BytesIO() as buffer:
        dataset.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()


def instance_path(study: str, series: str, sop: str) -> str:
    return f"studies/{study}/series/{series}/instances/{sop}"


def blob_files(data_dir: Path, content: bytes) -> list[Path]:
    """The blob files holding ``content`` (blob keys are random: compared by size, then bytes)."""
    blobs = data_dir / "blobs"
    return sorted(
        path
        for path in blobs.glob("*/??/*")
        if path.is_file() and path.stat().st_size == len(content) and path.read_bytes() == content
    )


def staging_files(data_dir: Path) -> list[Path]:
    staging = data_dir / "blobs" / ".dicomstore-staging"
    return sorted(staging.iterdir()) if staging.exists() else []


# -- pydicom's test files ------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusFile:
    """A pydicom test file that ``read_instance`` accepts, with its identity."""

    path: Path
    study: str
    series: str
    sop: str
    sop_class: str
    transfer_syntax: str
    number_of_frames: int
    has_frame_ranges: bool

    @property
    def instance_path(self) -> str:
        return instance_path(self.study, self.series, self.sop)


def _read(path: Path) -> InstanceHeader | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return read_instance(path)
        except InvalidArgument:
            return None


def _classify() -> tuple[list[CorpusFile], list[Path]]:
    accepted: list[CorpusFile] = []
    refused: list[Path] = []
    for path in corpus():
        header = _read(path)
        if header is None:
            refused.append(path)
            continue
        accepted.append(
            CorpusFile(
                path,
                header.study_instance_uid,
                header.series_instance_uid,
                header.sop_instance_uid,
                header.sop_class_uid,
                header.transfer_syntax_uid,
                header.number_of_frames,
                header.frames is not None,
            )
        )
    return accepted, refused


_ACCEPTED, _REFUSED = _classify()


def corpus_files() -> list[CorpusFile]:
    """pydicom's test files that ``read_instance`` accepts."""
    return list(_ACCEPTED)


def refused_files() -> list[Path]:
    """pydicom's test files (DICOM or not) that ``read_instance`` refuses."""
    return list(_REFUSED)


def corpus_batches(files: Sequence[CorpusFile]) -> list[list[CorpusFile]]:
    """``files`` in as few batches as possible such that no batch holds a SOP Instance UID
    twice: several test files are variants of one instance (same UIDs, other encodings), and
    each batch goes to its own store."""
    batches: list[list[CorpusFile]] = []
    for file in files:
        for batch in batches:
            if all(other.sop != file.sop for other in batch):
                batch.append(file)
                break
        else:
            batches.append([file])
    return batches


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def read_dataset(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def wait_for_operation(healthcare: Any, operation: dict[str, Any], timeout: float = 30) -> Any:
    """Poll ``datasets.operations.get`` until the operation is done; its final state."""
    operations = healthcare.projects().locations().datasets().operations()
    deadline = time.monotonic() + timeout
    while not operation.get("done"):
        assert time.monotonic() < deadline, f"operation not done after {timeout} s: {operation}"
        time.sleep(0.05)
        operation = operations.get(name=operation["name"]).execute()
    return operation


def wait_for_operations(base_url: str, dicom_store: str, timeout: float = 30) -> None:
    """Wait until no operation of the store's dataset is unfinished (for clients, such as
    dicomweb-client, that drop the Operation a study or series delete answers)."""
    dataset = dicom_store.rsplit("/dicomStores/", 1)[0]
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while True:
            answer = client.get(f"/v1/{dataset}/operations", params={"filter": "done=false"})
            answer.raise_for_status()
            if not answer.json().get("operations"):
                return
            assert time.monotonic() < deadline, f"operations not done after {timeout} s"
            time.sleep(0.05)
