"""The index as the rest of the program sees it: an engine, migrated, handing out transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from dicomstore.index.engine import create_index_engine
from dicomstore.index.migrate import upgrade

__all__ = ["Index"]


class Index:
    """The metadata database. Every query module takes a ``Connection`` from ``transaction()``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

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

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
