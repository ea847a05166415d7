"""``dicomstore dicomweb``: store files and folders (STOW-RS), search (QIDO-RS), retrieve into a
folder (WADO-RS) and delete, with progress bars; the work itself is `dicomstore.client.dicomweb`.
"""

from __future__ import annotations

import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from dicomstore.cli.api_calls import (
    WaitOption,
    api_errors,
    examples,
    fail,
    implements,
    progress_display,
    show_operation,
)
from dicomstore.cli.options import (
    EndpointOption,
    FormatOption,
    OutputFormat,
    TokenOption,
    open_client,
)
from dicomstore.cli.output import print_resource, print_rows, stderr_console
from dicomstore.cli.resource_names import (
    DEFAULT_LOCATION,
    DatasetOption,
    LocationOption,
    ProjectOption,
    StoreOption,
    resource_name,
    store_values,
)
from dicomstore.client import dicomweb
from dicomstore.client.dicomweb import InstanceResult, Outcome, Target
from dicomstore.client.http import DEFAULT_ENDPOINT

__all__ = ["app"]

app = typer.Typer(
    name="dicomweb",
    help="Store, search, retrieve and delete DICOM instances of a store over DICOMweb.",
    no_args_is_help=True,
)

StudyOption = Annotated[str | None, typer.Option(help="Study Instance UID.", show_default=False)]
SeriesOption = Annotated[
    str | None, typer.Option(help="Series Instance UID (with --study).", show_default=False)
]
InstanceOption = Annotated[
    str | None, typer.Option(help="SOP Instance UID (with --series).", show_default=False)
]
# Columns left out of search tables: the same on every row, or long and of little use there.
_QUIET_COLUMNS = frozenset({"SpecificCharacterSet", "RetrieveURL", "InstanceAvailability"})


def _store_name(store: str, dataset: str | None, project: str | None, location: str) -> str:
    return resource_name(store_values(store, dataset, project, location))


def _target(study: str | None, series: str | None, instance: str | None) -> Target:
    if not study:
        raise fail("give --study (and --series, --instance to narrow it down)")
    if series is None and instance is not None:
        raise fail("--instance needs its --series")
    return Target(study, series, instance)


# -- store ----------------------------------------------------------------------------------------


class _InstanceRate(ProgressColumn):
    """``12/500 instances · 41.3/s``: instances answered for, and their mean rate."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{task.completed:.0f}/{task.total:.0f} instances · {rate:.1f}/s")


class _Transfer(ProgressColumn):
    """``7.9/12.0 MB · 2.9 MB/s``: bytes sent, and their mean rate."""

    def render(self, task: Task) -> Text:
        sent, size = task.fields["sent"] / 1e6, task.fields["size"] / 1e6
        elapsed = task.elapsed or 0
        rate = sent / elapsed if elapsed > 0 else 0.0
        return Text(f"{sent:.1f}/{size:.1f} MB · {rate:.1f} MB/s")


@app.command(
    epilog=examples(
        "dicomstore dicomweb store ./scans --store my-store --dataset my-dataset --project "
        "my-project",
        "dicomstore dicomweb store 'incoming/**/*.dcm' --store "
        "projects/p/locations/us-central1/datasets/d/dicomStores/s --concurrency 8",
    )
)
@implements("datasets.dicomStores.storeInstances", "datasets.dicomStores.studies.storeInstances")
def store(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...", help="Files, folders (walked recursively) and glob patterns."
        ),
    ],
    store: StoreOption,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    study: Annotated[
        str | None,
        typer.Option(
            help="Store into this study only (instances of other studies fail).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Instances per request at most.")] = 10,
    batch_mb: Annotated[
        int, typer.Option(min=1, help="Megabytes per request at most (a larger file goes alone).")
    ] = 32,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests at once.")] = 4,
    find_duplicates: Annotated[
        bool,
        typer.Option(
            help="Report instances the store already held as duplicates (one search per study "
            "first; the server itself answers them as stored)."
        ),
    ] = True,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Store DICOM files (STOW-RS) in batches, several requests at once. Files that are not
    DICOM Part 10 files (no 'DICM' after the 128-byte preamble) are skipped and listed; the exit
    code is 1 if any instance failed."""
    name = _store_name(store, dataset, project, location)
    try:
        found = dicomweb.scan(paths)
    except FileNotFoundError as error:
        raise fail(str(error)) from None
    lock = threading.Lock()
    answered = [0]
    progress = progress_display(
        TextColumn("[bold]storing"), BarColumn(), _InstanceRate(), _Transfer(), TimeElapsedColumn()
    )
    size = sum(file.size for file in found.files)
    with progress, api_errors(), open_client(endpoint, token) as client:
        task = progress.add_task("store", total=len(found.files), sent=0, size=size)
        sent = [0]

        def on_bytes(count: int) -> None:
            with lock:
                sent[0] += count
                progress.update(task, sent=sent[0])

        def finished(_: InstanceResult) -> None:
            with lock:
                answered[0] += 1
                progress.update(task, completed=answered[0])

        results = dicomweb.store_files(
            client,
            name,
            found.files,
            study=study,
            batch_size=batch_size,
            batch_bytes=batch_mb << 20,
            concurrency=concurrency,
            find_duplicates=find_duplicates,
            on_bytes=on_bytes,
            on_result=finished,
        )
    report = dicomweb.StoreReport(results, found.skipped)
    _print_store_report(report, fmt)
    if report.with_outcome(Outcome.FAILED):
        raise typer.Exit(code=1)


