"""Options every client command shares: where the server is, how to sign in, how to print."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from dicomstore.client.http import DEFAULT_ENDPOINT, HealthcareClient

__all__ = ["EndpointOption", "FormatOption", "OutputFormat", "TokenOption", "open_client"]


class OutputFormat(StrEnum):
    JSON = "json"
    YAML = "yaml"
    TABLE = "table"
    CSV = "csv"


EndpointOption = Annotated[
    str,
    typer.Option(
        envvar="DICOMSTORE_ENDPOINT",
        help="Server to talk to: a dicomstore, or https://healthcare.googleapis.com.",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="DICOMSTORE_TOKEN",
        help="Access token sent as 'Authorization: Bearer' "
        "(for Google: $(gcloud auth print-access-token)).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="How to print the answer.", case_sensitive=False),
]


def open_client(endpoint: str = DEFAULT_ENDPOINT, token: str | None = None) -> HealthcareClient:
    return HealthcareClient(endpoint, token=token)
