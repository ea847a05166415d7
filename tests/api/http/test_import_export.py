"""``dicomStores.import`` and ``dicomStores.export`` through google-api-python-client, with
fake-gcs-server as Cloud Storage, moto as S3 and plain folders (``store-features.md`` §7, §8)."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from PIL import Image
from pydicom.uid import generate_uid

from tests.api.http.dicomweb_support import (
    CorpusFile,
    corpus_batches,
    corpus_files,
    error_of,
    execute_raw,
    make_instance,
    part10,
    stores_api,
    wait_for_operation,
)
from tests.object_servers import GcsEmulator, S3Server
from tests.processes import ServerProcess

IMPORT = "google.cloud.healthcare.v1.dicom.DicomService.ImportDicomData"
EXPORT = "google.cloud.healthcare.v1.dicom.DicomService.ExportDicomData"
IMPORT_RESPONSE = "type.googleapis.com/google.cloud.healthcare.v1.dicom.ImportDicomDataResponse"
EXPORT_RESPONSE = "type.googleapis.com/google.cloud.healthcare.v1.dicom.ExportDicomDataResponse"
MULTI_FRAME_PATH = "studies/{study}/series/{series}/instances/{sop}"


@pytest.fixture
def gcs(fake_gcs: GcsEmulator) -> storage.Client:
    return storage.Client(project="test", credentials=AnonymousCredentials())


def upload(client: storage.Client, bucket: str, files: dict[str, bytes]) -> None:
    target = client.bucket(bucket)
    for name, content in files.items():
        target.blob(name).upload_from_string(content)


def corpus_batch() -> list[CorpusFile]:
    """pydicom's test files that the store accepts, with no SOP Instance UID twice."""
    return corpus_batches(corpus_files())[0]


def import_into(healthcare: Any, store: str, uri: str, **body: Any) -> Any:
    operation = (
        stores_api(healthcare)
        .import_(name=store, body={"gcsSource": {"uri": uri}, **body})
        .execute()
    )
    assert operation["name"].startswith(store.rsplit("/dicomStores/", 1)[0] + "/operations/")
    return wait_for_operation(healthcare, operation, timeout=120)


def export_from(healthcare: Any, store: str, body: dict[str, Any]) -> Any:
    operation = stores_api(healthcare).export(name=store, body=body).execute()
    return wait_for_operation(healthcare, operation, timeout=120)


def stored_instance(healthcare: Any, store: str, study: str, series: str, sop: str) -> bytes:
    request = (
        stores_api(healthcare)
        .studies()
        .series()
        .instances()
        .retrieveInstance(
            parent=store, dicomWebPath=f"studies/{study}/series/{series}/instances/{sop}"
        )
    )
    return execute_raw(request, accept="application/dicom; transfer-syntax=*").content


def searched_instances(healthcare: Any, store: str) -> set[str]:
    request = stores_api(healthcare).searchForInstances(parent=store, dicomWebPath="instances")
    answer = execute_raw(request, accept="application/dicom+json")
    return {item["00080018"]["Value"][0] for item in answer.json()} if answer.content else set()


def new_store(healthcare: Any, dataset: str, store_id: str) -> str:
    created = stores_api(healthcare).create(parent=dataset, dicomStoreId=store_id, body={})
    return str(created.execute()["name"])


# --- import ------------------------------------------------------------------------------------


