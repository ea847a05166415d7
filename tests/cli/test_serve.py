"""``dicomstore serve`` as an operator runs it: real child processes, flags, variables, signals.

Refused starts run side by side (one module fixture) to keep this module quick; each must end
with exit code 1 and exactly one ``dicomstore: error:`` line on stderr, never a traceback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from dicomstore import __version__
from dicomstore.index import Index
from tests.processes import ServerProcess, free_port

SETTINGS_VARIABLES = (
    "DICOMSTORE_HOST",
    "DICOMSTORE_PORT",
    "DICOMSTORE_DATA_DIR",
    "DICOMSTORE_DATABASE_URL",
    "DICOMSTORE_LOG_LEVEL",
    "DICOMSTORE_WORKERS",
)
DATASETS = "/v1/projects/test-project/locations/us-central1/datasets"
# A second loopback address: proves the host setting is used, not just the default.
OTHER_HOST = "127.0.0.2"


def _environment(**variables: str) -> dict[str, str]:
    """This process's environment without any DICOMSTORE_* setting, plus ``variables``."""
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    env["COLUMNS"] = "200"  # --help on one line per option
    return env | variables


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dicomstore", *args],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=30,
    )


def _launch(
    workdir: Path,
    *args: str,
    url: str,
    data_dir: Path,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """Start ``dicomstore serve *args`` in ``workdir`` and wait until ``url`` is healthy."""
    log_path = workdir / f"server-{time.monotonic_ns()}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dicomstore", "serve", *args],
            cwd=workdir,
            env=env or _environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = ServerProcess(process, log_path, url=url, data_dir=data_dir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"server did not become healthy:\n{server.log()}")


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test started; any still running at the end is stopped (and must stop well)."""
    started: list[ServerProcess] = []
    yield started
    codes = [server.stop() for server in started if server.process.poll() is None]
    assert all(code == 0 for code in codes), codes


def _refuses(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    return False


# --- the command itself ---------------------------------------------------------------------


def test_help_lists_the_commands() -> None:
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "version" in result.stdout


def test_serve_help_names_every_variable() -> None:
    result = _run("serve", "--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--host", "--port", "--data-dir", "--database-url", "--log-level", "--workers"):
        assert flag in result.stdout
    for variable in SETTINGS_VARIABLES:
        assert variable in result.stdout


def test_version_prints_the_version() -> None:
    command = Path(sys.executable).with_name("dicomstore")
    result = subprocess.run(
        [str(command), "version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{__version__}\n", "")


# --- starting and stopping ------------------------------------------------------------------


def test_serves_on_the_embedded_default(tmp_path: Path, servers: list[ServerProcess]) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _launch(tmp_path, "--port", str(port), "--data-dir", str(data_dir), url=url,
                     data_dir=data_dir)  # fmt: skip
    servers.append(server)
    response = httpx.get(f"{url}/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert (data_dir / "index.sqlite3").is_file()
    assert f"listening on {url}" in server.log()  # the default level is info
    assert server.stop() == 0


def test_every_setting_from_its_variable(tmp_path: Path, servers: list[ServerProcess]) -> None:
    port = free_port()
    data_dir = tmp_path / "env-data"
    env = _environment(
        DICOMSTORE_HOST=OTHER_HOST,
        DICOMSTORE_PORT=str(port),
        DICOMSTORE_DATA_DIR=str(data_dir),
        DICOMSTORE_DATABASE_URL=f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}",
        DICOMSTORE_LOG_LEVEL="WARNING",  # level names are case-insensitive
    )
    url = f"http://{OTHER_HOST}:{port}"
    server = _launch(tmp_path, url=url, data_dir=data_dir, env=env)
    servers.append(server)
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert _refuses(f"http://127.0.0.1:{port}")
    assert (tmp_path / "elsewhere.sqlite3").is_file()
    assert data_dir.is_dir() and not (data_dir / "index.sqlite3").exists()
    assert server.stop() == 0
    assert "listening on" not in server.log()  # info lines are below warning


def test_a_flag_wins_over_its_variable(tmp_path: Path, servers: list[ServerProcess]) -> None:
    port, env_port = free_port(), free_port()
    env = _environment(
        DICOMSTORE_HOST=OTHER_HOST,
        DICOMSTORE_PORT=str(env_port),
        DICOMSTORE_DATA_DIR=str(tmp_path / "env-data"),
        DICOMSTORE_DATABASE_URL=f"sqlite:///{tmp_path / 'env.sqlite3'}",
        DICOMSTORE_LOG_LEVEL="warning",
    )
    data_dir = tmp_path / "flag-data"
    url = f"http://127.0.0.1:{port}"
    server = _launch(
        tmp_path,
        *("--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)),
        *("--database-url", f"sqlite:///{tmp_path / 'flag.sqlite3'}", "--log-level", "info"),
        url=url,
        data_dir=data_dir,
        env=env,
    )
    servers.append(server)
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert _refuses(f"http://{OTHER_HOST}:{env_port}")
    assert _refuses(f"http://{OTHER_HOST}:{port}")
    assert (tmp_path / "flag.sqlite3").is_file() and data_dir.is_dir()
    assert not (tmp_path / "env.sqlite3").exists() and not (tmp_path / "env-data").exists()
    assert f"listening on {url}" in server.log()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_restart_keeps_the_data(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    data_dir = tmp_path / "data"
    args = ["--data-dir", str(data_dir), "--log-level", "warning"]
    if engine == "postgresql":
        args += ["--database-url", request.getfixturevalue("postgres_database")()]

    def start() -> ServerProcess:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = _launch(tmp_path, "--port", str(port), *args, url=url, data_dir=data_dir)
        servers.append(server)
        return server

    labels = {"équipe": "radiologie", "部門": "放射線科"}
    first = start()
    with httpx.Client(base_url=first.url) as http:
        created = http.post(DATASETS, params={"datasetId": "kept"}, json={"timeZone": "UTC"})
        assert created.status_code == 200, created.text
        store = http.post(
            f"{DATASETS}/kept/dicomStores", params={"dicomStoreId": "ct"}, json={"labels": labels}
        )
        assert store.status_code == 200, store.text
    assert first.stop() == 0

    second = start()
    with httpx.Client(base_url=second.url) as http:
        assert http.get(f"{DATASETS}/kept").json() == {
            "name": "projects/test-project/locations/us-central1/datasets/kept",
            "timeZone": "UTC",
        }
        assert http.get(f"{DATASETS}/kept/dicomStores/ct").json()["labels"] == labels
    assert second.stop() == 0
    # The index lives where it was told to: in the data directory only for the default.
    assert (data_dir / "index.sqlite3").exists() == (engine == "sqlite")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_stop_signal_drains_the_open_request_and_exits_0(
    stop_signal: signal.Signals, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    server = _launch(tmp_path, "--port", str(port), "--data-dir", str(data_dir), "--log-level",
                     "warning", url=f"http://127.0.0.1:{port}", data_dir=data_dir)  # fmt: skip
    servers.append(server)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        # A request whose body is still on its way when the signal comes.
        client.sendall(
            f"POST {DATASETS}?datasetId=drained HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{".encode()
        )
        time.sleep(0.3)
        signalled = time.monotonic()
        server.process.send_signal(stop_signal)
        time.sleep(0.3)
        assert server.process.poll() is None, "the server quit with a request in flight"
        assert _refuses(server.url), "the server still accepts new connections"
        client.sendall(b"}")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert server.process.wait(timeout=10) == 0
    assert time.monotonic() - signalled < 5
    index = Index.open(f"sqlite:///{data_dir / 'index.sqlite3'}", migrate=False)
    try:
        with index.transaction() as tx:
            ids = tx.execute(sa.text("SELECT dataset_id FROM datasets")).scalars().all()
    finally:
        index.close()
    assert ids == ["drained"]


# --- refusing to start ----------------------------------------------------------------------


@dataclass
class Refusal:
    """A start that must be refused, and what its one line must (and must not) say."""

    args: list[str]
    says: list[str]
    env: dict[str, str] = field(default_factory=dict)
    never_says: list[str] = field(default_factory=list)


@dataclass
class Scene:
    workdir: Path
    busy_port: int


def _busy_port(scene: Scene) -> Refusal:
    return Refusal(["--port", str(scene.busy_port)], [f"port {scene.busy_port}", "in use"])


def _unwritable_data_dir(scene: Scene) -> Refusal:
    # Root ignores permission bits; a directory under a regular file stops everyone.
    (scene.workdir / "file").write_text("")
    data_dir = scene.workdir / "file" / "sub"
    return Refusal(["--data-dir", str(data_dir)], ["data directory", str(data_dir), "writable"])


def _unreachable_database(scene: Scene) -> Refusal:
    url = "postgresql://postgres@127.0.0.1:1/x"
    return Refusal(["--database-url", url], [f"cannot reach the index database {url!r}"])


def _unparsable_database_url(scene: Scene) -> Refusal:
    return Refusal(["--database-url", "not a url"], ["invalid database URL 'not a url'"])


def _unsupported_database(scene: Scene) -> Refusal:
    return Refusal(["--database-url", "mysql://u@h/db"], ["unsupported database 'mysql'"])


def _bad_port_in_database_url(scene: Scene) -> Refusal:
    url = "postgresql://u:s3cret@h:notaport/x"
    return Refusal(["--database-url", url], ["invalid database URL"], never_says=["s3cret"])


def _not_a_database_file(scene: Scene) -> Refusal:
    data_dir = scene.workdir / "data"
    data_dir.mkdir()
    (data_dir / "index.sqlite3").write_bytes(b"these are not the tables you are looking for" * 9)
    return Refusal(["--data-dir", str(data_dir)], ["cannot use the index database"])


def _schema_from_a_newer_version(scene: Scene) -> Refusal:
    data_dir = scene.workdir / "data"
    data_dir.mkdir()
    index = Index.open(f"sqlite:///{data_dir / 'index.sqlite3'}")
    with index.transaction() as tx:
        tx.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    index.close()
    return Refusal(["--data-dir", str(data_dir)], ["cannot migrate the index database", "0999"])


def _port_variable_not_a_number(scene: Scene) -> Refusal:
    return Refusal([], ["DICOMSTORE_PORT=notaport", "integer"], {"DICOMSTORE_PORT": "notaport"})


def _port_flag_out_of_range(scene: Scene) -> Refusal:
    return Refusal(["--port", "70000"], ["--port 70000", "65535"])


def _log_level_flag_unknown(scene: Scene) -> Refusal:
    return Refusal(["--log-level", "bogus"], ["--log-level bogus", "'debug'"])


def _log_level_variable_unknown(scene: Scene) -> Refusal:
    return Refusal([], ["DICOMSTORE_LOG_LEVEL=loud"], {"DICOMSTORE_LOG_LEVEL": "loud"})


def _workers_flag_zero(scene: Scene) -> Refusal:
    return Refusal(["--workers", "0"], ["--workers 0", "greater than or equal to 1"])


def _workers_variable_not_a_number(scene: Scene) -> Refusal:
    return Refusal([], ["DICOMSTORE_WORKERS=x", "integer"], {"DICOMSTORE_WORKERS": "x"})


REFUSALS: dict[str, Callable[[Scene], Refusal]] = {
    case.__name__.lstrip("_"): case
    for case in (
        _busy_port,
        _unwritable_data_dir,
        _unreachable_database,
        _unparsable_database_url,
        _unsupported_database,
        _bad_port_in_database_url,
        _not_a_database_file,
        _schema_from_a_newer_version,
        _port_variable_not_a_number,
        _port_flag_out_of_range,
        _log_level_flag_unknown,
        _log_level_variable_unknown,
        _workers_flag_zero,
        _workers_variable_not_a_number,
    )
}


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every refused start, run side by side: case → (refusal, exit code, stdout, stderr)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        started = {}
        for name, case in REFUSALS.items():
            workdir = tmp_path_factory.mktemp(name)
            refusal = case(Scene(workdir, busy.getsockname()[1]))
            # Defaults first, where the case sets no variable (a flag would win over it); the
            # case's own --port or --data-dir comes later and wins.
            args = [
                *(["--port", str(free_port())] if "DICOMSTORE_PORT" not in refusal.env else []),
                *("--data-dir", str(workdir / "data")),
                *refusal.args,
            ]
            process = subprocess.Popen(
                [sys.executable, "-m", "dicomstore", "serve", *args],
                cwd=workdir,
                env=_environment(**refusal.env),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            started[name] = (refusal, process)
        outcomes = {}
        for name, (refusal, process) in started.items():
            try:
                stdout, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            outcomes[name] = (refusal, process.returncode, stdout, stderr)
    yield outcomes


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_start_says_why_in_one_line(case: str, refusals: dict[str, Any]) -> None:
    refusal, code, stdout, stderr = refusals[case]
    assert "Traceback" not in stdout + stderr, stderr
    assert (code, stdout) == (1, ""), stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("dicomstore: error: ")
    for words in refusal.says:
        assert words in lines[0]
    for words in refusal.never_says:
        assert words not in lines[0]
