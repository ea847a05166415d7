"""Study deletes as long-running operations across a restart, through google-api-python-client:
a server without job workers leaves the delete pending (``done`` absent, as Google answers),
refuses to store into the study meanwhile, lists it under ``done=false``; restarted with workers,
it finishes the delete (``google-dicom-api.md`` §4, ``dicomweb-conformance.md`` §5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from pydicom.uid import generate_uid

from tests.api.http.dicomweb_support import (
    error_of,
    execute_raw,
    make_instance,
    multipart_body,
    part10,
    stores_api,
    stow_content_type,
    wait_for_operation,
)
from tests.conftest import ENGINES, LOCATION, healthcare_client
from tests.processes import start_server

DELETE_STUDY = "google.cloud.healthcare.v1.dicomweb.DicomWebService.DeleteStudy"
CREATE_DATASET = "google.cloud.healthcare.v1.dataset.DatasetService.CreateDataset"


@pytest.fixture(params=ENGINES)
def paused(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str | None]]:
    """A data folder and database URL for servers started and stopped by the test."""
    database_url = (
        request.getfixturevalue("postgres_database")() if request.param == "postgresql" else None
    )
    yield tmp_path / "data", database_url


def stow(healthcare: Any, store: str, datasets: list[Any]) -> Any:
    request = stores_api(healthcare).storeInstances(parent=store, dicomWebPath="studies")
    body = multipart_body(part10(dataset) for dataset in datasets)
    return execute_raw(request, body=body, content_type=stow_content_type())


def test_a_pending_delete_blocks_its_study_and_finishes_after_a_restart(
    paused: tuple[Path, str | None],
) -> None:
    data_dir, database_url = paused
    server = start_server(data_dir, database_url=database_url, extra=("--job-workers", "0"))
    try:
        healthcare = healthcare_client(server)
        datasets = healthcare.projects().locations().datasets()
        dataset = f"{LOCATION}/datasets/lro"
        datasets.create(parent=LOCATION, datasetId="lro", body={}).execute()
        store = stores_api(healthcare).create(parent=dataset, dicomStoreId="s", body={})
        store_name = store.execute()["name"]
        study = generate_uid()
        stored = [make_instance(study=study, number=n) for n in (1, 2)]
        assert stow(healthcare, store_name, stored).status == 200

        studies = stores_api(healthcare).studies()
        started = studies.delete(parent=store_name, dicomWebPath=f"studies/{study}").execute()
        assert started["name"].startswith(f"{dataset}/operations/")
        assert "done" not in started
        assert started["metadata"]["apiMethodName"] == DELETE_STUDY
        operations = datasets.operations()
        assert "done" not in operations.get(name=started["name"]).execute()
        (listed,) = operations.list(name=dataset, filter="done=false").execute()["operations"]
        assert listed["name"] == started["name"]
        (created,) = operations.list(name=dataset, filter="done=true").execute()["operations"]
        assert created["metadata"]["apiMethodName"] == CREATE_DATASET
        method_filter = f'metadata.apiMethodName="{DELETE_STUDY}" AND done=false'
        assert operations.list(name=dataset, filter=method_filter).execute() == {
            "operations": [listed]
        }
        status, error = error_of(operations.list(name=dataset, filter="createTime>0"))
        assert (status, error["status"]) == (400, "INVALID_ARGUMENT")

        # Storing into the study being deleted fails with a STOW failure item (409).
        late = make_instance(study=study, number=3)
        with pytest.raises(HttpError) as refused:
            execute_raw(
                stores_api(healthcare).storeInstances(parent=store_name, dicomWebPath="studies"),
                body=multipart_body([part10(late)]),
                content_type=stow_content_type(),
                accept="application/dicom+json",
            )
        assert refused.value.status_code == 409
        assert f"A delete of study {study} is in progress" in refused.value.content.decode()
        healthcare.close()
    finally:
        assert server.stop() == 0

    server = start_server(data_dir, database_url=database_url)
    try:
        healthcare = healthcare_client(server)
        done = wait_for_operation(healthcare, started)
        assert done["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
        assert done["metadata"]["counter"] == {"success": "2"}
        metrics = stores_api(healthcare).getDICOMStoreMetrics(name=store_name).execute()
        assert metrics == {"name": store_name}
        # Once the delete is done, the study can be stored again.
        assert stow(healthcare, store_name, [late]).status == 200
        healthcare.close()
    finally:
        assert server.stop() == 0
