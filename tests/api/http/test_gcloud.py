"""The management API through Google's own ``gcloud healthcare`` commands, used unchanged.

Each engine's server gets a private gcloud configuration (``CLOUDSDK_CONFIG``) that points the
healthcare API at it and keeps gcloud offline and quiet: no credentials, no usage reporting, no
update check, no prompts. gcloud starts slowly (about a second a call), so tests make few calls
and check the effects through Google's Python client where that is cheaper.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.conftest import IN_CI, LOCATION
from tests.object_servers import GcsEmulator
from tests.processes import ServerProcess

pytestmark = pytest.mark.gcloud

_, PROJECT, _, REGION = LOCATION.split("/")
DATASET_TYPE = "type.googleapis.com/google.cloud.healthcare.v1.dataset.Dataset"
CREATE_DATASET = "google.cloud.healthcare.v1.dataset.DatasetService.CreateDataset"
IMPORT = "google.cloud.healthcare.v1.dicom.DicomService.ImportDicomData"
TIMEOUT = 60

# Shared by every engine's configuration; only the endpoint differs.
_PROPERTIES = {
    "auth/disable_credentials": "true",
    "core/project": PROJECT,
    "healthcare/location": REGION,
    "core/disable_usage_reporting": "true",
    "core/disable_prompts": "true",
    "core/check_gce_metadata": "false",
    "component_manager/disable_update_check": "true",
    "survey/disable_prompts": "true",
}


@dataclass(frozen=True)
class Gcloud:
    """The ``gcloud`` CLI with a configuration directory of its own."""

    executable: str
    config: Path

    def environment(self) -> dict[str, str]:
        # The caller's own CLOUDSDK_* settings (a project, say) would override the configuration.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CLOUDSDK_") or key.startswith("CLOUDSDK_PYTHON")
        }
        env["CLOUDSDK_CONFIG"] = str(self.config)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, *args, "--quiet"],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def __call__(self, *args: str) -> Any:
        """Run ``gcloud ARGS --format=json`` successfully; its parsed output (None if empty)."""
        done = self.run(*args, "--format=json")
        assert done.returncode == 0, f"gcloud {' '.join(args)} failed:\n{done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else None

    def fails(self, *args: str) -> str:
        """Run ``gcloud ARGS``, which must fail; its standard error."""
        done = self.run(*args)
        assert done.returncode != 0, f"gcloud {' '.join(args)} succeeded:\n{done.stdout}"
        return done.stderr


@pytest.fixture(scope="session")
def gcloud_base(tmp_path_factory: pytest.TempPathFactory) -> Gcloud:
    """A configuration with everything but the endpoint, built once and copied per server."""
    executable = shutil.which("gcloud")
    if executable is None:
        message = "the Google Cloud SDK's gcloud is not on PATH"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    base = Gcloud(executable, tmp_path_factory.mktemp("gcloud-base"))
    for name, value in _PROPERTIES.items():
        base("config", "set", name, value)
    return base


@pytest.fixture(scope="session")
def gcloud(
    gcloud_base: Gcloud, server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Gcloud:
    """gcloud configured as the README says, against this engine's server."""
    config = tmp_path_factory.mktemp("gcloud")
    shutil.copytree(gcloud_base.config, config, dirs_exist_ok=True)
    tool = Gcloud(gcloud_base.executable, config)
    tool("config", "set", "api_endpoint_overrides/healthcare", f"{server.url}/")
    return tool


@pytest.fixture
def dataset_id(healthcare: Any) -> Iterator[str]:
    """A fresh dataset ID in LOCATION for gcloud to create; the dataset is deleted afterwards."""
    dataset_id = f"gcloud-{uuid.uuid4().hex[:10]}"
    yield dataset_id
    try:
        healthcare.projects().locations().datasets().delete(
            name=f"{LOCATION}/datasets/{dataset_id}"
        ).execute()
    except HttpError as error:
        if error.status_code != 404:
            raise


def status_of(call: Any) -> int:
    with pytest.raises(HttpError) as raised:
        call.execute()
    return raised.value.status_code


def test_dataset_create_describe_update_list_delete(
    gcloud: Gcloud, healthcare: Any, dataset_id: str
) -> None:
    datasets = healthcare.projects().locations().datasets()
    name = f"{LOCATION}/datasets/{dataset_id}"
    created = gcloud("healthcare", "datasets", "create", dataset_id, "--time-zone=America/New_York")
    assert created == {"name": name, "timeZone": "America/New_York"}
    assert gcloud("healthcare", "datasets", "describe", dataset_id) == created

    updated = gcloud("healthcare", "datasets", "update", dataset_id, "--time-zone=Europe/Paris")
    assert updated == {"name": name, "timeZone": "Europe/Paris"}
    assert datasets.get(name=name).execute() == updated
    assert updated in gcloud("healthcare", "datasets", "list")

    gcloud("healthcare", "datasets", "delete", dataset_id)
    assert status_of(datasets.get(name=name)) == 404


