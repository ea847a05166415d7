"""The pytest plugin, registered under the ``pytest11`` entry point: one dicomstore server per
test session and a fresh, empty DICOM store per test.

Fixtures: ``dicomstore_server`` (session; a `DicomstoreServer`) and ``dicomstore_store``
(function; a `DicomStore` in a dataset of its own, deleted afterwards). The ini option
``dicomstore_serve_args`` adds ``dicomstore serve`` flags, e.g.
``dicomstore_serve_args = --qido-mode standard``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dicomstore.testing.server import DicomStore, DicomstoreServer

__all__ = ["dicomstore_server", "dicomstore_store", "pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "dicomstore_serve_args",
        type="args",
        default=[],
        help="extra `dicomstore serve` flags for the dicomstore_server fixture",
    )


@pytest.fixture(scope="session")
def dicomstore_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DicomstoreServer]:
    """A dicomstore server for the whole session, with its data in a pytest temporary
    directory; ``.url``, ``.healthcare`` (Google's client), ``.dicomweb_url(store)``,
    ``.create_dicom_store()``."""
    from dicomstore.testing.server import running_server

    args = pytestconfig.getini("dicomstore_serve_args")
    with running_server(tmp_path_factory.mktemp("dicomstore"), args=args) as server:
        yield server


@pytest.fixture
def dicomstore_store(dicomstore_server: DicomstoreServer) -> Iterator[DicomStore]:
    """A new, empty DICOM store in a dataset of its own, deleted after the test."""
    from dicomstore.testing.server import DicomStore

    name = dicomstore_server.create_dicom_store()
    store = DicomStore(name, dicomstore_server.dicomweb_url(name))
    yield store
    dicomstore_server.delete_dataset(store.dataset)
