"""Milliseconds per instance header: the reference ingest path against ``scan_instance``.

The reference is what STOW does per instance without the scan: ``read_instance`` (pydicom with
deferred values, frame ranges), ``to_dicom_json`` of its data set and ``bulk_data_locations``.
``scan_instance`` gives the same in one pass over the bytes (``dicomstore.dicom.header_scan``);
it is timed on the file's bytes in memory and on an mmap of the file (open and map included, as a
caller holding only the spooled file would do). Run::

    python benchmarks/header_scan.py [--repeat N] [FILE ...]

Without files it generates, with the benchmark corpus generator (``_workload.py``), one 512x512
CT slice and one 50-frame Enhanced CT instance. Prints the median of ``--repeat`` calls and the
ratio; asserts only that the scan covers each file.
"""

from __future__ import annotations

import argparse
import mmap
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

from _workload import Layout, _generate

from dicomstore.dicom.bulkdata import bulk_data_locations
from dicomstore.dicom.header_scan import scan_instance
from dicomstore.dicom.json import to_dicom_json
from dicomstore.dicom.part10 import read_instance


def generated(directory: Path) -> list[tuple[str, Path]]:
    """One CT slice and one Enhanced CT instance exactly as the benchmark corpus has them."""
    folder = directory / "corpus"
    _generate(
        Layout(
            studies=1,
            series_per_study=1,
            instances_per_series=1,
            multiframe_instances=1,
            frames_per_multiframe=50,
        ),
        folder,
    )
    return [
        ("CT 512x512 slice", folder / "00000.dcm"),
        ("Enhanced CT, 50 frames", folder / "enhanced-00.dcm"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=300)
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory() as directory:
        cases = [(path.name, path) for path in arguments.files] or generated(Path(directory))
        print(
            f"{'file':26} {'size':>9} {'reference':>10} {'scan':>9} {'scan+mmap':>10} {'ratio':>7}"
        )
        for name, path in cases:
            data = path.read_bytes()
            if scan_instance(data, _uri) is None:
                raise SystemExit(f"{name}: not covered by scan_instance")
            reference = _median_ms(partial(_reference, path), arguments.repeat)
            scan = _median_ms(partial(scan_instance, data, _uri), arguments.repeat)
            mapped = _median_ms(partial(_scan_mapped, path), arguments.repeat)
            print(
                f"{name:26} {len(data) / 2**20:>5.1f} MiB {reference:>8.3f}ms {scan:>7.3f}ms "
                f"{mapped:>8.3f}ms {reference / scan:>6.1f}x"
            )
    print("reference = read_instance + to_dicom_json + bulk_data_locations; ratio = reference/scan")


def _uri(study: str, series: str, sop: str, path: str) -> str:
    return f"studies/{study}/series/{series}/instances/{sop}/bulkdata/{path}"


def _reference(path: Path) -> object:
    header = read_instance(path)
    uids = (header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid)
    return to_dicom_json(header.dataset, partial(_uri, *uids)), bulk_data_locations(header)


def _scan_mapped(path: Path) -> object:
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return scan_instance(data, _uri)


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm the caches (private VRs, keys)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


if __name__ == "__main__":
    main()
