"""``projects.locations``: the regions a dataset can live in.

Any syntactically valid location answers ``get``, as the emulator serves every region;
``list`` answers the regions Google offers the Healthcare API in.
"""

from __future__ import annotations

from typing import Any

from dicomstore.errors import InvalidArgument
from dicomstore.names import LocationName
from dicomstore.services.paging import PageRequest

__all__ = ["KNOWN_LOCATIONS", "LocationService"]

KNOWN_LOCATIONS = (
    "asia-east2", "asia-northeast1", "asia-northeast3", "asia-south1", "asia-southeast1",
    "asia-southeast2", "australia-southeast1", "europe-west1", "europe-west2", "europe-west3",
    "europe-west4", "europe-west6", "eu", "me-central2", "northamerica-northeast1",
    "northamerica-northeast2", "southamerica-east1", "us", "us-central1", "us-east1",
    "us-east4", "us-west1", "us-west2", "us-west3", "us-west4",
)  # fmt: skip


def _location_message(name: LocationName) -> dict[str, Any]:
    return {"name": str(name), "locationId": name.location}


class LocationService:
    def get(self, project: str, location: str) -> dict[str, Any]:
        return _location_message(LocationName.of(project, location))

    def list(self, project: str, page_size: int | None, page_token: str | None) -> dict[str, Any]:
        page = PageRequest.parse(page_size, page_token)
        if page.after is not None and not isinstance(page.after, str):
            raise InvalidArgument("Invalid page token.")
        names = [LocationName.of(project, location) for location in KNOWN_LOCATIONS]
        remaining = [n for n in names if page.after is None or n.location > page.after]
        answer: dict[str, Any] = {}
        if remaining:
            answer["locations"] = [_location_message(n) for n in remaining[: page.size]]
        if len(remaining) > page.size:
            answer["nextPageToken"] = page.next_token(remaining[page.size - 1].location)
        return answer
