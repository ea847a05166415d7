"""Pure DICOM logic: Part 10 files and data sets in, values out (no database, no HTTP).

- :mod:`~dicomstore.dicom.part10` reads a stored instance's header without loading its large
  values, checks the UIDs ingest needs, and locates every frame (:func:`read_instance`);
- :mod:`~dicomstore.dicom.frames` maps pixel data to frame byte ranges (PS3.5 §8.1.1, A.4);
- :mod:`~dicomstore.dicom.json` writes the DICOM JSON of an instance (PS3.18 F.2) with Google's
  bulk data rules (:func:`to_dicom_json`);
- :mod:`~dicomstore.dicom.bulkdata` locates each BulkDataURI's bytes in the file
  (:func:`bulk_data_locations`).

Invalid DICOM raises :class:`dicomstore.errors.InvalidArgument`.
"""

from dicomstore.dicom.bulkdata import (
    BulkDataLocation,
    bulk_data_locations,
    bulk_data_value,
    to_little_endian,
)
from dicomstore.dicom.frames import ByteRange, FrameRanges
from dicomstore.dicom.json import MAX_SEQUENCE_LENGTH, is_bulk_data, to_dicom_json
from dicomstore.dicom.part10 import DEFER_SIZE, InstanceHeader, PixelDataValue, read_instance

__all__ = [
    "DEFER_SIZE",
    "MAX_SEQUENCE_LENGTH",
    "BulkDataLocation",
    "ByteRange",
    "FrameRanges",
    "InstanceHeader",
    "PixelDataValue",
    "bulk_data_locations",
    "bulk_data_value",
    "is_bulk_data",
    "read_instance",
    "to_dicom_json",
    "to_little_endian",
]
