"""indexes that walk a store's studies and series in key order

Searches answer in primary-key order of the searched level with LIMIT and OFFSET
(``dicomstore.index.search``). Without a study in the path or a matching key to narrow them, a
store's studies (or series) were all read and sorted for each page: (dicom_store_pk, pk) lets
both engines walk them in order and stop at the page's end. Chosen from the query plans of
``benchmarks/index_scale.py`` (a million instances).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_studies_dicom_store_pk_pk"), ["dicom_store_pk", "pk"], unique=False
        )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_series_dicom_store_pk_pk"), ["dicom_store_pk", "pk"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_dicom_store_pk_pk"))
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studies_dicom_store_pk_pk"))
