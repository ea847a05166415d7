"""The resources SQL statements name, ``google.healthcare.<resource>``, and their methods, made
from the healthcare v1 discovery document as StackQL's google provider makes them.

A method's SQL name is its discovery name in snake_case, an upper-case run kept as one word
(``getDICOMStoreMetrics`` → ``get_dicomstore_metrics``). ``get`` and ``list`` answer SELECT,
``create`` INSERT, ``patch`` UPDATE and ``delete`` DELETE; every method, those included, can be
called by EXEC. ``dicom_stores`` also holds the methods of the collections below a store
(studies, series, instances, frames, bulkdata, ``dicomWeb``), so that a name found at several
levels (``search_for_instances``) has one variant per level, told apart by its path parameters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dicomstore.client import Method, discovery_methods
from dicomstore.sql.errors import SqlError, exec_parameters_missing, no_matching_operation

__all__ = ["PROVIDER", "Resource", "ResourceMethod", "Verb", "resource", "resources", "sql_name"]

PROVIDER = "google.healthcare"

_VERBS = {"get": "select", "list": "select", "create": "insert", "patch": "update"}
# Below ``projects.locations``: the collections each resource is made of.
_COLLECTIONS = {
    "datasets": ("datasets",),
    "dicom_stores": ("datasets", "dicomStores"),
    "operations": ("datasets", "operations"),
}
# Whether the methods of collections below the resource's belong to it too (as EXEC methods).
_WITH_SUBCOLLECTIONS = {"dicom_stores"}

Verb = str  # "select", "insert", "update", "delete" or "exec"


def sql_name(method_name: str) -> str:
    """``searchForStudies`` → ``search_for_studies``; ``getDICOMStoreMetrics`` →
    ``get_dicomstore_metrics``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", method_name).lower()


def _lookup_key(name: str) -> str:
    return name.replace("_", "").lower()


@dataclass(frozen=True)
class ResourceMethod:
    """One discovery method as a method of a SQL resource."""

    name: str
    verb: Verb
    method: Method

    @property
    def required(self) -> tuple[str, ...]:
        return self.method.path_parameters

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(self.method.query_parameters)

    def missing(self, supplied: Mapping[str, str]) -> list[str]:
        return [name for name in self.required if not supplied.get(name)]


@dataclass(frozen=True)
class Resource:
    name: str
    methods: tuple[ResourceMethod, ...]

    @property
    def full_name(self) -> str:
        return f"{PROVIDER}.{self.name}"

    def for_verb(self, verb: Verb) -> list[ResourceMethod]:
        return [method for method in self.methods if method.verb == verb]

    def parameters(self, verb: Verb) -> frozenset[str]:
        """Every parameter (path or query) of the methods answering ``verb``."""
        names: set[str] = set()
        for method in self.for_verb(verb):
            names.update(method.required, method.optional)
        return frozenset(names)

    def method_for(self, verb: Verb, supplied: Mapping[str, str]) -> ResourceMethod:
        """The method answering ``verb`` with the given parameters: of those whose required
        parameters are all supplied, the most specific (``get`` before ``list``)."""
        candidates = self.for_verb(verb)
        if not candidates:
            raise SqlError(f"{self.full_name} does not support {verb.upper()}")
        fitting = [method for method in candidates if not method.missing(supplied)]
        if fitting:
            return max(fitting, key=lambda method: len(method.required))
        closest = min(candidates, key=lambda method: len(method.missing(supplied)))
        raise no_matching_operation(self.full_name, closest.missing(supplied))

    def variants(self, name: str) -> list[ResourceMethod]:
        """The methods called ``name`` (``search_for_instances`` or ``searchForInstances``)."""
        key = _lookup_key(name)
        found = [method for method in self.methods if _lookup_key(method.name) == key]
        if not found:
            known = ", ".join(sorted({method.name for method in self.methods}))
            raise SqlError(f"no method '{name}' in {self.full_name}; its methods: {known}")
        return found

    def exec_variant(self, name: str, supplied: Mapping[str, str]) -> ResourceMethod:
        """The variant of ``name`` whose path parameters are exactly the supplied ones among all
        path parameter names of the resource."""
        variants = self.variants(name)
        path_names = {param for method in self.methods for param in method.required}
        given = {param for param in supplied if param in path_names and supplied[param]}
        for variant in variants:
            if set(variant.required) == given:
                return variant
        wider = [variant for variant in variants if given <= set(variant.required)]
        if wider:
            closest = min(wider, key=lambda variant: len(variant.required))
            raise exec_parameters_missing(closest.missing(supplied))
        accepted = sorted({param for variant in variants for param in variant.required})
        extra = ", ".join(sorted(given - set(accepted))) or ", ".join(sorted(given))
        raise SqlError(
            f"{self.full_name}.{variants[0].name} does not take {extra}; "
            f"its path parameters: {', '.join(accepted)}"
        )


def _belongs(resource: str, method: Method) -> bool:
    collection = _COLLECTIONS[resource]
    if resource in _WITH_SUBCOLLECTIONS:
        return method.resource[: len(collection)] == collection
    return method.resource == collection


def _resource_method(resource: str, method: Method) -> ResourceMethod:
    own = method.resource == _COLLECTIONS[resource]
    verb = _VERBS.get(method.name, method.name) if own else "exec"
    if verb not in ("select", "insert", "update", "delete"):
        verb = "exec"
    return ResourceMethod(sql_name(method.name), verb, method)


@functools.cache
def resources() -> dict[str, Resource]:
    """Every resource by its short name (``dicom_stores``)."""
    found = {}
    for name in _COLLECTIONS:
        methods = tuple(
            _resource_method(name, method)
            for method in discovery_methods()
            if _belongs(name, method)
        )
        found[name] = Resource(name, methods)
    return found


def resource(qualified: str) -> Resource:
    """The resource named ``google.healthcare.<name>``."""
    provider, _, name = qualified.rpartition(".")
    known = resources()
    if provider != PROVIDER or name not in known:
        names = ", ".join(f"{PROVIDER}.{known_name}" for known_name in sorted(known))
        raise SqlError(f"unknown resource '{qualified}'; known resources: {names}")
    return known[name]
