"""Binary answers (instances, frames, rendered images, bulk data) as rows: one row per body part
with its ``contentType`` and size in ``bytes``, and the ``file`` it was written to when an output
folder is given.

A ``multipart/related`` answer is split into its parts; part *n* of an answer is written to
``<stem>-<n><extension>``, a single body to ``<stem><extension>``, where the stem names what was
asked for (the executor gives the deepest UID and what follows it: ``<instance UID>-<frames>``,
``<series UID>``) and the extension follows the content type (``.dcm``, ``.jpg``, ``.png``,
``.bin`` …).
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import Any

__all__ = ["binary_rows", "split_multipart"]

_EXTENSIONS = {
    "application/dicom": ".dcm",
    "application/octet-stream": ".bin",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/jp2": ".jp2",
    "image/jls": ".jls",
    "application/json": ".json",
    "application/dicom+json": ".json",
}
_BOUNDARY = re.compile(r';\s*boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _extension(content_type: str) -> str:
    media_type = _media_type(content_type)
    return _EXTENSIONS.get(media_type) or mimetypes.guess_extension(media_type) or ".bin"


def split_multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """The parts of a ``multipart/related`` body as ``(content type, bytes)``; the whole body
    as one part when it is not multipart."""
    match = _BOUNDARY.search(content_type)
    if _media_type(content_type) != "multipart/related" or match is None:
        return [(content_type, body)]
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    parts = []
    for segment in body.split(delimiter)[1:]:
        if segment.startswith(b"--"):
            break  # the close delimiter
        head, _, content = segment.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        part_type = "application/octet-stream"
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-type":
                part_type = value.strip()
        parts.append((part_type, content.removesuffix(b"\r\n")))
    return parts


def binary_rows(
    content_type: str, body: bytes, output_dir: Path | None, stem: str
) -> tuple[list[str], list[dict[str, Any]]]:
    parts = split_multipart(content_type, body)
    columns = ["contentType", "bytes"] + (["file"] if output_dir is not None else [])
    rows = []
    for number, (part_type, content) in enumerate(parts, start=1):
        row: dict[str, Any] = {"contentType": part_type, "bytes": len(content)}
        if output_dir is not None:
            suffix = f"-{number}" if _media_type(content_type) == "multipart/related" else ""
            path = output_dir / f"{stem}{suffix}{_extension(part_type)}"
            output_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            row["file"] = str(path)
        rows.append(row)
    return columns, rows
