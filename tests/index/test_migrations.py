"""The Alembic migrations against ``schema.py``, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dicomstore.index import migrate
from dicomstore.index.engine import create_index_engine
from dicomstore.index.migrate import alembic_config, upgrade
from dicomstore.index.schema import datasets, dicom_stores, metadata
from tests.index.conftest import NOW


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine on an empty database, nothing migrated yet."""
    created = create_index_engine(database_url)
    yield created
    created.dispose()


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _revisions(engine: sa.Engine) -> tuple[str, ...]:
    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def _schema(engine: sa.Engine) -> dict[str, Any]:
    """What the database says it holds: tables, columns, keys and indexes."""
    inspector = sa.inspect(engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table),
            "foreign_keys": inspector.get_foreign_keys(table),
            "unique": inspector.get_unique_constraints(table),
            "indexes": inspector.get_indexes(table),
        }
        for table in sorted(inspector.get_table_names())
    }


def _differences(engine: sa.Engine, target: sa.MetaData) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": target}
        )
        return list(compare_metadata(context, target))


def test_upgrade_from_empty_creates_every_table(engine: sa.Engine) -> None:
    assert sa.inspect(engine).get_table_names() == []
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) == {*metadata.tables, "alembic_version"}
    assert _revisions(engine) == (_head(),)


def test_upgrade_twice_is_a_no_op(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            datasets.insert().values(project="p", location="l", dataset_id="kept", create_time=NOW)
        )
    before = _schema(engine)
    upgrade(engine)
    assert _schema(engine) == before
    assert _revisions(engine) == (_head(),)
    with engine.connect() as connection:
        assert connection.execute(sa.select(datasets.c.dataset_id)).scalars().all() == ["kept"]


def test_migrated_schema_matches_schema_py(engine: sa.Engine) -> None:
    """A change to schema.py without its migration fails here."""
    upgrade(engine)
    assert _differences(engine, metadata) == []


def test_schema_comparison_notices_a_change_without_a_migration(engine: sa.Engine) -> None:
    # The check above must have teeth: a column added to the models and not migrated shows up.
    upgrade(engine)
    changed = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["dicom_stores"].append_column(sa.Column("display_name", sa.String(64)))
    differences = _differences(engine, changed)
    assert [(d[0], d[3].name) for d in differences] == [("add_column", "display_name")]


def test_downgrade_to_base_and_upgrade_again(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    assert _revisions(engine) == ()
    upgrade(engine)
    assert _differences(engine, metadata) == []


def test_concurrent_upgrades_do_not_fail(database_url: str, engine: sa.Engine) -> None:
    """Several servers starting at once on one fresh database: the first migrates, the others
    wait for it (PostgreSQL's advisory lock, SQLite's write lock) and find nothing to do.

    Processes, not threads: Alembic's ``op`` and ``context`` are process-wide."""
    # Each starter imports everything, says so, then waits for the word to go.
    script = (
        "import sys; from dicomstore.index import Index; print('ready', flush=True); "
        "sys.stdin.readline(); Index.open(sys.argv[1]).close()"
    )
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    for starter in starters:
        assert starter.stdout is not None
        assert starter.stdout.readline() == "ready\n"
    for starter in starters:
        assert starter.stdin is not None
        starter.stdin.write("go\n")
        starter.stdin.flush()
    outcomes = [(starter.wait(timeout=60), starter.communicate()[0]) for starter in starters]
    failures = [output for code, output in outcomes if code != 0]
    assert not failures, "\n\n".join(failures)
    assert _revisions(engine) == (_head(),)
    assert _differences(engine, metadata) == []


REBUILD_DATASETS = """
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What batch mode does for most changes on SQLite: copy the table, drop the old one.
    with op.batch_alter_table("datasets", recreate="always"):
        pass


def downgrade() -> None:
    pass
"""


def test_rebuilding_a_parent_table_keeps_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite, DROP TABLE with foreign keys on deletes the rows first, cascading: a batch
    migration of ``datasets`` (copy, drop, rename — SQLite's way of altering a table) would
    empty every store unless migrations run with foreign keys off."""
    engine = create_index_engine(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    upgrade(engine)
    with engine.begin() as connection:
        dataset_pk = connection.execute(
            datasets.insert()
            .values(project="p", location="l", dataset_id="d", create_time=NOW)
            .returning(datasets.c.pk)
        ).scalar_one()
        connection.execute(
            dicom_stores.insert().values(
                dataset_pk=dataset_pk,
                store_id="s",
                blob_prefix="prefix",
                labels={},
                notification_configs=[],
                stream_configs=[],
                create_time=NOW,
                update_time=NOW,
            )
        )
    migrations = tmp_path / "migrations"
    shutil.copytree(migrate._MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    rebuild = REBUILD_DATASETS.format(head=_head())
    (migrations / "versions" / "9001_rebuild_datasets.py").write_text(rebuild)
    monkeypatch.setattr(migrate, "_MIGRATIONS", migrations)

    upgrade(engine)

    assert _revisions(engine) == ("9001",)
    with engine.connect() as connection:
        assert connection.execute(sa.select(dicom_stores.c.store_id)).scalars().all() == ["s"]
        # and the pooled connection the migration used has its foreign keys back on
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    engine.dispose()
