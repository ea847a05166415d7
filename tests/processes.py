"""Starting ``dicomstore`` as a child process, the way users and service managers run it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ServerProcess", "WorkerProcess", "free_port", "start_server", "start_worker"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _ChildProcess:
    """A ``dicomstore`` child process writing to a log file."""

    process: subprocess.Popen[str]
    log_path: Path
    stop_timeout = 20.0

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


@dataclass
class ServerProcess(_ChildProcess):
    """A ``dicomstore serve`` child process."""

    url: str = ""
    data_dir: Path = Path()


def start_server(
    data_dir: Path, *, database_url: str | None = None, extra: tuple[str, ...] = ()
) -> ServerProcess:
    port = free_port()
    command = [sys.executable, "-m", "dicomstore", "serve", "--port", str(port),
               "--data-dir", str(data_dir), "--log-level", "warning", *extra]  # fmt: skip
    if database_url:
        command += ["--database-url", database_url]
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    with log_path.open("a") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text()
            raise RuntimeError(f"server exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return ServerProcess(process, log_path, url=url, data_dir=data_dir)
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not become healthy within 30 s")


@dataclass
class WorkerProcess(_ChildProcess):
    """A ``dicomstore worker`` child process; it may be finishing an operation step when
    told to stop."""

    stop_timeout = 40.0


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
