"""Alembic environment: always handed a live connection by ``dicomstore.index.migrate``."""

from __future__ import annotations

from alembic import context

from dicomstore.index.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through dicomstore.index.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