def test_dataset_create_async_then_operations_describe_and_list(
    gcloud: Gcloud, healthcare: Any, dataset_id: str
) -> None:
    # gcloud 528 has no `gcloud healthcare operations wait` (GA and beta offer describe and list,
    # alpha adds cancel), so `datasets create --async` and `operations describe` stand in for it.
    name = f"{LOCATION}/datasets/{dataset_id}"
    operation = gcloud("healthcare", "datasets", "create", dataset_id, "--async")
    assert operation["name"].startswith(f"{name}/operations/")
    assert operation["done"] is True
    assert operation["metadata"]["apiMethodName"] == CREATE_DATASET
    assert operation["response"] == {"@type": DATASET_TYPE, "name": name}

    operation_id = operation["name"].rsplit("/", 1)[1]
    dataset_flag = f"--dataset={dataset_id}"
    assert gcloud("healthcare", "operations", "describe", operation_id, dataset_flag) == operation
    assert gcloud("healthcare", "operations", "list", dataset_flag) == [operation]
    operations = healthcare.projects().locations().datasets().operations()
    assert operations.get(name=operation["name"]).execute() == operation


def test_dicom_store_create_update_describe_list_delete(
    gcloud: Gcloud, healthcare: Any, dataset: str
) -> None:
    stores = healthcare.projects().locations().datasets().dicomStores()
    dataset_flag = f"--dataset={dataset.rsplit('/', 1)[1]}"
    name = f"{dataset}/dicomStores/ct"
    created = gcloud(
        "healthcare", "dicom-stores", "create", "ct", dataset_flag,
        "--pubsub-topic=projects/p/topics/t", "--send-for-bulk-import",
        "--stream-configs=bq://p.d.t1",
    )  # fmt: skip
    assert created == {
        "name": name,
        "notificationConfig": {"pubsubTopic": "projects/p/topics/t", "sendForBulkImport": True},
        "streamConfigs": [{"bigqueryDestination": {"tableUri": "bq://p.d.t1"}}],
    }
    # No release track of gcloud has label flags for DICOM stores: labels come from the client.
    stores.patch(name=name, updateMask="labels", body={"labels": {"env": "prod"}}).execute()
    stores.create(parent=dataset, dicomStoreId="mr", body={"labels": {"env": "dev"}}).execute()

    # gcloud sends updateMask=notificationConfig.pubsubTopic,streamConfigs: the topic changes,
    # sendForBulkImport and the labels stay, the stream configs are replaced.
    updated = gcloud(
        "healthcare", "dicom-stores", "update", "ct", dataset_flag,
        "--pubsub-topic=projects/p/topics/t2", "--stream-configs=bq://p.d.t2,bq://p.d.t3",
    )  # fmt: skip
    expected = {
        "name": name,
        "labels": {"env": "prod"},
        "notificationConfig": {"pubsubTopic": "projects/p/topics/t2", "sendForBulkImport": True},
        "streamConfigs": [
            {"bigqueryDestination": {"tableUri": "bq://p.d.t2"}},
            {"bigqueryDestination": {"tableUri": "bq://p.d.t3"}},
        ],
    }
    assert updated == expected
    assert gcloud("healthcare", "dicom-stores", "describe", "ct", dataset_flag) == expected
    assert stores.get(name=name).execute() == expected
    # gcloud applies --filter itself to the full listing; it sends no filter parameter.
    listed = gcloud("healthcare", "dicom-stores", "list", dataset_flag, "--filter=labels.env=prod")
    assert listed == [expected]

    gcloud("healthcare", "dicom-stores", "delete", "ct", dataset_flag)
    assert status_of(stores.get(name=name)) == 404
    assert [store["name"] for store in stores.list(parent=dataset).execute()["dicomStores"]] == [
        f"{dataset}/dicomStores/mr"
    ]


