"""Rendered images (PS3.18 §8.3.5, §8.7.4; PS3.3 C.11): parameters, pixel values, sizes, errors.

Pixel values are checked on data sets built here, rendered as PNG (lossless) so that the expected
8-bit values can be compared exactly; pydicom's bundled files check that real data renders.
"""

from __future__ import annotations

import ast
import inspect
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels.decoders.base import DecodeRunner
from pydicom.pixels.processing import convert_color_space
from pydicom.uid import MPEG2MPML, ExplicitVRLittleEndian

from dicomstore.dicom import render
from dicomstore.dicom.json import to_dicom_json
from dicomstore.dicom.render import (
    DEFAULT_QUALITY,
    THUMBNAIL_SIZE,
    DecodedFrame,
    Region,
    RenderParameters,
    Viewport,
    VOILUTFunction,
    Window,
    decode_frame,
    decode_native_frame,
    number_of_frames,
    render_decoded,
    render_frame,
    render_instance,
    render_thumbnail,
    rendering_attributes,
    representative_index,
)
from dicomstore.errors import FailedPrecondition, InvalidArgument, NotAcceptable
from tests.dicom.corpus import TEST_FILES, corpus, pydicom_frames, readable

# --- helpers ----------------------------------------------------------------------------------


def image_dataset(
    pixels: npt.NDArray[Any], photometric: str = "MONOCHROME2", bits_stored: int | None = None
) -> Dataset:
    """A data set holding ``pixels`` natively, as a stored instance would."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.set_pixel_data(pixels, photometric, bits_stored or 8 * pixels.dtype.itemsize)
    return dataset


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_pixels(dataset: Dataset, frame_index: int = 0, **query: str) -> npt.NDArray[Any]:
    parameters = RenderParameters.parse(list(query.items()))
    return np.asarray(decoded(render_frame(dataset, frame_index, "image/png", parameters)))


def row(*values: int, dtype: str = "uint16") -> npt.NDArray[Any]:
    return np.array([values], dtype=dtype)


def read(name: str) -> Dataset:
    return pydicom.dcmread(TEST_FILES / name, defer_size=8192)


# --- the module's public surface --------------------------------------------------------------


def test_all_is_exact() -> None:
    names = set()
    for node in ast.parse(inspect.getsource(render)).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    assert sorted(render.__all__) == sorted(name for name in names if not name.startswith("_"))


# --- parameters (PS3.18 §8.3.5.1) -------------------------------------------------------------


def test_no_parameters() -> None:
    assert RenderParameters.parse([]) == RenderParameters()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512,256", Viewport(512, 256)),
        (" 64 , 64 ", Viewport(64, 64)),
        ("100,100,10,20,30,40", Viewport(100, 100, Region(10, 20, 30, 40))),
        ("100,100,10.5,0,,", Viewport(100, 100, Region(10.5, 0, None, None))),
        ("100,100,,,,", Viewport(100, 100)),
        ("100,100,200,0,-200,", Viewport(100, 100, Region(200, 0, -200, None))),
    ],
)
def test_viewport(text: str, expected: Viewport) -> None:
    assert RenderParameters.parse([("viewport", text)]).viewport == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("512", "2 or 6"),
        ("1,2,3", "2 or 6"),
        ("0,10", "vw must be an integer from 1"),
        ("10,-1", "vh must be an integer from 1"),
        ("10.5,10", "vw must be an integer"),
        ("a,b", "vw must be an integer"),
        (f"{render.MAX_VIEWPORT_SIZE + 1},10", f"1 to {render.MAX_VIEWPORT_SIZE}"),
        ("10,10,x,0,5,5", "sx must be a number"),
        ("10,10,0,0,inf,5", "sw must be a number"),
        ("10,10,-1,0,5,5", "must not be negative"),
        ("10,10,0,0,0,5", "must not be 0"),
    ],
)
def test_bad_viewport(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        RenderParameters.parse([("viewport", text)])


@pytest.mark.parametrize(("text", "expected"), [("1", 1), ("100", 100), ("75", 75)])
def test_quality(text: str, expected: int) -> None:
    assert RenderParameters.parse([("quality", text)]).quality == expected


@pytest.mark.parametrize("text", ["0", "101", "-5", "7.5", "high", ""])
def test_bad_quality(text: str) -> None:
    with pytest.raises(InvalidArgument, match="integer from 1 to 100"):
        RenderParameters.parse([("quality", text)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("40,400", Window(40, 400, VOILUTFunction.LINEAR)),
        ("40,400,linear", Window(40, 400, VOILUTFunction.LINEAR)),
        ("-600,1500,linear-exact", Window(-600, 1500, VOILUTFunction.LINEAR_EXACT)),
        ("0.5,0.25,sigmoid", Window(0.5, 0.25, VOILUTFunction.SIGMOID)),
        ("10,1,LINEAR", Window(10, 1, VOILUTFunction.LINEAR)),
    ],
)
def test_window(text: str, expected: Window) -> None:
    assert RenderParameters.parse([("window", text)]).window == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("40", "expected window=center,width,function"),
        ("40,400,linear,1", "expected window=center,width,function"),
        ("c,400", "must be numbers"),
        ("nan,400", "must be numbers"),
        ("40,400,cubic", "unknown function 'cubic'"),
        ("40,0.5", "at least 1"),
        ("40,0.5,linear", "at least 1"),
        ("40,0,linear-exact", "greater than 0"),
        ("40,-3,sigmoid", "greater than 0"),
    ],
)
def test_bad_window(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        RenderParameters.parse([("window", text)])


def test_all_parameters_together_and_content_negotiation_passed_over() -> None:
    parameters = RenderParameters.parse(
        [
            ("accept", "image/png"),
            ("viewport", "64,64"),
            ("quality", "50"),
            ("window", "40,400"),
            ("charset", "utf-8"),
        ]
    )
    assert parameters == RenderParameters(Viewport(64, 64), 50, Window(40, 400))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("annotation", "patient")], "'annotation' .* not supported"),
        ([("iccprofile", "srgb")], "'iccprofile' .* not supported"),
        ([("frame", "1")], "Unknown query parameter 'frame'"),
        ([("windowcenter", "40")], "Unknown query parameter 'windowcenter'"),
        ([("viewport", "10,10"), ("viewport", "20,20")], "more than once"),
    ],
)
def test_bad_parameters(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        RenderParameters.parse(params)


def test_unsupported_parameters_can_be_ignored() -> None:
    params = [("annotation", "patient"), ("frame", "1"), ("viewport", "10,20")]
    assert RenderParameters.parse(params, ignore_unsupported=True) == RenderParameters(
        Viewport(10, 20)
    )
    with pytest.raises(InvalidArgument, match="integer from 1 to 100"):
        RenderParameters.parse([("quality", "200")], ignore_unsupported=True)
    thumbnail = RenderParameters.parse(
        [("window", "40,400"), ("viewport", "10,20")], thumbnail=True, ignore_unsupported=True
    )
    assert thumbnail == RenderParameters(Viewport(10, 20))


def test_thumbnail_takes_viewport_only() -> None:
    parameters = RenderParameters.parse([("viewport", "32,32")], thumbnail=True)
    assert parameters == RenderParameters(Viewport(32, 32))
    for name, value in (("quality", "50"), ("window", "40,400")):
        with pytest.raises(InvalidArgument, match="thumbnail resources take viewport"):
            RenderParameters.parse([(name, value)], thumbnail=True)


# --- grayscale: Modality LUT, VOI LUT, MONOCHROME1 (PS3.3 C.11) -------------------------------


def test_requested_window_maps_known_values_to_black_and_white() -> None:
    # Linear, center 150, width 101 (C.11.2.1.2.1): x <= 99.5 → 0, x > 199.5 → 255, and
    # 150 → ((150 - 149.5) / 100 + 0.5) × 255 = 128.775.
    dataset = image_dataset(row(0, 99, 150, 200, 300, 65535))
    assert png_pixels(dataset, window="150,101").tolist() == [[0, 0, 129, 255, 255, 255]]


def test_linear_exact_and_sigmoid_windows() -> None:
    dataset = image_dataset(row(0, 64, 128, 192, 256, 1000))
    # LINEAR_EXACT (C.11.2.1.3.2): ((x − 128) / 256 + 0.5) × 255.
    exact = png_pixels(dataset, window="128,256,linear-exact")
    assert exact.tolist() == [[0, 64, 128, 191, 255, 255]]
    # SIGMOID (C.11.2.1.3.1): 255 / (1 + exp(−4 (x − 128) / 256)).
    sigmoid = png_pixels(dataset, window="128,256,sigmoid")
    values = np.array([0, 64, 128, 192, 256, 1000], dtype=float)
    expected = np.rint(255 / (1 + np.exp(-4 * (values - 128) / 256)))
    assert sigmoid.tolist() == [expected.astype(int).tolist()]


def test_window_of_width_one_is_a_threshold() -> None:
    dataset = image_dataset(row(9, 10, 11))
    assert png_pixels(dataset, window="10,1").tolist() == [[0, 255, 255]]


def test_rescale_intercept_shifts_values_before_the_window() -> None:
    # Stored 1024 with intercept −1024 is 0, the middle of the window [−0.5, 0.5].
    dataset = image_dataset(row(0, 1023, 1024, 1025, 4095), bits_stored=12)
    dataset.RescaleSlope = 1
    dataset.RescaleIntercept = -1024
    assert png_pixels(dataset, window="0.5,2").tolist() == [[0, 0, 128, 255, 255]]


def test_rescale_slope_scales_values_before_the_window() -> None:
    dataset = image_dataset(row(0, 256, 512, 768, 1024))
    dataset.RescaleSlope = 2
    dataset.RescaleIntercept = -1024
    # Modality values −1024, −512, 0, 512, 1024; window linear-exact over [−1024, 1024].
    pixels = png_pixels(dataset, window="0,2048,linear-exact")
    assert pixels.tolist() == [[0, 64, 128, 191, 255]]


def test_window_of_the_data_set_when_none_is_asked() -> None:
    dataset = image_dataset(row(0, 99, 150, 200, 300))
    dataset.WindowCenter = [150, 1000]
    dataset.WindowWidth = [101, 10]
    assert png_pixels(dataset).tolist() == [[0, 0, 129, 255, 255]]
    # The request's window wins over the data set's.
    assert png_pixels(dataset, window="300,1").tolist() == [[0, 0, 0, 0, 255]]


def test_voi_lut_function_of_the_data_set() -> None:
    dataset = image_dataset(row(0, 128, 256))
    dataset.WindowCenter = 128
    dataset.WindowWidth = 256
    dataset.VOILUTFunction = "SIGMOID"
    assert png_pixels(dataset).tolist() == [[30, 128, 225]]


def test_invalid_window_of_the_data_set_falls_back_to_the_frame_range() -> None:
    dataset = image_dataset(row(100, 150, 200))
    dataset.WindowCenter = 150
    dataset.WindowWidth = 0  # not allowed for LINEAR (C.11.2.1.2.1)
    assert png_pixels(dataset).tolist() == [[0, 128, 255]]


def test_voi_lut_sequence() -> None:
    dataset = image_dataset(row(0, 1, 2, 3, 7, dtype="uint8"))
    item = Dataset()
    item.LUTDescriptor = [4, 0, 8]
    item.LUTData = [0, 50, 100, 255]
    dataset.VOILUTSequence = [item]
    assert png_pixels(dataset).tolist() == [[0, 50, 100, 255, 255]]


def test_voi_lut_sequence_after_rescaling_beyond_its_range() -> None:
    dataset = image_dataset(row(0, 1, 2, 3, 40000))
    dataset.RescaleSlope = 2
    dataset.RescaleIntercept = 10
    item = Dataset()
    item.LUTDescriptor = [4, 10, 16]  # inputs 10 to 13
    item.LUTData = [0, 1000, 65535, 30000]
    dataset.VOILUTSequence = [item]
    # Modality values 10, 12, 14, 16, 80010: the last two past the table take its last entry.
    assert png_pixels(dataset).tolist() == [[0, 255, 117, 117, 117]]


def test_window_is_preferred_to_the_voi_lut_sequence() -> None:
    dataset = image_dataset(row(0, 1, 2, 3, dtype="uint8"))
    item = Dataset()
    item.LUTDescriptor = [4, 0, 8]
    item.LUTData = [0, 50, 100, 255]
    dataset.VOILUTSequence = [item]
    dataset.WindowCenter = 2
    dataset.WindowWidth = 1
    assert png_pixels(dataset).tolist() == [[0, 0, 255, 255]]


def test_modality_lut_sequence() -> None:
    dataset = image_dataset(row(0, 1, 2, 3))
    item = Dataset()
    item.LUTDescriptor = [4, 0, 16]
    item.ModalityLUTType = "US"
    item.LUTData = [0, 1000, 2000, 3000]
    dataset.ModalityLUTSequence = [item]
    # Modality values 0, 1000, 2000, 3000; ((x − 1500) / 2000 + 0.5) × 255.
    assert png_pixels(dataset, window="1500,2000,linear-exact").tolist() == [[0, 64, 191, 255]]


def test_without_window_the_frame_range_is_stretched() -> None:
    dataset = image_dataset(row(100, 150, 200))
    assert png_pixels(dataset).tolist() == [[0, 128, 255]]


def test_without_window_8_bit_values_are_shown_as_stored() -> None:
    dataset = image_dataset(row(10, 77, 200, dtype="uint8"))
    assert png_pixels(dataset).tolist() == [[10, 77, 200]]


def test_monochrome1_is_inverted() -> None:
    values = row(10, 77, 200, dtype="uint8")
    assert png_pixels(image_dataset(values, "MONOCHROME1")).tolist() == [[245, 178, 55]]
    dataset = image_dataset(row(0, 99, 150, 200, 300), "MONOCHROME1")
    assert png_pixels(dataset, window="150,101").tolist() == [[255, 255, 126, 0, 0]]


def test_signed_values() -> None:
    dataset = image_dataset(row(-2048, -1, 0, 1, 2047, dtype="int16"), bits_stored=12)
    assert png_pixels(dataset, window="0.5,2").tolist() == [[0, 0, 128, 255, 255]]
    # Without a window: the frame's range, −2048 → 0 and 2047 → 255 (center 0, width 4096).
    assert png_pixels(dataset).tolist() == [[0, 127, 128, 128, 255]]


def test_functional_groups_give_each_frame_its_rescale_and_window() -> None:
    frames = np.array([[[100, 200]], [[100, 200]]], dtype="uint16")
    dataset = image_dataset(frames)
    shared, first, second = Dataset(), Dataset(), Dataset()
    voi = Dataset()
    voi.WindowCenter = 150.5
    voi.WindowWidth = 101
    shared.FrameVOILUTSequence = [voi]
    dataset.SharedFunctionalGroupsSequence = [shared]
    for item, intercept in ((first, 0), (second, 100)):
        transformation = Dataset()
        transformation.RescaleSlope = 1
        transformation.RescaleIntercept = intercept
        item.PixelValueTransformationSequence = [transformation]
    dataset.PerFrameFunctionalGroupsSequence = [first, second]
    assert png_pixels(dataset, 0).tolist() == [[0, 255]]
    assert png_pixels(dataset, 1).tolist() == [[255, 255]]


def test_float_values() -> None:
    dataset = image_dataset(row(0, 1, 2, dtype="uint8"))
    # As Float Pixel Data decodes: no 8-bit shortcut, the finite range is stretched, NaN is 0.
    frame = DecodedFrame(0, np.array([[-1.0, 0.0, 1.0, np.nan]]), "MONOCHROME2")
    image = decoded(render_decoded(dataset, frame, "image/png"))
    assert np.asarray(image).tolist() == [[0, 128, 255, 0]]


# --- colour (PS3.3 C.7.6.3.1.2) ---------------------------------------------------------------

RGB = np.array(
    [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[0, 0, 0], [128, 128, 128], [255, 255, 255]]],
    dtype="uint8",
)


def test_rgb() -> None:
    assert (png_pixels(image_dataset(RGB, "RGB")) == RGB).all()


def test_window_is_ignored_on_colour() -> None:
    assert (png_pixels(image_dataset(RGB, "RGB"), window="0,1") == RGB).all()


def test_rgb_of_16_bits() -> None:
    dataset = image_dataset(RGB.astype("uint16") << 8, "RGB")
    assert (png_pixels(dataset) == RGB).all()


def test_ybr_full_is_converted_to_rgb() -> None:
    ybr = convert_color_space(RGB, "RGB", "YBR_FULL")
    pixels = png_pixels(image_dataset(ybr, "YBR_FULL"))
    assert np.abs(pixels.astype(int) - RGB).max() <= 2


def test_palette_color() -> None:
    indices = row(0, 1, 2, 3, dtype="uint8")
    dataset = image_dataset(indices, "PALETTE COLOR")
    red, green, blue = [0, 65535, 0, 32768], [0, 0, 65535, 32768], [0, 0, 0, 65535]
    for colour, entries in (("Red", red), ("Green", green), ("Blue", blue)):
        setattr(dataset, f"{colour}PaletteColorLookupTableDescriptor", [4, 0, 16])
        data = np.array(entries, dtype="<u2").tobytes()
        setattr(dataset, f"{colour}PaletteColorLookupTableData", data)
    pixels = png_pixels(dataset)
    assert pixels.tolist() == [[[0, 0, 0], [255, 0, 0], [0, 255, 0], [128, 128, 255]]]


# --- viewport (PS3.18 §8.3.5.1.3) -------------------------------------------------------------


def halves() -> Dataset:
    """200 columns × 100 rows: the left half black, the right half white."""
    pixels = np.zeros((100, 200), dtype="uint8")
    pixels[:, 100:] = 255
    return image_dataset(pixels)


def test_without_viewport_the_frame_keeps_its_size() -> None:
    assert decoded(render_frame(halves(), 0)).size == (200, 100)


@pytest.mark.parametrize(
    ("viewport", "size"),
    [
        ("50,50", (50, 25)),  # fits the width
        ("400,50", (100, 50)),  # fits the height
        ("200,100", (200, 100)),
        ("1000,1000", (1000, 500)),  # enlarged
        ("50,50,0,0,100,100", (50, 50)),  # a square region
        ("30,60,100,0,,", (30, 30)),  # the right half: sw and sh default to the rest
    ],
)
def test_viewport_fits_keeping_the_aspect_ratio(viewport: str, size: tuple[int, int]) -> None:
    parameters = RenderParameters.parse([("viewport", viewport)])
    for media_type in ("image/jpeg", "image/png", "image/gif"):
        assert decoded(render_frame(halves(), 0, media_type, parameters)).size == size


def test_viewport_crops_the_source_region() -> None:
    right = png_pixels(halves(), viewport="50,50,100,0,100,100")
    assert right.shape == (50, 50)
    assert (right == 255).all()
    left = png_pixels(halves(), viewport="50,50,0,0,100,100")
    assert (left == 0).all()


def test_negative_region_width_flips() -> None:
    flipped = png_pixels(halves(), viewport="200,100,200,0,-200,100")
    assert (flipped[:, :90] == 255).all()
    assert (flipped[:, 110:] == 0).all()
    pixels = np.zeros((100, 100), dtype="uint8")
    pixels[:50] = 255
    upside_down = png_pixels(image_dataset(pixels), viewport="100,100,0,100,100,-100")
    assert (upside_down[:40] == 0).all()
    assert (upside_down[60:] == 255).all()


def test_region_partly_outside_is_clipped() -> None:
    # Columns 150–200 and rows 50–100 remain: a square, fitted into the viewport.
    clipped = png_pixels(halves(), viewport="100,100,150,50,100,100")
    assert clipped.shape == (100, 100)
    assert (clipped == 255).all()


def test_region_outside_the_frame() -> None:
    parameters = RenderParameters.parse([("viewport", "50,50,500,0,10,10")])
    with pytest.raises(InvalidArgument, match="outside the 200×100 frame"):
        render_frame(halves(), 0, "image/png", parameters)


# --- media types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_type", "format_"), [("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/gif", "GIF")]
)
def test_media_types(media_type: str, format_: str) -> None:
    assert decoded(render_frame(halves(), 0, media_type)).format == format_


def test_jpeg_is_baseline() -> None:
    data = render_frame(image_dataset(RGB, "RGB"), 0, "image/jpeg")
    assert b"\xff\xc0" in data  # SOF0: baseline DCT, Huffman (ISO/IEC 10918-1 Table B.1)
    assert b"\xff\xc2" not in data  # SOF2: progressive


def test_quality_changes_the_jpeg() -> None:
    rng = np.random.default_rng(4)
    dataset = image_dataset(rng.integers(0, 255, (64, 64), dtype="uint8"))

    def size(quality: int) -> int:
        parameters = RenderParameters(quality=quality)
        return len(render_frame(dataset, 0, "image/jpeg", parameters))

    assert size(10) < size(DEFAULT_QUALITY) < size(100)
    assert len(render_frame(dataset, 0, "image/jpeg")) == size(DEFAULT_QUALITY)


def test_unsupported_media_type() -> None:
    with pytest.raises(NotAcceptable, match="not image/jp2"):
        render_frame(halves(), 0, "image/jp2")


# --- frames, multi-frame, thumbnails ----------------------------------------------------------


def three_frames() -> Dataset:
    """Three 4×8 frames of the values 0, 128 and 255."""
    frames = np.stack([np.full((4, 8), value, dtype="uint8") for value in (0, 128, 255)])
    dataset = image_dataset(frames)
    dataset.FrameTime = 40
    return dataset


def test_frame_index() -> None:
    dataset = three_frames()
    assert number_of_frames(dataset) == 3
    for index, value in enumerate((0, 128, 255)):
        assert (png_pixels(dataset, index) == value).all()


@pytest.mark.parametrize("index", [-1, 3])
def test_frame_index_out_of_range(index: int) -> None:
    with pytest.raises(InvalidArgument, match="the instance has 3 frames"):
        render_frame(three_frames(), index)


def test_instance_renders_its_first_frame() -> None:
    image = decoded(render_instance(three_frames(), "image/png"))
    assert (np.asarray(image) == 0).all()


def test_instance_as_gif_is_an_animation_of_every_frame() -> None:
    image = decoded(render_instance(three_frames(), "image/gif"))
    assert image.n_frames == 3
    assert image.info["duration"] == 40
    values = []
    for index in range(3):
        image.seek(index)
        values.append(int(np.asarray(image.convert("L")).mean()))
    assert values == [0, 128, 255]


def test_single_frame_gif_is_not_animated() -> None:
    assert decoded(render_instance(halves(), "image/gif")).n_frames == 1


def test_animation_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "MAX_ANIMATION_BYTES", 3 * 32 - 1)
    with pytest.raises(NotAcceptable, match="smaller viewport"):
        render_instance(three_frames(), "image/gif")


def test_representative_index() -> None:
    assert [representative_index(count) for count in (1, 2, 3, 4, 30)] == [0, 0, 1, 1, 14]
    with pytest.raises(ValueError):
        representative_index(0)


def test_thumbnail_is_the_middle_frame_fitted_into_the_default_size() -> None:
    frames = np.stack([np.full((256, 512), value, dtype="uint8") for value in (0, 128, 255)])
    image = decoded(render_thumbnail(image_dataset(frames), "image/png"))
    assert image.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE // 2)
    assert (np.asarray(image) == 128).all()
    frame = decoded(render_thumbnail(image_dataset(frames), "image/png", frame_index=2))
    assert (np.asarray(frame) == 255).all()


def test_thumbnail_is_not_enlarged_but_takes_a_viewport() -> None:
    assert decoded(render_thumbnail(three_frames())).size == (8, 4)
    parameters = RenderParameters.parse([("viewport", "32,32")], thumbnail=True)
    assert decoded(render_thumbnail(three_frames(), "image/jpeg", parameters)).size == (32, 16)


# --- what cannot be rendered ------------------------------------------------------------------


def test_no_pixel_data() -> None:
    dataset = halves()
    del dataset.PixelData
    with pytest.raises(NotAcceptable, match="no pixel data"):
        render_frame(dataset, 0)


def test_transfer_syntax_without_decoder() -> None:
    dataset = halves()
    dataset.file_meta.TransferSyntaxUID = MPEG2MPML
    with pytest.raises(NotAcceptable, match="cannot be decoded"):
        render_frame(dataset, 0)


def test_photometric_interpretation_without_rgb_meaning() -> None:
    dataset = image_dataset(RGB, "RGB")
    frame = DecodedFrame(0, RGB, "YBR_PARTIAL_420")
    with pytest.raises(NotAcceptable, match="YBR_PARTIAL_420"):
        render_decoded(dataset, frame)


def test_pixel_data_the_decoders_fail_on() -> None:
    # pydicom's own "JPEG-lossy.dcm" has a malformed 12-bit JPEG stream no plugin decodes.
    with pytest.raises(FailedPrecondition, match="Frame 1 of the instance could not be decoded"):
        render_frame(read("JPEG-lossy.dcm"), 0)


# --- pydicom's files --------------------------------------------------------------------------

CORPUS = [
    "CT_small.dcm",  # MONOCHROME2, signed 16-bit, rescale
    "MR_small.dcm",  # window in the data set
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_bigendian.dcm",
    "693_J2KI.dcm",  # JPEG 2000 lossy
    "JPEG2000.dcm",
    "image_dfl.dcm",  # deflated
    "liver_1frame.dcm",  # 1 bit allocated
    "rtdose.dcm",  # 32-bit, 15 frames
    "examples_overlay.dcm",
    "examples_palette.dcm",  # PALETTE COLOR
    "examples_rgb_color.dcm",
    "examples_ybr_color.dcm",  # JPEG baseline YBR_FULL_422, 30 frames
    "examples_jpeg2k.dcm",  # YBR_RCT
    "ExplVR_BigEnd.dcm",  # RGB, big endian
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline YBR_FULL
    "SC_rgb_dcmtk_+eb+cy+np.dcm",  # JPEG baseline YBR_FULL_422
    "SC_ybr_full_422_uncompressed.dcm",
    "SC_rgb_rle_16bit_2frame.dcm",
    "SC_rgb_rle_32bit.dcm",
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless
]


@pytest.mark.parametrize("name", CORPUS)
@pytest.mark.parametrize("media_type", ["image/jpeg", "image/png"])
def test_pydicom_files_render(name: str, media_type: str) -> None:
    path: Path = TEST_FILES / name
    dataset = read(name)
    last = number_of_frames(dataset) - 1
    image = decoded(render_frame(dataset, last, media_type))
    assert image.size == (dataset.Columns, dataset.Rows)
    assert image.mode in ("L", "RGB")
    assert image.mode == ("L" if dataset.SamplesPerPixel == 1 and "PALETTE" not in
                          dataset.PhotometricInterpretation else "RGB")  # fmt: skip
    assert np.asarray(image).std() > 0, f"{path.name} rendered as a flat image"
    thumbnail = decoded(render_thumbnail(dataset, media_type))
    assert max(thumbnail.size) <= THUMBNAIL_SIZE


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_jp2klossless.dcm",
    ],
)
def test_every_encoding_of_a_frame_renders_the_same(name: str) -> None:
    expected = render_frame(read("MR_small.dcm"), 0, "image/png")
    assert render_frame(read(name), 0, "image/png") == expected


def test_rendered_ct_matches_its_window() -> None:
    dataset = read("CT_small.dcm")
    pixels = np.asarray(decoded(render_frame(dataset, 0, "image/png")))
    values = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    low, high = values.min(), values.max()  # CT_small has no window: its range is stretched
    assert pixels[values == low].max() == 0
    assert pixels[values == high].min() == 255


def test_decode_frame_decodes_only_that_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded_indices: list[int] = []
    original = DecodeRunner.decode

    def counting(self: DecodeRunner, index: int) -> bytes | bytearray:
        decoded_indices.append(index)
        return original(self, index)

    monkeypatch.setattr(DecodeRunner, "decode", counting)
    dataset = read("examples_ybr_color.dcm")  # 30 JPEG frames
    frame = decode_frame(dataset, 17)
    assert frame.pixels.shape == (240, 320, 3)
    assert frame.photometric_interpretation == "RGB"
    assert decoded_indices == [17]
    decoded_indices.clear()
    render_frame(dataset, 29, "image/jpeg")
    render_thumbnail(dataset)
    render_instance(dataset, "image/png")
    assert decoded_indices == [29, 14, 0]


# --- a frame rendered from its own bytes and the stored attributes ----------------------------


def _read_quietly(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the corpus has odd files on purpose
        return pydicom.dcmread(path)


def _native_images() -> list[Path]:
    """Corpus files with native little endian Pixel Data that pydicom decodes."""
    found = []
    for path in corpus():
        if not readable(path):
            continue
        dataset = _read_quietly(path)
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        if syntax is None or syntax.is_encapsulated or syntax.is_deflated:
            continue
        if not syntax.is_little_endian or "PixelData" not in dataset:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                decode_frame(dataset, 0)
        except (FailedPrecondition, NotAcceptable, InvalidArgument):
            continue
        found.append(path)
    return found


NATIVE_IMAGES = _native_images()


def test_native_images_are_covered() -> None:
    assert len(NATIVE_IMAGES) >= 15


@pytest.mark.parametrize("path", NATIVE_IMAGES, ids=lambda path: path.name)
def test_a_frame_from_its_bytes_renders_as_from_the_file(path: Path) -> None:
    dataset = _read_quietly(path)
    attributes = rendering_attributes(to_dicom_json(dataset, lambda element: f"bulk/{element}"))
    if attributes is None:  # a lookup table given by reference: the file is read instead
        pytest.skip("attributes hold bulk data")
    syntax = dataset.file_meta.TransferSyntaxUID
    frames = pydicom_frames(dataset)
    for index in sorted({0, len(frames) // 2, len(frames) - 1}):
        decoded = decode_native_frame(attributes, index, syntax, bytes(frames[index]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. excess padding after the frames
            expected = decode_frame(dataset, index)
        assert decoded.photometric_interpretation == expected.photometric_interpretation
        assert decoded.pixels.dtype == expected.pixels.dtype
        assert decoded.pixels.flags.writeable
        assert np.array_equal(decoded.pixels, expected.pixels)
        for media_type, parameters in (
            ("image/jpeg", RenderParameters()),
            ("image/png", RenderParameters(window=Window(100, 300))),
            ("image/png", RenderParameters(viewport=Viewport(64, 48))),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reference = render_frame(dataset, index, media_type, parameters)
            assert render_decoded(attributes, decoded, media_type, parameters) == reference


def test_rendering_attributes_are_shared_and_refused_by_reference() -> None:
    document = to_dicom_json(read("CT_small.dcm"), lambda element: f"bulk/{element}")
    first = rendering_attributes(document)
    assert first is not None
    assert rendering_attributes(dict(document)) is first  # equal attributes: one data set
    assert "PatientName" not in first and "Rows" in first
    lut = {"vr": "SQ", "Value": [{"00283006": {"vr": "OW", "BulkDataURI": "bulk/lut"}}]}
    assert rendering_attributes({**document, "00283010": lut}) is None
    assert rendering_attributes({k: v for k, v in document.items() if k != "7FE00010"}) is None


def test_decode_native_frame_refuses_encapsulated_syntaxes() -> None:
    dataset = read("CT_small.dcm")
    with pytest.raises(ValueError, match="native"):
        decode_native_frame(dataset, 0, "1.2.840.10008.1.2.4.50", b"")
    with pytest.raises(InvalidArgument, match="Frame 2 does not exist"):
        decode_native_frame(dataset, 1, ExplicitVRLittleEndian, dataset.PixelData)


def test_window_tables_are_shared_and_bounded() -> None:
    dataset = image_dataset(row(0, 1000, 2000))
    dataset.WindowCenter, dataset.WindowWidth = 1000, 2000
    render._window_table.cache_clear()
    png_pixels(dataset)
    png_pixels(dataset)
    assert render._window_table.cache_info().hits >= 1
    assert render._window_table.cache_info().maxsize == 64
