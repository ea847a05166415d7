"""``dicomstore serve --workers 2``: two server processes on one port, one SQLite index.

Which worker answers a connection is read from /proc: the server side of a TCP connection is a
socket that exactly one worker holds open.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from dicomstore.api.http import workers
from dicomstore.api.http.server import _worker_count
from dicomstore.client.http import HealthcareClient
from dicomstore.index import Index
from dicomstore.runtime import StartupError
from dicomstore.settings import Settings
from tests.api.http.dicomweb_support import make_instance, multipart_body, part10, stow_content_type
from tests.processes import ServerProcess, free_port, start_server

WORKERS = ("--workers", "2", "--log-level", "info")
LOAD_SECONDS = 3.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


# --- processes and connections as /proc shows them --------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listed:
            found += [int(child) for child in listed.read().split()]
    return sorted(found)


def running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie nobody reaped yet has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def first_worker(server: ServerProcess) -> int:
    """The pid of worker 0 (the one running operations), as the server last logged it."""
    pattern = r"dicomstore worker 0 \(pid (\d+)\) starting"
    wait_until(lambda: re.search(pattern, server.log()) is not None)
    return int(re.findall(pattern, server.log())[-1])


def workers_of(server: ServerProcess) -> list[int]:
    """The server's worker processes, once there are two (one may be being replaced)."""
    wait_until(lambda: len(children(server.process.pid)) == 2)
    return children(server.process.pid)


def serving_worker(client: httpx.Client, response: httpx.Response, workers: list[int]) -> int:
    """The worker holding the server side of the connection ``response`` came on."""
    client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    server_port = httpx.URL(str(client.base_url)).port
    with open("/proc/net/tcp") as table:
        rows = [row.split() for row in table.read().splitlines()[1:]]
    inodes = {
        row[9]
        for row in rows
        if int(row[1].split(":")[1], 16) == server_port
        and int(row[2].split(":")[1], 16) == client_port
    }
    for pid in workers:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def clients_per_worker(server: ServerProcess, count: int) -> dict[int, list[httpx.Client]]:
    """``count`` open keep-alive connections to each worker (the kernel picks the worker of a
    new connection: connect until each has its share)."""
    workers = workers_of(server)
    clients: dict[int, list[httpx.Client]] = {pid: [] for pid in workers}
    for _ in range(50 * count):
        client = httpx.Client(base_url=server.url, timeout=30)
        response = client.get("/healthz")
        assert response.status_code == 200
        held = clients[serving_worker(client, response, workers)]
        if len(held) < count:
            held.append(client)
        else:
            client.close()
        if all(len(held) == count for held in clients.values()):
            return clients
    raise AssertionError(f"connections did not reach both workers: {clients}")


# --- one server with two workers, shared by the module ----------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("workers") / "data", extra=WORKERS)
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def dicomweb(server: ServerProcess) -> str:
    """The DICOMweb path of a new store on the module's server."""
    return f"/v1/{server.create_dicom_store()}/dicomWeb"


def stow(client: httpx.Client, dicomweb: str, *files: bytes) -> httpx.Response:
    return client.post(
        f"{dicomweb}/studies",
        content=multipart_body(files),
        headers={"Content-Type": stow_content_type()},
    )


def found(client: httpx.Client, dicomweb: str, **query: str) -> list[str]:
    """SOP Instance UIDs QIDO finds for ``query``."""
    response = client.get(f"{dicomweb}/instances", params=query)
    assert response.status_code in (200, 204), response.text
    matches = response.json() if response.status_code == 200 else []
    return [match["00080018"]["Value"][0] for match in matches]


def test_the_server_runs_two_workers_that_log_their_pids(server: ServerProcess) -> None:
    workers = workers_of(server)
    # Worker 0 may answer /healthz before worker 1 is ready and the supervisor says so.
    wait_until(lambda: "dicomstore listening on" in server.log())
    log = server.log()
    logged = re.findall(r"dicomstore worker (\d) \(pid (\d+)\) starting", log)
    assert sorted(number for number, _ in logged) == ["0", "1"]
    assert sorted(int(pid) for _, pid in logged) == workers
    assert f"{server.url} (index sqlite:///" in log
    assert f"2 worker processes under pid {server.process.pid})" in log


