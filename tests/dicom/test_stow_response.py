"""The Store Instances Response Module (PS3.18 §10.5.3, Annex I) in Google's shape (spec §2.2),
as DICOM JSON and XML, and as dicomweb-client reads it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pydicom
import pytest
import requests
from dicomweb_client.web import DICOMwebClient, _load_xml_dataset
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from dicomstore.dicom import stow_response
from dicomstore.dicom.stow_response import (
    FailedInstance,
    FailureReason,
    StoredInstance,
    StoreOutcome,
    response_dataset,
    response_json,
    response_xml,
    status_code,
)
from tests.test_public_api import _defined_public_names

BASE = (
    "https://healthcare.googleapis.com/v1/projects/P/locations/L/datasets/D/dicomStores/S/dicomWeb"
)
STUDY = f"{BASE}/studies/1.2.3"
CT = "1.2.840.10008.5.1.4.1.1.2"
DUPLICATE = (
    "An instance already exists in this DICOM Store with the same Study/Series/SOPInstance UID, "
    "but the DICOM files differ (checksum mismatch)."
)


def stored(sop: str, study: str = STUDY) -> StoredInstance:
    return StoredInstance(CT, sop, f"{study}/series/1.2.3.4/instances/{sop}", study)


def failed(sop: str | None = None, detail: str = DUPLICATE) -> FailedInstance:
    return FailedInstance(detail, sop_class_uid=CT if sop else None, sop_instance_uid=sop)


def test_all_is_exact() -> None:
    assert sorted(stow_response.__all__) == sorted(_defined_public_names(stow_response))


def test_failure_reasons_are_ps3_18_table_i_2_2() -> None:
    assert FailureReason.PROCESSING_FAILURE == 272 == 0x0110
    assert FailureReason.REFERENCED_SOP_CLASS_NOT_SUPPORTED == 290
    assert FailureReason.REFUSED_OUT_OF_RESOURCES == 42752
    assert FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS == 43264
    assert FailureReason.CANNOT_UNDERSTAND == 49152
    assert FailureReason.REFERENCED_TRANSFER_SYNTAX_NOT_SUPPORTED == 49442
    assert FailedInstance("x").failure_reason == 272


# --- DICOM JSON ----------------------------------------------------------------------------------


def test_success() -> None:
    outcomes: list[StoreOutcome] = [stored("1.2.3.4.5.6"), stored("1.2.3.4.5.7")]
    assert status_code(outcomes) == 200
    assert response_dataset(outcomes) == {
        "00081190": {"vr": "UR", "Value": [STUDY]},
        "00081199": {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": {"vr": "UI", "Value": [CT]},
                    "00081155": {"vr": "UI", "Value": [sop]},
                    "00081190": {
                        "vr": "UR",
                        "Value": [f"{STUDY}/series/1.2.3.4/instances/{sop}"],
                    },
                }
                for sop in ("1.2.3.4.5.6", "1.2.3.4.5.7")
            ],
        },
    }


def test_partial_failure() -> None:
    outcomes = [stored("1.2.3.4.5.6"), failed("1.2.3.4.5.7"), failed(None, "Invalid DICOM.")]
    assert status_code(outcomes) == 409
    dataset = response_dataset(outcomes)
    assert list(dataset) == ["00081190", "00081198", "00081199"]  # tag order
    assert dataset["00081190"] == {"vr": "UR", "Value": [STUDY]}
    assert dataset["00081198"] == {
        "vr": "SQ",
        "Value": [
            {
                "00081150": {"vr": "UI", "Value": [CT]},
                "00081155": {"vr": "UI", "Value": ["1.2.3.4.5.7"]},
                "00081197": {"vr": "US", "Value": [272]},
                "00090010": {"vr": "LO", "Value": ["GOOGLE"]},
                "00091097": {"vr": "LT", "Value": [DUPLICATE]},
            },
            {
                # An instance that could not be read names no UIDs, as Google's observed 409.
                "00081197": {"vr": "US", "Value": [272]},
                "00090010": {"vr": "LO", "Value": ["GOOGLE"]},
                "00091097": {"vr": "LT", "Value": ["Invalid DICOM."]},
            },
        ],
    }
    assert [item["00081155"]["Value"] for item in dataset["00081199"]["Value"]] == [["1.2.3.4.5.6"]]


def test_all_failed() -> None:
    outcomes = [failed("1.2.3.4.5.7")]
    assert status_code(outcomes) == 409
    dataset = response_dataset(outcomes)
    assert list(dataset) == ["00081190", "00081198"]
    assert dataset["00081190"] == {"vr": "UR"}  # type 2: present, empty without a stored study


def test_identical_duplicate_is_a_success() -> None:
    # The service reports a re-sent identical instance as stored (spec §2.3).
    outcomes = [stored("1.2.3.4.5.6"), stored("1.2.3.4.5.6")]
    assert status_code(outcomes) == 200
    assert "00081198" not in response_dataset(outcomes)


def test_conflicting_duplicate_is_a_failure() -> None:
    outcomes = [failed("1.2.3.4.5.6", DUPLICATE)]
    assert status_code(outcomes) == 409
    (item,) = response_dataset(outcomes)["00081198"]["Value"]
    assert item["00081197"] == {"vr": "US", "Value": [FailureReason.PROCESSING_FAILURE]}


def test_study_retrieve_url_only_for_a_single_study() -> None:
    other = f"{BASE}/studies/9.8.7"
    two_studies = [stored("1.1", STUDY), stored("2.2", other)]
    assert response_dataset(two_studies)["00081190"] == {"vr": "UR"}
    # Failures do not count: the URL is where the stored instances are.
    one_study = [stored("1.1", STUDY), failed("2.2")]
    assert response_dataset(one_study)["00081190"] == {"vr": "UR", "Value": [STUDY]}
    assert response_dataset([]) == {"00081190": {"vr": "UR"}}
    assert status_code([]) == 200


def test_other_failure_reasons_and_generators() -> None:
    outcomes = (
        FailedInstance("No codec.", FailureReason.REFERENCED_TRANSFER_SYNTAX_NOT_SUPPORTED)
        for _ in range(1)
    )
    (item,) = response_dataset(outcomes)["00081198"]["Value"]
    assert item["00081197"]["Value"] == [0xC122]
    assert status_code(iter([failed()])) == 409


def test_empty_failure_detail_is_an_empty_element() -> None:
    (item,) = response_dataset([FailedInstance("")])["00081198"]["Value"]
    assert item["00091097"] == {"vr": "LT"}


@pytest.mark.parametrize("reason", [-1, 0x10000, True])
def test_failure_reason_is_a_16_bit_code(reason: int) -> None:
    with pytest.raises(ValueError, match="16-bit"):
        FailedInstance("x", reason)


@pytest.mark.parametrize("field", ["sop_class_uid", "sop_instance_uid", "retrieve_url"])
def test_stored_instance_needs_every_field(field: str) -> None:
    values = {
        "sop_class_uid": CT,
        "sop_instance_uid": "1.2",
        "retrieve_url": f"{STUDY}/series/1/instances/1.2",
        "study_retrieve_url": STUDY,
        field: "",
    }
    with pytest.raises(ValueError, match=field):
        StoredInstance(**values)


def test_json_body() -> None:
    outcomes = [stored("1.2.3.4.5.6"), failed("1.2.3.4.5.7", "Déjà stocké – 既に")]
    body = response_json(outcomes)
    assert json.loads(body.decode("utf-8")) == response_dataset(outcomes)
    assert "Déjà stocké – 既に".encode() in body
    # A detail quoting undecodable input still gives valid JSON.
    body = response_json([failed(None, "bad \udcff byte")])
    assert json.loads(body)["00081198"]["Value"][0]["00091097"]["Value"] == ["bad \udcff byte"]


def test_pydicom_reads_the_json_and_finds_the_detail_by_creator() -> None:
    outcomes = [stored("1.2.3.4.5.6"), failed("1.2.3.4.5.7")]
    dataset = Dataset.from_json(response_json(outcomes).decode())
    assert dataset.RetrieveURL == STUDY
    assert dataset.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == "1.2.3.4.5.6"
    item = dataset.FailedSOPSequence[0]
    assert item.FailureReason == 272
    assert item.ReferencedSOPInstanceUID == "1.2.3.4.5.7"
    assert item.private_block(0x0009, "GOOGLE")[0x97].value == DUPLICATE


# --- XML -----------------------------------------------------------------------------------------


def element(xml: bytes) -> ET.Element:
    root = ET.fromstring(xml)
    assert root.tag == "NativeDicomModel"
    return root


def shape(node: ET.Element) -> Any:
    """An element as (tag, attributes, text, children), for comparing whole documents."""
    return (node.tag, node.attrib, (node.text or "").strip(), [shape(child) for child in node])


def test_xml_success_matches_google_sample() -> None:
    sop = "1.2.3.4.5.6"
    sample = f"""<NativeDicomModel>
 <DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL"><Value number="1">{STUDY}</Value></DicomAttribute>
 <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">
  <Item number="1">
   <DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">{CT}</Value></DicomAttribute>
   <DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">{sop}</Value></DicomAttribute>
   <DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL"><Value number="1">{STUDY}/series/1.2.3.4/instances/{sop}</Value></DicomAttribute>
  </Item>
 </DicomAttribute>
