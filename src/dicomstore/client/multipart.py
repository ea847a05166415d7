"""Reading and writing ``multipart/related`` bodies on the client side (RFC 2046 §5.1, RFC 2387;
PS3.18 §8.6), streamed so that neither a STOW-RS request nor a WADO-RS answer is ever held whole.

The server has its own asynchronous parser (``dicomstore.api.http.multipart``); this one is
synchronous, reads what httpx hands out, and is lenient the way a client should be: a header
block may end in bare LFs, anything after the close delimiter is ignored.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

__all__ = [
    "MultipartError",
    "Part",
    "boundary_of",
    "iter_parts",
    "media_type_of",
    "multipart_file_body",
    "new_boundary",
]

_BOUNDARY_PARAMETER = re.compile(r';\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_READ_SIZE = 1 << 20


class MultipartError(ValueError):
    """A body that is not the multipart body its ``Content-Type`` announced."""


def media_type_of(content_type: str) -> str:
    """``type/subtype`` of a ``Content-Type`` value, in lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def boundary_of(content_type: str) -> str:
    """The ``boundary`` parameter of a ``multipart/*`` ``Content-Type``."""
    match = _BOUNDARY_PARAMETER.search(content_type)
    if not media_type_of(content_type).startswith("multipart/") or match is None:
        raise MultipartError(f"not a multipart body with a boundary: {content_type!r}")
    return match.group(1) or match.group(2)


def new_boundary() -> str:
    """128 random bits: too unlikely to occur in any body for bodies to need scanning."""
    return secrets.token_hex(16)


class Part:
    """One part of a body being read: its header fields (names in lower case) and its body,
    which streams from `chunks` once, until the next part is asked for."""

    def __init__(self, index: int, headers: dict[str, str], reader: _Reader) -> None:
        self.index = index
        self.headers = headers
        self._reader = reader

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def chunks(self) -> Iterator[bytes]:
        if self._reader.part != self.index:
            raise RuntimeError(f"part {self.index} is gone: the reader has moved on")
        while (piece := self._reader.body_piece()) is not None:
            yield piece


def iter_parts(chunks: Iterable[bytes], boundary: str) -> Iterator[Part]:
    """Each part of a multipart body arriving as ``chunks``; memory stays about one chunk.

    Raises `MultipartError` for a body where the boundary never appears or that ends early.
    """
    reader = _Reader(iter(chunks), boundary)
    while reader.body_piece() is not None:  # the preamble
        pass
    while not reader.closed:
        reader.part += 1
        yield Part(reader.part, reader.headers(), reader)
        while reader.body_piece() is not None:  # whatever the caller left unread
            pass


class _Reader:
    """A buffer over the chunks. The stream is read as if it started with CRLF, so that the
    first boundary line is a delimiter like the others (RFC 2046: CRLF ``--boundary``)."""

    def __init__(self, chunks: Iterator[bytes], boundary: str) -> None:
        self._chunks = chunks
        self._delimiter = b"\r\n--" + boundary.encode("ascii")
        self._buffer = bytearray(b"\r\n")
        self._in_body = True
        self._seen_delimiter = False
        self.closed = False
        self.part = -1

    def _fill(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buffer += chunk
                return True
        return False

    def body_piece(self) -> bytes | None:
        """The next piece of the current body, or None once its delimiter line is consumed."""
        if not self._in_body:
            return None
        buffer, delimiter = self._buffer, self._delimiter
        while True:
            found = buffer.find(delimiter)
            if found > 0:
                piece = bytes(buffer[:found])
                del buffer[:found]
                return piece
            if found == 0:
                if self._end_of_delimiter():
                    return None
                continue
            keep = len(delimiter) - 1  # what may be the start of a delimiter split in two
            if len(buffer) > keep:
                piece = bytes(buffer[: len(buffer) - keep])
                del buffer[: len(buffer) - keep]
                return piece
            if not self._fill():
                raise MultipartError(
                    "the multipart body ended before its close delimiter"
                    if self._seen_delimiter
                    else "the boundary of the Content-Type never appears in the body"
                )

    def _end_of_delimiter(self) -> bool:
        """At a delimiter: consume its line (True), or read more to see it whole (False)."""
        buffer = self._buffer
        after = len(self._delimiter)
        if len(buffer) >= after + 2 and buffer[after : after + 2] == b"--":
            self._seen_delimiter = self.closed = True
            self._in_body = False
            buffer.clear()  # the epilogue
            return True
        line_end = buffer.find(b"\n", after)
        if len(buffer) < after + 2 or line_end == -1:
            if not self._fill():
                raise MultipartError("the multipart body ended inside a boundary line")
            return False
        del buffer[: line_end + 1]
        self._seen_delimiter = True
        self._in_body = False
        return True

    def headers(self) -> dict[str, str]:
        """The header block of the part that starts here, up to its empty line."""
        buffer = self._buffer
        while True:
            if buffer[:2] == b"\r\n" or buffer[:1] == b"\n":  # no header fields
                end, skip = 0, 2 if buffer[:1] == b"\r" else 1
                break
            crlf, lf = buffer.find(b"\r\n\r\n"), buffer.find(b"\n\n")
            if crlf != -1 and (lf == -1 or crlf < lf):
                end, skip = crlf, 4
                break
            if lf != -1:
                end, skip = lf, 2
                break
            if not self._fill():
                raise MultipartError("the multipart body ended inside a part's header block")
        block = bytes(buffer[:end]).decode("latin-1")
        del buffer[: end + skip]
        self._in_body = True
        fields: dict[str, str] = {}
        for line in re.split(r"\r?\n", block):
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip().lower()] = value.strip()
        return fields


def multipart_file_body(
    files: Sequence[Path],
    boundary: str,
    *,
    part_headers: Mapping[str, str],
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[int, Iterator[bytes]]:
    """A multipart body of ``files``, each one part with ``part_headers``: its exact length
    (for ``Content-Length``) and its chunks, read from disk as the request is sent.

    ``on_bytes`` sees the size of each file chunk as it goes out, for progress displays.
    """
    heads = [_part_head(part_headers, boundary, first=index == 0) for index in range(len(files))]
    close = f"\r\n--{boundary}--\r\n".encode("ascii")
    length = sum(len(head) for head in heads) + len(close)
    length += sum(path.stat().st_size for path in files)

    def chunks() -> Iterator[bytes]:
        for head, path in zip(heads, files, strict=True):
            yield head
            with path.open("rb") as file:
                while chunk := file.read(_READ_SIZE):
                    if on_bytes is not None:
                        on_bytes(len(chunk))
                    yield chunk
        yield close

    return length, chunks()


def _part_head(headers: Mapping[str, str], boundary: str, *, first: bool) -> bytes:
    lines = [("" if first else "\r\n") + f"--{boundary}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
