"""Parsing every statement form, including each example shape of StackQL's pages, without a
server: what is called with which parameters, and what is left to run on the answers."""

from __future__ import annotations

import json

import pytest
from sqlglot import exp

from dicomstore.sql import SqlError, parse
from dicomstore.sql.schemas import request_body
from dicomstore.sql.statements import (
    DeleteStatement,
    DescribeStatement,
    ExecStatement,
    InsertStatement,
    SelectStatement,
    ShowMethodsStatement,
    ShowResourcesStatement,
    UpdateStatement,
)
from tests.sql import examples
from tests.sql.examples import Place, as_json_string, exec_statement

PLACE = Place("proj-1", "us-central1", "ds-1", "store-1")
STORE = {
    "projectsId": "proj-1",
    "locationsId": "us-central1",
    "datasetsId": "ds-1",
    "dicomStoresId": "store-1",
}
DATASET = {key: STORE[key] for key in ("projectsId", "locationsId", "datasetsId")}
STUDY, SERIES, INSTANCE = "1.2.3", "1.2.3.4", "1.2.3.4.5"


def select(text: str) -> SelectStatement:
    statement = parse(text)
    assert isinstance(statement, SelectStatement)
    return statement


def run_sql(statement: SelectStatement) -> str:
    return statement.query.sql(dialect="sqlite")


# SELECT


def test_get_example_supplies_the_four_path_parameters_and_projects_the_fields() -> None:
    statement = select(examples.get_store(PLACE))
    assert statement.resource.full_name == "google.healthcare.dicom_stores"
    assert statement.parameters == STORE
    assert statement.resource.method_for("select", statement.parameters).name == "get"
    assert statement.projected == {
        "name", "labels", "notificationConfig", "notificationConfigs", "streamConfigs",
    }  # fmt: skip
    assert statement.query.args.get("where") is None


def test_older_list_example_projects_the_page_fields() -> None:
    statement = select(examples.list_stores_page(PLACE, 10, "token-1", "labels.env=prod"))
    assert statement.parameters == {
        **DATASET, "pageSize": "10", "pageToken": "token-1", "filter": "labels.env=prod",
    }  # fmt: skip
    assert statement.resource.method_for("select", statement.parameters).name == "list"
    assert statement.projected == {"dicomStores", "nextPageToken"}


def test_newer_list_example_projects_the_store_fields() -> None:
    statement = select(examples.list_stores(PLACE, 10, "", "labels.env=prod"))
    assert statement.parameters["pageToken"] == ""
    assert statement.resource.method_for("select", statement.parameters).name == "list"
    assert "dicomStores" not in statement.projected


def test_conditions_on_returned_fields_stay_in_the_local_query() -> None:
    statement = select(
        "SELECT name, json_extract(labels, '$.env') AS env FROM google.healthcare.dicom_stores "
        "WHERE projectsId = 'proj-1' AND 'us-central1' = locationsId AND datasetsId = \"ds-1\" "
        "AND (name LIKE '%a%' OR labels IS NULL) AND NOT name IN ('x', 'y') "
        "ORDER BY env DESC LIMIT 3"
    )
    assert statement.parameters == DATASET
    assert run_sql(statement) == (
        "SELECT name, JSON_EXTRACT(labels, '$.env') AS env FROM _rows "
        "WHERE (name LIKE '%a%' OR labels IS NULL) AND NOT name IN ('x', 'y') "
        "ORDER BY env DESC LIMIT 3"
    )


def test_a_parameter_under_or_is_a_condition_not_a_parameter() -> None:
    statement = select(
        "SELECT * FROM google.healthcare.dicom_stores WHERE projectsId = 'p' "
        "AND (datasetsId = 'a' OR datasetsId = 'b')"
    )
    assert statement.parameters == {"projectsId": "p"}
    assert "datasetsId = 'a' OR datasetsId = 'b'" in run_sql(statement)


def test_count_and_alias_keep_their_shape() -> None:
    statement = select(
        "SELECT COUNT(*) AS stores FROM google.healthcare.dicom_stores AS s "
        "WHERE s.projectsId = 'p' AND s.locationsId = 'l' AND s.datasetsId = 'd' "
        "AND s.name != 'x'"
    )
    assert statement.parameters == {"projectsId": "p", "locationsId": "l", "datasetsId": "d"}
    assert run_sql(statement) == "SELECT COUNT(*) AS stores FROM _rows AS s WHERE s.name <> 'x'"


