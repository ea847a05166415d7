"""The attributes QIDO-RS searches on and answers with, per level, and their ingest-time values.

What Google's DICOMweb service searches and returns is ``shared/spec/dicomweb-conformance.md``
§3 (the *Google* lists); the *standard* lists are DICOM PS3.18 §10.6 (Table 10.6.1-5 required
matching attributes, Tables 10.6.3-3/-4/-5 return attributes) and PS3.4 C.6.1.1 (the study, series
and instance level keys of the Study Root information model).

Attributes are named by their DICOM JSON key (PS3.18 F.2.1.1): eight upper-case hexadecimal
digits, ``"0010"`` group then element, e.g. ``"00100010"`` for Patient's Name. A key inside a
sequence item is a dotted path of such tags (``"00400275.00400009"``), as PS3.18 §8.3.4.1
writes attributes in query parameters.

At ingest, :func:`study_columns` / :func:`series_columns` turn an instance's DICOM JSON into the
values of the index's search columns, normalised so that a plain SQL comparison implements the
PS3.4 C.2.2.2 matching rules (the query side normalises its values the same way, see
:mod:`dicomstore.dicom.qido`), and :func:`study_attributes` / :func:`series_attributes` keep the
DICOM JSON subset that study and series answers are made of.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pydicom.datadict import dictionary_VR, get_entry, keyword_for_tag, tag_for_keyword

__all__ = [
    "COMPUTED_ATTRIBUTES",
    "GOOGLE_INSTANCE_DEFAULTS",
    "GOOGLE_SEARCH_KEYS",
    "GOOGLE_SERIES_ALL_ADDITIONS",
    "GOOGLE_SERIES_DEFAULTS",
    "GOOGLE_STUDY_ALL_ADDITIONS",
    "GOOGLE_STUDY_DEFAULTS",
    "INSTANCE_AVAILABILITY",
    "MODALITIES_IN_STUDY",
    "NUMBER_OF_SERIES_RELATED_INSTANCES",
    "NUMBER_OF_STUDY_RELATED_INSTANCES",
    "NUMBER_OF_STUDY_RELATED_SERIES",
    "SEARCH_KEYS",
    "SERIES_COLUMNS",
    "SERIES_INSTANCE_UID",
    "SERIES_LEVEL_ATTRIBUTES",
    "SOP_INSTANCE_UID",
    "STANDARD_INSTANCE_DEFAULTS",
    "STANDARD_SEARCH_KEYS",
    "STANDARD_SERIES_DEFAULTS",
    "STANDARD_STUDY_DEFAULTS",
    "STUDY_COLUMNS",
    "STUDY_INSTANCE_UID",
    "STUDY_LEVEL_ATTRIBUTES",
    "UNSUPPORTED_INCLUDEFIELDS",
    "IndexColumn",
    "Level",
    "MatchKind",
    "SearchKey",
    "attribute_level",
    "dictionary_vr",
    "empty_element",
    "instance_availability",
    "keyword_for",
    "normalise_date",
    "normalise_person_name",
    "normalise_text",
    "normalise_time",
    "person_name_tokens",
    "series_attributes",
    "series_columns",
    "study_attributes",
    "study_columns",
    "tag_for",
    "time_upper_bound",
]


class Level(StrEnum):
    """A level of the DICOM information model that QIDO-RS searches (PS3.18 §10.6.1)."""

    STUDY = "study"
    SERIES = "series"
    INSTANCE = "instance"

    @property
    def depth(self) -> int:
        """0 for study, 1 for series, 2 for instance: a level answers for itself and above."""
        return _DEPTH[self]


_DEPTH: Final = {Level.STUDY: 0, Level.SERIES: 1, Level.INSTANCE: 2}


# --- Names: keywords, tags, VRs (PS3.6 Table 6-1 through pydicom's data dictionary) ----------

_HEX_TAG = re.compile(r"[0-9A-Fa-f]{8}")


def _in_dictionary(tag: int) -> bool:
    try:
        get_entry(tag)  # knows repeating groups such as (60xx,3000) too
    except KeyError:
        return False
    return True


def tag_for(name: str, *, dictionary_only: bool = True) -> str | None:
    """The JSON key of the attribute ``name`` (a PS3.6 keyword or eight hex digits), or None.

    Keywords are case-sensitive as in PS3.6. Hexadecimal tags are accepted in either case; with
    ``dictionary_only`` they must name a data dictionary attribute (not a private one).
    """
    if not name:
        return None
    if _HEX_TAG.fullmatch(name):
        if dictionary_only and not _in_dictionary(int(name, 16)):
            return None
        return name.upper()
    tag = tag_for_keyword(name)
    return None if tag is None else f"{tag:08X}"


def keyword_for(tag: str) -> str:
    """The PS3.6 keyword of ``tag`` (a JSON key or dotted path), or the tag itself if unknown."""
    keywords = []
    for part in tag.split("."):
        keyword = keyword_for_tag(int(part, 16)) if _HEX_TAG.fullmatch(part) else ""
        keywords.append(keyword or part)
    return ".".join(keywords)


def dictionary_vr(tag: str) -> str | None:
    """The dictionary VR of ``tag`` for an empty element, or None for unknown (private) tags.

    An ambiguous dictionary VR (PS3.6 "US or SS", "OB or OW") becomes OW when that is one of
    the choices, as for implicit VR data (PS3.5 §A.1), else the first choice.
    """
    try:
        vr = str(dictionary_VR(int(tag, 16)))
    except KeyError:
        return None
    choices = vr.split(" or ")
    return "OW" if "OW" in choices else choices[0]


def empty_element(tag: str) -> dict[str, Any] | None:
    """A present-but-empty DICOM JSON element (PS3.18 F.2.5: no ``Value``), or None if unknown."""
    vr = dictionary_vr(tag)
    return None if vr is None else {"vr": vr}


def _tags(*keywords: str) -> tuple[str, ...]:
    tags = []
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is None:  # a typo here is a programming error, found at import
            raise ValueError(f"not a PS3.6 keyword: {keyword}")
        tags.append(f"{tag:08X}")
    return tuple(tags)


def _tag(keyword: str) -> str:
    (tag,) = _tags(keyword)
    return tag


STUDY_INSTANCE_UID: Final = _tag("StudyInstanceUID")
SERIES_INSTANCE_UID: Final = _tag("SeriesInstanceUID")
SOP_INSTANCE_UID: Final = _tag("SOPInstanceUID")
MODALITIES_IN_STUDY: Final = _tag("ModalitiesInStudy")
INSTANCE_AVAILABILITY: Final = _tag("InstanceAvailability")
NUMBER_OF_STUDY_RELATED_SERIES: Final = _tag("NumberOfStudyRelatedSeries")
NUMBER_OF_STUDY_RELATED_INSTANCES: Final = _tag("NumberOfStudyRelatedInstances")
NUMBER_OF_SERIES_RELATED_INSTANCES: Final = _tag("NumberOfSeriesRelatedInstances")

COMPUTED_ATTRIBUTES: Final = {
    MODALITIES_IN_STUDY: Level.STUDY,
    NUMBER_OF_STUDY_RELATED_SERIES: Level.STUDY,
    NUMBER_OF_STUDY_RELATED_INSTANCES: Level.STUDY,
    NUMBER_OF_SERIES_RELATED_INSTANCES: Level.SERIES,
    INSTANCE_AVAILABILITY: Level.INSTANCE,
}
"""QIDO-only attributes (PS3.4 Table C.3-1, C.4.23) computed by the index, with their level."""

UNSUPPORTED_INCLUDEFIELDS: Final = frozenset(_tags("AvailableTransferSyntaxUID"))
"""Refused as ``includefield`` in Google mode (spec §6: observed 400); ignored in standard mode."""


# --- Return attributes ------------------------------------------------------------------------

GOOGLE_STUDY_DEFAULTS: Final = _tags(
    "SpecificCharacterSet",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "InstanceAvailability",
    "ReferringPhysicianName",
    "TimezoneOffsetFromUTC",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyID",
)
"""Google's default study attributes, present even when empty (spec §3.4)."""

