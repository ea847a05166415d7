"""Rendered images: a frame of a stored instance as JPEG, PNG or GIF (PS3.18 §8.3.5, §8.7.4).

WADO-RS rendered resources (``…/instances/{i}/rendered``, ``…/frames/{f}/rendered``) and the
thumbnail resources (``…/thumbnail`` at study, series, instance and frame level) turn pixel data
into a consumer image with at most 8 bits per channel. This module is that conversion, with no
HTTP and no index: a pydicom data set (read deferred is fine) in, image bytes out.

:meth:`RenderParameters.parse` reads the query parameters; :func:`render_frame`,
:func:`render_instance` and :func:`render_thumbnail` produce the image. :func:`decode_frame` and
:func:`render_decoded` split decoding from rendering, for callers that decode a frame they read
by range themselves.

The pipeline (PS3.4 §N.2, applied to one frame)
    1. decode **one** frame with pydicom's decoder for the transfer syntax — never the other
       frames of a multi-frame instance (compressed frames are located through the offset
       tables; a deferred Pixel Data value is read, but only the asked frame is decoded);
    2. grayscale (MONOCHROME1/2): the Modality LUT — Rescale Slope/Intercept, or the Modality LUT
       Sequence (PS3.3 C.11.1) — then the VOI LUT: the ``window`` parameter, else the first
       Window Center/Width of the data set (with its VOI LUT Function, PS3.3 C.11.2.1.2-3),
       else the first VOI LUT Sequence item, else a window over the frame's own range (its
       minimum to 0, its maximum to 255; 8-bit and 1-bit stored values without rescaling are
       shown as they are). Per-frame and shared functional groups (Pixel Value Transformation,
       Frame VOI LUT) of enhanced multi-frame objects come before the top-level attributes.
       MONOCHROME1 is inverted (its Presentation LUT Shape, INVERSE by definition, is that same
       inversion, not a second one). 8- and 16-bit stored values go through one lookup table of
       every possible value, so the cost per pixel is a single table read;
    3. colour: YBR_FULL and YBR_FULL_422 converted to RGB (pydicom's decoders already do it, as
       JPEG 2000 decoders undo YBR_ICT/YBR_RCT); PALETTE COLOR through its lookup tables
       (:func:`pydicom.pixels.processing.apply_color_lut`); more than 8 bits shifted down. The
       VOI LUT is a grayscale stage: a ``window`` on a colour image is ignored;
    4. ``viewport``: crop the source region, scale it to fit the viewport keeping its aspect
       ratio (so one side may be shorter than asked), flip if its width or height is negative;
    5. encode with Pillow: baseline JPEG (PS3.18 §8.7.4 requires the baseline Huffman process;
       ``quality`` 1–100, :data:`DEFAULT_QUALITY` when absent), PNG or GIF (lossless or
       palette: ``quality`` does not apply to them and is ignored).

Query parameters (PS3.18 Table 8.3.5-1) and Google
    ``shared/spec/dicomweb-conformance.md`` §4.3 says Google takes only ``viewport`` on rendered
    resources and does not support ``quality`` or ``window`` (whether it rejects or ignores them
    is unconfirmed). Issue 4 asks for all three, so they are accepted whatever the server's mode:
    a client written for Google never sends them, and one that does gets what the standard says
    instead of an error. ``annotation`` and ``iccprofile`` are standard but not supported: 400.
    ``accept`` and ``charset`` are content negotiation (PS3.18 §8.3.3), the transport's business:
    :meth:`RenderParameters.parse` passes over them. Anything else is a 400
    (:class:`~dicomstore.errors.InvalidArgument`), as the spec prefers for Google; PS3.18's own
    rule is that an origin server ignores the parameters it does not support, which
    ``ignore_unsupported=True`` gives (for a standard mode). A malformed value of a parameter
    that is supported is a 400 either way. Thumbnails take ``viewport`` only: the origin server
    decides what a thumbnail shows (PS3.18 §10.4.3.3.4), the client only its size.

Multi-frame instances
    Google's guide says rendered retrieval does not support multi-frame images and points to
    frame retrieval (spec §4.3, exact behaviour unconfirmed). PS3.18 Table 8.7.4-1 offers
    single-frame media types (``image/jpeg``, ``image/png``) for Single Frame Image resources and
    ``image/gif`` (optional) for Multi-frame Image ones. So :func:`render_instance` renders
    the **first frame** for ``image/jpeg`` and ``image/png`` (what a thumbnail or a viewer's
    preview wants; a Google client never depends on an error there) and an **animated GIF** of
    every frame for ``image/gif``, decoding one frame at a time and refusing animations whose
    8-bit output would pass :data:`MAX_ANIMATION_BYTES`. Google does not offer GIF at all: the
    transport decides which media types each mode offers.

Thumbnails (PS3.18 §10.4, payload §10.4.3.3.4)
    "A meaningful representation in a Rendered Media Type", chosen by the origin server, one
    image only, with no Patient Identifying Information. Here: the middle instance of a series
    (the caller orders them, e.g. by Instance Number, and uses :func:`representative_index`),
    the first series of a study with images, and the middle frame of a multi-frame instance,
    with no annotation added (text burnt into the pixel data, Burned In Annotation YES, is the
    caller's to weigh). Without a ``viewport`` the image is fitted into :data:`THUMBNAIL_SIZE` ×
    :data:`THUMBNAIL_SIZE` pixels, and never enlarged.

Not done: annotations, ICC profiles, presentation states, Pixel Aspect Ratio other than 1:1
(pixels are drawn square), overlays and the Presentation LUT beyond the MONOCHROME1 inversion.

Errors: bad parameters, a frame number out of range and a source region outside the image raise
:class:`~dicomstore.errors.InvalidArgument` (400); an instance that cannot be shown as an image
(no pixel data, a transfer syntax with no decoder installed, a photometric interpretation with no
RGB meaning, an unsupported media type) raises :class:`~dicomstore.errors.NotAcceptable` (406);
stored pixel data the decoders fail on raises :class:`~dicomstore.errors.FailedPrecondition`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.processing import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    convert_color_space,
)
from pydicom.pixels.utils import as_pixel_options, get_nr_frames
from pydicom.uid import UID

from dicomstore.errors import FailedPrecondition, InvalidArgument, NotAcceptable

__all__ = [
    "DEFAULT_QUALITY",
    "MAX_ANIMATION_BYTES",
    "MAX_VIEWPORT_SIZE",
    "RENDERED_MEDIA_TYPES",
    "THUMBNAIL_SIZE",
    "DecodedFrame",
    "Region",
    "RenderParameters",
    "VOILUTFunction",
    "Viewport",
    "Window",
    "decode_frame",
    "decode_native_frame",
    "number_of_frames",
    "render_decoded",
    "render_frame",
    "render_instance",
    "render_thumbnail",
    "rendering_attributes",
    "representative_index",
]

_JPEG: Final = "image/jpeg"
_PNG: Final = "image/png"
_GIF: Final = "image/gif"

RENDERED_MEDIA_TYPES: Final = (_JPEG, _PNG, _GIF)
"""What this module writes; ``image/jpeg`` is the default (PS3.18 Table 8.7.4-1)."""

DEFAULT_QUALITY: Final = 90
"""JPEG quality when the request has no ``quality``: diagnostic detail over a few kilobytes."""

THUMBNAIL_SIZE: Final = 128
"""A thumbnail without ``viewport`` fits in a square of this many pixels."""

MAX_VIEWPORT_SIZE: Final = 8192
"""Largest ``vw`` or ``vh`` accepted: bounds the memory one request can make the server use."""

MAX_ANIMATION_BYTES: Final = 256 * 1024 * 1024
"""Largest animated GIF (8-bit output pixels of all frames) :func:`render_instance` makes."""

_DEFAULT_ANIMATION_FRAME_MS: Final = 100
"""GIF frame duration when the data set gives no Frame Time or frame rate (10 frames/s)."""

_PNG_COMPRESS_LEVEL: Final = 1
"""zlib level for PNG: on a noisy 512x512 CT, a fifth of the time of Pillow's default (6) for
about 15 % more bytes (``benchmarks/render.py``)."""

_CONTENT_NEGOTIATION: Final = frozenset({"accept", "charset"})
_NOT_SUPPORTED: Final = frozenset({"annotation", "iccprofile"})
_RENDER_KEYS: Final = ("viewport", "quality", "window")


# --- parameters -------------------------------------------------------------------------------


class VOILUTFunction(StrEnum):
    """VOI LUT Function (0028,1056) defined terms (PS3.3 C.11.2.1.3), and ``window``'s third value.

    The query parameter spells them ``linear``, ``linear-exact`` and ``sigmoid`` (PS3.18
    §8.3.5.1.4); :meth:`from_text` reads either spelling.
    """

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"

    @classmethod
    def from_text(cls, text: str) -> VOILUTFunction | None:
        """The function a query value or attribute value names; ``None`` for anything else."""
        try:
            return cls(text.strip().upper().replace("-", "_"))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Window:
    """A VOI window: center and width in Modality LUT output units, and the function applied."""

    center: float
    width: float
    function: VOILUTFunction = VOILUTFunction.LINEAR

    @property
    def problem(self) -> str | None:
        """Why PS3.3 C.11.2.1.2-3 does not allow this width, or ``None`` when it does."""
        if not (math.isfinite(self.center) and math.isfinite(self.width)):
            return "the center and width must be finite numbers"
        if self.function is VOILUTFunction.LINEAR and self.width < 1:
            return "a linear window's width must be at least 1"
        if self.width <= 0:
            return f"a {self.function.value.lower()} window's width must be greater than 0"
        return None

    @classmethod
    def covering(cls, low: float, high: float) -> Window:
        """The linear window that maps ``low`` to 0 and ``high`` to the maximum (PS3.3 C.11.2.1.2
        note 4: center (x1 + x2 + 1) / 2, width x2 − x1 + 1)."""
        return cls((low + high + 1) / 2, high - low + 1)


@dataclass(frozen=True, slots=True)
class Region:
    """The source region of a viewport, in pixels of the frame (PS3.18 §8.3.5.1.3).

    ``x`` and ``y`` are the top left corner (default 0); ``width`` and ``height`` default to the
    rest of the frame (``None``). A negative width or height spans leftwards or upwards from
    the corner and flips the rendered image horizontally or vertically.
    """

    x: float = 0.0
    y: float = 0.0
    width: float | None = None
    height: float | None = None


@dataclass(frozen=True, slots=True)
class Viewport:
    """``viewport=vw,vh[,sx,sy,sw,sh]``: the largest image to return, and what part to show."""

    width: int
    height: int
    region: Region | None = None


@dataclass(frozen=True, slots=True)
class RenderParameters:
    """The rendering query parameters of a request (PS3.18 §8.3.5.1); all optional."""

    viewport: Viewport | None = None
    quality: int | None = None
    window: Window | None = None

    @classmethod
    def parse(
        cls,
        params: Sequence[tuple[str, str]],
        *,
        thumbnail: bool = False,
        ignore_unsupported: bool = False,
    ) -> RenderParameters:
        """Read a request's ``(name, value)`` query pairs.

        Parameters
        ----------
        params : sequence of (str, str)
            The query string's pairs, in order, repeated names included.
        thumbnail : bool
            Whether the target is a thumbnail resource, which takes ``viewport`` only.
        ignore_unsupported : bool
            Pass over unknown and unsupported parameters instead of refusing them.

        Raises
        ------
        dicomstore.errors.InvalidArgument
            An unknown or unsupported parameter (unless ignored), a repeated or malformed one.
        """
        allowed = ("viewport",) if thumbnail else _RENDER_KEYS
        values: dict[str, str] = {}
        for name, value in params:
            if name in _CONTENT_NEGOTIATION or (ignore_unsupported and name not in allowed):
                continue
            if name in _NOT_SUPPORTED:
                raise InvalidArgument(
                    f"The query parameter {name!r} (PS3.18 §8.3.5.1) is not supported."
                )
            if name not in allowed:
                resource = "thumbnail" if thumbnail else "rendered"
                known = ", ".join(allowed)
                raise InvalidArgument(
                    f"Unknown query parameter {name!r}: {resource} resources take {known}."
                )
            if name in values:
                raise InvalidArgument(f"The query parameter {name!r} is given more than once.")
            values[name] = value
        return cls(
            viewport=_parse_viewport(values["viewport"]) if "viewport" in values else None,
            quality=_parse_quality(values["quality"]) if "quality" in values else None,
            window=_parse_window(values["window"]) if "window" in values else None,
        )


def _parse_viewport(text: str) -> Viewport:
    usage = "viewport=vw,vh[,sx,sy,sw,sh] (PS3.18 §8.3.5.1.3)"
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 6):
        raise InvalidArgument(
            f"Invalid viewport {text!r}: expected {usage}, 2 or 6 comma-separated values."
        )
    sizes = []
    for label, part in zip(("vw", "vh"), parts[:2], strict=True):
        if not part.isdigit() or not 1 <= int(part) <= MAX_VIEWPORT_SIZE:
            raise InvalidArgument(
                f"Invalid viewport {text!r}: {label} must be an integer from 1 to "
                f"{MAX_VIEWPORT_SIZE}; expected {usage}."
            )
        sizes.append(int(part))
    if len(parts) == 2:
        return Viewport(sizes[0], sizes[1])
    numbers: list[float | None] = []
    for label, part in zip(("sx", "sy", "sw", "sh"), parts[2:], strict=True):
        if part == "":
            numbers.append(None)
            continue
        number = _finite_number(part)
        if number is None:
            raise InvalidArgument(
                f"Invalid viewport {text!r}: {label} must be a number or empty; expected {usage}."
            )
        numbers.append(number)
    x, y, width, height = numbers
    if (x is not None and x < 0) or (y is not None and y < 0):
        raise InvalidArgument(f"Invalid viewport {text!r}: sx and sy must not be negative.")
    if width == 0 or height == 0:
        raise InvalidArgument(f"Invalid viewport {text!r}: sw and sh must not be 0.")
    if x is None and y is None and width is None and height is None:
        return Viewport(sizes[0], sizes[1])
    return Viewport(sizes[0], sizes[1], Region(x or 0.0, y or 0.0, width, height))


def _parse_quality(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise InvalidArgument(
            f"Invalid quality {text!r}: expected an integer from 1 to 100 (PS3.18 §8.3.5.1.2)."
        )
    return int(value)


def _parse_window(text: str) -> Window:
    usage = "window=center,width,function with function linear, linear-exact or sigmoid"
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 3):
        raise InvalidArgument(f"Invalid window {text!r}: expected {usage} (PS3.18 §8.3.5.1.4).")
    center, width = _finite_number(parts[0]), _finite_number(parts[1])
    if center is None or width is None:
        raise InvalidArgument(
            f"Invalid window {text!r}: the center and width must be numbers; expected {usage}."
        )
    function = VOILUTFunction.LINEAR
    if len(parts) == 3:
        named = VOILUTFunction.from_text(parts[2])
        if named is None:
            raise InvalidArgument(
                f"Invalid window {text!r}: unknown function {parts[2]!r}; expected {usage}."
            )
        function = named
    window = Window(center, width, function)
    if (problem := window.problem) is not None:
        raise InvalidArgument(f"Invalid window {text!r}: {problem} (PS3.3 C.11.2.1.2).")
    return window


def _finite_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# --- decoding ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """One decoded frame, as pydicom's decoders give it (``raw=False``).

    Attributes
    ----------
    index : int
        0-based frame index in the instance (the frame number minus 1).
    pixels : numpy.ndarray
        (rows, columns) for one sample per pixel — stored values, or palette indices — and
        (rows, columns, samples) otherwise.
    photometric_interpretation : str
        Of ``pixels``: pydicom's decoders turn YBR_FULL and YBR_FULL_422 into ``RGB``.
    """

    index: int
    pixels: npt.NDArray[Any]
    photometric_interpretation: str


def number_of_frames(dataset: Dataset) -> int:
    """Number of Frames (0028,0008), 1 when absent or invalid."""
    try:
        return max(1, int(get_nr_frames(dataset, warn=False)))
    except (TypeError, ValueError):
        return 1


def decode_frame(dataset: Dataset, frame_index: int) -> DecodedFrame:
    """Decode the frame at 0-based ``frame_index``, and no other.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        ``frame_index`` is not a frame of the instance (PS3.18 §9.5.2: 400).
    dicomstore.errors.NotAcceptable
        No pixel data, or no decoder installed for its transfer syntax.
    dicomstore.errors.FailedPrecondition
        The decoders fail on the stored pixel data.
    """
    if not any(tag in dataset for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009)):
        raise NotAcceptable("The instance has no pixel data, so it cannot be rendered as an image.")
    _check_frame_index(dataset, frame_index)
    file_meta = getattr(dataset, "file_meta", None)
    transfer_syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if not transfer_syntax:
        raise NotAcceptable("The instance has no Transfer Syntax UID, so it cannot be decoded.")
    return _decoded(_decoder(UID(transfer_syntax)), dataset, frame_index, frame_index, dataset)


def decode_native_frame(
    dataset: Dataset, frame_index: int, transfer_syntax: str, frame: bytes
) -> DecodedFrame:
    """Decode the frame at 0-based ``frame_index`` from its own bytes, as `decode_frame` would
    from the whole data set: for callers that read a frame of native (uncompressed, little
    endian) Pixel Data by its byte range.

    ``dataset`` gives the Image Pixel attributes (its Pixel Data is not needed). Raises as
    `decode_frame`, and ValueError for a ``transfer_syntax`` that is not native little endian.
    """
    syntax = UID(transfer_syntax)
    if syntax.is_encapsulated or not syntax.is_little_endian or syntax.is_deflated:
        raise ValueError(f"{transfer_syntax} is not a native little endian transfer syntax.")
    _check_frame_index(dataset, frame_index)
    plain = _plain_grayscale(dataset, frame)
    if plain is not None:
        photometric = str(dataset.PhotometricInterpretation).strip().upper()
        return DecodedFrame(frame_index, plain, photometric)
    # The buffer is one frame of the Pixel Data value (as pydicom names it in a data set).
    options = {"number_of_frames": 1, "pixel_keyword": "PixelData"}
    return _decoded(_decoder(syntax), frame, 0, frame_index, dataset, options)


def _plain_grayscale(dataset: Dataset, frame: bytes) -> npt.NDArray[Any] | None:
    """A frame of grayscale integers (one sample of 8, 16 or 32 bits, little endian) as
    pydicom's native decoder gives it — the bytes as integers, with the bits above Bits Stored
    cleared or sign-extended (PS3.5 8.1.1) — without the decoder's set-up, which costs more
    than that. None for anything else: the decoder then decides."""
    try:
        samples = int(dataset.SamplesPerPixel)
        photometric = str(dataset.PhotometricInterpretation).strip().upper()
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        allocated, stored = int(dataset.BitsAllocated), int(dataset.BitsStored)
        signed = int(dataset.PixelRepresentation)
    except (AttributeError, TypeError, ValueError):
        return None
    if (
        samples != 1
        or photometric not in ("MONOCHROME1", "MONOCHROME2")
        or allocated not in (8, 16, 32)
        or signed not in (0, 1)
        or not 0 < stored <= allocated
        or len(frame) != rows * columns * allocated // 8
    ):
        return None
    dtype = np.dtype(f"<{'ui'[signed]}{allocated // 8}")
    pixels = np.frombuffer(frame, dtype).reshape(rows, columns).copy()
    if stored < allocated:
        shift = allocated - stored
        np.left_shift(pixels, shift, out=pixels)
        np.right_shift(pixels, shift, out=pixels)
    return pixels


# What the pipeline reads of a data set: group 0028 (Image Pixel, Modality and VOI LUTs, palette
# colour) and the functional groups of enhanced multi-frame objects.
_RENDERING_GROUP: Final = "0028"
_FUNCTIONAL_GROUPS: Final = frozenset({"52009229", "52009230"})  # shared, per-frame


def rendering_attributes(document: Mapping[str, Any]) -> Dataset | None:
    """The attributes rendering reads, from an instance's DICOM JSON (as kept at ingest): with
    `decode_native_frame`, a frame renders from its own bytes, without the file's header.

    None when there is no Pixel Data (7FE0,0010) or when one of those attributes holds its
    value by reference (a BulkDataURI, such as a large lookup table): read the file then. Equal
    attributes give the same data set, shared by its callers: do not change it.
    """
    if "7FE00010" not in document:
        return None
    chosen = {
        key: element
        for key, element in document.items()
        if key.startswith(_RENDERING_GROUP) or key in _FUNCTIONAL_GROUPS
    }
    if any(_by_reference(element) for element in chosen.values()):
        return None
    return _from_json(orjson.dumps(chosen, option=orjson.OPT_SORT_KEYS))


@lru_cache(maxsize=64)
def _from_json(text: bytes) -> Dataset:
    """One data set per distinct set of rendering attributes, shared (never changed): the
    instances of a series mostly have the same, and pydicom's conversion costs more than the
    rest of rendering a frame from them."""
    return Dataset.from_json(text.decode())


def _by_reference(element: Mapping[str, Any]) -> bool:
    """Whether a DICOM JSON element, or one inside its sequence items, has a BulkDataURI."""
    if "BulkDataURI" in element:
        return True
    if element.get("vr") != "SQ":
        return False
    return any(
        _by_reference(inner) for item in element.get("Value") or () for inner in item.values()
    )


def _check_frame_index(dataset: Dataset, frame_index: int) -> None:
    count = number_of_frames(dataset)
    if not 0 <= frame_index < count:
        raise InvalidArgument(
            f"Frame {frame_index + 1} does not exist: the instance has {count} "
            f"frame{'s' if count != 1 else ''}."
        )


def _decoder(transfer_syntax: UID) -> Any:
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError:
        raise NotAcceptable(
            f"Pixel data in transfer syntax {transfer_syntax} ({transfer_syntax.name}) cannot be "
            "decoded, so it cannot be rendered."
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "its plugins"
        raise NotAcceptable(
            f"No decoder for transfer syntax {transfer_syntax} ({transfer_syntax.name}) is "
            f"installed (missing {missing}), so the instance cannot be rendered."
        )
    return decoder


def _decoded(
    decoder: Any,
    source: Dataset | bytes,
    index: int,
    frame_index: int,
    dataset: Dataset,
    options: dict[str, Any] | None = None,
) -> DecodedFrame:
    """Frame ``index`` of ``source`` decoded, with ``dataset``'s Image Pixel attributes
    (``options`` overriding them): the frame at ``frame_index`` of the instance."""
    try:
        pixel_options = as_pixel_options(dataset, **(options or {}))
        pixels, meta = decoder.as_array(source, index=index, raw=False, **pixel_options)
    except Exception as error:  # the decoders raise anything: a plugin's error text is the news
        raise FailedPrecondition(
            f"Frame {frame_index + 1} of the instance could not be decoded: {error}"
        ) from error
    photometric = str(
        meta.get("photometric_interpretation") or dataset.get("PhotometricInterpretation", "")
    )
    return DecodedFrame(frame_index, pixels, photometric.strip().upper())


# --- rendering --------------------------------------------------------------------------------


def render_frame(
    dataset: Dataset,
    frame_index: int,
    media_type: str = _JPEG,
    parameters: RenderParameters | None = None,
) -> bytes:
    """The frame at 0-based ``frame_index`` rendered as ``media_type`` (``…/frames/{n}/rendered``).

    Only that frame is decoded. See the module documentation for the pipeline and the errors.
    """
    _check_media_type(media_type)
    return render_decoded(dataset, decode_frame(dataset, frame_index), media_type, parameters)


def render_decoded(
    dataset: Dataset,
    frame: DecodedFrame,
    media_type: str = _JPEG,
    parameters: RenderParameters | None = None,
) -> bytes:
    """Render a frame already decoded (:func:`decode_frame`, or a caller's own decoding).

    ``dataset`` gives the attributes the pipeline reads (Modality LUT, VOI LUT, palette, bits);
    its pixel data is not touched.
    """
    _check_media_type(media_type)
    parameters = parameters or RenderParameters()
    image = _apply_viewport(_to_image(dataset, frame, parameters.window), parameters.viewport)
    return _encode(image, media_type, parameters.quality)


def render_instance(
    dataset: Dataset, media_type: str = _JPEG, parameters: RenderParameters | None = None
) -> bytes:
    """The instance rendered (``…/instances/{i}/rendered``).

    ``image/jpeg`` and ``image/png``: the first frame. ``image/gif`` of a multi-frame instance:
    an animated GIF, frames decoded one at a time, each shown for the data set's Frame Time
    (0018,1063) — or 1 / Recommended Display Frame Rate, or 1 / Cine Rate — in milliseconds.
    """
    _check_media_type(media_type)
    count = number_of_frames(dataset)
    if media_type != _GIF or count == 1:
        return render_frame(dataset, 0, media_type, parameters)
    parameters = parameters or RenderParameters()
    first = _apply_viewport(
        _to_image(dataset, decode_frame(dataset, 0), parameters.window), parameters.viewport
    )
    size = first.width * first.height * len(first.getbands()) * count
    if size > MAX_ANIMATION_BYTES:
        raise NotAcceptable(
            f"An animation of the instance's {count} frames would take {size // 2**20} MiB "
            f"(the limit is {MAX_ANIMATION_BYTES // 2**20} MiB): ask for a smaller viewport, "
            "or for single frames."
        )

    def later_frames() -> Iterator[Image.Image]:
        for index in range(1, count):
            frame = decode_frame(dataset, index)
            yield _apply_viewport(_to_image(dataset, frame, parameters.window), parameters.viewport)

    output = io.BytesIO()
    first.save(
        output,
        "GIF",
        save_all=True,
        append_images=later_frames(),
        duration=_frame_duration_ms(dataset),
        loop=0,
    )
    return output.getvalue()


def render_thumbnail(
    dataset: Dataset,
    media_type: str = _JPEG,
    parameters: RenderParameters | None = None,
    *,
    frame_index: int | None = None,
) -> bytes:
    """A thumbnail of the instance, or of one of its frames (PS3.18 §10.4.3.3.4): one image.

    Parameters
    ----------
    frame_index : int, optional
        0-based frame to show (frame-level thumbnails); by default the middle frame
        (:func:`representative_index`).
    parameters : RenderParameters, optional
        Without a viewport the frame is fitted into :data:`THUMBNAIL_SIZE` pixels square, never
        enlarged.
    """
    _check_media_type(media_type)
    parameters = parameters or RenderParameters()
    if frame_index is None:
        frame_index = representative_index(number_of_frames(dataset))
    frame = decode_frame(dataset, frame_index)
    image = _to_image(dataset, frame, parameters.window)
    if parameters.viewport is not None:
        image = _apply_viewport(image, parameters.viewport)
    elif image.width > THUMBNAIL_SIZE or image.height > THUMBNAIL_SIZE:
        image = _apply_viewport(image, Viewport(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return _encode(image, media_type, parameters.quality)


def representative_index(count: int) -> int:
    """The 0-based index of the middle one of ``count`` ordered items (frames, instances)."""
    if count < 1:
        raise ValueError("there is no representative of nothing")
    return (count - 1) // 2


def _check_media_type(media_type: str) -> None:
    if media_type not in RENDERED_MEDIA_TYPES:
        raise NotAcceptable(
            f"Rendered images are available as {', '.join(RENDERED_MEDIA_TYPES)}, not {media_type}."
        )


def _to_image(dataset: Dataset, frame: DecodedFrame, window: Window | None) -> Image.Image:
    """The frame as an 8-bit grayscale (``L``) or ``RGB`` Pillow image."""
    pixels, photometric = frame.pixels, frame.photometric_interpretation
    if pixels.ndim == 2 and photometric != "PALETTE COLOR":
        gray = _grayscale(dataset, frame.index, pixels, window)
        if photometric == "MONOCHROME1":
            np.subtract(255, gray, out=gray)
        return Image.fromarray(gray)
    return Image.fromarray(_colour(dataset, pixels, photometric))


# --- grayscale: Modality LUT, VOI LUT (PS3.3 C.11.1, C.11.2) ----------------------------------

_DOMAINS: dict[np.dtype[Any], tuple[npt.NDArray[Any], np.dtype[Any]]] = {}


def _domain(dtype: np.dtype[Any]) -> tuple[npt.NDArray[Any], np.dtype[Any]]:
    """Every value of an integer ``dtype`` of 1 or 2 bytes, ordered as its unsigned view counts.

    ``lut[pixels.view(unsigned)]`` then maps each pixel through a table built over this domain.
    """
    if dtype not in _DOMAINS:
        unsigned = np.dtype(f"u{dtype.itemsize}")
        values = np.arange(1 << (8 * dtype.itemsize), dtype=unsigned).view(dtype)
        values.flags.writeable = False
        _DOMAINS[dtype] = (values, unsigned)
    return _DOMAINS[dtype]


def _grayscale(
    dataset: Dataset, frame_index: int, pixels: npt.NDArray[Any], window: Window | None
) -> npt.NDArray[np.uint8]:
    """Stored values → Modality LUT → VOI LUT → 8 bits."""
    if pixels.dtype.kind in "ui" and pixels.dtype.itemsize <= 2:
        domain, unsigned = _domain(pixels.dtype)
        table = _known_table(dataset, frame_index, pixels.dtype, window)
        if table is None:
            modality = _modality_lut(dataset, frame_index, domain)

            def default_window() -> Window:
                if (bits := _shown_as_stored(dataset)) is not None:
                    return Window.covering(0, (1 << bits) - 1)
                low, high = pixels.min(), pixels.max()
                present = modality[(domain >= low) & (domain <= high)]
                return Window.covering(float(present.min()), float(present.max()))

            table = _voi_lut(dataset, frame_index, modality, window, default_window)
        # np.take: about twice as fast as fancy indexing for a table lookup of every pixel.
        gray: npt.NDArray[np.uint8] = np.take(table, np.ascontiguousarray(pixels).view(unsigned))
        return gray

    values = _modality_lut(dataset, frame_index, pixels)

    def range_window() -> Window:
        finite = values[np.isfinite(values)]
        if not finite.size:
            return Window.covering(0.0, 0.0)
        return Window.covering(float(finite.min()), float(finite.max()))

    return _voi_lut(dataset, frame_index, values, window, range_window)


def _frame_attribute(dataset: Dataset, frame_index: int, sequence: str, keyword: str) -> Any:
    """An attribute of the frame: per-frame functional group, shared group, then top level."""
    for groups_keyword, index in (
        ("PerFrameFunctionalGroupsSequence", frame_index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = dataset.get(groups_keyword)
        if not groups or index >= len(groups):
            continue
        items = groups[index].get(sequence)
        if items:
            value = items[0].get(keyword)
            if value is not None and value != "":
                return value
    return dataset.get(keyword)


def _first_number(value: Any) -> float | None:
    """The first value of a DS/IS element value (VM 1-n) as a finite float, else ``None``."""
    if value is None or isinstance(value, str | bytes):
        return None
    if not isinstance(value, int | float):
        try:
            value = value[0]
        except (TypeError, IndexError):
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _modality_lut(
    dataset: Dataset, frame_index: int, stored: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """PS3.3 C.11.1: the Modality LUT Sequence, else Rescale Slope and Intercept."""
    if dataset.get("ModalityLUTSequence") and stored.dtype.kind in "ui":
        mapped = _stored_data_step("its Modality LUT", apply_modality_lut, stored, dataset)
        return mapped.astype(np.float64)
    return _rescaled(stored, *_rescale(dataset, frame_index))


def _rescale(dataset: Dataset, frame_index: int) -> tuple[float | None, float | None]:
    """The frame's Rescale Slope and Intercept (absent or unusable: None)."""
    slope = _first_number(
        _frame_attribute(dataset, frame_index, "PixelValueTransformationSequence", "RescaleSlope")
    )
    intercept = _first_number(
        _frame_attribute(
            dataset, frame_index, "PixelValueTransformationSequence", "RescaleIntercept"
        )
    )
    return slope, intercept


def _rescaled(
    stored: npt.NDArray[Any], slope: float | None, intercept: float | None
) -> npt.NDArray[np.float64]:
    values = stored.astype(np.float64)
    if slope is not None and slope != 1:
        values *= slope
    if intercept:
        values += intercept
    return values


def _known_table(
    dataset: Dataset, frame_index: int, dtype: np.dtype[Any], window: Window | None
) -> npt.NDArray[np.uint8] | None:
    """The lookup table of an integer frame when it depends on a few numbers only — a rescale
    (no Modality LUT Sequence) and a window (asked for, or the data set's) — else None.

    Those tables are shared: the slices of a series mostly have the same rescale and window,
    and building one costs more than rendering with it.
    """
    if dataset.get("ModalityLUTSequence"):
        return None
    chosen = window or _dataset_window(dataset, frame_index)
    if chosen is None:
        return None
    return _window_table(dtype, *_rescale(dataset, frame_index), chosen)


@lru_cache(maxsize=64)  # 64 KiB each at most (16-bit values)
def _window_table(
    dtype: np.dtype[Any], slope: float | None, intercept: float | None, window: Window
) -> npt.NDArray[np.uint8]:
    """Every value of ``dtype`` rescaled and windowed, as ``_grayscale`` would map it."""
    domain, _ = _domain(dtype)
    table = _apply_window(_rescaled(domain, slope, intercept), window)
    table.flags.writeable = False
    return table


def _dataset_window(dataset: Dataset, frame_index: int) -> Window | None:
    """The first Window Center/Width of the frame, with its VOI LUT Function, if usable."""
    center = _first_number(
        _frame_attribute(dataset, frame_index, "FrameVOILUTSequence", "WindowCenter")
    )
    width = _first_number(
        _frame_attribute(dataset, frame_index, "FrameVOILUTSequence", "WindowWidth")
    )
    if center is None or width is None:
        return None
    function = _frame_attribute(dataset, frame_index, "FrameVOILUTSequence", "VOILUTFunction")
    named = VOILUTFunction.from_text(function) if isinstance(function, str) else None
    window = Window(center, width, named or VOILUTFunction.LINEAR)
    # A width the standard does not allow (0, negative) is bad data: try the next VOI source.
    return window if window.problem is None else None


def _voi_lut(
    dataset: Dataset,
    frame_index: int,
    values: npt.NDArray[np.float64],
    window: Window | None,
    default_window: Callable[[], Window],
) -> npt.NDArray[np.uint8]:
    """PS3.3 C.11.2: the requested window, the data set's, its VOI LUT, else ``default_window``."""
    chosen = window or _dataset_window(dataset, frame_index)
    if chosen is not None:
        return _apply_window(values, chosen)
    table = _voi_lut_sequence(dataset, values)
    if table is not None:
        return table
    return _apply_window(values, default_window())


def _stored_data_step(
    what: str, step: Callable[..., npt.NDArray[Any]], *args: Any
) -> npt.NDArray[Any]:
    """Run one of pydicom's processing functions; its errors mean the stored data are bad."""
    try:
        return np.asarray(step(*args))
    except (
        AttributeError,
        IndexError,
        KeyError,
        NotImplementedError,
        TypeError,
        ValueError,
    ) as error:
        raise FailedPrecondition(f"The instance cannot be rendered with {what}: {error}") from error


def _shown_as_stored(dataset: Dataset) -> int | None:
    """Bits Stored when values of 8 bits or fewer, unsigned, have no modality transform: those
    are shown as they are (the identity window, PS3.3 C.11.2.1.2.1 note 4), not stretched."""
    try:
        bits = int(dataset.get("BitsStored") or 0)
        signed = int(dataset.get("PixelRepresentation") or 0)
    except (TypeError, ValueError):
        return None
    slope = _first_number(dataset.get("RescaleSlope"))
    intercept = _first_number(dataset.get("RescaleIntercept"))
    if (
        0 < bits <= 8
        and signed == 0
        and not dataset.get("ModalityLUTSequence")
        and slope in (None, 1)
        and not intercept
    ):
        return bits
    return None


def _apply_window(values: npt.NDArray[np.float64], window: Window) -> npt.NDArray[np.uint8]:
    """PS3.3 C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT), C.11.2.1.3.1 (SIGMOID), to 0–255.

    The piecewise definitions are the linear ramp clipped to [0, 1]: at the lower edge the ramp
    is exactly 0 and at the upper exactly 1, so the clip reproduces their comparisons.
    """
    center, width = window.center, window.width
    if window.function is VOILUTFunction.SIGMOID:
        exponent = np.clip(-4.0 * (values - center) / width, -700.0, 700.0)
        ramp = 1.0 / (1.0 + np.exp(exponent))
    elif window.function is VOILUTFunction.LINEAR_EXACT:
        ramp = (values - center) / width + 0.5
    elif width <= 1:
        # Width 1 is a threshold: below the center 0, from it on the maximum (C.11.2.1.2.1 note 5).
        ramp = (values > center - 0.5).astype(np.float64)
    else:
        ramp = (values - (center - 0.5)) / (width - 1) + 0.5
    # NaN shows as 0; the clip takes infinities to the edges (as nan_to_num then clip would,
    # without its extra passes over the values).
    np.copyto(ramp, 0.0, where=np.isnan(ramp))
    np.clip(ramp, 0.0, 1.0, out=ramp)
    ramp *= 255.0
    return np.rint(ramp).astype(np.uint8)


def _voi_lut_sequence(
    dataset: Dataset, values: npt.NDArray[np.float64]
) -> npt.NDArray[np.uint8] | None:
    """The first VOI LUT Sequence item applied (PS3.3 C.11.2.1.1), scaled to 8 bits."""
    items = dataset.get("VOILUTSequence")
    if not items:
        return None
    item = items[0]
    descriptor = item.get("LUTDescriptor")
    if not descriptor or len(descriptor) != 3 or item.get("LUTData") is None:
        return None
    entries, first, bits = (int(value) for value in descriptor)
    if bits != 8 and not 10 <= bits <= 16:
        return None
    # The table is indexed by integers (Modality LUT output may have fractions), and inputs out
    # of its range take its first or last entry (C.11.2.1.1) — clipped here, before pydicom's
    # 16-bit index arithmetic could wrap around.
    last = first + (entries or 1 << 16) - 1
    indices = np.rint(np.clip(values, first, last)).astype(np.int64)
    table = _stored_data_step("its VOI LUT", apply_voi, indices, dataset).astype(np.float64)
    table *= 255.0 / ((1 << bits) - 1)
    return np.rint(np.clip(table, 0.0, 255.0)).astype(np.uint8)


# --- colour (PS3.3 C.7.6.3.1.2, C.7.6.3.1.5) --------------------------------------------------


def _colour(dataset: Dataset, pixels: npt.NDArray[Any], photometric: str) -> npt.NDArray[np.uint8]:
    """RGB, 8 bits per channel."""
    if photometric == "PALETTE COLOR":
        if pixels.ndim != 2:
            raise NotAcceptable("PALETTE COLOR pixel data with several samples cannot be shown.")
        rgb = _stored_data_step("its palette", apply_color_lut, pixels, dataset)[..., :3]
        # The descriptor's third value is the range of the entries, whatever their storage.
        descriptor: Sequence[Any] = dataset.get("RedPaletteColorLookupTableDescriptor") or []
        nominal = int(descriptor[2]) if len(descriptor) == 3 else 0
        bits = nominal if nominal in (8, 16) else 8 * rgb.dtype.itemsize
    else:
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise NotAcceptable(
                f"Pixel data with Photometric Interpretation {photometric or '(none)'} "
                "cannot be shown as an image."
            )
        if photometric in ("YBR_FULL", "YBR_FULL_422"):
            pixels = convert_color_space(pixels, "YBR_FULL", "RGB")
        elif photometric not in ("RGB", "YBR_ICT", "YBR_RCT"):
            raise NotAcceptable(
                f"Pixel data with Photometric Interpretation {photometric} cannot be shown as RGB."
            )
        rgb = pixels
        bits = int(dataset.get("BitsStored") or 8 * rgb.dtype.itemsize)
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb)
    shifted = np.right_shift(rgb.astype(np.uint64, copy=False), max(0, bits - 8))
    return np.minimum(shifted, 255).astype(np.uint8)


