"""dicomstore: a DICOM store that speaks the Google Cloud Healthcare API v1 and DICOMweb."""

__all__ = ["__version__"]

__version__ = "0.1.0"