def test_an_instance_stored_through_one_worker_is_found_through_the_other(
    server: ServerProcess, dicomweb: str
) -> None:
    first, second = (clients[0] for clients in clients_per_worker(server, 1).values())
    with closing(first), closing(second):
        for storing, searching in ((first, second), (second, first)):
            instance = make_instance()
            assert stow(storing, dicomweb, part10(instance)).status_code == 200
            assert found(searching, dicomweb, StudyInstanceUID=instance.StudyInstanceUID) == [
                instance.SOPInstanceUID
            ]


def test_concurrent_stores_and_searches_on_both_workers_agree(
    server: ServerProcess, dicomweb: str
) -> None:
    study = make_instance().StudyInstanceUID
    clients = [client for held in clients_per_worker(server, 4).values() for client in held]
    storers, searchers = clients[0::2], clients[1::2]  # two of each on each worker
    stored: list[str] = []
    failures: list[str] = []
    deadline = time.monotonic() + LOAD_SECONDS

    def store(client: httpx.Client) -> None:
        number = 0
        while time.monotonic() < deadline:
            number += 1
            instance = make_instance(study=study, number=number)
            response = stow(client, dicomweb, part10(instance))
            if response.status_code != 200:
                failures.append(f"STOW {response.status_code}: {response.text[:200]}")
                return
            stored.append(instance.SOPInstanceUID)

    def search(client: httpx.Client) -> None:
        seen = 0
        while time.monotonic() < deadline:
            count = len(found(client, dicomweb, StudyInstanceUID=study))
            if count < seen:
                failures.append(f"QIDO found {count} instances after {seen}")
                return
            seen = count

    threads = [threading.Thread(target=store, args=(client,)) for client in storers] + [
        threading.Thread(target=search, args=(client,)) for client in searchers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        assert len(stored) > len(storers)
        for client in clients:  # every connection, so both workers, sees every instance
            assert sorted(found(client, dicomweb, StudyInstanceUID=study)) == sorted(stored)
    finally:
        for client in clients:
            client.close()


def test_an_import_runs_in_the_first_worker(
    server: ServerProcess, dicomweb: str, tmp_path: Path
) -> None:
    instances = [make_instance() for _ in range(3)]
    for number, instance in enumerate(instances):
        (tmp_path / f"{number}.dcm").write_bytes(part10(instance))
    store = dicomweb.removeprefix("/v1/").removesuffix("/dicomWeb")
    with HealthcareClient(server.url) as api:
        operation = api.call(
            "POST", f"v1/{store}:import", body={"gcsSource": {"uri": f"file://{tmp_path}/*.dcm"}}
        )
        done = api.wait(operation["name"], interval=0.05, timeout=30)
    assert "response" in done, done
    with httpx.Client(base_url=server.url) as client:
        for instance in instances:
            assert found(client, dicomweb, SOPInstanceUID=instance.SOPInstanceUID)
    index = Index.open(f"sqlite:///{server.data_dir / 'index.sqlite3'}", migrate=False)
    try:
        with index.transaction() as tx:
            worker = tx.execute(
                sa.text("SELECT worker FROM operations WHERE operation_id = :id"),
                {"id": operation["name"].rsplit("/", 1)[1]},
            ).scalar_one()
    finally:
        index.close()
    # A job runner's name is host:pid:token/thread.
    assert int(worker.split(":")[1]) == first_worker(server)


def test_a_killed_worker_is_replaced_and_service_continues(
    server: ServerProcess, dicomweb: str
) -> None:
    killed = first_worker(server)
    (kept,) = set(workers_of(server)) - {killed}
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: killed not in children(server.process.pid))
    replacement = next(iter(set(workers_of(server)) - {killed, kept}))
    assert f"worker 0 (pid {killed}) was killed by SIGKILL: starting another" in server.log()
    # The replacement logs its own start once it has imported the app.
    wait_until(lambda: first_worker(server) == replacement)
    clients = clients_per_worker(server, 1)
    assert set(clients) == {kept, replacement}
    for (client,) in clients.values():
        with closing(client):
            instance = make_instance()
            assert stow(client, dicomweb, part10(instance)).status_code == 200
            assert found(client, dicomweb, SOPInstanceUID=instance.SOPInstanceUID)


