"""Malformed requests over raw HTTP, against the real server on each engine.

Every one must be answered 4xx with Google's envelope ``{"error": {"code", "message", "status"}}``
as ``application/json`` — never 5xx — and must leave nothing half-done: a failed create creates
nothing, a failed patch changes nothing.
"""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LOCATION

# A message for each kind of error, so a refusal for the wrong reason does not pass.
NOT_FOUND = "NOT_FOUND"
INVALID = "INVALID_ARGUMENT"


def google_error(response: httpx.Response, code: int, status: str, says: str = "") -> str:
    """Check ``response`` is Google's JSON error envelope with ``code``/``status``; its message."""
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    assert says in error["message"]
    return str(error["message"])


def invalid(response: httpx.Response, says: str = "") -> str:
    return google_error(response, 400, INVALID, says)


@pytest.fixture
def project_location() -> str:
    """A location of a project no other test uses, to tell that nothing was created in it."""
    return f"projects/bad-input-{uuid.uuid4().hex[:8]}/locations/us-central1"


@pytest.fixture
def stores(http: httpx.Client, dataset: str) -> str:
    """The dicomStores collection of a fresh dataset, as a URL path."""
    return f"/v1/{dataset}/dicomStores"


@pytest.fixture
def store(http: httpx.Client, stores: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """A store with every kind of configuration set: its URL path and its resource."""
    body = {
        "labels": {"env": "dev", "team": "imaging"},
        "notificationConfig": {"pubsubTopic": "projects/p/topics/legacy"},
        "notificationConfigs": [{"pubsubTopic": "projects/p/topics/t1"}],
        "streamConfigs": [{"bigqueryDestination": {"tableUri": "bq://p.d.t"}}],
    }
    created = http.post(stores, params={"dicomStoreId": "configured"}, json=body)
    assert created.status_code == 200, created.text
    yield f"{stores}/configured", created.json()


# --- request bodies ---------------------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000

BAD_STORE_BODIES = [
    # not JSON
    (b"{", "Invalid JSON payload received."),
    (b'{"labels": {"env": "prod"}', "Invalid JSON payload received."),
    (b'{"labels": {}} trailing', "Invalid JSON payload received."),
    (b"\xff\xfe\x00{", "Invalid JSON payload received."),
    (b"{'labels': {}}", "Invalid JSON payload received."),
    (b'{"labels": ' + DEEP + b"}", "nested too deeply"),
    (DEEP, "nested too deeply"),
    # JSON, but not an object
    (b"[]", "Expected an object for 'dicom_store'"),
    (b"1", "Expected an object for 'dicom_store'"),
    (b'"store"', "Expected an object for 'dicom_store'"),
    (b"null", "Expected an object for 'dicom_store'"),
    (b"true", "Expected an object for 'dicom_store'"),
    # unknown fields, at the top and nested
    (b'{"foo": 1}', "Unknown name \"foo\" at 'dicom_store': Cannot find field."),
    (b'{"labels": {}, "blobStorageSettings": {}}', 'Unknown name "blobStorageSettings"'),
    (b'{"notificationConfig": {"foo": 1}}', "at 'dicom_store.notification_config'"),
    (b'{"notificationConfigs": [{"sendForBulkImport": true}]}', 'Unknown name "sendForBulkImport"'),
    (b'{"streamConfigs": [{"bigqueryDestination": {"foo": 1}}]}',
     "at 'dicom_store.stream_configs[0].bigquery_destination'"),
    (b'{"\\ud800": 1}', "Unknown name"),
    # wrong types
    (b'{"labels": ["env"]}', "Invalid value at 'dicom_store.labels'"),
    (b'{"labels": "env=prod"}', "Invalid value at 'dicom_store.labels'"),
    (b'{"labels": {"env": 1}}', "Invalid value at 'dicom_store.labels[env]' (TYPE_STRING), 1"),
    (b'{"name": 5}', "Invalid value at 'dicom_store.name' (TYPE_STRING)"),
    (b'{"notificationConfigs": {}}', "Invalid value at 'dicom_store.notification_configs'"),
    (b'{"streamConfigs": [1]}', "Invalid value at 'dicom_store.stream_configs[0]'"),
    (b'{"notificationConfig": {"sendForBulkImport": "yes"}}', "(TYPE_BOOL)"),
    (b'{"streamConfigs": [{"bigqueryDestination": {"tableUri": "bq://p.d.t", "force": "true"}}]}',
     "(TYPE_BOOL)"),
    (b'{"streamConfigs": [{"bigqueryDestination": {"writeDisposition": "WRITE_SOMETIMES"}}]}',
     "stream_configs[0].bigquery_destination.write_disposition' (TYPE_ENUM), \"WRITE_SOMETIMES\""),
    (b'{"notificationConfig": {"pubsubTopic": "projects/p/topics/\\ud800"}}', "(TYPE_STRING)"),
    # well-formed, but invalid values
    (b'{"labels": {"Env": "prod"}}', "Invalid label key 'Env'"),
    (b'{"labels": {"env": "Prod"}}', "Invalid value 'Prod' for label 'env'"),
    (json.dumps({"labels": {"k" * 64: ""}}).encode(), "too long"),
    (json.dumps({"labels": {f"k{i}": "" for i in range(65)}}).encode(),
     "At most 64 labels are allowed; got 65."),
    (b'{"notificationConfig": {"pubsubTopic": "my-topic"}}',
     "Invalid notificationConfig.pubsubTopic 'my-topic'"),
    (b'{"notificationConfigs": [{"pubsubTopic": "projects/p/topics/t"}, {}]}',
     "Invalid notificationConfigs[1].pubsubTopic ''"),
    (b'{"notificationConfigs": [{"pubsubTopic": "projects/p/subscriptions/s"}]}',
     "expected projects/PROJECT_ID/topics/TOPIC_ID"),
    (b'{"streamConfigs": [{"bigqueryDestination": {"tableUri": "p.d.t"}}]}',
     "Invalid streamConfigs[0].bigqueryDestination.tableUri 'p.d.t'"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "says"), BAD_STORE_BODIES)
def test_a_bad_store_body_is_refused_and_creates_nothing(
    http: httpx.Client, stores: str, body: bytes, says: str
) -> None:
    answer = http.post(
        stores, params={"dicomStoreId": "s"}, content=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    invalid(answer, says)
    google_error(http.get(f"{stores}/s"), 404, NOT_FOUND)
    assert http.get(stores).json() == {}


BAD_DATASET_BODIES = [
    (b"{", "Invalid JSON payload received."),
    (b"[]", "Expected an object for 'dataset'"),
    (b'{"foo": 1}', "Unknown name \"foo\" at 'dataset': Cannot find field."),
    (b'{"labels": {}}', 'Unknown name "labels" at \'dataset\''),  # datasets have no labels
    (b'{"encryptionSpec": {"foo": 1}}', "at 'dataset.encryption_spec'"),
    (b'{"timeZone": 5}', "Invalid value at 'dataset.time_zone' (TYPE_STRING), 5"),
    (b'{"timeZone": "Mars/Olympus_Mons"}', "Invalid timeZone 'Mars/Olympus_Mons'"),
    (b'{"timeZone": "../../etc/passwd"}', "Invalid timeZone"),
    (b'{"timeZone": "/etc/localtime"}', "Invalid timeZone"),
    (b'{"encryptionSpec": {"kmsKeyName": "my-key"}}', "Invalid encryptionSpec.kmsKeyName 'my-key'"),
    (b'{"encryptionSpec": {"kmsKeyName": "projects/p/locations/us-central1/keyRings/r"}}',
     "expected projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}"),
    (b'{"encryptionSpec": {"kmsKeyName": "projects/p/locations/eu/keyRings/r/cryptoKeys/k"}}',
     "The KMS key must be in the dataset's location 'us-central1'"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "says"), BAD_DATASET_BODIES)
def test_a_bad_dataset_body_is_refused_and_creates_nothing(
    http: httpx.Client, project_location: str, body: bytes, says: str
) -> None:
    datasets = f"/v1/{project_location}/datasets"
    invalid(http.post(datasets, params={"datasetId": "ds"}, content=body), says)
    google_error(http.get(f"{datasets}/ds"), 404, NOT_FOUND)
    assert http.get(datasets).json() == {}


# --- IDs and names ----------------------------------------------------------------------------

BAD_IDS = [
    ("", "must not be empty"),
    ("x" * 257, "is 257 characters long; the maximum is 256"),
    ("a%20b", "' '"),
    ("a+b", "' '"),  # a plus in a query string is a space
    ("a%2Fb", "'/'"),
    ("a/b", "'/'"),
    ("..", "'..' is not a valid ID"),
    (".", "'.' is not a valid ID"),
    ("a%3Ab", "':'"),
    ("a%00b", "'\\x00'"),
    ("%F0%9F%98%80", "may contain only letters, numbers, underscores, dashes and periods"),
]


@pytest.mark.parametrize(("raw_id", "says"), BAD_IDS)
def test_a_bad_dataset_id_is_refused(
    http: httpx.Client, project_location: str, raw_id: str, says: str
) -> None:
    datasets = f"/v1/{project_location}/datasets"
    message = invalid(http.post(f"{datasets}?datasetId={raw_id}", json={}), says)
    assert message.startswith("Dataset ID")
    assert http.get(datasets).json() == {}


@pytest.mark.parametrize(("raw_id", "says"), BAD_IDS)
def test_a_bad_dicom_store_id_is_refused(
    http: httpx.Client, stores: str, raw_id: str, says: str
) -> None:
    message = invalid(http.post(f"{stores}?dicomStoreId={raw_id}", json={}), says)
    assert message.startswith("DICOM store ID")
    assert http.get(stores).json() == {}


def test_a_missing_id_is_refused(http: httpx.Client, stores: str, project_location: str) -> None:
    invalid(http.post(stores, json={}), "DICOM store ID must not be empty.")
    invalid(http.post(f"/v1/{project_location}/datasets", json={}), "Dataset ID must not be empty.")


@pytest.mark.parametrize("store_id", ["x" * 256, "été", "数据", "ct.scans_2024-01", "..."])
def test_ids_at_the_edge_of_the_rule_are_accepted(
    http: httpx.Client, stores: str, store_id: str
) -> None:
    created = http.post(stores, params={"dicomStoreId": store_id}, json={})
    assert created.status_code == 200, created.text
    assert http.get(f"{stores}/{store_id}").json() == created.json()


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/datasets/" + "x" * 257, "Dataset ID 'xxxxxxxx"),
        ("/datasets/a%20b", "Dataset ID 'a b' is invalid"),
        ("/datasets/%2E%2E", "Dataset ID '..' is not a valid ID."),
        ("/datasets/%2E", "Dataset ID '.' is not a valid ID."),
        ("/datasets/a%2Fb", "encoded slashes"),
        ("/datasets/a%2fb/dicomStores", "encoded slashes"),
        ("/datasets/ds/dicomStores/a%2Fb", "encoded slashes"),
        ("/datasets/ds/dicomStores/%2E%2E", "DICOM store ID '..' is not a valid ID."),
        ("/datasets/ds/dicomStores/a%40b", "DICOM store ID 'a@b' is invalid"),
        ("/datasets/ds/operations/a%40b", "Invalid operation ID 'a@b'"),
    ],
)
def test_a_bad_id_in_the_path_is_refused(http: httpx.Client, path: str, says: str) -> None:
    for method in ("GET",) if "/operations/" in path else ("GET", "DELETE"):
        invalid(http.request(method, f"/v1/{LOCATION}{path}"), says)


