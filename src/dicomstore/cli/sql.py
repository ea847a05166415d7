"""``dicomstore sql``: StackQL-style statements over the Healthcare API resources
``google.healthcare.datasets``, ``dicom_stores`` and ``operations``, one given as an argument or
many typed in an interactive shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dicomstore.cli.options import (
    EndpointOption,
    FormatOption,
    OutputFormat,
    TokenOption,
    open_client,
)
from dicomstore.cli.output import print_rows
from dicomstore.client import ApiError
from dicomstore.client.http import DEFAULT_ENDPOINT
from dicomstore.sql import Result, Session, SqlError, run_shell, split_statements

__all__ = ["sql"]


def _report(session: Session, statement: str, fmt: OutputFormat) -> bool:
    """Run one statement and print its rows (or message); an error is one line on stderr."""
    try:
        result = session.execute(statement)
    except (SqlError, ApiError) as error:
        typer.echo(f"dicomstore: error: {error}", err=True)
        return False
    _print(result, fmt)
    return True


def _print(result: Result, fmt: OutputFormat) -> None:
    if result.message is None:
        print_rows(result.rows, fmt, result.columns)
    else:
        typer.echo(result.message, err=True)


def sql(
    statement: Annotated[
        str | None,
        typer.Argument(
            help="Statements to run, separated by ';'. Without any, an interactive shell reads "
            "them from standard input.",
            show_default=False,
        ),
    ] = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder to write binary answers to (instances, frames, rendered images, bulk "
            "data): one file per part, named after the study, series, instance and frames.",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Run StackQL statements (SELECT, INSERT, UPDATE, DELETE, EXEC, SHOW, DESCRIBE) on
    google.healthcare.datasets, dicom_stores and operations.

    \b
    SELECT name, labels FROM google.healthcare.dicom_stores
      WHERE projectsId = 'p' AND locationsId = 'us' AND datasetsId = 'd';
    EXEC google.healthcare.dicom_stores.search_for_studies
      @projectsId='p', @locationsId='us', @datasetsId='d', @dicomStoresId='s';
    """
    with open_client(endpoint, token) as client:
        session = Session(client, output_dir=output_dir)
        if statement is None:
            code = run_shell(lambda text: _report(session, text, fmt))
            raise typer.Exit(code)
        statements, rest = split_statements(statement + "\n")
        statements += [rest.strip()] if rest.strip() else []
        for text in statements:
            if not _report(session, text, fmt):
                raise typer.Exit(1)
