"""QIDO-RS end to end (``dicomweb-conformance.md`` §3): a synthetic multi-study corpus is stored
once per module and engine, then searched through dicomweb-client, google-api-python-client and
raw HTTP — Google's behaviour on the session server, the full-standard mode (PS3.18 §10.6) on a
server of its own — and searched again after DICOMweb deletes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.api.http.dicomweb_support import (
    RawResponse,
    error_of,
    execute_raw,
    make_instance,
    multipart_body,
    part10,
    stores_api,
    stow_content_type,
    unique_id,
    wait_for_operations,
)
from tests.conftest import ENGINES, LOCATION
from tests.processes import ServerProcess, start_server

DICOM_JSON = "application/dicom+json"
XML_PARTS = 'multipart/related; type="application/dicom+xml"'
ANY_PART10 = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def tag(keyword: str) -> str:
    found = tag_for_keyword(keyword)
    assert found is not None, keyword
    return f"{found:08X}"


def tags(*keywords: str) -> frozenset[str]:
    return frozenset(tag(keyword) for keyword in keywords)


STUDY_UID, SERIES_UID, SOP_UID = (
    tag("StudyInstanceUID"),
    tag("SeriesInstanceUID"),
    tag("SOPInstanceUID"),
)
RETRIEVE_URL = tag("RetrieveURL")
# Google's default attributes per level (spec §3.4), present even when empty.
STUDY_DEFAULTS = tags("SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber",
                      "InstanceAvailability", "ReferringPhysicianName", "TimezoneOffsetFromUTC",
                      "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                      "StudyInstanceUID", "StudyID")  # fmt: skip
SERIES_DEFAULTS = tags("SpecificCharacterSet", "Modality", "TimezoneOffsetFromUTC",
                       "SeriesDescription", "SeriesInstanceUID", "PerformedProcedureStepStartDate",
                       "PerformedProcedureStepStartTime", "RequestAttributesSequence")  # fmt: skip
INSTANCE_DEFAULTS = tags("SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID",
                         "InstanceAvailability", "TimezoneOffsetFromUTC", "InstanceNumber", "Rows",
                         "Columns", "BitsAllocated", "NumberOfFrames")  # fmt: skip
LEVEL_UID = {"study": STUDY_UID, "series": SERIES_UID, "instance": SOP_UID}


# -- The corpus -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudySpec:
    label: str
    attributes: dict[str, Any]
    series: tuple[tuple[str, int], ...]  # (Modality, number of instances)


SPECS = (
    StudySpec("john-2020", {"PatientName": "John^Doe", "PatientID": "PID-001",
                            "StudyDate": "20200115", "StudyTime": "093000",
                            "AccessionNumber": "ACC-1001", "ReferringPhysicianName": "Smith^Anna",
                            "StudyDescription": "CT chest"},
              (("CT", 2), ("PR", 1))),
    StudySpec("john-2021", {"PatientName": "John^Doe", "PatientID": "PID-001",
                            "StudyDate": "20211231", "AccessionNumber": "ACC-1002",
                            "ReferringPhysicianName": "Smith^Anna", "StudyDescription": "MR head"},
              (("MR", 2),)),
    StudySpec("sally", {"PatientName": "Sally^Zhang", "PatientID": "PID-002",
                        "StudyDate": "20210310", "AccessionNumber": "ACC-2001",
                        "ReferringPhysicianName": "Jones^Bob", "PatientSex": "F"},
              (("US", 1), ("CT", 1))),
    StudySpec("muller", {"PatientName": "Müller^Jürgen", "PatientID": "PID-003",
                         "StudyDate": "20220601", "AccessionNumber": "ACC-3001",
                         "ReferringPhysicianName": "Ōta^Hiroshi"},
              (("MR", 1),)),
    # An ideographic group, and an accession number holding a "*" (literal in Google mode).
    StudySpec("wang", {"PatientName": "Wang^XiaoDong=王^小東", "PatientID": "PID-004",
                       "StudyDate": "19991231", "AccessionNumber": "A*B"},
              (("OT", 1),)),
    # Names in other character sets than UTF-8: Latin-1, and JIS X 0208 through ISO 2022.
    StudySpec("gomez", {"SpecificCharacterSet": "ISO_IR 100", "PatientName": "Gómez^José",
                        "PatientID": "PID-006", "StudyDate": "20150704",
                        "AccessionNumber": "ACC-6001", "ReferringPhysicianName": "Núñez^Inés"},
              (("DX", 1),)),
    StudySpec("yamada", {"SpecificCharacterSet": ["ISO 2022 IR 6", "ISO 2022 IR 87"],
                         "PatientName": "Yamada^Tarou=山田^太郎=やまだ^たろう",
                         "PatientID": "PID-007", "StudyDate": "20230220",
                         "AccessionNumber": "ACC-7001"},
              (("CR", 1),)),
    # Empty name, accession number and referring physician; no study date at all.
    StudySpec("empty", {"PatientName": "", "PatientID": "PID-005", "AccessionNumber": "",
                        "ReferringPhysicianName": ""},
              (("OT", 1),)),
)  # fmt: skip


@dataclass(frozen=True)
class Stored:
    """One instance of the corpus."""

    label: str
    study: str
    series: str
    sop: str
    modality: str
    dataset: Dataset

    def uid(self, level: str) -> str:
        return {"study": self.study, "series": self.series, "instance": self.sop}[level]

    def value(self, keyword: str) -> str:
        return str(self.dataset.get(keyword, ""))


def build_corpus() -> list[Stored]:
    corpus = []
    for spec in SPECS:
        study = generate_uid()
        for series_number, (modality, count) in enumerate(spec.series, 1):
            series = generate_uid()
            for number in range(1, count + 1):
                dataset = make_instance(
                    study=study,
                    series=series,
                    number=number,
                    Modality=modality,
                    SeriesNumber=series_number,
                    SeriesDescription=f"{modality} {series_number}",
                    **{"SpecificCharacterSet": "ISO_IR 192", **spec.attributes},
                )
                corpus.append(
                    Stored(spec.label, study, series, dataset.SOPInstanceUID, modality, dataset)
                )
    return corpus


CORPUS = build_corpus()
BY_LABEL = {item.label: item for item in reversed(CORPUS)}  # the first instance of each study
STUDY_COUNT = len(SPECS)


def expected(level: str, items: Sequence[Stored]) -> set[str]:
    return {item.uid(level) for item in items}


def labelled(*labels: str) -> set[str]:
    return {BY_LABEL[label].study for label in labels}


def uids(level: str, answers: Sequence[dict[str, Any]]) -> list[str]:
    return [answer[LEVEL_UID[level]]["Value"][0] for answer in answers]


def value_of(answer: dict[str, Any], keyword: str) -> list[Any] | None:
    element = answer.get(tag(keyword))
    assert element is not None, f"{keyword} missing from {answer}"
    values: list[Any] | None = element.get("Value")
    return values


def stow(root: str, client: httpx.Client) -> None:
    body = multipart_body(part10(item.dataset) for item in CORPUS)
    response = client.post(
        f"{root}/studies",
        content=body,
        headers={"content-type": stow_content_type(), "accept": DICOM_JSON},
    )
    assert response.status_code == 200, response.text


@dataclass(frozen=True)
class Searched:
    """A store holding the corpus, and ways to search it."""

    server: ServerProcess
    store: str
    client: DICOMwebClient
    http: httpx.Client

    @property
    def root(self) -> str:
        return f"{self.server.url}/v1/{self.store}/dicomWeb"

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.http.get(f"{self.root}/{path}", **options)

    def search(self, path: str, params: Any = None, **options: Any) -> list[dict[str, Any]]:
        """A 200 or 204 answer as a list of matches, checking the framing of each."""
        response = self.get(path, params=params, **options)
        if response.status_code == 204:
            assert response.content == b""
            return []
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(DICOM_JSON)
        answer: list[dict[str, Any]] = response.json()
        assert answer, "an empty match list is a 204"
        return answer


# -- Google mode (the session server) -------------------------------------------------------------


@pytest.fixture(scope="module")
def searched(
    server: ServerProcess, healthcare: Any, module_stores: Callable[[], str]
) -> Iterator[Searched]:
    """The corpus in a store of its own on the session server, stored by one storeInstances."""
    store = module_stores()
    request = stores_api(healthcare).storeInstances(parent=store, dicomWebPath="studies")
    body = multipart_body(part10(item.dataset) for item in CORPUS)
    stored = execute_raw(request, body=body, content_type=stow_content_type(), accept=DICOM_JSON)
    assert len(stored.json()[tag("ReferencedSOPSequence")]["Value"]) == len(CORPUS)
    with httpx.Client(timeout=30) as client:
        yield Searched(server, store, DICOMwebClient(f"{server.url}/v1/{store}/dicomWeb"), client)


def search_level(client: DICOMwebClient, level: str, **options: Any) -> list[dict[str, Any]]:
    name = {"study": "studies", "series": "series", "instance": "instances"}[level]
    answer: list[dict[str, Any]] = getattr(client, f"search_for_{name}")(**options)
    return answer


def test_corpus_is_found_at_every_path(searched: Searched) -> None:
    client = searched.client
    assert set(uids("study", client.search_for_studies())) == expected("study", CORPUS)
    assert set(uids("series", client.search_for_series())) == expected("series", CORPUS)
    assert set(uids("instance", client.search_for_instances())) == expected("instance", CORPUS)
    item = BY_LABEL["john-2020"]
    in_study = [each for each in CORPUS if each.study == item.study]
    in_series = [each for each in in_study if each.series == item.series]
    series = client.search_for_series(study_instance_uid=item.study)
    assert set(uids("series", series)) == expected("series", in_study)
    instances = client.search_for_instances(study_instance_uid=item.study)
    assert set(uids("instance", instances)) == expected("instance", in_study)
    instances = client.search_for_instances(
        study_instance_uid=item.study, series_instance_uid=item.series
    )
    assert set(uids("instance", instances)) == expected("instance", in_series)


GOOGLE_KEYS = {
    "study": ("StudyInstanceUID", "PatientName", "PatientID", "AccessionNumber",
              "ReferringPhysicianName", "StudyDate"),
    "series": ("SeriesInstanceUID", "Modality"),
    "instance": ("SOPInstanceUID",),
}  # fmt: skip
KEY_CASES = [
    (level, keyword, label, form)
    for depth, level in enumerate(("study", "series", "instance"))
    for key_level in ("study", "series", "instance")[: depth + 1]
    for keyword in GOOGLE_KEYS[key_level]
    for label in ("john-2020", "muller", "wang", "gomez", "yamada")
    for form in (("keyword", "tag") if label == "john-2020" else ("keyword",))
]


@pytest.mark.parametrize(("level", "keyword", "label", "form"), KEY_CASES)
def test_every_searchable_key_at_each_level(
    searched: Searched, level: str, keyword: str, label: str, form: str
) -> None:
    """Single value matching (spec §3.2) by keyword or tag: what matches is exactly the
    entities holding the value."""
    value = BY_LABEL[label].value(keyword)
    # An empty value is universal matching (PS3.4 C.2.2.2.3).
    matching = [item for item in CORPUS if item.value(keyword) == value or not value]
    name = keyword if form == "keyword" else tag(keyword)
    answer = search_level(searched.client, level, search_filters={name: value})
    assert sorted(uids(level, answer)) == sorted(expected(level, matching))


def test_keys_of_higher_levels_under_a_path(searched: Searched) -> None:
    item = BY_LABEL["john-2020"]
    client = searched.client
    series = client.search_for_series(
        study_instance_uid=item.study, search_filters={"Modality": "PR"}
    )
    assert uids("series", series) == [
        each.series for each in CORPUS if each.study == item.study and each.modality == "PR"
    ]
    instances = client.search_for_instances(
        study_instance_uid=item.study, search_filters={"SOPInstanceUID": item.sop}
    )
    assert uids("instance", instances) == [item.sop]
    # A study key under a path fixing another study matches nothing.
    other = client.search_for_instances(
        study_instance_uid=item.study,
        series_instance_uid=item.series,
        search_filters={"PatientID": "PID-002"},
    )
    assert other == []


@pytest.mark.parametrize(
    ("dates", "labels"),
    [
        ("20210310", {"sally"}),
        ("20210310-20210310", {"sally"}),
        ("20200101-20211231", {"john-2020", "john-2021", "sally"}),
        ("-20201231", {"john-2020", "wang", "gomez"}),
        ("20211231-", {"john-2021", "muller", "yamada"}),
        ("19000101-", {spec.label for spec in SPECS} - {"empty"}),
        ("20300101-", set()),
    ],
)
@pytest.mark.parametrize("level", ["study", "series", "instance"])
def test_study_date_ranges(searched: Searched, level: str, dates: str, labels: set[str]) -> None:
    """Range matching of StudyDate, open-ended included; a study without a date never matches."""
    answer = search_level(searched.client, level, search_filters={"StudyDate": dates})
    matching = [item for item in CORPUS if item.label in labels]
    assert sorted(uids(level, answer)) == sorted(expected(level, matching))


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        # Google's examples (spec §3.3)
        ("jo", {"john-2020", "john-2021", "gomez"}),  # and José
        ("Do", {"john-2020", "john-2021"}),
        ("John Doe", {"john-2020", "john-2021"}),
        ("ohn", set()),
        ("sa", {"sally"}),
        ("Zh", {"sally"}),
        ("Sally^Zhang", {"sally"}),
        ("ally", set()),
        # Any query token suffices; non-ASCII and ideographic words.
        ("Nobody Zhang", {"sally"}),
        ("jü", {"muller"}),
        ("MÜLLER", {"muller"}),
        ("小", {"wang"}),
        ("jos", {"gomez"}),
        ("GÓM", {"gomez"}),
        ("山田", {"yamada"}),
        ("やま", {"yamada"}),
    ],
)
def test_fuzzy_patient_name(searched: Searched, name: str, labels: set[str]) -> None:
    answer = searched.client.search_for_studies(
        fuzzymatching=True, search_filters={"PatientName": name}
    )
    assert set(uids("study", answer)) == labelled(*labels)


def test_fuzzy_matching_applies_to_patient_name_only(searched: Searched) -> None:
    """Google fuzzy-matches PatientName alone (spec §3.3); other names stay exact."""
    for name, found in (("Sm", set()), ("Smith^Anna", {"john-2020", "john-2021"})):
        answer = searched.client.search_for_studies(
            fuzzymatching=True, search_filters={"ReferringPhysicianName": name}
        )
        assert set(uids("study", answer)) == labelled(*found)
    answer = searched.client.search_for_instances(
        fuzzymatching=True, search_filters={"PatientName": "zhang", "Modality": "US"}
    )
    assert uids("instance", answer) == [
        item.sop for item in CORPUS if item.label == "sally" and item.modality == "US"
    ]


def test_patient_name_without_fuzzymatching_is_exact(searched: Searched) -> None:
    client = searched.client
    for name in ("jo", "John", "Doe^John"):
        assert client.search_for_studies(search_filters={"PatientName": name}) == []
        assert (
            client.search_for_studies(fuzzymatching=False, search_filters={"PatientName": name})
            == []
        )
    both = client.search_for_studies(search_filters={"PatientName": "John^Doe"})
    assert set(uids("study", both)) == labelled("john-2020", "john-2021")
    # The alphabetic group is what a name is matched on.
    wang = client.search_for_studies(search_filters={"PatientName": "Wang^XiaoDong"})
    assert set(uids("study", wang)) == labelled("wang")


@pytest.mark.parametrize(
    ("params", "labels"),
    [
        ({"PatientID": "PID*"}, set()),
        ({"PatientID": "PID-00?"}, set()),
        ({"PatientName": "John*"}, set()),
        ({"AccessionNumber": "ACC-*"}, set()),
        ({"AccessionNumber": "A*B"}, {"wang"}),  # the "*" is an ordinary character
        ({"PatientID": "PID-001,PID-002"}, set()),
    ],
)
def test_wildcards_and_lists_are_literal_in_google_mode(
    searched: Searched, params: dict[str, str], labels: set[str]
) -> None:
    answer = searched.search("studies", params)
    assert set(uids("study", answer)) == labelled(*labels)


def test_uid_lists_are_literal_in_google_mode(searched: Searched) -> None:
    both = f"{BY_LABEL['sally'].study},{BY_LABEL['wang'].study}"
    assert searched.search("studies", {"StudyInstanceUID": both}) == []


@pytest.mark.parametrize("level", ["study", "series", "instance"])
def test_a_search_without_match_is_204_with_an_empty_body(searched: Searched, level: str) -> None:
    path = {"study": "studies", "series": "series", "instance": "instances"}[level]
    response = searched.get(path, params={"PatientID": "nobody"})
    assert response.status_code == 204
    assert response.content == b""
    assert "warning" not in response.headers
    assert search_level(searched.client, level, search_filters={"PatientID": "nobody"}) == []


def test_unknown_study_in_the_path_is_no_match(searched: Searched) -> None:
    assert searched.client.search_for_series(study_instance_uid=generate_uid()) == []
    assert searched.get(f"studies/{generate_uid()}/instances").status_code == 204
    # A series under a study it is not part of.
    sally, john = BY_LABEL["sally"], BY_LABEL["john-2020"]
    assert searched.client.search_for_instances(sally.study, john.series) == []


# includefield ---------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["keyword", "tag"])
def test_includefield_by_keyword_or_tag(searched: Searched, form: str) -> None:
    name = "StudyDescription" if form == "keyword" else tag("StudyDescription")
    answer = searched.client.search_for_studies(
        fields=[name], search_filters={"PatientID": "PID-001"}
    )
    descriptions = sorted(value_of(each, "StudyDescription") or [] for each in answer)
    assert descriptions == [["CT chest"], ["MR head"]]
    plain = searched.client.search_for_studies(search_filters={"PatientID": "PID-001"})
    assert all(tag("StudyDescription") not in each for each in plain)


def test_includefield_lists_and_repeats(searched: Searched) -> None:
    item = BY_LABEL["john-2020"]
    path = f"studies/{item.study}/series/{item.series}/instances"
    wanted = tags("PhotometricInterpretation", "SamplesPerPixel", "SeriesNumber")
    comma = searched.search(
        path, {"includefield": "PhotometricInterpretation,00280002,SeriesNumber,PatientName"}
    )
    assert all(value_of(each, "PatientName") == [{"Alphabetic": "John^Doe"}] for each in comma)
    repeated = searched.search(
        path,
        [("includefield", "PhotometricInterpretation"), ("includefield", "00280002"),
         ("includefield", "SeriesNumber")],
    )  # fmt: skip
    by_client = searched.client.search_for_instances(
        item.study, item.series, fields=["PhotometricInterpretation", "00280002", "SeriesNumber"]
    )
    for answer in (comma, repeated, by_client):
        assert len(answer) == 2
        for each in answer:
            assert wanted <= set(each)
            assert value_of(each, "PhotometricInterpretation") == ["MONOCHROME2"]
            assert value_of(each, "SamplesPerPixel") == [1]
            assert value_of(each, "SeriesNumber") == [1]


def test_includefield_all_at_study_and_series_level(searched: Searched) -> None:
    studies = searched.search("studies", {"includefield": "all", "PatientID": "PID-002"})
    assert len(studies) == 1
    assert value_of(studies[0], "StudyDescription") is None  # present, empty
    assert tag("InstitutionName") in studies[0]
    series = searched.search(f"studies/{BY_LABEL['sally'].study}/series", {"includefield": "all"})
    assert sorted(value_of(each, "SeriesNumber") or [] for each in series) == [[1], [2]]
    assert all(tag("Laterality") in each for each in series)


def test_includefield_all_of_an_instance_is_its_metadata(searched: Searched) -> None:
    """Instance ``all`` is retrieveMetadata's field set (spec §3.4), plus the defaults."""
    item = BY_LABEL["john-2020"]
    answers = searched.search(
        f"studies/{item.study}/series/{item.series}/instances", {"includefield": "all"}
    )
    assert len(answers) == 2
    for answer in answers:
        sop = answer[SOP_UID]["Value"][0]
        metadata = searched.client.retrieve_instance_metadata(item.study, item.series, sop)
        wanted = dict(metadata)
        for default in INSTANCE_DEFAULTS:
            wanted.setdefault(default, {"vr": dictionary_VR(default)})
        wanted[tag("InstanceAvailability")] = {"vr": "CS", "Value": ["ONLINE"]}
        assert json.dumps(answer, sort_keys=True) == json.dumps(wanted, sort_keys=True)
        pixels = answer[tag("PixelData")]["BulkDataURI"]
        assert pixels.startswith(f"{searched.root}/studies/{item.study}/")
        response = searched.http.get(pixels, headers={"accept": "application/octet-stream"})
        assert response.status_code == 200
        stored = next(each for each in CORPUS if each.sop == sop)
        assert response.content == stored.dataset.PixelData