def _raw_get(http: httpx.Client, target: str) -> httpx.Response:
    """GET ``target`` byte for byte; httpx itself would resolve ``.`` and ``..`` segments."""
    with socket.create_connection((http.base_url.host, http.base_url.port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/datasets/ds/dicomStores/..", "DICOM store ID '..' is not a valid ID."),
        ("/datasets/./dicomStores", "Dataset ID '.' is not a valid ID."),
        ("/datasets/..", "Dataset ID '..' is not a valid ID."),
    ],
)
def test_dot_segments_are_ids_and_refused_not_resolved(
    http: httpx.Client, path: str, says: str
) -> None:
    invalid(_raw_get(http, f"/v1/{LOCATION}{path}"), says)


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ("projects/P!/locations/us", "Invalid project ID 'P!'"),
        ("projects/-p/locations/us", "Invalid project ID '-p'"),
        ("projects/%20/locations/us", "Invalid project ID ' '"),
        ("projects/%E2%84%AA/locations/us", "Invalid project ID"),  # KELVIN SIGN, not "k"
        ("projects/" + "p" * 101 + "/locations/us", "Invalid project ID"),
        ("projects/p/locations/US", "Invalid location ID 'US'"),
        ("projects/p/locations/us_central1", "Invalid location ID 'us_central1'"),
        ("projects/p/locations/us:x", "Invalid location ID 'us:x'"),
    ],
)
def test_bad_project_and_location_ids_are_refused(
    http: httpx.Client, location: str, says: str
) -> None:
    invalid(http.get(f"/v1/{location}"), says)
    invalid(http.get(f"/v1/{location}/datasets"), says)
    invalid(http.post(f"/v1/{location}/datasets?datasetId=ds", json={}), says)


