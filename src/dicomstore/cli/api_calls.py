"""What the client commands share: calling a method of the discovery document, the one error
line, waiting on long-running operations with a progress display, and reading JSON arguments.

Each command declares the discovery methods it implements with `implements`; the test suite
walks the discovery document against that registry so no method goes missing.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from dicomstore.cli.options import OutputFormat
from dicomstore.cli.output import print_resource, stderr_console
from dicomstore.client import ApiError, HealthcareClient, Method, discovery_methods

__all__ = [
    "IMPLEMENTATIONS",
    "LimitOption",
    "WaitOption",
    "api_errors",
    "api_method",
    "call_method",
    "examples",
    "fail",
    "implements",
    "json_argument",
    "key_values",
    "progress_display",
    "show_operation",
]

_F = TypeVar("_F", bound=Callable[..., Any])

IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {}
"""Discovery method id (``healthcare.projects.locations.datasets.get``) → the command function
that implements it."""

LimitOption = Annotated[
    int | None, typer.Option(min=1, help="Stop after this many.", show_default=False)
]

WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Wait for the long-running operation to finish, showing its progress; without it "
        "the operation is printed as started.",
    ),
]


def examples(*commands: str) -> str:
    """A command's help epilog: each example command on its own line."""
    return "Examples\n\n" + "\n\n".join(f"  $ {escape(command)}" for command in commands)


def fail(message: str) -> typer.Exit:
    """Print the one error line and give the exit to raise (code 1)."""
    typer.echo(f"dicomstore: error: {message}", err=True)
    return typer.Exit(code=1)


@contextlib.contextmanager
def api_errors() -> Iterator[None]:
    """Turn a refused request, an operation that ended in error or a server out of reach into
    ``dicomstore: error: CODE (status): message`` and exit code 1, never a traceback."""
    try:
        yield
    except ApiError as error:
        raise fail(str(error)) from None


def implements(*method_ids: str) -> Callable[[_F], _F]:
    """Register the decorated command as the CLI's form of discovery methods ``method_ids``."""

    def register(command: _F) -> _F:
        for method_id in method_ids:  # checked against the discovery document by the tests
            IMPLEMENTATIONS[_full_id(method_id)] = command
        return command

    return register


@functools.cache
def _methods_by_id() -> dict[str, Method]:
    return {method.id: method for method in discovery_methods()}


def api_method(method_id: str) -> Method:
    """A method of the healthcare v1 discovery document, by its id below ``projects.locations``
    (``datasets.dicomStores.get``) or in full."""
    return _methods_by_id()[_full_id(method_id)]


def _full_id(method_id: str) -> str:
    if method_id.startswith("healthcare."):
        return method_id
    return f"healthcare.projects.locations.{method_id}"


def call_method(
    client: HealthcareClient,
    method_id: str,
    values: dict[str, str],
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
) -> Any:
    """Call a discovery method with its path parameters ``values``; its JSON answer."""
    method = api_method(method_id)
    if body is None and method.request is not None and method.http_method == "POST":
        body = {}
    return client.call(method.http_method, method.path(values), params=params, body=body)


def show_operation(
    client: HealthcareClient, operation: dict[str, Any], wait: bool, fmt: OutputFormat
) -> None:
    """Print ``operation`` as started, or, with ``wait``, follow its counters until it is done
    and print it then. An operation ending in error is an `ApiError`."""
    if wait and not operation.get("done"):
        operation = _follow(client, operation)
    elif wait and operation.get("error"):
        client.wait(str(operation["name"]))  # raises with the operation's error
    print_resource(operation, fmt)


def _follow(client: HealthcareClient, operation: dict[str, Any]) -> dict[str, Any]:
    name = str(operation["name"])
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counters]}"),
        TimeElapsedColumn(),
    )
    method = str(operation.get("metadata", {}).get("apiMethodName", "")).rsplit(".", 1)[-1]
    with progress_display(*columns, transient=True) as progress:
        task = progress.add_task(method or name.rsplit("/", 1)[-1], total=None, counters="")

        def update(current: dict[str, Any]) -> None:
            counter = current.get("metadata", {}).get("counter", {})
            success, failure, pending = (
                int(counter.get(key, 0) or 0) for key in ("success", "failure", "pending")
            )
            total = success + failure + pending
            progress.update(
                task,
                total=total or None,
                completed=success + failure,
                counters=f"{success} done, {failure} failed, {pending} pending",
            )

        return client.wait(name, interval=0.2, progress=update)


def progress_display(*columns: ProgressColumn | str, transient: bool = False) -> Progress:
    """A progress display on stderr, shown only to a person at a terminal (logs stay clean)."""
    return Progress(
        *columns,
        console=stderr_console,
        transient=transient,
        disable=not stderr_console.is_terminal,
    )


def json_argument(value: str, what: str) -> Any:
    """A JSON (or YAML) value given inline, or as ``@path`` / the path of a file holding it."""
    text = value
    path = Path(value[1:] if value.startswith("@") else value)
    if value.startswith("@") or (not value.lstrip().startswith(("{", "[")) and path.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise fail(f"cannot read {what} from {path}: {error.strerror}") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = None
    if not isinstance(loaded, dict | list):
        raise fail(f"{what} is neither JSON nor YAML, nor a file holding it: {value[:80]!r}")
    return loaded


def key_values(pairs: list[str] | None, what: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs, each given alone or several separated by commas."""
    found: dict[str, str] = {}
    for given in pairs or []:
        for pair in filter(None, given.split(",")):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise fail(f"{what} takes KEY=VALUE pairs, not {pair!r}")
            found[key.strip()] = value.strip()
    return found