def test_includefield_all_under_the_root_instances(searched: Searched) -> None:
    answers = searched.search("instances", {"includefield": "all", "PatientID": "PID-003"})
    (answer,) = answers
    assert value_of(answer, "PatientName") == [{"Alphabetic": "Müller^Jürgen"}]
    assert value_of(answer, "Modality") == ["MR"]
    assert "BulkDataURI" in answer[tag("PixelData")]


@pytest.mark.parametrize(
    ("level", "name"),
    [
        ("study", "NotAKeyword"),
        ("study", "StudyDescriptio"),
        ("series", "12345678"),
        ("instance", "AvailableTransferSyntaxUID"),
    ],
)
def test_unknown_includefield_is_400(
    healthcare: Any, searched: Searched, level: str, name: str
) -> None:
    status, error = error_of(
        _google_search(healthcare, searched.store, level, {"includefield": name})
    )
    assert status == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert f"unknown/unsupported QIDO attribute: {name}" in error["message"]


# Default attributes --------------------------------------------------------------------------


def test_default_attributes_of_each_path(searched: Searched) -> None:
    """Each answer holds its level's defaults and those of the levels the path leaves open, with
    the UIDs of the levels above (spec §3.4)."""
    item = BY_LABEL["sally"]
    parents = {STUDY_UID}
    cases = [
        ("studies", STUDY_DEFAULTS),
        ("series", STUDY_DEFAULTS | SERIES_DEFAULTS),
        ("instances", STUDY_DEFAULTS | SERIES_DEFAULTS | INSTANCE_DEFAULTS),
        (f"studies/{item.study}/series", SERIES_DEFAULTS | parents),
        (f"studies/{item.study}/instances", SERIES_DEFAULTS | INSTANCE_DEFAULTS | parents),
        (f"studies/{item.study}/series/{item.series}/instances",
         INSTANCE_DEFAULTS | parents | {SERIES_UID}),
    ]  # fmt: skip
    for path, wanted in cases:
        answers = searched.search(path)
        for answer in answers:
            assert set(answer) == wanted, path
            assert RETRIEVE_URL not in answer  # standard mode only


