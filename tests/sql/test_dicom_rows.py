"""DICOM JSON answers as rows keyed by attribute keywords."""

from __future__ import annotations

from dicomstore.sql.dicom_rows import dicom_rows


def test_one_row_per_object_with_keywords_in_tag_order() -> None:
    answer = [
        {
            "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane", "Ideographic": "X"}]},
            "00080061": {"vr": "CS", "Value": ["CT", "MR"]},
            "00080050": {"vr": "SH"},
            "00091001": {"vr": "LO", "Value": ["private"]},
            "7FE00010": {"vr": "OW", "BulkDataURI": "http://x/bulkdata/7FE00010"},
        },
        {"0020000D": {"vr": "UI", "Value": ["1.2.4"]}},
    ]
    columns, rows = dicom_rows(answer)
    assert columns == [
        "AccessionNumber", "ModalitiesInStudy", "00091001", "PatientName", "StudyInstanceUID",
        "PixelData",
    ]  # fmt: skip
    assert rows[0] == {
        "AccessionNumber": None,
        "ModalitiesInStudy": ["CT", "MR"],
        "00091001": "private",
        "PatientName": "Doe^Jane=X",
        "StudyInstanceUID": "1.2.3",
        "PixelData": "http://x/bulkdata/7FE00010",
    }
    assert rows[1] == {"StudyInstanceUID": "1.2.4"}


def test_an_object_answer_is_one_row_and_sequences_keep_their_items() -> None:
    stow = {
        "00081199": {
            "vr": "SQ",
            "Value": [{"00081155": {"vr": "UI", "Value": ["1.2.3.4"]}}],
        },
        "00081190": {"vr": "UR", "Value": ["http://x/studies/1.2.3"]},
    }
    assert dicom_rows(stow) == (
        ["RetrieveURL", "ReferencedSOPSequence"],
        [
            {
                "RetrieveURL": "http://x/studies/1.2.3",
                "ReferencedSOPSequence": [{"ReferencedSOPInstanceUID": "1.2.3.4"}],
            }
        ],
    )
