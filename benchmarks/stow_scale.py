"""STOW-RS throughput with 1, 2 and 4 ``dicomstore serve`` processes sharing one PostgreSQL index
and one blob store: a shared local folder (``file://``) and Cloud Storage (fake-gcs-server).

Each run starts its servers (each with its own ``--data-dir``, the same ``--database-url`` and
``--blob-url``, ``--job-workers 0``), creates a fresh store through the first one, and sends
``--instances`` small synthetic CT instances (64x64 16-bit, about 10 KB each, encoded before the
clock starts) as single-instance ``multipart/related`` STOW-RS requests from ``--threads``
client threads per server, round-robin over the servers. Run::

    python benchmarks/stow_scale.py [--instances 2000] [--servers 1,2,4] [--threads 8]
                                    [--blobs file,gcs] [--postgres SERVER_URL]

Prints per run instances/s, MB/s, p50/p95 request latency and the ratio to 1 server, and checks
``getDICOMStoreMetrics`` instanceCount against the instances sent.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from _harness import (
    create_store,
    machine,
    percentile,
    running_server,
    store_metrics,
    throwaway_postgres,
)
from import_export import ct_instances

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.object_servers import gcs_emulator

SIZE = 64


@dataclass
class Result:
    blobs: str
    servers: int
    seconds: float
    megabytes: float
    latencies: list[float]
    failures: int
    instance_count: int

    @property
    def instances(self) -> int:
        return len(self.latencies)


def multipart(instance: bytes) -> tuple[bytes, str]:
    """A one-instance STOW-RS body and its Content-Type."""
    boundary = secrets.token_hex(16)
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + instance
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def one_run(
    arguments: argparse.Namespace, root: Path, database_url: str, blob_url: str, label: str,
    servers: int,
) -> Result:  # fmt: skip
    make = ct_instances(arguments.instances, SIZE)
    bodies = [multipart(make(number)) for number in range(arguments.instances)]
    warm_bodies = [multipart(make(number)) for number in range(2 * servers)]
    total = sum(len(body) for body, _ in bodies)
    extra = ["--blob-url", blob_url, "--job-workers", "0"]
    run_dir = Path(tempfile.mkdtemp(prefix=f"run-{servers}-", dir=root))
    with contextlib.ExitStack() as stack:
        running = []
        for index in range(servers):
            # running_server logs to data_dir.parent / "server.log": one folder per server.
            data_dir = run_dir / f"server{index}" / "data"
            data_dir.parent.mkdir()
            running.append(stack.enter_context(
                running_server(data_dir, database_url=database_url, extra=extra)
            ))  # fmt: skip
        threads = arguments.threads * servers
        limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
        client = stack.enter_context(httpx.Client(timeout=arguments.timeout, limits=limits))
        dicomweb = create_store(client, running[0].url)
        path = dicomweb.removeprefix(running[0].url)
        urls = [f"{server.url}{path}/studies" for server in running]
        # Every server must know the store (it lives in the shared index) before the clock, and
        # each stores two instances in another store first: no first-request costs in the figures.
        warm_path = create_store(client, running[0].url).removeprefix(running[0].url)
        for index, server in enumerate(running):
            client.get(f"{server.url}{path}/studies", params={"limit": 1}).raise_for_status()
            for body, content_type in warm_bodies[2 * index : 2 * index + 2]:
                client.post(f"{server.url}{warm_path}/studies", content=body,
                            headers={"Content-Type": content_type}).raise_for_status()  # fmt: skip
        latencies: list[float] = []
        failures = [0]
        lock = threading.Lock()

        def send(number: int) -> None:
            body, content_type = bodies[number]
            started = time.perf_counter()
            response = client.post(
                urls[number % servers],
                content=body,
                headers={"Content-Type": content_type, "Accept": "application/dicom+json"},
            )
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status_code != 200:
                    failures[0] += 1
                    if failures[0] <= 3:
                        print(f"  HTTP {response.status_code}: {response.text[:300]}")

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send, range(arguments.instances)))
        seconds = time.perf_counter() - started
        metrics = store_metrics(client, dicomweb)
    return Result(label, servers, seconds, total / 1e6, latencies, failures[0],
                  int(metrics.get("instanceCount", 0)))  # fmt: skip


def run(arguments: argparse.Namespace) -> None:
    warnings.simplefilter("ignore")
    counts = [int(count) for count in arguments.servers.split(",")]
    kinds = arguments.blobs.split(",")
    print(f"machine: {machine()}")
    print(f"{arguments.instances} instances of {SIZE}x{SIZE} 16-bit CT per run, one per request, "
          f"{arguments.threads} client threads per server")  # fmt: skip
    results: list[Result] = []
    with (
        tempfile.TemporaryDirectory(prefix="dicomstore-bench-") as scratch,
        throwaway_postgres(arguments.postgres) as database_url,
        gcs_emulator() as emulator,
    ):
        root = Path(scratch)
        for kind in kinds:
            for servers in counts:
                if kind == "gcs":
                    blob_url, label = f"gs://{emulator.create_bucket()}/blobs", "gcs (fake)"
                else:
                    folder = Path(tempfile.mkdtemp(prefix="blobs-", dir=root))
                    blob_url, label = f"file://{folder}", "local folder"
                result = one_run(arguments, root, database_url, blob_url, label, servers)
                results.append(result)
                print(f"  {label}, {servers} server(s): {result.seconds:.1f} s, {result.failures}"
                      f" failed, instanceCount {result.instance_count}")  # fmt: skip
    print()
    print(f"{'blob store':<14} {'servers':>7} {'inst/s':>8} {'MB/s':>7} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'vs 1':>6}  instanceCount")  # fmt: skip
    baseline: dict[str, float] = {}
    ok = True
    for result in results:
        rate = result.instances / result.seconds
        if result.servers == 1:
            baseline[result.blobs] = rate
        ratio = f"{rate / baseline[result.blobs]:6.2f}" if result.blobs in baseline else "     -"
        check = "OK" if result.instance_count == result.instances else "MISMATCH"
        ok = ok and check == "OK" and not result.failures
        print(f"{result.blobs:<14} {result.servers:>7} {rate:8.1f} "
              f"{result.megabytes / result.seconds:7.2f} "
              f"{percentile(result.latencies, 0.5) * 1000:8.1f} "
              f"{percentile(result.latencies, 0.95) * 1000:8.1f} {ratio}  "
              f"{result.instance_count}/{result.instances} {check}")  # fmt: skip
    print()
    print(f"machine: {machine()}")
    print("every store holds every instance sent" if ok else "SOME INSTANCES WERE NOT STORED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000, help="instances per run (2000)")
    parser.add_argument("--servers", default="1,2,4", help="server counts (1,2,4)")
    parser.add_argument("--threads", type=int, default=8, help="client threads per server (8)")
    parser.add_argument("--blobs", default="file,gcs", help="blob stores: file,gcs")
    parser.add_argument("--timeout", type=float, default=120, help="request timeout, s (120)")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432",
        metavar="SERVER_URL",
        help="PostgreSQL server for the throw-away index database (the role needs CREATEDB)",
    )
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