def _print_store_report(report: dicomweb.StoreReport, fmt: OutputFormat) -> None:
    stored = report.with_outcome(Outcome.STORED)
    duplicates = report.with_outcome(Outcome.DUPLICATE)
    failed = report.with_outcome(Outcome.FAILED)
    if fmt in (OutputFormat.JSON, OutputFormat.YAML):
        summary = {
            "stored": len(stored),
            "duplicates": len(duplicates),
            "failed": [{"path": str(r.file.path), "reason": r.reason} for r in failed],
            "skipped": [str(path) for path in report.skipped],
        }
        print_resource(summary, fmt)
        return
    if fmt is OutputFormat.CSV:
        rows = [
            {"path": str(r.file.path), "outcome": str(r.outcome), "reason": r.reason}
            for r in report.results
        ]
        rows += [
            {"path": str(p), "outcome": "skipped", "reason": "not a DICOM file"}
            for p in report.skipped
        ]
        print_rows(rows, fmt, columns=["path", "outcome", "reason"])
        return
    typer.echo(
        f"Stored {len(stored)}, duplicates {len(duplicates)}, failed {len(failed)}, "
        f"skipped {len(report.skipped)} (not DICOM)."
    )
    for result in failed:
        typer.echo(f"  failed   {result.file.path}: {result.reason}")
    for path in report.skipped:
        typer.echo(
            f"  skipped  {path}: not a DICOM Part 10 file (no DICM after a 128-byte preamble)"
        )


# -- search ---------------------------------------------------------------------------------------


class Level(StrEnum):
    STUDIES = "studies"
    SERIES = "series"
    INSTANCES = "instances"


