"""``dicomstore.services.jobs`` on SQLite and PostgreSQL: claiming, cancel, failures, counters and
recovery after a restart (``google-dicom-api.md`` §4)."""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dicomstore.errors import InvalidArgument, NotFound
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import operations as operation_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.operations import Counter, OperationRow, OperationState
from dicomstore.names import DatasetName, LocationName
from dicomstore.services.jobs import INTERRUPTED_MESSAGE, Job, JobContext, JobRunner
from dicomstore.services.operations import OperationFilter, OperationService

METHOD = "test.Jobs.Work"
OTHER = "test.Jobs.Other"
EMPTY = {"@type": "type.googleapis.com/google.protobuf.Empty"}


@pytest.fixture
def index(database_url: str) -> Iterator[Index]:
    opened = Index.open(database_url)
    yield opened
    opened.close()


@pytest.fixture
def dataset(index: Index) -> DatasetRow:
    name = DatasetName(LocationName("test-project", "us-central1"), "ds")
    with index.transaction() as tx:
        return dataset_rows.insert(
            tx, name, time_zone="", encryption_spec=None, now=datetime.now(UTC)
        )


def runner_with(index: Index, run: Any, *, idempotent: bool = True) -> JobRunner:
    runner = JobRunner(index)
    runner.register(METHOD, Job(run, idempotent=idempotent))
    return runner


def start(runner: JobRunner, dataset: DatasetRow, request: dict[str, Any] | None = None) -> str:
    with runner.index.transaction() as tx:
        operation = runner.start_operation(tx, dataset, METHOD, request, "target")
    return operation.name.operation_id


def fetch(index: Index, dataset: DatasetRow, operation_id: str) -> OperationRow:
    with index.transaction() as tx:
        return operation_rows.get(tx, dataset, operation_id)


def wait_done(index: Index, dataset: DatasetRow, operation_id: str) -> OperationRow:
    deadline = time.monotonic() + 20
    while not (operation := fetch(index, dataset, operation_id)).done:
        assert time.monotonic() < deadline, operation
        time.sleep(0.02)
    return operation


def test_a_job_runs_once_and_reports_its_response_and_counters(
    index: Index, dataset: DatasetRow
) -> None:
    def run(context: JobContext) -> dict[str, Any]:
        assert context.request == {"n": 3} and context.target == "target"
        context.add(success=3, failure=1)
        context.check()
        return EMPTY

    runner = runner_with(index, run)
    operation_id = start(runner, dataset, {"n": 3})
    pending = fetch(index, dataset, operation_id)
    assert pending.state is OperationState.PENDING and not pending.done
    assert runner.run_one("w") is True
    assert runner.run_one("w") is False
    done = fetch(index, dataset, operation_id)
    assert done.state is OperationState.DONE
    assert done.response == EMPTY and done.error is None
    assert done.counter == Counter(success=3, failure=1)
    assert done.end_time is not None and done.end_time >= done.create_time


def test_only_registered_methods_start_or_get_claimed(index: Index, dataset: DatasetRow) -> None:
    runner = runner_with(index, lambda context: EMPTY)
    with index.transaction() as tx, pytest.raises(ValueError, match=OTHER):
        runner.start_operation(tx, dataset, OTHER, None)
    with index.transaction() as tx:
        operation_rows.insert(tx, dataset, "77", api_method_name=OTHER, now=datetime.now(UTC))
    assert runner.run_one("w") is False
    assert fetch(index, dataset, "77").state is OperationState.PENDING


def test_two_runners_never_run_the_same_operation(index: Index, dataset: DatasetRow) -> None:
    ran: Tally[str] = Tally()
    lock = threading.Lock()

    def run(context: JobContext) -> dict[str, Any]:
        with lock:
            ran[str(context.request["i"])] += 1
        time.sleep(0.005)
        return EMPTY

    first, second = runner_with(index, run), runner_with(index, run)
    ids = [start(first, dataset, {"i": i}) for i in range(24)]
    first.start(2)
    second.start(2)
    try:
        finished = [wait_done(index, dataset, operation_id) for operation_id in ids]
    finally:
        first.stop()
        second.stop()
    assert ran == Tally({str(i): 1 for i in range(24)})
    assert all(operation.response == EMPTY for operation in finished)


def test_a_claim_is_exclusive(index: Index, dataset: DatasetRow) -> None:
    start(runner_with(index, lambda context: EMPTY), dataset)
    now = datetime.now(UTC)
    with index.transaction() as tx:
        first = operation_rows.claim(tx, worker="a", methods=[METHOD], now=now)
    with index.transaction() as tx:
        second = operation_rows.claim(tx, worker="b", methods=[METHOD], now=now)
    assert first is not None and first.attempts == 1
    assert second is None


def test_cancel_mid_run_ends_cancelled(index: Index, dataset: DatasetRow) -> None:
    started = threading.Event()

    def run(context: JobContext) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            context.add(success=1)
            context.check()
            started.set()
            time.sleep(0.01)
        return EMPTY

    runner = runner_with(index, run)
    operation_id = start(runner, dataset)
    runner.start(1)
    try:
        assert started.wait(10)
        OperationService(index).cancel(dataset.name.operation(operation_id))
        operation = wait_done(index, dataset, operation_id)
    finally:
        runner.stop()
    assert operation.cancel_requested is True
    assert operation.error == {"code": 1, "message": "Operation cancelled."}
    assert operation.response is None
    assert operation.counter.success >= 1