# --- patch ------------------------------------------------------------------------------------

BAD_STORE_PATCHES = [
    ("", {"labels": {}}, "updateMask is required"),
    ("updateMask=", {"labels": {}}, "updateMask is required"),
    ("updateMask=,", {"labels": {}}, "updateMask is required"),
    ("updateMask=foo", {"labels": {}}, "Invalid updateMask path 'foo'"),
    ("updateMask=name", {"name": "projects/p/locations/l/datasets/d/dicomStores/x"},
     "Invalid updateMask path 'name'"),
    ("updateMask=labels,foo", {"labels": {}}, "Invalid updateMask path 'foo'"),
    ("updateMask=labels.env", {"labels": {"env": "x"}}, "Invalid updateMask path 'labels.env'"),
    ("updateMask=labels&updateMask=streamConfigs", {"labels": {}},
     "Parameter 'updateMask' was given more than once."),
    ("update_mask=labels&updateMask=streamConfigs", {"labels": {}}, "given more than once"),
    ("updateMask=labels", {"labels": {"Env": "prod"}}, "Invalid label key 'Env'"),
    ("updateMask=labels", {"labels": ["env"]}, "Invalid value at 'dicom_store.labels'"),
    ("updateMask=labels", {"labelz": {}}, 'Unknown name "labelz"'),
    ("updateMask=labels,streamConfigs",
     {"labels": {"env": "prod"}, "streamConfigs": [{"bigqueryDestination": {"tableUri": "x"}}]},
     "Invalid streamConfigs[0].bigqueryDestination.tableUri 'x'"),
    ("updateMask=labels,notificationConfigs",
     {"labels": {"env": "prod"}, "notificationConfigs": [{"pubsubTopic": "t"}]},
     "Invalid notificationConfigs[0].pubsubTopic 't'"),
    ("updateMask=notificationConfig", {"notificationConfig": {"pubsubTopic": "topics/t"}},
     "Invalid notificationConfig.pubsubTopic 'topics/t'"),
    ("updateMask=labels&fields=(", {"labels": {"env": "prod"}}, "Invalid field selection '('."),
    ("updateMask=labels&prettyPrint=maybe", {"labels": {"env": "prod"}}, "prettyPrint"),
    ("updateMask=labels&alt=media", {"labels": {"env": "prod"}}, "alt=media"),
    ("updateMask=labels&labels.env=prod", {"labels": {"env": "prod"}}, 'Unknown name "labels.env"'),
]  # fmt: skip


