"""Rendered frames per second for a 512x512 16-bit CT: ``dicomstore.dicom.render`` in process.

Each render decodes the frame from the data set's pixel data (as a WADO-RS rendered request
does after reading the instance), maps it to 8 bits (rescale, window) and encodes it. Run::

    python benchmarks/render.py [--seconds S] [--no-compressed]

The CT is pydicom's ``CT_small.dcm`` header (signed 16-bit, rescale slope/intercept) with a
synthetic 512x512 phantom slice; cases: its stored Window Center/Width (40/400), no window (the
frame's range is used), the request's ``viewport=256,256``, a thumbnail (128x128), and the same
frame stored RLE Lossless and JPEG 2000 Lossless (decoding included) when the codecs are
installed. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import JPEG2000Lossless, RLELossless

from dicomstore.dicom.render import RenderParameters, render_frame, render_thumbnail


def phantom() -> np.ndarray:
    """A 512x512 CT slice in stored values (HU + 1024): air, a body, bone, soft tissue, noise."""
    y, x = np.mgrid[-256:256, -256:256].astype(np.float64)
    hu = np.full((512, 512), -1000.0)
    hu[(x / 220) ** 2 + (y / 180) ** 2 < 1] = 40.0
    inside = (x / 200) ** 2 + (y / 160) ** 2 < 1
    hu[inside] = (-80.0 + 30 * np.sin(x / 9) * np.cos(y / 13))[inside]
    hu[((x - 60) / 25) ** 2 + ((y + 20) / 25) ** 2 < 1] = 700.0
    hu[((x + 70) / 40) ** 2 + ((y - 30) / 30) ** 2 < 1] = 60.0
    hu += np.random.default_rng(1).normal(0, 12, hu.shape)
    return np.clip(np.rint(hu + 1024), 0, 4095).astype(np.int16)


def ct_512(window: bool = True) -> Dataset:
    dataset = pydicom.dcmread(str(get_testdata_file("CT_small.dcm")))
    dataset.Rows = dataset.Columns = 512
    dataset.BitsStored, dataset.HighBit = 16, 15
    dataset.RescaleSlope, dataset.RescaleIntercept = 1, -1024
    dataset.PixelData = phantom().tobytes()
    if window:
        dataset.WindowCenter, dataset.WindowWidth = 40, 400
    else:
        for keyword in ("WindowCenter", "WindowWidth"):
            if keyword in dataset:
                delattr(dataset, keyword)
    return dataset


def compressed(syntax: str) -> Dataset | None:
    dataset = ct_512()
    try:
        dataset.compress(syntax)
    except Exception as error:  # no encoder plugin installed
        print(f"(skipping {syntax.name}: {error})")
        return None
    return dataset


def frames_per_second(render: Callable[[], bytes], seconds: float) -> tuple[float, int]:
    size = len(render())  # warm up, and the output size
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        render()
        count += 1
    return count / elapsed, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per case (default 2)")
    parser.add_argument("--no-compressed", action="store_true", help="skip RLE and JPEG 2000")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")

    one, five, _ = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min)")
    viewport = RenderParameters.parse([("viewport", "256,256")])
    window = RenderParameters.parse([("window", "-600,1500")])
    native, no_window = ct_512(), ct_512(window=False)
    cases: list[tuple[str, Dataset, str, Callable[[Dataset, str], bytes]]] = []
    for media_type in ("image/jpeg", "image/png"):
        cases += [
            ("native, stored window", native, media_type, lambda d, m: render_frame(d, 0, m)),
            ("native, no window", no_window, media_type, lambda d, m: render_frame(d, 0, m)),
            ("native, window=-600,1500", native, media_type,
             lambda d, m: render_frame(d, 0, m, window)),
            ("native, viewport=256,256", native, media_type,
             lambda d, m: render_frame(d, 0, m, viewport)),
            ("native, thumbnail 128", native, media_type, lambda d, m: render_thumbnail(d, m)),
        ]  # fmt: skip
    if not arguments.no_compressed:
        for label, syntax in (
            ("RLE Lossless", RLELossless),
            ("JPEG 2000 Lossless", JPEG2000Lossless),
        ):
            dataset = compressed(syntax)
            if dataset is not None:
                for media_type in ("image/jpeg", "image/png"):
                    cases.append((label, dataset, media_type, lambda d, m: render_frame(d, 0, m)))

    print(f"{'source':32} {'media type':11} {'frames/s':>9} {'ms/frame':>9} {'output':>9}")
    for label, dataset, media_type, render in cases:
        rate, size = frames_per_second(
            lambda dataset=dataset, media_type=media_type, render=render: render(
                dataset, media_type
            ),
            arguments.seconds,
        )
        print(
            f"{label:32} {media_type:11} {rate:>9.0f} {1000 / rate:>8.2f}ms {size / 1024:>7.1f}KiB"
        )


if __name__ == "__main__":
    main()
