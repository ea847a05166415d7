"""Rendered images and thumbnails over HTTP (PS3.18 §10.4.1.1.5, §10.4.3.3.4; spec §4.3)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from dicomstore.dicom.render import RenderParameters, render_frame
from tests.processes import ServerProcess

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FILES = ("CT_small.dcm", "MR_small.dcm", "SC_rgb_rle_2frame.dcm")


@pytest.fixture
def stored(server: ServerProcess, dicom_store: str) -> dict[str, Any]:
    """The test files stored in a fresh store, by name, with their DICOMweb paths."""
    datasets = {name: pydicom.dcmread(get_testdata_file(name)) for name in FILES}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for name in FILES:
            with open(get_testdata_file(name), "rb") as file:
                response = http.post(
                    f"/v1/{dicom_store}/dicomWeb/studies",
                    content=file.read(),
                    headers={"Content-Type": "application/dicom"},
                )
            assert response.status_code == 200, (name, response.text)
    return {
        name: (
            dataset,
            f"/v1/{dicom_store}/dicomWeb/studies/{dataset.StudyInstanceUID}/series/"
            f"{dataset.SeriesInstanceUID}/instances/{dataset.SOPInstanceUID}",
        )
        for name, dataset in datasets.items()
    }


def _image(response: httpx.Response, kind: str) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"image/{kind}"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == kind.upper()
    return image


@pytest.mark.parametrize("name", FILES)
def test_an_instance_renders_as_jpeg_by_default_and_png_on_request(
    http: httpx.Client, stored: dict[str, Any], name: str
) -> None:
    dataset, path = stored[name]
    jpeg = _image(http.get(f"{path}/rendered"), "jpeg")
    assert jpeg.size == (dataset.Columns, dataset.Rows)
    png = _image(http.get(f"{path}/rendered", headers={"Accept": "image/png"}), "png")
    assert png.size == (dataset.Columns, dataset.Rows)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize(
    ("accept", "query"), [("image/jpeg", {}), ("image/png", {"window": "100,300"})]
)
def test_rendered_bytes_are_those_of_the_file(
    http: httpx.Client, stored: dict[str, Any], name: str, accept: str, query: dict[str, str]
) -> None:
    # Native pixel data renders from the frame's byte range and the stored attributes; the
    # others from the file: the same bytes either way, twice (the second from the cache).
    dataset, path = stored[name]
    expected = render_frame(dataset, 0, accept, RenderParameters.parse(list(query.items())))
    for resource in (f"{path}/rendered", f"{path}/frames/1/rendered"):
        for _ in range(2):
            response = http.get(resource, params=query, headers={"Accept": accept})
            assert response.status_code == 200, response.text
            assert response.content == expected


def test_a_frame_renders_with_a_viewport(http: httpx.Client, stored: dict[str, Any]) -> None:
    _, path = stored["SC_rgb_rle_2frame.dcm"]
    image = _image(
        http.get(f"{path}/frames/2/rendered", params={"viewport": "50,50"},
                 headers={"Accept": "image/png"}),
        "png",
    )  # fmt: skip
    assert max(image.size) == 50
    assert image.mode == "RGB"


def test_a_window_maps_the_stored_range(http: httpx.Client, stored: dict[str, Any]) -> None:
    _, path = stored["CT_small.dcm"]
    wide = _image(http.get(f"{path}/rendered", params={"window": "0,100000"},
                           headers={"Accept": "image/png"}), "png")  # fmt: skip
    narrow = _image(http.get(f"{path}/rendered", params={"window": "40,1"},
                             headers={"Accept": "image/png"}), "png")  # fmt: skip
    # A very wide window greys everything out; a width of 1 makes every pixel black or white.
    assert set(narrow.convert("L").get_flattened_data()) <= {0, 255}
    assert len(set(wide.convert("L").get_flattened_data())) > 2


@pytest.mark.parametrize("level", ["study", "series", "instance"])
def test_thumbnails_fit_a_small_box(http: httpx.Client, stored: dict[str, Any], level: str) -> None:
    _, path = stored["MR_small.dcm"]
    cut = {"study": path.split("/series/")[0], "series": path.split("/instances/")[0],
           "instance": path}[level]  # fmt: skip
    image = _image(http.get(f"{cut}/thumbnail"), "jpeg")
    assert max(image.size) <= 128


def test_bad_requests_are_refused_with_googles_envelope(
    http: httpx.Client, stored: dict[str, Any]
) -> None:
    _, path = stored["CT_small.dcm"]
    for url, params, headers, status in [
        (f"{path}/rendered", {"viewport": "0,10"}, {}, 400),
        (f"{path}/rendered", {"quality": "101"}, {}, 400),
        (f"{path}/rendered", {"annotation": "patient"}, {}, 400),
        (f"{path}/rendered", {}, {"Accept": "image/gif"}, 406),
        (f"{path}/rendered", {}, {"Accept": "application/dicom"}, 406),
        (f"{path}/frames/2/rendered", {}, {}, 400),
        (f"{path}/frames/1,1/rendered", {}, {}, 400),
        (f"{path.rsplit('/', 1)[0]}/1.2.3/rendered", {}, {}, 404),
    ]:
        response = http.get(url, params=params, headers=headers)
        assert response.status_code == status, (url, params, response.text)
        assert response.json()["error"]["code"] == status