def test_import_of_pydicom_files_counts_dicom_as_success_and_the_rest_as_failures(
    healthcare: Any, dicom_store: str, fake_gcs: GcsEmulator, gcs: storage.Client
) -> None:
    bucket = fake_gcs.create_bucket()
    batch = corpus_batch()
    files = {f"in/{i:03}/{file.path.name}": file.path.read_bytes() for i, file in enumerate(batch)}
    files["in/notes/readme.txt"] = b"not DICOM at all"
    files["elsewhere/x.dcm"] = batch[0].path.read_bytes()  # outside the pattern
    upload(gcs, bucket, files)

    done = import_into(healthcare, dicom_store, f"gs://{bucket}/in/**")

    assert done["metadata"]["apiMethodName"] == IMPORT
    assert done["response"] == {"@type": IMPORT_RESPONSE}
    assert done["metadata"]["counter"] == {"success": str(len(batch)), "failure": "1"}
    assert "endTime" in done["metadata"]
    assert searched_instances(healthcare, dicom_store) == {file.sop for file in batch}
    for file in batch[:5]:
        stored = stored_instance(healthcare, dicom_store, file.study, file.series, file.sop)
        assert stored == file.path.read_bytes()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("d/*.dcm", {"d/a.dcm", "d/b.dcm"}),
        ("d/**.dcm", {"d/a.dcm", "d/b.dcm", "d/sub/c.dcm", "d/sub/deeper/d.dcm"}),
        ("d/?.dcm", {"d/a.dcm", "d/b.dcm"}),
        ("d/sub/*", {"d/sub/c.dcm", "d/sub/e.bin"}),
        ("d/a.dcm", {"d/a.dcm"}),
    ],
)
def test_wildcards_select_objects_as_google_defines_them(
    healthcare: Any,
    dicom_store: str,
    fake_gcs: GcsEmulator,
    gcs: storage.Client,
    pattern: str,
    expected: set[str],
) -> None:
    bucket = fake_gcs.create_bucket()
    names = ["d/a.dcm", "d/b.dcm", "d/ab.dcm.txt", "d/sub/c.dcm", "d/sub/e.bin",
             "d/sub/deeper/d.dcm", "other/f.dcm"]  # fmt: skip
    sops = {name: generate_uid() for name in names}
    upload(gcs, bucket, {name: part10(make_instance(sop=sops[name])) for name in names})

    done = import_into(healthcare, dicom_store, f"gs://{bucket}/{pattern}")

    assert done["metadata"]["counter"] == {"success": str(len(expected))}
    assert searched_instances(healthcare, dicom_store) == {sops[name] for name in expected}


def test_importing_again_accepts_duplicates_and_refuses_conflicts(
    healthcare: Any, dicom_store: str, fake_gcs: GcsEmulator, gcs: storage.Client
) -> None:
    bucket = fake_gcs.create_bucket()
    first = make_instance()
    second = make_instance()
    upload(gcs, bucket, {"a/1.dcm": part10(first), "a/2.dcm": part10(second)})
    assert import_into(healthcare, dicom_store, f"gs://{bucket}/a/*")["metadata"]["counter"] == {
        "success": "2"
    }
    changed = make_instance(study=second.StudyInstanceUID, series=second.SeriesInstanceUID,
                            sop=second.SOPInstanceUID, PatientID="OTHER")  # fmt: skip
    upload(gcs, bucket, {"b/1.dcm": part10(first), "b/2.dcm": part10(changed)})

    done = import_into(healthcare, dicom_store, f"gs://{bucket}/b/*")

    assert done["metadata"]["counter"] == {"success": "1", "failure": "1"}
    assert "response" in done
    stored = stored_instance(healthcare, dicom_store, second.StudyInstanceUID,
                             second.SeriesInstanceUID, second.SOPInstanceUID)  # fmt: skip
    assert stored == part10(second), "the stored copy must be kept"


def test_import_applies_the_blob_storage_class(
    healthcare: Any, dicom_store: str, fake_gcs: GcsEmulator, gcs: storage.Client,
    server: ServerProcess,
) -> None:  # fmt: skip
    bucket = fake_gcs.create_bucket()
    instance = make_instance()
    upload(gcs, bucket, {"x.dcm": part10(instance)})
    import_into(healthcare, dicom_store, f"gs://{bucket}/x.dcm",
                blobStorageSettings={"blobStorageClass": "COLDLINE"})  # fmt: skip
    # The class shows in the StorageClass column of a metadata export.
    table = f"bq://test-project.classes.t_{uuid.uuid4().hex[:8]}"
    export_from(healthcare, dicom_store, {"bigqueryDestination": {"tableUri": table}})
    with duckdb.connect(str(server.data_dir / "bigquery" / "test-project.duckdb"),
                        read_only=True) as connection:  # fmt: skip
        rows = connection.execute(
            f'SELECT SOPInstanceUID, StorageClass FROM classes."{table.rsplit(".", 1)[1]}"'
        ).fetchall()
    assert rows == [(instance.SOPInstanceUID, "COLDLINE")]


@pytest.mark.parametrize(
    ("uri", "wording"),
    [
        ("", "gcsSource.uri"),
        ("gs://", "bucket"),
        ("gs://bucket", "object"),
        ("http://example.com/a.dcm", "gs://"),
        ("gs://bucket/a/**/b.dcm", "**"),
        ("gs://bucket/**/*.dcm", "**"),
        ("gs://Bad_Bucket!/x", "bucket"),
    ],
)
def test_malformed_source_uris_are_refused_at_once(
    healthcare: Any, dicom_store: str, uri: str, wording: str
) -> None:
    request = stores_api(healthcare).import_(name=dicom_store, body={"gcsSource": {"uri": uri}})
    status, error = error_of(request)
    assert status == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert wording.lower() in error["message"].lower()


