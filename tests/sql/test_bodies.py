"""Binary answers: split into their parts, and written to files when asked."""

from __future__ import annotations

from pathlib import Path

from dicomstore.sql.bodies import binary_rows, split_multipart

MULTIPART = (
    b"--b1\r\nContent-Type: application/octet-stream\r\n\r\nframe one\r\n"
    b"--b1\r\nContent-Type: application/octet-stream\r\n\r\nframe\r\n\r\ntwo\r\n"
    b"--b1--\r\n"
)
MULTIPART_TYPE = 'multipart/related; type="application/octet-stream"; boundary="b1"'


def test_multipart_bodies_split_into_parts() -> None:
    assert split_multipart(MULTIPART_TYPE, MULTIPART) == [
        ("application/octet-stream", b"frame one"),
        ("application/octet-stream", b"frame\r\n\r\ntwo"),
    ]
    assert split_multipart("image/jpeg", b"\xff\xd8") == [("image/jpeg", b"\xff\xd8")]


def test_rows_without_a_folder_give_type_and_size() -> None:
    assert binary_rows(MULTIPART_TYPE, MULTIPART, None, "1.2-3") == (
        ["contentType", "bytes"],
        [
            {"contentType": "application/octet-stream", "bytes": 9},
            {"contentType": "application/octet-stream", "bytes": 12},
        ],
    )


def test_parts_are_written_to_the_folder(tmp_path: Path) -> None:
    columns, rows = binary_rows(MULTIPART_TYPE, MULTIPART, tmp_path / "out", "1.2-3")
    assert columns == ["contentType", "bytes", "file"]
    assert [Path(row["file"]).name for row in rows] == ["1.2-3-1.bin", "1.2-3-2.bin"]
    assert Path(rows[1]["file"]).read_bytes() == b"frame\r\n\r\ntwo"
    _, (single,) = binary_rows("image/png", b"\x89PNG", tmp_path, "study")
    assert Path(single["file"]) == tmp_path / "study.png"
