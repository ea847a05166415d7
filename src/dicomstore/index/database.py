"""The index as the rest of the program sees it: an engine, migrated, handing out transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from dicomstore.index.engine import create_index_engine
from dicomstore.index.group_commit import GroupCommit
from dicomstore.index.migrate import upgrade
from dicomstore.index.prepared import PreparedRead, Readers

__all__ = ["Index"]

T = TypeVar("T")


class Index:
    """The metadata database. Every query module takes a ``Connection`` from ``transaction()``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._group = GroupCommit(self.transaction)
        self._prepared: dict[int, tuple[sa.Select[Any], PreparedRead]] = {}
        # A pool checkout costs about as much as a SQLite lookup: embedded reads use `Readers`.
        # A server database keeps its pool, which checks each connection before lending it.
        self._readers = Readers(engine) if self.embedded else None

    @property
    def embedded(self) -> bool:
        """Whether the database runs inside this process (SQLite): a query is a library call on
        local pages, with no network round trip."""
        return self.engine.dialect.name == "sqlite"

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

    def prepared(self, statement: sa.Select[Any]) -> PreparedRead:
        """``statement``, a module-level constant, prepared for this index once
        (``prepared.py``): for the hottest reads, run outside ``transaction()``."""
        found = self._prepared.get(id(statement))
        if found is None:
            # The statement is kept with its read, so that its id cannot be reused.
            found = (statement, PreparedRead(self.engine, statement, self._readers))
            self._prepared[id(statement)] = found
        return found[1]

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
        if self._readers is not None:
            self._readers.close()
        self.engine.dispose()