GOOGLE_SERIES_DEFAULTS: Final = _tags(
    "SpecificCharacterSet",
    "Modality",
    "TimezoneOffsetFromUTC",
    "SeriesDescription",
    "SeriesInstanceUID",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "RequestAttributesSequence",
)
"""Google's default series attributes (spec §3.4)."""

GOOGLE_INSTANCE_DEFAULTS: Final = _tags(
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceAvailability",
    "TimezoneOffsetFromUTC",
    "InstanceNumber",
    "Rows",
    "Columns",
    "BitsAllocated",
    "NumberOfFrames",
)
"""Google's default instance attributes (spec §3.4)."""

GOOGLE_STUDY_ALL_ADDITIONS: Final = _tags(
    "PersonIdentificationCodeSequence",
    "PersonAddress",
    "PersonTelephoneNumbers",
    "PersonTelecomInformation",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionCodeSequence",
    "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianName",
    "ConsultingPhysicianIdentificationSequence",
    "IssuerOfAccessionNumberSequence",
    "LocalNamespaceEntityID",
    "UniversalEntityID",
    "UniversalEntityIDType",
    "StudyDescription",
    "PhysiciansOfRecord",
    "PhysiciansOfRecordIdentificationSequence",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansReadingStudyIdentificationSequence",
    "RequestingServiceCodeSequence",
    "ReferencedStudySequence",
    "ProcedureCodeSequence",
    "ReasonForPerformedProcedureCodeSequence",
)
"""What Google's ``includefield=all`` adds to study answers (spec §3.4)."""

