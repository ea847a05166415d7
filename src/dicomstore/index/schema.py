"""The index schema: SQLAlchemy Core tables for the whole store.

The index is the source of truth for what exists; instance bytes live in a blob store under
immutable keys that ``instances.blob_key`` names. The same tables run on SQLite (embedded default)
and PostgreSQL (scale-out); JSON columns become JSONB on PostgreSQL. Every change goes through an
Alembic migration in ``index/migrations/versions``.

Hierarchy: datasets → dicom_stores → studies → series → instances, each child row deleted with its
parent (``ON DELETE CASCADE``). Operations belong to a dataset, as in Google's API. The outbox
holds events written in the same transaction as the change that caused them, for relaying to
notification and stream sinks at least once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from dicomstore.clock import utc

__all__ = [
    "UtcDateTime",
    "datasets",
    "dicom_stores",
    "instances",
    "metadata",
    "operations",
    "outbox",
    "series",
    "studies",
]

# Constraint names are spelled out so that migrations and both engines agree on them.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# none_as_null: Python None is SQL NULL in every nullable document column, as it is for a column
# left out of an INSERT, so that ``IS NULL`` means "no document" whichever way the row was written.
JsonDocument = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A moment, stored in UTC and read back as an aware UTC ``datetime`` on both engines.

    SQLite keeps a datetime's wall-clock text and drops its offset, and PostgreSQL reads a naive
    one in the session's time zone; converting to UTC first keeps every stored value the same
    instant, comparable and ordered as text on SQLite. Naive values are taken to be UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else utc(value)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else utc(value)


Timestamp = UtcDateTime()


def _parent(column: str) -> sa.Column[int]:
    return sa.Column(
        f"{column}_pk",
        sa.BigInteger,
        sa.ForeignKey(f"{column}s.pk", ondelete="CASCADE"),
        nullable=False,
    )


def _pk() -> sa.Column[int]:
    # BigInteger on PostgreSQL; SQLite needs plain INTEGER for its rowid alias.
    return sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


datasets = sa.Table(
    "datasets",
    metadata,
    _pk(),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("location", sa.String(64), nullable=False),
    sa.Column("dataset_id", sa.String(256), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False, server_default=""),
    sa.Column("encryption_spec", JsonDocument, nullable=True),
    sa.Column("create_time", Timestamp, nullable=False),
    sa.UniqueConstraint("project", "location", "dataset_id"),
)

dicom_stores = sa.Table(
    "dicom_stores",
    metadata,
    _pk(),
    _parent("dataset"),
    sa.Column("store_id", sa.String(256), nullable=False),
    # Random folder of the store's blobs: never reused, so a store deleted and re-created under
    # the same ID cannot meet the old store's bytes while those are being swept away.
    sa.Column("blob_prefix", sa.String(64), nullable=False, unique=True),
    sa.Column("labels", JsonDocument, nullable=False),
    sa.Column("notification_config", JsonDocument, nullable=True),
    sa.Column("notification_configs", JsonDocument, nullable=False),
    sa.Column("stream_configs", JsonDocument, nullable=False),
    sa.Column("create_time", Timestamp, nullable=False),
    sa.Column("update_time", Timestamp, nullable=False),
    sa.UniqueConstraint("dataset_pk", "store_id"),
)

studies = sa.Table(
    "studies",
    metadata,
    _pk(),
    sa.Column(
        "dicom_store_pk",
        sa.BigInteger,
        sa.ForeignKey("dicom_stores.pk", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("study_instance_uid", sa.String(64), nullable=False),
    # QIDO search columns, filled at ingest by dicomstore.dicom.attributes.study_columns in the
    # forms its matching compares: person names case-folded (``doe^john``) with a word column
    # for fuzzy matching (`` doe john ``), dates YYYYMMDD, times HHMMSS.FFFFFF, text stripped.
    sa.Column("patient_name", sa.String(324), nullable=True),
    sa.Column("patient_name_search", sa.String(1024), nullable=True),
    sa.Column("patient_id", sa.String(64), nullable=True),
    sa.Column("accession_number", sa.String(64), nullable=True),
    sa.Column("study_date", sa.String(8), nullable=True),
    sa.Column("study_time", sa.String(16), nullable=True),
    sa.Column("study_id", sa.String(16), nullable=True),
    sa.Column("referring_physician_name", sa.String(324), nullable=True),
    sa.Column("referring_physician_name_search", sa.String(1024), nullable=True),
    sa.Column("study_description", sa.String(64), nullable=True),
    # Study-level DICOM JSON (patient and study modules) answered by QIDO at study level.
    sa.Column("attributes", JsonDocument, nullable=False),
    sa.Column("series_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("instance_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("blob_size_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("structured_size_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("create_time", Timestamp, nullable=False),
    sa.Column("update_time", Timestamp, nullable=False),
    sa.UniqueConstraint("dicom_store_pk", "study_instance_uid"),
    sa.Index(None, "dicom_store_pk", "patient_id"),
    sa.Index(None, "dicom_store_pk", "patient_name"),
    sa.Index(None, "dicom_store_pk", "accession_number"),
    sa.Index(None, "dicom_store_pk", "study_date"),
    # A store's studies in key order: the order searches answer in, page by page (0002).
    sa.Index(None, "dicom_store_pk", "pk"),
)

series = sa.Table(
    "series",
    metadata,
    _pk(),
    sa.Column(
        "dicom_store_pk",
        sa.BigInteger,
        sa.ForeignKey("dicom_stores.pk", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "study_pk", sa.BigInteger, sa.ForeignKey("studies.pk", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("series_instance_uid", sa.String(64), nullable=False),
    # QIDO search columns (dicomstore.dicom.attributes.series_columns), normalised as for
    # studies; the Request Attributes Sequence keys hold its first item's values.
    sa.Column("modality", sa.String(16), nullable=True),
    sa.Column("series_number", sa.Integer, nullable=True),
    sa.Column("series_description", sa.String(64), nullable=True),
    sa.Column("performed_procedure_step_start_date", sa.String(8), nullable=True),
    sa.Column("performed_procedure_step_start_time", sa.String(16), nullable=True),
    sa.Column("scheduled_procedure_step_id", sa.String(64), nullable=True),
    sa.Column("requested_procedure_id", sa.String(64), nullable=True),
    sa.Column("attributes", JsonDocument, nullable=False),
    sa.Column("instance_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("blob_size_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("structured_size_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("create_time", Timestamp, nullable=False),
    sa.Column("update_time", Timestamp, nullable=False),
    sa.UniqueConstraint("study_pk", "series_instance_uid"),
    sa.Index(None, "dicom_store_pk", "series_instance_uid"),
    sa.Index(None, "dicom_store_pk", "modality"),
    sa.Index(None, "dicom_store_pk", "pk"),  # as for studies (0002)
)

instances = sa.Table(
    "instances",
    metadata,
    _pk(),
    sa.Column(
        "dicom_store_pk",
        sa.BigInteger,
        sa.ForeignKey("dicom_stores.pk", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "series_pk", sa.BigInteger, sa.ForeignKey("series.pk", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("sop_instance_uid", sa.String(64), nullable=False),
    sa.Column("sop_class_uid", sa.String(64), nullable=True),
    sa.Column("instance_number", sa.Integer, nullable=True),
    sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
    sa.Column("number_of_frames", sa.Integer, nullable=True),
    # The bytes: an immutable blob-store key, their size and SHA-256 (duplicate detection).
    sa.Column("blob_key", sa.String(512), nullable=False),
    sa.Column("blob_size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("storage_class", sa.String(16), nullable=False, server_default="STANDARD"),
    sa.Column("storage_class_update_time", Timestamp, nullable=True),
    # Instance DICOM JSON with file meta, bulk data replaced by BulkDataURI (WADO metadata).
    sa.Column("metadata", JsonDocument, nullable=False),
    sa.Column("structured_size_bytes", sa.BigInteger, nullable=False, server_default="0"),
    # Byte ranges of each frame inside the blob, computed once at ingest: [[offset, length], ...].
    sa.Column("frame_ranges", JsonDocument, nullable=True),
    # Where each BulkDataURI's value lies in the blob: {path: [offset, length, vr,
    # little_endian, encapsulated]}, so a bulk data request is one range read.
    sa.Column("bulk_data", JsonDocument, nullable=True),
    sa.Column("create_time", Timestamp, nullable=False),
    sa.UniqueConstraint("dicom_store_pk", "sop_instance_uid"),
    sa.Index(None, "series_pk", "instance_number"),
)

operations = sa.Table(
    "operations",
    metadata,
    _pk(),
    _parent("dataset"),
    sa.Column("operation_id", sa.String(128), nullable=False, unique=True),
    sa.Column("api_method_name", sa.String(256), nullable=False),
    # The store (or other resource) the operation acts on; kept as a name so it outlives it.
    sa.Column("target", sa.String(1024), nullable=True),
    # pending → running → done; a worker claims pending rows and heartbeats while it runs.
    sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("request", JsonDocument, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("counter_success", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("counter_failure", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("counter_pending", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("counter_secondary_success", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("counter_secondary_failure", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("response", JsonDocument, nullable=True),
    sa.Column("error", JsonDocument, nullable=True),
    sa.Column("worker", sa.String(256), nullable=True),
    sa.Column("heartbeat_time", Timestamp, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("create_time", Timestamp, nullable=False),
    sa.Column("end_time", Timestamp, nullable=True),
    sa.Index(None, "dataset_pk", "create_time"),
    sa.Index(None, "state"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    _pk(),
    sa.Column(
        "dicom_store_pk",
        sa.BigInteger,
        sa.ForeignKey("dicom_stores.pk", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("resource_name", sa.String(1024), nullable=False),
    sa.Column("payload", JsonDocument, nullable=False),
    sa.Column("create_time", Timestamp, nullable=False),
    sa.Column("delivered_time", Timestamp, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Index(None, "delivered_time", "pk"),
)
