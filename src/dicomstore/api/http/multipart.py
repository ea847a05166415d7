"""The HTTP framing of DICOMweb: ``multipart/related`` bodies and media-type parameters.

STOW-RS requests and WADO-RS responses are ``multipart/related`` messages (RFC 2387) framed as
RFC 2046 §5.1 says; PS3.18 §8.6 (payloads) and §8.7 (media types) describe how DICOMweb uses them.
This module holds the framing only, nothing DICOM:

- `parse_media_type` and `MediaType`: a ``Content-Type`` value and its parameters (RFC 9110
  §8.3.1), lenient where real clients are: Google's samples send ``type=application/dicom``
  unquoted although ``/`` is not a token character.
- `iter_parts`: a streaming parser of a request body. Memory stays bounded by about one incoming
  chunk plus the boundary, whatever the size of the parts.
- `multipart_chunks` / `amultipart_chunks`: streaming writers of response bodies.

Malformed input raises `dicomstore.errors.InvalidArgument`: Google answers 400 for malformed
multipart bodies (shared/spec/dicomweb-conformance.md §2.3).

The grammar (RFC 2046 §5.1.1)::

    multipart-body  := [preamble CRLF] dash-boundary transport-padding CRLF body-part
                       *encapsulation close-delimiter transport-padding [CRLF epilogue]
    encapsulation   := delimiter transport-padding CRLF body-part
    dash-boundary   := "--" boundary
    delimiter       := CRLF dash-boundary
    close-delimiter := delimiter "--"

The parser is strict about the delimiter (CRLF, ``--``, the boundary, then optional spaces or tabs
and a line break, or ``--``): anything else that merely starts like one is body data. It is lenient
where it costs nothing: part header lines and the boundary line may end in a bare LF, folded header
lines are unfolded, a body closed right after its first boundary (``--b--``) has no parts, and
whatever follows the close delimiter is epilogue.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from types import MappingProxyType
from typing import Any, Final, TypeVar

from dicomstore.errors import InvalidArgument

__all__ = [
    "MediaType",
    "Part",
    "PartHeaders",
    "amultipart_chunks",
    "boundary_for",
    "iter_parts",
    "multipart_boundary",
    "multipart_chunks",
    "multipart_length",
    "new_boundary",
    "parse_media_type",
]

# RFC 9110 §5.6.2 token characters.
_TCHAR = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN_RE = re.compile(f"[{_TCHAR}]+")
_MEDIA_TYPE_RE = re.compile(f"[{_TCHAR}]+/[{_TCHAR}]+")
_TYPE_RE = re.compile(rf"[ \t]*([{_TCHAR}]+)/([{_TCHAR}]+)[ \t]*")
# One "; name=value" (or an empty "; "). A quoted value is an RFC 9110 quoted-string; an unquoted
# value is any run of visible ASCII but '"' and ';' — wider than a token, as clients need.
_PARAMETER_RE = re.compile(
    rf";[ \t]*(?:([{_TCHAR}]+)[ \t]*=[ \t]*"
    r'(?:"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*)"'
    r"|([!#-:<-~]+)))?[ \t]*"
)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# RFC 2046 §5.1.1: 1 to 70 bchars, the last one not a space. The parser accepts any visible ASCII
# (and inner spaces) from clients; the writer keeps to bchars.
_MAX_BOUNDARY = 70
_BOUNDARY_IN_RE = re.compile(r"[\x20-\x7e]*[\x21-\x7e]")
_BOUNDARY_OUT_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]")

_T = TypeVar("_T")

_PADDING_RE = re.compile(rb"[ \t]*")
_CR, _LF, _DASH = 0x0D, 0x0A, 0x2D


@dataclass(frozen=True)
class MediaType:
    """A media type with its parameters, as in a ``Content-Type`` header (RFC 9110 §8.3.1).

    The type and the parameter names are case-insensitive and kept in lower case; parameter
    values are kept as given (a ``boundary`` is case-sensitive), unquoted and unescaped.

    Examples
    --------
    >>> media_type = parse_media_type('Multipart/Related; type="application/dicom"; boundary=b1')
    >>> media_type.type, media_type.params["type"], media_type.params["boundary"]
    ('multipart/related', 'application/dicom', 'b1')
    >>> str(media_type)
    'multipart/related; type="application/dicom"; boundary=b1'
    """

    type: str
    params: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        media_type = self.type.lower()
        if _MEDIA_TYPE_RE.fullmatch(media_type) is None:
            raise ValueError(f"Not a media type: {self.type!r}.")
        params: dict[str, str] = {}
        for name, value in self.params.items():
            if _TOKEN_RE.fullmatch(name) is None:
                raise ValueError(f"Not a media type parameter name: {name!r}.")
            if _CONTROL_RE.search(value):
                raise ValueError(f"Control character in media type parameter {name}={value!r}.")
            params[name.lower()] = value
        object.__setattr__(self, "type", media_type)
        object.__setattr__(self, "params", MappingProxyType(params))

    def __str__(self) -> str:
        return self.type + "".join(
            f"; {name}={_quote(value)}" for name, value in self.params.items()
        )


def _quote(value: str) -> str:
    if _TOKEN_RE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_media_type(header: str) -> MediaType:
    """Parse a media type such as a ``Content-Type`` header value.

    Parameters
    ----------
    header : str
        ``type/subtype`` followed by any number of ``; name=value`` parameters, where a value is a
        token or a quoted-string (RFC 9110 §8.3.1, §5.6.4). Unquoted values may also hold ``/``,
        ``=``, ``,`` and the like (``type=application/dicom``, as Google's samples send).
        Whitespace around the type, ``;`` and ``=`` is ignored, and so are empty parameters.

    Returns
    -------
    MediaType
        The type and parameter names in lower case, the values unquoted and unescaped.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        If the header is not a media type, or names a parameter twice.
    """
    match = _TYPE_RE.match(header)
    if match is None:
        raise InvalidArgument(f"Invalid media type {header!r}: expected type/subtype.")
    params: dict[str, str] = {}
    position = match.end()
    while position < len(header):
        parameter = _PARAMETER_RE.match(header, position)
        if parameter is None:
            raise InvalidArgument(
                f"Invalid media type {header!r}: expected '; name=value' at "
                f"{header[position : position + 20]!r}."
            )
        name, quoted, unquoted = parameter.groups()
        if name is not None:
            name = name.lower()
            if name in params:
                raise InvalidArgument(f"Invalid media type {header!r}: {name!r} is given twice.")
            params[name] = (
                unquoted if quoted is None else _QUOTED_PAIR_RE.sub(lambda m: m[1], quoted)
            )
        position = parameter.end()
    return MediaType(f"{match[1]}/{match[2]}", params)


def _check_boundary(boundary: str) -> bytes:
    """The boundary of a body we read, as bytes; InvalidArgument when a client's is unusable."""
    if not boundary or len(boundary) > _MAX_BOUNDARY:
        raise InvalidArgument(
            f"Invalid multipart boundary {boundary!r}: it must be 1 to {_MAX_BOUNDARY} characters "
            "long (RFC 2046 §5.1.1)."
        )
    if _BOUNDARY_IN_RE.fullmatch(boundary) is None:
        raise InvalidArgument(
            f"Invalid multipart boundary {boundary!r}: only visible ASCII characters and inner "
            "spaces are allowed (RFC 2046 §5.1.1)."
        )
    return boundary.encode("ascii")


def multipart_boundary(media_type: MediaType) -> str:
    """The ``boundary`` parameter of a multipart media type, checked.

    Parameters
    ----------
    media_type : MediaType
        A parsed ``Content-Type``, normally ``multipart/related; type=...; boundary=...``.

    Returns
    -------
    str
        The boundary, ready for `iter_parts`.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        If the media type is not ``multipart/*``, has no boundary, or the boundary breaks
        RFC 2046 §5.1.1.
    """
    if not media_type.type.startswith("multipart/"):
        raise InvalidArgument(f"Expected a multipart media type, got {media_type.type!r}.")
    boundary = media_type.params.get("boundary")
    if boundary is None:
        raise InvalidArgument(f"The media type {str(media_type)!r} has no boundary parameter.")
    _check_boundary(boundary)
    return boundary


class PartHeaders(Mapping[str, str]):
    """The header fields of one body part, looked up case-insensitively.

    Names are kept in lower case. A field given more than once has its values joined with
    ``", "`` (RFC 9110 §5.3).
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        items = fields.items() if isinstance(fields, Mapping) else fields
        self._fields: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            self._fields[key] = f"{self._fields[key]}, {value}" if key in self._fields else value

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._fields[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"PartHeaders({self._fields!r})"


def _parse_header_block(block: bytes) -> PartHeaders:
    """Header lines (each ending in LF or CRLF) of a body part (RFC 2046 §5.1.1, RFC 5322 §2.2)."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = block.decode("latin-1")
    fields: list[tuple[str, str]] = []
    for line in text.split("\n")[:-1]:
        line = line.removesuffix("\r")
        if line[:1] in (" ", "\t"):
            # A folded line continues the previous field (obsolete, still sent by some mailers).
            if not fields:
                raise InvalidArgument(
                    f"Malformed multipart body: a part's headers start with a folded line "
                    f"{line[:80]!r}."
                )
            name, value = fields[-1]
            fields[-1] = (name, " ".join(filter(None, (value, line.strip(" \t")))))
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or _TOKEN_RE.fullmatch(name) is None:
            raise InvalidArgument(f"Malformed multipart body: bad part header line {line[:80]!r}.")
        fields.append((name, value.strip(" \t")))
    return PartHeaders(fields)


# Up to this many bytes left in the buffer after a piece are moved to a new buffer, so that the
# piece can be the old buffer itself (`Part.pieces`).
_SMALL_REST = 4096


class _Found(Enum):
    """What follows a possible delimiter (CRLF "--" boundary) at the start of the buffer."""

    NEED_MORE = 0
    NOT_A_DELIMITER = 1
    NEXT_PART = 2
    CLOSE = 3


class _Reader:
    """The parser's state over one body; `iter_parts` drives it, `Part` reads bodies through it.

    Everything not yet handed out sits in one bytearray; each step searches it with
    ``bytearray.find`` and hands out or drops what precedes the next possible delimiter, keeping
    back at most ``len(delimiter) - 1`` bytes that could start one. The buffer therefore never
    holds much more than one incoming chunk plus the delimiter.
    """

    def __init__(
        self, chunks: AsyncIterable[bytes], boundary: bytes, max_header_bytes: int
    ) -> None:
        self._source = aiter(chunks)
        self._boundary = boundary
        self._delimiter = b"\r\n--" + boundary
        self._max_header_bytes = max_header_bytes
        # Read the stream as if it began with CRLF, so that a dash-boundary at its very start is
        # found like any delimiter: the preamble is handled as a body that is thrown away.
        self._buffer = bytearray(b"\r\n")
        self._received = 0
        self._eof = False
        self._in_body = True
        self._search_from = 0
        # After a header block, its last line break stays in the buffer: it is the CRLF of the
        # delimiter when the body is empty, and is dropped as soon as the body turns out not to
        # be. _skip is its length (2, or 1 for a bare LF).
        self._skip = 0
        self._after = 0
        # A piece `_clear` handed out the buffer's bytes before.
        self._ahead: memoryview | None = None
        self.part_index = -1
        self.closed = False

    async def _next_chunk(self) -> bytes | None:
        """The next non-empty chunk of the stream; None at its end."""
        while not self._eof:
            try:
                chunk = await anext(self._source)
            except StopAsyncIteration:
                self._eof = True
                break
            if chunk:
                self._received += len(chunk)
                return chunk
        return None

    async def _fill(self) -> bool:
        """Append the next non-empty chunk to the buffer; False at the end of the stream."""
        chunk = await self._next_chunk()
        if chunk is None:
            return False
        self._buffer += chunk
        return True

    def _clear(self, chunk: bytes) -> bytes | memoryview | None:
        """A new chunk of body data handed out without copying it, when neither the chunk nor
        its joint with the buffer (which holds less than a delimiter) can hold a delimiter: the
        buffer's bytes come first, then the chunk but for the last bytes that could start one,
        which become the buffer. None, and nothing changed, otherwise."""
        buffer, delimiter = self._buffer, self._delimiter
        keep = len(delimiter) - 1
        if len(chunk) <= keep or chunk.find(delimiter) != -1:
            return None
        if (bytes(buffer) + chunk[:keep]).find(delimiter) != -1:
            return None
        # The body goes on past the header block: its line break was no delimiter's CRLF.
        head = bytes(buffer[self._skip :])
        self._skip = self._search_from = 0
        buffer.clear()
        buffer += chunk[len(chunk) - keep :]
        piece = memoryview(chunk)[: len(chunk) - keep]
        if not head:
            return piece
        self._ahead = piece
        return head

    def _truncated(self) -> InvalidArgument:
        return InvalidArgument(
            "Truncated multipart body: it ends before the close delimiter "
            f"'--{self._boundary.decode('ascii')}--'."
        )

    def _ended(self) -> InvalidArgument:
        """The error for a stream that ends while no delimiter is in sight."""
        if self.part_index >= 0:
            return self._truncated()
        boundary = self._boundary.decode("ascii")
        if not self._received:
            return InvalidArgument(
                f"Empty multipart body: expected parts framed by '--{boundary}'."
            )
        return InvalidArgument(
            f"Malformed multipart body: the boundary {boundary!r} of the Content-Type header "
            "never appears in the body."
        )

    def _classify(self, at: int) -> _Found:
        """Whether the delimiter found at ``at`` in the buffer really is one (RFC 2046 §5.1.1)."""
        buffer = self._buffer
        end = at + len(self._delimiter)
        size = len(buffer)
        if size <= end:
            return _Found.NEED_MORE
        if buffer[end] == _DASH:
            if size == end + 1:
                return _Found.NEED_MORE
            if buffer[end + 1] == _DASH:
                self._after = end + 2
                return _Found.CLOSE
            return _Found.NOT_A_DELIMITER
        match = _PADDING_RE.match(buffer, end)
        assert match is not None  # the pattern matches the empty string
        padding_end = match.end()
        if padding_end - end > self._max_header_bytes:
            raise InvalidArgument(
                "Malformed multipart body: the padding after a boundary is longer than "
                f"{self._max_header_bytes} bytes."
            )
        if padding_end == size:
            return _Found.NEED_MORE
        if buffer[padding_end] == _LF:
            self._after = padding_end + 1
            return _Found.NEXT_PART
        if buffer[padding_end] == _CR:
            if padding_end + 1 == size:
                return _Found.NEED_MORE
            if buffer[padding_end + 1] == _LF:
                self._after = padding_end + 2
                return _Found.NEXT_PART
        return _Found.NOT_A_DELIMITER

    async def read_body(self, *, views: bool = False) -> bytes | bytearray | memoryview | None:
        """The next piece of the current body, or None once the delimiter ending it is consumed.
        With ``views``, a piece may be a memoryview of an incoming chunk (`_clear`) or the
        buffer itself: not copied."""
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            return ahead
        if not self._in_body:
            return None
        buffer = self._buffer
        delimiter = self._delimiter
        while True:
            found = buffer.find(delimiter, self._search_from)
            if found == -1:
                # Hand out all but what could start a delimiter split across chunks.
                size = len(buffer) - len(delimiter) + 1
                if size <= 0:
                    chunk = await self._next_chunk()
                    if chunk is None:
                        raise self._ended()
                    if views and (cleared := self._clear(chunk)) is not None:
                        return cleared
                    buffer += chunk
                    continue
            else:
                kind = self._classify(found)
                if kind is _Found.NOT_A_DELIMITER:  # body data that starts like a delimiter
                    self._search_from = found + 1
                    continue
                if found == 0:
                    if kind is _Found.NEED_MORE:
                        if not await self._fill():
                            raise self._truncated()
                        continue
                    del buffer[: self._after]
                    self._in_body = False
                    self._skip = self._search_from = 0
                    self.closed = kind is _Found.CLOSE
                    return None
                size = found  # hand out what precedes the (possible) delimiter first
            if self._skip:
                # No delimiter right after the header block: its line break is not the CRLF of
                # one, so drop it, and the body starts after it.
                del buffer[: self._skip]
                self._search_from = max(0, self._search_from - self._skip)
                self._skip = 0
                continue
            self._search_from = 0
            if views and len(buffer) - size <= _SMALL_REST:
                # Hand out the buffer itself instead of a copy; the little left becomes the new one.
                self._buffer = buffer[size:]
                del buffer[size:]
                return buffer
            with memoryview(buffer) as view:
                piece = bytes(view[:size])
            del buffer[:size]
            return piece

    async def read_headers(self) -> PartHeaders:
        """The header block that follows a boundary line, up to its empty line."""
        buffer = self._buffer
        limit = self._max_header_bytes
        scanned = 0
        while True:
            if len(buffer) >= 2 or (buffer and buffer[0] != _CR):
                if buffer[0] == _LF or buffer[:2] == b"\r\n":
                    end = 0  # no header fields
                    break
                # The block ends with an empty line; end is just past the LF before it.
                ends = (
                    buffer.find(b"\n\r\n", scanned, limit + 2),
                    buffer.find(b"\n\n", scanned, limit + 1),
                )
                end = min((i for i in ends if i != -1), default=-2) + 1
                if end > 0:
                    break
                if len(buffer) >= limit + 2:
                    raise InvalidArgument(
                        f"Malformed multipart body: a part's header block is longer than {limit} "
                        "bytes."
                    )
                scanned = max(0, len(buffer) - 2)
            if not await self._fill():
                raise self._truncated()
        block = bytes(buffer[:end])
        del buffer[:end]
        self._skip = 2 if buffer[0] == _CR else 1
        self._in_body = True
        self._search_from = 0
        return _parse_header_block(block)

    async def drain(self) -> None:
        """Read the epilogue to the end of the stream, keeping none of it."""
        self._buffer.clear()
        while await self._fill():
            self._buffer.clear()


class _BodyChunks(AsyncIterator[Any]):
    def __init__(self, reader: _Reader, index: int, views: bool) -> None:
        self._reader = reader
        self._index = index
        self._views = views
        self._done = False

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        if self._reader.part_index != self._index:
            raise RuntimeError(
                f"The body of multipart part {self._index} is gone: the parser has moved on."
            )
        piece = await self._reader.read_body(views=self._views)
        if piece is None:
            self._done = True
            raise StopAsyncIteration
        return piece


class Part:
    """One body part of a multipart body being parsed: its header fields and its body, once.

    The body streams from `chunks`; it is readable until the parser moves to the next part, which
    drains whatever the caller left unread.

    Attributes
    ----------
    index : int
        Position of the part in the body, from 0.
    headers : PartHeaders
        The part's header fields, looked up case-insensitively.
    """

    def __init__(self, index: int, headers: PartHeaders, reader: _Reader) -> None:
        self.index = index
        self.headers = headers
        self._reader = reader

    def __repr__(self) -> str:
        return f"Part(index={self.index}, headers={self.headers!r})"

    @cached_property
    def content_type(self) -> MediaType | None:
        """The part's ``Content-Type``, parsed; None when absent.

        Raises
        ------
        dicomstore.errors.InvalidArgument
            If the header is not a media type.
        """
        value = self.headers.get("content-type")
        return None if value is None else parse_media_type(value)

    @property
    def content_location(self) -> str | None:
        """The part's ``Content-Location`` (the BulkDataURI a bulk data part answers), or None."""
        return self.headers.get("content-location")

    def chunks(self) -> AsyncIterator[bytes]:
        """Stream the rest of the part's body.

        Returns
        -------
        AsyncIterator[bytes]
            Non-empty pieces of the body, in order, each at most about one incoming chunk long.

        Raises
        ------
        dicomstore.errors.InvalidArgument
            While iterating, if the body is truncated.
        RuntimeError
            While iterating, if the parser has already moved past this part.
        """
        return _BodyChunks(self._reader, self.index, False)

    def pieces(self) -> AsyncIterator[bytes | bytearray | memoryview]:
        """Stream the rest of the part's body as `chunks` does, but a piece may be a memoryview
        of an incoming chunk or a bytearray the parser let go of, instead of a copy: for a
        caller that writes or joins the pieces."""
        return _BodyChunks(self._reader, self.index, True)

    async def read(self, *, max_bytes: int | None = None) -> bytes:
        """Read the rest of the part's body into memory (for small parts such as JSON metadata).

        Parameters
        ----------
        max_bytes : int, optional
            Refuse a body longer than this.

        Returns
        -------
        bytes
            The body.

        Raises
        ------
        dicomstore.errors.InvalidArgument
            If the body is longer than ``max_bytes`` or truncated.
        """
        body = bytearray()
        async for piece in self.chunks():
            body += piece
            if max_bytes is not None and len(body) > max_bytes:
                raise InvalidArgument(
                    f"Multipart part {self.index} is longer than {max_bytes} bytes."
                )
        return bytes(body)


async def iter_parts(
    chunks: AsyncIterable[bytes], boundary: str, *, max_header_bytes: int = 16384
) -> AsyncIterator[Part]:
    """Parse a ``multipart/*`` body as it arrives (RFC 2046 §5.1, RFC 2387; PS3.18 §8.6.1).

    Parameters
    ----------
    chunks : AsyncIterable[bytes]
        The body in chunks of any sizes (a request's ``stream()``); a delimiter may be split
        across chunks.
    boundary : str
        The ``boundary`` parameter of the body's ``Content-Type`` (see `multipart_boundary`).
    max_header_bytes : int, default 16384
        Refuse a part whose header block is longer than this (and transport padding after a
        boundary longer than this).

    Yields
    ------
    Part
        Each body part in turn. Read its body from `Part.chunks` before asking for the next part;
        what is left unread is drained (and dropped) when the next part is asked for. The preamble
        and the epilogue are dropped; the stream is read to its end.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        For an empty body, a boundary that is invalid or never appears, a part header block that
        is malformed or too long, and a body that ends before its close delimiter.

    Notes
    -----
    Memory stays bounded by about one incoming chunk plus the boundary length, whatever the size
    of the body or of its parts.
    """
    if max_header_bytes < 1:
        raise ValueError("max_header_bytes must be positive.")
    reader = _Reader(chunks, _check_boundary(boundary), max_header_bytes)
    while await reader.read_body() is not None:  # the preamble
        pass
    index = 0
    while not reader.closed:
        headers = await reader.read_headers()
        reader.part_index = index
        yield Part(index, headers, reader)
        while await reader.read_body() is not None:  # whatever the caller left unread
            pass
        index += 1
    await reader.drain()


def new_boundary() -> str:
    """A fresh random boundary for a multipart body we write.

    Returns
    -------
    str
        32 lowercase hexadecimal digits (128 random bits): valid under RFC 2046 §5.1.1, and
        unlikely enough to occur in any body that bodies need not be scanned for it.
    """
    return secrets.token_hex(16)


# One boundary for the life of the process, for bodies known not to contain it. Python clients
# (http.client's header parser, under urllib3, requests and dicomweb-client) compile a regular
# expression for each distinct multipart boundary they meet, ~0.15 ms: as much as the rest of
# reading a 0.5 MB answer. A boundary they have seen costs them nothing. As long as RFC 2046
# allows (70 characters), since a longer delimiter is found (or not) in half the time.
_STEADY_BOUNDARY: Final = secrets.token_hex(35)
# Bodies up to this size are scanned for it (~40 µs per MiB, where a client saves ~150 µs per
# answer); larger ones get a fresh boundary.
_STEADY_SCAN_MAX: Final = 2 * 1024 * 1024


def boundary_for(bodies: Sequence[bytes]) -> str:
    """A boundary for a multipart body whose part bodies are all in memory: the process's steady
    boundary when no body contains its delimiter or starts with its line (checked, so framing
    never depends on chance), else — or for large bodies, not worth scanning — a fresh one.

    Parameters
    ----------
    bodies : Sequence[bytes]
        Every part's body.

    Returns
    -------
    str
        A boundary that occurs in none of ``bodies`` (the steady one), or a `new_boundary`.
    """
    if sum(len(body) for body in bodies) > _STEADY_SCAN_MAX:
        return new_boundary()
    delimiter = b"\r\n--" + _STEADY_BOUNDARY.encode("ascii")
    for body in bodies:
        if delimiter in body or body.startswith(delimiter[2:]):
            return new_boundary()
    return _STEADY_BOUNDARY


# A part body for the writers: the bytes themselves, or their chunks. Bytes-like bodies are taken
# whole, never iterated (which would give ints).
_Body = bytes | Iterable[bytes]
_AsyncBody = bytes | Iterable[bytes] | AsyncIterable[bytes]
_BYTES_LIKE = (bytes, bytearray, memoryview)


def _delimiter_of(boundary: str) -> bytes:
    if len(boundary) > _MAX_BOUNDARY or _BOUNDARY_OUT_RE.fullmatch(boundary) is None:
        raise ValueError(f"Not an RFC 2046 boundary: {boundary!r}.")
    return b"\r\n--" + boundary.encode("ascii")


def _part_head(headers: Mapping[str, str], delimiter: bytes, first: bool) -> bytes:
    """The delimiter line and header block that open a part (the first without leading CRLF)."""
    lines = [delimiter[2:] if first else delimiter]
    for name, value in headers.items():
        if _TOKEN_RE.fullmatch(name) is None or _CONTROL_RE.search(value):
            raise ValueError(f"Not a valid part header field: {name!r}: {value!r}.")
        lines.append(f"{name}: {value}".encode())
    lines += (b"", b"")
    return b"\r\n".join(lines)


class _PartHeads:
    """The part heads of one body: each distinct set of header fields is written (and checked)
    once, as the parts of a retrieval mostly share theirs."""

    def __init__(self, delimiter: bytes) -> None:
        self.delimiter = delimiter
        self._written: dict[tuple[tuple[str, str], ...], bytes] = {}

    def head(self, headers: Mapping[str, str], first: bool) -> bytes:
        if first:
            return _part_head(headers, self.delimiter, True)
        key = tuple(headers.items())
        head = self._written.get(key)
        if head is None:
            head = self._written[key] = _part_head(headers, self.delimiter, False)
        return head


def _close(delimiter: bytes, first: bool) -> bytes:
    if first:
        raise ValueError("A multipart body needs at least one part (RFC 2046 §5.1.1).")
    return delimiter + b"--\r\n"


def multipart_chunks(
    parts: Iterable[tuple[Mapping[str, str], _Body]], boundary: str
) -> Iterator[bytes]:
    """Write a multipart body as a stream of chunks (RFC 2046 §5.1; PS3.18 §8.6.1).

    The output is ``--boundary CRLF headers CRLF CRLF body`` for the first part, ``CRLF
    --boundary CRLF headers CRLF CRLF body`` for each next one, then ``CRLF --boundary-- CRLF``.
    Bodies are passed through chunk by chunk, never joined.

    Parameters
    ----------
    parts : Iterable[tuple[Mapping[str, str], bytes | Iterable[bytes]]]
        Each part's header fields (written in their order, e.g. ``{"Content-Type":
        "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"}``) and its body, as bytes or as
        an iterable of chunks. There must be at least one part; as a generator runs only when
        iterated, find out before sending a response status.
    boundary : str
        The boundary, normally from `new_boundary`; the response's ``Content-Type`` must carry
        the same one. Bodies are not scanned for it: a body must not contain CRLF ``--boundary``
        nor start with a ``--boundary`` line, which a random boundary makes as good as certain.

    Returns
    -------
    Iterator[bytes]
        Non-empty chunks of the body; suitable for a Starlette ``StreamingResponse``, which runs
        a sync iterator in a thread.

    Raises
    ------
    ValueError
        At once for a boundary that breaks RFC 2046 §5.1.1; while iterating, for a header field
        that cannot be written (a control character such as CR or LF) or for no parts at all.
    """
    return _multipart_chunks(parts, _delimiter_of(boundary))


def _multipart_chunks(
    parts: Iterable[tuple[Mapping[str, str], _Body]], delimiter: bytes
) -> Iterator[bytes]:
    heads = _PartHeads(delimiter)
    first = True
    for headers, body in parts:
        yield heads.head(headers, first)
        first = False
        if isinstance(body, _BYTES_LIKE):
            if body:
                yield bytes(body)  # the same object when it is bytes
        else:
            for chunk in body:
                if chunk:
                    yield chunk
    yield _close(delimiter, first)


def multipart_length(parts: Iterable[tuple[Mapping[str, str], int]], boundary: str) -> int:
    """The length of the body `multipart_chunks` writes for parts with these header fields and
    body lengths: a ``Content-Length`` known before any body is read.

    Raises
    ------
    ValueError
        As `multipart_chunks` would.
    """
    delimiter = _delimiter_of(boundary)
    heads = _PartHeads(delimiter)
    total = 0
    first = True
    for headers, body_length in parts:
        total += len(heads.head(headers, first)) + body_length
        first = False
    return total + len(_close(delimiter, first))


def amultipart_chunks(
    parts: AsyncIterable[tuple[Mapping[str, str], _AsyncBody]]
    | Iterable[tuple[Mapping[str, str], _AsyncBody]],
    boundary: str,
) -> AsyncIterator[bytes]:
    """Write a multipart body as an asynchronous stream of chunks; the async twin of
    `multipart_chunks`, with the same output.

    Parameters
    ----------
    parts : AsyncIterable or Iterable of tuple[Mapping[str, str], body]
        Each part's header fields and its body: bytes, an async iterable of chunks (e.g. reads
        from object storage) or a sync iterable of chunks. A sync iterable is iterated on the
        event loop, so it must not block (use it for data already in memory).
    boundary : str
        The boundary, normally from `new_boundary`.

    Returns
    -------
    AsyncIterator[bytes]
        Non-empty chunks of the body.

    Raises
    ------
    ValueError
        As `multipart_chunks`.
    """
    return _amultipart_chunks(parts, _delimiter_of(boundary))


async def _amultipart_chunks(
    parts: AsyncIterable[tuple[Mapping[str, str], _AsyncBody]]
    | Iterable[tuple[Mapping[str, str], _AsyncBody]],
    delimiter: bytes,
) -> AsyncIterator[bytes]:
    heads = _PartHeads(delimiter)
    first = True
    async for headers, body in _aiterate(parts):
        yield heads.head(headers, first)
        first = False
        if isinstance(body, _BYTES_LIKE):
            if body:
                yield bytes(body)
        elif isinstance(body, AsyncIterable):
            async for chunk in body:
                if chunk:
                    yield chunk
        else:
            for chunk in body:
                if chunk:
                    yield chunk
    yield _close(delimiter, first)


async def _aiterate(items: AsyncIterable[_T] | Iterable[_T]) -> AsyncIterator[_T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
