"""multipart/related framing (RFC 2046 §5.1, RFC 2387) and media types, as STOW-RS and WADO-RS
use them: the parser against every split of its input, the writer against the parser and against
the bytes real clients send and expect.
"""

from __future__ import annotations

import asyncio
import io
import random
import re
import tracemalloc
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Coroutine, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import pydicom
import pytest
import requests
from dicomweb_client.web import DICOMwebClient
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from requests_toolbelt import MultipartEncoder

from dicomstore.api.http import multipart
from dicomstore.api.http.multipart import (
    MediaType,
    Part,
    PartHeaders,
    amultipart_chunks,
    boundary_for,
    iter_parts,
    multipart_boundary,
    multipart_chunks,
    multipart_length,
    new_boundary,
    parse_media_type,
)
from dicomstore.errors import InvalidArgument

T = TypeVar("T")
Parsed = list[tuple[dict[str, str], bytes]]

CHUNK_SIZES = (1, 2, 3, 7, 64, 4096)
# RFC 2046 §5.1.1 boundary: 1 to 70 bchars, the last one not a space.
RFC_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def split(data: bytes, sizes: int | Sequence[int]) -> list[bytes]:
    """``data`` in chunks of a fixed size, or of the given sizes taken in turn."""
    cycle = [sizes] if isinstance(sizes, int) else list(sizes)
    chunks, position, turn = [], 0, 0
    while position < len(data):
        size = cycle[turn % len(cycle)]
        chunks.append(data[position : position + size])
        position += size
        turn += 1
    return chunks


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def collect(
    chunks: AsyncIterable[bytes], boundary: str, reading: str = "chunks", **options: Any
) -> Parsed:
    """The parts, their bodies read with ``Part.chunks`` or ``Part.pieces`` (``reading``)."""
    parsed = []
    async for part in iter_parts(chunks, boundary, **options):
        body = bytearray()
        async for piece in getattr(part, reading)():
            assert piece  # the parser never hands out empty pieces
            assert reading == "pieces" or type(piece) is bytes
            body += piece
        parsed.append((dict(part.headers), bytes(body)))
    return parsed


def parse(
    data: bytes,
    boundary: str,
    sizes: int | Sequence[int] = 0,
    reading: str = "chunks",
    **options: Any,
) -> Parsed:
    chunks = stream(split(data, sizes or max(len(data), 1)))
    return run(collect(chunks, boundary, reading, **options))


def write(parts: Iterable[tuple[dict[str, str], Any]], boundary: str) -> bytes:
    return b"".join(multipart_chunks(parts, boundary))


