"""The HTTP protocol hands request bodies to the app as they arrived (`protocol.BodyChunks`)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from uvicorn.server import ServerState

from dicomstore.api.http.protocol import BodyChunks, HttpProtocol
from tests.api.http.dicomweb_support import instance_path, make_instance, multipart_body, part10
from tests.api.http.dicomweb_support import stow_content_type as multipart_type
from tests.processes import ServerProcess

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_a_chunk_received_alone_is_handed_over_as_it_came() -> None:
    chunk = b"x" * 100_000
    received = BodyChunks()
    received += chunk
    assert len(received) == 100_000
    assert bytes(received) is chunk


def test_chunks_received_together_are_joined_in_order() -> None:
    received = BodyChunks()
    for chunk in (b"ab", b"", b"cde"):
        received += chunk
    assert len(received) == 5
    assert bytes(received) == b"abcde"
    assert bytes(BodyChunks()) == b""


class _Recording(HttpProtocol):
    """The protocol, noting each body chunk the HTTP parser hands it."""

    chunks: ClassVar[list[bytes]] = []

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        super().on_body(body)


def test_the_app_gets_the_body_chunks_the_parser_gave_not_copies() -> None:
    """Over a real socket: each ``http.request`` message's body is a chunk the protocol
    received, the very object (uvicorn's own protocol hands over a copy of a copy)."""
    bodies: list[bytes] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            bodies.append(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def exchange() -> bytes:
        config = uvicorn.Config(app, http=_Recording, lifespan="off", log_level="warning")
        protocol = _Recording(config=config, server_state=ServerState(), app_state={})
        ours, theirs = socket.socketpair()
        transport, _ = await asyncio.get_running_loop().connect_accepted_socket(
            lambda: protocol, ours
        )
        reader, writer = await asyncio.open_connection(sock=theirs)
        try:
            body = bytes(range(256)) * 1024
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 262144\r\n\r\n")
            for start in range(0, len(body), 65536):
                writer.write(body[start : start + 65536])
                await writer.drain()
                await asyncio.sleep(0.01)  # each piece its own read
            return await reader.readuntil(b"\r\n\r\n")
        finally:
            writer.close()
            await writer.wait_closed()
            transport.close()
            await asyncio.sleep(0)

    _Recording.chunks = []
    answer = asyncio.run(exchange())
    assert answer.startswith(b"HTTP/1.1 204")
    assert b"".join(bodies) == bytes(range(256)) * 1024
    handed = [body for body in bodies if body]
    assert len(handed) > 1
    recorded = {id(chunk) for chunk in _Recording.chunks}
    assert all(id(body) in recorded for body in handed)


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("piece", [1_000, 70_000])
def test_a_body_sent_in_pieces_is_stored_whole(
    server: ServerProcess, dicom_store: str, piece: int
) -> None:
    """Sent chunked (the server sees many small body chunks) or in pieces larger than the read
    ahead, a multipart upload is stored byte for byte."""
    dataset = make_instance(Rows=256, Columns=256, PixelData=bytes(range(256)) * 256)
    data = part10(dataset)
    root = f"/v1/{dicom_store}/dicomWeb"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        stored = http.post(
            f"{root}/studies",
            content=_pieces(multipart_body([data]), piece),
            headers={"Content-Type": multipart_type(), "Accept": "application/dicom+json"},
        )
        assert stored.status_code == 200, stored.text
        path = instance_path(
            dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID
        )
        retrieved = http.get(f"{root}/{path}", headers={"Accept": "application/dicom"})
    assert retrieved.status_code == 200
    assert retrieved.content == data


def test_a_body_trickling_in_over_one_connection_is_stored_whole(
    server: ServerProcess, dicom_store: str
) -> None:
    """Content-Length framing, the body written in many small sends: each arrives as its own
    chunk, and the next request on the same connection is read after it."""
    dataset = make_instance()
    data = part10(dataset)
    target = urlsplit(server.url)
    head = (
        f"POST /v1/{dicom_store}/dicomWeb/studies HTTP/1.1\r\nHost: {target.netloc}\r\n"
        f"Content-Type: application/dicom\r\nAccept: application/dicom+json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((target.hostname, target.port), timeout=30) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sendall(head)
        for chunk in _pieces(data, 4096):
            connection.sendall(chunk)
        ping = f"GET /v1/{dicom_store} HTTP/1.1\r\nHost: {target.netloc}\r\n\r\n".encode()
        connection.sendall(ping)
        answer = b""
        while answer.count(b"HTTP/1.1 200") < 2:
            chunk = connection.recv(65536)
            assert chunk, f"the server closed the connection after {answer!r}"
            answer += chunk
    assert dataset.SOPInstanceUID.encode() in answer
