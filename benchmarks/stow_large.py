"""One STOW-RS request of about 1 GiB: time, throughput and the server's peak RSS growth.

The body is a ``multipart/related; type="application/dicom"`` stream generated on the fly and
sent chunked (the client never holds it in memory): synthetic multi-frame instances, 16-bit
512x512 frames, about 16 MiB each by default. One header is built with pydicom and re-encoded
per instance with new UIDs; every frame is the same block of random bytes. Run::

    python benchmarks/stow_large.py [--size-mib 1024] [--instance-mib 16] [--database-url URL]

It starts ``dicomstore serve`` on a free loopback port in a temporary folder, warms it up with
one small request to another store, resets the server's VmHWM (``/proc/PID/clear_refs``), sends
the request while sampling VmRSS, then reads VmHWM and VmRSS from ``/proc/PID/status`` and checks
the store with ``getDICOMStoreMetrics``. The target (issue 3) is a peak RSS growth under 150 MiB.
Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import secrets
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydicom
from _harness import (
    MIB,
    RssSampler,
    add_database_arguments,
    cpu_seconds,
    create_store,
    machine,
    mib,
    proc_status,
    reset_peak_rss,
    run_on_database,
    running_server,
    store_metrics,
)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

TARGET_MIB = 150
ROWS = COLUMNS = 512
FRAME_BYTES = ROWS * COLUMNS * 2
MF_GRAYSCALE_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"


def template(frames: int) -> Dataset:
    """A multi-frame grayscale word secondary capture header, without its Pixel Data."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MF_GRAYSCALE_WORD_SC
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = MF_GRAYSCALE_WORD_SC
    dataset.PatientName = "Bench^Large"
    dataset.PatientID = "BENCH-LARGE"
    dataset.StudyDate = "20240101"
    dataset.StudyTime = "120000"
    dataset.AccessionNumber = "LARGE1"
    dataset.Modality = "OT"
    dataset.ConversionType = "WSD"
    dataset.StudyID = "1"
    dataset.SeriesNumber = 1
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.NumberOfFrames = frames
    dataset.FrameIncrementPointer = 0x00181063  # Frame Time
    dataset.FrameTime = 40.0
    dataset.Rows = ROWS
    dataset.Columns = COLUMNS
    dataset.BitsAllocated = 16
    dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    return dataset


def encode_header(dataset: Dataset, study: str, series: str, number: int) -> bytes:
    """The Part 10 bytes of ``dataset`` with new instance UIDs, up to Pixel Data's value."""
    sop_instance = generate_uid()
    dataset.StudyInstanceUID = study
    dataset.SeriesInstanceUID = series
    dataset.SOPInstanceUID = sop_instance
    dataset.file_meta.MediaStorageSOPInstanceUID = sop_instance
    dataset.InstanceNumber = number
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    pixel_length = FRAME_BYTES * int(dataset.NumberOfFrames)
    # (7FE0,0010) OW, explicit VR little endian: tag, VR, 2 reserved bytes, 32-bit length.
    return buffer.getvalue() + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, pixel_length)


def multipart_body(
    instances: int, frames: int, boundary: str, frame: bytes, sent: list[int]
) -> Iterator[bytes]:
    """The STOW-RS body, one piece at a time; ``sent[0]`` counts the bytes handed out."""
    dataset = template(frames)
    study, series = generate_uid(), generate_uid()
    opening = f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    for number in range(1, instances + 1):
        header = (
            (b"\r\n" if number > 1 else b"")
            + opening
            + encode_header(dataset, study, series, number)
        )
        sent[0] += len(header)
        yield header
        for _ in range(frames):
            sent[0] += len(frame)
            yield frame
    closing = f"\r\n--{boundary}--\r\n".encode()
    sent[0] += len(closing)
    yield closing


def stow(
    client: httpx.Client, dicomweb_url: str, instances: int, frames: int, frame: bytes
) -> tuple[httpx.Response, float, int]:
    boundary = secrets.token_hex(16)
    sent = [0]
    started = time.perf_counter()
    response = client.post(
        f"{dicomweb_url}/studies",
        content=multipart_body(instances, frames, boundary, frame, sent),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        },
    )
    return response, time.perf_counter() - started, sent[0]


