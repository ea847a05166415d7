"""``dicomstore dicom-stores``: the store lifecycle, import and export with ``--wait``, metrics,
and the methods dicomstore does not serve (one clear error here; the request Google would get,
checked on a server that records it)."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from dicomstore.cli.main import app
from tests.api.http.dicomweb_support import make_instance, part10
from tests.cli.conftest import LOCATION, Result, Runner

DICOMWEB_STORE_CONTENT_TYPE = 'multipart/related; type="application/dicom"; boundary=b'


def test_create_describe_list_update_delete(
    cli: Runner, api: httpx.Client, cli_dataset: str
) -> None:
    dataset = f"{LOCATION}/datasets/{cli_dataset}"
    name = f"{dataset}/dicomStores/images"
    created = cli("dicom-stores", "create", "images", "--dataset", cli_dataset, "--labels",
                  "team=imaging,tier=1", "--labels", "site=a", "-f", "json").ok()  # fmt: skip
    expected = {"name": name, "labels": {"team": "imaging", "tier": "1", "site": "a"}}
    assert json.loads(created.stdout) == expected
    assert api.get(name).json() == expected

    described = cli("dicom-stores", "describe", name).ok()
    assert yaml.safe_load(described.stdout) == expected

    table = cli("dicom-stores", "list", "--dataset", dataset, "-f", "csv").ok().stdout
    assert list(csv.DictReader(io.StringIO(table))) == [
        {"ID": "images", "DATASET": cli_dataset, "LABELS": "team=imaging,tier=1,site=a",
         "TOPIC": ""}
    ]  # fmt: skip

    cli("dicom-stores", "update", "images", "--dataset", cli_dataset, "--update-labels", "tier=2",
        "--remove-labels", "site", "--pubsub-topic", "projects/p/topics/t").ok()  # fmt: skip
    assert api.get(name).json() == {
        "name": name,
        "labels": {"team": "imaging", "tier": "2"},
        "notificationConfig": {"pubsubTopic": "projects/p/topics/t"},
    }
    streams = '{"streamConfigs": [{"bigqueryDestination": {"tableUri": "bq://p.d.t"}}]}'
    cli("dicom-stores", "update", name, "--clear-labels", "--body", streams).ok()
    assert api.get(name).json() == {
        "name": name,
        "notificationConfig": {"pubsubTopic": "projects/p/topics/t"},
        "streamConfigs": [{"bigqueryDestination": {"tableUri": "bq://p.d.t"}}],
    }

    cli("dicom-stores", "delete", "images", "--dataset", cli_dataset).ok()
    assert api.get(name).status_code == 404


def test_import_and_export_wait_for_their_operations(
    cli: Runner, api: httpx.Client, cli_store: str, tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    instances = [make_instance(number=n) for n in (1, 2, 3)]
    for number, instance in enumerate(instances):
        (incoming / f"{number}.dcm").write_bytes(part10(instance))

    imported = cli("dicom-stores", "import", cli_store, "--gcs-uri", f"file://{incoming}/**",
                   "--wait", "-f", "json").ok()  # fmt: skip
    operation = json.loads(imported.stdout)
    assert operation["done"] is True and "error" not in operation
    assert operation["metadata"]["counter"] == {"success": "3"}
    metrics = api.get(f"{cli_store}:getDICOMStoreMetrics").json()
    assert metrics["instanceCount"] == "3"

    exported = cli("dicom-stores", "export", cli_store, "--gcs-uri-prefix",
                   f"file://{tmp_path / 'out'}", "--wait", "-f", "json").ok()  # fmt: skip
    assert json.loads(exported.stdout)["metadata"]["counter"] == {"success": "3"}
    assert sorted(path.read_bytes() for path in (tmp_path / "out").rglob("*.dcm")) == sorted(
        part10(instance) for instance in instances
    )

    started = cli("dicom-stores", "import", cli_store, "--gcs-uri",
                  f"file://{tmp_path / 'nothing-here'}/**", "-f", "json").ok()  # fmt: skip
    failing = json.loads(started.stdout)["name"]
    waited = cli("operations", "wait", failing)
    assert "No files match" in waited.error_line()


def test_metrics_of_the_store_a_study_a_series_and_an_instance(
    cli_all: Callable[..., list[Result]], api: httpx.Client, cli_store: str
) -> None:
    instance = make_instance()
    body = b"--b\r\nContent-Type: application/dicom\r\n\r\n" + part10(instance) + b"\r\n--b--\r\n"
    api.post(
        f"{cli_store}/dicomWeb/studies",
        content=body,
        headers={"Content-Type": DICOMWEB_STORE_CONTENT_TYPE},
    ).raise_for_status()
    study, series, sop = (
        instance.StudyInstanceUID, instance.SeriesInstanceUID, instance.SOPInstanceUID
    )  # fmt: skip
    results = cli_all(
        ["dicom-stores", "get-metrics", cli_store, "-f", "json"],
        ["dicom-stores", "get-metrics", cli_store, "--study", study, "-f", "json"],
        ["dicom-stores", "get-metrics", cli_store, "--study", study, "--series", series, "-f",
         "json"],
        ["dicom-stores", "get-storage-info", cli_store, "--study", study, "--series", series,
         "--instance", sop, "-f", "json"],
    )  # fmt: skip
    store_metrics, study_metrics, series_metrics, storage = (
        json.loads(result.ok().stdout) for result in results
    )
    web = f"{cli_store}/dicomWeb/studies/{study}"
    assert store_metrics == api.get(f"{cli_store}:getDICOMStoreMetrics").json()
    assert store_metrics["instanceCount"] == "1"
    assert study_metrics == api.get(f"{web}:getStudyMetrics").json()
    assert series_metrics == api.get(f"{web}/series/{series}:getSeriesMetrics").json()
    assert storage == api.get(f"{web}/series/{series}/instances/{sop}:getStorageInfo").json()
    assert storage["referencedResource"].endswith(sop)


# -- methods dicomstore does not serve ------------------------------------------------------------

UNSERVED = {
    "datasets.deidentify": ["datasets", "deidentify", "{dataset}", "--destination-dataset",
                            "deid", "--config", '{"dicom": {"keepList": {"tags": ["PatientID"]}}}'],
    "datasets.getIamPolicy": ["datasets", "get-iam-policy", "{dataset}", "--policy-version", "3"],
    "datasets.setIamPolicy": ["datasets", "set-iam-policy", "{dataset}", "{policy}"],
    "datasets.testIamPermissions": ["datasets", "test-iam-permissions", "{dataset}",
                                    "healthcare.datasets.get,healthcare.datasets.update"],
    "dicomStores.deidentify": ["dicom-stores", "deidentify", "{store}", "--destination-store",
                               "deid", "--config", "{config}", "--filter-config", "gs://b/f.txt"],
    "dicomStores.setBlobStorageSettings": ["dicom-stores", "set-blob-storage-settings", "{store}",
                                           "--storage-class", "archive"],
    "studies.setBlobStorageSettings": ["dicom-stores", "set-blob-storage-settings", "{store}",
                                       "--storage-class", "COLDLINE", "--study", "1.2.3"],
    "dicomStores.getIamPolicy": ["dicom-stores", "get-iam-policy", "{store}"],
    "dicomStores.setIamPolicy": ["dicom-stores", "set-iam-policy", "{store}", "{policy}",
                                 "--update-mask", "bindings"],
    "dicomStores.testIamPermissions": ["dicom-stores", "test-iam-permissions", "{store}",
                                       "healthcare.dicomStores.dicomWebRead"],
}  # fmt: skip
POLICY = {"bindings": [{"role": "roles/healthcare.dicomViewer", "members": ["user:a@b.c"]}]}


def _commands(dataset: str, store: str, tmp_path: Path) -> dict[str, list[str]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    config = tmp_path / "deid.json"
    config.write_text(json.dumps({"dicom": {"filterProfile": "MINIMAL_KEEP_LIST_PROFILE"}}))
    values = {"{dataset}": dataset, "{store}": store, "{policy}": str(policy),
              "{config}": f"@{config}"}  # fmt: skip
    return {method: [values.get(arg, arg) for arg in args] for method, args in UNSERVED.items()}


def test_methods_the_server_does_not_serve_fail_with_one_line(
    cli_all: Callable[..., list[Result]], cli_store: str, tmp_path: Path
) -> None:
    dataset = cli_store.rsplit("/dicomStores/", 1)[0]
    commands = _commands(dataset, cli_store, tmp_path)
    # One of each kind (the rest fail the same way): long-running, on a study, IAM.
    kinds = ("datasets.deidentify", "studies.setBlobStorageSettings", "dicomStores.getIamPolicy")
    results = cli_all(*(commands[kind] for kind in kinds))
    for result in results:
        assert result.error_line() == "dicomstore: error: NOT_FOUND (404): Method not found."


class _Recorder(BaseHTTPRequestHandler):
    """Records each request and answers as Google would: a finished operation for the
    long-running methods, the policy for IAM ones, the permissions asked for."""

    requests: list[dict[str, Any]]

    def _answer(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append(
            {"method": self.command, "path": url.path, "query": parse_qs(url.query),
             "body": body, "authorization": self.headers.get("authorization")}
        )  # fmt: skip
        verb = url.path.rsplit(":", 1)[-1]
        dataset = "/".join(url.path.split(":")[0].split("/")[2:8])
        answer: Any
        if verb in ("deidentify", "setBlobStorageSettings"):  # started, not done yet
            counter = {"success": "1", "pending": "1"}
            answer = {"name": f"{dataset}/operations/42", "metadata": {"counter": counter}}
        elif "/operations/" in url.path:
            answer = {"name": url.path.removeprefix("/v1/"), "done": True, "response": {}}
        elif verb == "testIamPermissions":
            answer = {"permissions": body["permissions"][:1]}
        else:
            answer = {"version": 1, "etag": "BwX=", **POLICY}
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for Google's endpoint that records what it is sent."""
    requests: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def test_unserved_methods_send_the_discovery_documents_requests(
    recorder: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """In this process (the request is what is checked here, not the program around it)."""
    endpoint, requests = recorder
    dataset = "projects/p/locations/l/datasets/d"
    store = f"{dataset}/dicomStores/s"
    env = {"DICOMSTORE_ENDPOINT": endpoint, "DICOMSTORE_TOKEN": "secret-token",
           "DICOMSTORE_PROJECT": None, "DICOMSTORE_LOCATION": None}  # fmt: skip
    commands = _commands(dataset, store, tmp_path)
    commands["dicomStores.deidentify"].append("--wait")
    runner = CliRunner()
    results = [runner.invoke(app, args, env=env) for args in commands.values()]
    for result in results:
        assert result.exit_code == 0, result.output
    seen = {(r["method"], r["path"]): r for r in requests}
    assert all(r["authorization"] == "Bearer secret-token" for r in requests)

    def sent(method: str, path: str) -> dict[str, Any]:
        return seen[(method, f"/v1/{path}")]

    assert sent("POST", f"{dataset}:deidentify")["body"] == {
        "destinationDataset": "projects/p/locations/l/datasets/deid",
        "config": {"dicom": {"keepList": {"tags": ["PatientID"]}}},
    }
    assert sent("POST", f"{store}:deidentify")["body"] == {
        "destinationStore": f"{dataset}/dicomStores/deid",
        "config": {"dicom": {"filterProfile": "MINIMAL_KEEP_LIST_PROFILE"}},
        "filterConfig": {"resourcePathsGcsUri": "gs://b/f.txt"},
    }
    assert ("GET", f"/v1/{dataset}/operations/42") in seen  # --wait polled the operation
    assert sent("POST", f"{store}:setBlobStorageSettings")["body"] == {
        "blobStorageSettings": {"blobStorageClass": "ARCHIVE"}
    }
    assert sent("POST", f"{store}/dicomWeb/studies/1.2.3:setBlobStorageSettings")["body"] == {
        "blobStorageSettings": {"blobStorageClass": "COLDLINE"}
    }
    assert sent("GET", f"{dataset}:getIamPolicy")["query"] == {
        "options.requestedPolicyVersion": ["3"]
    }
    assert sent("GET", f"{store}:getIamPolicy")["query"] == {}
    assert sent("POST", f"{dataset}:setIamPolicy")["body"] == {"policy": POLICY}
    assert sent("POST", f"{store}:setIamPolicy")["body"] == {
        "policy": POLICY,
        "updateMask": "bindings",
    }
    assert sent("POST", f"{dataset}:testIamPermissions")["body"] == {
        "permissions": ["healthcare.datasets.get", "healthcare.datasets.update"]
    }
    granted = results[list(commands).index("datasets.testIamPermissions")].stdout
    assert "healthcare.datasets.get" in granted and "yes" in granted and "no" in granted
    assert sent("POST", f"{store}:testIamPermissions")["body"] == {
        "permissions": ["healthcare.dicomStores.dicomWebRead"]
    }
