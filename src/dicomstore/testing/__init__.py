"""A disposable dicomstore server for the tests of code that talks to the Healthcare API or
DICOMweb: `running_server` for any test framework, and a pytest plugin (`dicomstore.testing.plugin`,
loaded automatically wherever dicomstore is installed) with the ``dicomstore_server`` and
``dicomstore_store`` fixtures."""

from dicomstore.testing.server import DicomStore, DicomstoreServer, running_server

__all__ = ["DicomStore", "DicomstoreServer", "running_server"]
