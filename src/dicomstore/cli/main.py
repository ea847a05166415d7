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
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on. [env: DICOMSTORE_HOST; default: 127.0.0.1]"),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on. [env: DICOMSTORE_PORT; default: 8080]")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data folder. [env: DICOMSTORE_DATA_DIR; default: ./dicomstore-data]"),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="sqlite:///… or postgresql://…. [env: DICOMSTORE_DATABASE_URL]"),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            case_sensitive=False, help="Log level. [env: DICOMSTORE_LOG_LEVEL; default: info]"
        ),
    ] = None,
) -> None:
    """Run the server (stops cleanly on SIGTERM or Ctrl-C)."""
    from dicomstore.api.http.server import StartupError
    from dicomstore.api.http.server import serve as run_server

    flags: dict[str, Any] = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "database_url": database_url,
        "log_level": log_level,
    }
    try:
        settings = Settings(**{key: value for key, value in flags.items() if value is not None})
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
        )
        raise _fail(f"invalid settings: {problems}") from None
    try:
        run_server(settings)
    except StartupError as error:
        raise _fail(str(error)) from None
