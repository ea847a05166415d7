"""One statement's text → a `Statement`.

SELECT, INSERT, UPDATE and DELETE are parsed by sqlglot (SQLite dialect, as StackQL evaluates
SQL in SQLite); EXEC by `exec_parser`; ``SHOW RESOURCES [IN google.healthcare]``, ``SHOW METHODS
IN <resource>`` and ``DESCRIBE <resource>`` by a pattern each. The StackQL hint ``/*+ AWAIT */``
makes a statement whose answer is a long-running operation wait for it to finish.

In a WHERE clause, a top-level ``AND`` term ``<parameter> = <literal>`` supplies a method's
parameter (path or query, e.g. ``datasetsId``, ``pageSize``); every other term is a condition on
the returned rows. In INSERT and UPDATE, a ``data__<field>`` column is a field of the request body
and any other column a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from dicomstore.sql.errors import SqlError
from dicomstore.sql.exec_parser import parse_exec
from dicomstore.sql.registry import PROVIDER, Resource, ResourceMethod, resource
from dicomstore.sql.schemas import fields
from dicomstore.sql.statements import (
    ROWS_TABLE,
    DeleteStatement,
    DescribeStatement,
    InsertStatement,
    SelectStatement,
    ShowMethodsStatement,
    ShowResourcesStatement,
    Statement,
    UpdateStatement,
)

__all__ = ["BODY_PREFIX", "parse"]

BODY_PREFIX = "data__"
_SQL_KEYWORDS = {"select", "insert", "update", "delete", "with"}
_HINT = re.compile(r"/\*\+(.*?)\*/", re.DOTALL)
_LEADING = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL)
_SHOW_RESOURCES = re.compile(r"show\s+resources(?:\s+in\s+([\w.]+))?\s*", re.IGNORECASE)
_SHOW_METHODS = re.compile(r"show\s+methods\s+in\s+([\w.]+)\s*", re.IGNORECASE)
_DESCRIBE = re.compile(r"(?:describe|desc)(?:\s+extended)?\s+([\w.]+)\s*", re.IGNORECASE)


def parse(text: str) -> Statement:
    hints = {word.upper() for hint in _HINT.findall(text) for word in hint.split()}
    wait = "AWAIT" in hints
    text = _HINT.sub(" ", text)
    leading = _LEADING.match(text)
    body = text[leading.end() :] if leading else text
    keyword = body.split(None, 1)[0].lower() if body.strip() else ""
    if keyword == "exec":
        return parse_exec(body, wait=wait)
    if keyword in ("show", "describe", "desc"):
        return _parse_catalog(_without_comments(body))
    if keyword not in _SQL_KEYWORDS:
        raise _unsupported(keyword)
    expression = _sqlglot(body)
    if isinstance(expression, exp.Select):
        return _select(expression)
    if isinstance(expression, exp.Insert):
        return _insert(expression, wait)
    if isinstance(expression, exp.Update):
        return _update(expression, wait)
    if isinstance(expression, exp.Delete):
        return _delete(expression, wait)
    raise _unsupported(keyword)


def _unsupported(keyword: str) -> SqlError:
    return SqlError(
        f"unsupported statement {keyword.upper() or '(empty)'}: "
        "use SELECT, INSERT, UPDATE, DELETE, EXEC, SHOW or DESCRIBE"
    )


def _without_comments(text: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", text, flags=re.DOTALL).strip()


def _parse_catalog(text: str) -> Statement:
    if match := _SHOW_RESOURCES.fullmatch(text):
        if match.group(1) and match.group(1) != PROVIDER:
            raise SqlError(f"unknown service '{match.group(1)}'; the only one is {PROVIDER}")
        return ShowResourcesStatement()
    if match := _SHOW_METHODS.fullmatch(text):
        return ShowMethodsStatement(resource(match.group(1)))
    if match := _DESCRIBE.fullmatch(text):
        return DescribeStatement(resource(match.group(1)))
    raise SqlError(
        "syntax error: expected SHOW RESOURCES [IN google.healthcare], "
        "SHOW METHODS IN <resource> or DESCRIBE <resource>"
    )


def _sqlglot(text: str) -> exp.Expr:
    try:
        expressions = [found for found in sqlglot.parse(text, read="sqlite") if found is not None]
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        description = first.get("description") or str(error).splitlines()[0]
        raise SqlError(f"syntax error{where}: {description}") from None
    if len(expressions) != 1:
        raise SqlError("expected one statement; separate statements with ';'")
    return expressions[0]


def _target(table: exp.Expr | None) -> Resource:
    if not isinstance(table, exp.Table) or not table.name:
        raise SqlError(f"expected a resource such as {PROVIDER}.dicom_stores")
    qualified = ".".join(part.name for part in table.parts)
    return resource(qualified)


def _conjuncts(condition: exp.Expr | None) -> list[exp.Expr]:
    if condition is None:
        return []
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this) if isinstance(condition.this, exp.And) else [condition]
    if isinstance(condition, exp.And):
        return _conjuncts(condition.this) + _conjuncts(condition.expression)
    return [condition]


def _literal(node: exp.Expr) -> str | None:
    """The text of a literal (a string, a number, TRUE/FALSE, or a "quoted" name as StackQL
    users sometimes write strings), or None for anything else."""
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return f"-{node.this.this}"
    if isinstance(node, exp.Column) and not node.table and node.this.args.get("quoted"):
        return str(node.name)
    return None


def _parameter(term: exp.Expr, names: frozenset[str]) -> tuple[str, str] | None:
    """``(name, value)`` if ``term`` is ``<parameter> = <literal>`` (either way round)."""
    if not isinstance(term, exp.EQ):
        return None
    for column, value in ((term.this, term.expression), (term.expression, term.this)):
        if isinstance(column, exp.Column) and column.name in names:
            literal = _literal(value)
            if literal is not None and not column.this.args.get("quoted", False):
                return column.name, literal
    return None


def _split_where(
    where: exp.Where | None, names: frozenset[str]
) -> tuple[dict[str, str], list[exp.Expr]]:
    parameters: dict[str, str] = {}
    conditions = []
    for term in _conjuncts(where.this if where is not None else None):
        found = _parameter(term, names)
        if found is None:
            conditions.append(term)
        else:
            parameters[found[0]] = found[1]
    return parameters, conditions


def _select(select: exp.Select) -> SelectStatement:
    source = select.args.get("from_") or select.args.get("from")
    if source is None:
        raise SqlError(f"SELECT needs FROM {PROVIDER}.<resource>")
    if select.args.get("joins"):
        raise SqlError("SELECT reads one resource; joins are not supported")
    table = source.this
    target = _target(table)
    parameters, conditions = _split_where(select.args.get("where"), target.parameters("select"))
    query = select.copy()
    query.set("where", None)
    if conditions:
        query = query.where(*conditions, copy=False)
    alias = table.alias
    query.set("from_", exp.From(this=exp.to_table(ROWS_TABLE, alias=alias or None)))
    projected = frozenset(
        column.name for item in select.expressions for column in item.find_all(exp.Column)
    )
    return SelectStatement(target, parameters, query, projected)


def _returning(statement: exp.Expr) -> exp.Select | None:
    returning = statement.args.get("returning")
    if returning is None:
        return None
    return exp.select(*returning.expressions).from_(ROWS_TABLE)


def _check_columns(
    target: Resource, method: ResourceMethod, columns: Iterable[str], verb: str
) -> None:
    where = f"{target.full_name}.{method.name}"
    body_fields = fields(method.method.request)
    parameters = set(method.required) | set(method.optional)
    for column in columns:
        if column.startswith(BODY_PREFIX):
            if column[len(BODY_PREFIX) :] not in body_fields:
                accepted = ", ".join(BODY_PREFIX + name for name in body_fields)
                raise SqlError(
                    f"unknown column '{column}' for {verb} on {where}; body columns: {accepted}"
                )
        elif column not in parameters:
            accepted = ", ".join([*method.required, *method.optional])
            raise SqlError(
                f"unknown column '{column}' for {verb} on {where}; parameters: {accepted}"
            )


def _only_method(target: Resource, verb: str) -> ResourceMethod:
    methods = target.for_verb(verb)
    if not methods:
        raise SqlError(f"{target.full_name} does not support {verb.upper()}")
    return methods[0]


def _insert(insert: exp.Insert, wait: bool) -> InsertStatement:
    schema = insert.this
    if not isinstance(schema, exp.Schema):
        raise SqlError("INSERT needs its column list: INSERT INTO <resource> (columns…) …")
    target = _target(schema.this)
    columns = tuple(column.name for column in schema.expressions)
    _check_columns(target, _only_method(target, "insert"), columns, "INSERT")
    values = insert.expression
    if isinstance(values, exp.Select) and (values.args.get("from_") or values.args.get("from")):
        raise SqlError("INSERT … SELECT takes values (SELECT 'a', 'b'), not rows FROM a table")
    if not isinstance(values, exp.Select | exp.Values):
        raise SqlError("INSERT takes SELECT <values> or VALUES (…)")
    return InsertStatement(target, columns, values, _returning(insert), wait)


def _update(update: exp.Update, wait: bool) -> UpdateStatement:
    target = _target(update.this)
    method = _only_method(target, "update")
    assignments: dict[str, exp.Expr] = {}
    for assignment in update.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise SqlError("UPDATE … SET takes data__<field> = <value> assignments")
        assignments[assignment.this.name] = assignment.expression
    _check_columns(
        target, method, [name for name in assignments if name.startswith(BODY_PREFIX)], "SET"
    )
    for name in assignments:
        if not name.startswith(BODY_PREFIX):
            raise SqlError(f"UPDATE … SET takes body columns (data__<field>), not '{name}'")
    parameters = _where_parameters(update.args.get("where"), target, "update")
    return UpdateStatement(target, assignments, parameters, _returning(update), wait)


def _delete(delete: exp.Delete, wait: bool) -> DeleteStatement:
    target = _target(delete.this)
    _only_method(target, "delete")
    parameters = _where_parameters(delete.args.get("where"), target, "delete")
    return DeleteStatement(target, parameters, wait)


def _where_parameters(where: exp.Where | None, target: Resource, verb: str) -> dict[str, str]:
    names = target.parameters(verb)
    parameters, conditions = _split_where(where, names)
    if conditions:
        raise SqlError(
            f"{verb.upper()} … WHERE takes only parameters of {target.full_name} "
            f"({', '.join(sorted(names))}) as name = 'value', not {conditions[0].sql('sqlite')}"
        )
    return parameters
