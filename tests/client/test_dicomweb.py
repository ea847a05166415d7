"""The DICOMweb client's own logic, without a server: finding files, batching, reading a Store
Instances Response (written by dicomstore's own `stow_response`), flattening search results."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomstore.client.dicomweb import (
    DicomFile,
    Outcome,
    Target,
    flat_attributes,
    is_part10,
    match_outcomes,
    plan_batches,
    scan,
)
from dicomstore.dicom.stow_response import FailedInstance, StoredInstance, response_dataset
from tests.api.http.dicomweb_support import make_instance, part10

PART10 = part10(make_instance())


def _tree(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)


def test_scan_walks_folders_expands_globs_and_skips_what_is_not_part10(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "b/2.dcm": PART10, "b/deep/1.dcm": PART10, "a.dcm": PART10, "notes.txt": b"hello",
        "b/short.dcm": b"DICM", "b/no-preamble.dcm": PART10[128:],
    })  # fmt: skip
    found = scan([tmp_path / "b", str(tmp_path / "*.dcm"), tmp_path / "b" / "2.dcm", tmp_path])
    assert [file.path for file in found.files] == [
        tmp_path / "b/2.dcm", tmp_path / "b/deep/1.dcm", tmp_path / "a.dcm",
    ]  # fmt: skip
    assert all(file.size == len(PART10) for file in found.files)
    assert found.skipped == [
        tmp_path / "b/no-preamble.dcm", tmp_path / "b/short.dcm", tmp_path / "notes.txt",
    ]  # fmt: skip
    assert not is_part10(tmp_path / "missing.dcm")
    with pytest.raises(FileNotFoundError, match="nothing-"):
        scan([tmp_path / "nothing-*.dcm"])


def test_batches_close_at_the_instance_count_or_the_byte_budget() -> None:
    files = [DicomFile(Path(f"{n}"), size) for n, size in enumerate([10, 10, 10, 50, 10, 200, 5])]
    by_count = plan_batches(files, max_instances=3, max_bytes=1000)
    assert [[f.path.name for f in batch] for batch in by_count] == [
        ["0", "1", "2"], ["3", "4", "5"], ["6"],
    ]  # fmt: skip
    by_size = plan_batches(files, max_instances=10, max_bytes=60)
    # A file larger than the budget goes alone.
    assert [[f.path.name for f in batch] for batch in by_size] == [
        ["0", "1", "2"], ["3", "4"], ["5"], ["6"],
    ]  # fmt: skip


def _stored(sop: str) -> StoredInstance:
    url = "http://server/v1/store/dicomWeb/studies/1"
    return StoredInstance("1.2.840.10008.5.1.4.1.1.7", sop, f"{url}/series/2/instances/{sop}", url)


def test_each_file_gets_its_outcome_from_the_store_instances_response() -> None:
    batch = [
        DicomFile(Path("stored.dcm"), 1, "1", "2", "1.1"),
        DicomFile(Path("conflict.dcm"), 1, "1", "2", "1.2"),
        DicomFile(Path("unreadable.dcm"), 1),  # no UIDs on this side either
        DicomFile(Path("also-stored.dcm"), 1, "1", "2", "1.3"),
    ]
    answer = response_dataset([
        _stored("1.1"),
        FailedInstance("An instance already exists …", 0x0110, "1.2.840.10008.5.1.4.1.1.7", "1.2"),
        FailedInstance("Invalid DICOM: no header", 0xC000),
        _stored("1.3"),
    ])  # fmt: skip
    results = match_outcomes(batch, answer)
    assert [(r.file.path.name, r.outcome) for r in results] == [
        ("stored.dcm", Outcome.STORED),
        ("conflict.dcm", Outcome.FAILED),
        ("unreadable.dcm", Outcome.FAILED),
        ("also-stored.dcm", Outcome.STORED),
    ]
    assert results[1].reason == (
        "An instance already exists … (Failure Reason 0110H: processing failure)"
    )
    assert results[2].reason == "Invalid DICOM: no header (Failure Reason C000H: cannot understand)"


def test_a_file_the_response_does_not_mention_fails() -> None:
    [result] = match_outcomes([DicomFile(Path("lost.dcm"), 1, "1", "2", "9")], {})
    assert (result.outcome, result.reason) == (Outcome.FAILED, "missing from the STOW-RS response")


def test_search_results_flatten_to_keyword_columns() -> None:
    dataset = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "00080061": {"vr": "CS", "Value": ["CT", "MR"]},
        "00081115": {"vr": "SQ", "Value": [{}, {}]},
        "00081199": {"vr": "SQ"},
        "7FE00010": {"vr": "OW", "BulkDataURI": "http://x/bulk"},
        "00200013": {"vr": "IS", "Value": [4]},
        "00091001": {"vr": "LO", "Value": ["private"]},
        "00100020": {"vr": "LO"},
    }
    assert flat_attributes(dataset) == {
        "PatientName": "Doe^Jane",
        "ModalitiesInStudy": "CT\\MR",
        "ReferencedSeriesSequence": "<2 items>",
        "ReferencedSOPSequence": "",
        "PixelData": "<bulk data>",
        "InstanceNumber": "4",
        "00091001": "private",
        "PatientID": "",
    }


def test_a_target_is_a_study_a_series_or_an_instance() -> None:
    assert Target("1").path == "studies/1"
    assert Target("1", "2").path == "studies/1/series/2"
    assert Target("1", "2", "3").path == "studies/1/series/2/instances/3"
    with pytest.raises(ValueError, match="needs its series"):
        Target("1", None, "3")
