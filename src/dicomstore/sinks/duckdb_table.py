"""Exported metadata tables in embedded DuckDB databases: the emulator's BigQuery.

A BigQuery project is one database file, ``{directory}/{project}.duckdb`` (a domain-scoped
project's ``:`` becomes ``_``); a BigQuery dataset is a schema of it and a table a table, so that

    duckdb exports/my-project.duckdb \\
      -c 'SELECT PatientName.Alphabetic.FamilyName, PixelSpacing[1] FROM my_dataset.my_table'

queries an export of ``bq://my-project.my_dataset.my_table``. Types: STRING → VARCHAR,
INTEGER → BIGINT, FLOAT → DOUBLE, DATE, TIME, TIMESTAMP → TIMESTAMPTZ, RECORD → STRUCT,
JSON → JSON, BOOLEAN, and REPEATED → a list (DuckDB lists count from 1, BigQuery's OFFSET from 0).

Differences from BigQuery, for an emulator's convenience: the dataset (schema) is created if
missing, where BigQuery requires it to exist; and DuckDB compares names without case, so
``bq://p.d.t`` and ``bq://p.D.T`` are the same table.

DuckDB lets one process at a time write a database file: each load opens the file, writes in one
transaction (the WRITE_EMPTY check, any DROP, CREATE or ALTER, and the INSERT) and closes it.
Errors: a file another process holds (a ``duckdb`` shell left open) is Unavailable; a file that is
not a DuckDB database, FailedPrecondition; a load beyond the memory limit, ResourceExhausted; a
concurrent export to the same table in this process, Aborted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import duckdb
from duckdb.sqltypes import DuckDBPyType

from dicomstore.dicom.bigquery import (
    Column,
    ColumnMode,
    ColumnType,
    TableUri,
    WriteDisposition,
    merge_columns,
)
from dicomstore.errors import (
    Aborted,
    FailedPrecondition,
    Internal,
    ResourceExhausted,
    Unavailable,
)
from dicomstore.sinks.tables import RowFile, not_empty

__all__ = ["DuckDBTable", "duckdb_type"]

_SQL_TYPES: Final = {
    "STRING": "VARCHAR",
    "INTEGER": "BIGINT",
    "FLOAT": "DOUBLE",
    "DATE": "DATE",
    "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMPTZ",
    "JSON": "JSON",
    "BOOLEAN": "BOOLEAN",
}
# DuckDBPyType.id of the types above, back to BigQuery's (JSON is a VARCHAR named "JSON").
_COLUMN_TYPES: Final[dict[str, ColumnType]] = {
    "varchar": "STRING",
    "bigint": "INTEGER",
    "double": "FLOAT",
    "date": "DATE",
    "time": "TIME",
    "timestamp with time zone": "TIMESTAMP",
    "boolean": "BOOLEAN",
}
# DuckDB's JSON reader refuses objects longer than this unless told otherwise (its default).
_DEFAULT_MAXIMUM_OBJECT_SIZE: Final = 16 * 1024 * 1024


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_type(column: Column) -> str:
    """The DuckDB type of a BigQuery column, e.g. ``STRUCT("CodeValue" VARCHAR)[]``."""
    if column.type == "RECORD":
        fields = ", ".join(f"{_identifier(f.name)} {duckdb_type(f)}" for f in column.fields)
        kind = f"STRUCT({fields})"
    else:
        kind = _SQL_TYPES[column.type]
    return f"{kind}[]" if column.mode == "REPEATED" else kind


def _column(name: str, kind: DuckDBPyType, *, repeated: bool = False) -> Column | None:
    """The BigQuery column a DuckDB column holds, None when its type is not one of ours."""
    mode: ColumnMode = "REPEATED" if repeated else "NULLABLE"
    children = kind.children if kind.id in ("list", "struct") else []
    if kind.id == "list":
        element = children[0][1]
        if repeated or not isinstance(element, DuckDBPyType):
            return None
        return _column(name, element, repeated=True)
    if kind.id == "struct":
        fields = [
            _column(field, child) if isinstance(child, DuckDBPyType) else None
            for field, child in children
        ]
        if not fields or None in fields:
            return None
        return Column(name, "RECORD", mode, tuple(f for f in fields if f is not None))
    if str(kind) == "JSON":
        return Column(name, "JSON", mode)
    column_type = _COLUMN_TYPES.get(kind.id)
    return None if column_type is None else Column(name, column_type, mode)


class DuckDBTable:
    """Metadata tables in DuckDB files under ``directory``, one file per BigQuery project.

    Parameters
    ----------
    directory : Path
        Where the database files are (created when first needed).
    memory_limit : str
        DuckDB's ``memory_limit`` while loading: beyond it DuckDB spills to a temporary folder
        next to the database file. Without one, a load of 300,000 CT-like rows peaks at 1.5 GB;
        with 512 MB, the process stays near 620 MB.
    threads : int
        DuckDB's ``threads``: each needs its own buffers within the memory limit, and a single
        compressed row file is read by one thread anyway.
    """

    gzip_rows = True

    def __init__(self, directory: Path, *, memory_limit: str = "512MB", threads: int = 2) -> None:
        self.directory = directory
        self.memory_limit = memory_limit
        self.threads = threads

    def path_of(self, project: str) -> Path:
        """The database file of a BigQuery project."""
        return self.directory / f"{project.replace(':', '_')}.duckdb"

    @contextmanager
    def _connect(self, project: str) -> Iterator[duckdb.DuckDBPyConnection]:
        path = self.path_of(project)
        try:
            connection = duckdb.connect(str(path))
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                raise Unavailable(
                    f"The DuckDB database {path} is in use by another process; close it and "
                    f"try again. ({error})"
                ) from error
            raise FailedPrecondition(f"Cannot open the DuckDB database {path}: {error}") from error
        try:
            connection.execute(f"SET memory_limit = {_literal(self.memory_limit)}")
            connection.execute(f"SET threads = {int(self.threads)}")
            yield connection
        except duckdb.TransactionException as error:
            raise Aborted(f"Concurrent writes to the DuckDB database {path}: {error}") from error
        except duckdb.OutOfMemoryException as error:
            raise ResourceExhausted(
                f"Loading into the DuckDB database {path} needs more than its memory limit "
                f"({self.memory_limit}): {error}"
            ) from error
        except duckdb.Error as error:
            raise Internal(f"Writing to the DuckDB database {path} failed: {error}") from error
        finally:
            connection.close()

    def check_writable(self, table: TableUri, disposition: WriteDisposition) -> None:
        if not self.path_of(table.project).exists():
            return
        with self._connect(table.project) as connection:
            if disposition is WriteDisposition.WRITE_EMPTY and _has_rows(connection, table):
                raise not_empty(table)

    def load(
        self,
        table: TableUri,
        columns: Sequence[Column],
        rows: RowFile,
        disposition: WriteDisposition,
    ) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._connect(table.project) as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                written = _load(connection, table, columns, rows, disposition)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        return written


def _target(table: TableUri) -> str:
    return f"{_identifier(table.dataset)}.{_identifier(table.table)}"


def _exists(connection: duckdb.DuckDBPyConnection, table: TableUri) -> bool:
    found = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
        " AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?)",
        [table.dataset, table.table],
    ).fetchone()
    return found is not None and found[0] > 0


def _has_rows(connection: duckdb.DuckDBPyConnection, table: TableUri) -> bool:
    if not _exists(connection, table):
        return False
    return connection.execute(f"SELECT 1 FROM {_target(table)} LIMIT 1").fetchone() is not None


def _load(
    connection: duckdb.DuckDBPyConnection,
    table: TableUri,
    columns: Sequence[Column],
    rows: RowFile,
    disposition: WriteDisposition,
) -> int:
    target = _target(table)
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_identifier(table.dataset)}")
    exists = _exists(connection, table)
    if exists and disposition is WriteDisposition.WRITE_EMPTY and _has_rows(connection, table):
        raise not_empty(table)
    if exists and disposition is WriteDisposition.WRITE_TRUNCATE:
        connection.execute(f"DROP TABLE {target}")
        exists = False
    if exists:
        _widen(connection, table, columns)
    else:
        definitions = ", ".join(f"{_identifier(c.name)} {duckdb_type(c)}" for c in columns)
        connection.execute(f"CREATE TABLE {target} ({definitions})")
    if not rows.rows:
        return 0
    types = ", ".join(f"{_literal(c.name)}: {_literal(duckdb_type(c))}" for c in columns)
    object_size = max(_DEFAULT_MAXIMUM_OBJECT_SIZE, rows.longest_row + 1)
    inserted = connection.execute(
        f"INSERT INTO {target} BY NAME SELECT * FROM read_json(?, columns = {{{types}}},"
        f" format = 'newline_delimited', maximum_object_size = {object_size},"
        f" compression = '{'gzip' if rows.gzipped else 'none'}')",
        [str(rows.path)],
    ).fetchone()
    return int(inserted[0]) if inserted else 0


def _widen(
    connection: duckdb.DuckDBPyConnection, table: TableUri, columns: Sequence[Column]
) -> None:
    """Give an existing table the columns and RECORD fields ``columns`` add to it."""
    target = _target(table)
    relation = connection.sql(f"SELECT * FROM {target} LIMIT 0")
    existing: list[Column] = []
    foreign: dict[str, str] = {}
    for name, kind in zip(relation.columns, relation.types, strict=True):
        column = _column(name, kind)
        if column is None:
            foreign[name.casefold()] = f"{name} {kind}"
        else:
            existing.append(column)
    for column in columns:
        if column.name.casefold() in foreign:
            raise FailedPrecondition(
                f"Cannot write to BigQuery table {table}: its column "
                f"{foreign[column.name.casefold()]} is not the export's {column.describe()}."
            )
    try:
        merged = merge_columns(existing, columns)
    except FailedPrecondition as error:
        raise FailedPrecondition(f"Cannot write to BigQuery table {table}: {error}.") from error
    before = {column.name: column for column in existing}
    for column in merged:
        old = before.get(column.name)
        if old is None:
            connection.execute(
                f"ALTER TABLE {target} ADD COLUMN {_identifier(column.name)} {duckdb_type(column)}"
            )
        elif old != column:  # a RECORD gained fields: STRUCT casts match fields by name
            connection.execute(
                f"ALTER TABLE {target} ALTER COLUMN {_identifier(column.name)}"
                f" TYPE {duckdb_type(column)}"
            )