def test_a_missing_bucket_fails_the_operation_and_changes_nothing(
    healthcare: Any, dicom_store: str
) -> None:
    done = import_into(healthcare, dicom_store, "gs://no-such-bucket-here/**.dcm")
    assert done["error"]["code"] == 5  # NOT_FOUND
    assert "no-such-bucket-here" in done["error"]["message"]
    assert "response" not in done
    assert searched_instances(healthcare, dicom_store) == set()


def test_only_non_dicom_files_fail_the_operation_with_the_first_reason(
    healthcare: Any, dicom_store: str, fake_gcs: GcsEmulator, gcs: storage.Client
) -> None:
    bucket = fake_gcs.create_bucket()
    upload(gcs, bucket, {"n/a.txt": b"hello", "n/b.txt": b"world"})
    done = import_into(healthcare, dicom_store, f"gs://{bucket}/n/*")
    assert done["error"]["code"] == 3  # INVALID_ARGUMENT
    assert f"the first failure: gs://{bucket}/n/" in done["error"]["message"]
    assert done["metadata"]["counter"] == {"failure": "2"}


def test_an_unknown_store_is_not_found(healthcare: Any, dataset: str) -> None:
    request = stores_api(healthcare).import_(
        name=f"{dataset}/dicomStores/missing", body={"gcsSource": {"uri": "gs://bucket/x"}}
    )
    assert error_of(request)[0] == 404


def test_import_from_s3_and_from_a_folder(
    healthcare: Any, dicom_store: str, s3_server: S3Server, tmp_path: Path, server: ServerProcess
) -> None:
    import boto3

    bucket = s3_server.create_bucket()
    from_s3, from_folder = make_instance(), make_instance()
    boto3.client("s3", endpoint_url=s3_server.url).put_object(
        Bucket=bucket, Key="dir/one.dcm", Body=part10(from_s3)
    )
    folder = tmp_path / "incoming" / "deep"
    folder.mkdir(parents=True)
    (folder / "two.dcm").write_bytes(part10(from_folder))

    assert "response" in import_into(healthcare, dicom_store, f"s3://{bucket}/dir/**.dcm")
    assert "response" in import_into(healthcare, dicom_store, f"file://{tmp_path}/incoming/**")
    assert searched_instances(healthcare, dicom_store) == {
        from_s3.SOPInstanceUID, from_folder.SOPInstanceUID
    }  # fmt: skip


# --- export -----------------------------------------------------------------------------------


def stow(healthcare: Any, store: str, files: list[bytes]) -> None:
    from tests.api.http.dicomweb_support import multipart_body, stow_content_type

    request = stores_api(healthcare).storeInstances(parent=store, dicomWebPath="studies")
    execute_raw(request, body=multipart_body(files), content_type=stow_content_type())


def test_export_then_import_into_a_new_store_gives_the_same_instances(
    healthcare: Any, dataset: str, fake_gcs: GcsEmulator, gcs: storage.Client
) -> None:
    source = new_store(healthcare, dataset, "source")
    batch = corpus_batch()
    stow(healthcare, source, [file.path.read_bytes() for file in batch])
    bucket = fake_gcs.create_bucket()

    done = export_from(healthcare, source, {"gcsDestination": {"uriPrefix": f"gs://{bucket}/out"}})

    assert done["metadata"]["apiMethodName"] == EXPORT
    assert done["response"] == {"@type": EXPORT_RESPONSE}
    assert done["metadata"]["counter"] == {"success": str(len(batch))}
    exported = {blob.name: blob for blob in gcs.list_blobs(bucket)}
    for file in batch:
        name = f"out/{file.study}/{file.series}/{file.sop}.dcm"
        assert exported[name].download_as_bytes() == file.path.read_bytes()

    copy = new_store(healthcare, dataset, "copy")
    assert "response" in import_into(healthcare, copy, f"gs://{bucket}/out/**.dcm")
    assert searched_instances(healthcare, copy) == {file.sop for file in batch}
    for file in batch:
        assert (
            hashlib.sha256(
                stored_instance(healthcare, copy, file.study, file.series, file.sop)
            ).digest()
            == hashlib.sha256(file.path.read_bytes()).digest()
        )


def multi_frame_file() -> CorpusFile:
    return next(file for file in corpus_files() if file.path.name == "SC_rgb_rle_2frame.dcm")


