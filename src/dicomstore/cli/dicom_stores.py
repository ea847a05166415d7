"""``dicomstore dicom-stores``: the ``projects.locations.datasets.dicomStores`` methods of the
Healthcare API (DICOMweb itself is ``dicomstore dicomweb``)."""

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
    key_values,
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
    DatasetOption,
    LocationOption,
    ProjectOption,
    dataset_values,
    resource_name,
    store_values,
)
from dicomstore.client.http import DEFAULT_ENDPOINT

__all__ = ["app"]

app = typer.Typer(
    name="dicom-stores",
    help="Create, inspect, change, import into, export from and delete DICOM stores.",
    no_args_is_help=True,
)

StoreArgument = Annotated[
    str,
    typer.Argument(
        metavar="STORE",
        help="DICOM store ID (with --dataset), or its full name "
        "projects/P/locations/L/datasets/D/dicomStores/S.",
    ),
]
BodyOption = Annotated[
    str | None,
    typer.Option(
        help="The DicomStore resource as JSON or YAML (inline, @file or a file path); the flags "
        "are applied over it.",
        show_default=False,
    ),
]
LabelsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--labels", help="Labels KEY=VALUE (repeat, or separate by commas).", show_default=False
    ),
]
TopicOption = Annotated[
    str | None,
    typer.Option(
        help="Pub/Sub topic told of each new instance (notificationConfig.pubsubTopic), "
        "projects/P/topics/T.",
        show_default=False,
    ),
]
BulkImportOption = Annotated[
    bool | None,
    typer.Option(
        "--send-for-bulk-import/--no-send-for-bulk-import",
        help="Also notify for instances that import stores (notificationConfig).",
        show_default=False,
    ),
]
StreamTableOption = Annotated[
    list[str] | None,
    typer.Option(
        "--stream-bq-table",
        help="Stream metadata to this table bq://PROJECT.DATASET.TABLE (repeatable).",
        show_default=False,
    ),
]
FilterConfigOption = Annotated[
    str | None,
    typer.Option(
        help="Only the instances listed in this file (filterConfig.resourcePathsGcsUri), "
        "gs://BUCKET/paths.txt.",
        show_default=False,
    ),
]
StudyOption = Annotated[str | None, typer.Option(help="Study Instance UID.", show_default=False)]
SeriesOption = Annotated[str | None, typer.Option(help="Series Instance UID.", show_default=False)]


def _body(body: str | None) -> dict[str, Any]:
    given = json_argument(body, "--body") if body else {}
    if not isinstance(given, dict):
        raise fail("--body must be a DicomStore object")
    return dict(given)


def _store_config(
    base: dict[str, Any],
    labels: dict[str, str] | None,
    topic: str | None,
    bulk_import: bool | None,
    stream_tables: list[str] | None,
) -> dict[str, Any]:
    """A DicomStore resource: ``base`` (from ``--body``) with the flags applied over it."""
    store = dict(base)
    if labels is not None:
        store["labels"] = labels
    if topic is not None or bulk_import is not None:
        notification = dict(store.get("notificationConfig", {}))
        if topic is not None:
            notification["pubsubTopic"] = topic
        if bulk_import is not None:
            notification["sendForBulkImport"] = bulk_import
        store["notificationConfig"] = notification
    if stream_tables is not None:
        store["streamConfigs"] = [
            {"bigqueryDestination": {"tableUri": table}} for table in stream_tables
        ]
    return store


