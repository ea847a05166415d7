"""``dicomstore operations``: listing, describing, waiting for and cancelling the long-running
operations of a dataset; and the guarantee that every dataset, DICOM store and operation
method of the discovery document has a command."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import typer

from dicomstore.cli.api_calls import IMPLEMENTATIONS
from dicomstore.cli.main import app
from dicomstore.client import discovery_methods
from tests.api.http.dicomweb_support import make_instance, part10
from tests.cli.conftest import Result, Runner

MANAGEMENT_RESOURCES = (("datasets",), ("datasets", "dicomStores"), ("datasets", "operations"))


def _callbacks(command: Any) -> Iterator[Any]:
    """The functions of a command and of every command below it (typer carries its own click,
    so groups are known by their ``commands``)."""
    if command.callback is not None:
        yield command.callback
    for child in getattr(command, "commands", {}).values():
        yield from _callbacks(child)


def test_every_management_method_of_the_discovery_document_has_a_command() -> None:
    reachable = {getattr(c, "__wrapped__", c) for c in _callbacks(typer.main.get_command(app))}
    methods = [m for m in discovery_methods() if m.resource in MANAGEMENT_RESOURCES]
    assert {m.name for m in methods} >= {"create", "patch", "import", "deidentify", "cancel"}
    missing = [m.id for m in methods if IMPLEMENTATIONS.get(m.id) not in reachable]
    assert missing == []


def test_every_dicomweb_method_has_a_command_but_bulk_data() -> None:
    """Below DICOM stores too: metrics, storage info, storage classes of studies, and every
    DICOMweb transaction except bulk data retrieval (its URIs come from metadata, for viewers)."""
    below = [
        m.id
        for m in discovery_methods()
        if m.resource[:2] == ("datasets", "dicomStores") and len(m.resource) > 2
    ]
    missing = [i for i in below if i not in IMPLEMENTATIONS]
    assert missing == [
        "healthcare.projects.locations.datasets.dicomStores.studies.series.instances.bulkdata."
        "retrieveBulkdata"
    ]
    assert set(IMPLEMENTATIONS) <= {m.id for m in discovery_methods()}


def test_list_describe_wait_and_cancel(
    cli_all: Callable[..., list[Result]], cli: Runner, api: httpx.Client, cli_store: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    (tmp_path / "one.dcm").write_bytes(part10(make_instance()))
    started = cli("dicom-stores", "import", cli_store, "--gcs-uri", f"file://{tmp_path}/*.dcm",
                  "-f", "json").ok()  # fmt: skip
    name = json.loads(started.stdout)["name"]
    dataset, operation_id = name.split("/operations/")

    waited, listed, table, described, cancelled = cli_all(
        ["operations", "wait", name, "-f", "json"],
        ["operations", "list", "--dataset", dataset, "-f", "json"],
        ["operations", "list", "--dataset", dataset, "-f", "csv"],
        ["operations", "describe", operation_id, "--dataset", dataset, "-f", "json"],
        ["operations", "cancel", name],
    )
    done = json.loads(waited.ok().stdout)
    assert done["done"] is True
    assert done["metadata"]["counter"] == {"success": "1"}
    assert name in [operation["name"] for operation in json.loads(listed.ok().stdout)]
    rows = list(csv.DictReader(io.StringIO(table.ok().stdout)))
    assert {"ID": operation_id, "METHOD": "ImportDicomData"}.items() <= next(
        row for row in rows if row["ID"] == operation_id
    ).items()
    assert json.loads(described.ok().stdout)["name"] == name
    assert name in cancelled.ok().stderr  # a finished operation is left as it is
    assert api.get(name).json() == json.loads(cli("operations", "describe", name, "-f",
                                                  "json").ok().stdout)  # fmt: skip


def test_unknown_operation_is_one_error_line(
    cli_all: Callable[..., list[Result]], cli_dataset: str
) -> None:
    for result in cli_all(
        ["operations", "describe", "404", "--dataset", cli_dataset],
        ["operations", "wait", "404", "--dataset", cli_dataset],
    ):
        assert result.error_line().startswith("dicomstore: error: NOT_FOUND (404): Operation ")
