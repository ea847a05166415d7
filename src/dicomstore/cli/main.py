"""The ``dicomstore`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer

from dicomstore import __version__
from dicomstore.settings import LogLevel, Settings

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
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data folder. \\[env: DICOMSTORE_DATA_DIR; default: ./dicomstore-data]"),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Index database: sqlite:///path or postgresql://user@host/db. "
            "\\[env: DICOMSTORE_DATABASE_URL; default: SQLite index.sqlite3 in the data folder]"
        ),
    ] = None,
    blob_url: Annotated[
        str | None,
        typer.Option(
            help="Instance bytes: a folder or file:///path. "
            "\\[env: DICOMSTORE_BLOB_URL; default: the blobs folder in the data folder]"
        ),
    ] = None,
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
    log_level: Annotated[
        str | None,
        typer.Option(
            metavar=f"<{'|'.join(LogLevel)}>",
            help="Log level. \\[env: DICOMSTORE_LOG_LEVEL; default: info]",
        ),
    ] = None,
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
        "log_level": log_level,
    }
    given = {key: value for key, value in flags.items() if value is not None}
    try:
        settings = Settings(**given)
    except pydantic.ValidationError as error:
        raise _fail(_settings_problems(error, given)) from None
    # Imported once the settings are known good: the server pulls in most of the program.
    from dicomstore.api.http.server import StartupError
    from dicomstore.api.http.server import serve as run_server

    try:
        run_server(settings)
    except StartupError as error:
        raise _fail(str(error)) from None


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
