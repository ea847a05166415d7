"""The healthcare v1 discovery document that ships inside google-api-python-client, read as the
list of REST methods it describes: the one map of paths and parameters the CLI and SQL share."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["Method", "discovery_document", "discovery_methods"]

_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Method:
    """One REST method: ``id`` as in the document (``healthcare.projects.locations.datasets.get``),
    its HTTP verb, and its flat path, whose ``{projectsId}``-style names are the path parameters."""

    id: str
    http_method: str
    flat_path: str
    path_parameters: tuple[str, ...]
    query_parameters: dict[str, dict[str, Any]]
    request: str | None
    response: str | None
    description: str

    @property
    def resource(self) -> tuple[str, ...]:
        """The collections below ``projects.locations``: ``("datasets", "dicomStores")``."""
        return tuple(self.id.split(".")[3:-1])

    @property
    def name(self) -> str:
        return self.id.rsplit(".", 1)[1]

    def path(self, values: dict[str, str]) -> str:
        """The request path below the endpoint (``v1/projects/p/…``); raises KeyError naming the
        first missing path parameter."""
        return _PATH_PARAMETER.sub(lambda match: values[match.group(1)], self.flat_path)


@functools.cache
def discovery_document() -> dict[str, Any]:
    document = resources.files("googleapiclient") / "discovery_cache/documents/healthcare.v1.json"
    loaded: dict[str, Any] = json.loads(document.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def discovery_methods() -> tuple[Method, ...]:
    """Every method of ``projects.locations`` and the collections below it."""
    locations = discovery_document()["resources"]["projects"]["resources"]["locations"]
    found: list[Method] = []

    def walk(resource: dict[str, Any]) -> None:
        for method in resource.get("methods", {}).values():
            flat_path = method["flatPath"]
            parameters = method.get("parameters", {})
            found.append(
                Method(
                    id=method["id"],
                    http_method=method["httpMethod"],
                    flat_path=flat_path,
                    path_parameters=tuple(_PATH_PARAMETER.findall(flat_path)),
                    query_parameters={
                        name: spec
                        for name, spec in parameters.items()
                        if spec.get("location") == "query"
                    },
                    request=method.get("request", {}).get("$ref"),
                    response=method.get("response", {}).get("$ref"),
                    description=method.get("description", ""),
                )
            )
        for child in resource.get("resources", {}).values():
            walk(child)

    walk(locations)
    return tuple(found)
