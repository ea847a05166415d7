"""A synthetic multi-study corpus for QIDO-RS tests, written as pydicom would give its DICOM JSON.

Several patients (names with ``^``, spaces, other cases, ideographic groups, none), dates and
times (some truncated, some missing), modalities (two series of one study share one, one series
has none), accession numbers with LIKE's special characters, a Request Attributes Sequence, a
multi-frame instance, and a second store that searches must never see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from dicomstore.dicom.attributes import (
    series_attributes,
    series_columns,
    study_attributes,
    study_columns,
)
from dicomstore.index.instances import NewInstance

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
SR = "1.2.840.10008.5.1.4.1.1.88.22"
US = "1.2.840.10008.5.1.4.1.1.6.1"
SC = "1.2.840.10008.5.1.4.1.1.7"
PR = "1.2.840.10008.5.1.4.1.1.11.1"
EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"


@dataclass(frozen=True)
class Study:
    uid: str
    patient_name: str | None
    patient_id: str | None
    accession: str | None
    date: str | None
    time: str | None
    referring: str | None
    description: str | None
    birth_date: str | None = None
    sex: str | None = None
    study_id: str | None = None


@dataclass(frozen=True)
class Series:
    uid: str
    study: Study
    modality: str | None
    number: int | None
    description: str | None
    pps_date: str | None = None
    pps_time: str | None = None
    request: tuple[str, str] | None = None  # (ScheduledProcedureStepID, RequestedProcedureID)
    laterality: str | None = None


@dataclass(frozen=True)
class Instance:
    uid: str
    series: Series
    sop_class: str
    number: int | None
    rows: int | None = 512
    frames: int | None = None
    storage_class: str = "STANDARD"


def _study(n: int, *args: Any, **kwargs: Any) -> Study:
    return Study(f"1.2.826.0.1.3680043.10.1.{n}", *args, **kwargs)


def _series(study: Study, n: int, *args: Any, **kwargs: Any) -> Series:
    return Series(f"{study.uid}.{n}", study, *args, **kwargs)


def _instances(series: Series, count: int, sop_class: str, **kwargs: Any) -> list[Instance]:
    return [
        Instance(f"{series.uid}.{i}", series, sop_class, i, **kwargs) for i in range(1, count + 1)
    ]


JOHN_1 = _study(
    1, "Doe^John", "PID1", "ACC001", "20240115", "101500", "House^Gregory", "CT CHEST",
    birth_date="19700101", sex="M", study_id="S1",
)  # fmt: skip
JOHN_2 = _study(
    2, "Doe^John", "PID1", "ACC002", "20240220", "083000.5", "Wilson^James", "MR BRAIN",
    birth_date="19700101", sex="M",
)  # fmt: skip
SALLY = _study(
    3, "Zhang^Sally", "PID2", "ACC-003_x%", "20230105", "2359", "House^Gregory", "CT ABDOMEN"
)
ANNA = _study(
    4, "van der Berg^Anna Maria", "PID3", "acc004", "20231231", "1200", None, "US NECK",
    sex="F",
)  # fmt: skip
NOBODY = _study(5, None, None, None, None, None, None, None)
JANE = _study(6, "DOE^JANE", "PID4", "ACC006", "20240115", "23", "house^gregory", "CT HEAD")
TAROU = _study(
    7, "Yamada^Tarou=山田^太郎=やまだ^たろう", "PID5", "ACC007", "20220610", "070000",
    None, "MR KNEE",
)  # fmt: skip
OTHER_STORE = _study(8, "Doe^John", "PID1", "ACC001", "20240115", "101500", None, "CT CHEST")

STUDIES = [JOHN_1, JOHN_2, SALLY, ANNA, NOBODY, JANE, TAROU]

JOHN_1_CT = _series(
    JOHN_1, 1, "CT", 1, "Axial 5mm", pps_date="20240115", pps_time="101600",
    request=("SPS1", "RP1"), laterality="L",
)  # fmt: skip
JOHN_1_SR = _series(JOHN_1, 2, "SR", 99, "Report")
JOHN_2_MR_A = _series(JOHN_2, 1, "MR", 1, "T1", pps_date="20240220", pps_time="0830")
JOHN_2_MR_B = _series(JOHN_2, 2, "MR", 2, "T2", request=("SPS2", "RP2"))
SALLY_CT = _series(SALLY, 1, "CT", 3, "Portal venous [PV]", pps_date="20230105")
ANNA_US = _series(ANNA, 1, "US", 7, "Thyroid")
NOBODY_OT = _series(NOBODY, 1, None, None, None)
JANE_CT = _series(JANE, 1, "CT", 1, "Head")
JANE_PR = _series(JANE, 2, "PR", 2, "Presentation")
TAROU_MR = _series(TAROU, 1, "MR", 1, "Sagittal")
OTHER_CT = _series(OTHER_STORE, 1, "CT", 1, "Axial 5mm")

SERIES = [
    JOHN_1_CT, JOHN_1_SR, JOHN_2_MR_A, JOHN_2_MR_B, SALLY_CT, ANNA_US, NOBODY_OT, JANE_CT,
    JANE_PR, TAROU_MR,
]  # fmt: skip

INSTANCES = [
    *_instances(JOHN_1_CT, 3, CT),
    *_instances(JOHN_1_SR, 1, SR, rows=None),
    *_instances(JOHN_2_MR_A, 2, MR, storage_class="ARCHIVE"),
    *_instances(JOHN_2_MR_B, 1, MR, frames=20),
    *_instances(SALLY_CT, 2, CT),
    *_instances(ANNA_US, 1, US, frames=3),
    *_instances(NOBODY_OT, 1, SC, rows=None),
    *_instances(JANE_CT, 1, CT),
    *_instances(JANE_PR, 1, PR, rows=None),
    *_instances(TAROU_MR, 2, MR),
]
OTHER_INSTANCES = _instances(OTHER_CT, 1, CT)


def _set(dataset: Dataset, keyword: str, value: Any) -> None:
    if value is not None:
        setattr(dataset, keyword, value)


def dataset(instance: Instance) -> Dataset:
    """The instance's header as pydicom holds it (no pixel data: search never needs it)."""
    series, study = instance.series, instance.series.study
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = instance.sop_class
    ds.SOPInstanceUID = instance.uid
    ds.StudyInstanceUID = study.uid
    ds.SeriesInstanceUID = series.uid
    # Type 2 attributes are present even when empty, as real instances have them.
    ds.PatientName = study.patient_name or ""
    ds.PatientID = study.patient_id or ""
    ds.AccessionNumber = study.accession or ""
    ds.StudyDate = study.date or ""
    ds.StudyTime = study.time or ""
    ds.ReferringPhysicianName = study.referring or ""
    ds.PatientBirthDate = study.birth_date or ""
    ds.PatientSex = study.sex or ""
    ds.StudyID = study.study_id or ""
    ds.Modality = series.modality or ""
    _set(ds, "StudyDescription", study.description)
    _set(ds, "InstitutionName", "General Hospital" if study.description else None)
    _set(ds, "PatientAge", "054Y" if study is JOHN_1 else None)
    _set(ds, "SeriesNumber", series.number)
    _set(ds, "SeriesDescription", series.description)
    _set(ds, "Laterality", series.laterality)
    _set(ds, "PerformedProcedureStepStartDate", series.pps_date)
    _set(ds, "PerformedProcedureStepStartTime", series.pps_time)
    if series.request is not None:
        item = Dataset()
        item.ScheduledProcedureStepID, item.RequestedProcedureID = series.request
        ds.RequestAttributesSequence = [item]
    _set(ds, "InstanceNumber", instance.number)
    _set(ds, "Rows", instance.rows)
    _set(ds, "Columns", instance.rows)
    if instance.rows is not None:
        ds.BitsAllocated = 16
        ds.SliceThickness = "5.0"
    _set(ds, "NumberOfFrames", instance.frames)
    return ds


def instance_json(instance: Instance) -> dict[str, Any]:
    return dataset(instance).to_json_dict()


def new_instance(instance: Instance) -> NewInstance:
    """What the STOW service hands the index for ``instance``."""
    document = instance_json(instance)
    return NewInstance(
        study_instance_uid=instance.series.study.uid,
        series_instance_uid=instance.series.uid,
        sop_instance_uid=instance.uid,
        sop_class_uid=instance.sop_class,
        transfer_syntax_uid=EXPLICIT_LITTLE,
        instance_number=instance.number,
        number_of_frames=instance.frames,
        blob_key=f"blobs/{instance.uid}",
        blob_size_bytes=1000,
        sha256="0" * 64,
        storage_class=instance.storage_class,
        metadata=document,
        structured_size_bytes=len(str(document)),
        frame_ranges=None,
        bulk_data=None,
        study_columns=study_columns(document),
        study_attributes=study_attributes(document),
        series_columns=series_columns(document),
        series_attributes=series_attributes(document),
    )