def test_dataset_and_operation_selects() -> None:
    assert select(examples.get_dataset(PLACE)).parameters == DATASET
    page = select(examples.list_datasets_page(PLACE, 5, "t"))
    assert page.parameters == {**{k: DATASET[k] for k in ("projectsId", "locationsId")},
                               "pageSize": "5", "pageToken": "t"}  # fmt: skip
    assert page.resource.method_for("select", page.parameters).name == "list"
    operation = select(examples.get_operation(PLACE, "42"))
    assert operation.parameters == {**DATASET, "operationsId": "42"}
    assert operation.resource.method_for("select", operation.parameters).name == "get"
    operations = select(examples.list_operations_page(PLACE, "done=true", 2, ""))
    assert operations.parameters["filter"] == "done=true"
    assert operations.projected == {"nextPageToken", "operations"}


def test_missing_parameters_are_named_in_stackql_words() -> None:
    statement = select("SELECT * FROM google.healthcare.dicom_stores WHERE projectsId = 'p'")
    with pytest.raises(SqlError) as error:
        statement.resource.method_for("select", statement.parameters)
    assert str(error.value) == (
        "cannot find matching operation, possible causes include missing required parameters "
        "or an unsupported method for the resource, to find required parameters for supported "
        "methods run SHOW METHODS IN google.healthcare.dicom_stores: query cannot be executed, "
        "missing required parameters: { locationsId, datasetsId }"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT * FROM google.healthcare.fhir_stores WHERE a = 'b'",
         "unknown resource 'google.healthcare.fhir_stores'; known resources: "
         "google.healthcare.datasets, google.healthcare.dicom_stores, "
         "google.healthcare.operations"),
        ("SELECT * FROM dicom_stores", "unknown resource 'dicom_stores'"),
        ("SELECT 1", "SELECT needs FROM google.healthcare.<resource>"),
        ("SELECT * FROM google.healthcare.datasets a JOIN google.healthcare.operations b ON 1",
         "SELECT reads one resource; joins are not supported"),
        ("SELECT name FROM WHERE", "syntax error"),
        ("DROP TABLE google.healthcare.datasets", "unsupported statement DROP"),
        ("SELECT 1; SELECT 2", "expected one statement"),
    ],
)  # fmt: skip
def test_refused_selects(text: str, message: str) -> None:
    with pytest.raises(SqlError, match="^" + message.replace("*", r"\*").replace("(", r"\(")):
        parse(text)


# INSERT, UPDATE, DELETE


def test_insert_example_splits_body_columns_from_parameters() -> None:
    labels = '{"env": "prod"}'
    statement = parse(
        examples.create_store(
            PLACE, name="n", notification_config="{}", labels=labels,
            stream_configs="[]", notification_configs="[]",
        )
    )  # fmt: skip
    assert isinstance(statement, InsertStatement)
    assert statement.columns == (
        "data__name", "data__notificationConfig", "data__labels", "data__streamConfigs",
        "data__notificationConfigs", "projectsId", "locationsId", "datasetsId", "dicomStoreId",
    )  # fmt: skip
    assert isinstance(statement.values, exp.Select)
    assert statement.returning is not None
    assert statement.returning.sql(dialect="sqlite") == (
        "SELECT name, labels, notificationConfig, notificationConfigs, streamConfigs FROM _rows"
    )
    assert not statement.wait


def test_insert_values_with_several_rows_and_await() -> None:
    statement = parse(
        "INSERT /*+ AWAIT */ INTO google.healthcare.datasets (projectsId, locationsId, datasetId) "
        "VALUES ('p', 'l', 'a'), ('p', 'l', 'b')"
    )
    assert isinstance(statement, InsertStatement)
    assert isinstance(statement.values, exp.Values)
    assert len(statement.values.expressions) == 2
    assert statement.wait
    assert statement.returning is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("INSERT INTO google.healthcare.dicom_stores (data__colour, projectsId) SELECT 'x', 'p'",
         "unknown column 'data__colour' for INSERT on google.healthcare.dicom_stores.create; "
         "body columns: data__name, data__labels"),
        ("INSERT INTO google.healthcare.dicom_stores (dicomStoresId) SELECT 'x'",
         "unknown column 'dicomStoresId' for INSERT on google.healthcare.dicom_stores.create; "
         "parameters: projectsId, locationsId, datasetsId, dicomStoreId"),
        ("INSERT INTO google.healthcare.dicom_stores (projectsId) SELECT name FROM t",
         "INSERT … SELECT takes values"),
        ("INSERT INTO google.healthcare.operations (projectsId) SELECT 'p'",
         "google.healthcare.operations does not support INSERT"),
    ],
)  # fmt: skip
def test_refused_inserts(text: str, message: str) -> None:
    with pytest.raises(SqlError) as error:
        parse(text)
    assert str(error.value).startswith(message)