def test_png_export_writes_one_image_per_frame_of_a_multi_frame_instance(
    healthcare: Any, dicom_store: str, fake_gcs: GcsEmulator, gcs: storage.Client
) -> None:
    file = multi_frame_file()
    single = make_instance()
    stow(healthcare, dicom_store, [file.path.read_bytes(), part10(single)])
    bucket = fake_gcs.create_bucket()

    done = export_from(healthcare, dicom_store, {
        "gcsDestination": {"uriPrefix": f"gs://{bucket}", "mimeType": "image/png"}
    })  # fmt: skip

    assert done["metadata"]["counter"] == {"success": "2"}
    names = {blob.name for blob in gcs.list_blobs(bucket)}
    base = f"{file.study}/{file.series}/{file.sop}"
    frames = {f"{base}/{number}.png" for number in range(1, file.number_of_frames + 1)}
    single_name = f"{single.StudyInstanceUID}/{single.SeriesInstanceUID}/{single.SOPInstanceUID}"
    assert names == frames | {f"{single_name}.png"}
    image = Image.open(io.BytesIO(gcs.bucket(bucket).blob(f"{base}/1.png").download_as_bytes()))
    assert image.format == "PNG"


def test_raw_frames_export_has_no_extension_and_the_frames_bytes(
    healthcare: Any, dicom_store: str, fake_gcs: GcsEmulator, gcs: storage.Client
) -> None:
    file = multi_frame_file()
    stow(healthcare, dicom_store, [file.path.read_bytes()])
    bucket = fake_gcs.create_bucket()
    mime = "application/octet-stream; transfer-syntax=*"
    export_from(healthcare, dicom_store, {
        "gcsDestination": {"uriPrefix": f"gs://{bucket}/f/", "mimeType": mime}
    })  # fmt: skip
    request = (
        stores_api(healthcare)
        .studies()
        .series()
        .instances()
        .frames()
        .retrieveFrames(
            parent=dicom_store,
            dicomWebPath=f"studies/{file.study}/series/{file.series}/instances/{file.sop}/frames/2",
        )
    )
    answer = execute_raw(request, accept="application/octet-stream; transfer-syntax=*")
    frame = answer.parts()[0][1] if answer.content_type.startswith("multipart/") else answer.content
    blob = gcs.bucket(bucket).blob(f"f/{file.study}/{file.series}/{file.sop}/2")
    assert blob.download_as_bytes() == frame


def test_a_filter_file_limits_the_export(
    healthcare: Any, dicom_store: str, fake_gcs: GcsEmulator, gcs: storage.Client
) -> None:
    kept, also_kept, left = make_instance(), make_instance(), make_instance()
    stow(healthcare, dicom_store, [part10(kept), part10(also_kept), part10(left)])
    bucket = fake_gcs.create_bucket()
    upload(gcs, bucket, {"filter.txt": (
        f"/studies/{kept.StudyInstanceUID}\n\n"
        f"/studies/{also_kept.StudyInstanceUID}/series/{also_kept.SeriesInstanceUID}"
        f"/instances/{also_kept.SOPInstanceUID}\n/studies/1.2.3.4.5.6\n"
    ).encode()})  # fmt: skip

    done = export_from(healthcare, dicom_store, {
        "gcsDestination": {"uriPrefix": f"gs://{bucket}/out"},
        "filterConfig": {"resourcePathsGcsUri": f"gs://{bucket}/filter.txt"},
    })  # fmt: skip

    assert done["metadata"]["counter"] == {"success": "2"}
    assert {blob.name.rsplit("/", 1)[1] for blob in gcs.list_blobs(bucket, prefix="out/")} == {
        f"{kept.SOPInstanceUID}.dcm", f"{also_kept.SOPInstanceUID}.dcm"
    }  # fmt: skip


def test_export_to_s3_and_to_a_folder(
    healthcare: Any, dicom_store: str, s3_server: S3Server, tmp_path: Path
) -> None:
    import boto3

    instance = make_instance()
    stow(healthcare, dicom_store, [part10(instance)])
    relative = f"{instance.StudyInstanceUID}/{instance.SeriesInstanceUID}/{instance.SOPInstanceUID}"
    bucket = s3_server.create_bucket()

    export_from(healthcare, dicom_store, {"gcsDestination": {"uriPrefix": f"s3://{bucket}/x"}})
    export_from(healthcare, dicom_store, {"gcsDestination": {"uriPrefix": f"file://{tmp_path}"}})

    s3 = boto3.client("s3", endpoint_url=s3_server.url)
    assert s3.get_object(Bucket=bucket, Key=f"x/{relative}.dcm")["Body"].read() == part10(instance)
    assert (tmp_path / f"{relative}.dcm").read_bytes() == part10(instance)


