"""Fixtures over real components: SQLite and PostgreSQL indexes, a real server process, and
Google's own API client pointed at it.

PostgreSQL is expected at ``DICOMSTORE_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432``).
Without it the PostgreSQL cases are skipped, except under ``CI=true``, where its absence fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa

from tests.processes import ServerProcess, start_server

if TYPE_CHECKING:
    from tests.object_servers import GcsEmulator, S3Server

# fake-gcs-server and the S3 server: session fixtures every server process inherits.
pytest_plugins = ["tests.object_servers"]

POSTGRES_SERVER = os.environ.get("DICOMSTORE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() == "true"
ENGINES = ("sqlite", "postgresql")


def _postgres_admin() -> sa.Engine:
    engine = sa.create_engine(
        f"{POSTGRES_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        message = f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {error.orig}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return engine


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Any]:
    """A factory of throw-away PostgreSQL databases, all dropped at the end of the session."""
    admin = _postgres_admin()
    created: list[str] = []

    def create() -> str:
        name = f"dicomstore_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return f"{POSTGRES_SERVER}/{name}"

    yield create
    with admin.connect() as connection:
        for name in created:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty index database on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    return str(request.getfixturevalue("postgres_database")())


@pytest.fixture(scope="session", params=ENGINES)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_gcs: GcsEmulator,
    s3_server: S3Server,
) -> Iterator[ServerProcess]:
    """One server process per engine for the session; tests isolate themselves by dataset. It
    inherits the object storage emulators' addresses, for import and export."""
    data_dir = tmp_path_factory.mktemp(f"server-{request.param}")
    database_url = (
        request.getfixturevalue("postgres_database")() if request.param == "postgresql" else None
    )
    running = start_server(data_dir, database_url=database_url)
    yield running
    assert running.stop() == 0, "the server did not shut down cleanly on SIGTERM"


def healthcare_client(server: ServerProcess) -> Any:
    """google-api-python-client's healthcare v1 service (static discovery, anonymous
    credentials), pointed at ``server``."""
    import google.auth.credentials
    from googleapiclient.discovery import build

    return build(
        "healthcare",
        "v1",
        static_discovery=True,
        credentials=google.auth.credentials.AnonymousCredentials(),
        client_options={"api_endpoint": server.url},
    )


@pytest.fixture(scope="session")
def healthcare(server: ServerProcess) -> Iterator[Any]:
    """Google's client pointed at the session's server."""
    service = healthcare_client(server)
    yield service
    service.close()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    """Raw HTTP for what the Google client cannot express (bad bodies, odd paths)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


LOCATION = "projects/test-project/locations/us-central1"


@pytest.fixture
def dataset(healthcare: Any) -> Iterator[str]:
    """A new, empty dataset's name; deleted afterwards."""
    dataset_id = f"ds-{uuid.uuid4().hex[:10]}"
    datasets = healthcare.projects().locations().datasets()
    datasets.create(parent=LOCATION, datasetId=dataset_id, body={}).execute()
    name = f"{LOCATION}/datasets/{dataset_id}"
    yield name
    from googleapiclient.errors import HttpError

    try:
        datasets.delete(name=name).execute()
    except HttpError as error:
        if error.status_code != 404:
            raise


@pytest.fixture
def dicom_store(healthcare: Any, dataset: str) -> str:
    """A new, empty DICOM store's name, in its own dataset."""
    stores = healthcare.projects().locations().datasets().dicomStores()
    return str(stores.create(parent=dataset, dicomStoreId="store", body={}).execute()["name"])
