"""Native DICOM Model XML (PS3.19 §A.1) written from DICOM JSON, read back with xml.etree."""

from __future__ import annotations

import base64
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_charset_files, get_testdata_file

from dicomstore.dicom import xml
from dicomstore.dicom.xml import NATIVE_DICOM_MODEL_NAMESPACE, to_dicom_xml
from tests.dicom.corpus import corpus, corpus_id, readable
from tests.test_public_api import _defined_public_names

# pydicom warns about the many invalid values its test files carry on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
PN_COMPONENTS = ["FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix"]


def parse(dataset: dict[str, Any], **options: Any) -> ET.Element:
    document = to_dicom_xml(dataset, **options)
    assert document.startswith(DECLARATION)
    root = ET.fromstring(document)
    assert root.tag == "NativeDicomModel"
    return root


def attributes(element: ET.Element) -> list[ET.Element]:
    children = list(element)
    assert all(child.tag == "DicomAttribute" for child in children)
    return children


def only(dataset: dict[str, Any], **options: Any) -> ET.Element:
    (attribute,) = attributes(parse(dataset, **options))
    return attribute


def values(attribute: ET.Element) -> list[str | None]:
    children = list(attribute)
    assert [child.tag for child in children] == ["Value"] * len(children)
    assert [child.get("number") for child in children] == [
        str(n) for n in range(1, len(children) + 1)
    ]
    return [child.text for child in children]


# --- a reader of the model, to compare with the JSON it came from --------------------------------


