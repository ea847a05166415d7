"""Fixtures of the DICOMweb integration tests: dicomweb-client on a new store, and stores that
live for a whole module (so a module stores its data once per engine)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dicomweb_client.api import DICOMwebClient
from googleapiclient.errors import HttpError

from tests.api.http.dicomweb_support import stores_api, unique_id
from tests.conftest import LOCATION
from tests.processes import ServerProcess


@pytest.fixture
def dicomweb(server: ServerProcess, dicom_store: str) -> DICOMwebClient:
    """dicomweb-client on the ``dicom_store`` fixture's DICOMweb root."""
    return DICOMwebClient(f"{server.url}/v1/{dicom_store}/dicomWeb")


@pytest.fixture
def engine(request: pytest.FixtureRequest, server: ServerProcess) -> str:
    """The index engine of the ``server`` the test runs against."""
    return str(request.node.callspec.params["server"])


@pytest.fixture(scope="module")
def module_stores(healthcare: Any) -> Iterator[Callable[[], str]]:
    """A factory of new DICOM stores (each in its own dataset) kept for the module."""
    datasets = healthcare.projects().locations().datasets()
    created: list[str] = []

    def create() -> str:
        dataset_id = unique_id("ds")
        datasets.create(parent=LOCATION, datasetId=dataset_id, body={}).execute()
        dataset = f"{LOCATION}/datasets/{dataset_id}"
        created.append(dataset)
        store = stores_api(healthcare).create(parent=dataset, dicomStoreId="store", body={})
        return str(store.execute()["name"])

    yield create
    for name in created:
        try:
            datasets.delete(name=name).execute()
        except HttpError as error:
            if error.status_code != 404:
                raise
