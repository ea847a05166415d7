"""Each module of dicomstore.dicom declares exactly its public names."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

import dicomstore.dicom
from dicomstore.dicom import bulkdata, frames, json, part10

MODULES = [bulkdata, frames, json, part10]


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


def test_package_exports_exist() -> None:
    assert len(set(dicomstore.dicom.__all__)) == len(dicomstore.dicom.__all__)
    for name in dicomstore.dicom.__all__:
        assert getattr(dicomstore.dicom, name) is not None