def test_list_follows_next_page_tokens(gcloud: Gcloud, healthcare: Any) -> None:
    project = f"gcloud-{uuid.uuid4().hex[:10]}"
    parent = f"projects/{project}/locations/{REGION}"
    datasets = healthcare.projects().locations().datasets()
    names = [f"{parent}/datasets/d{index}" for index in range(3)]
    for name in names:
        datasets.create(parent=parent, datasetId=name.rsplit("/", 1)[1], body={}).execute()
    try:
        done = gcloud.run(
            "healthcare", "datasets", "list", f"--project={project}", "--page-size=2",
            "--format=json", "--log-http",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert [item["name"] for item in json.loads(done.stdout)] == names
        assert done.stderr.count("==== request start ====") == 2
    finally:
        for name in names:
            datasets.delete(name=name).execute()


def test_errors_reach_the_user_with_google_status(gcloud: Gcloud, dataset: str) -> None:
    dataset_id = dataset.rsplit("/", 1)[1]
    missing = gcloud.fails("healthcare", "datasets", "describe", f"{dataset_id}-missing")
    assert "(gcloud.healthcare.datasets.describe) NOT_FOUND:" in missing
    taken = gcloud.fails("healthcare", "datasets", "create", dataset_id)
    assert "(gcloud.healthcare.datasets.create) ALREADY_EXISTS:" in taken


def test_import_export_gcs_and_bq_then_operations_describe_and_list(
    gcloud: Gcloud, healthcare: Any, dataset: str, fake_gcs: GcsEmulator, server: ServerProcess
) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from tests.api.http.dicomweb_support import make_instance, part10

    stores = healthcare.projects().locations().datasets().dicomStores()
    stores.create(parent=dataset, dicomStoreId="src", body={}).execute()
    dataset_flag = f"--dataset={dataset.rsplit('/', 1)[1]}"
    bucket = fake_gcs.create_bucket()
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    instances = [make_instance() for _ in range(3)]
    for number, instance in enumerate(instances):
        client.bucket(bucket).blob(f"in/{number}.dcm").upload_from_string(part10(instance))

    # Without --async gcloud polls operations.get until the operation is done.
    gcloud("healthcare", "dicom-stores", "import", "gcs", "src", dataset_flag,
           f"--gcs-uri=gs://{bucket}/in/*.dcm")  # fmt: skip
    gcloud("healthcare", "dicom-stores", "export", "gcs", "src", dataset_flag,
           f"--gcs-uri-prefix=gs://{bucket}/out/", "--mime-type=image/png")  # fmt: skip
    exported = {blob.name for blob in client.list_blobs(bucket, prefix="out/")}
    assert exported == {
        f"out/{i.StudyInstanceUID}/{i.SeriesInstanceUID}/{i.SOPInstanceUID}.png" for i in instances
    }
    gcloud("healthcare", "dicom-stores", "export", "bq", "src", dataset_flag,
           f"--bq-table=bq://{PROJECT}.gcloud_exports.instances",
           "--write-disposition=write-truncate")  # fmt: skip
    import duckdb

    database = server.data_dir / "bigquery" / f"{PROJECT}.duckdb"
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "SELECT SOPInstanceUID FROM gcloud_exports.instances ORDER BY 1"
        ).fetchall()
    assert rows == sorted((i.SOPInstanceUID,) for i in instances)

    listed = gcloud("healthcare", "operations", "list", dataset_flag)
    methods = sorted(item["metadata"]["apiMethodName"].rsplit(".", 1)[1] for item in listed)
    assert methods == ["CreateDataset", "ExportDicomData", "ExportDicomData", "ImportDicomData"]
    imported = next(item for item in listed if item["metadata"]["apiMethodName"] == IMPORT)
    operation_id = imported["name"].rsplit("/", 1)[1]
    described = gcloud("healthcare", "operations", "describe", operation_id, dataset_flag)
    assert described == imported
    assert described["metadata"]["counter"] == {"success": "3"}


def test_an_import_started_with_gcloud_and_cancelled_ends_cancelled(
    gcloud: Gcloud, healthcare: Any, dataset: str, fake_gcs: GcsEmulator
) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from tests.api.http.dicomweb_support import make_instance, part10, wait_for_operation

    files = 600
    stores = healthcare.projects().locations().datasets().dicomStores()
    store = stores.create(parent=dataset, dicomStoreId="big", body={}).execute()["name"]
    bucket = fake_gcs.create_bucket()
    target = storage.Client(project="test", credentials=AnonymousCredentials()).bucket(bucket)
    for number in range(files):
        target.blob(f"in/{number:04}.dcm").upload_from_string(
            part10(make_instance(number=number % 200 + 1))
        )
    dataset_flag = f"--dataset={dataset.rsplit('/', 1)[1]}"
    started = gcloud("healthcare", "dicom-stores", "import", "gcs", "big", dataset_flag,
                     f"--gcs-uri=gs://{bucket}/in/*.dcm", "--async")  # fmt: skip
    operation_id = started["name"].rsplit("/", 1)[1]

    # gcloud 528 offers cancel only in its alpha track, which speaks the v1alpha2 API (not
    # served here): the cancel goes through Google's Python client.
    operations = healthcare.projects().locations().datasets().operations()
    assert operations.cancel(name=started["name"], body={}).execute() == {}

    done = wait_for_operation(healthcare, started, timeout=120)
    assert gcloud("healthcare", "operations", "describe", operation_id, dataset_flag) == done
    assert done["error"]["code"] == 1  # CANCELLED
    assert done["metadata"]["cancelRequested"] is True
    imported = int(done["metadata"].get("counter", {}).get("success", "0"))
    assert imported < files
    metrics = stores.getDICOMStoreMetrics(name=store).execute()
    assert imported <= int(metrics.get("instanceCount", "0")) < files