# --- media types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "media_type", "params"),
    [
        (
            'multipart/related; type="application/dicom"; boundary=abc',
            "multipart/related",
            {"type": "application/dicom", "boundary": "abc"},
        ),
        # Google's samples leave the type unquoted, although '/' is not a token character.
        (
            "multipart/related; type=application/dicom; boundary=0f3c-70e0",
            "multipart/related",
            {"type": "application/dicom", "boundary": "0f3c-70e0"},
        ),
        (
            '  Multipart/Related ;TYPE = "application/dicom+json" ;  Boundary=AbC ',
            "multipart/related",
            {"type": "application/dicom+json", "boundary": "AbC"},
        ),
        ('a/b; boundary="x;y"; type=t', "a/b", {"boundary": "x;y", "type": "t"}),
        ('a/b; x="say \\"hi\\" \\\\ back"', "a/b", {"x": 'say "hi" \\ back'}),
        ('a/b; x=""; y="a b\tc"', "a/b", {"x": "", "y": "a b\tc"}),
        ("a/b;; x=1;", "a/b", {"x": "1"}),
        ("application/dicom; transfer-syntax=*", "application/dicom", {"transfer-syntax": "*"}),
        (
            "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50",
            "image/jpeg",
            {"transfer-syntax": "1.2.840.10008.1.2.4.50"},
        ),
        ("*/*", "*/*", {}),
        ("application/dicom", "application/dicom", {}),
    ],
)
def test_parse_media_type(header: str, media_type: str, params: dict[str, str]) -> None:
    parsed = parse_media_type(header)
    assert parsed.type == media_type
    assert dict(parsed.params) == params
    assert parse_media_type(str(parsed)) == parsed


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        "multipart",
        "multipart/",
        "/related",
        "multi part/related",
        "a/b/c",
        "a/b c",
        "a/b; boundary",
        "a/b; boundary=",
        'a/b; boundary="abc',
        'a/b; boundary="a"b',
        "a/b; =x",
        "a/b; x=a b",
        "a/b; x=1; X=2",
        "a/b; x=\x00",
        "a/b; x=é",
        "a/b, c/d",
    ],
)
def test_parse_media_type_refuses_garbage(header: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid media type"):
        parse_media_type(header)


def test_media_type_renders_quoting_only_what_needs_it() -> None:
    media_type = MediaType(
        "Multipart/Related",
        {"Type": "application/dicom", "transfer-syntax": "*", "boundary": 'a "b"\\c'},
    )
    assert media_type.type == "multipart/related"
    assert str(media_type) == (
        'multipart/related; type="application/dicom"; transfer-syntax=*; boundary="a \\"b\\"\\\\c"'
    )
    assert parse_media_type(str(media_type)) == media_type
    assert str(MediaType("application/dicom")) == "application/dicom"


def test_media_type_is_immutable_hashable_and_validated() -> None:
    media_type = parse_media_type("a/b; x=1; y=2")
    assert media_type == MediaType("A/B", {"Y": "2", "X": "1"})
    assert media_type != MediaType("a/b", {"x": "1"})
    assert len({media_type, parse_media_type("a/b;y=2;x=1")}) == 1
    with pytest.raises(TypeError):
        media_type.params["x"] = "2"  # type: ignore[index]
    for bad in ("ab", "a/b c", ""):
        with pytest.raises(ValueError, match="Not a media type"):
            MediaType(bad)
    with pytest.raises(ValueError, match="parameter name"):
        MediaType("a/b", {"x y": "1"})
    with pytest.raises(ValueError, match="Control character"):
        MediaType("a/b", {"x": "1\r\nInjected: yes"})


def test_multipart_boundary() -> None:
    assert multipart_boundary(parse_media_type('multipart/related; boundary="a b"')) == "a b"
    cases = {
        "application/dicom; boundary=x": "Expected a multipart media type",
        "multipart/related; type=application/dicom": "no boundary",
        f"multipart/related; boundary={'x' * 71}": "1 to 70 characters",
        'multipart/related; boundary=""': "1 to 70 characters",
        'multipart/related; boundary="x "': "visible ASCII",
    }
    for header, message in cases.items():
        with pytest.raises(InvalidArgument, match=message):
            multipart_boundary(parse_media_type(header))


def test_new_boundary_is_valid_and_random() -> None:
    boundaries = {new_boundary() for _ in range(100)}
    assert len(boundaries) == 100
    assert all(RFC_BOUNDARY.fullmatch(boundary) for boundary in boundaries)


def test_all_is_exact() -> None:
    public = {
        name
        for name, value in vars(multipart).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == multipart.__name__
    }
    assert set(multipart.__all__) == public


# --- writer -----------------------------------------------------------------------------------


def test_writer_frames_parts() -> None:
    parts = [
        ({"Content-Type": "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"}, b"DICM\r\n"),
        ({"Content-Type": "image/jpeg", "Content-Location": "frame-2"}, [b"ab", b"", b"cd"]),
        ({}, b""),
    ]
    assert write(parts, "b0und") == (
        b"--b0und\r\n"
        b"Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\r\n"
        b"\r\n"
        b"DICM\r\n"
        b"\r\n--b0und\r\n"
        b"Content-Type: image/jpeg\r\n"
        b"Content-Location: frame-2\r\n"
        b"\r\n"
        b"abcd"
        b"\r\n--b0und\r\n"
        b"\r\n"
        b"\r\n--b0und--\r\n"
    )


def test_writer_streams_bodies_without_joining_them() -> None:
    big = bytes(1 << 20)
    pulled: list[int] = []

    def body(index: int) -> Iterator[bytes]:
        pulled.append(index)
        yield big
        yield big

    chunks = multipart_chunks((({}, body(index)) for index in range(3)), new_boundary())
    assert pulled == []  # nothing runs before it is iterated
    sizes = []
    for chunk in chunks:
        assert chunk
        if len(chunk) == len(big):
            assert chunk is big  # passed through, not copied or joined
        sizes.append(len(chunk))
    assert pulled == [0, 1, 2]
    assert sizes.count(len(big)) == 6 and max(sizes) == len(big)


def test_writer_refuses_what_it_cannot_write() -> None:
    for boundary in ("", "x" * 71, "trailing ", "semi;colon", "é"):
        with pytest.raises(ValueError, match="Not an RFC 2046 boundary"):
            multipart_chunks([({}, b"x")], boundary)  # at once, before any iteration
    with pytest.raises(ValueError, match="Not a valid part header"):
        write([({"Content-Location": "x\r\nInjected: yes"}, b"")], "b")
    with pytest.raises(ValueError, match="Not a valid part header"):
        write([({"Bad Name": "x"}, b"")], "b")
    with pytest.raises(ValueError, match="at least one part"):
        write([], "b")
    assert RFC_BOUNDARY.fullmatch("x" * 70)
    assert write([({}, b"")], "x" * 70).startswith(b"--" + b"x" * 70 + b"\r\n")


def test_a_steady_boundary_only_for_bodies_without_it() -> None:
    bodies = [b"DICM" * 1000, b"", b"\r\n--not the boundary"]
    steady = boundary_for(bodies)
    assert boundary_for([b"other"]) == steady  # the same for every clean body of the process
    assert RFC_BOUNDARY.fullmatch(steady)
    parts = [({"Content-Type": "application/octet-stream"}, body) for body in bodies]
    assert [content for _, content in parse(write(parts, steady), steady)] == bodies
    for tricky in (
        [b"x" * 10 + b"\r\n--" + steady.encode() + b"--\r\n"],  # its delimiter inside
        [b"fine", ("--" + steady + "\r\nContent-Type: text/plain\r\n\r\nforged").encode()],
        [b"\0" * (2 * 1024 * 1024 + 1)],  # too large to be worth scanning
    ):
        fresh = boundary_for(tricky)
        assert fresh != steady
        tricky_parts: list[tuple[dict[str, str], bytes]] = [({}, body) for body in tricky]
        assert [content for _, content in parse(write(tricky_parts, fresh), fresh)] == tricky


def test_multipart_length_is_the_written_length() -> None:
    same = {"Content-Type": "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"}
    none: dict[str, str] = {}
    for parts in (
        [(none, b"")],
        [(same, b"one"), (same, b""), ({"Content-Type": "text/plain"}, b"three"), (same, b"4")],
        [({"A": "1", "B": "2"}, b"x" * 1000)] * 5,
    ):
        lengths = [(fields, len(body)) for fields, body in parts]
        assert multipart_length(lengths, "b") == len(write(parts, "b"))
    with pytest.raises(ValueError, match="at least one part"):
        multipart_length([], "b")
    with pytest.raises(ValueError, match="Not an RFC 2046 boundary"):
        multipart_length([({}, 1)], "bad;")


def test_async_writer_writes_what_the_sync_one_does() -> None:
    bodies = [b"one\r\n", [b"tw", b"", b"o"], b"", [b"three"]]
    headers = [{"Content-Type": f"application/octet-stream; n={i}"} for i in range(4)]
    expected = write(zip(headers, bodies, strict=True), "b")

    async def abody(chunks: bytes | list[bytes]) -> AsyncIterator[bytes]:
        for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
            await asyncio.sleep(0)
            yield chunk

    async def aparts() -> AsyncIterator[tuple[dict[str, str], Any]]:
        for index, (fields, body) in enumerate(zip(headers, bodies, strict=True)):
            # Async bodies, sync iterables and bytes may be mixed.
            yield fields, (abody(body) if index % 2 else body)

    async def join(chunks: AsyncIterator[bytes]) -> bytes:
        return b"".join([chunk async for chunk in chunks])

    assert run(join(amultipart_chunks(aparts(), "b"))) == expected
    sync_parts = [(fields, abody(body)) for fields, body in zip(headers, bodies, strict=True)]
    assert run(join(amultipart_chunks(sync_parts, "b"))) == expected
    with pytest.raises(ValueError, match="Not an RFC 2046 boundary"):
        amultipart_chunks([], "bad;")
    with pytest.raises(ValueError, match="at least one part"):
        run(join(amultipart_chunks([], "b")))


def test_async_writer_pipes_into_the_parser() -> None:
    boundary = new_boundary()

    async def body() -> AsyncIterator[bytes]:
        for index in range(100):
            yield bytes([index]) * 1000

    async def pipe() -> Parsed:
        return await collect(
            amultipart_chunks([({"A": "1"}, body()), ({}, b"x")], boundary), boundary
        )

    assert run(pipe()) == [
        ({"a": "1"}, b"".join(bytes([index]) * 1000 for index in range(100))),
        ({}, b"x"),
    ]


# --- parser: round trips -----------------------------------------------------------------------


def real_delimiter(boundary: str) -> re.Pattern[bytes]:
    return re.compile(re.escape(b"\r\n--" + boundary.encode()) + rb"(--|[ \t]*\r?\n)")


def tricky_body(rng: random.Random, boundary: str) -> bytes:
    """Random binary with line breaks and things that start like a delimiter but are not one."""
    encoded = boundary.encode()
    pieces = [
        b"\r\n",
        b"\n",
        b"\r",
        b"--",
        b"\r\n--",
        b"\r\n\r\n",
        b"--" + encoded + b"\r\n",  # a dash-boundary without the CRLF before it
        b"\r\n--" + encoded + b"x",
        b"\r\n--" + encoded + b"-x",
        b"\r\n--" + encoded + b" x\r\n",
        b"\r\n-" + encoded,
    ]
    out = bytearray()
    for _ in range(rng.randrange(0, 12)):
        roll = rng.random()
        if roll < 0.4:
            out += rng.randbytes(rng.randrange(0, 1500))
        elif roll < 0.6:
            out += b"\r\n--" + encoded[: rng.randrange(0, len(encoded))]
        else:
            out += rng.choice(pieces)
    return bytes(out)


def random_parts(
    rng: random.Random, boundary: str, count: int
) -> list[tuple[dict[str, str], bytes]]:
    parts = []
    delimiter = real_delimiter(boundary)
    for index in range(count):
        headers = {}
        if rng.random() < 0.8:
            headers["Content-Type"] = rng.choice(
                ["application/dicom", 'image/jpeg; transfer-syntax="1.2.840.10008.1.2.4.50"']
            )
        if rng.random() < 0.5:
            headers["Content-Location"] = f"bulk/{index}/{rng.randrange(10**9)}"
        body = tricky_body(rng, boundary)
        # A body must not hold a delimiter, nor start with a dash-boundary line: the CRLF that
        # ends the header block would make it one.
        while delimiter.search(b"\r\n" + body + b"\r\n"):
            body = tricky_body(rng, boundary)
        parts.append((headers, body))
    return parts


def lowered(parts: list[tuple[dict[str, str], bytes]]) -> Parsed:
    return [
        ({name.lower(): value for name, value in fields.items()}, body) for fields, body in parts
    ]


# Part.pieces hands out incoming chunks without copying them when it can: read both ways.
READINGS = ("chunks", "pieces")


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("sizes", [*CHUNK_SIZES, "random"])
def test_round_trip_under_every_chunking(sizes: int | str, reading: str) -> None:
    rng = random.Random(2046)
    for boundary in (new_boundary(), "0f3cf5c0-70e0-41ef-baef-c6f9f65ec3e1", "b", "x y"):
        parts = random_parts(rng, boundary, 12)
        data = write(parts, boundary)
        chunking = [rng.randrange(1, 300) for _ in range(50)] if sizes == "random" else sizes
        assert isinstance(chunking, int | list)
        assert parse(data, boundary, chunking, reading) == lowered(parts)


@pytest.mark.parametrize("reading", READINGS)
def test_every_split_point_of_a_small_body(reading: str) -> None:
    boundary = "bnd"
    parts = [({"Content-Type": "a/b"}, b"\r\n--bn\r\n--bndx"), ({}, b""), ({"X": "1"}, b"--bnd-x")]
    data = b"preamble\r\n" + write(parts, boundary)[:-2] + b" \t\r\nepilogue"
    expected = lowered(parts)
    for first in range(1, len(data)):
        assert parse(data, boundary, [first, len(data)], reading) == expected, first
        for second in range(first + 1, min(len(data), first + 40)):
            chunks = [data[:first], data[first:second], data[second:]]
            assert run(collect(stream(chunks), boundary, reading)) == expected, (first, second)


def test_pieces_are_the_incoming_chunks_not_copies() -> None:
    """A large body in large chunks: the pieces are views of the chunks or the parser's own
    buffer, but for the joints between chunks."""
    rng = random.Random(7)
    boundary = new_boundary()
    bodies = [rng.randbytes(300_000), b"", rng.randbytes(70_000)]
    data = write([({"Content-Type": "application/dicom"}, body) for body in bodies], boundary)

    async def read() -> list[list[bytes | bytearray | memoryview]]:
        found = []
        async for part in iter_parts(stream(split(data, 65536)), boundary):
            found.append([piece async for piece in part.pieces()])
        return found

    found = run(read())
    assert [b"".join(pieces) for pieces in found] == bodies
    kept = [piece for pieces in found for piece in pieces if type(piece) is not bytes]
    assert sum(map(len, kept)) > 0.85 * (len(bodies[0]) + len(bodies[2]))


# --- parser: framing details --------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 0])
def test_preamble_epilogue_and_transport_padding(size: int) -> None:
    data = (
        b"This is the preamble.\r\n--bx\r\n-b\r\n"
        b"--b  \t\r\n"
        b"Content-Type: application/dicom\r\n\r\none"
        b"\r\n--b\t\r\n\r\ntwo"
        b"\r\n--b-- \r\nThis is the epilogue.\r\n--b\r\nX: 1\r\n\r\nnot a part\r\n--b--\r\n"
    )
    assert parse(data, "b", size) == [({"content-type": "application/dicom"}, b"one"), ({}, b"two")]


@pytest.mark.parametrize("size", [1, 0])
def test_lenient_line_endings_and_folded_headers(size: int) -> None:
    data = (
        b"--b\n"  # bare LF after the boundary line
        b"Content-Type: application/dicom;\n"
        b"  transfer-syntax=1.2.840.10008.1.2.1\n"
        b"X-Twice: 1\r\n"
        b"x-twice: 2\n"
        b"Content-Location :  loc \n"
        b"\n"
        b"body\r\n--b--"
    )
    assert parse(data, "b", size) == [
        (
            {
                "content-type": "application/dicom; transfer-syntax=1.2.840.10008.1.2.1",
                "x-twice": "1, 2",
                "content-location": "loc",
            },
            b"body",
        )
    ]


@pytest.mark.parametrize("size", [1, 2, 0])
def test_empty_headers_and_empty_bodies(size: int) -> None:
    data = b"".join(
        [
            *(b"--b\r\n", b"\r\n", b""),  # no headers, the empty line, an empty body
            *(b"\r\n--b\r\n", b""),  # no headers and no empty line (as Python's email reads it)
            *(b"\r\n--b\r\n", b"A: 1\r\n", b"\r\n", b""),  # headers, empty line, empty body
            *(b"\r\n--b\r\n", b"A: 2\r\n"),  # headers and no empty line
            *(b"\r\n--b\r\n", b"\r\n", b"\r\n"),  # a body that is one CRLF
            b"\r\n--b--",
        ]
    )
    assert parse(data, "b", size) == [
        ({}, b""),
        ({}, b""),
        ({"a": "1"}, b""),
        ({"a": "2"}, b""),
        ({}, b"\r\n"),
    ]


def test_a_body_closed_at_once_has_no_parts() -> None:
    assert parse(b"--b--\r\n", "b") == []
    assert parse(b"preamble\r\n--b--", "b", 1) == []


def test_only_a_full_delimiter_ends_a_body() -> None:
    body = b"a\r\n--bb\r\n--b-\r\n--bx\r\n--b-x\r\n-b\n--b\r\n--b--x"
    data = b"--b\r\n\r\n" + body + b"\r\n--b--"
    for size in (1, 3, 0):
        assert parse(data, "b", size) == [({}, body[: body.index(b"\r\n--b--x")])]


def test_part_accessors() -> None:
    data = (
        b"--b\r\nCONTENT-TYPE: Image/JPEG; Transfer-Syntax=1.2.840.10008.1.2.4.50\r\n"
        b"Content-Location: jpeg-image\r\n\r\nJ"
        b"\r\n--b\r\nContent-Type: not a media type\r\n\r\n"
        b"\r\n--b\r\n\r\n\r\n--b--"
    )

    async def check() -> None:
        parts = iter_parts(stream([data]), "b")
        first = await anext(parts)
        assert isinstance(first, Part) and first.index == 0
        assert isinstance(first.headers, PartHeaders)
        assert first.headers["Content-Type"] == first.headers["content-type"]
        assert "CONTENT-LOCATION" in first.headers and 42 not in first.headers
        assert first.content_type == MediaType(
            "image/jpeg", {"transfer-syntax": "1.2.840.10008.1.2.4.50"}
        )
        assert first.content_location == "jpeg-image"
        assert await first.read() == b"J"
        second = await anext(parts)
        with pytest.raises(InvalidArgument, match="Invalid media type"):
            _ = second.content_type
        third = await anext(parts)
        assert third.content_type is None and third.content_location is None
        assert "PartHeaders({})" in repr(third)
        with pytest.raises(StopAsyncIteration):
            await anext(parts)

    run(check())


def test_unread_bodies_are_drained_and_stale_ones_refused() -> None:
    bodies = [bytes([index]) * 5000 for index in range(4)]
    data = write([({}, body) for body in bodies], "b")

    async def check() -> None:
        parts = iter_parts(stream(split(data, 100)), "b")
        first = await anext(parts)  # left unread
        second = await anext(parts)
        assert await second.read() == bodies[1]
        third = await anext(parts)
        pieces = third.chunks()
        piece = await anext(pieces)  # read in part
        assert piece and bodies[2].startswith(piece) and len(piece) < len(bodies[2])
        fourth = await anext(parts)  # the rest of the third is drained
        with pytest.raises(RuntimeError, match="moved on"):
            await anext(pieces)
        with pytest.raises(RuntimeError, match="moved on"):
            await first.read()
        finished = fourth.chunks()
        assert b"".join([piece async for piece in finished]) == bodies[3]
        with pytest.raises(StopAsyncIteration):
            await anext(finished)  # an exhausted body stays exhausted
        assert await fourth.read() == b""
        with pytest.raises(StopAsyncIteration):
            await anext(parts)

    run(check())


def test_read_refuses_a_body_over_its_limit() -> None:
    data = write([({}, b"x" * 101)], "b")

    async def read(limit: int) -> bytes:
        async for part in iter_parts(stream(split(data, 10)), "b"):
            return await part.read(max_bytes=limit)
        raise AssertionError

    assert run(read(101)) == b"x" * 101
    with pytest.raises(InvalidArgument, match="longer than 100 bytes"):
        run(read(100))


# --- parser: malformed input --------------------------------------------------------------------

MALFORMED = [
    pytest.param(b"", "b", "Empty multipart body", id="empty"),
    pytest.param(b"no boundary here\r\n--c\r\n\r\nx\r\n--c--", "b", "never appears", id="absent"),
    pytest.param(b"--bb\r\n\r\nx\r\n--bb--", "b", "never appears", id="longer-in-body"),
    pytest.param(b"--b\r\n\r\nbody without end", "b", "Truncated", id="no-close"),
    pytest.param(b"--b\r\n\r\nbody\r\n--b\r\n\r\nmore", "b", "Truncated", id="no-close-2"),
    pytest.param(b"--b\r\nContent-Type: a/b\r\n", "b", "Truncated", id="in-headers"),
    pytest.param(b"--b", "b", "Truncated", id="after-boundary"),
    pytest.param(b"--b  ", "b", "Truncated", id="in-padding"),
    pytest.param(b"--b\r\n\r\nx\r\n--b-", "b", "Truncated", id="half-close"),
    pytest.param(b"--b\r\n\r\nx\r\n--b\r", "b", "Truncated", id="half-crlf"),
    pytest.param(b"--b\r\n\r\nx\r\n--", "b", "Truncated", id="half-delimiter"),
    pytest.param(b"--b\r\nno colon\r\n\r\nx\r\n--b--", "b", "bad part header", id="no-colon"),
    pytest.param(b"--b\r\nBad Name: 1\r\n\r\nx\r\n--b--", "b", "bad part header", id="bad-name"),
    pytest.param(b"--b\r\n: empty\r\n\r\nx\r\n--b--", "b", "bad part header", id="empty-name"),
    pytest.param(b"--b\r\n folded: 1\r\n\r\nx\r\n--b--", "b", "folded line", id="folded-first"),
    pytest.param(b"--b\r\n--b--\r\n", "b", "Truncated", id="part-without-header-end"),
    pytest.param(b"--" + b"x" * 71 + b"\r\n\r\n", "x" * 71, "1 to 70", id="long-boundary"),
    pytest.param(b"--\r\n\r\n", "", "1 to 70", id="empty-boundary"),
    pytest.param(b"--b\r\n\r\n", "b\r\n", "visible ASCII", id="control-in-boundary"),
]


@pytest.mark.parametrize("size", [1, 7, 0])
@pytest.mark.parametrize(("data", "boundary", "message"), MALFORMED)
@pytest.mark.parametrize("reading", READINGS)
def test_malformed_bodies_are_invalid_arguments(
    data: bytes, boundary: str, message: str, size: int, reading: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse(data, boundary, size, reading)


def test_empty_chunks_are_no_body() -> None:
    with pytest.raises(InvalidArgument, match="Empty multipart body"):
        run(collect(stream([b"", b""]), "b"))
    assert run(collect(stream([b"", b"--b\r\n", b"", b"\r\nx\r\n--b--", b""]), "b")) == [({}, b"x")]


@pytest.mark.parametrize("size", [1, 5, 0])
def test_header_block_limit(size: int) -> None:
    def body(header_block: bytes) -> bytes:
        return b"--b\r\n" + header_block + b"\r\nbody\r\n--b--"

    block = b"X: " + b"v" * 93 + b"\r\n"  # 98 bytes, as counted against the limit
    assert parse(body(block), "b", size, max_header_bytes=98) == [({"x": "v" * 93}, b"body")]
    with pytest.raises(InvalidArgument, match="header block is longer than 97 bytes"):
        parse(body(block), "b", size, max_header_bytes=97)
    with pytest.raises(InvalidArgument, match="longer than 97 bytes"):
        parse(b"--b" + b" " * 98 + b"\r\n\r\nx\r\n--b--", "b", size, max_header_bytes=97)
    with pytest.raises(ValueError, match="positive"):
        parse(body(block), "b", size, max_header_bytes=0)


# --- parser: memory ------------------------------------------------------------------------------


def test_memory_stays_bounded_for_a_64_mib_part() -> None:
    boundary = new_boundary()
    block = random.Random(64).randbytes(64 << 10)
    count = 1024

    async def body() -> AsyncIterator[bytes]:
        yield f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        for _ in range(count):
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    async def consume() -> tuple[int, int]:
        size, crc = 0, 0
        async for part in iter_parts(body(), boundary):
            async for piece in part.chunks():
                size += len(piece)
                crc = zlib.crc32(piece, crc)
        return size, crc

    expected_crc = 0
    for _ in range(count):
        expected_crc = zlib.crc32(block, expected_crc)
    tracemalloc.start()
    try:
        size, crc = run(consume())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (size, crc) == (count * len(block), expected_crc)
    assert peak < 2 << 20, f"peak traced memory {peak} bytes"


# --- real clients ---------------------------------------------------------------------------------

DICOMWEB_CLIENT_BOUNDARY = "0f3cf5c0-70e0-41ef-baef-c6f9f65ec3e1"


def test_dicomweb_client_stow_framing() -> None:
    """The bytes dicomweb-client (0.61) sends for store_instances: a CRLF before the first
    delimiter, the boundary quoted in the header, and no CRLF after the close delimiter."""
    content_type = (
        f'multipart/related; type="application/dicom"; boundary="{DICOMWEB_CLIENT_BOUNDARY}"'
    )
    instances = [b"\x00" * 128 + b"DICM\r\n--" + DICOMWEB_CLIENT_BOUNDARY[:-1].encode(), b"2"]
    data = (
        b"".join(
            f"\r\n--{DICOMWEB_CLIENT_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + instance
            for instance in instances
        )
        + f"\r\n--{DICOMWEB_CLIENT_BOUNDARY}--".encode()
    )
    media_type = parse_media_type(content_type)
    assert media_type.params["type"] == "application/dicom"
    for size in (1, 1000, 0):
        assert parse(data, multipart_boundary(media_type), size) == [
            ({"content-type": "application/dicom"}, instance) for instance in instances
        ]


def test_requests_toolbelt_form_data_framing() -> None:
    """What requests-toolbelt's MultipartEncoder (and urllib3) send: form-data, hex boundary."""
    boundary = "4b8c4c0c5bd64a0d8f0cd6f1d0a1e3a1"
    data = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="a.dcm"\r\n'
            "Content-Type: application/dicom\r\n\r\n"
        ).encode()
        + b"DICM\r\n"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    assert parse(data, boundary, 3) == [
        (
            {
                "content-disposition": 'form-data; name="file"; filename="a.dcm"',
                "content-type": "application/dicom",
            },
            b"DICM\r\n",
        )
    ]


def test_requests_toolbelt_output_parses() -> None:
    files = {
        "one": ("one.dcm", b"first\r\n--x", "application/dicom"),
        "two": ("two.dcm", io.BytesIO(b"second"), "application/dicom"),
    }
    encoder = MultipartEncoder(fields=files)
    media_type = parse_media_type(encoder.content_type)
    assert media_type.type == "multipart/form-data"
    chunks = iter(lambda: encoder.read(7), b"")
    parsed = run(collect(stream(chunks), multipart_boundary(media_type)))
    assert [(fields["content-type"], body) for fields, body in parsed] == [
        ("application/dicom", b"first\r\n--x"),
        ("application/dicom", b"second"),
    ]


class _Recorder:
    """A requests transport adapter that records requests and answers with a canned body."""

    def __init__(self, body: bytes = b"", content_type: str = "application/dicom+json") -> None:
        self.body = body
        self.content_type = content_type
        self.sent: list[tuple[dict[str, str], list[bytes]]] = []

    def adapter(self) -> Any:
        recorder = self

        class Adapter(requests.adapters.BaseAdapter):
            def send(self, request: Any, **kwargs: Any) -> Any:
                body = request.body
                chunks = [] if body is None else [body] if isinstance(body, bytes) else list(body)
                recorder.sent.append((dict(request.headers), chunks))
                response = requests.Response()
                response.status_code = 200
                response.headers["Content-Type"] = recorder.content_type
                response._content = recorder.body
                response._content_consumed = True
                response.raw = io.BytesIO(recorder.body)
                response.request = request
                response.url = request.url
                return response

            def close(self) -> None:
                pass

        return Adapter()

    def client(self, **options: Any) -> Any:
        session = requests.Session()
        session.mount("http://", self.adapter())
        return DICOMwebClient("http://dicomstore.test/dicomWeb", session=session, **options)


def _instances(count: int) -> list[Any]:
    rng = random.Random(count)
    instances = []
    for index in range(count):
        dataset = pydicom.Dataset()
        dataset.file_meta = FileMetaDataset()
        dataset.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
        dataset.file_meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.9.7.{index}"
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
        dataset.StudyInstanceUID = "1.2.826.0.1.3680043.9.7"
        # Encapsulated Document bytes that come close to the client's fixed boundary.
        payload = rng.randbytes(3000) + b"\r\n--" + DICOMWEB_CLIENT_BOUNDARY[:20].encode()
        dataset.add_new(0x00420011, "OB", payload + b"\r\n" * (index % 2))
        instances.append(dataset)
    return instances


def _part10(dataset: Any, *, enforce_file_format: bool = False) -> bytes:
    with io.BytesIO() as buffer:
        pydicom.dcmwrite(buffer, dataset, enforce_file_format=enforce_file_format)
        return buffer.getvalue()


@pytest.mark.parametrize("chunk_size", [1000, 10**6])
def test_dicomweb_client_store_instances_parse(chunk_size: int) -> None:
    """Parse exactly what dicomweb-client sends, chunked (Transfer-Encoding) or whole."""
    recorder = _Recorder()
    instances = _instances(5)
    recorder.client(chunk_size=chunk_size).store_instances(instances)
    [(headers, chunks)] = recorder.sent
    assert (len(chunks) > 1) == (chunk_size == 1000)
    media_type = parse_media_type(headers["Content-Type"])
    assert media_type.type == "multipart/related"
    assert media_type.params["type"] == "application/dicom"
    parsed = run(collect(stream(chunks), multipart_boundary(media_type)))
    assert parsed == [
        ({"content-type": "application/dicom"}, _part10(instance)) for instance in instances
    ]


@pytest.mark.parametrize("streamed", [False, True])
def test_dicomweb_client_reads_what_we_write(streamed: bool) -> None:
    """A WADO-RS study response from our writer, as dicomweb-client reads it."""
    instances = _instances(3)
    boundary = new_boundary()
    body = write(
        [
            (
                {"Content-Type": "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"},
                split(_part10(instance, enforce_file_format=True), 1000),
            )
            for instance in instances
        ],
        boundary,
    )
    content_type = MediaType(
        "multipart/related",
        {
            "type": "application/dicom",
            "transfer-syntax": "1.2.840.10008.1.2.1",
            "boundary": boundary,
        },
    )
    client = _Recorder(body, str(content_type)).client(chunk_size=777)
    study = "1.2.826.0.1.3680043.9.7"
    retrieved = list(client.iter_study(study)) if streamed else client.retrieve_study(study)
    assert [dataset.SOPInstanceUID for dataset in retrieved] == [
        instance.SOPInstanceUID for instance in instances
    ]
    assert [dataset.EncapsulatedDocument for dataset in retrieved] == [
        instance.EncapsulatedDocument for instance in instances
    ]
