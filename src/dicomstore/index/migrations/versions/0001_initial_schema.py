"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.String(length=256), nullable=False),
        sa.Column("time_zone", sa.String(length=64), server_default="", nullable=False),
        sa.Column(
            "encryption_spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_datasets")),
        sa.UniqueConstraint(
            "project",
            "location",
            "dataset_id",
            name=op.f("uq_datasets_project_location_dataset_id"),
        ),
    )
    op.create_table(
        "dicom_stores",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset_pk", sa.BigInteger(), nullable=False),
        sa.Column("store_id", sa.String(length=256), nullable=False),
        sa.Column("blob_prefix", sa.String(length=64), nullable=False),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "notification_config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "notification_configs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "stream_configs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_dicom_stores_dataset_pk"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_dicom_stores")),
        sa.UniqueConstraint(
            "dataset_pk", "store_id", name=op.f("uq_dicom_stores_dataset_pk_store_id")
        ),
        sa.UniqueConstraint("blob_prefix", name=op.f("uq_dicom_stores_blob_prefix")),
    )
    op.create_table(
        "operations",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset_pk", sa.BigInteger(), nullable=False),
        sa.Column("operation_id", sa.String(length=128), nullable=False),
        sa.Column("api_method_name", sa.String(length=256), nullable=False),
        sa.Column("target", sa.String(length=1024), nullable=True),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("counter_success", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("counter_failure", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("counter_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("counter_secondary_success", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("counter_secondary_failure", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "error",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("worker", sa.String(length=256), nullable=True),
        sa.Column("heartbeat_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_operations_dataset_pk"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_operations")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_operations_operation_id")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operations_dataset_pk_create_time"),
            ["dataset_pk", "create_time"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_operations_state"), ["state"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dicom_store_pk", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("resource_name", sa.String(length=1024), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["dicom_store_pk"],
            ["dicom_stores.pk"],
            name=op.f("fk_outbox_dicom_store_pk"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_delivered_time_pk"), ["delivered_time", "pk"], unique=False
        )

    op.create_table(
        "studies",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dicom_store_pk", sa.BigInteger(), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("patient_name", sa.String(length=324), nullable=True),
        sa.Column("patient_name_search", sa.String(length=1024), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("accession_number", sa.String(length=64), nullable=True),
        sa.Column("study_date", sa.String(length=8), nullable=True),
        sa.Column("study_time", sa.String(length=16), nullable=True),
        sa.Column("study_id", sa.String(length=16), nullable=True),
        sa.Column("referring_physician_name", sa.String(length=324), nullable=True),
        sa.Column("referring_physician_name_search", sa.String(length=1024), nullable=True),
        sa.Column("study_description", sa.String(length=64), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("series_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("instance_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_size_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("structured_size_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dicom_store_pk"],
            ["dicom_stores.pk"],
            name=op.f("fk_studies_dicom_store_pk"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_studies")),
        sa.UniqueConstraint(
            "dicom_store_pk",
            "study_instance_uid",
            name=op.f("uq_studies_dicom_store_pk_study_instance_uid"),
        ),
    )
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_studies_dicom_store_pk_accession_number"),
            ["dicom_store_pk", "accession_number"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_studies_dicom_store_pk_patient_id"),
            ["dicom_store_pk", "patient_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_studies_dicom_store_pk_patient_name"),
            ["dicom_store_pk", "patient_name"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_studies_dicom_store_pk_study_date"),
            ["dicom_store_pk", "study_date"],
            unique=False,
        )

    op.create_table(
        "series",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dicom_store_pk", sa.BigInteger(), nullable=False),
        sa.Column("study_pk", sa.BigInteger(), nullable=False),
        sa.Column("series_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("series_number", sa.Integer(), nullable=True),
        sa.Column("series_description", sa.String(length=64), nullable=True),
        sa.Column("performed_procedure_step_start_date", sa.String(length=8), nullable=True),
        sa.Column("performed_procedure_step_start_time", sa.String(length=16), nullable=True),
        sa.Column("scheduled_procedure_step_id", sa.String(length=64), nullable=True),
        sa.Column("requested_procedure_id", sa.String(length=64), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("instance_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_size_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("structured_size_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dicom_store_pk"],
            ["dicom_stores.pk"],
            name=op.f("fk_series_dicom_store_pk"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["study_pk"], ["studies.pk"], name=op.f("fk_series_study_pk"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_series")),
        sa.UniqueConstraint(
            "study_pk", "series_instance_uid", name=op.f("uq_series_study_pk_series_instance_uid")
        ),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_series_dicom_store_pk_modality"),
            ["dicom_store_pk", "modality"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_series_dicom_store_pk_series_instance_uid"),
            ["dicom_store_pk", "series_instance_uid"],
            unique=False,
        )

    op.create_table(
        "instances",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dicom_store_pk", sa.BigInteger(), nullable=False),
        sa.Column("series_pk", sa.BigInteger(), nullable=False),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=True),
        sa.Column("instance_number", sa.Integer(), nullable=True),
        sa.Column("transfer_syntax_uid", sa.String(length=64), nullable=False),
        sa.Column("number_of_frames", sa.Integer(), nullable=True),
        sa.Column("blob_key", sa.String(length=512), nullable=False),
        sa.Column("blob_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_class", sa.String(length=16), server_default="STANDARD", nullable=False),
        sa.Column("storage_class_update_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("structured_size_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "frame_ranges",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "bulk_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dicom_store_pk"],
            ["dicom_stores.pk"],
            name=op.f("fk_instances_dicom_store_pk"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["series_pk"], ["series.pk"], name=op.f("fk_instances_series_pk"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_instances")),
        sa.UniqueConstraint(
            "dicom_store_pk",
            "sop_instance_uid",
            name=op.f("uq_instances_dicom_store_pk_sop_instance_uid"),
        ),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instances_series_pk_instance_number"),
            ["series_pk", "instance_number"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_series_pk_instance_number"))

    op.drop_table("instances")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_dicom_store_pk_series_instance_uid"))
        batch_op.drop_index(batch_op.f("ix_series_dicom_store_pk_modality"))

    op.drop_table("series")
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studies_dicom_store_pk_study_date"))
        batch_op.drop_index(batch_op.f("ix_studies_dicom_store_pk_patient_name"))
        batch_op.drop_index(batch_op.f("ix_studies_dicom_store_pk_patient_id"))
        batch_op.drop_index(batch_op.f("ix_studies_dicom_store_pk_accession_number"))

    op.drop_table("studies")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_delivered_time_pk"))

    op.drop_table("outbox")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operations_state"))
        batch_op.drop_index(batch_op.f("ix_operations_dataset_pk_create_time"))

    op.drop_table("operations")
    op.drop_table("dicom_stores")
    op.drop_table("datasets")
