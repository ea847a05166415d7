"""uvicorn's httptools protocol, handing request bodies to the app as they arrived.

uvicorn gathers a request's body chunks into a ``bytearray`` and copies that into a new
``bytes`` for each ``http.request`` message: two copies of every uploaded byte on the event
loop (for a 0.5 MB CT slice, a megabyte of memory traffic and fresh pages per instance stored).
Here the chunks are kept as they came: a chunk the app asks for alone is handed over as it is,
chunks that arrived together are joined once.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["BodyChunks", "HttpProtocol"]


class BodyChunks:
    """The body chunks received since the app last asked, in uvicorn's place of a ``bytearray``:
    ``+=`` keeps a chunk, ``len`` counts their bytes, ``bytes`` gives them as one."""

    __slots__ = ("_chunks", "_size")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0

    def __iadd__(self, chunk: bytes) -> BodyChunks:
        self._chunks.append(chunk)
        self._size += len(chunk)
        return self

    def __len__(self) -> int:
        return self._size

    def __bytes__(self) -> bytes:
        if len(self._chunks) == 1:
            return self._chunks[0]
        return b"".join(self._chunks)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, keeping body chunks as they came (`BodyChunks`)."""

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if isinstance(cycle.body, bytearray):  # a new cycle's, or uvicorn's after a message
            cycle.body = BodyChunks()  # type: ignore[assignment]
        super().on_body(body)
