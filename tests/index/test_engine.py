"""How the index database is opened: what makes an acknowledged write survive a power cut."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from dicomstore.index import Index

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_sqlite_commits_are_on_disk_when_they_return(tmp_path: Path) -> None:
    # WAL with synchronous=NORMAL only syncs at checkpoints: a power cut could lose the last
    # commits, and with them instances STOW had acknowledged.
    index = Index.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    try:
        with index.transaction() as tx:
            assert tx.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert tx.execute(sa.text("PRAGMA synchronous")).scalar() == FULL
    finally:
        index.close()


def test_documents_are_stored_as_compact_json(tmp_path: Path) -> None:
    index = Index.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    try:
        with index.transaction() as tx:
            text = tx.execute(
                sa.select(sa.cast(sa.literal({"a": [1, "é"]}, sa.JSON), sa.Text))
            ).scalar()
        assert text == '{"a":[1,"é"]}'
    finally:
        index.close()
