"""Each public module declares exactly its public names (``__all__``), and each package's
re-exports exist."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

import dicomstore.client
import dicomstore.dicom
import dicomstore.sinks
import dicomstore.sql
import dicomstore.testing
from dicomstore import json_text, setting_values
from dicomstore.client import dicomweb as dicomweb_client
from dicomstore.client import discovery, http
from dicomstore.client import multipart as multipart_client
from dicomstore.dicom import bigquery, bulkdata, codecs, frames, json, part10, transcode
from dicomstore.sinks import bigquery_table, duckdb_table, tables
from dicomstore.sql import (
    bodies,
    dicom_rows,
    errors,
    exec_parser,
    executor,
    local,
    parser,
    registry,
    schemas,
    script,
    shell,
    statements,
)
from dicomstore.testing import plugin, server

MODULES = [
    bulkdata, frames, json, part10, transcode, codecs, bigquery,
    tables, duckdb_table, bigquery_table,
    discovery, http, dicomweb_client, multipart_client,
    bodies, dicom_rows, errors, exec_parser, executor, local, parser, registry, schemas, script,
    shell, statements,
    plugin, server, json_text, setting_values,
]  # fmt: skip


def _defined_public_names(module: ModuleType) -> set[str]:
    """Top-level functions, classes and assignments of the module that are not private."""
    names: set[str] = set()
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_all_is_exact(module: ModuleType) -> None:
    assert sorted(module.__all__) == sorted(_defined_public_names(module))


@pytest.mark.parametrize(
    "package",
    [dicomstore.dicom, dicomstore.sinks, dicomstore.client, dicomstore.sql, dicomstore.testing],
    ids=lambda package: package.__name__,
)
def test_package_exports_exist(package: ModuleType) -> None:
    assert len(set(package.__all__)) == len(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None
