"""Milliseconds per header: pydicom's ``Dataset.to_json_dict`` against ``to_dicom_json``.

Both convert a freshly read (deferred) data set, as ingest does: every element starts raw. Run::

    python benchmarks/dicom_json.py [--repeat N] [FILE ...]

Without files it uses pydicom's ``CT_small.dcm``, the same header with 512x512 pixels as a
synthetic multi-slice CT, and an implicit VR copy of it. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from dicomstore.dicom.json import to_dicom_json
from dicomstore.dicom.part10 import DEFER_SIZE, read_instance


def ct_small() -> Path:
    return Path(str(get_testdata_file("CT_small.dcm")))


def synthetic_ct(directory: Path) -> list[tuple[str, Path]]:
    """CT_small's header with a 512x512 16-bit image, explicit and implicit VR."""
    dataset = pydicom.dcmread(ct_small())
    dataset.Rows = dataset.Columns = 512
    dataset.PixelData = bytes(512 * 512 * 2)
    explicit = directory / "ct_512.dcm"
    dataset.save_as(explicit)
    dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    implicit = directory / "ct_512_implicit.dcm"
    dataset.save_as(implicit, implicit_vr=True, little_endian=True)
    return [("CT 512x512 explicit VR", explicit), ("CT 512x512 implicit VR", implicit)]


def per_call_ms(path: Path, convert: Callable[[Dataset], object], repeat: int) -> float:
    datasets = [pydicom.dcmread(path, defer_size=DEFER_SIZE) for _ in range(repeat)]
    start = time.perf_counter()
    for dataset in datasets:
        convert(dataset)
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=500)
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory() as directory:
        cases = [(str(path), path) for path in arguments.files] or [
            ("CT_small.dcm", ct_small()),
            *synthetic_ct(Path(directory)),
        ]
        print(f"{'file':28} {'elements':>8} {'read':>8} {'to_json_dict':>13} {'to_dicom_json':>14}")
        for name, path in cases:
            elements = len(pydicom.dcmread(path, defer_size=DEFER_SIZE))
            read = _time(partial(read_instance, path), arguments.repeat)
            pydicom_ms = per_call_ms(path, _pydicom_json, arguments.repeat)
            ours_ms = per_call_ms(path, _our_json, arguments.repeat)
            print(
                f"{name:28} {elements:>8} {read:>6.3f}ms {pydicom_ms:>11.3f}ms {ours_ms:>12.3f}ms"
                f"   x{pydicom_ms / ours_ms:.1f}"
            )
    print("read = read_instance (dcmread with deferred values + frame ranges)")


def _uri(path: str) -> str:
    return f"https://example.com/bulkdata/{path}"


def _our_json(dataset: Dataset) -> object:
    return to_dicom_json(dataset, _uri)


def _pydicom_json(dataset: Dataset) -> object:
    return dataset.to_json_dict(bulk_data_element_handler=lambda element: "x")


def _time(call: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - start) / repeat * 1000


if __name__ == "__main__":
    main()
