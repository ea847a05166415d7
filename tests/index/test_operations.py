"""``dicomstore.index.operations`` on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dicomstore.errors import AlreadyExists, NotFound
from dicomstore.index import Index
from dicomstore.index import operations as operation_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.operations import Counter, OperationRow, OperationState
from tests.index.conftest import NOW, add_dataset

METHOD = "google.cloud.healthcare.v1.dicom.DicomService.ImportDicomData"


def _add(index: Index, dataset: DatasetRow, operation_id: str, **kwargs: object) -> OperationRow:
    with index.transaction() as tx:
        return operation_rows.insert(
            tx, dataset, operation_id, api_method_name=METHOD, now=NOW, **kwargs
        )


def test_insert_then_get(index: Index, dataset_row: DatasetRow) -> None:
    request = {"gcsSource": {"uri": "gs://bücket/études/**.dcm"}}
    inserted = _add(index, dataset_row, "1001", target="stores/ct", request=request)
    with index.transaction() as tx:
        fetched = operation_rows.get(tx, dataset_row, "1001")
    assert fetched == inserted
    assert str(fetched.name) == f"{dataset_row.name}/operations/1001"
    assert fetched.api_method_name == METHOD
    assert fetched.target == "stores/ct"
    assert fetched.request == request
    assert fetched.state is OperationState.PENDING
    assert not fetched.done
    assert not fetched.cancel_requested
    assert fetched.counter == Counter()
    assert fetched.response is None and fetched.error is None and fetched.end_time is None
    assert fetched.create_time == NOW
    assert fetched.create_time.utcoffset() == timedelta(0)


def test_operation_ids_are_unique_across_datasets(index: Index, dataset_row: DatasetRow) -> None:
    _add(index, dataset_row, "1001")
    with pytest.raises(AlreadyExists, match="1001"):
        _add(index, dataset_row, "1001")
    with pytest.raises(AlreadyExists, match="1001"):
        _add(index, add_dataset(index, "other"), "1001")


def test_get_is_scoped_to_the_dataset(index: Index, dataset_row: DatasetRow) -> None:
    other = add_dataset(index, "other")
    _add(index, other, "1001")
    with index.transaction() as tx:
        with pytest.raises(NotFound, match=rf"{dataset_row.name}/operations/1001 not found"):
            operation_rows.get(tx, dataset_row, "1001")
        with pytest.raises(NotFound):
            operation_rows.get(tx, other, "1002")


def test_list_page_is_newest_first_and_pages(index: Index, dataset_row: DatasetRow) -> None:
    created = [_add(index, dataset_row, str(2000 - n)) for n in range(7)]
    _add(index, add_dataset(index, "other"), "9999")
    newest_first = [row.name.operation_id for row in reversed(created)]
    with index.transaction() as tx:
        everything = operation_rows.list_page(tx, dataset_row, before_pk=None, limit=100)
        assert [row.name.operation_id for row in everything] == newest_first
        pages, before = [], None
        while page := operation_rows.list_page(tx, dataset_row, before_pk=before, limit=3):
            pages.append([row.name.operation_id for row in page])
            before = page[-1].pk
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:]]


def test_finish_with_a_response_and_counters(index: Index, dataset_row: DatasetRow) -> None:
    operation = _add(index, dataset_row, "1001")
    end = NOW + timedelta(seconds=3, microseconds=7)
    response = {"@type": "type.googleapis.com/google.protobuf.Empty", "note": "fertig ✓"}
    counter = Counter(success=5, failure=1, pending=0, secondary_success=2, secondary_failure=3)
    with index.transaction() as tx:
        operation_rows.finish(tx, operation, now=end, response=response, counter=counter)
        finished = operation_rows.get(tx, dataset_row, "1001")
    assert finished.done and finished.state is OperationState.DONE
    assert finished.response == response
    assert finished.error is None
    assert finished.counter == counter
    assert finished.end_time == end
    assert finished.end_time is not None and finished.end_time.utcoffset() == timedelta(0)


def test_finish_with_an_error_keeps_the_counters(index: Index, dataset_row: DatasetRow) -> None:
    operation = _add(index, dataset_row, "1001")
    error = {"code": 3, "message": "Ungültige Eingabe"}
    with index.transaction() as tx:
        operation_rows.finish(tx, operation, now=NOW, error=error)
        finished = operation_rows.get(tx, dataset_row, "1001")
    assert finished.done
    assert (finished.response, finished.error) == (None, error)
    assert finished.counter == Counter()


@pytest.mark.parametrize("outcome", [{}, {"response": {"a": 1}, "error": {"code": 2}}])
def test_finish_needs_exactly_one_outcome(
    index: Index, dataset_row: DatasetRow, outcome: dict[str, dict[str, int]]
) -> None:
    operation = _add(index, dataset_row, "1001")
    with index.transaction() as tx, pytest.raises(ValueError, match="exactly one"):
        operation_rows.finish(tx, operation, now=NOW, **outcome)


def test_request_cancel_flags_the_operation(index: Index, dataset_row: DatasetRow) -> None:
    operation = _add(index, dataset_row, "1001")
    with index.transaction() as tx:
        operation_rows.request_cancel(tx, operation)
        flagged = operation_rows.get(tx, dataset_row, "1001")
    assert flagged.cancel_requested
    assert flagged.state is OperationState.PENDING


def test_unfinished_targets_under_a_prefix_take_its_characters_literally(
    index: Index, dataset_row: DatasetRow
) -> None:
    # LIKE wildcards and the escape character in a store name match only themselves.
    operation = _add(index, dataset_row, "1001", target="stores/a_b%c/studies/1")
    with index.transaction() as tx:
        assert operation_rows.any_unfinished_target_under(tx, "stores/a_b%c/")
        assert operation_rows.any_unfinished_target_under(tx, "stores/a_b%c/studies/1")
        assert not operation_rows.any_unfinished_target_under(tx, "stores/axb%c/")
        assert not operation_rows.any_unfinished_target_under(tx, "stores/a_bxc/")
        assert not operation_rows.any_unfinished_target_under(tx, "stores/a_b%c//")
        assert not operation_rows.any_unfinished_target_under(tx, "stores/b")
        operation_rows.finish(tx, operation, now=NOW, response={})
        assert not operation_rows.any_unfinished_target_under(tx, "stores/a_b%c/")
