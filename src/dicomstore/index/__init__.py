"""The metadata index: schema, migrations and every query (SQLite and PostgreSQL)."""

from dicomstore.index.database import Index

__all__ = ["Index"]
