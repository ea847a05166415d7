"""Transcoded instances and frames over HTTP (spec §4.1, §4.2, §4.6; issue #4)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import UID

from tests.api.http.dicomweb_support import RawResponse
from tests.processes import ServerProcess

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
JPEG_LS = "1.2.840.10008.1.2.4.80"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
RLE = "1.2.840.10008.1.2.5"


@pytest.fixture
def stored(server: ServerProcess, dicom_store: str) -> dict[str, Any]:
    paths = {}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for name in ("CT_small.dcm", "SC_rgb_rle.dcm"):
            path = get_testdata_file(name)
            dataset = pydicom.dcmread(path)
            with open(path, "rb") as file:
                response = http.post(
                    f"/v1/{dicom_store}/dicomWeb/studies",
                    content=file.read(),
                    headers={"Content-Type": "application/dicom"},
                )
            assert response.status_code == 200
            paths[name] = (
                dataset,
                f"/v1/{dicom_store}/dicomWeb/studies/{dataset.StudyInstanceUID}/series/"
                f"{dataset.SeriesInstanceUID}/instances/{dataset.SOPInstanceUID}",
            )
    return paths


def _instance(http: httpx.Client, path: str, syntax: str) -> pydicom.Dataset:
    response = http.get(path, headers={"Accept": f"application/dicom; transfer-syntax={syntax}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"application/dicom; transfer-syntax={syntax}"
    return pydicom.dcmread(io.BytesIO(response.content))


@pytest.mark.parametrize("syntax", [J2K_LOSSLESS, JPEG_LS, RLE])
def test_lossless_syntaxes_keep_every_pixel(
    http: httpx.Client, stored: dict[str, Any], syntax: str
) -> None:
    for original, path in stored.values():
        sent = _instance(http, path, syntax)
        assert sent.file_meta.TransferSyntaxUID == syntax
        np.testing.assert_array_equal(sent.pixel_array, original.pixel_array)


def test_jpeg_baseline_is_lossy_but_close(http: httpx.Client, stored: dict[str, Any]) -> None:
    original, path = stored["SC_rgb_rle.dcm"]
    sent = _instance(http, path, JPEG_BASELINE)
    assert sent.LossyImageCompression == "01"
    error = sent.pixel_array.astype(float) - original.pixel_array.astype(float)
    psnr = 10 * np.log10(255**2 / max(float(np.mean(error**2)), 1e-9))
    assert psnr > 30


def test_sixteen_bit_ct_cannot_become_jpeg_baseline(
    http: httpx.Client, stored: dict[str, Any]
) -> None:
    _, path = stored["CT_small.dcm"]
    response = http.get(
        path, headers={"Accept": f"application/dicom; transfer-syntax={JPEG_BASELINE}"}
    )
    assert response.status_code == 406
    assert response.json()["error"]["code"] == 406


def test_a_frame_as_jpeg_2000(http: httpx.Client, stored: dict[str, Any]) -> None:
    original, path = stored["CT_small.dcm"]
    response = http.get(f"{path}/frames/1", headers={"Accept": "image/jp2"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"image/jp2; transfer-syntax={J2K_LOSSLESS}"
    # The frame decodes, inside the original's attributes, to the original pixels.
    original.file_meta.TransferSyntaxUID = UID(J2K_LOSSLESS)
    original.PixelData = encapsulate([response.content])
    np.testing.assert_array_equal(original.pixel_array, pydicom.dcmread(
        get_testdata_file("CT_small.dcm")).pixel_array)  # fmt: skip


def test_frames_as_multipart_jpeg_ls(http: httpx.Client, stored: dict[str, Any]) -> None:
    _, path = stored["CT_small.dcm"]
    response = http.get(
        f"{path}/frames/1", headers={"Accept": 'multipart/related; type="image/jls"'}
    )
    assert response.status_code == 200, response.text
    raw = RawResponse(response.status_code, dict(response.headers), response.content)
    [(headers, body)] = raw.parts()
    assert headers["content-type"] == f"image/jls; transfer-syntax={JPEG_LS}"
    assert body[:2] == b"\xff\xd8"  # a JPEG-LS codestream
