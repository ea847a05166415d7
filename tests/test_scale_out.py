"""Scale-out: two servers and two workers on one PostgreSQL index and one Cloud Storage bucket
(fake-gcs-server) behave as one store. Instances stored concurrently through both servers are
searchable and byte-identical from either; an import and an export run on the workers; a worker
killed in the middle of the import leaves the operation to the other, and every operation ends.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from pydicom.uid import generate_uid

from tests.api.http.dicomweb_support import (
    execute_raw,
    make_instance,
    multipart_body,
    part10,
    stores_api,
    stow_content_type,
    wait_for_operation,
)
from tests.conftest import LOCATION, healthcare_client
from tests.object_servers import GcsEmulator
from tests.processes import ServerProcess, WorkerProcess, start_server, start_worker

pytestmark = pytest.mark.slow

STORED = 240
IMPORTED = 240


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_database: Any, fake_gcs: GcsEmulator
) -> Iterator[tuple[list[ServerProcess], list[WorkerProcess], str]]:
    database_url = postgres_database()
    bucket = fake_gcs.create_bucket()
    blob_url = ("--blob-url", f"gs://{bucket}/blobs")
    servers = [
        start_server(
            tmp_path / f"server-{n}",
            database_url=database_url,
            extra=(*blob_url, "--job-workers", "0"),
        )
        for n in range(2)
    ]
    workers = [
        start_worker(
            tmp_path / f"worker-{n}", database_url=database_url, extra=(*blob_url, "--threads", "1")
        )
        for n in range(2)
    ]
    try:
        yield servers, workers, database_url
    finally:
        for server in servers:
            assert server.stop() == 0
        for worker in workers:
            if worker.process.poll() is None:
                assert worker.stop() == 0, worker.log()


def holder_pid(database_url: str, operation_name: str) -> int | None:
    """The process id of the worker running an operation (worker names are host:pid:…)."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            worker = connection.execute(
                sa.text("SELECT worker FROM operations WHERE operation_id = :id"),
                {"id": operation_name.rsplit("/", 1)[1]},
            ).scalar()
    finally:
        engine.dispose()
    return int(worker.split(":")[1]) if worker else None


def test_two_servers_and_two_workers_behave_as_one_store(
    cluster: tuple[list[ServerProcess], list[WorkerProcess], str], fake_gcs: GcsEmulator
) -> None:
    servers, workers, database_url = cluster
    clients = [healthcare_client(server) for server in servers]
    datasets = clients[0].projects().locations().datasets()
    datasets.create(parent=LOCATION, datasetId="scale", body={}).execute()
    store = str(
        stores_api(clients[1])
        .create(parent=f"{LOCATION}/datasets/scale", dicomStoreId="s", body={})
        .execute()["name"]
    )

    # Concurrent STOW through both servers; every instance is also sent through the other one.
    study = generate_uid()
    files = [part10(make_instance(study=study, number=n % 200 + 1)) for n in range(STORED)]

    def stow(item: tuple[int, bytes]) -> None:
        number, content = item
        for server in (servers[number % 2], servers[(number + 1) % 2]):
            with httpx.Client(timeout=60) as http:
                answer = http.post(
                    f"{server.url}/v1/{store}/dicomWeb/studies",
                    content=multipart_body([content]),
                    headers={"Content-Type": stow_content_type()},
                )
                assert answer.status_code == 200, answer.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(stow, enumerate(files)))

    # An import through the workers, one of them killed while it runs the import.
    bucket = fake_gcs.create_bucket()
    target = storage.Client(project="test", credentials=AnonymousCredentials()).bucket(bucket)
    imported = [make_instance(number=n % 200 + 1) for n in range(IMPORTED)]
    for number, instance in enumerate(imported):
        target.blob(f"in/{number:04}.dcm").upload_from_string(part10(instance))
    operation = (
        stores_api(clients[0])
        .import_(name=store, body={"gcsSource": {"uri": f"gs://{bucket}/in/*.dcm"}})
        .execute()
    )
    operations = clients[0].projects().locations().datasets().operations()
    deadline = time.monotonic() + 60
    while (pid := holder_pid(database_url, operation["name"])) is None:
        assert time.monotonic() < deadline, "no worker claimed the import"
        time.sleep(0.05)
    victim = next(worker for worker in workers if worker.process.pid == pid)
    while not operations.get(name=operation["name"]).execute()["metadata"].get("counter"):
        assert time.monotonic() < deadline, "the import made no progress"
        time.sleep(0.05)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    done = wait_for_operation(clients[1], operation, timeout=180)
    assert done["metadata"]["counter"] == {"success": str(IMPORTED)}, done

    # An export through the surviving worker.
    exported = wait_for_operation(clients[1], stores_api(clients[1]).export(
        name=store, body={"gcsDestination": {"uriPrefix": f"gs://{bucket}/out"}}
    ).execute(), timeout=180)  # fmt: skip
    assert exported["metadata"]["counter"] == {"success": str(STORED + IMPORTED)}

    # One store, seen alike from either server: counts exact, bytes identical.
    for client in clients:
        metrics = stores_api(client).getDICOMStoreMetrics(name=store).execute()
        assert metrics["instanceCount"] == str(STORED + IMPORTED)
        search = (
            stores_api(client)
            .studies()
            .searchForInstances(parent=store, dicomWebPath=f"studies/{study}/instances")
        )
        assert len(execute_raw(search, accept="application/dicom+json").json()) == STORED
    expected = dict(zip((i.SOPInstanceUID for i in imported), imported, strict=True))
    for client, (sop, instance) in zip(clients * 3, list(expected.items())[:6], strict=False):
        retrieve = (
            stores_api(client)
            .studies()
            .series()
            .instances()
            .retrieveInstance(
                parent=store,
                dicomWebPath=f"studies/{instance.StudyInstanceUID}/series/"
                f"{instance.SeriesInstanceUID}/instances/{sop}",
            )
        )
        answer = execute_raw(retrieve, accept="application/dicom; transfer-syntax=*")
        assert answer.content == part10(instance)
    listed = operations.list(name=f"{LOCATION}/datasets/scale", filter="done=false").execute()
    assert listed.get("operations", []) == []
