"""``dicomstore serve`` as a child process on a free port: started, awaited, stopped.

Nothing heavy is imported here at import time (this module is loaded by the pytest plugin in
every pytest run where dicomstore is installed): the HTTP and Google clients are imported when
first used.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from dicomstore.client.http import HealthcareClient

__all__ = ["DicomStore", "DicomstoreServer", "running_server"]

_LOCATION = "projects/test-project/locations/us-central1"


@dataclass(frozen=True)
class DicomStore:
    """A DICOM store of a test server: its resource name and its DICOMweb base URL."""

    name: str
    dicomweb_url: str

    @property
    def dataset(self) -> str:
        """The name of the dataset holding the store."""
        return self.name.rsplit("/dicomStores/", 1)[0]


@dataclass
class DicomstoreServer:
    """A running ``dicomstore serve`` child process writing to ``log_path``, answering at ``url``
    with its data under ``data_dir``."""

    process: subprocess.Popen[str]
    log_path: Path
    url: str
    data_dir: Path
    stop_timeout: ClassVar[float] = 20.0
    _api: HealthcareClient | None = field(default=None, init=False, repr=False)
    _healthcare: Any = field(default=None, init=False, repr=False)

    @classmethod
    def start(
        cls, data_dir: Path, *, args: Sequence[str] = (), startup_timeout: float = 30.0
    ) -> Self:
        """Start ``dicomstore serve`` on a free port of 127.0.0.1 with ``args`` as extra flags
        (later flags win) and wait until ``/healthz`` answers. The server inherits this process's
        environment, so ``DICOMSTORE_*`` variables apply except the port, data dir and log level
        set here. `RuntimeError` with the server's log if it does not come up."""
        import httpx

        port = _free_port()
        # One server process: light and quick to start (``args`` may ask for more).
        command = [sys.executable, "-m", "dicomstore", "serve", "--port", str(port),
                   "--data-dir", str(data_dir), "--log-level", "warning", "--workers", "1",
                   *args]  # fmt: skip
        log_path = data_dir.parent / f"{data_dir.name}-server.log"
        with log_path.open("a") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        server = cls(process, log_path, url=f"http://127.0.0.1:{port}", data_dir=data_dir)
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"dicomstore serve exited with {process.returncode}:\n{server.log()}"
                )
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        process.kill()
        process.wait()
        raise RuntimeError(
            f"dicomstore serve did not become healthy within {startup_timeout:g} s:\n{server.log()}"
        )

    def log(self) -> str:
        """Everything the server has written to stdout and stderr so far."""
        return self.log_path.read_text()

    def stop(self) -> int:
        """SIGTERM, as a service manager would; the exit code. A server still running after
        `stop_timeout` seconds is killed and `subprocess.TimeoutExpired` raised."""
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._healthcare is not None:
            self._healthcare.close()
            self._healthcare = None
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    @property
    def healthcare(self) -> Any:
        """google-api-python-client's ``healthcare`` v1 service (static discovery document,
        anonymous credentials) pointed at this server; built on first use."""
        if self._healthcare is None:
            import google.auth.credentials
            from googleapiclient.discovery import build

            self._healthcare = build(
                "healthcare",
                "v1",
                static_discovery=True,
                credentials=google.auth.credentials.AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options={"api_endpoint": self.url},
            )
        return self._healthcare

    def dicomweb_url(self, store_name: str) -> str:
        """The DICOMweb base URL of the store named ``store_name``
        (``projects/…/dicomStores/…``), as DICOMweb clients take it."""
        return f"{self.url}/v1/{store_name}/dicomWeb"

    def create_dicom_store(
        self, store_id: str = "store", *, dataset_id: str | None = None, location: str = _LOCATION
    ) -> str:
        """Create a new dataset (``dataset_id``, or a unique one) in ``location`` and an empty
        DICOM store in it; the store's resource name."""
        api = self._client()
        dataset_id = dataset_id or f"test-{uuid.uuid4().hex[:12]}"
        operation = api.call(
            "POST", f"v1/{location}/datasets", params={"datasetId": dataset_id}, body={}
        )
        api.wait(operation["name"], interval=0.05, timeout=30)
        dataset = f"{location}/datasets/{dataset_id}"
        store = api.call(
            "POST", f"v1/{dataset}/dicomStores", params={"dicomStoreId": store_id}, body={}
        )
        return str(store["name"])

    def delete_dataset(self, name: str) -> None:
        """Delete the dataset named ``name`` and every store in it, if it still exists."""
        from dicomstore.client.http import ApiError

        try:
            self._client().call("DELETE", f"v1/{name}")
        except ApiError as error:
            if error.status != 404:
                raise

    def _client(self) -> HealthcareClient:
        if self._api is None:
            from dicomstore.client.http import HealthcareClient

            self._api = HealthcareClient(self.url, timeout=60)
        return self._api


@contextlib.contextmanager
def running_server(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    args: Sequence[str] = (),
    startup_timeout: float = 30.0,
) -> Iterator[DicomstoreServer]:
    """A dicomstore server for the duration of the ``with`` block, stopped (SIGTERM, then
    killed after 20 s) on the way out.

    Its data go to ``data_dir`` (kept afterwards, with the log ``{data_dir}-server.log`` beside
    it), or to a temporary directory removed afterwards. ``args`` are extra ``dicomstore serve``
    flags, e.g. ``["--database-url", "postgresql://…"]``.

    >>> with running_server() as server:  # doctest: +SKIP
    ...     store = server.create_dicom_store()
    ...     server.dicomweb_url(store)
    """
    with contextlib.ExitStack() as cleanup:
        if data_dir is None:
            folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="dicomstore-"))
            data_dir = Path(folder) / "data"
        server = DicomstoreServer.start(Path(data_dir), args=args, startup_timeout=startup_timeout)
        cleanup.callback(server.stop)
        yield server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
