"""Use cases: the only layer that combines the index, blob storage and jobs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from dicomstore.blobs import BlobStore
from dicomstore.dicom.qido import QidoMode
from dicomstore.index import Index
from dicomstore.services.datasets import DatasetService
from dicomstore.services.dicom_stores import DicomStoreService
from dicomstore.services.dicomweb_delete import DicomWebDeleteService
from dicomstore.services.exports import ExportService
from dicomstore.services.frame_cache import FrameCache
from dicomstore.services.imports import ImportService
from dicomstore.services.jobs import JobRunner
from dicomstore.services.locations import LocationService
from dicomstore.services.metrics import MetricsService
from dicomstore.services.operations import OperationService
from dicomstore.services.render import RenderService
from dicomstore.services.retrieve import RetrieveService
from dicomstore.services.search import SearchService
from dicomstore.services.stow import StowService
from dicomstore.services.sweep import SweepService
from dicomstore.sinks.tables import open_metadata_table

__all__ = ["Services"]


@dataclass(frozen=True, slots=True)
class Services:
    """Every service, wired to one index and one blob store; what a transport is handed."""

    index: Index
    blobs: BlobStore
    locations: LocationService
    datasets: DatasetService
    dicom_stores: DicomStoreService
    operations: OperationService
    jobs: JobRunner
    stow: StowService
    retrieve: RetrieveService
    render: RenderService
    search: SearchService
    dicomweb_delete: DicomWebDeleteService
    imports: ImportService
    exports: ExportService
    metrics: MetricsService
    sweep: SweepService

    @classmethod
    def over(
        cls,
        index: Index,
        blobs: BlobStore,
        *,
        qido_mode: QidoMode = QidoMode.GOOGLE,
        frame_cache_bytes: int = 256 * 1024 * 1024,
        bigquery: str = "duckdb",
        duckdb_dir: Path = Path("bigquery"),
    ) -> Services:
        cache = FrameCache(frame_cache_bytes)
        jobs = JobRunner(index)
        stow = StowService(index, blobs)
        retrieve = RetrieveService(index, blobs, cache)
        render = RenderService(index, blobs, cache)
        tables = partial(open_metadata_table, bigquery, duckdb_dir=duckdb_dir)
        return cls(
            index=index,
            blobs=blobs,
            locations=LocationService(),
            datasets=DatasetService(index, blobs),
            dicom_stores=DicomStoreService(index, blobs),
            operations=OperationService(index),
            jobs=jobs,
            stow=stow,
            retrieve=retrieve,
            render=render,
            search=SearchService(index, qido_mode),
            dicomweb_delete=DicomWebDeleteService(index, blobs, jobs),
            imports=ImportService(index, stow, jobs),
            exports=ExportService(index, blobs, retrieve, render, jobs, metadata_table=tables),
            metrics=MetricsService(index),
            sweep=SweepService(index, blobs),
        )