def test_empty_default_attributes_are_present_with_their_vr(searched: Searched) -> None:
    (answer,) = searched.client.search_for_studies(search_filters={"PatientID": "PID-005"})
    for keyword, vr in [("PatientName", "PN"), ("AccessionNumber", "SH"), ("StudyDate", "DA"),
                        ("StudyTime", "TM"), ("ReferringPhysicianName", "PN"),
                        ("PatientBirthDate", "DA"), ("PatientSex", "CS"), ("StudyID", "SH"),
                        ("TimezoneOffsetFromUTC", "SH")]:  # fmt: skip
        assert answer[tag(keyword)] == {"vr": vr}, keyword
    assert value_of(answer, "SpecificCharacterSet") == ["ISO_IR 192"]
    assert value_of(answer, "InstanceAvailability") == ["ONLINE"]
    (instance,) = searched.client.search_for_instances(search_filters={"PatientID": "PID-005"})
    assert instance[tag("NumberOfFrames")] == {"vr": "IS"}
    assert instance[tag("RequestAttributesSequence")] == {"vr": "SQ"}
    assert value_of(instance, "Rows") == [4]


def test_values_are_the_stored_ones(searched: Searched) -> None:
    (wang,) = searched.client.search_for_studies(search_filters={"PatientID": "PID-004"})
    assert value_of(wang, "PatientName") == [
        {"Alphabetic": "Wang^XiaoDong", "Ideographic": "王^小東"}
    ]
    assert value_of(wang, "StudyDate") == ["19991231"]
    assert value_of(wang, "AccessionNumber") == ["A*B"]
    (yamada,) = searched.client.search_for_studies(search_filters={"PatientID": "PID-007"})
    assert value_of(yamada, "SpecificCharacterSet") == ["ISO 2022 IR 6", "ISO 2022 IR 87"]
    assert value_of(yamada, "PatientName") == [
        {"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}
    ]
    (gomez,) = searched.client.search_for_instances(search_filters={"PatientID": "PID-006"})
    assert value_of(gomez, "SpecificCharacterSet") == ["ISO_IR 100"]
    assert value_of(gomez, "PatientName") == [{"Alphabetic": "Gómez^José"}]
    (muller,) = searched.client.search_for_series(search_filters={"PatientID": "PID-003"})
    assert value_of(muller, "ReferringPhysicianName") == [{"Alphabetic": "Ōta^Hiroshi"}]
    assert value_of(muller, "SeriesDescription") == ["MR 1"]


# Paging ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "limit"), [("study", 1), ("study", 4), ("series", 3), ("instance", 4)]
)
def test_pages_cover_all_matches_once(searched: Searched, level: str, limit: int) -> None:
    walked: list[str] = []
    offset = 0
    while True:
        page = uids(level, search_level(searched.client, level, limit=limit, offset=offset))
        if not page:
            break
        assert len(page) <= limit
        walked += page
        offset += limit
        if len(page) < limit:
            assert search_level(searched.client, level, limit=limit, offset=offset) == []
            break
    assert len(walked) == len(set(walked)), "a match appeared on two pages"
    assert set(walked) == expected(level, CORPUS), "a match appeared on no page"
    assert walked == uids(level, search_level(searched.client, level)), "the order is not stable"
    remaining = search_level(searched.client, level, limit=limit, get_remaining=True)
    assert uids(level, remaining) == walked


