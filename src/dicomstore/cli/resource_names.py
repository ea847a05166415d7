"""Naming datasets, DICOM stores and operations on the command line, the way ``gcloud healthcare``
does: a short ID with ``--dataset``, ``--location`` and ``--project`` (the last two also from
``DICOMSTORE_LOCATION`` and ``DICOMSTORE_PROJECT``), or the full resource name
``projects/p/locations/l/datasets/d/dicomStores/s`` in place of the ID.

Names resolve to the path parameters of the discovery document (``projectsId``, ``locationsId``,
``datasetsId``, ``dicomStoresId``, ``operationsId``), which `dicomstore.client.Method.path` fills.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import typer

from dicomstore.cli.api_calls import fail

__all__ = [
    "DEFAULT_LOCATION",
    "DatasetOption",
    "LocationOption",
    "ProjectOption",
    "StoreOption",
    "dataset_values",
    "location_values",
    "operation_values",
    "resource_name",
    "store_values",
]

DEFAULT_LOCATION: Final = "us-central1"

ProjectOption = Annotated[
    str | None,
    typer.Option(
        envvar="DICOMSTORE_PROJECT",
        help="Project ID (not needed with a full resource name).",
        show_default=False,
    ),
]
LocationOption = Annotated[
    str,
    typer.Option(envvar="DICOMSTORE_LOCATION", help="Location of the dataset."),
]
DatasetOption = Annotated[
    str | None,
    typer.Option(
        help="Dataset ID or full name (not needed with a full resource name).", show_default=False
    ),
]
StoreOption = Annotated[
    str,
    typer.Option(
        help="DICOM store: an ID with --dataset (and --project, --location), or its full name "
        "projects/P/locations/L/datasets/D/dicomStores/S.",
        show_default=False,
    ),
]

_FULL_NAME = re.compile(
    r"(?:v1/)?projects/(?P<projectsId>[^/]+)/locations/(?P<locationsId>[^/]+)"
    r"(?:/datasets/(?P<datasetsId>[^/]+)"
    r"(?:/dicomStores/(?P<dicomStoresId>[^/]+)|/operations/(?P<operationsId>[^/]+))?)?"
)


def resource_name(values: dict[str, str]) -> str:
    """The full name a set of path values identifies, e.g. ``projects/p/…/dicomStores/s``."""
    name = f"projects/{values['projectsId']}/locations/{values['locationsId']}"
    if "datasetsId" in values:
        name += f"/datasets/{values['datasetsId']}"
    if "dicomStoresId" in values:
        name += f"/dicomStores/{values['dicomStoresId']}"
    if "operationsId" in values:
        name += f"/operations/{values['operationsId']}"
    return name


def _parse(name: str, kind: str, last: str) -> dict[str, str] | None:
    """The path values of a full name, which must name a ``kind`` (its last parameter
    ``last``); None for a short ID."""
    if "/" not in name:
        return None
    match = _FULL_NAME.fullmatch(name.strip("/"))
    found = {key: value for key, value in (match.groupdict() if match else {}).items() if value}
    if match is None or last not in found or list(found)[-1] != last:
        raise fail(f"{name!r} is not the full name of a {kind} (nor an ID, which has no '/').")
    return found


def location_values(project: str | None, location: str) -> dict[str, str]:
    if not project:
        raise fail(
            "no project given: pass --project, set DICOMSTORE_PROJECT, or give a full resource "
            "name such as projects/P/locations/L/datasets/D."
        )
    return {"projectsId": project, "locationsId": location}


def dataset_values(dataset: str | None, project: str | None, location: str) -> dict[str, str]:
    """A dataset given by ID or full name."""
    if not dataset:
        raise fail("no dataset given: pass --dataset (an ID or a full dataset name).")
    parsed = _parse(dataset, "dataset", "datasetsId")
    if parsed is not None:
        return parsed
    return {**location_values(project, location), "datasetsId": dataset}


def store_values(
    store: str, dataset: str | None, project: str | None, location: str
) -> dict[str, str]:
    """A DICOM store given by ID (in ``dataset``) or full name."""
    parsed = _parse(store, "DICOM store", "dicomStoresId")
    if parsed is not None:
        return parsed
    return {**dataset_values(dataset, project, location), "dicomStoresId": store}


def operation_values(
    operation: str, dataset: str | None, project: str | None, location: str
) -> dict[str, str]:
    """An operation given by ID (in ``dataset``) or full name."""
    parsed = _parse(operation, "dataset operation", "operationsId")
    if parsed is not None:
        return parsed
    return {**dataset_values(dataset, project, location), "operationsId": operation}
