"""StackQL-style SQL over the Healthcare API v1: the statements of StackQL's google provider for
``google.healthcare.datasets``, ``google.healthcare.dicom_stores`` (with the DICOMweb methods
below a store, through EXEC) and ``google.healthcare.operations``, run over HTTP against a
dicomstore or Google's service.

``parser`` reads a statement, ``registry`` knows the resources and methods (from the discovery
document), ``executor`` calls the API and runs what is left of the statement on the answers
(``local``), ``shell`` is the interactive loop of ``dicomstore sql``.
"""

from dicomstore.sql.errors import SqlError
from dicomstore.sql.executor import DESPATCHED, Result, Session
from dicomstore.sql.parser import parse
from dicomstore.sql.script import split_statements
from dicomstore.sql.shell import run_shell

__all__ = ["DESPATCHED", "Result", "Session", "SqlError", "parse", "run_shell", "split_statements"]