def test_limit_defaults_and_maximum(searched: Searched) -> None:
    everything = uids("instance", searched.search("instances"))
    assert len(everything) == len(CORPUS)
    assert uids("instance", searched.search("instances", {"limit": "0"})) == everything
    assert uids("instance", searched.search("instances", {"limit": "50001"})) == everything
    assert len(searched.search("studies", {"limit": "999999"})) == STUDY_COUNT
    assert searched.search("studies", {"offset": "1000000"}) == []
    with_filter = searched.search("series", {"Modality": "CT", "limit": "1", "offset": "1"})
    assert len(with_filter) == 1


def _google_search(
    healthcare: Any, store: str, level: str, params: Any, path: str | None = None
) -> Any:
    """A searchFor* request of google-api-python-client. Its discovery document pins
    ``dicomWebPath`` to the resource path, so the query string is added to the built URI."""
    stores = stores_api(healthcare)
    method = {
        "study": stores.searchForStudies,
        "series": stores.searchForSeries,
        "instance": stores.searchForInstances,
    }[level]
    path = path or {"study": "studies", "series": "series", "instance": "instances"}[level]
    request = method(parent=store, dicomWebPath=path)
    query = str(httpx.QueryParams(params))
    if query:
        request.uri += ("&" if "?" in request.uri else "?") + query
    return request


