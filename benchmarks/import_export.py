"""Import and export throughput: instances/s and MB/s through ``dicomStores.import`` and
``dicomStores.export``, with fake-gcs-server as Cloud Storage (or a folder, ``--source file``).

Synthetic CT-like instances (16-bit 512x512, about 0.5 MiB each by default) are uploaded to a
bucket, imported into a new store, then exported three ways: as stored (Part 10), as PNG (one
rendered frame each) and as metadata rows into the embedded DuckDB table. Each operation is
polled through ``datasets.operations.get`` until done; the time is from the call to done. Run::

    python benchmarks/import_export.py [--instances 500] [--source gcs|file] [--postgres URL]

Prints figures and the server's peak RSS; asserts only that every operation succeeded.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _harness import (
    MIB,
    add_database_arguments,
    create_store,
    machine,
    proc_status,
    run_on_database,
    running_server,
)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.object_servers import gcs_emulator


def ct_instances(count: int, size: int) -> Callable[[int], bytes]:
    """A factory of Part 10 CT images: one study, 10 series, random 16-bit pixels."""
    study = generate_uid()
    series = [generate_uid() for _ in range(10)]
    pixels = np.random.default_rng(1).integers(0, 4096, (size, size), dtype=np.uint16).tobytes()

    def make(number: int) -> bytes:
        dataset = Dataset()
        dataset.file_meta = FileMetaDataset()
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.file_meta.MediaStorageSOPClassUID = CTImageStorage
        dataset.SOPClassUID = CTImageStorage
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.StudyInstanceUID = study
        dataset.SeriesInstanceUID = series[number % len(series)]
        dataset.PatientName, dataset.PatientID, dataset.Modality = "Bench^Mark", "B-1", "CT"
        dataset.StudyDate, dataset.InstanceNumber = "20240101", number + 1
        dataset.Rows = dataset.Columns = size
        dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
        dataset.PixelRepresentation, dataset.RescaleIntercept, dataset.RescaleSlope = 0, -1024, 1
        dataset.WindowCenter, dataset.WindowWidth = 40, 400
        dataset.PixelData = pixels
        with io.BytesIO() as buffer:
            dataset.save_as(buffer, enforce_file_format=True)
            return buffer.getvalue()

    del count
    return make


def wait_done(client: httpx.Client, base_url: str, operation: dict[str, Any]) -> dict[str, Any]:
    while not operation.get("done"):
        time.sleep(0.05)
        response = client.get(f"{base_url}/v1/{operation['name']}")
        response.raise_for_status()
        operation = response.json()
    if "error" in operation:
        raise RuntimeError(f"operation failed: {operation['error']}")
    return operation


def timed(client: httpx.Client, base_url: str, url: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = client.post(url, json=body)
    response.raise_for_status()
    wait_done(client, base_url, response.json())
    return time.perf_counter() - started


def run(arguments: argparse.Namespace, database_url: str | None) -> None:
    make = ct_instances(arguments.instances, arguments.size)
    with tempfile.TemporaryDirectory() as scratch, gcs_emulator() as emulator:
        root = Path(scratch)
        if arguments.source == "gcs":
            bucket = emulator.create_bucket()
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import storage

            target = storage.Client(project="bench", credentials=AnonymousCredentials()).bucket(
                bucket
            )
            total = 0
            for number in range(arguments.instances):
                data = make(number)
                total += len(data)
                target.blob(f"in/{number:06}.dcm").upload_from_string(data)
            source, out = f"gs://{bucket}/in/**.dcm", f"gs://{bucket}/out"
        else:
            folder = root / "in"
            folder.mkdir()
            total = 0
            for number in range(arguments.instances):
                data = make(number)
                total += len(data)
                (folder / f"{number:06}.dcm").write_bytes(data)
            (root / "out").mkdir()
            source, out = f"file://{folder}/**.dcm", f"file://{root / 'out'}"
        with (
            running_server(root / "data", database_url=database_url) as server,
            httpx.Client(timeout=600) as client,
        ):
            dicomweb = create_store(client, server.url)
            store_url = dicomweb.removesuffix("/dicomWeb")
            count, size_mb = arguments.instances, total / 1e6
            print(f"{machine()}; {count} instances, {total / MIB:.0f} MiB, from {arguments.source}"
                  f", index {'PostgreSQL' if database_url else 'SQLite'}")  # fmt: skip
            rows = []
            seconds = timed(client, server.url, f"{store_url}:import",
                            {"gcsSource": {"uri": source}})  # fmt: skip
            rows.append(("import (Part 10)", seconds, size_mb))
            seconds = timed(client, server.url, f"{store_url}:export",
                            {"gcsDestination": {"uriPrefix": f"{out}/dcm"}})  # fmt: skip
            rows.append(("export Part 10 as stored", seconds, size_mb))
            seconds = timed(client, server.url, f"{store_url}:export",
                            {"gcsDestination": {"uriPrefix": f"{out}/png",
                                                "mimeType": "image/png"}})  # fmt: skip
            rows.append(("export PNG (rendered)", seconds, None))
            table = {"tableUri": "bq://bench.exports.rows"}
            seconds = timed(client, server.url, f"{store_url}:export",
                            {"bigqueryDestination": table})  # fmt: skip
            rows.append(("export metadata to DuckDB", seconds, None))
            print(f"{'operation':<28} {'seconds':>8} {'instances/s':>12} {'MB/s':>8}")
            for label, seconds, megabytes in rows:
                rate = f"{megabytes / seconds:8.1f}" if megabytes else f"{'':>8}"
                print(f"{label:<28} {seconds:8.2f} {count / seconds:12.1f} {rate}")
            status = proc_status(server.pid)
            print(f"server peak RSS {status['VmHWM'] / MIB:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=500, help="instances (500)")
    parser.add_argument("--size", type=int, default=512, help="rows and columns (512)")
    parser.add_argument("--source", choices=("gcs", "file"), default="gcs")
    add_database_arguments(parser)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    run_on_database(parser.parse_args(), run)


if __name__ == "__main__":
    main()