# --- viewport (PS3.18 §8.3.5.1.3) and encoding ------------------------------------------------


def _apply_viewport(image: Image.Image, viewport: Viewport | None) -> Image.Image:
    """Crop the source region, fit it into the viewport keeping its aspect ratio, flip."""
    if viewport is None:
        return image
    columns, rows = image.size
    region = viewport.region or Region()
    x0, x1, flip_x = _span(region.x, region.width, columns)
    y0, y1, flip_y = _span(region.y, region.height, rows)
    if x1 <= x0 or y1 <= y0:
        raise InvalidArgument(
            f"The viewport's source region ({region.x:g}, {region.y:g}, "
            f"{_text(region.width)}, {_text(region.height)}) lies outside the "
            f"{columns}×{rows} frame."
        )
    box_width, box_height = x1 - x0, y1 - y0
    scale = min(viewport.width / box_width, viewport.height / box_height)
    size = (
        min(viewport.width, max(1, round(box_width * scale))),
        min(viewport.height, max(1, round(box_height * scale))),
    )
    box = (x0, y0, x1, y1)
    if all(float(edge).is_integer() for edge in box) and box != (0, 0, columns, rows):
        # A whole-pixel region is cut out first, so that no pixel outside it bleeds into the
        # edges through the resampling filter; a fractional one is resampled from the frame.
        image = image.crop((int(x0), int(y0), int(x1), int(y1)))
        box = (0, 0, image.width, image.height)
    if size != image.size or box != (0, 0, image.width, image.height):
        # reducing_gap: shrink by whole factors first, then filter (much faster, as good).
        image = image.resize(size, Image.Resampling.BICUBIC, box=box, reducing_gap=2.0)
    if flip_x:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if flip_y:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return image