@pytest.mark.parametrize(("query", "body", "says"), BAD_STORE_PATCHES)
def test_a_bad_store_patch_is_refused_and_changes_nothing(
    http: httpx.Client, store: tuple[str, dict[str, Any]], query: str, body: Any, says: str
) -> None:
    path, before = store
    invalid(http.patch(f"{path}?{query}", json=body), says)
    assert http.get(path).json() == before


@pytest.mark.parametrize(
    ("query", "body", "says"),
    [
        ("", {"timeZone": "Europe/Paris"}, "updateMask is required"),
        ("updateMask=encryptionSpec", {"encryptionSpec": {}}, "updatable fields: timeZone"),
        ("updateMask=name", {"name": "x"}, "Invalid updateMask path 'name'"),
        ("updateMask=timeZone", {"timeZone": "Europe/Pariss"}, "Invalid timeZone 'Europe/Pariss'"),
        ("updateMask=timeZone", {"timeZone": ["Europe/Paris"]}, "(TYPE_STRING)"),
        ("updateMask=timeZone&fields=a)", {"timeZone": "Europe/Paris"}, "Invalid field selection"),
    ],
)
def test_a_bad_dataset_patch_is_refused_and_changes_nothing(
    http: httpx.Client, dataset: str, query: str, body: Any, says: str
) -> None:
    before = http.get(f"/v1/{dataset}").json()
    invalid(http.patch(f"/v1/{dataset}?{query}", json=body), says)
    assert http.get(f"/v1/{dataset}").json() == before


