"""Statements in the shapes of the examples on StackQL's google provider pages for
``google.healthcare.dicom_stores`` (both versions: the older lists ``dicomStores,
nextPageToken``, the newer the store fields and has the retrieve methods), ``datasets`` and
``operations``, with real values where the pages have placeholders.

The pages' quirks are kept: ``-- required`` comments after values, a comment swallowing the final
``;``, no comma before ``@@json=``, and ``@@json`` values whose fields are quoted placeholders
(here filled either with a JSON object or with a JSON string holding JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Place",
    "as_json_string",
    "cancel_operation",
    "create_dataset",
    "create_store",
    "deidentify_dataset",
    "delete_dataset",
    "delete_store",
    "exec_statement",
    "get_dataset",
    "get_operation",
    "get_store",
    "list_datasets_page",
    "list_operations_page",
    "list_stores",
    "list_stores_page",
    "update_dataset",
    "update_store",
]


@dataclass(frozen=True)
class Place:
    project: str = "sql-project"
    location: str = "us-central1"
    dataset: str = "sql-dataset"
    store: str = "sql-store"


def as_json_string(value: Any) -> str:
    """``value`` as a JSON string holding its JSON text, ready to sit between quotes in JSON."""
    return json.dumps(json.dumps(value))[1:-1]


def _store_where(place: Place, comment: str = " -- required") -> str:
    return (
        f"WHERE projectsId = '{place.project}'{comment}\n"
        f"AND locationsId = '{place.location}'{comment}\n"
        f"AND datasetsId = '{place.dataset}'{comment}\n"
    )


def get_store(place: Place) -> str:
    return (
        "SELECT\nname,\nlabels,\nnotificationConfig,\nnotificationConfigs,\nstreamConfigs\n"
        "FROM google.healthcare.dicom_stores\n"
        + _store_where(place)
        + f"AND dicomStoresId = '{place.store}' -- required;"
    )


def list_stores_page(place: Place, page_size: int, page_token: str, filter_: str) -> str:
    """The older page's list: the page itself, ``dicomStores`` and ``nextPageToken``."""
    return (
        "SELECT\ndicomStores,\nnextPageToken\nFROM google.healthcare.dicom_stores\n"
        + _store_where(place)
        + f"AND pageSize = '{page_size}'\nAND pageToken = '{page_token}'\nAND filter = '{filter_}';"
    )


def list_stores(place: Place, page_size: int, page_token: str, filter_: str) -> str:
    """The newer page's list: one row per store."""
    return (
        "SELECT\nname,\nlabels,\nnotificationConfig,\nnotificationConfigs,\nstreamConfigs\n"
        "FROM google.healthcare.dicom_stores\n"
        + _store_where(place)
        + f"AND pageSize = '{page_size}'\nAND pageToken = '{page_token}'\nAND filter = '{filter_}';"
    )


def create_store(
    place: Place,
    *,
    name: str,
    notification_config: str,
    labels: str,
    stream_configs: str,
    notification_configs: str,
) -> str:
    return (
        "INSERT INTO google.healthcare.dicom_stores (\ndata__name,\ndata__notificationConfig,\n"
        "data__labels,\ndata__streamConfigs,\ndata__notificationConfigs,\nprojectsId,\n"
        "locationsId,\ndatasetsId,\ndicomStoreId\n)\nSELECT \n"
        f"'{name}',\n'{notification_config}',\n'{labels}',\n'{stream_configs}',\n"
        f"'{notification_configs}',\n'{place.project}',\n'{place.location}',\n"
        f"'{place.dataset}',\n'{place.store}'\n"
        "RETURNING\nname,\nlabels,\nnotificationConfig,\nnotificationConfigs,\nstreamConfigs\n;"
    )


def update_store(
    place: Place,
    *,
    name: str,
    notification_config: str,
    labels: str,
    stream_configs: str,
    notification_configs: str,
    update_mask: str,
) -> str:
    return (
        "UPDATE google.healthcare.dicom_stores\nSET \n"
        f"data__name = '{name}',\ndata__notificationConfig = '{notification_config}',\n"
        f"data__labels = '{labels}',\ndata__streamConfigs = '{stream_configs}',\n"
        f"data__notificationConfigs = '{notification_configs}'\nWHERE \n"
        f"projectsId = '{place.project}' --required\nAND locationsId = '{place.location}' "
        f"--required\nAND datasetsId = '{place.dataset}' --required\n"
        f"AND dicomStoresId = '{place.store}' --required\nAND updateMask = '{update_mask}'\n"
        "RETURNING\nname,\nlabels,\nnotificationConfig,\nnotificationConfigs,\nstreamConfigs;"
    )


def delete_store(place: Place) -> str:
    return (
        "DELETE FROM google.healthcare.dicom_stores\n"
        + _store_where(place, " --required")
        + f"AND dicomStoresId = '{place.store}' --required;"
    )