</NativeDicomModel>"""  # noqa: E501 - the spec's §2.2 sample, as Google formats it
    assert shape(element(response_xml([stored(sop)]))) == shape(ET.fromstring(sample))


def test_xml_failure_detail_as_google_writes_it() -> None:
    body = response_xml([stored("1.2.3.4.5.6"), failed("1.2.3.4.5.7", "a < b & c")])
    assert (
        b'<DicomAttribute tag="00090097" vr="LT" keyword="FailureDetail" privateCreator="GOOGLE">'
        b'<Value number="1">a &lt; b &amp; c</Value></DicomAttribute>'
    ) in body
    root = element(body)
    assert [a.get("keyword") for a in root] == [
        "RetrieveURL",
        "FailedSOPSequence",
        "ReferencedSOPSequence",
    ]
    (item,) = list(root[1])
    assert [(a.get("tag"), a.get("keyword"), a.get("privateCreator")) for a in item] == [
        ("00081150", "ReferencedSOPClassUID", None),
        ("00081155", "ReferencedSOPInstanceUID", None),
        ("00081197", "FailureReason", None),
        ("00090097", "FailureDetail", "GOOGLE"),  # no separate private creator element
    ]
    assert item[2][0].text == "272"
    assert item[3][0].text == "a < b & c"


def test_xml_all_failed_has_an_empty_retrieve_url() -> None:
    root = element(response_xml([failed()]))
    assert root[0].attrib == {"tag": "00081190", "vr": "UR", "keyword": "RetrieveURL"}
    assert list(root[0]) == []


# --- dicomweb-client ------------------------------------------------------------------------------


class _CannedSession(requests.Session):
    """Answers every POST with one canned response, keeping the request headers."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        super().__init__()
        self.response = requests.Response()
        self.response.status_code = status
        self.response.headers["Content-Type"] = content_type
        self.response._content = body
        self.sent: list[dict[str, str]] = []

    def post(self, url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        self.sent.append(dict(kwargs.get("headers") or {}))
        if data is not None and not isinstance(data, bytes):
            for _ in data:  # drain a chunk generator as a transport would
                pass
        return self.response


def instance() -> Dataset:
    dataset = Dataset()
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = "1.2.3.4.5.6"
    dataset.StudyInstanceUID = "1.2.3"
    dataset.SeriesInstanceUID = "1.2.3.4"
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = CTImageStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6"
    return dataset


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/dicom+json", response_json([stored("1.2.3.4.5.6")])),
        # dicomweb-client sends no Accept for STOW, so Google's default XML is what it reads.
        ("application/dicom+xml", response_xml([stored("1.2.3.4.5.6")])),
    ],
)
def test_dicomweb_client_store_instances_reads_the_response(content_type: str, body: bytes) -> None:
    session = _CannedSession(200, content_type, body)
    client = DICOMwebClient(BASE, session=session)
    result = client.store_instances([instance()])
    assert "Accept" not in session.sent[0]
    assert isinstance(result, pydicom.Dataset)
    assert result.RetrieveURL == STUDY
    (item,) = result.ReferencedSOPSequence
    assert item.ReferencedSOPClassUID == CT
    assert item.ReferencedSOPInstanceUID == "1.2.3.4.5.6"
    assert item.RetrieveURL == f"{STUDY}/series/1.2.3.4/instances/1.2.3.4.5.6"


def test_dicomweb_client_json_parser_reads_a_409_body() -> None:
    # On 409 dicomweb-client raises before parsing; the body must still be what it would parse.
    body = response_json([stored("1.2.3.4.5.6"), failed("1.2.3.4.5.7"), failed()])
    dataset = pydicom.Dataset.from_json(json.loads(body))
    assert [item.FailureReason for item in dataset.FailedSOPSequence] == [272, 272]
    session = _CannedSession(409, "application/dicom+json", body)
    with pytest.raises(requests.HTTPError):
        DICOMwebClient(BASE, session=session).store_instances([instance()])


def test_dicomweb_client_xml_parser_reads_a_success() -> None:
    sops = [generate_uid() for _ in range(3)]
    dataset = _load_xml_dataset(ET.fromstring(response_xml([stored(sop) for sop in sops])))
    assert [item.ReferencedSOPInstanceUID for item in dataset.ReferencedSOPSequence] == sops