def test_update_example_keeps_the_mask_and_returning() -> None:
    statement = parse(
        examples.update_store(
            PLACE, name="n", notification_config="{}", labels='{"a": "b"}',
            stream_configs="[]", notification_configs="[]", update_mask="labels",
        )
    )  # fmt: skip
    assert isinstance(statement, UpdateStatement)
    assert statement.parameters == {**STORE, "updateMask": "labels"}
    assert list(statement.assignments) == [
        "data__name", "data__notificationConfig", "data__labels", "data__streamConfigs",
        "data__notificationConfigs",
    ]  # fmt: skip
    assert statement.assignments["data__labels"].sql() == '\'{"a": "b"}\''
    assert statement.returning is not None


def test_dataset_insert_update_and_delete_examples() -> None:
    insert = parse(examples.create_dataset(PLACE, name="", time_zone="UTC", encryption_spec=""))
    assert isinstance(insert, InsertStatement)
    assert insert.columns[-1] == "datasetId"
    update = parse(
        examples.update_dataset(
            PLACE, name="", time_zone="Europe/Paris", encryption_spec="", update_mask="timeZone"
        )
    )
    assert isinstance(update, UpdateStatement)
    assert update.parameters == {**DATASET, "updateMask": "timeZone"}
    delete = parse(examples.delete_dataset(PLACE))
    assert isinstance(delete, DeleteStatement)
    assert delete.parameters == DATASET


def test_delete_example() -> None:
    statement = parse(examples.delete_store(PLACE))
    assert isinstance(statement, DeleteStatement)
    assert statement.parameters == STORE
    assert statement.resource.method_for("delete", statement.parameters).name == "delete"


def test_update_and_delete_take_only_parameters() -> None:
    with pytest.raises(SqlError, match="DELETE … WHERE takes only parameters"):
        parse("DELETE FROM google.healthcare.dicom_stores WHERE name LIKE '%x%'")
    with pytest.raises(SqlError, match=r"SET takes body columns \(data__<field>\), not 'labels'"):
        parse("UPDATE google.healthcare.dicom_stores SET labels = '{}' WHERE projectsId = 'p'")


# EXEC


def exec_(text: str) -> ExecStatement:
    statement = parse(text)
    assert isinstance(statement, ExecStatement)
    return statement


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("deidentify", {"destinationStore": '"projects/p/locations/l/datasets/d/dicomStores/x"',
                        "config": '""', "gcsConfigUri": '""', "filterConfig": '""'}),
        ("set_blob_storage_settings", {"filterConfig": '""',
                                       "blobStorageSettings": '{"blobStorageClass": "ARCHIVE"}'}),
        ("import", {"gcsSource": f'"{as_json_string({"uri": "gs://b/**"})}"',
                    "blobStorageSettings": '""'}),
        ("export", {"gcsDestination": '{"uriPrefix": "gs://b/out"}',
                    "bigqueryDestination": '""'}),
        ("store_instances", {"contentType": '"application/dicom"', "data": '"AAEC"',
                             "extensions": '""'}),
    ],
)  # fmt: skip
def test_exec_examples_with_a_body(method: str, body: dict[str, str]) -> None:
    statement = exec_(exec_statement(method, PLACE, body=body))
    assert statement.method == method
    assert statement.parameters == STORE
    assert statement.body is not None
    sent = json.loads(statement.body)
    assert list(sent) == list(body)
    variant = statement.resource.exec_variant(method, statement.parameters)
    assert variant.method.resource == ("datasets", "dicomStores")


@pytest.mark.parametrize(
    "method", ["search_for_studies", "search_for_series", "search_for_instances"]
)
def test_exec_search_examples(method: str) -> None:
    statement = exec_(exec_statement(method, PLACE))
    assert statement.parameters == STORE
    assert statement.body is None
    assert (
        statement.resource.exec_variant(method, STORE).method.path_parameters[-1] == "dicomStoresId"
    )


def test_exec_retrieve_examples_of_the_newer_page() -> None:
    instance = {"studiesId": STUDY, "seriesId": SERIES, "instancesId": INSTANCE}
    frames = exec_(exec_statement("retrieve_frames", PLACE, {**instance, "framesId": "1"}))
    assert frames.resource.exec_variant("retrieve_frames", frames.parameters).method.name == (
        "retrieveFrames"
    )
    rendered = exec_(
        exec_statement(
            "retrieve_rendered", PLACE, {**instance, "framesId": "1", "viewport": "64,64"}
        )
    )
    variant = rendered.resource.exec_variant("retrieve_rendered", rendered.parameters)
    assert variant.method.resource[-1] == "frames"
    assert rendered.parameters["viewport"] == "64,64"
    bulk = exec_(
        exec_statement("retrieve_bulkdata", PLACE, {**instance, "bulkdataId": "7FE00010",
                                                    "bulkdataId1": "x"})
    )  # fmt: skip
    assert bulk.resource.exec_variant("retrieve_bulkdata", bulk.parameters).required[-2:] == (
        "bulkdataId", "bulkdataId1",
    )  # fmt: skip