@app.command(
    epilog=examples(
        "dicomstore dicom-stores create my-store --dataset my-dataset --project my-project "
        "--labels team=imaging"
    )
)
@implements("datasets.dicomStores.create")
def create(
    store: Annotated[
        str, typer.Argument(metavar="STORE", help="ID of the new store, or its full name.")
    ],
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    labels: LabelsOption = None,
    pubsub_topic: TopicOption = None,
    send_for_bulk_import: BulkImportOption = None,
    stream_bq_table: StreamTableOption = None,
    body: BodyOption = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Create a DICOM store."""
    values = store_values(store, dataset, project, location)
    store_id = values.pop("dicomStoresId")
    resource = _store_config(
        _body(body),
        key_values(labels, "--labels") if labels else None,
        pubsub_topic,
        send_for_bulk_import,
        stream_bq_table,
    )
    with api_errors(), open_client(endpoint, token) as client:
        created = call_method(
            client,
            "datasets.dicomStores.create",
            values,
            params={"dicomStoreId": store_id},
            body=resource,
        )
    print_resource(created, fmt)


@app.command(
    epilog=examples(
        "dicomstore dicom-stores describe my-store --dataset my-dataset --project my-project"
    )
)
@implements("datasets.dicomStores.get")
def describe(
    store: StoreArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Show a DICOM store."""
    values = store_values(store, dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        print_resource(call_method(client, "datasets.dicomStores.get", values), fmt)


@app.command(
    "list",
    epilog=examples(
        "dicomstore dicom-stores list --dataset my-dataset --project my-project --filter "
        "'labels.team=imaging'"
    ),
)
@implements("datasets.dicomStores.list")
def list_(
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="List filter, e.g. labels.KEY=VALUE.", show_default=False),
    ] = None,
    limit: LimitOption = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List the DICOM stores of a dataset (every page)."""
    values = dataset_values(dataset, project, location)
    path = f"v1/{resource_name(values)}/dicomStores"
    with api_errors(), open_client(endpoint, token) as client:
        stores = list(islice(client.pages(path, "dicomStores", params={"filter": filter_}), limit))
    if fmt in (OutputFormat.JSON, OutputFormat.YAML):
        print_rows(stores, fmt)
        return
    rows = [
        {
            "ID": str(store.get("name", "")).rsplit("/", 1)[-1],
            "DATASET": values["datasetsId"],
            "LABELS": ",".join(f"{k}={v}" for k, v in store.get("labels", {}).items()),
            "TOPIC": store.get("notificationConfig", {}).get("pubsubTopic", ""),
        }
        for store in stores
    ]
    print_rows(rows, fmt, columns=["ID", "DATASET", "LABELS", "TOPIC"])


@app.command(
    epilog=examples(
        "dicomstore dicom-stores update my-store --dataset my-dataset --update-labels tier=gold "
        "--remove-labels old --pubsub-topic projects/p/topics/t"
    )
)
@implements("datasets.dicomStores.patch")
def update(
    store: StoreArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    update_labels: Annotated[
        list[str] | None,
        typer.Option(help="Labels to add or change, KEY=VALUE (repeatable).", show_default=False),
    ] = None,
    remove_labels: Annotated[
        list[str] | None,
        typer.Option(help="Label keys to remove (repeatable).", show_default=False),
    ] = None,
    clear_labels: Annotated[bool, typer.Option(help="Remove every label.")] = False,
    pubsub_topic: TopicOption = None,
    clear_pubsub_topic: Annotated[
        bool, typer.Option(help="Stop notifying (clear notificationConfig).")
    ] = False,
    send_for_bulk_import: BulkImportOption = None,
    stream_bq_table: StreamTableOption = None,
    clear_stream_configs: Annotated[bool, typer.Option(help="Stop streaming.")] = False,
    body: BodyOption = None,
    update_mask: Annotated[
        str | None,
        typer.Option(help="Fields to change (default: those the flags give).", show_default=False),
    ] = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Change a DICOM store: the fields given, and only those."""
    values = store_values(store, dataset, project, location)
    base = _body(body)
    resource = _store_config(base, None, pubsub_topic, send_for_bulk_import, stream_bq_table)
    # The update mask: whole fields from --body; only the sub-fields of notificationConfig that
    # flags give, as gcloud sends them, so that the other one keeps its value.
    mask = dict.fromkeys(base)
    if "notificationConfig" not in base:
        if pubsub_topic is not None:
            mask["notificationConfig.pubsubTopic"] = None
        if send_for_bulk_import is not None:
            mask["notificationConfig.sendForBulkImport"] = None
    if clear_pubsub_topic:
        resource.pop("notificationConfig", None)
        mask = {key: None for key in mask if not key.startswith("notificationConfig")}
        mask["notificationConfig"] = None
    if stream_bq_table is not None:
        mask["streamConfigs"] = None
    if clear_stream_configs:
        resource["streamConfigs"] = []
        mask["streamConfigs"] = None
    with api_errors(), open_client(endpoint, token) as client:
        if update_labels or remove_labels or clear_labels:
            current: dict[str, str] = {}
            if not clear_labels:
                current = call_method(client, "datasets.dicomStores.get", values).get("labels", {})
            current.update(key_values(update_labels, "--update-labels"))
            for given in remove_labels or []:
                for key in filter(None, given.split(",")):
                    current.pop(key, None)
            resource["labels"] = current
            mask["labels"] = None
        if not (update_mask or mask):
            raise fail(
                "nothing to update: give --update-labels, --remove-labels, --clear-labels, "
                "--pubsub-topic, --stream-bq-table, --body or the like"
            )
        answer = call_method(
            client,
            "datasets.dicomStores.patch",
            values,
            params={"updateMask": update_mask or ",".join(mask)},
            body=resource,
        )
    print_resource(answer, fmt)


@app.command(
    epilog=examples(
        "dicomstore dicom-stores delete my-store --dataset my-dataset --project my-project"
    )
)
@implements("datasets.dicomStores.delete")
def delete(
    store: StoreArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
) -> None:
    """Delete a DICOM store and every instance in it."""
    values = store_values(store, dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        call_method(client, "datasets.dicomStores.delete", values)
    stderr_console.print(f"Deleted DICOM store [{resource_name(values)}].", markup=False)


@app.command(
    "import",
    epilog=examples(
        "dicomstore dicom-stores import my-store --dataset my-dataset "
        "--gcs-uri 'gs://bucket/folder/**.dcm' --wait",
        "dicomstore dicom-stores import my-store --dataset my-dataset "
        "--gcs-uri 'file:///srv/incoming/**' --wait   # a dicomstore server also reads "
        "s3:// and file:// sources",
    ),
)
@implements("datasets.dicomStores.import")
def import_(
    store: StoreArgument,
    gcs_uri: Annotated[
        str,
        typer.Option(
            help="Files to import: gs://BUCKET/PATH with * and ** wildcards.", show_default=False
        ),
    ],
    blob_storage_class: Annotated[
        str | None,
        typer.Option(
            help="Storage class of the imported instances: STANDARD, NEARLINE, COLDLINE or "
            "ARCHIVE.",
            show_default=False,
        ),
    ] = None,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    wait: WaitOption = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Import DICOM files from Cloud Storage (a long-running operation)."""
    values = store_values(store, dataset, project, location)
    request: dict[str, Any] = {"gcsSource": {"uri": gcs_uri}}
    if blob_storage_class:
        request["blobStorageSettings"] = {"blobStorageClass": blob_storage_class.upper()}
    with api_errors(), open_client(endpoint, token) as client:
        operation = call_method(client, "datasets.dicomStores.import", values, body=request)
        show_operation(client, operation, wait, fmt)


@app.command(
    epilog=examples(
        "dicomstore dicom-stores export my-store --dataset my-dataset --gcs-uri-prefix "
        "gs://bucket/out --mime-type image/png --wait",
        "dicomstore dicom-stores export my-store --dataset my-dataset --bq-table "
        "bq://project.dataset.table --write-disposition WRITE_TRUNCATE --wait",
    )
)
@implements("datasets.dicomStores.export")
def export(
    store: StoreArgument,
    gcs_uri_prefix: Annotated[
        str | None,
        typer.Option(help="Write files under this gs://BUCKET/PREFIX.", show_default=False),
    ] = None,
    mime_type: Annotated[
        str | None,
        typer.Option(
            help="Format of the files, e.g. application/dicom, image/jpeg, image/png "
            "(default: DICOM as stored).",
            show_default=False,
        ),
    ] = None,
    bq_table: Annotated[
        str | None,
        typer.Option(
            help="Write metadata rows to bq://PROJECT.DATASET.TABLE instead.", show_default=False
        ),
    ] = None,
    write_disposition: Annotated[
        str | None,
        typer.Option(
            help="With --bq-table: WRITE_EMPTY, WRITE_TRUNCATE or WRITE_APPEND.",
            show_default=False,
        ),
    ] = None,
    include_source_store: Annotated[
        bool,
        typer.Option(help="With --bq-table: add the store's name to each row."),
    ] = False,
    filter_config: FilterConfigOption = None,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    wait: WaitOption = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Export instances to Cloud Storage, or their metadata to BigQuery (a long-running
    operation)."""
    if (gcs_uri_prefix is None) == (bq_table is None):
        raise fail("give one destination: --gcs-uri-prefix or --bq-table")
    values = store_values(store, dataset, project, location)
    request: dict[str, Any] = {}
    if gcs_uri_prefix is not None:
        request["gcsDestination"] = {"uriPrefix": gcs_uri_prefix}
        if mime_type:
            request["gcsDestination"]["mimeType"] = mime_type
    else:
        destination: dict[str, Any] = {"tableUri": bq_table}
        if write_disposition:
            destination["writeDisposition"] = write_disposition.upper()
        if include_source_store:
            destination["includeSourceStore"] = True
        request["bigqueryDestination"] = destination
    if filter_config:
        request["filterConfig"] = {"resourcePathsGcsUri": filter_config}
    with api_errors(), open_client(endpoint, token) as client:
        operation = call_method(client, "datasets.dicomStores.export", values, body=request)
        show_operation(client, operation, wait, fmt)


@app.command(
    epilog=examples(
        "dicomstore dicom-stores deidentify my-store --dataset my-dataset --destination-store "
        "my-store-deid --config @deid.json --wait"
    )
)
@implements("datasets.dicomStores.deidentify")
def deidentify(
    store: StoreArgument,
    destination_store: Annotated[
        str,
        typer.Option(
            help="Store to write to: an ID (same dataset) or a full name.", show_default=False
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
    filter_config: FilterConfigOption = None,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    wait: WaitOption = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Copy a store's instances, de-identified, into another store (a long-running
    operation)."""
    values = store_values(store, dataset, project, location)
    destination = store_values(
        destination_store,
        resource_name({k: values[k] for k in ("projectsId", "locationsId", "datasetsId")}),
        None,
        values["locationsId"],
    )
    request: dict[str, Any] = {"destinationStore": resource_name(destination)}
    if config:
        request["config"] = json_argument(config, "--config")
    if gcs_config_uri:
        request["gcsConfigUri"] = gcs_config_uri
    if filter_config:
        request["filterConfig"] = {"resourcePathsGcsUri": filter_config}
    with api_errors(), open_client(endpoint, token) as client:
        operation = call_method(client, "datasets.dicomStores.deidentify", values, body=request)
        show_operation(client, operation, wait, fmt)


@app.command(
    epilog=examples(
        "dicomstore dicom-stores set-blob-storage-settings my-store --dataset my-dataset "
        "--storage-class ARCHIVE --study 1.2.3 --wait"
    )
)
@implements(
    "datasets.dicomStores.setBlobStorageSettings",
    "datasets.dicomStores.dicomWeb.studies.setBlobStorageSettings",
)
def set_blob_storage_settings(
    store: StoreArgument,
    storage_class: Annotated[
        str,
        typer.Option(help="STANDARD, NEARLINE, COLDLINE or ARCHIVE.", show_default=False),
    ],
    study: Annotated[
        str | None,
        typer.Option(help="Only this study (Study Instance UID).", show_default=False),
    ] = None,
    filter_config: FilterConfigOption = None,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    wait: WaitOption = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Move instances to another storage class (a long-running operation)."""
    values = store_values(store, dataset, project, location)
    request: dict[str, Any] = {"blobStorageSettings": {"blobStorageClass": storage_class.upper()}}
    if filter_config:
        request["filterConfig"] = {"resourcePathsGcsUri": filter_config}
    method = "datasets.dicomStores.setBlobStorageSettings"
    if study:
        method = "datasets.dicomStores.dicomWeb.studies.setBlobStorageSettings"
        values["studiesId"] = study
    with api_errors(), open_client(endpoint, token) as client:
        operation = call_method(client, method, values, body=request)
        show_operation(client, operation, wait, fmt)


@app.command(
    epilog=examples(
        "dicomstore dicom-stores get-metrics my-store --dataset my-dataset --study 1.2.3"
    )
)
@implements(
    "datasets.dicomStores.getDICOMStoreMetrics",
    "datasets.dicomStores.dicomWeb.studies.getStudyMetrics",
    "datasets.dicomStores.dicomWeb.studies.series.getSeriesMetrics",
)
def get_metrics(
    store: StoreArgument,
    study: StudyOption = None,
    series: Annotated[
        str | None, typer.Option(help="Series Instance UID (with --study).", show_default=False)
    ] = None,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Show the counts and sizes of a store, or of one study or series in it."""
    values = store_values(store, dataset, project, location)
    method = "datasets.dicomStores.getDICOMStoreMetrics"
    if series and not study:
        raise fail("--series needs its --study")
    if study:
        values["studiesId"] = study
        method = "datasets.dicomStores.dicomWeb.studies.getStudyMetrics"
    if series:
        values["seriesId"] = series
        method = "datasets.dicomStores.dicomWeb.studies.series.getSeriesMetrics"
    with api_errors(), open_client(endpoint, token) as client:
        print_resource(call_method(client, method, values), fmt)


@app.command(
    epilog=examples(
        "dicomstore dicom-stores get-storage-info my-store --dataset my-dataset --study 1.2.3 "
        "--series 1.2.3.4 --instance 1.2.3.4.5"
    )
)
@implements("datasets.dicomStores.dicomWeb.studies.series.instances.getStorageInfo")
def get_storage_info(
    store: StoreArgument,
    study: Annotated[str, typer.Option(help="Study Instance UID.", show_default=False)],
    series: Annotated[str, typer.Option(help="Series Instance UID.", show_default=False)],
    instance: Annotated[str, typer.Option(help="SOP Instance UID.", show_default=False)],
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Show where and how one instance is stored (its storage class and sizes)."""
    values = store_values(store, dataset, project, location)
    values |= {"studiesId": study, "seriesId": series, "instancesId": instance}
    method = "datasets.dicomStores.dicomWeb.studies.series.instances.getStorageInfo"
    with api_errors(), open_client(endpoint, token) as client:
        print_resource(call_method(client, method, values), fmt)


@app.command(
    epilog=examples("dicomstore dicom-stores get-iam-policy my-store --dataset my-dataset")
)
@implements("datasets.dicomStores.getIamPolicy")
def get_iam_policy(
    store: StoreArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    policy_version: PolicyVersionOption = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Show the IAM policy of a DICOM store."""
    values = store_values(store, dataset, project, location)
    print_iam_policy(
        "datasets.dicomStores.getIamPolicy", values, policy_version, endpoint, token, fmt
    )


@app.command(
    epilog=examples(
        "dicomstore dicom-stores set-iam-policy my-store policy.json --dataset my-dataset"
    )
)
@implements("datasets.dicomStores.setIamPolicy")
def set_iam_policy(
    store: StoreArgument,
    policy_file: PolicyArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    update_mask: UpdateMaskOption = None,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Replace the IAM policy of a DICOM store."""
    values = store_values(store, dataset, project, location)
    replace_iam_policy(
        "datasets.dicomStores.setIamPolicy", values, policy_file, update_mask, endpoint, token, fmt
    )


@app.command(
    epilog=examples(
        "dicomstore dicom-stores test-iam-permissions my-store "
        "healthcare.dicomStores.dicomWebRead --dataset my-dataset"
    )
)
@implements("datasets.dicomStores.testIamPermissions")
def test_iam_permissions(
    store: StoreArgument,
    permissions: PermissionsArgument,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Show which of the given permissions the caller holds on a DICOM store."""
    values = store_values(store, dataset, project, location)
    print_granted_permissions(
        "datasets.dicomStores.testIamPermissions", values, permissions, endpoint, token, fmt
    )
