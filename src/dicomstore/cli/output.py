"""Printing answers: one resource or a list of rows, as JSON, YAML, CSV or a rich table."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from dicomstore.cli.options import OutputFormat

__all__ = ["print_resource", "print_rows", "stderr_console"]

stderr_console = Console(stderr=True)


def print_resource(resource: Any, fmt: OutputFormat) -> None:
    """One JSON answer (a resource, an operation); a table shows its top-level fields."""
    if fmt is OutputFormat.TABLE or fmt is OutputFormat.CSV:
        rows = resource if isinstance(resource, list) else [resource]
        print_rows(rows, fmt)
    else:
        _print_document(resource, fmt)


def print_rows(
    rows: Iterable[dict[str, Any]], fmt: OutputFormat, columns: Sequence[str] | None = None
) -> None:
    """Rows with the union of their keys as columns (in first-seen order) unless given."""
    rows = list(rows)
    if fmt is OutputFormat.JSON or fmt is OutputFormat.YAML:
        _print_document(rows, fmt)
        return
    names = list(columns) if columns is not None else _columns(rows)
    if fmt is OutputFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_cell(row.get(name)) for name in names])
        return
    table = Table(*names, show_lines=False)
    for row in rows:
        table.add_row(*(_cell(row.get(name)) for name in names))
    # Wide enough that piped output keeps whole cells rather than wrapping at 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _print_document(document: Any, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.YAML:
        sys.stdout.write(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _cell(value: Any) -> str:
    """Nested values as compact JSON, missing ones empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
