"""``dicomstore operations``: the long-running operations of a dataset (imports, exports,
de-identification, deletes of studies and series)."""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any

import typer

from dicomstore.cli.api_calls import (
    LimitOption,
    api_errors,
    call_method,
    examples,
    implements,
    show_operation,
)
from dicomstore.cli.options import (
    EndpointOption,
    FormatOption,
    OutputFormat,
    TokenOption,
    open_client,
)
from dicomstore.cli.output import print_resource, print_rows, stderr_console
from dicomstore.cli.resource_names import (
    DEFAULT_LOCATION,
    DatasetOption,
    LocationOption,
    ProjectOption,
    dataset_values,
    operation_values,
    resource_name,
)
from dicomstore.client.http import DEFAULT_ENDPOINT

__all__ = ["app"]

app = typer.Typer(
    name="operations",
    help="Follow, wait for and cancel the long-running operations of a dataset.",
    no_args_is_help=True,
)

OperationArgument = Annotated[
    str,
    typer.Argument(
        metavar="OPERATION",
        help="Operation ID (with --dataset), or its full name "
        "projects/P/locations/L/datasets/D/operations/O.",
    ),
]


@app.command(
    "list",
    epilog=examples(
        "dicomstore operations list --dataset my-dataset --project my-project --filter done=false"
    ),
)
@implements("datasets.operations.list")
def list_(
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="List filter, e.g. done=false.", show_default=False),
    ] = None,
    limit: LimitOption = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List the operations of a dataset (every page)."""
    values = dataset_values(dataset, project, location)
    path = f"v1/{resource_name(values)}/operations"
    with api_errors(), open_client(endpoint, token) as client:
        operations = list(
            islice(client.pages(path, "operations", params={"filter": filter_}), limit)
        )
    if fmt in (OutputFormat.JSON, OutputFormat.YAML):
        print_rows(operations, fmt)
        return
    columns = ["ID", "METHOD", "DONE", "SUCCESS", "FAILURE", "PENDING", "CREATED", "ERROR"]
    print_rows([_row(operation) for operation in operations], fmt, columns=columns)


def _row(operation: dict[str, Any]) -> dict[str, Any]:
    metadata = operation.get("metadata", {})
    counter = metadata.get("counter", {})
    return {
        "ID": str(operation.get("name", "")).rsplit("/", 1)[-1],
        "METHOD": str(metadata.get("apiMethodName", "")).rsplit(".", 1)[-1],
        "DONE": "yes" if operation.get("done") else "no",
        "SUCCESS": counter.get("success", ""),
        "FAILURE": counter.get("failure", ""),
        "PENDING": counter.get("pending", ""),
        "CREATED": metadata.get("createTime", ""),
        "ERROR": operation.get("error", {}).get("message", ""),
    }


@app.command(
    epilog=examples("dicomstore operations describe 1234 --dataset my-dataset --project my-project")
)
@implements("datasets.operations.get")
def describe(
    operation: OperationArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Show an operation."""
    values = operation_values(operation, dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        print_resource(call_method(client, "datasets.operations.get", values), fmt)


@app.command(
    epilog=examples("dicomstore operations cancel 1234 --dataset my-dataset --project my-project")
)
@implements("datasets.operations.cancel")
def cancel(
    operation: OperationArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
) -> None:
    """Ask for an operation to stop; it ends soon after, with error CANCELLED."""
    values = operation_values(operation, dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        call_method(client, "datasets.operations.cancel", values)
    stderr_console.print(f"Cancellation of [{resource_name(values)}] requested.", markup=False)


@app.command(
    epilog=examples("dicomstore operations wait 1234 --dataset my-dataset --project my-project")
)
def wait(
    operation: OperationArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Wait for an operation to finish, showing its progress, and print it; exit code 1 if it
    ended in error."""
    values = operation_values(operation, dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        current = call_method(client, "datasets.operations.get", values)
        show_operation(client, current, True, fmt)
