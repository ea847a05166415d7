"""The rest of a query, run by SQLite on answered rows."""

from __future__ import annotations

import pytest

from dicomstore.sql import SqlError, parse
from dicomstore.sql.local import evaluate, evaluate_values
from dicomstore.sql.schemas import fields
from dicomstore.sql.statements import InsertStatement, SelectStatement

WHERE = "WHERE projectsId = 'p' AND locationsId = 'l' AND datasetsId = 'd'"
STORES = [
    {"name": "s/a", "labels": {"env": "prod", "team": "x"}},
    {"name": "s/b", "labels": {"env": "dev"}},
    {"name": "s/c"},
]


def run(sql: str, records: list[dict[str, object]], schema: str = "DicomStore") -> object:
    statement = parse(sql)
    assert isinstance(statement, SelectStatement)
    return evaluate(statement.query, records, fields(schema), statement.resource.full_name)


def test_star_lists_every_field_with_json_back_as_json() -> None:
    columns, rows = run(f"SELECT * FROM google.healthcare.dicom_stores {WHERE}", STORES)  # type: ignore[misc]
    assert columns == [
        "name",
        "labels",
        "notificationConfig",
        "notificationConfigs",
        "streamConfigs",
    ]
    assert rows[0]["labels"] == {"env": "prod", "team": "x"}
    assert rows[2]["labels"] is None


def test_json_extract_conditions_order_and_limit() -> None:
    answer = run(
        "SELECT name, json_extract(labels, '$.env') AS env FROM google.healthcare.dicom_stores "
        f"{WHERE} AND json_extract(labels, '$.env') IS NOT NULL ORDER BY env LIMIT 5",
        STORES,
    )
    assert answer == (
        ["name", "env"],
        [{"name": "s/b", "env": "dev"}, {"name": "s/a", "env": "prod"}],
    )


def test_like_in_not_and_count() -> None:
    answer = run(
        f"SELECT COUNT(*) AS n FROM google.healthcare.dicom_stores {WHERE} "
        "AND (name LIKE '%A' OR name IN ('s/c')) AND NOT name = 's/b'",
        STORES,
    )
    assert answer == (["n"], [{"n": 2}])


def test_booleans_and_int64_fields() -> None:
    operations = [
        {"name": "o/1", "done": True, "metadata": {"counter": {"success": "3"}}},
        {"name": "o/2", "done": False},
    ]
    answer = run(
        f"SELECT name, done FROM google.healthcare.operations {WHERE} AND done = TRUE",
        operations,
        "Operation",
    )
    assert answer == (["name", "done"], [{"name": "o/1", "done": True}])
    metrics = [{"name": "s", "instanceCount": "12"}, {"name": "t", "instanceCount": "9"}]
    statement = parse(f"SELECT name FROM google.healthcare.dicom_stores {WHERE} AND 1 = 1")
    assert isinstance(statement, SelectStatement)
    query = statement.query.where("instanceCount > 10")
    assert evaluate(query, metrics, fields("DicomStoreMetrics"), "m") == (["name"], [{"name": "s"}])


def test_unknown_columns_are_named_with_the_known_ones() -> None:
    with pytest.raises(SqlError) as error:
        run(f"SELECT colour FROM google.healthcare.dicom_stores {WHERE}", STORES)
    assert str(error.value) == (
        "unknown column 'colour' in google.healthcare.dicom_stores; its columns: name, labels, "
        "notificationConfig, notificationConfigs, streamConfigs"
    )


def test_values_are_computed_by_sqlite() -> None:
    statement = parse(
        "INSERT INTO google.healthcare.dicom_stores (data__labels, dicomStoreId) "
        "VALUES (json_object('env', 'prod'), 'a' || 'b'), (NULL, 3)"
    )
    assert isinstance(statement, InsertStatement)
    assert evaluate_values(statement.values) == [('{"env":"prod"}', "ab"), (None, 3)]