@pytest.mark.parametrize(
    ("failure", "code"), [(NotFound("Study 1.2 not found."), 5), (RuntimeError("boom"), 13)]
)
def test_a_failing_job_ends_with_an_error(
    index: Index, dataset: DatasetRow, failure: Exception, code: int
) -> None:
    def run(context: JobContext) -> dict[str, Any]:
        context.add(failure=2)
        raise failure

    runner = runner_with(index, run)
    operation_id = start(runner, dataset)
    assert runner.run_one("w")
    operation = fetch(index, dataset, operation_id)
    assert operation.done and operation.response is None
    assert operation.error is not None and operation.error["code"] == code
    assert str(failure) in operation.error["message"]
    assert operation.counter == Counter(failure=2)


def _interrupt(index: Index, runner: JobRunner, dataset: DatasetRow) -> str:
    """A pending operation claimed by a worker that then died."""
    operation_id = start(runner, dataset)
    with index.transaction() as tx:
        assert operation_rows.claim(tx, worker="dead", methods=[METHOD], now=datetime.now(UTC))
    return operation_id


def test_restart_requeues_idempotent_work_and_runs_it(index: Index, dataset: DatasetRow) -> None:
    runner = runner_with(index, lambda context: EMPTY)
    operation_id = _interrupt(index, runner, dataset)
    assert runner.recover_interrupted(everything=True) == (1, 0)
    assert fetch(index, dataset, operation_id).state is OperationState.PENDING
    assert runner.run_one("w")
    assert fetch(index, dataset, operation_id).response == EMPTY


def test_restart_fails_work_that_cannot_be_retried(index: Index, dataset: DatasetRow) -> None:
    runner = runner_with(index, lambda context: EMPTY, idempotent=False)
    operation_id = _interrupt(index, runner, dataset)
    assert runner.recover_interrupted(everything=True) == (0, 1)
    operation = fetch(index, dataset, operation_id)
    assert operation.done and operation.response is None
    assert operation.error == {"code": 10, "message": INTERRUPTED_MESSAGE}


def test_restart_gives_up_after_three_attempts(index: Index, dataset: DatasetRow) -> None:
    runner = runner_with(index, lambda context: EMPTY)
    operation_id = _interrupt(index, runner, dataset)
    for _ in range(2):
        assert runner.recover_interrupted(everything=True) == (1, 0)
        with index.transaction() as tx:
            operation_rows.claim(tx, worker="dead", methods=[METHOD], now=datetime.now(UTC))
    assert runner.recover_interrupted(everything=True) == (0, 1)
    assert fetch(index, dataset, operation_id).error == {
        "code": 10,
        "message": INTERRUPTED_MESSAGE,
    }


def test_only_stale_heartbeats_are_taken_over(index: Index, dataset: DatasetRow) -> None:
    runner = runner_with(index, lambda context: EMPTY)
    fresh = _interrupt(index, runner, dataset)
    stale = start(runner, dataset)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with index.transaction() as tx:
        operation_rows.claim(tx, worker="dead", methods=[METHOD], now=an_hour_ago)
    assert runner.recover_interrupted(everything=False) == (1, 0)
    assert fetch(index, dataset, fresh).state is OperationState.RUNNING
    assert fetch(index, dataset, stale).state is OperationState.PENDING


def test_a_worker_that_lost_its_operation_does_not_finish_it(
    index: Index, dataset: DatasetRow
) -> None:
    def run(context: JobContext) -> dict[str, Any]:
        runner.recover_interrupted(everything=True)  # as if another process took it over
        context.check()
        return EMPTY

    runner = runner_with(index, run)
    operation_id = start(runner, dataset)
    assert runner.run_one("w")
    assert fetch(index, dataset, operation_id).state is OperationState.PENDING


def test_list_filters_on_done_and_method(index: Index, dataset: DatasetRow) -> None:
    runner = runner_with(index, lambda context: EMPTY)
    runner.register(OTHER, Job(lambda context: EMPTY, idempotent=True))
    done = start(runner, dataset)
    assert runner.run_one("w")
    pending = start(runner, dataset)
    with index.transaction() as tx:
        other = runner.start_operation(tx, dataset, OTHER, None).name.operation_id
    service = OperationService(index)

    def listed(filter_text: str) -> list[str]:
        answer = service.list(dataset.name, None, None, filter_text)
        return [each["name"].rsplit("/", 1)[1] for each in answer.get("operations", [])]

    assert listed("") == [other, pending, done]
    assert listed("done=true") == [done]
    assert listed("done = false") == [other, pending]
    assert listed(f'metadata.apiMethodName="{METHOD}"') == [pending, done]
    assert listed(f'done=false AND metadata.apiMethodName="{METHOD}"') == [pending]
    assert listed(f"metadata.apiMethodName={OTHER} AND done=false") == [other]


@pytest.mark.parametrize(
    "text",
    [
        "done=maybe",
        "done",
        "createTime>2024",
        "done=true OR done=false",
        "done=true AND done=false",
        'metadata.apiMethodName="a" AND metadata.apiMethodName="b"',
        'metadata.apiMethodName="unterminated',
    ],
)
def test_unsupported_filters_are_invalid(text: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid filter"):
        OperationFilter.parse(text)


def test_restart_ends_a_cancelled_operation_cancelled(index: Index, dataset: DatasetRow) -> None:
    runner = runner_with(index, lambda context: EMPTY)
    operation_id = _interrupt(index, runner, dataset)
    OperationService(index).cancel(dataset.name.operation(operation_id))
    assert runner.recover_interrupted(everything=True) == (0, 1)
    operation = fetch(index, dataset, operation_id)
    assert operation.cancel_requested
    assert operation.error == {"code": 1, "message": "Operation cancelled."}
