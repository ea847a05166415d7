"""Every example statement of StackQL's pages, and the SQL around them, run against a real
server (SQLite index): what each call does on the server and what rows come back."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from dicomstore.client import ApiError, HealthcareClient
from dicomstore.sql import DESPATCHED, Result, Session, SqlError
from tests.api.http.dicomweb_support import make_instance, part10
from tests.processes import ServerProcess, start_server
from tests.sql import examples
from tests.sql.examples import Place, as_json_string, exec_statement

PLACE = Place(project="sql-tests", location="us-central1", dataset="examples", store="configured")
IMAGES = Place(PLACE.project, PLACE.location, PLACE.dataset, "images")
DATASET_NAME = f"projects/{PLACE.project}/locations/{PLACE.location}/datasets/{PLACE.dataset}"
KMS_KEY = f"projects/{PLACE.project}/locations/{PLACE.location}/keyRings/r/cryptoKeys/k"
TOPIC = f"projects/{PLACE.project}/topics/instances"
TABLE = f"bq://{PLACE.project}.analytics.instances"
STORE_WHERE = (
    f"WHERE projectsId = '{PLACE.project}' AND locationsId = '{PLACE.location}' "
    f"AND datasetsId = '{PLACE.dataset}'"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(tmp_path_factory.mktemp("sql-executor") / "data")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("answers")


@pytest.fixture(scope="module")
def session(server: ServerProcess, output_dir: Path) -> Iterator[Session]:
    with HealthcareClient(server.url) as client:
        yield Session(client, output_dir=output_dir, wait_interval=0.05)


@pytest.fixture(scope="module")
def created_dataset(session: Session) -> Result:
    return session.execute(
        examples.create_dataset(
            PLACE,
            name=DATASET_NAME,
            time_zone="UTC",
            encryption_spec=f'{{"kmsKeyName": "{KMS_KEY}"}}',
        )
    )


@pytest.fixture(scope="module")
def created_store(session: Session, created_dataset: Result) -> Result:
    return session.execute(
        examples.create_store(
            PLACE,
            name=f"{DATASET_NAME}/dicomStores/{PLACE.store}",
            notification_config=f'{{"pubsubTopic": "{TOPIC}", "sendForBulkImport": true}}',
            labels='{"env": "prod", "team": "imaging"}',
            stream_configs=f'[{{"bigqueryDestination": {{"tableUri": "{TABLE}"}}}}]',
            notification_configs=f'[{{"pubsubTopic": "{TOPIC}"}}]',
        )
    )


@pytest.fixture(scope="module")
def images(session: Session, created_dataset: Result) -> Place:
    session.execute(
        "INSERT INTO google.healthcare.dicom_stores (projectsId, locationsId, datasetsId, "
        f"dicomStoreId) VALUES ('{IMAGES.project}', '{IMAGES.location}', '{IMAGES.dataset}', "
        f"'{IMAGES.store}')"
    )
    return IMAGES


def store_body(content: bytes) -> dict[str, str]:
    return {
        "contentType": '"application/dicom"',
        "data": f'"{base64.b64encode(content).decode()}"',
        "extensions": '""',
    }


@pytest.fixture(scope="module")
def stored(session: Session, images: Place) -> list[Dataset]:
    """Two instances of one study stored by the store_instances example: pydicom's CT and a
    small image with an icon (bulk data inside a sequence)."""
    ct_file = Path(str(get_testdata_file("CT_small.dcm")))
    ct = dcmread(ct_file)
    icon = Dataset()
    icon.Rows = icon.Columns = 2
    icon.SamplesPerPixel = 1
    icon.PhotometricInterpretation = "MONOCHROME2"
    icon.BitsAllocated = icon.BitsStored = 8
    icon.HighBit = 7
    icon.PixelRepresentation = 0
    icon.PixelData = b"\x01\x02\x03\x04"
    small = make_instance(study=ct.StudyInstanceUID, IconImageSequence=[icon])
    for dataset, content in ((ct, ct_file.read_bytes()), (small, part10(small))):
        result = session.execute(
            exec_statement("store_instances", images, body=store_body(content))
        )
        (row,) = result.rows
        assert row["ReferencedSOPSequence"][0]["ReferencedSOPInstanceUID"] == dataset.SOPInstanceUID
    return [ct, small]


def instance_parameters(dataset: Dataset) -> dict[str, str]:
    return {
        "studiesId": dataset.StudyInstanceUID,
        "seriesId": dataset.SeriesInstanceUID,
        "instancesId": dataset.SOPInstanceUID,
    }


# datasets


def test_dataset_create_example_answers_its_finished_operation(created_dataset: Result) -> None:
    assert created_dataset.columns == ["name", "done", "error", "metadata", "response"]
    (operation,) = created_dataset.rows
    assert operation["name"].startswith(f"{DATASET_NAME}/operations/")
    assert operation["done"] is True
    assert operation["response"]["name"] == DATASET_NAME


def test_dataset_examples(session: Session, created_dataset: Result) -> None:
    got = session.execute(examples.get_dataset(PLACE))
    assert got.columns == ["name", "encryptionSpec", "satisfiesPzi", "satisfiesPzs", "timeZone"]
    assert got.rows[0]["encryptionSpec"] == {"kmsKeyName": KMS_KEY}
    assert got.rows[0]["timeZone"] == "UTC"

    scratch = Place(PLACE.project, PLACE.location, "scratch")
    session.execute(examples.create_dataset(scratch, name="", time_zone="", encryption_spec=""))
    first = session.execute(examples.list_datasets_page(PLACE, 1, ""))
    (page,) = first.rows
    assert first.columns == ["datasets", "nextPageToken"]
    assert len(page["datasets"]) == 1
    second = session.execute(examples.list_datasets_page(PLACE, 1, page["nextPageToken"]))
    names = {item["name"] for row in (page, second.rows[0]) for item in row["datasets"]}
    assert names == {DATASET_NAME, DATASET_NAME.replace(PLACE.dataset, "scratch")}

    updated = session.execute(
        examples.update_dataset(
            PLACE, name=DATASET_NAME, time_zone="Europe/Paris",
            encryption_spec=f'{{"kmsKeyName": "{KMS_KEY}"}}', update_mask="timeZone",
        )
    )  # fmt: skip
    assert updated.rows[0]["timeZone"] == "Europe/Paris"

    deleted = session.execute(examples.delete_dataset(scratch))
    assert (deleted.rows, deleted.message) == ([], DESPATCHED)
    with pytest.raises(ApiError) as missing:
        session.execute(examples.get_dataset(scratch))
    assert missing.value.code == "NOT_FOUND"


# dicom_stores: SELECT, INSERT, UPDATE, DELETE


def test_store_create_example_returns_the_configured_store(created_store: Result) -> None:
    assert created_store.columns == [
        "name", "labels", "notificationConfig", "notificationConfigs", "streamConfigs",
    ]  # fmt: skip
    assert created_store.rows == [
        {
            "name": f"{DATASET_NAME}/dicomStores/{PLACE.store}",
            "labels": {"env": "prod", "team": "imaging"},
            "notificationConfig": {"pubsubTopic": TOPIC, "sendForBulkImport": True},
            "notificationConfigs": [{"pubsubTopic": TOPIC}],
            "streamConfigs": [{"bigqueryDestination": {"tableUri": TABLE}}],
        }
    ]


def test_store_get_example(session: Session, created_store: Result) -> None:
    assert session.execute(examples.get_store(PLACE)).rows == created_store.rows


def test_store_list_examples_page_by_hand_or_unnest(
    session: Session, created_store: Result, images: Place
) -> None:
    first = session.execute(examples.list_stores_page(PLACE, 1, "", ""))
    assert first.columns == ["dicomStores", "nextPageToken"]
    (page,) = first.rows
    assert len(page["dicomStores"]) == 1
    rest = session.execute(examples.list_stores_page(PLACE, 100, page["nextPageToken"], ""))
    assert rest.rows[0]["nextPageToken"] is None
    paged = [store["name"] for row in (page, rest.rows[0]) for store in row["dicomStores"]]

    unnested = session.execute(examples.list_stores(PLACE, 1, "", ""))
    assert unnested.columns == created_store.columns
    assert [row["name"] for row in unnested.rows] == paged

    filtered = session.execute(examples.list_stores(PLACE, 10, "", "labels.env=prod"))
    assert filtered.rows == created_store.rows


def test_store_update_example_and_derived_update_mask(
    session: Session, created_store: Result
) -> None:
    updated = session.execute(
        examples.update_store(
            PLACE, name=created_store.rows[0]["name"], notification_config="",
            labels='{"env": "staging"}', stream_configs="[]", notification_configs="[]",
            update_mask="labels",
        )
    )  # fmt: skip
    assert updated.rows[0]["labels"] == {"env": "staging"}
    assert updated.rows[0]["streamConfigs"] == created_store.rows[0]["streamConfigs"]

    derived = session.execute(
        "UPDATE google.healthcare.dicom_stores SET data__name = 'ignored', "
        "data__labels = json_object('env', 'prod', 'team', 'imaging') "
        f"{STORE_WHERE} AND dicomStoresId = '{PLACE.store}' RETURNING labels"
    )
    assert derived.rows == [{"labels": {"env": "prod", "team": "imaging"}}]


def test_select_runs_conditions_order_limit_and_count_on_the_rows(
    session: Session, created_dataset: Result
) -> None:
    session.execute(
        "INSERT INTO google.healthcare.dicom_stores (data__labels, projectsId, locationsId, "
        "datasetsId, dicomStoreId) VALUES "
        + ", ".join(
            f"('{{\"tier\": \"{tier}\"}}', '{PLACE.project}', '{PLACE.location}', "
            f"'{PLACE.dataset}', 'tier-{number}')"
            for number, tier in enumerate(["gold", "silver", "gold"])
        )
    )
    tiers = session.execute(
        "SELECT name, json_extract(labels, '$.tier') AS tier FROM google.healthcare.dicom_stores "
        f"{STORE_WHERE} AND name LIKE '%tier-%' AND json_extract(labels, '$.tier') = 'gold' "
        "ORDER BY name DESC LIMIT 1"
    )
    assert tiers.rows == [{"name": f"{DATASET_NAME}/dicomStores/tier-2", "tier": "gold"}]
    counted = session.execute(
        f"SELECT COUNT(*) AS n FROM google.healthcare.dicom_stores {STORE_WHERE} "
        "AND (labels IS NULL OR json_extract(labels, '$.tier') IN ('silver')) "
        "AND NOT name LIKE '%configured'"
    )
    assert counted.rows == [{"n": 2}]  # tier-1 and the unlabelled images store
    with pytest.raises(SqlError, match="unknown column 'tier'"):
        session.execute(f"SELECT tier FROM google.healthcare.dicom_stores {STORE_WHERE}")


def test_store_delete_example(session: Session, created_dataset: Result) -> None:
    doomed = Place(PLACE.project, PLACE.location, PLACE.dataset, "doomed")
    session.execute(
        "INSERT INTO google.healthcare.dicom_stores (projectsId, locationsId, datasetsId, "
        "dicomStoreId) SELECT 'sql-tests', 'us-central1', 'examples', 'doomed'"
    )
    assert session.execute(examples.delete_store(doomed)).message == DESPATCHED
    with pytest.raises(ApiError, match="NOT_FOUND"):
        session.execute(examples.get_store(doomed))


def test_missing_parameters_are_refused_before_any_call(session: Session) -> None:
    with pytest.raises(SqlError, match=r"missing required parameters: \{ datasetsId \}$"):
        session.execute(
            "INSERT INTO google.healthcare.dicom_stores (projectsId, locationsId, dicomStoreId) "
            "SELECT 'p', 'l', 's'"
        )
    with pytest.raises(SqlError, match=r"missing required parameters: \{ dicomStoresId \}$"):
        session.execute(f"DELETE FROM google.healthcare.dicom_stores {STORE_WHERE}")


# dicom_stores: EXEC


def test_search_examples_answer_one_row_per_match(
    session: Session, images: Place, stored: list[Dataset]
) -> None:
    ct, small = stored
    studies = session.execute(exec_statement("search_for_studies", images))
    assert [row["StudyInstanceUID"] for row in studies.rows] == [ct.StudyInstanceUID]
    assert studies.rows[0]["PatientName"] == str(ct.PatientName)
    series = session.execute(exec_statement("search_for_series", images))
    assert {row["SeriesInstanceUID"] for row in series.rows} == {
        ct.SeriesInstanceUID, small.SeriesInstanceUID,
    }  # fmt: skip
    instances = session.execute(exec_statement("search_for_instances", images))
    assert {row["SOPInstanceUID"] for row in instances.rows} == {
        ct.SOPInstanceUID, small.SOPInstanceUID,
    }  # fmt: skip
    matched = session.execute(
        exec_statement("search_for_instances", images,
                       {"studiesId": ct.StudyInstanceUID, "Modality": "OT"})
    )  # fmt: skip
    assert [row["SOPInstanceUID"] for row in matched.rows] == [small.SOPInstanceUID]


def test_retrieve_examples_write_binary_answers(
    session: Session, images: Place, stored: list[Dataset], output_dir: Path
) -> None:
    ct, small = stored
    frames = session.execute(
        exec_statement("retrieve_frames", images, {**instance_parameters(ct), "framesId": "1"})
    )
    (frame,) = frames.rows
    assert frame["bytes"] == ct.Rows * ct.Columns * 2
    assert Path(frame["file"]).read_bytes() == ct.PixelData
    assert Path(frame["file"]).parent == output_dir

    rendered = session.execute(
        exec_statement("retrieve_rendered", images,
                       {**instance_parameters(ct), "framesId": "1", "viewport": "32,32"})
    )  # fmt: skip
    assert rendered.rows[0]["contentType"] == "image/jpeg"
    assert Path(rendered.rows[0]["file"]).read_bytes()[:2] == b"\xff\xd8"

    bulk = session.execute(
        exec_statement("retrieve_bulkdata", images,
                       {**instance_parameters(small), "bulkdataId": "00880200",
                        "bulkdataId1": "0/7FE00010"})
    )  # fmt: skip
    assert Path(bulk.rows[0]["file"]).read_bytes() == b"\x01\x02\x03\x04"

    metadata = session.execute(
        exec_statement("retrieve_metadata", images, instance_parameters(small))
    )
    assert metadata.rows[0]["IconImageSequence"][0]["PixelData"].endswith("/0/7FE00010")


def test_unserved_methods_fail_with_the_server_message(session: Session, images: Place) -> None:
    deidentify = exec_statement(
        "deidentify", images,
        body={"destinationStore": f'"{DATASET_NAME}/dicomStores/clean"', "config": '""',
              "gcsConfigUri": '""', "filterConfig": '""'},
    )  # fmt: skip
    blob_settings = exec_statement(
        "set_blob_storage_settings", images,
        body={"filterConfig": '""', "blobStorageSettings": '{"blobStorageClass": "ARCHIVE"}'},
    )  # fmt: skip
    dataset_deidentify = examples.deidentify_dataset(PLACE, destination=f"{DATASET_NAME}-clean")
    for statement in (deidentify, blob_settings, dataset_deidentify):
        with pytest.raises(ApiError) as error:
            session.execute(statement)
        assert str(error.value) == "NOT_FOUND (404): Method not found."


def test_import_export_and_operation_examples(
    session: Session, images: Place, stored: list[Dataset], tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    extra = make_instance()
    (incoming / "extra.dcm").write_bytes(part10(extra))
    source = as_json_string({"uri": f"file://{incoming}/**"})
    started = session.execute(
        exec_statement("import", images,
                       body={"gcsSource": f'"{source}"', "blobStorageSettings": '""'})
    )  # fmt: skip
    operation_id = started.rows[0]["name"].rsplit("/", 1)[1]
    deadline = time.monotonic() + 20
    while not (done := session.execute(examples.get_operation(PLACE, operation_id))).rows[0][
        "done"
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert done.rows[0]["error"] is None
    assert done.rows[0]["metadata"]["counter"]["success"] == "1"

    exported = session.execute(
        "EXEC /*+ AWAIT */ "
        + exec_statement(
            "export", images,
            body={"gcsDestination": f'{{"uriPrefix": "file://{tmp_path / "out"}"}}',
                  "bigqueryDestination": '""'},
        ).removeprefix("EXEC ")
    )  # fmt: skip
    assert exported.rows[0]["done"] is True
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 3

    finished = session.execute(examples.list_operations_page(PLACE, "done=true", 100, ""))
    assert finished.columns == ["nextPageToken", "operations"]
    names = {operation["name"] for operation in finished.rows[0]["operations"]}
    assert {started.rows[0]["name"], exported.rows[0]["name"]} <= names
    cancelled = session.execute(examples.cancel_operation(PLACE, operation_id))
    assert cancelled.message == DESPATCHED


def test_metrics_and_catalog_statements(
    session: Session, images: Place, stored: list[Dataset]
) -> None:
    metrics = session.execute(exec_statement("get_dicomstore_metrics", images))
    studies = session.execute(exec_statement("search_for_studies", images))
    assert metrics.rows[0]["studyCount"] == str(len(studies.rows))
    methods = session.execute("SHOW METHODS IN google.healthcare.dicom_stores")
    assert {"MethodName": "retrieve_frames", "SQLVerb": "EXEC",
            "RequiredParams": "projectsId, locationsId, datasetsId, dicomStoresId, studiesId, "
            "seriesId, instancesId, framesId"} in methods.rows  # fmt: skip
    described = session.execute("DESCRIBE google.healthcare.operations")
    assert [row["name"] for row in described.rows] == [
        "name", "done", "error", "metadata", "response",
    ]  # fmt: skip