def stored_counts(response: httpx.Response) -> tuple[int | None, int | None]:
    """Items of ReferencedSOPSequence and FailedSOPSequence in a DICOM JSON STOW response."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None, None

    def items(tag: str) -> int:
        return len(body.get(tag, {}).get("Value", []))

    return items("00081199"), items("00081198")


def run(arguments: argparse.Namespace, database_url: str | None) -> None:
    frames = max(1, round(arguments.instance_mib * MIB / FRAME_BYTES))
    instance_bytes = frames * FRAME_BYTES
    instances = max(1, round(arguments.size_mib * MIB / instance_bytes))
    frame = os.urandom(FRAME_BYTES)
    print(f"machine: {machine()}")
    print(
        f"request: {instances} instances x {frames} frames of {ROWS}x{COLUMNS} 16-bit "
        f"= {mib(instances * instance_bytes)} of pixel data, streamed chunked from a generator"
    )
    with tempfile.TemporaryDirectory(prefix="dicomstore-bench-") as directory:
        data_dir = Path(directory) / "data"
        with (
            running_server(data_dir, database_url=database_url) as server,
            httpx.Client(timeout=httpx.Timeout(arguments.timeout, connect=10)) as client,
        ):
            print(f"server: pid {server.pid}, {server.url}, index {database_url or 'SQLite'}")
            warm_url = create_store(client, server.url)
            warm, _, _ = stow(client, warm_url, 2, frames, frame)
            dicomweb_url = create_store(client, server.url)
            store_metrics(client, dicomweb_url)
            before = proc_status(server.pid)
            hwm_reset = reset_peak_rss(server.pid)
            if hwm_reset:
                before = proc_status(server.pid)
            cpu_start = cpu_seconds(server.pid)
            with RssSampler(server.pid) as sampler:
                response, seconds, sent = stow(client, dicomweb_url, instances, frames, frame)
            cpu = cpu_seconds(server.pid) - cpu_start
            after = proc_status(server.pid)
            metrics = store_metrics(client, dicomweb_url)

    referenced, failed = stored_counts(response)
    peak_growth = after["VmHWM"] - before["VmRSS"]
    sampled_growth = sampler.peak - before["VmRSS"]
    met = peak_growth < TARGET_MIB * MIB
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print()
    print(f"warm-up STOW (2 instances, other store): HTTP {warm.status_code}")
    print(f"HTTP status                 {response.status_code}")
    print(f"request body sent           {mib(sent)} ({sent} bytes)")
    print(f"request time                {seconds:.2f} s")
    print(f"throughput                  {sent / MIB / seconds:.1f} MiB/s"
          f" ({sent / 1e6 / seconds:.1f} MB/s)")  # fmt: skip
    print(f"server CPU                  {cpu:.2f} s ({cpu / seconds * 100:.0f}% of one core)")
    print(f"instances in response       {referenced} stored, {failed} failed")
    print(
        f"getDICOMStoreMetrics        instanceCount={metrics.get('instanceCount', '0')} "
        f"(expected {instances}), blobStorageSizeBytes={metrics.get('blobStorageSizeBytes', '0')}"
    )
    caveat = "" if hwm_reset else " (VmHWM could not be reset: the peak may predate the request)"
    print(f"server VmRSS before         {mib(before['VmRSS'])}{caveat}")
    print(f"server VmHWM after          {mib(after['VmHWM'])}")
    print(f"server VmRSS after          {mib(after['VmRSS'])}")
    print(f"server peak RSS growth      {mib(peak_growth)}  (VmHWM after - VmRSS before)")
    print(f"  sampled VmRSS peak growth {mib(sampled_growth)}  ({sampler.samples} samples)")
    print(f"target < {TARGET_MIB} MiB            {'MET' if met else 'MISSED'}")
    print(f"client peak RSS             {mib(client_peak)}")
    print(f"machine at the end: {machine()}")
    if response.status_code >= 400:
        print(f"response body: {response.text[:2000]}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=float, default=1024, help="request size (1024)")
    parser.add_argument("--instance-mib", type=float, default=16, help="instance size (16)")
    parser.add_argument("--timeout", type=float, default=900, help="HTTP timeout in s (900)")
    add_database_arguments(parser)
    run_on_database(parser.parse_args(), run)


if __name__ == "__main__":
    main()
