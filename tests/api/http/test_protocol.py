"""The HTTP protocol hands request bodies to the app as they arrived (`protocol.BodyChunks`)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from dicomstore.api.http.protocol import BodyChunks
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
