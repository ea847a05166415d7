"""The client's multipart reader and writer, against independent peers: the server's writer and
requests-toolbelt's parser."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from requests_toolbelt.multipart.decoder import MultipartDecoder

from dicomstore.api.http.multipart import multipart_chunks
from dicomstore.client.multipart import (
    MultipartError,
    boundary_of,
    iter_parts,
    multipart_file_body,
)

BOUNDARY = "3f1c0e9d6a5b4c2e8f7a1b2c3d4e5f60"
# Bodies that test the edges: empty, one byte, what starts like a delimiter, a large one.
BODIES = [b"", b"x", b"\r\n--" + BOUNDARY[:10].encode(), b"--" + BOUNDARY.encode() + b"x",
          random.Random(7).randbytes(300_000)]  # fmt: skip


def _pieces(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _read(chunks: list[bytes], boundary: str = BOUNDARY) -> list[tuple[dict[str, str], bytes]]:
    return [(part.headers, b"".join(part.chunks())) for part in iter_parts(chunks, boundary)]


@pytest.mark.parametrize("size", [1, 3, 37, 4096, 1 << 20])
def test_parts_written_by_the_server_read_back_whatever_the_chunking(size: int) -> None:
    parts = [({"Content-Type": "application/dicom"}, body) for body in BODIES]
    body = b"".join(multipart_chunks(parts, BOUNDARY))
    # Size 1: byte by byte through the small parts (every split of every delimiter), then the rest.
    chunks = _pieces(body, size) if size > 1 else [*_pieces(body[:3000], 1), body[3000:]]
    assert _read(chunks) == [({"content-type": "application/dicom"}, b) for b in BODIES]


def test_preamble_epilogue_bare_line_feeds_and_parts_without_headers() -> None:
    body = (
        b"a preamble\r\n--b1\nContent-Type: image/jpeg\nContent-Location: x\n\n\xff\xd8"
        b"\r\n--b1  \r\n\r\nno headers\r\n--b1--\r\nan epilogue"
    )
    assert _read([body], "b1") == [
        ({"content-type": "image/jpeg", "content-location": "x"}, b"\xff\xd8"),
        ({}, b"no headers"),
    ]


@pytest.mark.parametrize(
    ("body", "wording"),
    [
        (b"", "never appears"),
        (b"no boundary here at all", "never appears"),
        (b"--b1\r\nContent-Type: a/b\r\n\r\ntruncated", "before its close delimiter"),
        (b"--b1\r\nContent-Type: a/b", "inside a part's header block"),
    ],
)
def test_bodies_that_break_off_are_refused(body: bytes, wording: str) -> None:
    with pytest.raises(MultipartError, match=wording):
        _read([body], "b1")


def test_a_part_cannot_be_read_once_the_reader_moved_on() -> None:
    parts = iter_parts([b"--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--"], "b")
    first = next(parts)
    assert b"".join(next(parts).chunks()) == b"two"
    with pytest.raises(RuntimeError, match="gone"):
        list(first.chunks())


def test_boundary_of_a_content_type() -> None:
    assert boundary_of('multipart/related; type="application/dicom"; boundary=abc') == "abc"
    assert boundary_of('Multipart/Related; boundary="a b:c"; type=x') == "a b:c"
    with pytest.raises(MultipartError):
        boundary_of("application/dicom")
    with pytest.raises(MultipartError):
        boundary_of("multipart/related; type=application/dicom")


def test_a_body_streamed_from_files_has_its_announced_length(tmp_path: Path) -> None:
    # requests-toolbelt splits on the bare boundary, so no body here contains it.
    bodies = [body for body in BODIES if BOUNDARY.encode() not in body]
    files = []
    for number, content in enumerate(bodies):
        files.append(tmp_path / f"{number}.dcm")
        files[-1].write_bytes(content)
    sent: list[int] = []
    length, chunks = multipart_file_body(
        files, BOUNDARY, part_headers={"Content-Type": "application/dicom"}, on_bytes=sent.append
    )
    body = b"".join(chunks)
    assert len(body) == length
    assert sum(sent) == sum(map(len, bodies))
    decoded = MultipartDecoder(body, f"multipart/related; boundary={BOUNDARY}")
    assert [part.content for part in decoded.parts] == bodies
    assert {part.headers[b"Content-Type"] for part in decoded.parts} == {b"application/dicom"}
    assert _read([body]) == [({"content-type": "application/dicom"}, b) for b in bodies]
