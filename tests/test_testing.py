"""``dicomstore.testing`` as users meet it: the pytest plugin, loaded through its entry point in a
pytest run of their own (a subprocess, in a directory of theirs), and `running_server` without
pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dicomstore.testing import running_server

pytest_plugins = ["pytester"]

README = Path(__file__).parents[1] / "README.md"

# A user's session: two tests, each with its own store on the one server. The second checks that
# the first's dataset was deleted; both leave the server's process id behind.
USERS_TESTS = """
from pathlib import Path

import pytest
from dicomweb_client.api import DICOMwebClient
from googleapiclient.errors import HttpError
from pydicom import examples


def _check_fresh_store_then_stow(server, store):
    Path("server.pid").write_text(str(server.process.pid))
    client = DICOMwebClient(store.dicomweb_url)
    assert client.search_for_instances() == []
    client.store_instances([examples.ct])
    assert len(client.search_for_instances()) == 1


def test_first(dicomstore_server, dicomstore_store):
    _check_fresh_store_then_stow(dicomstore_server, dicomstore_store)
    Path("first-dataset").write_text(dicomstore_store.dataset)


def test_second(dicomstore_server, dicomstore_store):
    _check_fresh_store_then_stow(dicomstore_server, dicomstore_store)
    first = Path("first-dataset").read_text()
    assert dicomstore_store.dataset != first
    datasets = dicomstore_server.healthcare.projects().locations().datasets()
    with pytest.raises(HttpError) as deleted:
        datasets.get(name=first).execute()
    assert deleted.value.status_code == 404
"""


def _readme_example() -> str:
    """The first Python block of the README's section on testing."""
    section = README.read_text().split("## Testing your code against dicomstore\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_readme_example_passes_as_a_users_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=_readme_example())

    result = pytester.runpytest_subprocess("-W", "error")

    result.assert_outcomes(passed=1)


def test_a_users_session_shares_one_server_isolates_stores_and_stops_the_server(
    pytester: pytest.Pytester,
) -> None:
    index = pytester.path / "elsewhere.sqlite3"
    pytester.makeini(f"[pytest]\ndicomstore_serve_args = --database-url sqlite:///{index}\n")
    pytester.makepyfile(test_users=USERS_TESTS)

    result = pytester.runpytest_subprocess("-W", "error")

    result.assert_outcomes(passed=2)
    assert index.stat().st_size > 0, "dicomstore_serve_args did not reach the server"
    assert not _running(int((pytester.path / "server.pid").read_text()))


def test_loading_the_plugin_imports_no_client() -> None:
    # Every pytest run where dicomstore is installed loads the plugin: it must cost nothing.
    script = "import sys, dicomstore.testing.plugin; print(*sys.modules, sep='\\n')"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.splitlines())
    assert "dicomstore.testing.plugin" in loaded
    assert not {"httpx", "googleapiclient", "pydicom", "sqlalchemy"} & loaded


def test_running_server_serves_googles_client_and_removes_its_data() -> None:
    with running_server() as server:
        name = server.create_dicom_store("ct")
        stores = server.healthcare.projects().locations().datasets().dicomStores()
        assert stores.get(name=name).execute()["name"] == name
        assert server.data_dir.is_dir()

    assert server.process.returncode == 0
    assert not server.data_dir.exists()


def test_a_server_that_refuses_to_start_raises_with_its_log(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="dicomstore: error: invalid setting --qido-mode"),
        running_server(tmp_path / "data", args=["--qido-mode", "nonsense"]),
    ):
        pass
