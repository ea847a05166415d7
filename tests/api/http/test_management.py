"""The management API through google-api-python-client, as Google's users drive it."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.conftest import LOCATION

DATASET_TYPE = "type.googleapis.com/google.cloud.healthcare.v1.dataset.Dataset"


def error_of(call: Any) -> tuple[int, dict[str, Any]]:
    import json

    with pytest.raises(HttpError) as raised:
        call.execute()
    return raised.value.status_code, json.loads(raised.value.content)["error"]


def test_locations_answer_for_any_project(healthcare: Any) -> None:
    locations = healthcare.projects().locations()
    assert locations.get(name="projects/any-project-42/locations/europe-west4").execute() == {
        "name": "projects/any-project-42/locations/europe-west4",
        "locationId": "europe-west4",
    }
    listed = locations.list(name="projects/any-project-42").execute()["locations"]
    assert {
        "name": "projects/any-project-42/locations/us-central1",
        "locationId": "us-central1",
    } in listed


def test_locations_list_pages(healthcare: Any) -> None:
    locations = healthcare.projects().locations()
    first = locations.list(name="projects/p", pageSize=5).execute()
    assert len(first["locations"]) == 5
    seen = [item["locationId"] for item in first["locations"]]
    token = first["nextPageToken"]
    while token:
        page = locations.list(name="projects/p", pageSize=5, pageToken=token).execute()
        seen += [item["locationId"] for item in page["locations"]]
        token = page.get("nextPageToken")
    assert seen == sorted(seen) and len(seen) == len(set(seen)) > 5


def test_dataset_create_is_an_operation_that_is_done_with_the_dataset(healthcare: Any) -> None:
    datasets = healthcare.projects().locations().datasets()
    operation = datasets.create(
        parent=LOCATION, datasetId="created-by-client", body={"timeZone": "America/New_York"}
    ).execute()
    try:
        assert operation["name"].startswith(f"{LOCATION}/datasets/created-by-client/operations/")
        fetched = datasets.operations().get(name=operation["name"]).execute()
        assert fetched["done"] is True
        assert fetched["metadata"]["apiMethodName"] == (
            "google.cloud.healthcare.v1.dataset.DatasetService.CreateDataset"
        )
        assert fetched["metadata"]["createTime"].endswith("Z")
        assert fetched["response"] == {
            "@type": DATASET_TYPE,
            "name": f"{LOCATION}/datasets/created-by-client",
            "timeZone": "America/New_York",
        }
        listed = datasets.operations().list(name=f"{LOCATION}/datasets/created-by-client").execute()
        assert [op["name"] for op in listed["operations"]] == [operation["name"]]
    finally:
        datasets.delete(name=f"{LOCATION}/datasets/created-by-client").execute()


def test_dataset_get_patch_delete(healthcare: Any, dataset: str) -> None:
    datasets = healthcare.projects().locations().datasets()
    assert datasets.get(name=dataset).execute() == {"name": dataset}
    patched = datasets.patch(name=dataset, updateMask="timeZone", body={"timeZone": "Europe/Paris"})
    assert patched.execute() == {"name": dataset, "timeZone": "Europe/Paris"}
    assert datasets.get(name=dataset).execute()["timeZone"] == "Europe/Paris"
    assert datasets.delete(name=dataset).execute() == {}
    status, error = error_of(datasets.get(name=dataset))
    assert (status, error["status"]) == (404, "NOT_FOUND")


def test_dataset_create_twice_is_already_exists(healthcare: Any, dataset: str) -> None:
    datasets = healthcare.projects().locations().datasets()
    status, error = error_of(
        datasets.create(parent=LOCATION, datasetId=dataset.rsplit("/", 1)[1], body={})
    )
    assert (status, error["status"], error["code"]) == (409, "ALREADY_EXISTS", 409)


def test_dataset_list_pages_through_every_dataset(healthcare: Any) -> None:
    datasets = healthcare.projects().locations().datasets()
    parent = "projects/paging-project/locations/us-east1"
    created = [f"page-{index:02d}" for index in range(7)]
    for dataset_id in created:
        datasets.create(parent=parent, datasetId=dataset_id, body={}).execute()
    try:
        names: list[str] = []
        request = datasets.list(parent=parent, pageSize=3)
        pages = 0
        while request is not None:
            page = request.execute()
            names += [item["name"] for item in page.get("datasets", [])]
            request = datasets.list_next(request, page)
            pages += 1
        assert names == [f"{parent}/datasets/{dataset_id}" for dataset_id in created]
        assert pages == 3
    finally:
        for dataset_id in created:
            datasets.delete(name=f"{parent}/datasets/{dataset_id}").execute()
    assert datasets.list(parent=parent).execute() == {}


def test_dicom_store_lifecycle(healthcare: Any, dataset: str) -> None:
    stores = healthcare.projects().locations().datasets().dicomStores()
    body = {
        "labels": {"env": "test", "team": ""},
        "notificationConfig": {"pubsubTopic": "projects/p/topics/legacy"},
        "notificationConfigs": [{"pubsubTopic": "projects/p/topics/t1"}],
        "streamConfigs": [{"bigqueryDestination": {"tableUri": "bq://p.d.t", "force": True}}],
    }
    created = stores.create(parent=dataset, dicomStoreId="ct.scans_2024-01", body=body).execute()
    name = f"{dataset}/dicomStores/ct.scans_2024-01"
    assert created == {"name": name, **body}
    assert stores.get(name=name).execute() == created

    patched = stores.patch(
        name=name,
        updateMask="labels,notificationConfigs",
        body={"labels": {"env": "prod"}, "notificationConfigs": [], "streamConfigs": []},
    ).execute()
    assert patched == {
        "name": name,
        "labels": {"env": "prod"},
        "notificationConfig": {"pubsubTopic": "projects/p/topics/legacy"},
        "streamConfigs": body["streamConfigs"],
    }
    assert stores.delete(name=name).execute() == {}
    status, error = error_of(stores.get(name=name))
    assert (status, error["status"]) == (404, "NOT_FOUND")


def test_dicom_store_list_filters_on_labels_and_pages(healthcare: Any, dataset: str) -> None:
    stores = healthcare.projects().locations().datasets().dicomStores()
    for index in range(5):
        labels = {"env": "prod" if index % 2 else "dev", "n": str(index)}
        stores.create(parent=dataset, dicomStoreId=f"s{index}", body={"labels": labels}).execute()

    def ids(filter_text: str, page_size: int = 2) -> list[str]:
        found: list[str] = []
        request = stores.list(parent=dataset, filter=filter_text, pageSize=page_size)
        while request is not None:
            page = request.execute()
            found += [store["name"].rsplit("/", 1)[1] for store in page.get("dicomStores", [])]
            request = stores.list_next(request, page)
        return found

    assert ids("labels.env=prod") == ["s1", "s3"]
    assert ids('labels.env="dev" AND NOT labels.n=4') == ["s0", "s2"]
    assert ids("labels.n=1 OR labels.n=4", page_size=1) == ["s1", "s4"]
    assert ids("labels.n:*") == ["s0", "s1", "s2", "s3", "s4"]
    assert ids("labels.missing:*") == []
    assert stores.list(parent=dataset, filter="labels.env=none").execute() == {}


def test_dataset_delete_removes_its_stores(healthcare: Any, dataset: str) -> None:
    datasets = healthcare.projects().locations().datasets()
    stores = datasets.dicomStores()
    stores.create(parent=dataset, dicomStoreId="doomed", body={}).execute()
    datasets.delete(name=dataset).execute()
    datasets.create(parent=LOCATION, datasetId=dataset.rsplit("/", 1)[1], body={}).execute()
    assert stores.list(parent=dataset).execute() == {}


def test_operations_of_a_missing_dataset_are_not_found(healthcare: Any) -> None:
    operations = healthcare.projects().locations().datasets().operations()
    status, error = error_of(operations.list(name=f"{LOCATION}/datasets/never-made"))
    assert (status, error["status"]) == (404, "NOT_FOUND")
    status, error = error_of(operations.get(name=f"{LOCATION}/datasets/never-made/operations/1"))
    assert (status, error["status"]) == (404, "NOT_FOUND")


def test_cancel_of_a_finished_operation_changes_nothing(healthcare: Any, dataset: str) -> None:
    operations = healthcare.projects().locations().datasets().operations()
    (operation,) = operations.list(name=dataset).execute()["operations"]
    assert operations.cancel(name=operation["name"], body={}).execute() == {}
    assert operations.get(name=operation["name"]).execute() == operation