@pytest.mark.parametrize(
    ("body", "wording"),
    [
        ({}, "exactly one"),
        ({"gcsDestination": {"uriPrefix": "gs://bkt/x"},
          "bigqueryDestination": {"tableUri": "bq://p.d.t"}}, "exactly one"),
        ({"gcsDestination": {}}, "uriPrefix"),
        ({"gcsDestination": {"uriPrefix": "ftp://b/x"}}, "uriPrefix"),
        ({"gcsDestination": {"uriPrefix": "gs://bkt/x", "mimeType": "text/plain"}}, "mimeType"),
        ({"bigqueryDestination": {"tableUri": "bq://only.two"}}, "tableUri"),
        ({"bigqueryDestination": {"tableUri": "gs://p.d.t"}}, "tableUri"),
        ({"gcsDestination": {"uriPrefix": "gs://bkt/x"},
          "filterConfig": {"resourcePathsGcsUri": "b/filter.txt"}}, "resourcePathsGcsUri"),
    ],
)  # fmt: skip
def test_malformed_export_requests_are_refused_at_once(
    healthcare: Any, dicom_store: str, body: dict[str, Any], wording: str
) -> None:
    status, error = error_of(stores_api(healthcare).export(name=dicom_store, body=body))
    assert status == 400
    assert wording.lower() in error["message"].lower()


def test_export_to_a_missing_bucket_fails_the_operation(healthcare: Any, dicom_store: str) -> None:
    stow(healthcare, dicom_store, [part10(make_instance())])
    done = export_from(healthcare, dicom_store, {
        "gcsDestination": {"uriPrefix": "gs://no-such-bucket-there/x"}
    })  # fmt: skip
    assert done["error"]["code"] == 5
    assert "no-such-bucket-there" in done["error"]["message"]


# --- BigQuery (embedded DuckDB) -----------------------------------------------------------------


def test_bigquery_export_writes_one_row_per_instance_into_duckdb(
    healthcare: Any, dicom_store: str, server: ServerProcess
) -> None:
    batch = corpus_batch()
    stow(healthcare, dicom_store, [file.path.read_bytes() for file in batch])
    table = f"bq://test-project.exports.t_{uuid.uuid4().hex[:8]}"
    destination = {"tableUri": table, "includeSourceStore": True}

    done = export_from(healthcare, dicom_store, {"bigqueryDestination": destination})

    assert done["response"] == {"@type": EXPORT_RESPONSE}
    assert done["metadata"]["counter"] == {"success": str(len(batch))}
    database = server.data_dir / "bigquery" / "test-project.duckdb"
    table_name = table.rsplit(".", 1)[1]
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            f'SELECT SOPInstanceUID, StudyInstanceUID, SourceDicomStore, "Type" '
            f'FROM exports."{table_name}"'
        ).fetchall()
    assert {row[0] for row in rows} == {file.sop for file in batch}
    assert {(row[0], row[1]) for row in rows} == {(file.sop, file.study) for file in batch}
    assert {row[2] for row in rows} == {dicom_store}

    again = export_from(healthcare, dicom_store, {"bigqueryDestination": {"tableUri": table}})
    assert again["error"]["code"] == 9  # FAILED_PRECONDITION: WRITE_EMPTY on a full table
    assert "WRITE_" in again["error"]["message"]

    appended = export_from(healthcare, dicom_store, {
        "bigqueryDestination": {"tableUri": table, "writeDisposition": "WRITE_APPEND"}
    })  # fmt: skip
    assert "response" in appended
    with duckdb.connect(str(database), read_only=True) as connection:
        count = connection.execute(f'SELECT count(*) FROM exports."{table_name}"').fetchone()
    assert count == (2 * len(batch),)


def test_operations_of_imports_are_listed_and_filtered(
    healthcare: Any, dicom_store: str, fake_gcs: GcsEmulator, gcs: storage.Client
) -> None:
    bucket = fake_gcs.create_bucket()
    upload(gcs, bucket, {"a.dcm": part10(make_instance())})
    done = import_into(healthcare, dicom_store, f"gs://{bucket}/a.dcm")
    dataset = dicom_store.rsplit("/dicomStores/", 1)[0]
    operations = healthcare.projects().locations().datasets().operations()
    listed = operations.list(name=dataset, filter=f'metadata.apiMethodName="{IMPORT}"').execute()[
        "operations"
    ]
    assert listed == [done]