@app.command(
    epilog=examples(
        "dicomstore dicomweb search studies --store my-store --dataset my-dataset --filter "
        "PatientID=123",
        "dicomstore dicomweb search instances --store my-store --dataset my-dataset --study 1.2.3 "
        "--includefield all --format json",
    )
)
@implements(
    "datasets.dicomStores.searchForStudies",
    "datasets.dicomStores.searchForSeries",
    "datasets.dicomStores.searchForInstances",
    "datasets.dicomStores.studies.searchForSeries",
    "datasets.dicomStores.studies.searchForInstances",
    "datasets.dicomStores.studies.series.searchForInstances",
)
def search(
    level: Annotated[Level, typer.Argument(help="What to look for.")],
    store: StoreOption,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    study: Annotated[
        str | None, typer.Option(help="Search within this study.", show_default=False)
    ] = None,
    series: Annotated[
        str | None,
        typer.Option(help="Search within this series (with --study).", show_default=False),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="Match KEY=VALUE, KEY a keyword or tag: PatientID=123, 00100020=123, "
            "StudyDate=20240101-20240131 (repeatable).",
            show_default=False,
        ),
    ] = None,
    includefield: Annotated[
        list[str] | None,
        typer.Option(
            help="Also return this attribute (keyword or tag), or 'all' (repeatable).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=0, help="Matches at most.", show_default=False)
    ] = None,
    offset: Annotated[
        int | None, typer.Option(min=0, help="Skip this many matches.", show_default=False)
    ] = None,
    fuzzymatching: Annotated[bool, typer.Option(help="Fuzzy matching of person names.")] = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Search a store (QIDO-RS): a table with one column per attribute, or the DICOM JSON."""
    if series and not study:
        raise fail("--series needs its --study")
    if level is Level.STUDIES and study:
        raise fail("studies are searched store-wide: drop --study, or search series")
    filters = []
    for pair in filter_ or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"--filter takes KEY=VALUE, not {pair!r}")
        filters.append((key, value))
    name = _store_name(store, dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        matches = dicomweb.search(
            client,
            name,
            level.value,
            study=study,
            series=series,
            filters=filters,
            includefields=includefield or (),
            limit=limit,
            offset=offset,
            fuzzymatching=fuzzymatching or None,
        )
    if fmt in (OutputFormat.JSON, OutputFormat.YAML):
        print_resource(matches, fmt)
        return
    if not matches and fmt is OutputFormat.TABLE:
        stderr_console.print("No matches.")
        return
    rows = [dicomweb.flat_attributes(match) for match in matches]
    # The attributes that have a value somewhere, in the order the answer gives them.
    columns = [
        column
        for column in dict.fromkeys(key for row in rows for key, value in row.items() if value)
        if column not in _QUIET_COLUMNS
    ]
    print_rows(rows, fmt, columns=columns)


# -- retrieve -------------------------------------------------------------------------------------


def _frame_numbers(frames: str) -> list[int]:
    try:
        numbers = [int(number) for number in frames.split(",") if number.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise fail(f"--frames takes frame numbers from 1, such as 1,2,5; not {frames!r}")
    return numbers


@app.command(
    epilog=examples(
        "dicomstore dicomweb retrieve --store my-store --dataset my-dataset --study 1.2.3 "
        "--output ./study",
        "… --study 1.2.3 --series 1.2.3.4 --metadata",
        "… --instance 1.2.3.4.5 --frames 1,2",
        "… --instance 1.2.3.4.5 --rendered --accept image/png",
    )
)
@implements(
    "datasets.dicomStores.studies.retrieveStudy",
    "datasets.dicomStores.studies.retrieveMetadata",
    "datasets.dicomStores.studies.series.retrieveSeries",
    "datasets.dicomStores.studies.series.retrieveMetadata",
    "datasets.dicomStores.studies.series.instances.retrieveInstance",
    "datasets.dicomStores.studies.series.instances.retrieveMetadata",
    "datasets.dicomStores.studies.series.instances.retrieveRendered",
    "datasets.dicomStores.studies.series.instances.frames.retrieveFrames",
    "datasets.dicomStores.studies.series.instances.frames.retrieveRendered",
)
def retrieve(
    store: StoreOption,
    study: StudyOption = None,
    series: SeriesOption = None,
    instance: InstanceOption = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to write into.", file_okay=False)
    ] = Path("."),
    metadata: Annotated[
        bool, typer.Option(help="The metadata (DICOM JSON), one .json file per instance.")
    ] = False,
    frames: Annotated[
        str | None,
        typer.Option(
            help="Frames of --instance, e.g. 1,2: {sop}/frame-{n}.raw (or .jpg, … by type).",
            show_default=False,
        ),
    ] = None,
    rendered: Annotated[
        bool, typer.Option(help="--instance (or each of --frames) rendered as an image.")
    ] = False,
    accept: Annotated[
        str | None,
        typer.Option(
            help="Media type to ask for: image/jpeg or image/png with --rendered; a "
            'multipart/related; type="..." with --frames.',
            show_default=False,
        ),
    ] = None,
    transfer_syntax: Annotated[
        str,
        typer.Option(help="Transfer syntax UID of retrieved instances; '*' keeps them as stored."),
    ] = "*",
    viewport: Annotated[
        str | None,
        typer.Option(help="With --rendered: WIDTH,HEIGHT to fit in.", show_default=False),
    ] = None,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Retrieve a study, series or instance (WADO-RS) into a folder: instances as
    {study}/{series}/{sop}.dcm, or their metadata, frames or rendered images."""
    target = _target(study, series, instance)
    if metadata and (frames or rendered):
        raise fail("--metadata goes alone: not with --frames or --rendered")
    if (frames or rendered) and not target.instance:
        raise fail("--frames and --rendered need --study, --series and --instance")
    name = _store_name(store, dataset, project, location)
    progress = progress_display(
        TextColumn("[bold]retrieving"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    written: list[Path] = []
    with progress, api_errors(), open_client(endpoint, token) as client:
        task = progress.add_task("retrieve", total=None)

        def received(size: int) -> None:
            progress.advance(task, size)

        def announced(size: int) -> None:
            progress.update(task, total=size)

        calls: dict[str, Any] = {"on_bytes": received, "on_total": announced}
        if rendered:
            for frame in _frame_numbers(frames) if frames else [None]:
                written.append(
                    dicomweb.retrieve_rendered(
                        client,
                        name,
                        target,
                        output,
                        frame=frame,
                        accept=accept or "image/jpeg",
                        viewport=viewport,
                        **calls,
                    )
                )
        elif frames:
            written = dicomweb.retrieve_frames(
                client,
                name,
                target,
                _frame_numbers(frames),
                output,
                accept=accept or dicomweb.FRAMES_ACCEPT,
                **calls,
            )
        elif metadata:
            written = dicomweb.retrieve_metadata(client, name, target, output, **calls)
        else:
            written = dicomweb.retrieve_instances(
                client, name, target, output, transfer_syntax=transfer_syntax, **calls
            )
    sizes = [path.stat().st_size for path in written]
    if fmt is OutputFormat.TABLE:  # paths of three UIDs are too wide for a table
        typer.echo(f"Wrote {len(written)} files ({sum(sizes) / 1e6:.1f} MB) under {output}.")
    else:
        rows = [
            {"file": str(path), "bytes": size} for path, size in zip(written, sizes, strict=True)
        ]
        print_rows(rows, fmt, columns=["file", "bytes"])


# -- delete ---------------------------------------------------------------------------------------


@app.command(
    epilog=examples(
        "dicomstore dicomweb delete --store my-store --dataset my-dataset --study 1.2.3 --series "
        "1.2.3.4 --wait"
    )
)
@implements(
    "datasets.dicomStores.studies.delete",
    "datasets.dicomStores.studies.series.delete",
    "datasets.dicomStores.studies.series.instances.delete",
)
def delete(
    store: StoreOption,
    study: StudyOption = None,
    series: SeriesOption = None,
    instance: InstanceOption = None,
    wait: WaitOption = False,
    dataset: DatasetOption = None,
    project: ProjectOption = None,
    location: LocationOption = DEFAULT_LOCATION,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    token: TokenOption = None,
    fmt: FormatOption = OutputFormat.YAML,
) -> None:
    """Delete a study or series (a long-running operation), or one instance."""
    target = _target(study, series, instance)
    name = _store_name(store, dataset, project, location)
    with api_errors(), open_client(endpoint, token) as client:
        answer = dicomweb.delete(client, name, target)
        if answer.get("name"):
            show_operation(client, answer, wait, fmt)
            return
    stderr_console.print(f"Deleted {target.path}.", markup=False)
