"""Request-time checks of a ``bigqueryDestination`` and the modules' public names."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType
from typing import Any

import pytest

import dicomstore.sinks
from dicomstore.errors import InvalidArgument
from dicomstore.sinks import bigquery_table, duckdb_table, tables, validate_destination


@pytest.mark.parametrize(
    "destination",
    [
        {"tableUri": "bq://p.d.t"},
        {"tableUri": "bq://p.d.t", "force": True, "schemaFlattened": {}},
        {"tableUri": "bq://p.d.t", "writeDisposition": "WRITE_APPEND", "force": False},
        {"tableUri": "bq://p.d.t", "schemaJson": {}, "includeSourceStore": True},
        {"tableUri": "bq://p.d.t", "schemaJson": None, "schemaFlattened": {}},
    ],
)
def test_valid_destinations(destination: dict[str, Any]) -> None:
    validate_destination(destination)


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ({}, "bigqueryDestination.tableUri is required."),
        ({"tableUri": ""}, "bigqueryDestination.tableUri is required."),
        ({"tableUri": "p.d.t"}, "Invalid bigqueryDestination.tableUri 'p.d.t': it must start"),
        ({"tableUri": "bq://p.d.t", "writeDisposition": "WRITE_SOMETIMES"},
         "Invalid bigqueryDestination.writeDisposition 'WRITE_SOMETIMES'"),
        ({"tableUri": "bq://p.d.t", "force": "true"},
         "Invalid bigqueryDestination.force 'true': expected a boolean."),
        ({"tableUri": "bq://p.d.t", "includeSourceStore": 1},
         "Invalid bigqueryDestination.includeSourceStore 1"),
        ({"tableUri": "bq://p.d.t", "schemaJson": {}, "schemaFlattened": {}},
         "Invalid bigqueryDestination: schemaFlattened and schemaJson cannot both be set."),
    ],
)  # fmt: skip
def test_invalid_destinations(destination: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        validate_destination(destination)
    assert refused.value.message.startswith(message)


def _defined_public_names(module: ModuleType) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize(
    "module", [tables, duckdb_table, bigquery_table], ids=lambda module: module.__name__
)
def test_all_is_exact(module: ModuleType) -> None:
    assert sorted(module.__all__) == sorted(_defined_public_names(module))


def test_package_exports_exist() -> None:
    for name in dicomstore.sinks.__all__:
        assert getattr(dicomstore.sinks, name) is not None