def test_patching_a_missing_store_is_not_found(http: httpx.Client, stores: str) -> None:
    google_error(
        http.patch(f"{stores}/absent?updateMask=labels", json={"labels": {}}), 404, NOT_FOUND
    )
    google_error(http.get(f"{stores}/absent"), 404, NOT_FOUND)


def test_a_bad_cancel_body_is_refused_and_changes_nothing(http: httpx.Client, dataset: str) -> None:
    (operation,) = http.get(f"/v1/{dataset}/operations").json()["operations"]
    cancel = f"/v1/{operation['name']}:cancel"
    invalid(http.post(cancel, json={"force": True}), 'Unknown name "force" at \'cancel_operation')
    invalid(http.post(cancel, content=b"[]"), "Expected an object")
    assert http.get(f"/v1/{operation['name']}").json() == operation


def test_a_bad_selector_on_create_creates_nothing(http: httpx.Client, stores: str) -> None:
    invalid(http.post(f"{stores}?dicomStoreId=s&fields=name(", json={}), "Invalid field selection")
    google_error(http.get(f"{stores}/s"), 404, NOT_FOUND)


# --- list parameters --------------------------------------------------------------------------


@pytest.fixture
def labelled(http: httpx.Client, stores: str) -> str:
    """Three stores: prod/imaging, prod/research, dev/imaging."""
    for store_id, env, team in (("a", "prod", "imaging"), ("b", "prod", "research"),
                                ("c", "dev", "imaging")):  # fmt: skip
        body = {"labels": {"env": env, "team": team}}
        assert http.post(stores, params={"dicomStoreId": store_id}, json=body).status_code == 200
    return stores


def _ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [store["name"].rsplit("/", 1)[1] for store in answer.json().get("dicomStores", [])]


@pytest.mark.parametrize(
    ("raw_filter", "ids"),
    [
        ("labels.env%3Dprod+AND+labels.team%3Dimaging", ["a"]),  # spaces encoded as +
        ("labels.env%3Dprod%20AND%20labels.team%3Dimaging", ["a"]),
        ("labels.env=prod+labels.team=research", ["b"]),
        ("labels.team%3Dresearch+OR+labels.env%3Ddev", ["b", "c"]),
        ("NOT+labels.env%3Dprod", ["c"]),
        ("labels.team%3A*", ["a", "b", "c"]),
        ("labels.env%3D%22prod%22", ["a", "b"]),
    ],
)
def test_filters_in_query_strings_are_understood(
    http: httpx.Client, labelled: str, raw_filter: str, ids: list[str]
) -> None:
    assert _ids(http.get(f"{labelled}?filter={raw_filter}")) == ids


