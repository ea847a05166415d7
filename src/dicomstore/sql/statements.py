"""Parsed statements: what to call, with which parameters, and the SQL left to run on the
answers (projection, conditions on returned fields, ORDER BY, LIMIT, RETURNING)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from dicomstore.sql.registry import Resource

__all__ = [
    "ROWS_TABLE",
    "DeleteStatement",
    "DescribeStatement",
    "ExecStatement",
    "InsertStatement",
    "SelectStatement",
    "ShowMethodsStatement",
    "ShowResourcesStatement",
    "Statement",
    "UpdateStatement",
]

# The name under which answers are queried locally, in place of the resource's name.
ROWS_TABLE = "_rows"


@dataclass(frozen=True)
class SelectStatement:
    """``query`` reads ``ROWS_TABLE``: the statement without its parameter conditions.
    ``projected`` names the columns the select list refers to."""

    resource: Resource
    parameters: dict[str, str]
    query: exp.Select
    projected: frozenset[str]


@dataclass(frozen=True)
class InsertStatement:
    """``values`` is the statement's SELECT (without FROM) or VALUES, one call per row."""

    resource: Resource
    columns: tuple[str, ...]
    values: exp.Expr
    returning: exp.Select | None
    wait: bool


@dataclass(frozen=True)
class UpdateStatement:
    """``assignments`` maps each ``data__`` column to its SET expression."""

    resource: Resource
    assignments: dict[str, exp.Expr]
    parameters: dict[str, str]
    returning: exp.Select | None
    wait: bool


@dataclass(frozen=True)
class DeleteStatement:
    resource: Resource
    parameters: dict[str, str]
    wait: bool


@dataclass(frozen=True)
class ExecStatement:
    """``body`` is the ``@@json`` text, if any."""

    resource: Resource
    method: str
    parameters: dict[str, str]
    body: str | None
    wait: bool


@dataclass(frozen=True)
class ShowMethodsStatement:
    resource: Resource


@dataclass(frozen=True)
class ShowResourcesStatement:
    pass


@dataclass(frozen=True)
class DescribeStatement:
    resource: Resource


Statement = (
    SelectStatement
    | InsertStatement
    | UpdateStatement
    | DeleteStatement
    | ExecStatement
    | ShowMethodsStatement
    | ShowResourcesStatement
    | DescribeStatement
)
