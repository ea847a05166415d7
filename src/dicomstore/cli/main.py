"""The ``dicomstore`` command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dicomstore import __version__
from dicomstore.setting_values import DEFAULT_WORKERS, LogLevel

if TYPE_CHECKING:
    import pydantic

    from dicomstore.settings import Settings

__all__ = ["app"]

app = typer.Typer(
    name="dicomstore",
    help="A DICOM store that speaks the Google Cloud Healthcare API v1 and DICOMweb.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"dicomstore: error: {message}", err=True)
    return typer.Exit(code=1)


# Options shared by the commands that open the index. Every value is handed to Settings as given,
# so that a bad flag and a bad variable are refused alike. Brackets are escaped for rich.
DataDirOption = Annotated[
    Path | None,
    typer.Option(help="Data folder. \\[env: DICOMSTORE_DATA_DIR; default: ./dicomstore-data]"),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        help="Index database: sqlite:///path or postgresql://user@host/db. "
        "\\[env: DICOMSTORE_DATABASE_URL; default: SQLite index.sqlite3 in the data folder]"
    ),
]
BlobUrlOption = Annotated[
    str | None,
    typer.Option(
        help="Instance bytes: a folder, file:///path, gs://bucket/prefix or s3://bucket/prefix. "
        "\\[env: DICOMSTORE_BLOB_URL; default: the blobs folder in the data folder]"
    ),
]
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        metavar=f"<{'|'.join(LogLevel)}>",
        help="Log level. \\[env: DICOMSTORE_LOG_LEVEL; default: info]",
    ),
]
BigQueryOption = Annotated[
    str | None,
    typer.Option(
        metavar="<duckdb|bigquery>",
        help="Where BigQuery exports go: embedded DuckDB files, or Google BigQuery with "
        "application default credentials. \\[env: DICOMSTORE_BIGQUERY; default: duckdb]",
    ),
]
DuckDbDirOption = Annotated[
    Path | None,
    typer.Option(
        help="Folder of the DuckDB files ({project}.duckdb) BigQuery exports go to. "
        "\\[env: DICOMSTORE_DUCKDB_DIR; default: the bigquery folder in the data folder]"
    ),
]


@app.callback()
def main() -> None:
    """dicomstore: serve the Healthcare API v1 DICOM surface over a local or shared index."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def serve(
    # Every value is handed to Settings as given, so that a bad flag and a bad variable are
    # refused alike: one ``dicomstore: error:`` line and exit code 1. Brackets are escaped for rich.
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on. \\[env: DICOMSTORE_HOST; default: 127.0.0.1]"),
    ] = None,
    port: Annotated[
        str | None,
        typer.Option(
            metavar="<int>", help="Port to listen on. \\[env: DICOMSTORE_PORT; default: 8080]"
        ),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    blob_url: BlobUrlOption = None,
    qido_mode: Annotated[
        str | None,
        typer.Option(
            metavar="<google|standard>",
            help="QIDO-RS matching: Google's rules, or PS3.18's (wildcards, UID lists). "
            "\\[env: DICOMSTORE_QIDO_MODE; default: google]",
        ),
    ] = None,
    job_workers: Annotated[
        str | None,
        typer.Option(
            metavar="<int>",
            help="Threads running long-running operations (0: none in this process). "
            "\\[env: DICOMSTORE_JOB_WORKERS; default: 2]",
        ),
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option(
            metavar="<int>",
            help="Server processes sharing the port; long-running operations run in the first. "
            f"\\[env: DICOMSTORE_WORKERS; default: {DEFAULT_WORKERS}]",
        ),
    ] = None,
    log_level: LogLevelOption = None,
    bigquery: BigQueryOption = None,
    duckdb_dir: DuckDbDirOption = None,
) -> None:
    """Run the server (stops cleanly on SIGTERM or Ctrl-C)."""
    flags: dict[str, Any] = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "database_url": database_url,
        "blob_url": blob_url,
        "qido_mode": qido_mode,
        "job_workers": job_workers,
        "workers": workers,
        "log_level": log_level,
        "bigquery": bigquery,
        "duckdb_dir": duckdb_dir,
    }
    settings = _settings(flags)
    # Imported once the settings are known good: the server pulls in most of the program.
    from dicomstore.api.http.server import serve as run_server
    from dicomstore.runtime import StartupError

    try:
        run_server(settings)
    except StartupError as error:
        raise _fail(str(error)) from None


@app.command()
def worker(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    blob_url: BlobUrlOption = None,
    threads: Annotated[int, typer.Option(min=1, help="Operations run at once by this worker.")] = 2,
    log_level: LogLevelOption = None,
    bigquery: BigQueryOption = None,
    duckdb_dir: DuckDbDirOption = None,
) -> None:
    """Run long-running operations (import, export, deletes) from the shared index, beside
    servers started with --job-workers 0 (stops cleanly on SIGTERM or Ctrl-C)."""
    flags: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "blob_url": blob_url,
        "log_level": log_level,
        "bigquery": bigquery,
        "duckdb_dir": duckdb_dir,
    }
    settings = _settings(flags)
    from dicomstore.runtime import StartupError
    from dicomstore.worker import run_worker

    try:
        run_worker(settings, threads)
    except StartupError as error:
        raise _fail(str(error)) from None


def _settings(flags: dict[str, Any]) -> Settings:
    # Imported here: settings load the DICOM layer, which client commands never need.
    import pydantic

    from dicomstore.settings import Settings

    given = {key: value for key, value in flags.items() if value is not None}
    try:
        return Settings(**given)
    except pydantic.ValidationError as error:
        raise _fail(_settings_problems(error, given)) from None


def _settings_problems(error: pydantic.ValidationError, flags: dict[str, Any]) -> str:
    """One line naming each bad value by where it came from: its flag or its variable."""
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        if field in flags:
            source = f"--{field.replace('_', '-')} {flags[field]!s}"
        elif field:
            source = f"DICOMSTORE_{field.upper()}={problem.get('input', '')!s}"
        else:
            source = "settings"
        problems.append(f"{source}: {problem['msg']}")
    return "invalid setting " + "; ".join(problems)


# Client command groups: each module defines a typer app for one surface.
from dicomstore.cli import datasets, dicom_stores, dicomweb, operations  # noqa: E402

app.add_typer(datasets.app, name="datasets")
app.add_typer(dicom_stores.app, name="dicom-stores")
app.add_typer(operations.app, name="operations")
app.add_typer(dicomweb.app, name="dicomweb")

from dicomstore.cli.sql import sql  # noqa: E402

app.command(name="sql")(sql)
