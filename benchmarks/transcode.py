"""Transcoding throughput: MB/s per syntax pair, in process (no server).

Two images: a 512x512 16-bit signed CT (pydicom's ``CT_small.dcm`` header over a synthetic
phantom: body, bone, lungs and noise, so the codecs see realistic content) and an RGB photograph
(pydicom's ``examples_rgb_color.dcm``, 240x320, tiled 2x2 to 480x640). For each image it times

- Explicit VR Little Endian -> every target :mod:`dicomstore.dicom.transcode` writes, and
- every compressed syntax -> Explicit VR Little Endian (the default WADO-RS answer),

with :func:`~dicomstore.dicom.transcode.transcode` on a whole Part 10 file, and one frame with
:func:`~dicomstore.dicom.transcode.frame_in_syntax`. MB/s is uncompressed pixel megabytes
(10**6 bytes) per second of wall time; the ratio is uncompressed over compressed pixel bytes.
Run::

    python benchmarks/transcode.py [--seconds 0.5]

Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import time
import warnings
from collections.abc import Callable

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID, ExplicitVRLittleEndian

from dicomstore.dicom.codecs import decoder_plugins, encoder_plugins
from dicomstore.dicom.transcode import (
    LITTLE_ENDIAN_NATIVE,
    TARGET_SYNTAXES,
    can_transcode,
    describe_pixels,
    frame_in_syntax,
    transcode,
)


def ct_phantom() -> Dataset:
    """CT_small's header with a 512x512 synthetic slice in stored values (intercept -1024)."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    y, x = np.mgrid[-256:256, -256:256].astype(np.float64)
    hu = np.full((512, 512), -1000.0)
    body = (x / 220) ** 2 + (y / 170) ** 2 <= 1
    hu[body] = 40
    for side in (-1, 1):
        hu[((x - side * 90) / 70) ** 2 + (y / 110) ** 2 <= 1] = -800
    ring = ((x / 200) ** 2 + (y / 150) ** 2 <= 1) & ((x / 185) ** 2 + (y / 137) ** 2 > 1)
    hu[ring] = 900
    hu += np.random.default_rng(1).normal(0, 12, hu.shape) * body
    dataset.Rows = dataset.Columns = 512
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 1
    dataset.RescaleIntercept = -1024
    dataset.RescaleSlope = 1
    dataset.PixelData = (hu + 1024).round().astype("<i2").tobytes()
    return dataset


def rgb_photo() -> Dataset:
    dataset = pydicom.dcmread(get_testdata_file("examples_rgb_color.dcm"))
    tiled = np.tile(dataset.pixel_array, (2, 2, 1))
    dataset.Rows, dataset.Columns = tiled.shape[:2]
    dataset.PlanarConfiguration = 0
    dataset.PixelData = tiled.tobytes()
    return dataset


def part10(dataset: Dataset) -> bytes:
    output = io.BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return output.getvalue()


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second, repeating ``call`` for about ``seconds`` after one warm-up call."""
    call()
    count = 0
    start = time.perf_counter()
    while True:
        call()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def pixel_bytes(data: bytes) -> int:
    dataset = pydicom.dcmread(io.BytesIO(data))
    element = dataset["PixelData"]
    if not element.is_undefined_length:
        return len(element.value)
    return sum(len(frame) for frame in generate_frames(element.value, number_of_frames=1))


def short(uid: str) -> str:
    name = UID(uid).name
    for long, brief in (
        ("Image Compression", ""),
        ("Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", "SV1"),
        ("Non-Hierarchical (Process 14)", "P14"),
        ("(Lossless Only)", "Lossless"),
        ("Lossy (Near-Lossless)", "Near-Lossless"),
        ("(Process 2 and 4)", "12-bit"),
        ("(Process 1)", "8-bit"),
        ("Little Endian", "LE"),
    ):
        name = name.replace(long, brief)
    return " ".join(name.split())


def bench(label: str, dataset: Dataset, seconds: float) -> None:
    native = part10(dataset)
    pixels = describe_pixels(dataset)
    assert pixels is not None
    megabytes = len(dataset.PixelData) / 1e6
    frame = bytes(dataset.PixelData)
    print(f"\n{label}: {dataset.Rows}x{dataset.Columns}, {pixels.samples_per_pixel} sample(s) of "
          f"{pixels.bits_allocated} bits, {megabytes:.2f} MB of pixels")  # fmt: skip
    print(f"{'pair':58} {'instance MB/s':>13} {'frame MB/s':>11} {'ratio':>7}  plugin")
    stored: dict[str, bytes] = {}
    for target in sorted(TARGET_SYNTAXES - {ExplicitVRLittleEndian}):
        if not can_transcode(ExplicitVRLittleEndian, target, pixels):
            print(f"{'Explicit VR LE -> ' + short(target):58} {'refused':>13}")
            continue
        output = transcode(io.BytesIO(native), target)
        stored[target] = output
        whole = rate(lambda target=target: transcode(io.BytesIO(native), target), seconds)
        one = rate(
            lambda target=target: frame_in_syntax(frame, ExplicitVRLittleEndian, pixels, target),
            seconds,
        )
        ratio = len(frame) / pixel_bytes(output)
        plugin = (encoder_plugins(target) or ("",))[0]
        # A native frame in another little-endian syntax is the same bytes: nothing to time.
        per_frame = "as is" if target in LITTLE_ENDIAN_NATIVE else f"{one * megabytes:.1f}"
        print(f"{'Explicit VR LE -> ' + short(target):58} {whole * megabytes:>13.1f} "
              f"{per_frame:>11} {ratio:>7.2f}  {plugin}")  # fmt: skip
    for source, data in stored.items():
        if source in LITTLE_ENDIAN_NATIVE:
            continue
        encoded = pydicom.dcmread(io.BytesIO(data))
        encoded_frame = next(generate_frames(encoded.PixelData, number_of_frames=1))
        source_pixels = describe_pixels(encoded)
        assert source_pixels is not None
        whole = rate(lambda data=data: transcode(io.BytesIO(data), ExplicitVRLittleEndian), seconds)
        one = rate(
            lambda source=source, encoded_frame=encoded_frame, source_pixels=source_pixels: (
                frame_in_syntax(encoded_frame, source, source_pixels, ExplicitVRLittleEndian)
            ),
            seconds,
        )
        plugin = (decoder_plugins(source) or ("",))[0]
        print(f"{short(source) + ' -> Explicit VR LE':58} {whole * megabytes:>13.1f} "
              f"{one * megabytes:>11.1f} {'':>7}  {plugin}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    one, five, _ = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min)")
    bench("CT (16-bit signed)", ct_phantom(), arguments.seconds)
    bench("RGB photograph (8-bit)", rgb_photo(), arguments.seconds)
    one, five, _ = os.getloadavg()
    print(f"\nload average at the end {one:.2f} (1 min) {five:.2f} (5 min)")


if __name__ == "__main__":
    main()