def test_exec_picks_the_level_whose_path_parameters_were_given() -> None:
    statement = exec_(exec_statement("search_for_instances", PLACE, {"studiesId": STUDY}))
    variant = statement.resource.exec_variant("search_for_instances", statement.parameters)
    assert variant.method.resource == ("datasets", "dicomStores", "studies")
    instance = exec_(exec_statement("retrieve_rendered", PLACE, {
        "studiesId": STUDY, "seriesId": SERIES, "instancesId": INSTANCE}))  # fmt: skip
    variant = instance.resource.exec_variant("retrieve_rendered", instance.parameters)
    assert variant.method.resource[-1] == "instances"


def test_exec_names_the_missing_variables_as_stackql() -> None:
    statement = exec_(exec_statement("retrieve_frames", PLACE, {"studiesId": STUDY}))
    with pytest.raises(SqlError) as error:
        statement.resource.exec_variant("retrieve_frames", statement.parameters)
    assert str(error.value) == (
        "required param not supplied for exec: could not find variables "
        "'seriesId', 'instancesId', 'framesId'"
    )
    without_store = exec_(
        "EXEC google.healthcare.dicom_stores.search_for_studies @projectsId='p', "
        "@locationsId='l', @datasetsId='d'"
    )
    with pytest.raises(SqlError, match=r"could not find variable 'dicomStoresId'$"):
        without_store.resource.exec_variant("search_for_studies", without_store.parameters)


def test_exec_accepts_stackql_and_plain_spellings() -> None:
    statement = exec_(
        "exec /*+ AWAIT */ google.healthcare.dicom_stores.getDICOMStoreMetrics\n"
        "  @projectsId = 'p', @locationsId='l' , @datasetsId='d',@dicomStoresId='it''s'\n"
        "  @limit=10 /* a comment */ -- another\n;"
    )
    assert statement.wait
    assert statement.parameters == {
        "projectsId": "p", "locationsId": "l", "datasetsId": "d", "dicomStoresId": "it's",
        "limit": "10",
    }  # fmt: skip
    assert statement.resource.exec_variant(statement.method, statement.parameters).name == (
        "get_dicomstore_metrics"
    )


def test_dataset_and_operation_exec_examples() -> None:
    deidentify = exec_(examples.deidentify_dataset(PLACE, destination="projects/p/x"))
    assert deidentify.parameters == DATASET
    assert deidentify.body is not None
    body = request_body(deidentify.body, "DeidentifyDatasetRequest", "@@json")
    assert body == {"destinationDataset": "projects/p/x", "gcsConfigUri": ""}
    cancel = exec_(examples.cancel_operation(PLACE, "42"))
    assert cancel.parameters == {**DATASET, "operationsId": "42"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("EXEC google.healthcare.dicom_stores.reticulate @a='b'",
         "no method 'reticulate' in google.healthcare.dicom_stores; its methods: create, "),
        ("EXEC google.healthcare.hl7_stores.get @a='b'", "unknown resource"),
        ("EXEC google.healthcare.dicom_stores.get @projectsId",
         "syntax error in EXEC at line 1, column 41: expected '=' after @projectsId"),
        ("EXEC google.healthcare.dicom_stores.get @projectsId=",
         "syntax error in EXEC at line 1, column 52: expected a value after @projectsId="),
        ("EXEC google.healthcare.dicom_stores.get\n projectsId='p'",
         "syntax error in EXEC at line 2, column 2: expected @name=value, not 'projectsId'"),
        ("EXEC google.healthcare.dicom_stores.get @a='b' @@body='{}'",
         "syntax error in EXEC at line 1, column 48: unknown @@body; only @@json"),
        ("EXEC", "syntax error in EXEC at line 1, column 5: expected google.healthcare"),
        ("EXEC google.healthcare.dicom_stores.get @a='unterminated",
         "syntax error in EXEC at line 1, column 44: unterminated string \"'unterminated\""),
    ],
)  # fmt: skip
def test_refused_execs(text: str, message: str) -> None:
    with pytest.raises(SqlError) as error:
        parse(text)
    assert str(error.value).startswith(message)


# SHOW and DESCRIBE


def test_catalog_statements() -> None:
    assert isinstance(parse("SHOW RESOURCES IN google.healthcare"), ShowResourcesStatement)
    methods = parse("show methods in google.healthcare.operations -- which ones?")
    assert isinstance(methods, ShowMethodsStatement)
    assert methods.resource.name == "operations"
    described = parse("DESCRIBE google.healthcare.datasets")
    assert isinstance(described, DescribeStatement)
    with pytest.raises(SqlError, match="syntax error: expected SHOW RESOURCES"):
        parse("SHOW TABLES")
