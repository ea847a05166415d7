"""Where data leaves the store: analytics tables (and, later, notification and stream sinks).

- :mod:`~dicomstore.sinks.tables` exports instance metadata to a table named by a BigQuery URI
  (:func:`export_metadata`) through a :class:`MetadataTable` backend:
  :mod:`~dicomstore.sinks.duckdb_table` (embedded, the default) or
  :mod:`~dicomstore.sinks.bigquery_table` (Google BigQuery). Backends are imported on demand, so
  that importing this package loads neither DuckDB nor the BigQuery client.
"""

from dicomstore.sinks.tables import (
    InstanceRecord,
    MetadataTable,
    RowFile,
    export_metadata,
    open_metadata_table,
    validate_destination,
)

__all__ = [
    "InstanceRecord",
    "MetadataTable",
    "RowFile",
    "export_metadata",
    "open_metadata_table",
    "validate_destination",
]
