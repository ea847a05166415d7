"""A client for the Healthcare API v1 DICOM surface over HTTP: what the CLI and the SQL front end
speak to a dicomstore server, or to Google's service, through."""

from dicomstore.client.discovery import Method, discovery_document, discovery_methods
from dicomstore.client.http import ApiError, HealthcareClient, Unreachable

__all__ = [
    "ApiError",
    "HealthcareClient",
    "Method",
    "Unreachable",
    "discovery_document",
    "discovery_methods",
]