# --- stopping ---------------------------------------------------------------------------------


def test_sigterm_drains_both_workers_and_exits_0(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", extra=WORKERS)
    try:
        workers = workers_of(server)
        port = httpx.URL(server.url).port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            # A request whose body is still on its way when the signal comes.
            client.sendall(
                b"POST /v1/projects/p/locations/l/datasets?datasetId=drained HTTP/1.1\r\n"
                b"Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{"
            )
            time.sleep(0.3)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            assert server.process.poll() is None, "the server quit with a request in flight"
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            client.sendall(b"}")
            answer = client.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert server.process.wait(timeout=15) == 0
        assert not any(running(pid) for pid in workers)
    finally:
        server.stop()


def test_the_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", extra=WORKERS)
    try:
        workers = workers_of(server)
        server.process.kill()
        server.process.wait(timeout=10)
        wait_until(lambda: not any(running(pid) for pid in workers))
    finally:
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


# --- refusing to start ------------------------------------------------------------------------


def test_refused_starts_say_why_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cases = {
            "is already in use": ["--port", str(busy.getsockname()[1])],
            # Opened by each worker, not by the supervisor: the worker's own words come back.
            "cannot open the blob store 'ftp://x'": ["--blob-url", "ftp://x"],
            "needs shared storage: the blob store 'memory://'": ["--blob-url", "memory://"],
        }
        started = {}
        for words, args in cases.items():
            data_dir = tmp_path / str(len(started))
            command = [sys.executable, "-m", "dicomstore", "serve", "--workers", "2",
                       "--port", str(free_port()), "--data-dir", str(data_dir),
                       "--log-level", "warning", *args]  # fmt: skip
            started[words] = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        for words, process in started.items():
            stdout, stderr = process.communicate(timeout=30)
            assert (process.returncode, stdout) == (1, ""), stderr
            assert len(stderr.splitlines()) == 1, stderr
            assert stderr.startswith("dicomstore: error: ") and words in stderr, stderr


# --- the supervisor alone ---------------------------------------------------------------------


def test_the_supervisor_gives_up_on_a_worker_that_keeps_dying(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(workers, "_RESTART_DELAY", 0.01)  # keep the back-off, make it short
    stopped: list[bool] = []

    def die(number: int, ready: Callable[[], None]) -> None:
        ready()
        sys.exit(3)

    try:
        code = workers.run_workers(
            2, die, on_stop=lambda: stopped.append(True), started=lambda: None
        )
    finally:
        gc.unfreeze()  # the supervisor froze this test process's objects for its workers
    assert (code, stopped) == (1, [True])
    # Four deaths replaced; the fifth within 30 s ends it.
    assert caplog.text.count("exited with code 3: starting another") == 4
    assert "exited with code 3; workers died 5 times within 30 s: stopping" in caplog.text


@pytest.mark.parametrize(
    ("asked", "blob_url", "expected"),
    [
        (None, None, min(os.cpu_count() or 1, 4)),  # one per core, at most four
        (None, "memory://", 1),  # storage only one process sees: one process
        (3, None, 3),
        (1, "memory://", 1),
    ],
)
def test_how_many_server_processes_run(
    tmp_path: Path, asked: int | None, blob_url: str | None, expected: int
) -> None:
    settings = Settings(data_dir=tmp_path, workers=asked, blob_url=blob_url)
    assert _worker_count(settings) == expected


def test_several_processes_on_in_memory_storage_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="--workers 2 needs shared storage"):
        _worker_count(Settings(data_dir=tmp_path, workers=2, blob_url="memory://"))
