"""The part of a statement that runs on the answers rather than in the API: projection,
conditions on returned fields, ORDER BY, LIMIT, aggregates and RETURNING, run by SQLite (as
StackQL runs them) on an in-memory table of the answer's rows.

Object and array fields are stored as JSON text, so that ``json_extract(labels, '$.env')``
works, and read back as JSON; booleans come back as booleans, and int64 fields (strings in the
API's JSON) are numbers so that they compare and sort as numbers.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from dicomstore.sql.errors import SqlError
from dicomstore.sql.schemas import is_boolean, is_structured
from dicomstore.sql.statements import ROWS_TABLE

__all__ = ["evaluate", "evaluate_values"]

_INTEGER_FORMATS = {"int32", "int64", "uint32", "uint64"}
_NO_SUCH_COLUMN = re.compile(r"no such column: (\S+)")


def _is_integer(field: Mapping[str, Any]) -> bool:
    return field.get("type") == "integer" or field.get("format") in _INTEGER_FORMATS


def _stored(value: Any, field: Mapping[str, Any]) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str) and _is_integer(field):
        with contextlib.suppress(ValueError):
            return int(value)
    return value


def evaluate(
    query: exp.Select,
    records: Sequence[Mapping[str, Any]],
    fields: Mapping[str, Mapping[str, Any]],
    table: str,
) -> tuple[list[str], list[dict[str, Any]]]:
    """``query`` (which reads ``ROWS_TABLE``) on ``records``, whose columns are ``fields`` (a
    schema's properties) and any other key a record has. ``table`` names the resource in
    errors. The result's column names, and its rows."""
    names = list(dict.fromkeys([*fields, *(key for record in records for key in record)]))
    structured = {
        name
        for name in names
        if is_structured(dict(fields.get(name, {})))
        or any(isinstance(record.get(name), dict | list) for record in records)
    }
    booleans = {name for name in names if is_boolean(dict(fields.get(name, {})))}
    with contextlib.closing(sqlite3.connect(":memory:")) as database:
        columns = ", ".join(_quoted(name) for name in names)
        database.execute(f"CREATE TABLE {ROWS_TABLE} ({columns})")
        placeholders = ", ".join("?" for _ in names)
        database.executemany(
            f"INSERT INTO {ROWS_TABLE} VALUES ({placeholders})",
            [
                [_stored(record.get(name), fields.get(name, {})) for name in names]
                for record in records
            ],
        )
        cursor = _run(database, query.sql(dialect="sqlite"), table, names)
        result_names = [description[0] for description in cursor.description]
        rows = [
            {
                name: _loaded(value, name in structured, name in booleans)
                for name, value in zip(result_names, values, strict=True)
            }
            for values in cursor.fetchall()
        ]
    return result_names, rows


def evaluate_values(expression: exp.Expr) -> list[tuple[Any, ...]]:
    """The rows of a SELECT without FROM, or of VALUES: literals and expressions such as
    ``json_object('env', 'prod')``, computed by SQLite."""
    with contextlib.closing(sqlite3.connect(":memory:")) as database:
        return list(_run(database, expression.sql(dialect="sqlite"), "", []).fetchall())


def _run(database: sqlite3.Connection, sql: str, table: str, names: Iterable[str]) -> Any:
    try:
        return database.execute(sql)
    except sqlite3.Error as error:
        missing = _NO_SUCH_COLUMN.search(str(error))
        if missing and table:
            known = ", ".join(names)
            raise SqlError(
                f"unknown column '{missing.group(1)}' in {table}; its columns: {known}"
            ) from None
        raise SqlError(f"SQL error: {error}") from None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _loaded(value: Any, structured: bool, boolean: bool) -> Any:
    if structured and isinstance(value, str) and value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    if boolean and isinstance(value, int):
        return bool(value)
    return value