@pytest.mark.parametrize(
    ("level", "params", "fragment"),
    [
        ("instance", {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7"},
         "SOPClassUID is not a supported instance"),
        ("study", {"StudyDescription": "CT chest"}, "StudyDescription is not a supported study"),
        ("study", {"Modality": "CT"}, "Modality is not a supported study"),
        ("series", {"SOPInstanceUID": "1.2.3"}, "SOPInstanceUID is not a supported series"),
        ("study", {"TimezoneOffsetFromUTC": "+0100"}, "TimezoneOffsetFromUTC"),
        ("study", {"NotAnAttribute": "x"}, "NotAnAttribute"),
        ("study", {"limit": "-1"}, "limit"),
        ("study", {"limit": "ten"}, "limit"),
        ("instance", {"limit": "1.5"}, "limit"),
        ("study", {"offset": "-1"}, "offset"),
        ("series", {"offset": "x"}, "offset"),
        ("study", {"offset": "1000001"}, "offset"),
        ("study", {"fuzzymatching": "maybe"}, "fuzzymatching"),
        ("study", {"StudyDate": "2020-01-01"}, "StudyDate"),
        ("study", {"StudyDate": "20201301"}, "StudyDate"),
        ("study", {"StudyDate": "20211231-20200101"}, "StudyDate"),
    ],
)  # fmt: skip
def test_bad_queries_are_400(
    healthcare: Any, searched: Searched, level: str, params: dict[str, str], fragment: str
) -> None:
    status, error = error_of(_google_search(healthcare, searched.store, level, params))
    assert status == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert fragment in error["message"]


def test_google_client_search_methods(healthcare: Any, searched: Searched) -> None:
    """searchForStudies / Series / Instances answer their raw bodies, at every path form."""
    item = BY_LABEL["muller"]
    stores = stores_api(healthcare)
    studies = stores.studies()
    requests_by_level = [
        ("study", _google_search(healthcare, searched.store, "study",
                                 {"PatientName": "Müller^Jürgen"})),
        ("series", _google_search(healthcare, searched.store, "series", {"Modality": "MR"})),
        ("series", studies.searchForSeries(
            parent=searched.store, dicomWebPath=f"studies/{item.study}/series")),
        ("instance", studies.searchForInstances(
            parent=searched.store, dicomWebPath=f"studies/{item.study}/instances")),
        ("instance", studies.series().searchForInstances(
            parent=searched.store,
            dicomWebPath=f"studies/{item.study}/series/{item.series}/instances")),
    ]  # fmt: skip
    for level, request in requests_by_level:
        response = execute_raw(request, accept=DICOM_JSON)
        assert response.status == 200
        assert response.content_type.startswith(DICOM_JSON)
        found = set(uids(level, response.json()))
        assert item.uid(level) in found
        if level != "series":
            assert found == {item.uid(level)}
    none = execute_raw(_google_search(healthcare, searched.store, "study", {"PatientID": "nobody"}))
    assert (none.status, none.content) == (204, b"")


def test_google_system_parameters_are_not_matching_keys(searched: Searched) -> None:
    """google-api-python-client adds ``alt=json`` to every request; Google accepts its system
    parameters on every method, searches included."""
    params = {"alt": "json", "prettyPrint": "false", "$.xgafv": "2", "key": "k",
              "quotaUser": "q", "PatientID": "PID-002"}  # fmt: skip
    for path, level in (("studies", "study"), ("series", "series"), ("instances", "instance")):
        answer = searched.search(path, params)
        assert set(uids(level, answer)) == expected(
            level, [item for item in CORPUS if item.label == "sally"]
        )


# Representations and resources ---------------------------------------------------------------


def test_xml_parts(searched: Searched) -> None:
    response = searched.get(
        "series", params={"PatientID": "PID-001"}, headers={"accept": XML_PARTS}
    )
    assert response.status_code == 200
    raw = RawResponse(200, dict(response.headers), response.content)
    assert raw.content_type.startswith("multipart/related")
    assert "application/dicom+xml" in raw.content_type
    parts = raw.parts()
    wanted = expected("series", [item for item in CORPUS if item.label.startswith("john")])
    assert len(parts) == len(wanted)
    found = set()
    for headers, content in parts:
        assert headers["content-type"].startswith("application/dicom+xml")
        root = ET.fromstring(content)
        assert root.tag.endswith("NativeDicomModel")
        attributes = {element.get("tag"): element for element in root.iter() if element.get("tag")}
        assert set(attributes) >= STUDY_DEFAULTS | SERIES_DEFAULTS
        series_uid = attributes[SERIES_UID].find("./{*}Value")
        assert series_uid is not None
        found.add(series_uid.text)
        name = attributes[tag("PatientName")].find(".//{*}FamilyName")
        assert name is not None and name.text == "John"
    assert found == wanted


def test_xml_person_names_and_bulk_data(searched: Searched) -> None:
    response = searched.get(
        "instances",
        params={"PatientID": "PID-007", "includefield": "all"},
        headers={"accept": XML_PARTS},
    )
    assert response.status_code == 200
    ((_, content),) = RawResponse(200, dict(response.headers), response.content).parts()
    root = ET.fromstring(content)
    (name,) = [each for each in root if each.get("tag") == tag("PatientName")]
    groups = {
        group.tag.split("}")[-1]: [part.text for part in group]
        for person in name
        for group in person
    }
    assert groups == {
        "Alphabetic": ["Yamada", "Tarou"],
        "Ideographic": ["山田", "太郎"],
        "Phonetic": ["やまだ", "たろう"],
    }
    (pixels,) = [each for each in root if each.get("tag") == tag("PixelData")]
    (bulk,) = list(pixels)
    assert bulk.tag.endswith("BulkData")
    assert bulk.get("uri", "").startswith(f"{searched.root}/studies/{BY_LABEL['yamada'].study}/")


def test_xml_without_match_is_204(searched: Searched) -> None:
    response = searched.get("studies", params={"PatientID": "x"}, headers={"accept": XML_PARTS})
    assert (response.status_code, response.content) == (204, b"")


@pytest.mark.parametrize(
    "accept",
    ["application/dicom", "image/png", "text/html", 'multipart/related; type="application/dicom"'],
)
def test_unsupported_accept_is_406(healthcare: Any, searched: Searched, accept: str) -> None:
    request = _google_search(healthcare, searched.store, "study", {})
    status, _ = error_of(request, accept=accept)
    assert status == 406


def test_json_accept_forms(searched: Searched) -> None:
    for accept in (
        "application/dicom+json",
        "application/*",
        "*/*",
        "application/dicom+json, application/json",
    ):
        response = searched.get("studies", headers={"accept": accept})
        assert response.status_code == 200, accept
        assert response.headers["content-type"].startswith(DICOM_JSON)


@pytest.mark.parametrize("store", ["dicomStores/missing", "missing-dataset"])
def test_unknown_store_is_404(healthcare: Any, searched: Searched, store: str) -> None:
    dataset = searched.store.rsplit("/dicomStores/", 1)[0]
    name = (
        f"{dataset}/{store}"
        if store.startswith("dicomStores")
        else f"{LOCATION}/datasets/{store}/dicomStores/store"
    )
    for level in ("study", "series", "instance"):
        status, error = error_of(_google_search(healthcare, name, level, {}))
        assert status == 404
        assert error["status"] == "NOT_FOUND"


def test_searches_do_not_cross_stores(searched: Searched, module_stores: Callable[[], str]) -> None:
    other = module_stores()
    client = DICOMwebClient(f"{searched.server.url}/v1/{other}/dicomWeb")
    assert client.search_for_studies() == []
    assert client.search_for_instances(search_filters={"PatientID": "PID-001"}) == []


def test_error_through_dicomweb_client(searched: Searched) -> None:
    with pytest.raises(requests.HTTPError) as raised:
        searched.client.search_for_studies(search_filters={"StudyDescription": "x"})
    response = raised.value.response
    assert response is not None and response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


# Deletes -------------------------------------------------------------------------------------


def _small_study() -> tuple[str, str, str, list[Dataset]]:
    study, series_a, series_b = generate_uid(), generate_uid(), generate_uid()
    datasets = [
        make_instance(study=study, series=series_a, number=1, PatientID="DEL-1", Modality="CT"),
        make_instance(study=study, series=series_a, number=2, PatientID="DEL-1", Modality="CT"),
        make_instance(study=study, series=series_b, number=1, PatientID="DEL-1", Modality="SR"),
        make_instance(number=1, PatientID="DEL-2", Modality="MR"),
    ]
    return study, series_a, series_b, datasets


def _stow(root: str, datasets: Sequence[Dataset]) -> None:
    response = httpx.post(
        f"{root}/studies",
        content=multipart_body(part10(each) for each in datasets),
        headers={"content-type": stow_content_type(), "accept": DICOM_JSON},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_deleted_resources_are_no_longer_found(server: ServerProcess, dicom_store: str) -> None:
    client = DICOMwebClient(f"{server.url}/v1/{dicom_store}/dicomWeb")
    study, series_a, series_b, datasets = _small_study()
    _stow(f"{server.url}/v1/{dicom_store}/dicomWeb", datasets)
    first = datasets[0].SOPInstanceUID
    assert len(client.search_for_instances(search_filters={"PatientID": "DEL-1"})) == 3

    client.delete_instance(study, series_a, first)
    assert client.search_for_instances(search_filters={"SOPInstanceUID": first}) == []
    remaining = client.search_for_instances(study_instance_uid=study)
    assert sorted(uids("instance", remaining)) == sorted(
        each.SOPInstanceUID for each in datasets[1:3]
    )
    client.delete_series(study, series_b)
    wait_for_operations(server.url, dicom_store)
    assert uids("series", client.search_for_series(study_instance_uid=study)) == [series_a]
    assert client.search_for_instances(search_filters={"SeriesInstanceUID": series_b}) == []
    client.delete_study(study)
    wait_for_operations(server.url, dicom_store)
    assert client.search_for_studies(search_filters={"StudyInstanceUID": study}) == []
    assert client.search_for_series(search_filters={"PatientID": "DEL-1"}) == []
    assert client.search_for_instances(study_instance_uid=study) == []
    # The other study is untouched.
    assert uids("study", client.search_for_studies()) == [datasets[3].StudyInstanceUID]


# -- Full-standard mode (a server of its own) -----------------------------------------------------


@pytest.fixture(scope="module", params=ENGINES)
def standard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Searched]:
    """A ``--qido-mode standard`` server per engine, holding the corpus in one store."""
    database_url = (
        request.getfixturevalue("postgres_database")() if request.param == "postgresql" else None
    )
    data_dir: Path = tmp_path_factory.mktemp(f"qido-standard-{request.param}")
    running = start_server(data_dir, database_url=database_url, extra=("--qido-mode", "standard"))
    try:
        with httpx.Client(base_url=running.url, timeout=30) as client:
            store = _create_store(client)
            searched = Searched(
                running, store, DICOMwebClient(f"{running.url}/v1/{store}/dicomWeb"), client
            )
            stow(searched.root, client)
            yield searched
    finally:
        assert running.stop() == 0


def _create_store(client: httpx.Client) -> str:
    dataset_id = unique_id("ds")
    created = client.post(f"/v1/{LOCATION}/datasets", params={"datasetId": dataset_id}, json={})
    assert created.status_code == 200, created.text
    store = client.post(
        f"/v1/{LOCATION}/datasets/{dataset_id}/dicomStores",
        params={"dicomStoreId": "store"},
        json={},
    )
    assert store.status_code == 200, store.text
    name: str = store.json()["name"]
    return name


@pytest.mark.parametrize(
    ("params", "labels"),
    [
        ({"PatientName": "John*"}, {"john-2020", "john-2021"}),
        ({"PatientName": "jo*"}, {"john-2020", "john-2021"}),
        ({"PatientName": "*zhang"}, {"sally"}),
        ({"PatientName": "M?ller*"}, {"muller"}),
        ({"PatientName": "*"}, {spec.label for spec in SPECS}),
        ({"PatientID": "PID-00?"}, {spec.label for spec in SPECS}),
        ({"PatientID": "PID-0*1"}, {"john-2020", "john-2021"}),
        ({"PatientID": "PID-1?"}, set()),
        ({"AccessionNumber": "ACC-1*"}, {"john-2020", "john-2021"}),
        ({"AccessionNumber": "A*B"}, {"wang"}),
        ({"AccessionNumber": "ACC_1001"}, set()),
        ({"ReferringPhysicianName": "sm*"}, {"john-2020", "john-2021"}),
        ({"ReferringPhysicianName": "Ō*"}, {"muller"}),
        ({"StudyDescription": "*chest*"}, {"john-2020"}),
        ({"StudyDate": "2021*"}, None),  # no wildcard on dates: a 400
    ],
)
def test_standard_wildcards(
    standard: Searched, params: dict[str, str], labels: set[str] | None
) -> None:
    if labels is None:
        assert standard.get("studies", params=params).status_code == 400
        return
    answer = standard.search("studies", params)
    assert set(uids("study", answer)) == labelled(*labels)


def test_standard_wildcards_at_lower_levels(standard: Searched) -> None:
    series = standard.search("series", {"PatientName": "john*", "Modality": "C?"})
    assert set(uids("series", series)) == expected(
        "series", [item for item in CORPUS if item.label == "john-2020" and item.modality == "CT"]
    )
    instances = standard.search("instances", {"SeriesDescription": "MR*"})
    assert set(uids("instance", instances)) == expected(
        "instance", [item for item in CORPUS if item.modality == "MR"]
    )


@pytest.mark.parametrize(
    ("path", "params", "level", "wanted"),
    [
        ("studies", {"StudyTime": "0900-1000"}, "study", lambda item: item.label == "john-2020"),
        ("studies", {"StudyTime": "0930"}, "study", lambda item: item.label == "john-2020"),
        ("series", {"SeriesNumber": "2"}, "series", lambda item: item.dataset.SeriesNumber == 2),
        ("series", {"SeriesDescription": "CT 1"}, "series",
         lambda item: item.dataset.SeriesDescription == "CT 1"),
        ("instances", {"InstanceNumber": "2"}, "instance",
         lambda item: item.dataset.InstanceNumber == 2),
        ("instances", {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7"}, "instance", lambda item: True),
        ("instances", {"PatientName": '""', "emptyvaluematching": "true"}, "instance",
         lambda item: item.label == "empty"),
        ("series", {"PatientID": "PID-001", "Modality": "MR"}, "series",
         lambda item: item.label == "john-2021"),
    ],
)  # fmt: skip
def test_standard_other_keys(
    standard: Searched,
    path: str,
    params: dict[str, str],
    level: str,
    wanted: Callable[[Stored], bool],
) -> None:
    answer = standard.search(path, params)
    assert sorted(uids(level, answer)) == sorted(
        expected(level, [item for item in CORPUS if wanted(item)])
    )


@pytest.mark.parametrize("separator", [",", "\\"])
def test_standard_uid_lists(standard: Searched, separator: str) -> None:
    pair = [BY_LABEL["sally"], BY_LABEL["wang"]]
    for level, key in (("study", "StudyInstanceUID"), ("series", "SeriesInstanceUID"),
                       ("instance", "SOPInstanceUID")):  # fmt: skip
        values = separator.join(item.uid(level) for item in pair)
        path = {"study": "studies", "series": "series", "instance": "instances"}[level]
        answer = standard.search(path, {key: values})
        assert set(uids(level, answer)) == {item.uid(level) for item in pair}, level
    by_client = standard.client.search_for_studies(
        search_filters={"StudyInstanceUID": [item.study for item in pair]}
    )
    assert set(uids("study", by_client)) == labelled("sally", "wang")


def test_standard_modalities_in_study(standard: Searched) -> None:
    ct = standard.search("studies", {"ModalitiesInStudy": "CT"})
    assert set(uids("study", ct)) == labelled("john-2020", "sally")
    mr_us = standard.search("studies", {"ModalitiesInStudy": "MR,US"})
    assert set(uids("study", mr_us)) == labelled("john-2021", "muller", "sally")
    by_label = {answer[STUDY_UID]["Value"][0]: answer for answer in standard.search("studies")}
    for spec in SPECS:
        answer = by_label[BY_LABEL[spec.label].study]
        modalities = sorted({modality for modality, _ in spec.series})
        assert answer[tag("ModalitiesInStudy")] == {"vr": "CS", "Value": modalities}
    series = standard.search("series", {"Modality": "CT\\PR"})
    assert set(uids("series", series)) == expected(
        "series", [item for item in CORPUS if item.modality in ("CT", "PR")]
    )


def test_standard_related_counts(standard: Searched) -> None:
    for answer in standard.search("studies"):
        study = answer[STUDY_UID]["Value"][0]
        items = [item for item in CORPUS if item.study == study]
        assert value_of(answer, "NumberOfStudyRelatedSeries") == [len(expected("series", items))]
        assert value_of(answer, "NumberOfStudyRelatedInstances") == [len(items)]
    for answer in standard.search("series"):
        series = answer[SERIES_UID]["Value"][0]
        count = len([item for item in CORPUS if item.series == series])
        assert value_of(answer, "NumberOfSeriesRelatedInstances") == [count]
    item = BY_LABEL["john-2020"]
    (counted,) = standard.search(f"studies/{item.study}/series", {"SeriesInstanceUID": item.series})
    assert value_of(counted, "NumberOfSeriesRelatedInstances") == [2]
    assert value_of(counted, "SeriesNumber") == [1]


@pytest.mark.parametrize(
    ("path", "level"), [("studies", "study"), ("series", "series"), ("instances", "instance")]
)
def test_standard_retrieve_urls(standard: Searched, path: str, level: str) -> None:
    answers = standard.search(path, {"PatientID": "PID-001"})
    assert answers
    for answer in answers:
        url = answer[RETRIEVE_URL]["Value"][0]
        assert answer[RETRIEVE_URL]["vr"] == "UR"
        uid = answer[LEVEL_UID[level]]["Value"][0]
        assert url.startswith(f"{standard.root}/studies/")
        assert url.endswith(uid)
        response = standard.http.get(url, headers={"accept": ANY_PART10})
        assert response.status_code == 200
        parts = RawResponse(200, dict(response.headers), response.content).parts()
        count = len([item for item in CORPUS if item.uid(level) == uid])
        assert len(parts) == count


OHIF_STUDY_LIST = {"limit": "101", "offset": "0", "fuzzymatching": "false",
                   "includefield": "00081030,00080060"}  # fmt: skip


def test_ohif_study_list(standard: Searched) -> None:
    answers = standard.search("studies", OHIF_STUDY_LIST)
    assert len(answers) == STUDY_COUNT
    for answer in answers:
        study = answer[STUDY_UID]["Value"][0]
        spec = next(spec for spec in SPECS if BY_LABEL[spec.label].study == study)
        assert value_of(answer, "StudyDescription") == (
            [spec.attributes["StudyDescription"]] if "StudyDescription" in spec.attributes else None
        )
        for keyword in ("ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                        "NumberOfStudyRelatedInstances", "RetrieveURL", "PatientName",
                        "StudyDate", "AccessionNumber", "PatientID"):  # fmt: skip
            assert tag(keyword) in answer, keyword


@pytest.mark.parametrize(
    ("params", "labels"),
    [
        ({"PatientName": "*Doe*"}, {"john-2020", "john-2021"}),
        ({"PatientName": "*doe*"}, {"john-2020", "john-2021"}),
        ({"PatientID": "*003*"}, {"muller"}),
        ({"AccessionNumber": "*2001*"}, {"sally"}),
        ({"StudyDate": "20200101-20211231"}, {"john-2020", "john-2021", "sally"}),
        ({"StudyDate": "20210101-"}, {"john-2021", "sally", "muller", "yamada"}),
        ({"ModalitiesInStudy": "MR"}, {"john-2021", "muller"}),
        ({"StudyDescription": "*head*"}, {"john-2021"}),
        ({"PatientName": "*Doe*", "StudyDate": "20210101-20211231"}, {"john-2021"}),
    ],
)
def test_ohif_filters(standard: Searched, params: dict[str, str], labels: set[str]) -> None:
    answer = standard.search("studies", {**OHIF_STUDY_LIST, **params})
    assert set(uids("study", answer)) == labelled(*labels)


def test_ohif_series_and_instances_of_a_study(standard: Searched) -> None:
    item = BY_LABEL["john-2020"]
    series = standard.client.search_for_series(study_instance_uid=item.study)
    assert len(series) == 2
    for answer in series:
        for keyword in ("SeriesNumber", "Modality", "SeriesInstanceUID",
                        "NumberOfSeriesRelatedInstances", "RetrieveURL"):  # fmt: skip
            assert tag(keyword) in answer, keyword
    instances = standard.client.search_for_instances(item.study, item.series)
    assert sorted(value_of(each, "InstanceNumber") or [] for each in instances) == [[1], [2]]


@pytest.mark.parametrize("name", ["PatientAge", "00101010"])
def test_standard_warning_for_ignored_keys(standard: Searched, name: str) -> None:
    response = standard.get("studies", params={name: "030Y", "PatientID": "PID-002"})
    assert response.status_code == 200
    warning = response.headers["warning"]
    assert warning.startswith("299 ")
    assert name in warning
    assert set(uids("study", response.json())) == labelled("sally")
    plain = standard.get("studies", params={"PatientID": "PID-002"})
    assert "warning" not in plain.headers


def test_standard_empty_value_matching(standard: Searched) -> None:
    answer = standard.search("studies", {"AccessionNumber": '""', "emptyvaluematching": "true"})
    assert set(uids("study", answer)) == labelled("empty")


def test_standard_mode_rejects_bad_queries(standard: Searched) -> None:
    for params in ({"limit": "-1"}, {"NotAnAttribute": "x"}, {"StudyInstanceUID": "1.2.x"}):
        response = standard.get("studies", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_standard_counts_drop_after_deletes(standard: Searched) -> None:
    store = _create_store(standard.http)
    root = f"{standard.server.url}/v1/{store}/dicomWeb"
    client = DICOMwebClient(root)
    study, series_a, series_b, datasets = _small_study()
    _stow(root, datasets)

    def study_counts() -> list[Any]:
        (answer,) = client.search_for_studies(search_filters={"StudyInstanceUID": study})
        return [value_of(answer, "NumberOfStudyRelatedSeries"),
                value_of(answer, "NumberOfStudyRelatedInstances"),
                value_of(answer, "ModalitiesInStudy")]  # fmt: skip

    def series_count(series: str) -> list[Any] | None:
        (answer,) = client.search_for_series(study, search_filters={"SeriesInstanceUID": series})
        return value_of(answer, "NumberOfSeriesRelatedInstances")

    assert study_counts() == [[2], [3], ["CT", "SR"]]
    assert series_count(series_a) == [2]
    client.delete_instance(study, series_a, datasets[0].SOPInstanceUID)
    assert study_counts() == [[2], [2], ["CT", "SR"]]
    assert series_count(series_a) == [1]
    client.delete_series(study, series_b)
    wait_for_operations(standard.server.url, store)
    assert study_counts() == [[1], [1], ["CT"]]
    assert client.search_for_studies(search_filters={"ModalitiesInStudy": "SR"}) == []
    client.delete_study(study)
    wait_for_operations(standard.server.url, store)
    assert client.search_for_studies(search_filters={"StudyInstanceUID": study}) == []
    assert uids("study", client.search_for_studies()) == [datasets[3].StudyInstanceUID]
    # Stored again, the study is found again with its counts rebuilt.
    _stow(root, datasets[:3])
    assert study_counts() == [[2], [3], ["CT", "SR"]]
    assert series_count(series_a) == [2]
