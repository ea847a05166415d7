"""The one settings object: flags and ``DICOMSTORE_*`` environment variables, validated at start.

| setting        | variable                  | default                                   |
|----------------|---------------------------|-------------------------------------------|
| host           | ``DICOMSTORE_HOST``         | ``127.0.0.1``                             |
| port           | ``DICOMSTORE_PORT``         | ``8080``                                  |
| data_dir       | ``DICOMSTORE_DATA_DIR``     | ``./dicomstore-data``                     |
| database_url   | ``DICOMSTORE_DATABASE_URL`` | SQLite file ``index.sqlite3`` in data_dir |
| blob_url       | ``DICOMSTORE_BLOB_URL``     | folder ``blobs`` in data_dir              |
| qido_mode      | ``DICOMSTORE_QIDO_MODE``    | ``google`` (or ``standard``: PS3.18 QIDO) |
| frame_cache_mib | ``DICOMSTORE_FRAME_CACHE_MIB`` | ``256`` (rendered/converted frames kept) |
| job_workers    | ``DICOMSTORE_JOB_WORKERS``  | ``2`` in-process operation workers (0: none) |
| workers        | ``DICOMSTORE_WORKERS``      | server processes on the port (one per core, ≤ 4) |
| log_level      | ``DICOMSTORE_LOG_LEVEL``    | ``info``                                  |
| bigquery       | ``DICOMSTORE_BIGQUERY``     | ``duckdb`` files (or ``bigquery``: Google's) |
| duckdb_dir     | ``DICOMSTORE_DUCKDB_DIR``   | folder ``bigquery`` in data_dir           |

BigQuery exports (``bigqueryDestination``) go to one DuckDB file per project, ``{project}.duckdb``
in duckdb_dir, unless ``bigquery`` names Google BigQuery (application default credentials).

A command-line flag wins over its variable.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dicomstore.dicom.qido import QidoMode
from dicomstore.setting_values import LogLevel

__all__ = ["BigQueryBackend", "LogLevel", "Settings"]


class BigQueryBackend(StrEnum):
    """Where ``bigqueryDestination`` tables live: embedded DuckDB files (the emulator default,
    nothing leaves the machine) or Google BigQuery with application default credentials."""

    DUCKDB = "duckdb"
    BIGQUERY = "bigquery"


class Settings(BaseSettings):
    """Server settings; construct with keyword overrides for flags given on the command line."""

    model_config = SettingsConfigDict(env_prefix="DICOMSTORE_", frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("./dicomstore-data")
    database_url: str | None = None
    blob_url: str | None = None
    qido_mode: QidoMode = QidoMode.GOOGLE
    frame_cache_mib: int = Field(default=256, ge=0)
    job_workers: int = Field(default=2, ge=0)
    # None: chosen at start (`worker_count`), from the cores and the storage.
    workers: int | None = Field(default=None, ge=1)
    log_level: LogLevel = LogLevel.INFO
    bigquery: BigQueryBackend = BigQueryBackend.DUCKDB
    duckdb_dir: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        # Operators write INFO as often as info; the level names are case-insensitive.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_database_url(cls, value: object) -> object:
        # DICOMSTORE_DATABASE_URL= (set but empty) means the default, as an unset variable does.
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def blob_store_url(self) -> str:
        """Where instance bytes go: the configured URL, or the ``blobs`` folder of the data dir."""
        if self.blob_url:
            return self.blob_url
        return str((self.data_dir / "blobs").resolve())

    @property
    def duckdb_folder(self) -> Path:
        """Where DuckDB tables of BigQuery exports go."""
        return self.duckdb_dir or (self.data_dir / "bigquery").resolve()

    @property
    def index_url(self) -> str:
        """The index database URL: the configured one, or SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'index.sqlite3').resolve()}"
