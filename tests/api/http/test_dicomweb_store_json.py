"""STOW-RS of DICOM JSON metadata with bulk data parts (spec §2.1 item 2), end to end."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicomstore.api.http.multipart import multipart_chunks, new_boundary

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _json_and_pixels(name: str) -> tuple[pydicom.Dataset, dict[str, Any], bytes]:
    dataset = pydicom.dcmread(get_testdata_file(name))
    pixels = dataset.PixelData

    def bulk(element: pydicom.DataElement) -> str:
        return "pixel-data" if element.tag == 0x7FE00010 else "unexpected"

    document = dataset.to_json_dict(
        bulk_data_threshold=len(pixels) - 1, bulk_data_element_handler=bulk
    )
    document["00080005"] = {"vr": "CS", "Value": ["ISO_IR 192"]}
    document["00020010"] = {"vr": "UI", "Value": [dataset.file_meta.TransferSyntaxUID]}
    return dataset, document, pixels


def _post(http: httpx.Client, store: str, parts: list[tuple[dict[str, str], bytes]]) -> Any:
    boundary = new_boundary()
    return http.post(
        f"/v1/{store}/dicomWeb/studies",
        content=b"".join(multipart_chunks(parts, boundary)),
        headers={
            "Content-Type": (
                f'multipart/related; type="application/dicom+json"; boundary={boundary}'
            ),
            "Accept": "application/dicom+json",
        },
    )


def test_json_metadata_and_pixel_data_part_store_an_instance(
    http: httpx.Client, dicom_store: str
) -> None:
    original, document, pixels = _json_and_pixels("CT_small.dcm")
    response = _post(
        http,
        dicom_store,
        [
            ({"Content-Type": "application/dicom+json"}, json.dumps([document]).encode()),
            (
                {"Content-Type": "application/octet-stream", "Content-Location": "pixel-data"},
                pixels,
            ),
        ],
    )
    assert response.status_code == 200, response.text
    referenced = response.json()["00081199"]["Value"]
    assert referenced[0]["00081155"]["Value"] == [original.SOPInstanceUID]

    path = (
        f"/v1/{dicom_store}/dicomWeb/studies/{original.StudyInstanceUID}/series/"
        f"{original.SeriesInstanceUID}/instances/{original.SOPInstanceUID}"
    )
    stored = http.get(path, headers={"Accept": "application/dicom; transfer-syntax=*"})
    assert stored.status_code == 200
    from io import BytesIO

    copy = pydicom.dcmread(BytesIO(stored.content))
    assert copy.PixelData == pixels
    assert copy.PatientName == original.PatientName
    assert copy.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID


def test_a_missing_bulk_data_part_fails_the_request(http: httpx.Client, dicom_store: str) -> None:
    _, document, _ = _json_and_pixels("CT_small.dcm")
    response = _post(
        http,
        dicom_store,
        [({"Content-Type": "application/dicom+json"}, json.dumps([document]).encode())],
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    metrics = http.get(f"/v1/{dicom_store}:getDICOMStoreMetrics").json()
    assert "instanceCount" not in metrics


def test_an_instance_breaking_the_rules_fails_alone(http: httpx.Client, dicom_store: str) -> None:
    _, good, pixels = _json_and_pixels("CT_small.dcm")
    _, bad, _ = _json_and_pixels("MR_small.dcm")
    del bad["7FE00010"]
    bad["00080005"] = {"vr": "CS", "Value": ["ISO_IR 100"]}  # Google requires ISO_IR 192
    response = _post(
        http,
        dicom_store,
        [
            ({"Content-Type": "application/dicom+json"}, json.dumps([good, bad]).encode()),
            (
                {"Content-Type": "application/octet-stream", "Content-Location": "pixel-data"},
                pixels,
            ),
        ],
    )
    assert response.status_code == 409
    body = response.json()
    assert len(body["00081199"]["Value"]) == 1
    (failed,) = body["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [272]
    assert "ISO_IR 192" in failed["00091097"]["Value"][0]