@pytest.mark.parametrize(
    ("filter_text", "says"),
    [
        ("name=projects/p", "only labels can be filtered on"),
        ("labels.env!=prod", "operator '!=' is not supported"),
        ("labels.env<prod", "operator '<' is not supported"),
        ("(labels.env=prod", "unexpected end of filter"),
        ("labels.env=prod)", "unexpected ')'"),
        ("labels.env=prod garbage", "cannot filter on 'garbage'"),
        ("labels.env=prod AND", "unexpected end of filter"),
        ('labels.env="prod', "unterminated quoted string"),
        ("   ", "the filter is empty"),
        ("(" * 1000 + "labels.env=prod" + ")" * 1000, "nested"),
        ("NOT " * 1000 + "labels.env=prod", "nested"),
    ],
)
def test_a_bad_filter_is_refused(
    http: httpx.Client, stores: str, filter_text: str, says: str
) -> None:
    message = invalid(http.get(stores, params={"filter": filter_text}), says)
    assert message.startswith("Invalid filter ")
    assert len(message) < 300


def _list_paths(dataset: str) -> list[str]:
    return [
        "/v1/projects/p/locations",
        f"/v1/{LOCATION}/datasets",
        f"/v1/{dataset}/dicomStores",
        f"/v1/{dataset}/operations",
    ]


@pytest.mark.parametrize(
    ("page_size", "says"),
    [
        ("abc", "Invalid value at 'page_size' (TYPE_INT32), \"abc\""),
        ("1.5", '(TYPE_INT32), "1.5"'),
        ("5_0", '(TYPE_INT32), "5_0"'),
        ("%D9%A5", "(TYPE_INT32)"),  # ARABIC-INDIC DIGIT FIVE
        ("+5", '(TYPE_INT32), " 5"'),  # a plus is a space
        ("2147483648", '(TYPE_INT32), "2147483648"'),
        ("-1", "pageSize must not be negative; got -1."),
        ("-2147483648", "pageSize must not be negative"),
    ],
)
def test_a_bad_page_size_is_refused_by_every_list(
    http: httpx.Client, dataset: str, page_size: str, says: str
) -> None:
    for path in _list_paths(dataset):
        invalid(http.get(f"{path}?pageSize={page_size}"), says)


def _token(state: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "%25%25%25",
        "eyJ9",
        _token([1]),
        # well-formed tokens with forged keys, for the unfiltered query
        _token({"after": True, "query": "e3b0c44298fc"}),
        _token({"after": 1.5, "query": "e3b0c44298fc"}),
        _token({"after": {"a": 1}, "query": "e3b0c44298fc"}),
        _token({"after": 10**30, "query": "e3b0c44298fc"}),
        _token({"after": "\x00", "query": "e3b0c44298fc"}),
        _token({"after": "\ud800", "query": "e3b0c44298fc"}),
    ],
)
def test_a_bad_page_token_is_refused_by_every_list(
    http: httpx.Client, dataset: str, token: str
) -> None:
    for path in _list_paths(dataset):
        invalid(http.get(f"{path}?pageToken={token}"), "Invalid page token")


def test_a_page_token_is_bound_to_its_filter_and_its_list(
    http: httpx.Client, labelled: str, dataset: str
) -> None:
    first = http.get(labelled, params={"filter": "labels.env=prod", "pageSize": 1}).json()
    token = first["nextPageToken"]
    page = http.get(labelled, params={"filter": "labels.env=prod", "pageToken": token})
    assert _ids(page) == ["b"]
    for other in ({"filter": "labels.env=dev"}, {}):
        answer = http.get(labelled, params={**other, "pageToken": token})
        invalid(answer, "The page token does not belong to this query.")
    operations_token = _token({"after": 5, "query": "e3b0c44298fc"})  # an operation's position
    invalid(http.get(f"/v1/{LOCATION}/datasets", params={"pageToken": operations_token}))