def _span(start: float, length: float | None, extent: int) -> tuple[float, float, bool]:
    """``[start, start + length]`` clipped to ``[0, extent]``, and whether length is negative."""
    if length is None:
        length = extent - start
    low, high = sorted((start, start + length))
    return max(0.0, low), min(float(extent), high), length < 0


def _text(value: float | None) -> str:
    return "rest" if value is None else f"{value:g}"


def _frame_duration_ms(dataset: Dataset) -> int:
    """How long each GIF frame shows: Frame Time, or the inverse of a frame rate."""
    frame_time = _first_number(dataset.get("FrameTime"))
    if frame_time and frame_time > 0:
        return max(10, round(frame_time))
    for keyword in ("RecommendedDisplayFrameRate", "CineRate"):
        rate = _first_number(dataset.get(keyword))
        if rate and rate > 0:
            return max(10, round(1000 / rate))
    return _DEFAULT_ANIMATION_FRAME_MS


def _encode(image: Image.Image, media_type: str, quality: int | None) -> bytes:
    output = io.BytesIO()
    if media_type == _JPEG:
        # Baseline sequential Huffman, as PS3.18 §8.7.4 requires of image/jpeg (Pillow's default
        # unless progressive or arithmetic coding is asked for).
        image.save(output, "JPEG", quality=quality or DEFAULT_QUALITY)
    elif media_type == _PNG:
        image.save(output, "PNG", compress_level=_PNG_COMPRESS_LEVEL)
    else:
        image.save(output, "GIF")
    return output.getvalue()
