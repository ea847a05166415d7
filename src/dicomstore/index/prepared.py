"""Prepared reads: a Core ``SELECT`` compiled once per engine and run on a pooled DBAPI connection.

Run through ``Connection.execute``, a statement costs some 50 µs of SQLAlchemy bookkeeping
(transaction, execution context, compiled-cache lookup, result object) around a SQLite query of
10–20 µs. A WADO read runs one per request, on a single index lookup: :class:`PreparedRead`
keeps the statement's SQL text for the engine's dialect and converts each column with its
type's own result processor, so the rows are those ``Connection.execute`` would give, for about
a third of the cost. Only for reads whose parameters need no conversion (strings, integers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

__all__ = ["PreparedRead"]


class PreparedRead:
    """``statement`` ready to run on ``engine`` with bind parameter values.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Where it runs: the SQL text is compiled for its dialect.
    statement : sqlalchemy.Select
        A query whose bind parameters (``sa.bindparam``) take values as they are.

    Raises
    ------
    ValueError
        A bind parameter's type converts values on the way in: run such a statement through
        ``Connection.execute``.
    """

    def __init__(self, engine: sa.Engine, statement: sa.Select[Any]) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        for name, bind in compiled.binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise ValueError(f"Bind parameter {name!r} needs converting; use execute().")
        self._engine = engine
        self._sql = str(compiled)
        self._positions = compiled.positiontup if compiled.positional else None
        # Values the statement fixes itself, such as an OFFSET 0 the dialect adds to a LIMIT.
        self._fixed = {name: value for name, value in compiled.params.items() if value is not None}
        self._processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def rows(self, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row for the bind parameter ``values``, each column converted as
        ``Connection.execute`` converts it. A read only: the connection is rolled back."""
        parameters: Any = {**self._fixed, **values} if self._fixed else values
        if self._positions is not None:
            parameters = [parameters[name] for name in self._positions]
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, parameters)
                fetched = cursor.fetchall()
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls back
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
