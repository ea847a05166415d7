"""``dicomstore datasets``: the ``projects.locations.datasets`` methods of the Healthcare API."""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any

import typer

from dicomstore.cli.api_calls import (
    LimitOption,
    WaitOption,
    api_errors,
    call_method,
    examples,
    fail,
    implements,
    json_argument,
    show_operation,
)
from dicomstore.cli.iam import (
    PermissionsArgument,
    PolicyArgument,
    PolicyVersionOption,
    UpdateMaskOption,
    print_granted_permissions,
    print_iam_policy,
    replace_iam_policy,
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
    LocationOption,
    ProjectOption,
    dataset_values,
    location_values,
    resource_name,
)
from dicomstore.client.http import DEFAULT_ENDPOINT

__all__ = ["app"]

app = typer.Typer(
    name="datasets",
    help="Create, inspect, change and delete datasets, the folders DICOM stores live in.",
    no_args_is_help=True,
)

DatasetArgument = Annotated[
    str,
    typer.Argument(
        metavar="DATASET", help="Dataset ID, or its full name projects/P/locations/L/datasets/D."
    ),
]
BodyOption = Annotated[
    str | None,
    typer.Option(
        help="The Dataset resource as JSON (inline, @file or a file path), merged under the flags.",
        show_default=False,
    ),
]
TimeZoneOption = Annotated[
    str | None,
    typer.Option(
        help="Default time zone of the dataset's data, e.g. Europe/Paris.", show_default=False
    ),
]


