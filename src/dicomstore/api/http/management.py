"""REST routes of the management plane: locations, datasets, DICOM stores, operations.

Paths and parameters are those of the healthcare v1 discovery document; each handler turns the
request into names and values and calls one service method.
"""

from __future__ import annotations

from typing import Any

from starlette.convertors import StringConvertor, register_url_convertor
from starlette.routing import Route

from dicomstore.api.http.calls import Call, endpoint
from dicomstore.api.http.messages import (
    DATASET,
    DICOM_STORE,
    EMPTY,
    EXPORT_DICOM_DATA,
    IMPORT_DICOM_DATA,
)
from dicomstore.errors import Unimplemented
from dicomstore.names import DatasetName, DicomStoreName, LocationName
from dicomstore.services import Services

__all__ = ["routes"]


class _IdConvertor(StringConvertor):
    """One path segment that stops before a ``:verb`` custom-method suffix."""

    regex = "[^/:]+"


register_url_convertor("id", _IdConvertor())

LOCATION = "/v1/projects/{project}/locations/{location}"
DATASETS = LOCATION + "/datasets"
DATASET_PATH = DATASETS + "/{dataset:id}"
STORES = DATASET_PATH + "/dicomStores"
STORE_PATH = STORES + "/{store:id}"
OPERATIONS = DATASET_PATH + "/operations"
OPERATION_PATH = OPERATIONS + "/{operation:id}"

_PAGING = frozenset({"pageSize", "pageToken"})


def _location(call: Call) -> LocationName:
    return LocationName.of(call.path["project"], call.path["location"])


def _dataset(call: Call) -> DatasetName:
    return _location(call).dataset(call.path["dataset"])


def _store(call: Call) -> DicomStoreName:
    return _dataset(call).dicom_store(call.path["store"])


def get_location(services: Services, call: Call) -> Any:
    return services.locations.get(call.path["project"], call.path["location"])


def list_locations(services: Services, call: Call) -> Any:
    return services.locations.list(
        call.path["project"], call.integer("pageSize"), call.string("pageToken")
    )


def create_dataset(services: Services, call: Call) -> Any:
    return services.datasets.create(_location(call), call.string("datasetId") or "", call.body)


def get_dataset(services: Services, call: Call) -> Any:
    return services.datasets.get(_dataset(call))


def list_datasets(services: Services, call: Call) -> Any:
    return services.datasets.list(
        _location(call), call.integer("pageSize"), call.string("pageToken")
    )


def patch_dataset(services: Services, call: Call) -> Any:
    return services.datasets.patch(_dataset(call), call.body, call.string("updateMask"))


def delete_dataset(services: Services, call: Call) -> Any:
    return services.datasets.delete(_dataset(call))


def create_dicom_store(services: Services, call: Call) -> Any:
    return services.dicom_stores.create(
        _dataset(call), call.string("dicomStoreId") or "", call.body
    )


def get_dicom_store(services: Services, call: Call) -> Any:
    return services.dicom_stores.get(_store(call))


def list_dicom_stores(services: Services, call: Call) -> Any:
    return services.dicom_stores.list(
        _dataset(call), call.integer("pageSize"), call.string("pageToken"), call.string("filter")
    )


def patch_dicom_store(services: Services, call: Call) -> Any:
    return services.dicom_stores.patch(_store(call), call.body, call.string("updateMask"))


def delete_dicom_store(services: Services, call: Call) -> Any:
    return services.dicom_stores.delete(_store(call))


def import_dicom_data(services: Services, call: Call) -> Any:
    return services.imports.start(_store(call), call.body)


def export_dicom_data(services: Services, call: Call) -> Any:
    return services.exports.start(_store(call), call.body)


def get_operation(services: Services, call: Call) -> Any:
    return services.operations.get(_dataset(call).operation(call.path["operation"]))


def list_operations(services: Services, call: Call) -> Any:
    if call.boolean("returnPartialSuccess"):
        raise Unimplemented("returnPartialSuccess is only supported for cross-collection reads.")
    return services.operations.list(
        _dataset(call), call.integer("pageSize"), call.string("pageToken"), call.string("filter")
    )


def cancel_operation(services: Services, call: Call) -> Any:
    return services.operations.cancel(_dataset(call).operation(call.path["operation"]))


routes = [
    Route(LOCATION, endpoint(get_location), methods=["GET"]),
    Route(
        "/v1/projects/{project}/locations",
        endpoint(list_locations, parameters=_PAGING | {"filter", "extraLocationTypes"}),
        methods=["GET"],
    ),
    Route(
        DATASETS,
        endpoint(create_dataset, parameters=frozenset({"datasetId"}), body=DATASET,
                 body_name="dataset"),
        methods=["POST"],
    ),
    Route(DATASETS, endpoint(list_datasets, parameters=_PAGING), methods=["GET"]),
    Route(DATASET_PATH, endpoint(get_dataset), methods=["GET"]),
    Route(
        DATASET_PATH,
        endpoint(patch_dataset, parameters=frozenset({"updateMask"}), body=DATASET,
                 body_name="dataset"),
        methods=["PATCH"],
    ),
    Route(DATASET_PATH, endpoint(delete_dataset), methods=["DELETE"]),
    Route(
        STORES,
        endpoint(create_dicom_store, parameters=frozenset({"dicomStoreId"}), body=DICOM_STORE,
                 body_name="dicom_store"),
        methods=["POST"],
    ),
    Route(STORES, endpoint(list_dicom_stores, parameters=_PAGING | {"filter"}), methods=["GET"]),
    Route(STORE_PATH, endpoint(get_dicom_store), methods=["GET"]),
    Route(
        STORE_PATH,
        endpoint(patch_dicom_store, parameters=frozenset({"updateMask"}), body=DICOM_STORE,
                 body_name="dicom_store"),
        methods=["PATCH"],
    ),
    Route(STORE_PATH, endpoint(delete_dicom_store), methods=["DELETE"]),
    Route(
        STORE_PATH + ":import",
        endpoint(import_dicom_data, body=IMPORT_DICOM_DATA, body_name="import_dicom_data_request"),
        methods=["POST"],
    ),
    Route(
        STORE_PATH + ":export",
        endpoint(export_dicom_data, body=EXPORT_DICOM_DATA, body_name="export_dicom_data_request"),
        methods=["POST"],
    ),
    Route(
        OPERATIONS,
        endpoint(list_operations, parameters=_PAGING | {"filter", "returnPartialSuccess"}),
        methods=["GET"],
    ),
    Route(OPERATION_PATH, endpoint(get_operation), methods=["GET"]),
    Route(
        OPERATION_PATH + ":cancel",
        endpoint(cancel_operation, body=EMPTY, body_name="cancel_operation_request"),
        methods=["POST"],
    ),
]  # fmt: skip