# --- query parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "says"),
    [
        ("/datasets/{ds}", "foo=bar", 'Unknown name "foo": Cannot bind query parameter.'),
        ("/datasets/{ds}", "datasetId=x", 'Unknown name "datasetId"'),
        ("/datasets", "filter=x", 'Unknown name "filter"'),  # datasets.list has no filter
        ("/datasets/{ds}/dicomStores", "updateMask=labels", 'Unknown name "updateMask"'),
        ("/datasets/{ds}/dicomStores", "pageSize=1&pageSize=2",
         "Parameter 'pageSize' was given more than once."),
        ("/datasets/{ds}/dicomStores", "pageSize=1&page_size=2", "given more than once"),
        ("/datasets/{ds}/dicomStores", "filter=labels.a%3D1&filter=labels.a%3D2",
         "Parameter 'filter' was given more than once."),
        ("/datasets/{ds}", "alt=media", "alt=media is not supported for this method"),
        ("/datasets/{ds}", "alt=proto", "alt=proto is not supported for this method"),
        ("/datasets/{ds}", "prettyPrint=maybe", "Invalid value for prettyPrint: 'maybe'."),
        ("/datasets/{ds}", "%24.xgafv=3", "Invalid value for $.xgafv: '3'"),
        ("/datasets/{ds}", "fields=(", "Invalid field selection '('."),
        ("/datasets/{ds}", "fields=name,,timeZone", "Invalid field selection"),
        ("/datasets/{ds}", "fields=" + "a(" * 1000, "nested more than"),
        ("/datasets/{ds}/operations", "returnPartialSuccess=maybe",
         "Invalid value at 'return_partial_success' (TYPE_BOOL), \"maybe\""),
    ],
)  # fmt: skip
def test_bad_query_parameters_are_refused(
    http: httpx.Client, dataset: str, path: str, query: str, says: str
) -> None:
    dataset_id = dataset.rsplit("/", 1)[1]
    invalid(http.get(f"/v1/{LOCATION}{path.format(ds=dataset_id)}?{query}"), says)


def test_returning_partial_success_is_unimplemented(http: httpx.Client, dataset: str) -> None:
    answer = http.get(f"/v1/{dataset}/operations?returnPartialSuccess=true")
    google_error(answer, 501, "UNIMPLEMENTED", "returnPartialSuccess")


def test_system_parameters_are_accepted(http: httpx.Client, dataset: str) -> None:
    expected = http.get(f"/v1/{dataset}").json()
    for query in ("%24.xgafv=1", "%24.xgafv=2", "key=AIzaFake", "alt=json", "quotaUser=me",
                  "access_token=t", "oauth_token=t", "prettyPrint=true", "uploadType=media",
                  "upload_protocol=raw"):  # fmt: skip
        answer = http.get(f"/v1/{dataset}?{query}")
        assert answer.status_code == 200, (query, answer.text)
        assert answer.json() == expected


def test_pretty_print_false_answers_compact_json(
    http: httpx.Client, store: tuple[str, dict[str, Any]]
) -> None:
    path, resource = store
    compact = http.get(f"{path}?prettyPrint=false")
    assert compact.headers["content-type"].startswith("application/json")
    assert compact.text.rstrip("\n") == json.dumps(resource, separators=(",", ":"))
    pretty = http.get(path)
    assert "\n  " in pretty.text and pretty.json() == resource


def test_fields_trims_the_answer(
    http: httpx.Client, stores: str, store: tuple[str, dict[str, Any]]
) -> None:
    path, resource = store
    assert http.get(f"{path}?fields=name").json() == {"name": resource["name"]}
    assert http.get(f"{path}?fields=labels/env,name").json() == {
        "name": resource["name"], "labels": {"env": "dev"},
    }  # fmt: skip
    assert http.get(f"{stores}?fields=dicomStores(name)").json() == {
        "dicomStores": [{"name": resource["name"]}]
    }
    patched = http.patch(f"{path}?updateMask=labels&fields=labels", json={"labels": {"a": "b"}})
    assert patched.json() == {"labels": {"a": "b"}}


def test_query_parameters_bind_by_proto_name_too(http: httpx.Client, labelled: str) -> None:
    first = http.get(f"{labelled}?page_size=2").json()
    assert len(first["dicomStores"]) == 2
    rest = http.get(labelled, params={"page_size": 2, "page_token": first["nextPageToken"]})
    assert _ids(rest) == ["c"]