@app.command(
    epilog=examples(
        "dicomstore datasets create my-dataset --project my-project --location us-central1 --wait"
    )
)
@implements("datasets.create")
def create(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="ID of the new dataset.")],
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    time_zone: TimeZoneOption = None,
    kms_key: Annotated[
        str | None,
        typer.Option(
            help="Customer-managed encryption key (encryptionSpec.kmsKeyName).", show_default=False
        ),
    ] = None,
    body: BodyOption = None,
    wait: WaitOption = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Create a dataset; answers the CreateDataset operation."""
    resource: dict[str, Any] = dict(json_argument(body, "--body")) if body else {}
    if time_zone:
        resource["timeZone"] = time_zone
    if kms_key:
        resource["encryptionSpec"] = {"kmsKeyName": kms_key}
    if "/" in dataset:
        values = dataset_values(dataset, project, location)
        dataset = values.pop("datasetsId")
    else:
        values = location_values(project, location)
    with api_errors(), open_client(endpoint, token) as client:
        operation = call_method(
            client, "datasets.create", values, params={"datasetId": dataset}, body=resource
        )
        show_operation(client, operation, wait, fmt)


@app.command(epilog=examples("dicomstore datasets describe my-dataset --project my-project"))
@implements("datasets.get")
def describe(
    dataset: DatasetArgument,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Show a dataset."""
    values = dataset_values(dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        print_resource(call_method(client, "datasets.get", values), fmt)


@app.command("list", epilog=examples("dicomstore datasets list --project my-project --format json"))
@implements("datasets.list")
def list_(
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    limit: LimitOption = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List the datasets of a location (every page)."""
    values = location_values(project, location)
    path = f"v1/{resource_name(values)}/datasets"
    with api_errors(), open_client(endpoint, token) as client:
        datasets = list(islice(client.pages(path, "datasets"), limit))
    if fmt in (OutputFormat.JSON, OutputFormat.YAML):
        print_rows(datasets, fmt)
        return
    rows = [
        {
            "ID": str(dataset.get("name", "")).rsplit("/", 1)[-1],
            "LOCATION": location_of(str(dataset.get("name", ""))),
            "TIME ZONE": dataset.get("timeZone", ""),
        }
        for dataset in datasets
    ]
    print_rows(rows, fmt, columns=["ID", "LOCATION", "TIME ZONE"])


def location_of(name: str) -> str:
    parts = name.split("/")
    return parts[3] if len(parts) > 3 else ""


@app.command(
    epilog=examples(
        "dicomstore datasets update my-dataset --time-zone Europe/Paris --project my-project"
    )
)
@implements("datasets.patch")
def update(
    dataset: DatasetArgument,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    time_zone: TimeZoneOption = None,
    body: BodyOption = None,
    update_mask: Annotated[
        str | None,
        typer.Option(help="Fields to change (default: those given).", show_default=False),
    ] = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Change a dataset: the fields given, and only those."""
    resource: dict[str, Any] = dict(json_argument(body, "--body")) if body else {}
    if time_zone is not None:
        resource["timeZone"] = time_zone
    mask = update_mask or ",".join(resource)
    if not mask:
        raise fail("nothing to update: give --time-zone or --body")
    values = dataset_values(dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        answer = call_method(
            client, "datasets.patch", values, params={"updateMask": mask}, body=resource
        )
    print_resource(answer, fmt)


@app.command(epilog=examples("dicomstore datasets delete my-dataset --project my-project"))
@implements("datasets.delete")
def delete(
    dataset: DatasetArgument,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
) -> None:
    """Delete a dataset with every DICOM store and all data in it."""
    values = dataset_values(dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        call_method(client, "datasets.delete", values)
    stderr_console.print(f"Deleted dataset [{resource_name(values)}].", markup=False)


@app.command(
    epilog=examples(
        "dicomstore datasets deidentify my-dataset --destination-dataset my-dataset-deid --config "
        "@deid.json --project my-project --wait"
    )
)
@implements("datasets.deidentify")
def deidentify(
    dataset: DatasetArgument,
    destination_dataset: Annotated[
        str,
        typer.Option(
            help="New dataset to write to: an ID (same location) or a full name.",
            show_default=False,
        ),
    ],
    config: Annotated[
        str | None,
        typer.Option(
            help="DeidentifyConfig as JSON or YAML: inline, @file or a file path.",
            show_default=False,
        ),
    ] = None,
    gcs_config_uri: Annotated[
        str | None,
        typer.Option(help="Cloud Storage URI of a DeidentifyConfig file.", show_default=False),
    ] = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    wait: WaitOption = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Copy a dataset into a new one with identifying data removed (a long-running operation)."""
    values = dataset_values(dataset, project, location)
    destination = resource_name(
        dataset_values(destination_dataset, values["projectsId"], values["locationsId"])
    )
    request: dict[str, Any] = {"destinationDataset": destination}
    if config:
        request["config"] = json_argument(config, "--config")
    if gcs_config_uri:
        request["gcsConfigUri"] = gcs_config_uri
    with api_errors(), open_client(endpoint, token) as client:
        operation = call_method(client, "datasets.deidentify", values, body=request)
        show_operation(client, operation, wait, fmt)


@app.command(epilog=examples("dicomstore datasets get-iam-policy my-dataset --project my-project"))
@implements("datasets.getIamPolicy")
def get_iam_policy(
    dataset: DatasetArgument,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    policy_version: PolicyVersionOption = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Show the IAM policy of a dataset."""
    values = dataset_values(dataset, project, location)
    print_iam_policy("datasets.getIamPolicy", values, policy_version, endpoint, token, fmt)


@app.command(
    epilog=examples(
        "dicomstore datasets set-iam-policy my-dataset policy.json --project my-project"
    )
)
@implements("datasets.setIamPolicy")
def set_iam_policy(
    dataset: DatasetArgument,
    policy_file: PolicyArgument,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    update_mask: UpdateMaskOption = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Replace the IAM policy of a dataset."""
    values = dataset_values(dataset, project, location)
    replace_iam_policy(
        "datasets.setIamPolicy", values, policy_file, update_mask, endpoint, token, fmt
    )


@app.command(
    epilog=examples(
        "dicomstore datasets test-iam-permissions my-dataset healthcare.datasets.get "
        "healthcare.datasets.update --project my-project"
    )
)
@implements("datasets.testIamPermissions")
def test_iam_permissions(
    dataset: DatasetArgument,
    permissions: PermissionsArgument,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Show which of the given permissions the caller holds on a dataset."""
    values = dataset_values(dataset, project, location)
    print_granted_permissions(
        "datasets.testIamPermissions", values, permissions, endpoint, token, fmt
    )
