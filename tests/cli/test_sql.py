"""``dicomstore sql`` as a user runs it: one statement as an argument in each output format, the
shell reading statements from standard input, and errors as one line with exit code 1."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from pydicom.data import get_testdata_file

from tests.cli.conftest import LOCATION, PROJECT, Result, Runner, environment
from tests.processes import ServerProcess, free_port

DESPATCHED = "The operation was despatched successfully"


def where(dataset: str) -> str:
    return (
        f"WHERE projectsId = '{PROJECT}' -- required\nAND locationsId = 'us-central1'\n"
        f"AND datasetsId = '{dataset}'"
    )


def label(api: httpx.Client, store: str, labels: dict[str, str]) -> None:
    answer = api.patch(store, params={"updateMask": "labels"}, json={"labels": labels})
    answer.raise_for_status()


def test_a_statement_prints_as_a_table_json_or_csv(
    cli_all: Callable[..., list[Result]], api: httpx.Client, cli_dataset: str, cli_store: str
) -> None:
    label(api, cli_store, {"env": "prod"})
    select = (
        f"SELECT name, labels FROM google.healthcare.dicom_stores {where(cli_dataset)} -- required;"
    )
    table, as_json, as_csv = cli_all(
        ["sql", select], ["sql", "-f", "json", select], ["sql", "--format", "csv", select]
    )
    assert cli_store in table.ok().stdout
    assert '{"env":"prod"}' in table.stdout
    assert json.loads(as_json.ok().stdout) == [{"name": cli_store, "labels": {"env": "prod"}}]
    assert list(csv.reader(io.StringIO(as_csv.ok().stdout))) == [
        ["name", "labels"], [cli_store, '{"env":"prod"}'],
    ]  # fmt: skip


def test_statements_run_in_order_and_messages_go_to_stderr(cli: Runner, cli_dataset: str) -> None:
    script = (
        "INSERT INTO google.healthcare.dicom_stores (projectsId, locationsId, datasetsId, "
        f"dicomStoreId) SELECT '{PROJECT}', 'us-central1', '{cli_dataset}', 'made-by-sql';\n"
        f"SELECT COUNT(*) AS stores FROM google.healthcare.dicom_stores {where(cli_dataset)}"
    )
    done = cli("sql", "--format", "json", script).ok()
    assert done.stderr.strip() == DESPATCHED
    assert json.loads(done.stdout) == [{"stores": 1}]


def test_errors_are_one_line_and_exit_1(
    cli_all: Callable[..., list[Result]], cli: Runner, cli_dataset: str, cli_store: str
) -> None:
    """A statement the front end refuses, one the server refuses, the first failing statement of
    several (the rest do not run) and a server that is not there."""
    store_id = cli_store.rsplit("/", 1)[1]
    missing, unserved, stops = cli_all(
        ["sql", "SELECT * FROM google.healthcare.dicom_stores WHERE projectsId = 'p'"],
        ["sql", f"EXEC google.healthcare.dicom_stores.deidentify @projectsId='{PROJECT}', "
                f"@locationsId='us-central1', @datasetsId='{cli_dataset}', "
                f"@dicomStoresId='{store_id}' @@json='{{}}'"],
        ["sql", f"SELEKT 1; SELECT * FROM google.healthcare.datasets {where('x')}"],
    )  # fmt: skip
    assert missing.error_line() == (
        "dicomstore: error: cannot find matching operation, possible causes include missing "
        "required parameters or an unsupported method for the resource, to find required "
        "parameters for supported methods run SHOW METHODS IN google.healthcare.dicom_stores: "
        "query cannot be executed, missing required parameters: { locationsId, datasetsId }"
    )
    assert unserved.error_line() == "dicomstore: error: NOT_FOUND (404): Method not found."
    assert stops.error_line().startswith("dicomstore: error: unsupported statement SELEKT")
    assert stops.stdout == ""
    unreachable = cli(
        "sql", "SHOW RESOURCES; SELECT * FROM google.healthcare.datasets "
        "WHERE projectsId = 'p' AND locationsId = 'l'",
        env=environment(DICOMSTORE_ENDPOINT=f"http://127.0.0.1:{free_port()}"),
    )  # fmt: skip
    assert unreachable.error_line().startswith("dicomstore: error: UNAVAILABLE: cannot reach ")
    assert "google.healthcare.dicom_stores" in unreachable.stdout


def test_the_shell_reads_statements_until_the_end_of_input(
    cli_server: ServerProcess, cli_env: dict[str, str], cli_dataset: str
) -> None:
    typed = (
        "SHOW METHODS IN google.healthcare.operations;\n"
        "SELECT name\n"
        "  FROM google.healthcare.datasets\n"
        f"  WHERE projectsId = '{PROJECT}' AND locationsId = 'us-central1'\n"
        f"  AND datasetsId = '{cli_dataset}' -- required;\n"
        "SELECT nothing FROM google.healthcare.datasets;\n"
        ".help\n"
        "DESCRIBE google.healthcare.datasets"
    )
    done = subprocess.run(
        [sys.executable, "-m", "dicomstore", "sql", "-f", "csv"],
        input=typed, env=cli_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1  # one statement failed
    blocks = done.stdout.split("\n\n")
    assert blocks[0].startswith("MethodName,RequiredParams,SQLVerb\ncancel,")
    assert f"name\n{LOCATION}/datasets/{cli_dataset}\n" in done.stdout
    assert "Statements end with ';'" in done.stdout
    assert "name,type,description\nname,string," in done.stdout
    assert done.stderr.strip() == (
        "dicomstore: error: cannot find matching operation, possible causes include missing "
        "required parameters or an unsupported method for the resource, to find required "
        "parameters for supported methods run SHOW METHODS IN google.healthcare.datasets: "
        "query cannot be executed, missing required parameters: { projectsId, locationsId }"
    )


def test_binary_answers_are_written_to_the_output_folder(
    cli: Runner, api: httpx.Client, cli_store: str, tmp_path: Path
) -> None:
    content = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    stored = api.post(
        f"{cli_store}/dicomWeb/studies",
        content=content,
        headers={"Content-Type": "application/dicom", "Accept": "application/dicom+json"},
    )
    stored.raise_for_status()
    _, project, _, location, _, dataset, _, store = cli_store.split("/")
    study = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
    done = cli(
        "sql", "--output-dir", tmp_path, "-f", "json",
        f"EXEC google.healthcare.dicom_stores.retrieve_study @projectsId='{project}', "
        f"@locationsId='{location}', @datasetsId='{dataset}', @dicomStoresId='{store}', "
        f"@studiesId='{study}'",
    ).ok()  # fmt: skip
    (row,) = json.loads(done.stdout)
    assert row["contentType"].startswith("application/dicom")
    assert Path(row["file"]) == tmp_path / f"{study}-1.dcm"
    assert Path(row["file"]).read_bytes() == content
