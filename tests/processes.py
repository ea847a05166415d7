"""Starting ``dicomstore`` as a child process, the way users and service managers run it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dicomstore.testing import DicomstoreServer

__all__ = ["ServerProcess", "WorkerProcess", "free_port", "start_server", "start_worker"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The server child process is the one users' tests get from the pytest plugin.
ServerProcess = DicomstoreServer


def start_server(
    data_dir: Path, *, database_url: str | None = None, extra: tuple[str, ...] = ()
) -> ServerProcess:
    """``dicomstore serve`` on a free port with its data in ``data_dir``, once healthy."""
    args = (*extra, "--database-url", database_url) if database_url else extra
    return ServerProcess.start(data_dir, args=args)


@dataclass
class WorkerProcess:
    """A ``dicomstore worker`` child process writing to a log file; it may be finishing an
    operation step when told to stop."""

    process: subprocess.Popen[str]
    log_path: Path
    stop_timeout = 40.0

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        """SIGTERM, as a service manager would; the exit code (killed if it takes too long)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def start_worker(
    data_dir: Path, *, database_url: str, extra: tuple[str, ...] = ()
) -> WorkerProcess:
    """Start a worker and wait until it says it runs (it serves no HTTP to poll)."""
    command = [sys.executable, "-m", "dicomstore", "worker", "--data-dir", str(data_dir),
               "--database-url", database_url, "--log-level", "info", *extra]  # fmt: skip
    log_path = data_dir.parent / f"{data_dir.name}-worker.log"
    with log_path.open("a") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}:\n{log_path.read_text()}")
        if "dicomstore worker running" in log_path.read_text():
            return WorkerProcess(process, log_path)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("worker did not start within 30 s")