# --- methods and paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/datasets/{ds}"),
        ("POST", "/datasets/{ds}"),
        ("DELETE", "/datasets"),
        ("PATCH", "/datasets"),
        ("PUT", "/datasets/{ds}/dicomStores/s"),
        ("POST", "/datasets/{ds}/dicomStores/s"),
        ("DELETE", "/datasets/{ds}/dicomStores"),
        ("POST", ""),
        ("DELETE", ""),
        ("GET", "/datasets/{ds}/operations/1:cancel"),
        ("DELETE", "/datasets/{ds}/operations/1"),
        ("OPTIONS", "/datasets/{ds}"),
        # unknown paths
        ("GET", "/datasets/{ds}/fhirStores"),
        ("GET", "/datasets/{ds}/dicomStores/s/extra"),
        ("GET", "/datasets/{ds}:frobnicate"),
        ("POST", "/datasets/{ds}/dicomStores/s:frobnicate"),
        ("GET", "/datasets/"),  # trailing slashes are not redirected
        ("GET", "/datasets/{ds}/"),
        ("GET", "//datasets"),
    ],
)
def test_wrong_methods_and_unknown_paths_are_not_found(
    http: httpx.Client, dataset: str, method: str, path: str
) -> None:
    dataset_id = dataset.rsplit("/", 1)[1]
    answer = http.request(method, f"/v1/{LOCATION}{path.format(ds=dataset_id)}", json={})
    google_error(answer, 404, NOT_FOUND, "Method not found.")
    assert http.get(f"/v1/{dataset}").status_code == 200
    assert http.get(f"/v1/{dataset}/dicomStores").json() == {}


@pytest.mark.parametrize("path", ["/", "/v1", "/v2/projects/p/locations", "/v1/projects"])
def test_paths_outside_the_api_are_not_found(http: httpx.Client, path: str) -> None:
    google_error(http.get(path), 404, NOT_FOUND, "Method not found.")


def test_unknown_resources_are_not_found(http: httpx.Client, dataset: str) -> None:
    for path in (f"/v1/{LOCATION}/datasets/never-made", f"/v1/{dataset}/dicomStores/never-made",
                 f"/v1/{dataset}/operations/123"):  # fmt: skip
        google_error(http.get(path), 404, NOT_FOUND, "not found")


# --- method override --------------------------------------------------------------------------


def test_a_get_tunnelled_through_post_lists_and_creates_nothing(
    http: httpx.Client, labelled: str
) -> None:
    """google-api-python-client and gcloud send a GET whose URL passes 2048 characters this way."""
    answer = http.post(
        labelled,
        content="filter=labels.env%3Dprod&pageSize=1&alt=json",
        headers={"X-HTTP-Method-Override": "GET",
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert _ids(answer) == ["a"] and "nextPageToken" in answer.json()
    assert _ids(http.get(labelled)) == ["a", "b", "c"]


def test_a_long_filter_from_googles_client_is_listed(healthcare: Any, dataset: str) -> None:
    stores = healthcare.projects().locations().datasets().dicomStores()
    stores.create(parent=dataset, dicomStoreId="wanted", body={"labels": {"k": "v"}}).execute()
    long_filter = " OR ".join(f"labels.k=v{index}" for index in range(300)) + " OR labels.k=v"
    assert len(long_filter) > 2048
    listed = stores.list(parent=dataset, filter=long_filter).execute()
    assert [store["name"].rsplit("/", 1)[1] for store in listed["dicomStores"]] == ["wanted"]


def test_a_tunnelled_patch_is_a_patch(
    http: httpx.Client, store: tuple[str, dict[str, Any]]
) -> None:
    path, before = store
    answer = http.post(
        f"{path}?updateMask=labels", json={"labels": {"env": "prod"}},
        headers={"X-HTTP-Method-Override": "PATCH"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert http.get(path).json() == {**before, "labels": {"env": "prod"}}
