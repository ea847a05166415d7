"""Fixtures for the index query modules: a migrated index on each engine and rows to hang on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.names import DatasetName, LocationName

LOCATION = LocationName("test-project", "us-central1")
# Microseconds on purpose: both engines must keep them.
NOW = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def index(database_url: str) -> Iterator[Index]:
    """A freshly migrated index on each engine."""
    opened = Index.open(database_url)
    yield opened
    opened.close()


def add_dataset(index: Index, dataset_id: str, location: LocationName = LOCATION) -> DatasetRow:
    with index.transaction() as tx:
        return dataset_rows.insert(
            tx, DatasetName(location, dataset_id), time_zone="", encryption_spec=None, now=NOW
        )


@pytest.fixture
def dataset_row(index: Index) -> DatasetRow:
    return add_dataset(index, "ds")
