"""Filter files: lists of DICOMweb resource paths (``store-features.md`` §6).

One path a line (``\\n`` or ``\\r\\n``): ``/studies/{study}[/series/{series}[/instances/{sop}]]``;
a shorter path selects everything under it. Blank lines are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dicomstore.errors import InvalidArgument

__all__ = ["ResourcePath", "parse_resource_paths"]

_UID = r"[0-9.]{1,64}"
_PATH = re.compile(
    rf"/studies/(?P<study>{_UID})(?:/series/(?P<series>{_UID})(?:/instances/(?P<sop>{_UID}))?)?/?"
)


@dataclass(frozen=True, slots=True)
class ResourcePath:
    study: str
    series: str | None = None
    instance: str | None = None


def parse_resource_paths(text: str, *, source: str) -> list[ResourcePath]:
    """Every path of a filter file, in order, duplicates removed; ``source`` names the file in
    errors."""
    paths: dict[ResourcePath, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = _PATH.fullmatch(line)
        if match is None:
            raise InvalidArgument(
                f"Invalid resource path on line {number} of {source}: {line[:200]!r}; expected "
                "/studies/{StudyUID}[/series/{SeriesUID}[/instances/{SOPInstanceUID}]]."
            )
        paths[ResourcePath(match["study"], match["series"], match["sop"])] = None
    return list(paths)
