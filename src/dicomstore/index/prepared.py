"""Prepared statements: Core statements compiled once per dialect and run on a DBAPI cursor.

Run through ``Connection.execute``, a statement costs some 50 µs of SQLAlchemy bookkeeping
(execution context, compiled-cache lookup, result object) around a SQLite query of 10–20 µs.
The hottest statements keep their SQL text for the dialect and convert each value with its
type's own bind and result processors, so they give what ``Connection.execute`` would, for
about a third of the cost:

- :class:`PreparedRead`, a read outside any transaction (the lookup of every WADO and STOW
  request), on a connection of the engine's pool or, for an embedded database, one of its
  `Readers`;
- :func:`run_prepared`, a statement inside the caller's transaction (ingest's statements, run
  for every instance stored), on that transaction's connection.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

__all__ = ["Compiled", "PreparedRead", "Readers", "prepared_once", "run_prepared"]

Row = tuple[Any, ...]


class Compiled:
    """A statement's SQL text for one dialect, with how to convert its values both ways."""

    def __init__(
        self, dialect: sa.Dialect, statement: ClauseElement, columns: Sequence[str] = ()
    ) -> None:
        compiled = cast(
            SQLCompiler, statement.compile(dialect=dialect, column_keys=list(columns) or None)
        )
        self.sql = str(compiled)
        self._positions = compiled.positiontup if compiled.positional else None
        # Values the statement fixes itself, such as an OFFSET 0 the dialect adds to a LIMIT.
        self._fixed = {name: value for name, value in compiled.params.items() if value is not None}
        self._binders: list[tuple[str, Callable[[Any], Any]]] = []
        for bind, name in compiled.bind_names.items():  # names as rendered, anonymous too
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._binders.append((name, process))
        returned = getattr(statement, "exported_columns", ())
        #: The names of the columns each row holds, in order.
        self.columns = [str(column.key) for column in returned]
        self._processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned
        ]

    def parameters(self, values: Mapping[str, Any]) -> Any:
        parameters = {**self._fixed, **values}
        for name, process in self._binders:
            parameters[name] = process(parameters[name])
        if self._positions is not None:
            return [parameters[name] for name in self._positions]
        return parameters

    def converted(self, fetched: Iterable[Sequence[Any]]) -> list[Row]:
        processors = self._processors
        if not any(processors):
            return [tuple(row) for row in fetched]
        return [
            tuple(
                value if process is None or value is None else process(value)
                for process, value in zip(processors, row, strict=True)
            )
            for row in fetched
        ]

    def run(self, dbapi_connection: Any, values: Mapping[str, Any]) -> list[Row]:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, self.parameters(values))
            fetched = cursor.fetchall() if cursor.description is not None else []
        finally:
            cursor.close()
        return self.converted(fetched)


# Per dialect (the bind processors use its JSON serializer), per key: a module-level statement
# and its column keys, or what a caller's statements depend on (a search's shape). Past
# `_MOST_PREPARED` keys of one dialect it starts afresh.
_PREPARED: weakref.WeakKeyDictionary[sa.Dialect, dict[Hashable, tuple[Any, Compiled]]] = (
    weakref.WeakKeyDictionary()
)
_PREPARING = threading.Lock()
_MOST_PREPARED = 1024


def prepared_once(
    dialect: sa.Dialect,
    key: Hashable,
    build: Callable[[], ClauseElement],
    columns: Sequence[str] = (),
) -> Compiled:
    """The statement ``build`` makes for ``key`` compiled for ``dialect``, once: ``build`` runs
    only when ``key`` is new, and every statement it would make for ``key`` is the same SQL."""
    by_key = _PREPARED.get(dialect)
    found = None if by_key is None else by_key.get(key)
    if found is None:
        statement = build()
        compiled = Compiled(dialect, statement, columns)
        with _PREPARING:
            by_key = _PREPARED.setdefault(dialect, {})
            if len(by_key) >= _MOST_PREPARED:
                by_key.clear()
            # The statement is kept with its compiled form, so that its id cannot be reused.
            found = by_key.setdefault(key, (statement, compiled))
    prepared: Compiled = found[1]
    return prepared


def _compiled(
    dialect: sa.Dialect, statement: ClauseElement, columns: Sequence[str] = ()
) -> Compiled:
    """``statement`` (a module-level constant) compiled for ``dialect``, once."""
    return prepared_once(dialect, (id(statement), tuple(columns)), lambda: statement, columns)


class Readers:
    """Connections of an embedded (SQLite) database kept for prepared reads, lent to one thread
    at a time without the pool's checkout, reset and checkin (some 30 µs of a 75 µs lookup).

    SQLite answers a ``SELECT`` outside any transaction, so a connection comes back as it went
    (one that somehow is in a transaction is rolled back). Up to `KEPT` idle ones are kept, the
    others closed when given back; `close` closes them all, before the engine is disposed.
    """

    KEPT = 8

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._idle: list[Any] = []  # pool connections detached from the pool: ours to close
        self._closed = False

    def rows(self, compiled: Compiled, values: Mapping[str, Any]) -> list[Row]:
        """``compiled`` run with ``values`` on a lent connection."""
        try:
            connection = self._idle.pop()  # atomic: no lock needed
        except IndexError:
            connection = self._engine.raw_connection()
            connection.detach()  # pragmas set by the engine's connect hook, then ours alone
        dbapi_connection = connection.dbapi_connection
        try:
            return compiled.run(dbapi_connection, values)
        finally:
            if dbapi_connection.in_transaction:
                dbapi_connection.rollback()
            if self._closed or len(self._idle) >= self.KEPT:
                connection.close()
            else:
                self._idle.append(connection)
                if self._closed:  # closed meanwhile, after its own sweep
                    self.close()

    def close(self) -> None:
        """Close the idle connections; those lent out are closed as they come back."""
        self._closed = True
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return
            connection.close()


class PreparedRead:
    """``statement`` ready to run on ``engine`` with bind parameter values.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Where it runs: the SQL text is compiled for its dialect.
    statement : sqlalchemy.Select
        A query with bind parameters (``sa.bindparam``).
    readers : Readers, optional
        Connections to run it on instead of the engine's pool (an embedded database's).
    """

    def __init__(
        self, engine: sa.Engine, statement: sa.Select[Any], readers: Readers | None = None
    ) -> None:
        self._engine = engine
        self._compiled = _compiled(engine.dialect, statement)
        self._readers = readers

    def rows(self, values: Mapping[str, Any]) -> list[Row]:
        """Every row for the bind parameter ``values``, each column converted as
        ``Connection.execute`` converts it. A read only: the connection is rolled back."""
        if self._readers is not None:
            return self._readers.rows(self._compiled, values)
        connection = self._engine.raw_connection()
        try:
            return self._compiled.run(connection, values)
        finally:
            connection.close()  # back to the pool, which rolls back


def run_prepared(
    tx: sa.Connection,
    statement: ClauseElement,
    values: Mapping[str, Any],
    *,
    columns: Sequence[str] = (),
) -> list[Row]:
    """Run ``statement``, a module-level constant, in ``tx`` as ``tx.execute(statement, values)``
    would (the rows it returns, if any), compiled once per dialect. An ``INSERT`` without
    ``VALUES`` names its ``columns``: those of ``values``."""
    return _compiled(tx.dialect, statement, columns).run(tx.connection, values)
