"""Reads are done on the event loop only when the storage answers without a network round trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomstore.blobs import FileSystemBlobStore, MemoryBlobStore, ObjectBlobStore
from dicomstore.clock import utcnow
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index.dicom_stores import DicomStoreConfig
from dicomstore.index.instances import add_instance
from dicomstore.names import DatasetName, DicomStoreName
from dicomstore.services import retrieve
from dicomstore.services.frame_cache import FrameCache
from dicomstore.services.retrieve import RetrieveService, Scope
from tests.index import qido_corpus as corpus
from tests.index.conftest import LOCATION


@pytest.fixture
def index(database_url: str) -> Iterator[Index]:
    opened = Index.open(database_url)
    yield opened
    opened.close()


def test_answers_at_once_with_an_embedded_index_and_local_blobs(
    index: Index, tmp_path: Path
) -> None:
    embedded = index.engine.dialect.name == "sqlite"
    assert index.embedded is embedded
    for blobs in (FileSystemBlobStore(tmp_path / "blobs"), MemoryBlobStore()):
        assert RetrieveService(index, blobs, FrameCache(0)).answers_at_once is embedded
    remote = object.__new__(ObjectBlobStore)  # a bucket: every read is a network round trip
    assert not RetrieveService(index, remote, FrameCache(0)).answers_at_once


@pytest.fixture
def corpus_store(index: Index) -> DicomStoreName:
    """The QIDO corpus indexed in a store."""
    now = utcnow()
    with index.transaction() as tx:
        dataset = dataset_rows.insert(
            tx, DatasetName(LOCATION, "d"), time_zone="", encryption_spec=None, now=now
        )
        store = store_rows.insert(tx, dataset, "s", DicomStoreConfig({}, None, [], []), now)
        for instance in corpus.INSTANCES:
            add_instance(tx, store.pk, corpus.new_instance(instance), now)
    return DicomStoreName(dataset.name, "s")


def test_a_study_too_large_is_located_in_a_thread(
    index: Index, corpus_store: DicomStoreName, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not index.embedded:
        pytest.skip("nothing is done at once on a database server")
    blobs = MemoryBlobStore()
    for instance in corpus.INSTANCES:
        blobs.put(f"blobs/{instance.uid}", [b"\0" * 1000])
    service = RetrieveService(index, blobs, FrameCache(0))
    study = corpus.INSTANCES[0].series.study
    scope = Scope(corpus_store, study.uid)
    count = len(service.locate(scope))
    assert count > 1
    monkeypatch.setattr(retrieve, "AT_ONCE_INSTANCES", count)
    at_once = service.retrieval_at_once(scope, ["*"])
    assert at_once == service.retrieval(scope, ["*"])
    monkeypatch.setattr(retrieve, "AT_ONCE_INSTANCES", count - 1)
    assert service.retrieval_at_once(scope, ["*"]) is None
