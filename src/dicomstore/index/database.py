"""The index as the rest of the program sees it: an engine, migrated, handing out transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import sqlalchemy as sa

from dicomstore.index.engine import create_index_engine
from dicomstore.index.group_commit import GroupCommit
from dicomstore.index.migrate import upgrade

__all__ = ["Index"]

T = TypeVar("T")


class Index:
    """The metadata database. Every query module takes a ``Connection`` from ``transaction()``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._group = GroupCommit(self.transaction)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Index:
        """Connect to ``url`` and, unless told otherwise, apply pending migrations."""
        engine = create_index_engine(url)
        if migrate:
            try:
                upgrade(engine)
            except BaseException:
                engine.dispose()
                raise
        return cls(engine)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as connection:
            yield connection

    def grouped(
        self, work: Callable[[sa.Connection], T], *, queued: Callable[[], None] | None = None
    ) -> T:
        """Run ``work`` in a transaction it may share with other threads' work (group commit:
        one durable commit for all); for hot, short writes that touch only the database.
        ``queued`` is called once the work is in line (work queued later runs after it)."""
        return self._group.run(work, queued=queued)

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self._group.close()
        self.engine.dispose()