def exec_statement(
    method: str,
    place: Place,
    more: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
) -> str:
    """``EXEC google.healthcare.dicom_stores.<method>`` with the store's parameters, then
    ``more`` (path or query parameters), then ``@@json`` made of ``body``'s fields, each value
    written as given (a JSON object, or a quoted string)."""
    given = {
        "projectsId": place.project,
        "locationsId": place.location,
        "datasetsId": place.dataset,
        "dicomStoresId": place.store,
        **(more or {}),
    }
    arguments = [f"@{name}='{value}' --required" for name, value in given.items()]
    text = f"EXEC google.healthcare.dicom_stores.{method} \n" + ", \n".join(arguments)
    if body is None:
        return text + ";"
    fields = ", \n".join(f'"{name}": {value}' for name, value in body.items())
    return text + " \n@@json=\n'{\n" + fields + "\n}';"


def get_dataset(place: Place) -> str:
    return (
        "SELECT\nname,\nencryptionSpec,\nsatisfiesPzi,\nsatisfiesPzs,\ntimeZone\n"
        "FROM google.healthcare.datasets\n"
        f"WHERE projectsId = '{place.project}' -- required\n"
        f"AND locationsId = '{place.location}' -- required\n"
        f"AND datasetsId = '{place.dataset}' -- required;"
    )


def list_datasets_page(place: Place, page_size: int, page_token: str) -> str:
    return (
        "SELECT\ndatasets,\nnextPageToken\nFROM google.healthcare.datasets\n"
        f"WHERE projectsId = '{place.project}' -- required\n"
        f"AND locationsId = '{place.location}' -- required\n"
        f"AND pageSize = '{page_size}'\nAND pageToken = '{page_token}';"
    )


def create_dataset(place: Place, *, name: str, time_zone: str, encryption_spec: str) -> str:
    return (
        "INSERT INTO google.healthcare.datasets (\ndata__name,\ndata__timeZone,\n"
        "data__encryptionSpec,\nprojectsId,\nlocationsId,\ndatasetId\n)\nSELECT \n"
        f"'{name}',\n'{time_zone}',\n'{encryption_spec}',\n'{place.project}',\n"
        f"'{place.location}',\n'{place.dataset}'\n"
        "RETURNING\nname,\ndone,\nerror,\nmetadata,\nresponse\n;"
    )


def update_dataset(
    place: Place, *, name: str, time_zone: str, encryption_spec: str, update_mask: str
) -> str:
    return (
        "UPDATE google.healthcare.datasets\nSET \n"
        f"data__name = '{name}',\ndata__timeZone = '{time_zone}',\n"
        f"data__encryptionSpec = '{encryption_spec}'\nWHERE \n"
        f"projectsId = '{place.project}' --required\n"
        f"AND locationsId = '{place.location}' --required\n"
        f"AND datasetsId = '{place.dataset}' --required\nAND updateMask = '{update_mask}'\n"
        "RETURNING\nname,\nencryptionSpec,\nsatisfiesPzi,\nsatisfiesPzs,\ntimeZone;"
    )


def delete_dataset(place: Place) -> str:
    return (
        "DELETE FROM google.healthcare.datasets\n"
        f"WHERE projectsId = '{place.project}' --required\n"
        f"AND locationsId = '{place.location}' --required\n"
        f"AND datasetsId = '{place.dataset}' --required;"
    )


def deidentify_dataset(place: Place, *, destination: str) -> str:
    return (
        "EXEC google.healthcare.datasets.deidentify \n"
        f"@projectsId='{place.project}' --required, \n"
        f"@locationsId='{place.location}' --required, \n"
        f"@datasetsId='{place.dataset}' --required \n@@json=\n"
        f'\'{{\n"destinationDataset": "{destination}", \n"config": "", \n'
        '"gcsConfigUri": ""\n}\';'
    )


def get_operation(place: Place, operation: str) -> str:
    return (
        "SELECT\nname,\ndone,\nerror,\nmetadata,\nresponse\nFROM google.healthcare.operations\n"
        f"WHERE projectsId = '{place.project}' -- required\n"
        f"AND locationsId = '{place.location}' -- required\n"
        f"AND datasetsId = '{place.dataset}' -- required\n"
        f"AND operationsId = '{operation}' -- required;"
    )


def list_operations_page(place: Place, filter_: str, page_size: int, page_token: str) -> str:
    return (
        "SELECT\nnextPageToken,\noperations\nFROM google.healthcare.operations\n"
        f"WHERE projectsId = '{place.project}' -- required\n"
        f"AND locationsId = '{place.location}' -- required\n"
        f"AND datasetsId = '{place.dataset}' -- required\n"
        f"AND filter = '{filter_}'\nAND pageSize = '{page_size}'\nAND pageToken = '{page_token}';"
    )


def cancel_operation(place: Place, operation: str) -> str:
    return (
        "EXEC google.healthcare.operations.cancel \n"
        f"@projectsId='{place.project}' --required, \n"
        f"@locationsId='{place.location}' --required, \n"
        f"@datasetsId='{place.dataset}' --required, \n"
        f"@operationsId='{operation}' --required;"
    )
