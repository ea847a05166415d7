"""Orthanc for the side-by-side benchmark: a plain child process with its own configuration in a
temporary folder, confined to a network namespace that has only a loopback interface.

Orthanc 1.10 (Debian 12) has no setting for the address it listens on: CivetWeb binds every
interface. So the process runs under ``unshare --net`` (a new network namespace in which only
``lo`` exists, brought up before ``exec Orthanc``), and the benchmark's client threads that talk
to it enter that namespace with ``setns(2)`` — per thread, so the rest of the benchmark (the
dicomstore server, PostgreSQL) stays in the host's namespace. Needs root (CAP_SYS_ADMIN).

:func:`check_confined` reads the listening sockets of a process from /proc and refuses to go on
unless each is on a loopback address, or on a wildcard address inside a network namespace other
than ours whose only interface is ``lo``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from _harness import listening_sockets

CLONE_NEWNET = 0x40000000
PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/plugins/libOrthancDicomWeb.so",
)
HTTP_PORT = 8042  # inside its own namespace, nothing else can hold it
T = TypeVar("T")


class NotConfined(RuntimeError):
    """A server listens where something other than this machine's loopback could reach it."""


# --- network namespaces -----------------------------------------------------------------------


_libc = ctypes.CDLL(None, use_errno=True)


