"""The orphan sweep removes bytes no row references, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dicomstore.blobs import BlobStore, FileSystemBlobStore, MemoryBlobStore
from dicomstore.clock import utcnow
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index.dicom_stores import DicomStoreConfig
from dicomstore.index.instances import IngestOutcome, NewInstance, add_instance
from dicomstore.names import DatasetName, LocationName
from dicomstore.services.sweep import SweepService


@pytest.fixture
def index(database_url: str) -> Iterator[Index]:
    opened = Index.open(database_url)
    yield opened
    opened.close()


@pytest.fixture(params=["filesystem", "memory"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    return FileSystemBlobStore(tmp_path / "blobs")


def _index_instance(index: Index, blob_key: str) -> None:
    now = utcnow()
    with index.transaction() as tx:
        dataset = dataset_rows.insert(
            tx, DatasetName(LocationName("p", "l"), "d"), time_zone="", encryption_spec=None,
            now=now,
        )  # fmt: skip
        store = store_rows.insert(tx, dataset, "s", DicomStoreConfig({}, None, [], []), now)
        new = NewInstance(
            study_instance_uid="1.2.3", series_instance_uid="1.2.3.4", sop_instance_uid="1.2.3.4.5",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.7", transfer_syntax_uid="1.2.840.10008.1.2.1",
            instance_number=1, number_of_frames=None, blob_key=blob_key, blob_size_bytes=4,
            sha256="0" * 64, storage_class="STANDARD", metadata={}, structured_size_bytes=2,
            frame_ranges=None, bulk_data=None,
        )  # fmt: skip
        outcome, _ = add_instance(tx, store.pk, new, now)
    assert outcome is IngestOutcome.STORED


def test_sweep_removes_old_orphans_and_keeps_indexed_and_young_blobs(
    index: Index, blobs: BlobStore
) -> None:
    blobs.put("prefix/aa/indexed", [b"keep"])
    blobs.put("prefix/bb/orphan", [b"lost"])
    _index_instance(index, "prefix/aa/indexed")
    sweeper = SweepService(index, blobs)

    young = sweeper.sweep(grace=timedelta(hours=1))
    assert (young.examined, young.removed) == (2, 0)
    assert blobs.exists("prefix/bb/orphan")

    report = sweeper.sweep(grace=timedelta(0))
    assert (report.examined, report.removed) == (2, 1)
    assert list(blobs.keys()) == ["prefix/aa/indexed"]
    with blobs.open("prefix/aa/indexed") as stream:
        assert stream.read() == b"keep"