GOOGLE_SERIES_ALL_ADDITIONS: Final = _tags("SeriesNumber", "Laterality", "SeriesDate", "SeriesTime")
"""What Google's ``includefield=all`` adds to series answers (spec §3.4)."""

STANDARD_STUDY_DEFAULTS: Final = _tags(
    "SpecificCharacterSet",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "InstanceAvailability",
    "ModalitiesInStudy",
    "ReferringPhysicianName",
    "TimezoneOffsetFromUTC",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyID",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
"""PS3.18 Table 10.6.3-3 (Retrieve URL (0008,1190) needs the request's base URL: the service's)."""

STANDARD_SERIES_DEFAULTS: Final = _tags(
    "SpecificCharacterSet",
    "Modality",
    "TimezoneOffsetFromUTC",
    "SeriesDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "NumberOfSeriesRelatedInstances",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "RequestAttributesSequence",
)
"""PS3.18 Table 10.6.3-4, without Retrieve URL."""

STANDARD_INSTANCE_DEFAULTS: Final = GOOGLE_INSTANCE_DEFAULTS
"""PS3.18 Table 10.6.3-5, without Retrieve URL: the same as Google's."""

STUDY_LEVEL_ATTRIBUTES: Final = frozenset(
    GOOGLE_STUDY_DEFAULTS
    + GOOGLE_STUDY_ALL_ADDITIONS
    + _tags(
        # Patient level optional keys (PS3.4 C.6.1.1.2; Patient module, PS3.3 C.7.1.1)
        "IssuerOfPatientID",
        "IssuerOfPatientIDQualifiersSequence",
        "TypeOfPatientID",
        "PatientBirthTime",
        "OtherPatientIDsSequence",
        "OtherPatientNames",
        "PatientBirthName",
        "PatientMotherBirthName",
        "EthnicGroup",
        "PatientComments",
        "PatientSpeciesDescription",
        "PatientSpeciesCodeSequence",
        "PatientBreedDescription",
        "PatientBreedCodeSequence",
        "BreedRegistrationSequence",
        "StrainDescription",
        "StrainNomenclature",
        "ResponsiblePerson",
        "ResponsiblePersonRole",
        "ResponsibleOrganization",
        "PatientIdentityRemoved",
        "DeidentificationMethod",
        "DeidentificationMethodCodeSequence",
        "QualityControlSubject",
        "ReferencedPatientSequence",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "PatientTelecomInformation",
        "MilitaryRank",
        "BranchOfService",
        "CountryOfResidence",
        "RegionOfResidence",
        "PatientReligiousPreference",
        # Study level optional keys (PS3.4 C.6.1.1.3; Patient Study module, PS3.3 C.7.2.2)
        "AdmittingDiagnosesDescription",
        "AdmittingDiagnosesCodeSequence",
        "PatientAge",
        "PatientSize",
        "PatientWeight",
        "PatientBodyMassIndex",
        "PatientSexNeutered",
        "Occupation",
        "AdditionalPatientHistory",
        "MedicalAlerts",
        "Allergies",
        "PregnancyStatus",
        "SmokingStatus",
        "LastMenstrualDate",
        "PatientState",
        "AdmissionID",
        "IssuerOfAdmissionIDSequence",
        "ServiceEpisodeID",
        "ServiceEpisodeDescription",
        "ReasonForVisit",
        "ReasonForVisitCodeSequence",
    )
)
"""Patient and study attributes kept on the study row (:func:`study_attributes`)."""

SERIES_LEVEL_ATTRIBUTES: Final = frozenset(
    GOOGLE_SERIES_DEFAULTS
    + GOOGLE_SERIES_ALL_ADDITIONS
    + _tags(
        # General Series (PS3.3 C.7.3.1), Frame of Reference and General Equipment IEs
        "PerformingPhysicianName",
        "PerformingPhysicianIdentificationSequence",
        "ProtocolName",
        "SeriesDescriptionCodeSequence",
        "OperatorsName",
        "OperatorIdentificationSequence",
        "ReferencedPerformedProcedureStepSequence",
        "RelatedSeriesSequence",
        "BodyPartExamined",
        "PatientPosition",
        "AnatomicalOrientationType",
        "PerformedProcedureStepID",
        "PerformedProcedureStepEndDate",
        "PerformedProcedureStepEndTime",
        "PerformedProcedureStepDescription",
        "PerformedProtocolCodeSequence",
        "CommentsOnThePerformedProcedureStep",
        "FrameOfReferenceUID",
        "Manufacturer",
        "ManufacturerModelName",
        "StationName",
        "InstitutionalDepartmentName",
        "DeviceSerialNumber",
        "SoftwareVersions",
    )
)
"""Series attributes kept on the series row (:func:`series_attributes`)."""


def attribute_level(tag: str) -> Level:
    """The level whose row answers for ``tag``: study, series, or else the instance itself.

    Specific Character Set and Timezone Offset From UTC belong to every level; asked for
    explicitly they come from the study.
    """
    computed = COMPUTED_ATTRIBUTES.get(tag)
    if computed is not None:
        return computed
    if tag in STUDY_LEVEL_ATTRIBUTES:
        return Level.STUDY
    if tag in SERIES_LEVEL_ATTRIBUTES:
        return Level.SERIES
    return Level.INSTANCE


def instance_availability(storage_class: str) -> str:
    """Instance Availability (0008,0056) of an instance in a Google storage class.

    STANDARD storage is immediately available (ONLINE); NEARLINE, COLDLINE and ARCHIVE objects
    are retrievable with a delay and cost (NEARLINE), PS3.3 C.4.23.1.1.
    """
    return "ONLINE" if storage_class == "STANDARD" else "NEARLINE"


# --- Normalised values (stored in search columns and compared with normalised query values) --

_DATE = re.compile(r"(\d{4})\.?(\d{2})\.?(\d{2})")
_TIME = re.compile(r"(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?")


def normalise_text(value: str) -> str | None:
    """A string value without its insignificant leading and trailing spaces (PS3.5 §6.2), or None
    when nothing is left."""
    stripped = value.strip(" \x00")
    return stripped or None


def normalise_person_name(value: str) -> str | None:
    """The matching form of a Person Name (PN): its alphabetic group, each component stripped,
    trailing empty components dropped (PS3.5 §6.2.1), case-folded.

    Case-insensitive matching of PN is what PS3.4 C.2.2.2.1 and C.2.2.2.4 allow; dicomstore
    applies it to single value and wildcard matching alike, in both modes.
    """
    alphabetic = value.split("=", 1)[0]
    components = [component.strip() for component in alphabetic.split("^")]
    while components and not components[-1]:
        components.pop()
    return "^".join(components).casefold() or None


def person_name_tokens(value: str) -> str | None:
    """The fuzzy matching form of a Person Name: its words (every component group; ``^``, ``=``
    and spaces separate), case-folded, each preceded and followed by one space (`` john doe ``).

    A query token then matches the start of a stored word as ``LIKE '% token%'`` (spec §3.3).
    """
    tokens = [token for token in re.split(r"[\s^=]+", value.casefold()) if token]
    return f" {' '.join(tokens)} " if tokens else None


def normalise_date(value: str) -> str | None:
    """A DA value as ``YYYYMMDD`` (ACR-NEMA ``YYYY.MM.DD`` accepted), or None if malformed."""
    match = _DATE.fullmatch(value.strip())
    return "".join(match.groups()) if match else None


def _time_parts(value: str) -> tuple[str, str | None, str | None, str | None] | None:
    match = _TIME.fullmatch(value.strip())
    if match is None:
        return None
    hours, minutes, seconds, fraction = match.groups()
    return hours, minutes, seconds, fraction


def normalise_time(value: str) -> str | None:
    """A TM value as ``HHMMSS.FFFFFF``, truncated parts taken as zero (the start of the period
    the value names), ACR-NEMA colons accepted; None if malformed.

    Fixed-width strings compare in time order, so range matching is string comparison.
    """
    parts = _time_parts(value)
    if parts is None:
        return None
    hours, minutes, seconds, fraction = parts
    return f"{hours}{minutes or '00'}{seconds or '00'}.{(fraction or '').ljust(6, '0')}"


def time_upper_bound(value: str) -> str | None:
    """The last moment of the period a (possibly truncated) TM value names, as ``HHMMSS.FFFFFF``:
    ``13`` → ``135959.999999``, ``1230`` → ``123059.999999``; None if malformed."""
    parts = _time_parts(value)
    if parts is None:
        return None
    hours, minutes, seconds, fraction = parts
    return f"{hours}{minutes or '59'}{seconds or '59'}.{(fraction or '').ljust(6, '9')}"


# --- Reading DICOM JSON ---------------------------------------------------------------------


def _first_value(instance_json: Mapping[str, Any], path: str) -> Any:
    """The first value of the element at ``path``; inside sequences, the first item's."""
    document: Mapping[str, Any] | None = instance_json
    *sequences, tag = path.split(".")
    for sequence in sequences:
        items = (document or {}).get(sequence, {}).get("Value") or [None]
        document = items[0] if isinstance(items[0], Mapping) else None
    element = (document or {}).get(tag)
    if not isinstance(element, Mapping):
        return None
    values = element.get("Value")
    return values[0] if isinstance(values, list) and values else None


def _person_name_string(value: Any) -> str | None:
    """A DICOM JSON PN value (PS3.18 F.2.2) as the ``Alphabetic=Ideographic=Phonetic`` string."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return None
    groups = [value.get(group) or "" for group in ("Alphabetic", "Ideographic", "Phonetic")]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups) or None


def _string(value: Any) -> str | None:
    return normalise_text(value) if isinstance(value, str) else None


def _person_name(value: Any) -> str | None:
    text = _person_name_string(value)
    return normalise_person_name(text) if text else None


def _person_name_search(value: Any) -> str | None:
    text = _person_name_string(value)
    return person_name_tokens(text) if text else None


def _date(value: Any) -> str | None:
    return normalise_date(value) if isinstance(value, str) else None


def _time(value: Any) -> str | None:
    return normalise_time(value) if isinstance(value, str) else None


_INT32 = range(-(2**31), 2**31)


def _integer(value: Any) -> int | None:
    """An IS value as an integer column can hold it (pydicom writes IS as a JSON number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    return value if isinstance(value, int) and value in _INT32 else None


# --- Search keys and the index columns that hold them --------------------------------------


class MatchKind(StrEnum):
    """How a search key's values are compared (PS3.4 C.2.2.2), chosen by its VR."""

    UID = "uid"  # UI: single value, UID list
    TEXT = "text"  # AE, CS, LO, SH: single value, wildcard (case-sensitive)
    PERSON_NAME = "person_name"  # PN: single value, wildcard (case-insensitive), fuzzy
    DATE = "date"  # DA: single value, range
    TIME = "time"  # TM: single value, range
    NUMBER = "number"  # IS: single value


@dataclass(frozen=True, slots=True)
class IndexColumn:
    """A search column of the ``studies`` or ``series`` table and where its value comes from.

    ``length`` is the column's declared length (None for integers): longer values, which only
    invalid data has, are cut to fit so that ingest never fails on them (spec §3.2: such
    instances "may not be findable").
    """

    name: str
    path: str
    read: Callable[[Any], str | int | None]
    length: int | None

    def value(self, instance_json: Mapping[str, Any]) -> str | int | None:
        value = self.read(_first_value(instance_json, self.path))
        if isinstance(value, str) and self.length is not None:
            return value[: self.length]
        return value


def _column(
    name: str, keyword: str, read: Callable[[Any], str | int | None], length: int | None
) -> IndexColumn:
    path = ".".join(_tags(*keyword.split(".")))
    return IndexColumn(name, path, read, length)


STUDY_COLUMNS: Final = (
    _column("patient_name", "PatientName", _person_name, 324),
    _column("patient_name_search", "PatientName", _person_name_search, 1024),
    _column("patient_id", "PatientID", _string, 64),
    _column("accession_number", "AccessionNumber", _string, 64),
    _column("referring_physician_name", "ReferringPhysicianName", _person_name, 324),
    _column("referring_physician_name_search", "ReferringPhysicianName", _person_name_search, 1024),
    _column("study_date", "StudyDate", _date, 8),
    _column("study_time", "StudyTime", _time, 16),
    _column("study_id", "StudyID", _string, 16),
    _column("study_description", "StudyDescription", _string, 64),
)
"""The search columns of ``studies`` (besides ``study_instance_uid``), filled at ingest."""

SERIES_COLUMNS: Final = (
    _column("modality", "Modality", _string, 16),
    _column("series_number", "SeriesNumber", _integer, None),
    _column("series_description", "SeriesDescription", _string, 64),
    _column("performed_procedure_step_start_date", "PerformedProcedureStepStartDate", _date, 8),
    _column("performed_procedure_step_start_time", "PerformedProcedureStepStartTime", _time, 16),
    # Sequence matching (PS3.4 C.2.2.2.6) on the first item only: see SearchKey.
    _column(
        "scheduled_procedure_step_id",
        "RequestAttributesSequence.ScheduledProcedureStepID",
        _string,
        64,
    ),
    _column(
        "requested_procedure_id", "RequestAttributesSequence.RequestedProcedureID", _string, 64
    ),
)
"""The search columns of ``series`` (besides ``series_instance_uid``), filled at ingest."""


@dataclass(frozen=True, slots=True)
class SearchKey:
    """An attribute QIDO-RS can match on.

    ``level`` is where the attribute belongs: it may be used in searches at that level and
    below (PS3.18 §10.6.1: study keys in series and instance searches, …). ``table`` and
    ``column`` name the index column compared; ``fuzzy_column`` the token column for
    ``fuzzymatching`` (PN only). Modalities in Study lives in the ``series`` table: a study
    matches when any of its series does (PS3.4 C.6.1.1.3, multiple values).
    Keys inside sequences match the first item only (PS3.4 C.2.2.2.6 asks for any item; studies
    in practice carry one Request Attributes item per series).
    """

    path: str
    keyword: str
    level: Level
    kind: MatchKind
    table: Level
    column: str
    fuzzy_column: str | None = None

    @property
    def tag(self) -> str:
        """The top-level attribute: the key itself, or the sequence that holds it."""
        return self.path.split(".", 1)[0]


def _key(
    keyword: str,
    level: Level,
    kind: MatchKind,
    column: str,
    *,
    table: Level | None = None,
    fuzzy_column: str | None = None,
) -> SearchKey:
    path = ".".join(_tags(*keyword.split(".")))
    return SearchKey(path, keyword, level, kind, table or level, column, fuzzy_column)


_STUDY, _SERIES, _INSTANCE = Level.STUDY, Level.SERIES, Level.INSTANCE
_ALL_KEYS = (
    _key("StudyInstanceUID", _STUDY, MatchKind.UID, "study_instance_uid"),
    _key(
        "PatientName",
        _STUDY,
        MatchKind.PERSON_NAME,
        "patient_name",
        fuzzy_column="patient_name_search",
    ),
    _key("PatientID", _STUDY, MatchKind.TEXT, "patient_id"),
    _key("AccessionNumber", _STUDY, MatchKind.TEXT, "accession_number"),
    _key(
        "ReferringPhysicianName",
        _STUDY,
        MatchKind.PERSON_NAME,
        "referring_physician_name",
        fuzzy_column="referring_physician_name_search",
    ),
    _key("StudyDate", _STUDY, MatchKind.DATE, "study_date"),
    _key("StudyTime", _STUDY, MatchKind.TIME, "study_time"),
    _key("StudyID", _STUDY, MatchKind.TEXT, "study_id"),
    _key("StudyDescription", _STUDY, MatchKind.TEXT, "study_description"),
    _key("ModalitiesInStudy", _STUDY, MatchKind.TEXT, "modality", table=_SERIES),
    _key("SeriesInstanceUID", _SERIES, MatchKind.UID, "series_instance_uid"),
    _key("Modality", _SERIES, MatchKind.TEXT, "modality"),
    _key("SeriesNumber", _SERIES, MatchKind.NUMBER, "series_number"),
    _key("SeriesDescription", _SERIES, MatchKind.TEXT, "series_description"),
    _key(
        "PerformedProcedureStepStartDate",
        _SERIES,
        MatchKind.DATE,
        "performed_procedure_step_start_date",
    ),
    _key(
        "PerformedProcedureStepStartTime",
        _SERIES,
        MatchKind.TIME,
        "performed_procedure_step_start_time",
    ),
    _key(
        "RequestAttributesSequence.ScheduledProcedureStepID",
        _SERIES,
        MatchKind.TEXT,
        "scheduled_procedure_step_id",
    ),
    _key(
        "RequestAttributesSequence.RequestedProcedureID",
        _SERIES,
        MatchKind.TEXT,
        "requested_procedure_id",
    ),
    _key("SOPInstanceUID", _INSTANCE, MatchKind.UID, "sop_instance_uid"),
    _key("SOPClassUID", _INSTANCE, MatchKind.UID, "sop_class_uid"),
    _key("InstanceNumber", _INSTANCE, MatchKind.NUMBER, "instance_number"),
)

SEARCH_KEYS: Final[Mapping[str, SearchKey]] = {key.path: key for key in _ALL_KEYS}
"""Every key either mode can match on, by path."""

GOOGLE_SEARCH_KEYS: Final = frozenset(
    _tags(
        "StudyInstanceUID",
        "PatientName",
        "PatientID",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyDate",
        "SeriesInstanceUID",
        "Modality",
        "SOPInstanceUID",
    )
)
"""Google's searchable attributes (spec §3.2)."""

STANDARD_SEARCH_KEYS: Final = frozenset(SEARCH_KEYS)
"""PS3.18 Table 10.6.1-5's required matching attributes, plus Study and Series Description."""


# --- Ingest ---------------------------------------------------------------------------------


def _columns(columns: Iterable[IndexColumn], instance_json: Mapping[str, Any]) -> dict[str, Any]:
    return {column.name: column.value(instance_json) for column in columns}


def _subset(instance_json: Mapping[str, Any], tags: frozenset[str]) -> dict[str, Any]:
    return {tag: element for tag, element in instance_json.items() if tag in tags}


def study_columns(instance_json: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the ``studies`` search columns (:data:`STUDY_COLUMNS`) from an instance's DICOM
    JSON (PS3.18 F.2), for ``NewInstance.study_columns``."""
    return _columns(STUDY_COLUMNS, instance_json)


def series_columns(instance_json: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the ``series`` search columns (:data:`SERIES_COLUMNS`), for
    ``NewInstance.series_columns``."""
    return _columns(SERIES_COLUMNS, instance_json)


def study_attributes(instance_json: Mapping[str, Any]) -> dict[str, Any]:
    """The instance's patient and study attributes (:data:`STUDY_LEVEL_ATTRIBUTES`) as DICOM JSON,
    for ``NewInstance.study_attributes``: what study answers are made of."""
    return _subset(instance_json, STUDY_LEVEL_ATTRIBUTES)


def series_attributes(instance_json: Mapping[str, Any]) -> dict[str, Any]:
    """The instance's series attributes (:data:`SERIES_LEVEL_ATTRIBUTES`) as DICOM JSON, for
    ``NewInstance.series_attributes``."""
    return _subset(instance_json, SERIES_LEVEL_ATTRIBUTES)
