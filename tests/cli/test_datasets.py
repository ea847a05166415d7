"""``dicomstore datasets``: the dataset lifecycle through the command line, checked over raw HTTP,
and the one-line errors every client command gives."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import httpx
import typer
import yaml
from typer.testing import CliRunner

from dicomstore.cli.main import app
from tests.cli.conftest import LOCATION, Result, Runner, environment, unique_id
from tests.processes import ServerProcess, free_port


def test_create_describe_list_update_delete(cli: Runner, api: httpx.Client) -> None:
    dataset_id = unique_id("ds")
    name = f"{LOCATION}/datasets/{dataset_id}"

    created = cli("datasets", "create", dataset_id, "--time-zone", "UTC", "--wait", "-f", "json")
    operation = json.loads(created.ok().stdout)
    assert operation["done"] is True
    assert operation["metadata"]["apiMethodName"].endswith("CreateDataset")
    assert operation["response"]["name"] == name
    assert api.get(name).json() == {"name": name, "timeZone": "UTC"}

    described = yaml.safe_load(cli("datasets", "describe", dataset_id).ok().stdout)
    assert described == {"name": name, "timeZone": "UTC"}

    listed = json.loads(cli("datasets", "list", "-f", "json").ok().stdout)
    assert {"name": name, "timeZone": "UTC"} in listed
    table = cli("datasets", "list", "--format", "csv").ok().stdout
    assert {"ID": dataset_id, "LOCATION": "us-central1", "TIME ZONE": "UTC"} in list(
        csv.DictReader(io.StringIO(table))
    )

    updated = cli("datasets", "update", name, "--time-zone", "Europe/Paris", "-f", "json").ok()
    assert json.loads(updated.stdout)["timeZone"] == "Europe/Paris"
    assert api.get(name).json()["timeZone"] == "Europe/Paris"

    deleted = cli("datasets", "delete", dataset_id).ok()
    assert deleted.stdout == ""
    assert name in deleted.stderr
    assert api.get(name).status_code == 404


def test_project_and_location_come_from_flags_variables_or_the_full_name(
    cli: Runner, cli_server: ServerProcess, api: httpx.Client
) -> None:
    dataset_id = unique_id("ds")
    other = f"projects/other-project/locations/europe-west4/datasets/{dataset_id}"
    bare = environment(DICOMSTORE_ENDPOINT=cli_server.url)
    cli("datasets", "create", dataset_id, "--project", "other-project", "--location",
        "europe-west4", env=bare).ok()  # fmt: skip
    with_variables = environment(
        DICOMSTORE_ENDPOINT=cli_server.url,
        DICOMSTORE_PROJECT="other-project",
        DICOMSTORE_LOCATION="europe-west4",
    )
    by_variables = cli("datasets", "describe", dataset_id, "-f", "json", env=with_variables).ok()
    by_full_name = cli("datasets", "describe", other, "-f", "json", env=bare).ok()
    assert json.loads(by_variables.stdout) == json.loads(by_full_name.stdout) == {"name": other}
    cli("datasets", "delete", other, env=bare).ok()
    assert api.get(other).status_code == 404


def test_errors_are_one_line_with_the_servers_code_and_message(
    cli_all: Callable[..., list[Result]], cli_dataset: str, cli_server: ServerProcess
) -> None:
    closed_port = f"http://127.0.0.1:{free_port()}"
    results = cli_all(
        ["datasets", "create", cli_dataset],
        ["datasets", "describe", "no-such-dataset"],
        ["datasets", "create", "bad id!"],
        ["datasets", "describe", "projects/p/datasets/d"],
        ["datasets", "list", "--endpoint", closed_port],
        ["datasets", "update", cli_dataset],
    )
    lines = [result.error_line() for result in results]
    assert lines[0] == (
        f"dicomstore: error: ALREADY_EXISTS (409): Dataset {LOCATION}/datasets/{cli_dataset} "
        "already exists."
    )
    assert lines[1] == (
        f"dicomstore: error: NOT_FOUND (404): Dataset {LOCATION}/datasets/no-such-dataset "
        "not found."
    )
    assert lines[2].startswith("dicomstore: error: INVALID_ARGUMENT (400): Dataset ID 'bad id!'")
    assert "'projects/p/datasets/d' is not the full name of a dataset" in lines[3]
    assert lines[4].startswith(f"dicomstore: error: UNAVAILABLE: cannot reach {closed_port}")
    assert "nothing to update" in lines[5]

    [no_project] = cli_all(
        ["datasets", "list"], env=environment(DICOMSTORE_ENDPOINT=cli_server.url)
    )
    assert "no project given" in no_project.error_line()


def test_every_client_command_documents_itself_with_examples(cli: Runner) -> None:
    overview = cli("--help").ok().stdout
    groups = ("datasets", "dicom-stores", "operations", "dicomweb")
    for group in groups:
        assert group in overview
    # Each command's own help, in this process: one child process per command would be slow.
    runner = CliRunner()
    root = typer.main.get_command(app)
    for group in groups:
        for name in root.commands[group].commands:
            shown = runner.invoke(app, [group, name, "--help"], env={"COLUMNS": "200"})
            assert shown.exit_code == 0, shown.output
            assert f"$ dicomstore {group} {name}" in shown.output, (group, name)
            assert "--endpoint" in shown.output and "DICOMSTORE_ENDPOINT" in shown.output
