"""The client commands as a user runs them: ``python -m dicomstore …`` child processes against one
real server (SQLite: the commands speak HTTP, so the index engine makes no difference to them)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import ServerProcess, start_server

PROJECT = "cli-project"
LOCATION = f"projects/{PROJECT}/locations/us-central1"
_CLIENT_VARIABLES = ("DICOMSTORE_ENDPOINT", "DICOMSTORE_TOKEN", "DICOMSTORE_PROJECT",
                     "DICOMSTORE_LOCATION")  # fmt: skip


@dataclass(frozen=True)
class Result:
    """What a command did: exit code and output."""

    returncode: int
    stdout: str
    stderr: str

    def ok(self) -> Result:
        assert self.returncode == 0, f"exit code {self.returncode}; stderr:\n{self.stderr}"
        return self

    def error_line(self) -> str:
        """The one ``dicomstore: error:`` line of a failed command (exit code 1, no traceback)."""
        assert self.returncode == 1, (self.returncode, self.stdout, self.stderr)
        assert "Traceback" not in self.stderr
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("dicomstore: error: "), lines[0]
        return lines[0]


def environment(**variables: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _CLIENT_VARIABLES}
    env["COLUMNS"] = "200"
    return env | variables


Runner = Callable[..., Result]


def _command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "dicomstore", *map(str, args)]


@pytest.fixture(scope="session")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(tmp_path_factory.mktemp("cli-server"))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="session")
def cli_env(cli_server: ServerProcess) -> dict[str, str]:
    """The environment of a user who exported the server's endpoint and their project."""
    return environment(DICOMSTORE_ENDPOINT=cli_server.url, DICOMSTORE_PROJECT=PROJECT)


@pytest.fixture(scope="session")
def cli(cli_env: dict[str, str]) -> Runner:
    """Run ``dicomstore ARGS…``; ``env=`` replaces the environment."""

    def run(*args: Any, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        done = subprocess.run(
            _command(args), env=env or cli_env, capture_output=True, text=True, timeout=timeout
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture(scope="session")
def cli_all(cli_env: dict[str, str]) -> Callable[..., list[Result]]:
    """Run several commands at once (each a list of arguments); their results in order."""

    def run_all(*commands: Sequence[Any], env: dict[str, str] | None = None) -> list[Result]:
        processes = [
            subprocess.Popen(
                _command(args),
                env=env or cli_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands
        ]
        results = []
        for process in processes:
            stdout, stderr = process.communicate(timeout=120)
            results.append(Result(process.returncode, stdout, stderr))
        return results

    return run_all


@pytest.fixture
def api(cli_server: ServerProcess) -> Iterator[httpx.Client]:
    """Raw HTTP to the server, to check what the commands did."""
    with httpx.Client(base_url=f"{cli_server.url}/v1/", timeout=30) as client:
        yield client


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def cli_dataset(api: httpx.Client) -> Iterator[str]:
    """A new dataset's ID (in PROJECT, us-central1); deleted afterwards."""
    dataset_id = unique_id("ds")
    api.post(f"{LOCATION}/datasets", params={"datasetId": dataset_id}, json={}).raise_for_status()
    yield dataset_id
    api.delete(f"{LOCATION}/datasets/{dataset_id}")


@pytest.fixture
def cli_store(api: httpx.Client, cli_dataset: str) -> str:
    """A new, empty DICOM store's full name."""
    parent = f"{LOCATION}/datasets/{cli_dataset}"
    answer = api.post(f"{parent}/dicomStores", params={"dicomStoreId": "store"}, json={})
    answer.raise_for_status()
    return str(answer.json()["name"])


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root
