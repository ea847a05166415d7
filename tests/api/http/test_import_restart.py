"""An import survives its server being killed: on restart the operation runs again from the
start (what it had stored counts as duplicates) and ends, and every instance it reported is
retrievable (``google-dicom-api.md`` §4)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from pydicom.uid import generate_uid

from tests.api.http.dicomweb_support import (
    execute_raw,
    make_instance,
    part10,
    stores_api,
    wait_for_operation,
)
from tests.conftest import ENGINES, LOCATION, healthcare_client
from tests.object_servers import GcsEmulator
from tests.processes import start_server

FILES = 300


@pytest.mark.parametrize("engine", ENGINES)
def test_an_import_killed_midway_finishes_after_a_restart(
    request: pytest.FixtureRequest, tmp_path: Path, fake_gcs: GcsEmulator, engine: str
) -> None:
    database_url = (
        request.getfixturevalue("postgres_database")() if engine == "postgresql" else None
    )
    bucket = fake_gcs.create_bucket()
    target = storage.Client(project="test", credentials=AnonymousCredentials()).bucket(bucket)
    study = generate_uid()
    sops = [generate_uid() for _ in range(FILES)]
    for number, sop in enumerate(sops):
        target.blob(f"many/{number:04}.dcm").upload_from_string(
            part10(make_instance(study=study, sop=sop, number=number % 200 + 1))
        )
    data_dir = tmp_path / "data"
    first = start_server(data_dir, database_url=database_url)
    try:
        healthcare = healthcare_client(first)
        dataset = f"{LOCATION}/datasets/restart"
        healthcare.projects().locations().datasets().create(
            parent=LOCATION, datasetId="restart", body={}
        ).execute()
        store = stores_api(healthcare).create(parent=dataset, dicomStoreId="s", body={}).execute()
        operation = (
            stores_api(healthcare)
            .import_(name=store["name"], body={"gcsSource": {"uri": f"gs://{bucket}/many/*.dcm"}})
            .execute()
        )
        operations = healthcare.projects().locations().datasets().operations()
        deadline = time.monotonic() + 60
        while True:  # kill it once it has stored some, but not all
            seen = operations.get(name=operation["name"]).execute()
            done_so_far = int(seen["metadata"].get("counter", {}).get("success", "0"))
            if done_so_far > 0:
                break
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.02)
        assert not seen.get("done"), "the import finished before it could be interrupted"
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)

    second = start_server(data_dir, database_url=database_url)
    try:
        healthcare = healthcare_client(second)
        done = wait_for_operation(healthcare, operation, timeout=120)
        assert done["response"]["@type"].endswith("ImportDicomDataResponse")
        assert done["metadata"]["counter"] == {"success": str(FILES)}
        search = stores_api(healthcare).searchForInstances(
            parent=store["name"], dicomWebPath="instances"
        )
        found = execute_raw(search, accept="application/dicom+json").json()
        assert {item["00080018"]["Value"][0] for item in found} == set(sops)
        retrieve = stores_api(healthcare).studies().series().instances().retrieveInstance
        first_instance = found[0]
        series = first_instance["0020000E"]["Value"][0]
        sop = first_instance["00080018"]["Value"][0]
        answer = execute_raw(
            retrieve(parent=store["name"],
                     dicomWebPath=f"studies/{study}/series/{series}/instances/{sop}"),
            accept="application/dicom; transfer-syntax=*",
        )  # fmt: skip
        assert answer.content == target.blob(f"many/{sops.index(sop):04}.dcm").download_as_bytes()
    finally:
        assert second.stop() == 0