def model_of_json(dataset: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What the XML of a JSON data set must hold, as comparable tuples in tag order.

    Private creators become the ``privateCreator`` of their block's elements, whose tags lose the
    block byte; values become text as XML writes them.
    """
    creators = {}
    for key, attribute in dataset.items():
        tag = int(key, 16)
        if tag >> 16 & 1 and 0x10 <= tag & 0xFFFF <= 0xFF and attribute.get("Value"):
            creators[tag] = attribute["Value"][0].strip(" ")
    model = []
    for key in sorted(dataset, key=lambda key: int(key, 16)):
        tag, attribute = int(key, 16), dataset[key]
        if tag in creators:
            continue
        creator = None
        if tag >> 16 & 1:
            creator = creators.get(tag & 0xFFFF0000 | (tag >> 8 & 0xFF))
            if creator is not None:
                tag &= 0xFFFF00FF
        vr = attribute["vr"]
        content: Any = None
        if attribute.get("Value"):
            if vr == "SQ":
                content = [model_of_json(item or {}) for item in attribute["Value"]]
            elif vr == "PN":
                content = [person_name_of_json(value) for value in attribute["Value"]]
            else:
                content = [text_of_json(value) for value in attribute["Value"]]
        elif "InlineBinary" in attribute:
            content = ("InlineBinary", attribute["InlineBinary"])
        elif "BulkDataURI" in attribute:
            content = ("BulkData", attribute["BulkDataURI"])
        model.append((f"{tag:08X}", creator, vr, content))
    return model


def clean(text: str) -> str:
    return NOT_XML_CHAR.sub("\ufffd", text)


def text_of_json(value: Any) -> Any:
    if value is None or value == "":
        return None  # an empty Value element either way
    if isinstance(value, float):
        return value  # compared as numbers
    return clean(str(value))


def person_name_of_json(value: Any) -> dict[str, list[tuple[str, str]]]:
    groups = {}
    for group, text in (value or {}).items():
        components = [
            (name, clean(component))
            for name, component in zip(PN_COMPONENTS, text.split("^"), strict=False)
            if component
        ]
        if components:
            groups[group] = components
    return groups


def model_of_xml(element: ET.Element) -> list[tuple[Any, ...]]:
    model = []
    for attribute in attributes(element):
        vr = attribute.attrib["vr"]
        children = list(attribute)
        content: Any = None
        if children:
            kind = children[0].tag
            assert [child.tag for child in children] == [kind] * len(children)
            if kind in ("InlineBinary", "BulkData"):
                assert len(children) == 1
                child = children[0]
                content = (kind, child.text if kind == "InlineBinary" else child.attrib["uri"])
            else:
                numbers = [child.attrib["number"] for child in children]
                assert numbers == [str(n) for n in range(1, len(children) + 1)]
                if kind == "Item":
                    assert vr == "SQ"
                    content = [model_of_xml(child) for child in children]
                elif kind == "PersonName":
                    assert vr == "PN"
                    content = [
                        {group.tag: [(c.tag, c.text) for c in group] for group in child}
                        for child in children
                    ]
                else:
                    assert kind == "Value"
                    content = [child.text for child in children]
        model.append((attribute.attrib["tag"], attribute.get("privateCreator"), vr, content))
    return model


def same(expected: Any, actual: Any) -> bool:
    """Equality, with JSON floats against their XML text compared as numbers."""
    if isinstance(expected, float):
        number = float(actual.replace("INF", "inf"))
        return (math.isnan(expected) and math.isnan(number)) or expected == number
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(expected) == len(actual)
            and all(same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(
            same(expected[k], actual[k]) for k in expected
        )
    return bool(expected == actual)


# --- tests ---------------------------------------------------------------------------------------


def test_all_is_exact() -> None:
    assert sorted(xml.__all__) == sorted(_defined_public_names(xml))


def test_document_shape() -> None:
    document = to_dicom_xml({"00080060": {"vr": "CS", "Value": ["CT"]}})
    assert document == (
        DECLARATION + b"<NativeDicomModel>"
        b'<DicomAttribute tag="00080060" vr="CS" keyword="Modality"><Value number="1">CT</Value>'
        b"</DicomAttribute></NativeDicomModel>"
    )
    assert to_dicom_xml({}) == DECLARATION + b"<NativeDicomModel></NativeDicomModel>"


def test_namespace_on_request() -> None:
    root = ET.fromstring(to_dicom_xml({"00080060": {"vr": "CS"}}, namespace=True))
    assert root.tag == f"{{{NATIVE_DICOM_MODEL_NAMESPACE}}}NativeDicomModel"
    assert [child.tag for child in root] == [f"{{{NATIVE_DICOM_MODEL_NAMESPACE}}}DicomAttribute"]


def test_attributes_in_tag_order_with_keywords() -> None:
    dataset = {
        "00200013": {"vr": "IS", "Value": [3]},
        "00080018": {"vr": "UI", "Value": ["1.2.3"]},
        "60003000": {"vr": "OW", "BulkDataURI": "https://x/bulk/60003000"},  # repeating group
        "00291234": {"vr": "LO", "Value": ["no creator"]},
        "00100010": {"vr": "PN"},
        "7FE00010": {"vr": "OW", "BulkDataURI": "https://x/bulk/7FE00010"},
        "00020000": {"vr": "UL", "Value": [200]},
        "0011ABCD": {"vr": "UN", "InlineBinary": "AAE="},
        "00280000": {"vr": "UL", "Value": [4]},  # a retired group length: no keyword
    }
    found = [(a.get("tag"), a.get("vr"), a.get("keyword")) for a in attributes(parse(dataset))]
    assert found == [
        ("00020000", "UL", "FileMetaInformationGroupLength"),
        ("00080018", "UI", "SOPInstanceUID"),
        ("00100010", "PN", "PatientName"),
        ("0011ABCD", "UN", None),
        ("00200013", "IS", "InstanceNumber"),
        ("00280000", "UL", None),
        ("00291234", "LO", None),
        ("60003000", "OW", "OverlayData"),
        ("7FE00010", "OW", "PixelData"),
    ]


def test_attribute_xml_attributes_order_and_empty_attribute() -> None:
    document = to_dicom_xml({"00080050": {"vr": "SH"}})
    assert b'<DicomAttribute tag="00080050" vr="SH" keyword="AccessionNumber"/>' in document
    assert list(only({"00080050": {"vr": "SH"}})) == []
    assert list(only({"00080050": {"vr": "SH", "Value": []}})) == []


def test_lower_case_tags_are_written_in_upper_case() -> None:
    assert only({"7fe00010": {"vr": "OB", "BulkDataURI": "u"}}).get("tag") == "7FE00010"


@pytest.mark.parametrize(
    ("vr", "json_values", "texts"),
    [
        ("CS", ["ORIGINAL", "PRIMARY", "AXIAL"], ["ORIGINAL", "PRIMARY", "AXIAL"]),
        ("DS", [0.5, 5.0, -1e-05, 338.6716], ["0.5", "5.0", "-1e-05", "338.6716"]),
        ("IS", [1601, -3], ["1601", "-3"]),
        ("US", [0, 65535], ["0", "65535"]),
        ("SV", [-(2**63), 2**64 - 1], [str(-(2**63)), str(2**64 - 1)]),
        ("FD", [math.nan, math.inf, -math.inf], ["NaN", "INF", "-INF"]),
        ("AT", ["00100010", "7FE00010"], ["00100010", "7FE00010"]),
        ("LO", ["a", None, "c"], ["a", None, "c"]),
        ("UR", ["https://h/p?a=1&b=2"], ["https://h/p?a=1&b=2"]),
    ],
)
def test_values(vr: str, json_values: list[Any], texts: list[str | None]) -> None:
    attribute = only({"00091001": {"vr": vr, "Value": json_values}})
    assert values(attribute) == texts


def test_null_value_keeps_its_number() -> None:
    document = to_dicom_xml({"00080008": {"vr": "CS", "Value": ["A", None, "C"]}})
    assert b'<Value number="1">A</Value><Value number="2"/><Value number="3">C</Value>' in document


def test_value_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="Not a DICOM JSON value"):
        to_dicom_xml({"00280010": {"vr": "US", "Value": [True]}})
    with pytest.raises(ValueError, match="Not a DICOM JSON value"):
        to_dicom_xml({"00280010": {"vr": "US", "Value": [[1]]}})


@pytest.mark.parametrize(
    "dataset",
    [
        {"0010001": {"vr": "PN"}},
        {"0010001G": {"vr": "PN"}},
        {"00100010": {"Value": ["x"]}},
        {"00100010": "PN"},
        {"00081199": {"vr": "SQ", "Value": ["not an item"]}},
    ],
)
def test_malformed_json_is_refused(dataset: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        to_dicom_xml(dataset)


def test_escaping_of_text_round_trips() -> None:
    nasty = "a<b>&c \"quoted\" 'single' ]]> tab\there\nline\r\ncrlf\rcr  "
    attribute = only({"00324000": {"vr": "LT", "Value": [nasty]}})
    assert values(attribute) == [nasty]


def test_escaping_of_xml_attributes_round_trips() -> None:
    uri = 'https://h/bulk?a=1&b="2"<>\t\n\r'
    attribute = only({"7FE00010": {"vr": "OB", "BulkDataURI": uri}})
    (bulk,) = list(attribute)
    assert bulk.tag == "BulkData" and bulk.attrib == {"uri": uri}


def test_characters_xml_cannot_carry_are_replaced() -> None:
    text = "form\x0cfeed\x00nul\x1besc\ud800lone\ufffe\uffffend"
    attribute = only({"00324000": {"vr": "LT", "Value": [text]}})
    assert values(attribute) == ["form\ufffdfeed\ufffdnul\ufffdesc\ufffdlone\ufffd\ufffdend"]


def test_utf8_output() -> None:
    text = "Ærøskøbing – 山田^太郎 😀"
    document = to_dicom_xml({"00081030": {"vr": "LO", "Value": [text]}})
    assert text.encode("utf-8") in document
    assert values(only({"00081030": {"vr": "LO", "Value": [text]}})) == [text]


def test_person_name_components() -> None:
    dataset = {
        "00100010": {
            "vr": "PN",
            "Value": [
                {"Alphabetic": "Doe^Jane^Q^Dr.^Jr."},
                {"Alphabetic": "Smith^^^^III"},
                None,
                {},
                {"Alphabetic": "^^"},
                {"Alphabetic": "<Weird & Co>"},
            ],
        }
    }
    attribute = only(dataset)
    names = list(attribute)
    assert [name.tag for name in names] == ["PersonName"] * 6
    assert [name.get("number") for name in names] == ["1", "2", "3", "4", "5", "6"]

    def components(name: ET.Element) -> dict[str, list[tuple[str, str | None]]]:
        return {group.tag: [(c.tag, c.text) for c in group] for group in name}

    assert components(names[0]) == {
        "Alphabetic": [
            ("FamilyName", "Doe"),
            ("GivenName", "Jane"),
            ("MiddleName", "Q"),
            ("NamePrefix", "Dr."),
            ("NameSuffix", "Jr."),
        ]
    }
    assert components(names[1]) == {"Alphabetic": [("FamilyName", "Smith"), ("NameSuffix", "III")]}
    assert components(names[2]) == {}
    assert components(names[3]) == {}
    assert components(names[4]) == {}
    assert components(names[5]) == {"Alphabetic": [("FamilyName", "<Weird & Co>")]}


def test_person_name_groups_from_a_japanese_file() -> None:
    dataset = pydicom.dcmread(next(p for p in get_charset_files() if p.endswith("chrH31.dcm")))
    json_dataset = dataset.to_json_dict()
    name = json_dataset["00100010"]["Value"][0]
    assert set(name) == {"Alphabetic", "Ideographic", "Phonetic"}  # the point of the file
    (person_name,) = list(only({"00100010": json_dataset["00100010"]}))
    groups = {group.tag: [(c.tag, c.text) for c in group] for group in person_name}
    assert list(groups) == ["Alphabetic", "Ideographic", "Phonetic"]
    for group, text in name.items():
        family, given = text.split("^")
        assert groups[group] == [("FamilyName", family), ("GivenName", given)]


def test_sequences_nest_items() -> None:
    dataset = {
        "00081199": {
            "vr": "SQ",
            "Value": [
                {
                    "00081155": {"vr": "UI", "Value": ["1.2.3"]},
                    "00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
                },
                {},
                {
                    "0040A730": {
                        "vr": "SQ",
                        "Value": [{"0040A040": {"vr": "CS", "Value": ["TEXT"]}}],
                    }
                },
            ],
        }
    }
    sequence = only(dataset)
    items = list(sequence)
    assert [(item.tag, item.get("number")) for item in items] == [
        ("Item", "1"),
        ("Item", "2"),
        ("Item", "3"),
    ]
    assert [a.get("keyword") for a in attributes(items[0])] == [
        "ReferencedSOPClassUID",
        "ReferencedSOPInstanceUID",
    ]
    assert attributes(items[1]) == []
    (content,) = attributes(items[2])
    (inner,) = list(content)
    (value_type,) = attributes(inner)
    assert value_type.get("keyword") == "ValueType" and values(value_type) == ["TEXT"]


def test_inline_binary_and_bulk_data() -> None:
    dataset = {
        "00020001": {"vr": "OB", "InlineBinary": "AAE="},
        "7FE00010": {"vr": "OW", "BulkDataURI": "https://h/studies/1/bulkdata/7FE00010"},
    }
    meta, pixels = attributes(parse(dataset))
    (inline,) = list(meta)
    assert inline.tag == "InlineBinary" and base64.b64decode(inline.text or "") == b"\x00\x01"
    (bulk,) = list(pixels)
    assert bulk.tag == "BulkData" and bulk.attrib == {
        "uri": "https://h/studies/1/bulkdata/7FE00010"
    }
    assert bulk.text is None


def test_private_elements_are_named_by_their_creator() -> None:
    dataset = {
        "00090010": {"vr": "LO", "Value": ["ACME 1.0 "]},
        "00090011": {"vr": "LO", "Value": ["OTHER"]},
        "00091001": {"vr": "LT", "Value": ["acme"]},
        "00091101": {"vr": "LT", "Value": ["other"]},
        "000912FF": {"vr": "LT", "Value": ["orphan"]},  # block 12 has no creator
        "00190010": {"vr": "LO"},  # a creator without value names nothing
        "00191001": {"vr": "SH", "Value": ["x"]},
    }
    found = [
        (a.get("tag"), a.get("privateCreator"), a.get("keyword"), values(a))
        for a in attributes(parse(dataset))
    ]
    assert found == [
        ("00090001", "ACME 1.0", None, ["acme"]),
        ("00090001", "OTHER", None, ["other"]),
        ("000912FF", None, None, ["orphan"]),
        ("00190010", None, None, []),
        ("00191001", None, None, ["x"]),
    ]


def test_private_creators_are_scoped_to_their_item() -> None:
    dataset = {
        "00090010": {"vr": "LO", "Value": ["OUTER"]},
        "00081199": {
            "vr": "SQ",
            "Value": [
                {
                    "00090010": {"vr": "LO", "Value": ["INNER"]},
                    "00091001": {"vr": "LT", "Value": ["inner"]},
                },
                {"00091001": {"vr": "LT", "Value": ["no creator here"]}},
            ],
        },
        "00091001": {"vr": "LT", "Value": ["outer"]},
    }
    sequence, outer = attributes(parse(dataset))
    assert (outer.get("tag"), outer.get("privateCreator")) == ("00090001", "OUTER")
    first, second = list(sequence)
    (inner,) = attributes(first)
    assert (inner.get("tag"), inner.get("privateCreator")) == ("00090001", "INNER")
    (orphan,) = attributes(second)
    assert (orphan.get("tag"), orphan.get("privateCreator")) == ("00091001", None)


def test_private_keywords_by_creator() -> None:
    dataset = {
        "00090010": {"vr": "LO", "Value": ["GOOGLE"]},
        "00091097": {"vr": "LT", "Value": ["why"]},
        "00091098": {"vr": "LT", "Value": ["other"]},
    }
    document = to_dicom_xml(dataset, private_keywords={("GOOGLE", 0x00090097): "FailureDetail"})
    assert (
        b'<DicomAttribute tag="00090097" vr="LT" keyword="FailureDetail" privateCreator="GOOGLE">'
        b'<Value number="1">why</Value></DicomAttribute>'
    ) in document
    assert b'<DicomAttribute tag="00090098" vr="LT" privateCreator="GOOGLE">' in document
    # A keyword is given by creator: another creator's element of that number has none.
    other = {**dataset, "00090010": {"vr": "LO", "Value": ["NOT GOOGLE"]}}
    document = to_dicom_xml(other, private_keywords={("GOOGLE", 0x00090097): "FailureDetail"})
    assert b"FailureDetail" not in document


def test_ct_small_matches_its_json() -> None:
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    json_dataset = dataset.to_json_dict(
        bulk_data_threshold=64, bulk_data_element_handler=lambda element: f"bulk:{element.tag}"
    )
    root = parse(json_dataset)
    assert same(model_of_json(json_dataset), model_of_xml(root))
    by_keyword = {a.get("keyword"): a for a in attributes(root)}
    assert values(by_keyword["PatientID"]) == ["1CT1"]
    assert values(by_keyword["SliceThickness"]) == ["5.0"]
    assert [(g.tag, [c.text for c in g]) for g in by_keyword["PatientName"][0]] == [
        ("Alphabetic", ["CompressedSamples", "CT1"])
    ]
    (bulk,) = list(by_keyword["PixelData"])
    assert bulk.attrib == {"uri": "bulk:(7FE0,0010)"}
    creators = {a.get("privateCreator") for a in attributes(root)}
    assert {"GEMS_IDEN_01", "GEMS_PATI_01"} <= creators
    # The creators are attributes now; (0011,1010) is written as 00110010 of GEMS_PATI_01.
    written = {(a.get("tag"), a.get("privateCreator")) for a in attributes(root)}
    assert ("00110010", None) not in written and ("00090010", None) not in written
    assert ("00110010", "GEMS_PATI_01") in written


READABLE = [path for path in corpus() if readable(path)]


@pytest.mark.parametrize("path", READABLE, ids=corpus_id)
def test_corpus_round_trips(path: Path) -> None:
    """Every readable pydicom test file: its JSON and the XML written from it say the same."""
    dataset = pydicom.dcmread(path)
    json_dataset = dataset.to_json_dict(
        bulk_data_threshold=1024,
        bulk_data_element_handler=lambda element: f"bulk:{element.tag}",
        suppress_invalid_tags=True,
    )
    json_dataset.update(
        dataset.file_meta.to_json_dict(suppress_invalid_tags=True) if dataset.file_meta else {}
    )
    document = to_dicom_xml(json_dataset)
    assert same(model_of_json(json_dataset), model_of_xml(ET.fromstring(document)))
