"""What the benchmark scripts share: a ``dicomstore serve`` child process on a free loopback port,
a store to talk to, /proc memory readings of the server, a throw-away PostgreSQL database, and
percentiles. Not a benchmark itself.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import mmap
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

MIB = 1024 * 1024
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A ``python -m dicomstore serve`` child process listening on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> int | None:
        """SIGTERM, as a service manager would; the exit code (SIGKILL after 30 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return None


@contextlib.contextmanager
def running_server(
    data_dir: Path, *, database_url: str | None = None, extra: Sequence[str] = ()
) -> Iterator[Server]:
    """Start the server on a free port, wait for ``/healthz``, stop it with SIGTERM on exit."""
    port = free_port()
    command = [sys.executable, "-m", "dicomstore", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", str(data_dir), "--log-level", "warning",
               *extra]  # fmt: skip
    if database_url:
        command += ["--database-url", database_url]
    log_path = data_dir.parent / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {process.returncode}:\n{log_path.read_text()}"
                )
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy within 60 s")
            time.sleep(0.05)
        yield server
    finally:
        code = server.stop()
        if code != 0:
            tail = log_path.read_text(errors="replace")[-4000:]
            print(f"(server exited with {code}; end of its log:)\n{tail}", file=sys.stderr)


SOURCE = str(Path(__file__).parent.parent / "src")


@contextlib.contextmanager
def server_from_source(source: str, prefix: str) -> Iterator[tuple[Server, int, httpx.Client]]:
    """`running_server` (``--qido-mode standard``, SQLite, a temporary folder named with
    ``prefix``) run from the source tree ``source`` (`SOURCE`, this checkout's, or an exported
    older commit's: for comparing two versions); with its port and a client for its REST API."""
    os.environ["PYTHONPATH"] = os.path.abspath(source)
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as folder,
        running_server(Path(folder) / "data", extra=["--qido-mode", "standard"]) as server,
        httpx.Client(timeout=60) as admin,
    ):
        port = urllib.parse.urlsplit(server.url).port
        assert port is not None
        yield server, port, admin


def create_store(client: httpx.Client, base_url: str) -> str:
    """Create a dataset and a DICOM store with fresh names; the store's ``dicomWeb`` URL."""
    suffix = uuid.uuid4().hex[:8]
    dataset, store = f"bench-{suffix}", f"store-{suffix}"
    datasets = f"{base_url}/v1/projects/bench/locations/local/datasets"
    response = client.post(datasets, params={"datasetId": dataset}, json={})
    response.raise_for_status()
    stores = f"{datasets}/{dataset}/dicomStores"
    response = client.post(stores, params={"dicomStoreId": store}, json={})
    response.raise_for_status()
    return f"{stores}/{store}/dicomWeb"


def store_metrics(client: httpx.Client, dicomweb_url: str) -> dict[str, str]:
    """``getDICOMStoreMetrics`` of the store whose ``dicomWeb`` URL is given."""
    store_url = dicomweb_url.removesuffix("/dicomWeb")
    response = client.get(f"{store_url}:getDICOMStoreMetrics")
    response.raise_for_status()
    metrics: dict[str, str] = response.json()
    return metrics


