"""DICOMweb delete over a real server on both engines (``dicomweb-conformance.md`` §5): studies
and series as long-running operations (polled until done), instances at once; afterwards the data
is gone from retrieval and metrics, and its bytes from the blob folder. Deleting a store or a
dataset removes its blobs too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from dicomweb_client.api import DICOMwebClient
from googleapiclient.errors import HttpError
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.api.http.dicomweb_support import (
    blob_files,
    error_of,
    execute_raw,
    instance_path,
    make_instance,
    multipart_body,
    part10,
    stores_api,
    stow_content_type,
    wait_for_operation,
)
from tests.processes import ServerProcess

EMPTY = "type.googleapis.com/google.protobuf.Empty"
METADATA_TYPE = "type.googleapis.com/google.cloud.healthcare.v1.OperationMetadata"
DELETE_STUDY = "google.cloud.healthcare.v1.dicomweb.DicomWebService.DeleteStudy"
DELETE_SERIES = "google.cloud.healthcare.v1.dicomweb.DicomWebService.DeleteSeries"


@dataclass
class Stored:
    """Two studies: study 1 with series A (2 instances) and B (1), study 2 with one instance."""

    store: str
    study_1: str
    study_2: str
    series_a: str
    series_b: str
    a: list[Dataset]
    b: list[Dataset]
    other: Dataset

    @property
    def everything(self) -> list[Dataset]:
        return [*self.a, *self.b, self.other]


@pytest.fixture
def stored(healthcare: Any, dicom_store: str) -> Stored:
    study_1, series_a, series_b = generate_uid(), generate_uid(), generate_uid()
    a = [make_instance(study=study_1, series=series_a, number=n) for n in (1, 2)]
    b = [make_instance(study=study_1, series=series_b, number=3)]
    other = make_instance(number=4)
    request = stores_api(healthcare).storeInstances(parent=dicom_store, dicomWebPath="studies")
    body = multipart_body(part10(dataset) for dataset in [*a, *b, other])
    assert execute_raw(request, body=body, content_type=stow_content_type()).status == 200
    return Stored(dicom_store, study_1, other.StudyInstanceUID, series_a, series_b, a, b, other)


def path_of(dataset: Dataset) -> str:
    return instance_path(
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID
    )


def size(datasets: list[Dataset]) -> str:
    return str(sum(len(part10(dataset)) for dataset in datasets))


def store_metrics(healthcare: Any, store: str) -> dict[str, Any]:
    answer: dict[str, Any] = stores_api(healthcare).getDICOMStoreMetrics(name=store).execute()
    answer.pop("structuredStorageSizeBytes", None)
    return answer


def is_retrievable(healthcare: Any, store: str, dataset: Dataset) -> bool:
    request = (
        stores_api(healthcare)
        .studies()
        .series()
        .instances()
        .retrieveInstance(parent=store, dicomWebPath=path_of(dataset))
    )
    try:
        execute_raw(request, accept="application/dicom; transfer-syntax=*")
    except HttpError as error:
        assert error.status_code == 404
        return False
    return True


def assert_gone(
    server: ServerProcess, healthcare: Any, stored: Stored, gone: list[Dataset]
) -> None:
    for dataset in stored.everything:
        kept = dataset not in gone
        assert is_retrievable(healthcare, stored.store, dataset) is kept
        assert len(blob_files(server.data_dir, part10(dataset))) == (1 if kept else 0)


def check_operation(healthcare: Any, started: dict[str, Any], method: str, instances: int) -> None:
    """The immediate answer names the operation; once done it has the final shape."""
    dataset = started["name"].split("/operations/")[0]
    assert started["name"].startswith(f"{dataset}/operations/")
    assert started["metadata"]["apiMethodName"] == method
    operation = wait_for_operation(healthcare, started)
    assert operation["done"] is True
    assert operation["response"] == {"@type": EMPTY}
    assert operation["metadata"]["@type"] == METADATA_TYPE
    assert operation["metadata"]["apiMethodName"] == method
    assert "error" not in operation
    assert not operation["metadata"].get("cancelRequested", False)
    assert operation["metadata"]["counter"] == {"success": str(instances)}
    assert operation["metadata"]["endTime"] >= operation["metadata"]["createTime"]
    operations = healthcare.projects().locations().datasets().operations()
    assert operations.get(name=operation["name"]).execute() == operation


def test_delete_study(server: ServerProcess, healthcare: Any, stored: Stored) -> None:
    studies = stores_api(healthcare).studies()
    operation = studies.delete(parent=stored.store, dicomWebPath=f"studies/{stored.study_1}")
    check_operation(healthcare, operation.execute(), DELETE_STUDY, 3)
    assert_gone(server, healthcare, stored, [*stored.a, *stored.b])
    assert store_metrics(healthcare, stored.store) == {
        "name": stored.store,
        "studyCount": "1",
        "seriesCount": "1",
        "instanceCount": "1",
        "blobStorageSizeBytes": size([stored.other]),
    }
    web = stores_api(healthcare).dicomWeb().studies()
    study_name = f"{stored.store}/dicomWeb/studies/{stored.study_1}"
    with pytest.raises(HttpError) as raised:
        web.getStudyMetrics(study=study_name).execute()
    assert raised.value.status_code == 404
    request = studies.retrieveStudy(parent=stored.store, dicomWebPath=f"studies/{stored.study_1}")
    assert error_of(request, accept="*/*")[0] == 404
    request = studies.retrieveMetadata(
        parent=stored.store, dicomWebPath=f"studies/{stored.study_1}/metadata"
    )
    assert error_of(request, accept="*/*")[0] == 404
    # A second delete finds nothing.
    again = studies.delete(parent=stored.store, dicomWebPath=f"studies/{stored.study_1}")
    with pytest.raises(HttpError) as raised:
        again.execute()
    assert raised.value.status_code == 404


def test_delete_series(server: ServerProcess, healthcare: Any, stored: Stored) -> None:
    series = stores_api(healthcare).studies().series()
    path = f"studies/{stored.study_1}/series/{stored.series_a}"
    check_operation(
        healthcare,
        series.delete(parent=stored.store, dicomWebPath=path).execute(),
        DELETE_SERIES,
        2,
    )
    assert_gone(server, healthcare, stored, stored.a)
    assert store_metrics(healthcare, stored.store) == {
        "name": stored.store,
        "studyCount": "2",
        "seriesCount": "2",
        "instanceCount": "2",
        "blobStorageSizeBytes": size([*stored.b, stored.other]),
    }
    web = stores_api(healthcare).dicomWeb().studies()
    study_name = f"{stored.store}/dicomWeb/studies/{stored.study_1}"
    study = web.getStudyMetrics(study=study_name).execute()
    assert study["seriesCount"] == "1"
    assert study["instanceCount"] == "1"
    assert study["blobStorageSizeBytes"] == size(stored.b)
    with pytest.raises(HttpError) as raised:
        web.series().getSeriesMetrics(series=f"{study_name}/series/{stored.series_a}").execute()
    assert raised.value.status_code == 404
    client = DICOMwebClient(f"{server.url}/v1/{stored.store}/dicomWeb")
    assert [d.SOPInstanceUID for d in client.retrieve_study(stored.study_1)] == [
        stored.b[0].SOPInstanceUID
    ]
    # Deleting the last series of a study removes the study.
    path = f"studies/{stored.study_1}/series/{stored.series_b}"
    wait_for_operation(healthcare, series.delete(parent=stored.store, dicomWebPath=path).execute())
    with pytest.raises(HttpError) as raised:
        web.getStudyMetrics(study=study_name).execute()
    assert raised.value.status_code == 404
    assert store_metrics(healthcare, stored.store)["studyCount"] == "1"


def test_delete_instance(server: ServerProcess, healthcare: Any, stored: Stored) -> None:
    instances = stores_api(healthcare).studies().series().instances()
    first, second = stored.a
    assert instances.delete(parent=stored.store, dicomWebPath=path_of(first)).execute() == {}
    assert_gone(server, healthcare, stored, [first])
    assert store_metrics(healthcare, stored.store) == {
        "name": stored.store,
        "studyCount": "2",
        "seriesCount": "3",
        "instanceCount": "3",
        "blobStorageSizeBytes": size([second, *stored.b, stored.other]),
    }
    web = stores_api(healthcare).dicomWeb().studies()
    series_name = f"{stored.store}/dicomWeb/studies/{stored.study_1}/series/{stored.series_a}"
    series = web.series().getSeriesMetrics(series=series_name).execute()
    assert (series["instanceCount"], series["blobStorageSizeBytes"]) == ("1", size([second]))
    with pytest.raises(HttpError) as raised:
        web.series().instances().getStorageInfo(
            resource=f"{stored.store}/dicomWeb/{path_of(first)}"
        ).execute()
    assert raised.value.status_code == 404
    # dicomweb-client deletes the last instance of the series: the series row goes with it.
    client = DICOMwebClient(f"{server.url}/v1/{stored.store}/dicomWeb")
    client.delete_instance(stored.study_1, stored.series_a, second.SOPInstanceUID)
    with pytest.raises(HttpError) as raised:
        web.series().getSeriesMetrics(series=series_name).execute()
    assert raised.value.status_code == 404
    assert store_metrics(healthcare, stored.store)["seriesCount"] == "2"
    # The last instance of a study: the study row goes too.
    client.delete_instance(
        stored.study_2, stored.other.SeriesInstanceUID, stored.other.SOPInstanceUID
    )
    assert store_metrics(healthcare, stored.store) == {
        "name": stored.store,
        "studyCount": "1",
        "seriesCount": "1",
        "instanceCount": "1",
        "blobStorageSizeBytes": size(stored.b),
    }
    assert_gone(server, healthcare, stored, [*stored.a, stored.other])


def test_everything_deleted_leaves_empty_metrics(healthcare: Any, stored: Stored) -> None:
    client_studies = stores_api(healthcare).studies()
    for study in (stored.study_1, stored.study_2):
        request = client_studies.delete(parent=stored.store, dicomWebPath=f"studies/{study}")
        wait_for_operation(healthcare, request.execute())
    assert stores_api(healthcare).getDICOMStoreMetrics(name=stored.store).execute() == {
        "name": stored.store
    }


def test_deleted_instance_can_be_stored_again(
    server: ServerProcess, healthcare: Any, stored: Stored
) -> None:
    first = stored.a[0]
    instances = stores_api(healthcare).studies().series().instances()
    instances.delete(parent=stored.store, dicomWebPath=path_of(first)).execute()
    changed = make_instance(
        study=first.StudyInstanceUID,
        series=first.SeriesInstanceUID,
        sop=first.SOPInstanceUID,
        PatientName="Re^Stored",
    )
    request = stores_api(healthcare).storeInstances(parent=stored.store, dicomWebPath="studies")
    response = execute_raw(
        request, body=multipart_body([part10(changed)]), content_type=stow_content_type()
    )
    assert response.status == 200
    assert len(blob_files(server.data_dir, part10(changed))) == 1
    retrieved = execute_raw(
        instances.retrieveInstance(parent=stored.store, dicomWebPath=path_of(first)),
        accept="application/dicom; transfer-syntax=*",
    )
    assert retrieved.content == part10(changed)


@pytest.mark.parametrize(
    "target", ["study", "series", "series of other study", "instance", "instance of other series"]
)
def test_unknown_targets_are_404_and_change_nothing(
    server: ServerProcess, healthcare: Any, stored: Stored, target: str
) -> None:
    studies = stores_api(healthcare).studies()
    unknown = generate_uid()
    request = {
        "study": lambda: studies.delete(parent=stored.store, dicomWebPath=f"studies/{unknown}"),
        "series": lambda: studies.series().delete(
            parent=stored.store, dicomWebPath=f"studies/{stored.study_1}/series/{unknown}"
        ),
        "series of other study": lambda: studies.series().delete(
            parent=stored.store, dicomWebPath=f"studies/{stored.study_2}/series/{stored.series_a}"
        ),
        "instance": lambda: (
            studies.series()
            .instances()
            .delete(
                parent=stored.store,
                dicomWebPath=instance_path(stored.study_1, stored.series_a, unknown),
            )
        ),
        "instance of other series": lambda: (
            studies.series()
            .instances()
            .delete(
                parent=stored.store,
                dicomWebPath=instance_path(
                    stored.study_1, stored.series_b, stored.a[0].SOPInstanceUID
                ),
            )
        ),
    }[target]()
    status, error = error_of(request)
    assert (status, error["status"]) == (404, "NOT_FOUND")
    assert_gone(server, healthcare, stored, [])
    assert store_metrics(healthcare, stored.store)["instanceCount"] == "4"


def test_delete_in_unknown_store_is_404(healthcare: Any, stored: Stored) -> None:
    missing = stored.store.rsplit("/", 1)[0] + "/missing"
    request = (
        stores_api(healthcare)
        .studies()
        .delete(parent=missing, dicomWebPath=f"studies/{stored.study_1}")
    )
    status, error = error_of(request)
    assert (status, error["status"]) == (404, "NOT_FOUND")


def test_deleting_the_store_removes_its_blobs(
    server: ServerProcess, healthcare: Any, stored: Stored
) -> None:
    # Another store in the same dataset keeps its bytes.
    dataset = stored.store.rsplit("/dicomStores/", 1)[0]
    neighbour = stores_api(healthcare).create(parent=dataset, dicomStoreId="neighbour", body={})
    neighbour_name = neighbour.execute()["name"]
    kept = make_instance()
    execute_raw(
        stores_api(healthcare).storeInstances(parent=neighbour_name, dicomWebPath="studies"),
        body=part10(kept),
        content_type="application/dicom",
    )
    stores_api(healthcare).delete(name=stored.store).execute()
    for dataset_ in stored.everything:
        assert blob_files(server.data_dir, part10(dataset_)) == []
    assert len(blob_files(server.data_dir, part10(kept))) == 1
    # The same store ID again starts empty.
    stores_api(healthcare).create(parent=dataset, dicomStoreId="store", body={}).execute()
    assert stores_api(healthcare).getDICOMStoreMetrics(name=stored.store).execute() == {
        "name": stored.store
    }
    assert not is_retrievable(healthcare, stored.store, stored.a[0])


def test_deleting_the_dataset_removes_its_blobs(
    server: ServerProcess, healthcare: Any, stored: Stored
) -> None:
    dataset = stored.store.rsplit("/dicomStores/", 1)[0]
    healthcare.projects().locations().datasets().delete(name=dataset).execute()
    for dataset_ in stored.everything:
        assert blob_files(server.data_dir, part10(dataset_)) == []


def test_delete_touches_only_its_store(
    server: ServerProcess, healthcare: Any, stored: Stored
) -> None:
    """The same instances in a second store keep their rows and their own blob files."""
    dataset = stored.store.rsplit("/dicomStores/", 1)[0]
    twin = stores_api(healthcare).create(parent=dataset, dicomStoreId="twin", body={}).execute()
    request = stores_api(healthcare).storeInstances(parent=twin["name"], dicomWebPath="studies")
    body = multipart_body(part10(d) for d in stored.everything)
    execute_raw(request, body=body, content_type=stow_content_type())
    for dataset_ in stored.everything:
        assert len(blob_files(server.data_dir, part10(dataset_))) == 2
    studies = stores_api(healthcare).studies()
    request = studies.delete(parent=stored.store, dicomWebPath=f"studies/{stored.study_1}")
    wait_for_operation(healthcare, request.execute())
    for dataset_ in stored.everything:
        assert is_retrievable(healthcare, twin["name"], dataset_)
        expected = 1 if dataset_ in [*stored.a, *stored.b] else 2
        assert len(blob_files(server.data_dir, part10(dataset_))) == expected
    assert store_metrics(healthcare, twin["name"])["instanceCount"] == "4"
