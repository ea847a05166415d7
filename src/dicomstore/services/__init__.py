"""Use cases: the only layer that combines the index, blob storage and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from dicomstore.index import Index
from dicomstore.services.datasets import DatasetService
from dicomstore.services.dicom_stores import DicomStoreService
from dicomstore.services.locations import LocationService
from dicomstore.services.operations import OperationService

__all__ = ["Services"]


@dataclass(frozen=True, slots=True)
class Services:
    """Every service, wired to one index; what a transport is handed."""

    index: Index
    locations: LocationService
    datasets: DatasetService
    dicom_stores: DicomStoreService
    operations: OperationService

    @classmethod
    def over(cls, index: Index) -> Services:
        return cls(
            index=index,
            locations=LocationService(),
            datasets=DatasetService(index),
            dicom_stores=DicomStoreService(index),
            operations=OperationService(index),
        )