def setns(path: str) -> None:
    """Move the calling thread into the network namespace at ``path`` (/proc/PID/ns/net)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({path}): {os.strerror(error)}")
    finally:
        os.close(fd)


def run_in_namespace(netns: str | None, function: Callable[[], T]) -> T:
    """Call ``function`` in a new thread inside ``netns`` (as is when None); its result."""
    if netns is None:
        return function()
    outcome: list[Any] = []

    def target() -> None:
        try:
            setns(netns)
            outcome.append((True, function()))
        except BaseException as error:  # handed to the caller below
            outcome.append((False, error))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def namespace_id(pid: int | str) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def interfaces(pid: int) -> list[str]:
    """Network interfaces in the namespace of ``pid`` (from /proc/PID/net/dev)."""
    with open(f"/proc/{pid}/net/dev") as dev:
        return [line.split(":")[0].strip() for line in dev.read().splitlines()[2:]]


def check_confined(pid: int, name: str) -> str:
    """Raise :class:`NotConfined` unless every listening socket of ``pid`` is loopback-only; a
    one-line description of what was checked otherwise."""
    listeners = listening_sockets(pid)
    if not listeners:
        raise NotConfined(f"{name} (pid {pid}): no listening socket found to check")
    own_namespace = namespace_id(pid) != namespace_id("self")
    names = interfaces(pid)
    isolated = own_namespace and names == ["lo"]
    shown = ", ".join(f"[{item.address}]:{item.port}" for item in listeners)
    for item in listeners:
        if item.loopback:
            continue
        if item.wildcard and isolated:
            continue
        raise NotConfined(
            f"{name} (pid {pid}) listens on {item.address}:{item.port} "
            f"(namespace {namespace_id(pid)}, interfaces {names}): not loopback only"
        )
    where = (
        f"own network namespace {namespace_id(pid)} whose only interface is lo"
        if isolated
        else "host network namespace"
    )
    return f"{name} pid {pid} listens on {shown} in its {where}: loopback only"


# --- the Orthanc process ----------------------------------------------------------------------


INSTALL_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install-orthanc"


def find_orthanc() -> tuple[str, str]:
    """Paths of the Orthanc binary and of the DICOMweb plugin, installing Debian's packages
    first (``scripts/install-orthanc``) if either is missing; SystemExit if that fails."""
    found = _installed_orthanc()
    if found is None:
        print("Orthanc or its DICOMweb plugin is missing: running scripts/install-orthanc")
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=False)
        found = _installed_orthanc()
    if found is None:
        raise SystemExit(
            "Orthanc or its DICOMweb plugin is missing and scripts/install-orthanc could not "
            "install them (it needs root or sudo and Debian's package archive)"
        )
    return found


def _installed_orthanc() -> tuple[str, str] | None:
    binary = shutil.which("Orthanc")
    plugin = next((path for path in PLUGIN_CANDIDATES if os.path.exists(path)), None)
    if plugin is None and shutil.which("dpkg"):
        listing = subprocess.run(["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True)
        plugin = next(
            (
                line
                for line in listing.stdout.splitlines()
                if line.endswith("libOrthancDicomWeb.so")
            ),
            None,
        )
    if binary is None or plugin is None:
        return None
    return binary, plugin


def configuration(folder: Path, plugin: str, storage_access_on_find: str) -> dict[str, Any]:
    """Orthanc's configuration: its documented defaults for what it is measured on, with the
    settings its manual recommends for speed where they do not change an answer."""
    return {
        "Name": "dicomstore-bench",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),  # the built-in SQLite index
        "StorageCompression": False,
        "MaximumStorageCacheSize": 128,  # MB, the default
        "ConcurrentJobs": 2,
        "SaveJobs": False,
        "HttpServerEnabled": True,
        "HttpPort": HTTP_PORT,
        "HttpThreadsCount": 50,
        "KeepAlive": True,
        "TcpNoDelay": True,
        "HttpCompressionEnabled": False,  # the client asks for identity anyway
        "HttpRequestTimeout": 300,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": False,  # DIMSE is not measured: no DICOM port at all
        "WebDavEnabled": False,
        "OrthancExplorerEnabled": False,
        "StorageAccessOnFind": storage_access_on_find,
        "OverwriteInstances": False,
        "Plugins": [plugin],
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": False,  # WADO-URI is not measured
            "StudiesMetadata": "Full",
            "SeriesMetadata": "Full",
        },
    }


@dataclass
class Orthanc:
    process: subprocess.Popen[bytes]
    folder: Path
    log_path: Path
    config: dict[str, Any]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def netns(self) -> str:
        return f"/proc/{self.pid}/ns/net"

    @property
    def port(self) -> int:
        return HTTP_PORT

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return None


@contextlib.contextmanager
def running_orthanc(folder: Path, *, storage_access_on_find: str = "Always") -> Iterator[Orthanc]:
    """Start Orthanc in a new network namespace, wait for ``/system``, stop it on exit."""
    import http.client

    binary, plugin = find_orthanc()
    if os.geteuid() != 0:
        raise SystemExit(
            "running Orthanc in its own network namespace needs root (unshare --net, setns)"
        )
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (util-linux / iproute2)")
    folder.mkdir(parents=True, exist_ok=True)
    config = configuration(folder, plugin, storage_access_on_find)
    config_path = folder / "orthanc.json"
    config_path.write_text(json.dumps(config, indent=2))
    log_path = folder / "orthanc.log"
    command = [
        "unshare",
        "--net",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$0" "$1"',
        binary,
        str(config_path),
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    orthanc = Orthanc(process, folder, log_path, config)

    def system() -> int:
        connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=2)
        try:
            connection.request("GET", "/system")
            return connection.getresponse().status
        finally:
            connection.close()

    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Orthanc exited with {process.returncode}:\n"
                    f"{log_path.read_text(errors='replace')[-4000:]}"
                )
            with contextlib.suppress(OSError):
                # Until sh has exec'd Orthanc, /proc/PID/ns/net may still be ours.
                if namespace_id(process.pid) != namespace_id("self") and (
                    run_in_namespace(orthanc.netns, system) == 200
                ):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("Orthanc did not answer /system within 60 s")
            time.sleep(0.1)
        yield orthanc
    finally:
        code = orthanc.stop()
        if code not in (0, None) or code is None:
            tail = log_path.read_text(errors="replace")[-3000:]
            print(f"(Orthanc exited with {code}; end of its log:)\n{tail}")