# --- memory of the server process -------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (the peak RSS) and friends of ``pid`` from /proc, in bytes."""
    figures: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name.startswith("Vm") or name.startswith("Rss"):
                number, _, unit = value.strip().partition(" ")
                if unit == "kB":
                    figures[name] = int(number) * 1024
    return figures


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` (all its threads) so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (``clear_refs`` 5, Linux ≥ 4.0).

    Needs write access to /proc/PID/clear_refs, which the owner of a child process has.
    """
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Polls VmRSS of a process in a thread; ``peak`` is the largest sample seen."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = proc_status(self.pid).get("VmRSS", 0)
            except OSError:
                return
            self.peak = max(self.peak, rss)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- PostgreSQL -------------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """A new, empty database on ``server_url`` (``postgresql://user@host:port``), dropped after."""
    import psycopg

    name = f"dicomstore_bench_{uuid.uuid4().hex[:12]}"
    admin_url = f"{server_url.rstrip('/')}/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_url.rstrip('/')}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- figures ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def machine() -> str:
    """CPUs, load average and the cost of fresh memory: benchmarks on a busy machine measure the
    machine."""
    one, five, _ = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min), "
        f"{fresh_page_microseconds():.2f} µs per fresh 4 KiB page"
    )


def fresh_page_microseconds(size: int = 64 * MIB) -> float:
    """Microseconds to first write a page of memory the process has just mapped (a page fault:
    the kernel finds, zeroes and maps a free page), averaged over ``size`` bytes.

    A few tenths of a microsecond on bare metal. In a virtual machine whose hypervisor takes
    back the guest's free memory (this one's balloon reports free 2 MiB blocks to the host),
    the host has to supply such pages anew: 3–12 µs each here, and a file written to a new page
    cache pays the same per 4 KiB, so every STOW of a 531 KB CT slice pays 0.4–1.6 ms of kernel
    time in either server. It changes from hour to hour with the host, hence this figure next
    to the results.
    """
    region = mmap.mmap(-1, size)
    try:
        started = time.perf_counter()
        for offset in range(0, size, mmap.PAGESIZE):
            region[offset] = 1
        elapsed = time.perf_counter() - started
    finally:
        region.close()
    return elapsed / (size // mmap.PAGESIZE) * 1e6


def mib(size: float) -> str:
    return f"{size / MIB:.1f} MiB"


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` (used as is) or ``--postgres`` (a throw-away database); SQLite else."""
    database = parser.add_mutually_exclusive_group()
    database.add_argument(
        "--database-url", help="index database URL, used as is (an existing PostgreSQL database)"
    )
    database.add_argument(
        "--postgres",
        metavar="SERVER_URL",
        help="create a throw-away database on this server (postgresql://postgres@127.0.0.1:5432)",
    )


def run_on_database(arguments: argparse.Namespace, run: Callable[..., None]) -> None:
    """Call ``run(arguments, database_url)`` on the database the arguments name."""
    warnings.simplefilter("ignore")
    if arguments.postgres:
        with throwaway_postgres(arguments.postgres) as database_url:
            run(arguments, database_url)
    else:
        run(arguments, arguments.database_url)


# --- process trees and sockets (added for vs_orthanc.py) --------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/PID/task/*/children, Linux ≥ 3.5)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except OSError:
            continue
    return found


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU time used so far by each live thread of process ``pid``, by thread id, from the
    kernel's nanosecond scheduler accounting (/proc/PID/task/TID/schedstat)."""
    seconds: dict[int, float] = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return seconds
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                seconds[int(task)] = int(stat.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue
    return seconds


def thread_times(pid: int) -> dict[str, float]:
    """The server's CPU seconds — on its event loops (each process's main thread) and on its
    other threads (`thread_cpu_seconds`); user and kernel, from the processes' tick counters
    (which keep the time of threads that have ended) — context switches and minor page faults,
    summed over its processes."""
    totals = dict.fromkeys(("loops", "threads", "user", "kernel", "switches", "faults"), 0.0)
    for process in process_tree(pid):
        try:
            stat = Path(f"/proc/{process}/stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        totals["user"] += int(fields[11]) / _TICK
        totals["kernel"] += int(fields[12]) / _TICK
        totals["faults"] += int(fields[7])  # minor page faults
        for tid, on_cpu in thread_cpu_seconds(process).items():
            totals["loops" if tid == process else "threads"] += on_cpu
            try:
                status = Path(f"/proc/{process}/task/{tid}/status").read_text()
            except OSError:  # the thread ended meanwhile
                continue
            totals["switches"] += sum(
                int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line
            )
    return totals


def spent_per_item(
    before: dict[str, float], after: dict[str, float], items: int
) -> dict[str, float]:
    """What the server spent between two `thread_times` readings, per item served."""
    return {name: (after[name] - before[name]) / items for name in after}


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time used so far by the process trees of ``pids``, every thread
    (`thread_cpu_seconds`)."""
    members = {member for root in pids for member in process_tree(root)}
    return sum(sum(thread_cpu_seconds(pid).values()) for pid in members)


def wait_until_quiet(
    pids: Sequence[int], *, share: float = 0.05, window: float = 0.2, timeout: float = 10.0
) -> float:
    """Wait until what the servers wrote is on disk (``sync``: the kernel writing back the
    gigabytes of a STOW phase would slow whichever server is measured meanwhile) and the process
    trees of ``pids`` together use less than ``share`` of one CPU over ``window`` seconds (a
    server still flushing or compacting after the previous figure would otherwise be measured
    against the other one); the seconds waited, ``timeout`` at most for the latter."""
    started = time.monotonic()
    os.sync()
    synced = time.monotonic()
    while True:
        before = tree_cpu_seconds(pids)
        time.sleep(window)
        if tree_cpu_seconds(pids) - before < share * window:
            return time.monotonic() - started
        if time.monotonic() - synced > timeout:
            return time.monotonic() - started


def tree_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM summed over ``pid`` and its descendants, in bytes (a server may fork
    workers; the sum of peaks bounds the peak of the sum from above)."""
    total = {"VmRSS": 0, "VmHWM": 0}
    for member in process_tree(pid):
        try:
            status = proc_status(member)
        except OSError:
            continue
        for name in total:
            total[name] += status.get(name, 0)
    return total


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket of a process: its address as /proc/net/tcp{,6} shows it."""

    family: int  # socket.AF_INET or socket.AF_INET6
    address: str
    port: int

    @property
    def loopback(self) -> bool:
        import ipaddress

        return ipaddress.ip_address(self.address).is_loopback

    @property
    def wildcard(self) -> bool:
        return self.address in ("0.0.0.0", "::")


def listening_sockets(pid: int) -> list[Listener]:
    """The TCP sockets ``pid`` listens on, found by matching the socket inodes of its open file
    descriptors against /proc/PID/net/tcp and tcp6 (which show the process's network namespace)."""
    import ipaddress

    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    listeners = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(f"/proc/{pid}/net/{name}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: TCP_LISTEN
                continue
            hex_address, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_address)
            # The kernel prints the address as 32-bit words in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = str(ipaddress.ip_address(raw))
            listeners.append(Listener(family, address, int(hex_port, 16)))
    return listeners
