"""``dicomstore dicomweb``: storing folders, searching, retrieving into folders and deleting,
through the command line against a real server, checked over raw HTTP."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.api.http.dicomweb_support import make_instance, part10
from tests.cli.conftest import LOCATION, Result, Runner, unique_id

STUDIES, PER_STUDY = 5, 100
JPEG_MAGIC, PNG_MAGIC = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"


def stow(api: httpx.Client, store: str, instances: list[Dataset]) -> None:
    """Store ``instances`` over raw HTTP (not through the command under test)."""
    body = b"".join(
        b"--b\r\nContent-Type: application/dicom\r\n\r\n" + part10(instance) + b"\r\n"
        for instance in instances
    )
    api.post(
        f"{store}/dicomWeb/studies",
        content=body + b"--b--\r\n",
        headers={"Content-Type": 'multipart/related; type="application/dicom"; boundary=b'},
    ).raise_for_status()


def qido(api: httpx.Client, store: str, path: str, **params: Any) -> list[dict[str, Any]]:
    answer = api.get(f"{store}/dicomWeb/{path}", params=params)
    answer.raise_for_status()
    return [] if answer.status_code == 204 else list(answer.json())


def uids(matches: list[dict[str, Any]], tag: str) -> set[str]:
    return {match[tag]["Value"][0] for match in matches}


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """500 small CT instances (5 studies of 100, copies of pydicom's CT_small.dcm with new UIDs)
    in nested folders, and three files that are not DICOM Part 10 files; the SOP Instance UIDs
    of each study."""
    root = tmp_path_factory.mktemp("ct-folder")
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    studies: dict[str, set[str]] = {}
    for study_number in range(STUDIES):
        study = generate_uid()
        template.StudyInstanceUID, template.SeriesInstanceUID = study, generate_uid()
        folder = root / f"patient-{study_number}" / "ct"
        folder.mkdir(parents=True)
        for number in range(PER_STUDY):
            template.SOPInstanceUID = generate_uid()
            template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
            template.save_as(folder / f"{number:03}.dcm")
            studies.setdefault(study, set()).add(template.SOPInstanceUID)
    (root / "README.txt").write_text("scans of five patients\n")
    (root / "patient-0" / "empty.dcm").write_bytes(b"")
    # A DICOM data set without the Part 10 preamble and header: not accepted by STOW-RS.
    raw = make_instance()
    raw.file_meta = pydicom.dataset.FileMetaDataset()
    raw.save_as(root / "patient-1" / "raw-dataset.dcm", implicit_vr=False, little_endian=True)
    return root, studies


@pytest.fixture(scope="module")
def big_store(cli_server: Any) -> Iterator[str]:
    """A store for the module's 500 instances."""
    with httpx.Client(base_url=f"{cli_server.url}/v1/", timeout=30) as api:
        dataset = f"{LOCATION}/datasets/{unique_id('ds')}"
        api.post(f"{LOCATION}/datasets", params={"datasetId": dataset.rsplit("/", 1)[1]},
                 json={}).raise_for_status()  # fmt: skip
        api.post(f"{dataset}/dicomStores", params={"dicomStoreId": "ct"}, json={})
        yield f"{dataset}/dicomStores/ct"
        api.delete(dataset)


def test_storing_a_folder_of_500_instances_then_again(
    cli: Runner, api: httpx.Client, ct_folder: tuple[Path, dict[str, set[str]]], big_store: str
) -> None:
    root, studies = ct_folder

    first = json.loads(
        cli("dicomweb", "store", root, "--store", big_store, "-f", "json").ok().stdout
    )
    skipped = [
        str(root / "README.txt"),
        str(root / "patient-0" / "empty.dcm"),
        str(root / "patient-1" / "raw-dataset.dcm"),
    ]
    assert first == {"stored": 500, "duplicates": 0, "failed": [], "skipped": sorted(skipped)}
    found = {
        study: uids(qido(api, big_store, f"studies/{study}/instances", limit=1000), "00080018")
        for study in studies
    }
    assert found == studies
    assert len(qido(api, big_store, "studies")) == STUDIES

    again = cli("dicomweb", "store", root, "--store", big_store, "--batch-size", "50").ok()
    assert again.stdout.splitlines()[0] == (
        "Stored 0, duplicates 500, failed 0, skipped 3 (not DICOM)."
    )
    assert (
        sum(f"  skipped  {path}: not a DICOM Part 10 file" in again.stdout for path in skipped) == 3
    )


def test_refused_instances_are_reported_with_their_reasons(
    cli: Runner, cli_store: str, tmp_path: Path
) -> None:
    good = make_instance()
    (tmp_path / "good.dcm").write_bytes(part10(good))
    no_sop = make_instance()
    del no_sop.SOPInstanceUID
    (tmp_path / "no-sop.dcm").write_bytes(part10(no_sop))
    header = part10(make_instance())
    meta_end = 132 + 12 + int.from_bytes(header[140:144], "little")  # after the file meta group
    (tmp_path / "garbage.dcm").write_bytes(header[:meta_end] + b"\xff" * 300)

    result = cli("dicomweb", "store", tmp_path / "*.dcm", "--store", cli_store)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Stored 1, duplicates 0, failed 2, skipped 0 (not DICOM)."
    failures = {line.split(": ", 1)[0].split()[-1]: line.split(": ", 1)[1] for line in lines[1:]}
    assert set(failures) == {str(tmp_path / "no-sop.dcm"), str(tmp_path / "garbage.dcm")}
    assert "SOPInstanceUID" in failures[str(tmp_path / "no-sop.dcm")]
    for reason in failures.values():
        assert reason.startswith("Invalid DICOM")
        assert reason.endswith("(Failure Reason 0110H: processing failure)")


def test_search_studies_series_and_instances(
    cli_all: Callable[..., list[Result]], api: httpx.Client, cli_store: str
) -> None:
    study = generate_uid()
    series_a, series_b = generate_uid(), generate_uid()
    instances = [
        make_instance(study=study, series=series, number=n, PatientID="P-7")
        for n, series in enumerate((series_a, series_a, series_b))
    ]
    instances.append(make_instance(PatientID="P-8", PatientName="Other^Patient"))
    stow(api, cli_store, instances)
    by_id, by_tag, series, first, second, everything, table = cli_all(
        ["dicomweb", "search", "studies", "--store", cli_store, "--filter", "PatientID=P-7",
         "-f", "json"],
        ["dicomweb", "search", "studies", "--store", cli_store, "--filter", "00100020=P-8",
         "-f", "csv"],
        ["dicomweb", "search", "series", "--store", cli_store, "--study", study, "-f", "json"],
        ["dicomweb", "search", "instances", "--store", cli_store, "--study", study, "--series",
         series_a, "--limit", "1", "-f", "json"],
        ["dicomweb", "search", "instances", "--store", cli_store, "--study", study, "--series",
         series_a, "--limit", "1", "--offset", "1", "-f", "json"],
        ["dicomweb", "search", "instances", "--store", cli_store, "--includefield", "all",
         "--filter", "PatientID=P-8", "-f", "json"],
        ["dicomweb", "search", "series", "--store", cli_store, "--includefield", "Rows"],
    )  # fmt: skip
    [match] = json.loads(by_id.ok().stdout)
    assert match["0020000D"]["Value"] == [study]
    [row] = csv.DictReader(io.StringIO(by_tag.ok().stdout))
    assert (row["PatientID"], row["PatientName"]) == ("P-8", "Other^Patient")
    assert uids(json.loads(series.ok().stdout), "0020000E") == {series_a, series_b}
    pages = [json.loads(page.ok().stdout) for page in (first, second)]
    assert [len(page) for page in pages] == [1, 1]
    assert uids(pages[0] + pages[1], "00080018") == {i.SOPInstanceUID for i in instances[:2]}
    [full] = json.loads(everything.ok().stdout)
    assert full["00280010"] == {"vr": "US", "Value": [4]}  # Rows: only with includefield=all
    header = table.ok().stdout.splitlines()[1]
    for column in ("Modality", "SeriesInstanceUID", "PatientID"):
        assert column in header
    assert "RetrieveURL" not in header


def test_retrieve_round_trips_instances_and_writes_metadata_frames_and_images(
    cli_all: Callable[..., list[Result]], api: httpx.Client, cli_store: str, tmp_path: Path
) -> None:
    study, series_a, series_b = generate_uid(), generate_uid(), generate_uid()
    instances = [make_instance(study=study, series=series_a, number=n) for n in (1, 2, 3)]
    instances.append(make_instance(study=study, series=series_b, number=4))
    stow(api, cli_store, instances)
    one = instances[0]
    at = ["--store", cli_store, "--study", study]
    of_one = [*at, "--series", series_a, "--instance", one.SOPInstanceUID]
    results = cli_all(
        ["dicomweb", "retrieve", *at, "--output", tmp_path / "study"],
        ["dicomweb", "retrieve", *at, "--series", series_a, "-o", tmp_path / "series", "-f",
         "json"],
        ["dicomweb", "retrieve", *at, "--series", series_a, "--metadata", "-o", tmp_path / "meta"],
        ["dicomweb", "retrieve", *of_one, "--frames", "1", "-o", tmp_path / "frames"],
        ["dicomweb", "retrieve", *of_one, "--rendered", "-o", tmp_path / "jpeg"],
        ["dicomweb", "retrieve", *of_one, "--rendered", "--frames", "1", "--accept", "image/png",
         "-o", tmp_path / "png"],
    )  # fmt: skip
    for result in results:
        result.ok()

    def written(folder: str, suffix: str = "") -> dict[str, bytes]:
        return {
            str(path.relative_to(tmp_path / folder)): path.read_bytes()
            for path in sorted((tmp_path / folder).rglob(f"*{suffix}"))
            if path.is_file()
        }

    expected = {
        f"{study}/{i.SeriesInstanceUID}/{i.SOPInstanceUID}.dcm": part10(i) for i in instances
    }
    assert written("study") == expected
    assert results[0].stdout.startswith("Wrote 4 files")
    assert written("series") == {k: v for k, v in expected.items() if series_a in k}
    listed = json.loads(results[1].stdout)
    assert {row["file"] for row in listed} == {str(tmp_path / "series" / k) for k in
                                               written("series")}  # fmt: skip

    metadata = written("meta")
    assert len(metadata) == 3
    for name, content in metadata.items():
        sop = name.rsplit("/", 1)[1].removesuffix(".json")
        dataset = json.loads(content)
        assert dataset["00080018"] == {"vr": "UI", "Value": [sop]}
        assert dataset["00100020"] == {"vr": "LO", "Value": ["P-1"]}

    frame_dir = f"{study}/{series_a}/{one.SOPInstanceUID}"
    assert written("frames") == {f"{frame_dir}/frame-1.raw": one.PixelData}  # 4x4, 8-bit
    [(jpeg_name, jpeg)] = written("jpeg").items()
    assert jpeg_name == f"{study}/{series_a}/{one.SOPInstanceUID}.jpg"
    assert jpeg.startswith(JPEG_MAGIC)
    [(png_name, png)] = written("png").items()
    assert png_name == f"{frame_dir}/frame-1.png"
    assert png.startswith(PNG_MAGIC)


def test_delete_an_instance_a_series_and_a_study(
    cli: Runner, api: httpx.Client, cli_store: str
) -> None:
    study, series_a, series_b = generate_uid(), generate_uid(), generate_uid()
    instances = [make_instance(study=study, series=s, number=n)
                 for n, s in enumerate((series_a, series_a, series_b))]  # fmt: skip
    stow(api, cli_store, instances)
    at = ["--store", cli_store, "--study", study]

    cli("dicomweb", "delete", *at, "--series", series_a, "--instance",
        instances[0].SOPInstanceUID).ok()  # fmt: skip
    assert uids(qido(api, cli_store, "instances"), "00080018") == {
        instances[1].SOPInstanceUID,
        instances[2].SOPInstanceUID,
    }
    deleted = json.loads(
        cli("dicomweb", "delete", *at, "--series", series_a, "--wait", "-f", "json").ok().stdout
    )
    assert deleted["done"] is True and "error" not in deleted
    assert uids(qido(api, cli_store, "series"), "0020000E") == {series_b}
    cli("dicomweb", "delete", *at, "--wait").ok()
    assert qido(api, cli_store, "studies") == []


def test_dicomweb_errors_are_one_line(
    cli_all: Callable[..., list[Result]], cli_store: str, tmp_path: Path
) -> None:
    (tmp_path / "one.dcm").write_bytes(part10(make_instance()))
    no_store = cli_store.replace("/dicomStores/store", "/dicomStores/missing")
    missing, no_file, no_study, frames_of_study, to_no_store = cli_all(
        ["dicomweb", "retrieve", "--store", cli_store, "--study", "1.2.3", "-o", tmp_path],
        ["dicomweb", "store", tmp_path / "nothing-*.dcm", "--store", cli_store],
        ["dicomweb", "search", "instances", "--store", "no-dataset-given"],
        ["dicomweb", "retrieve", "--store", cli_store, "--study", "1.2.3", "--frames", "1"],
        ["dicomweb", "store", tmp_path, "--store", no_store, "--no-find-duplicates"],
    )
    assert missing.error_line() == "dicomstore: error: NOT_FOUND (404): Study 1.2.3 not found."
    assert "no such file or folder" in no_file.error_line()
    assert "no dataset given" in no_study.error_line()
    assert "--frames and --rendered need" in frames_of_study.error_line()
    assert to_no_store.error_line() == (
        f"dicomstore: error: NOT_FOUND (404): DICOM store {no_store} not found."
    )
