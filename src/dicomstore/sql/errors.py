"""Statements the SQL front end refuses before anything is sent, worded as StackQL words them.

StackQL's wording (github.com/stackql/stackql): ``internal/stackql/taxonomy/hierarchy.go`` when no
method of a resource fits a SELECT, INSERT, UPDATE or DELETE; ``primitivegenerator/
statement_analyzer.go`` for the parameters a query lacks and for an EXEC's missing variable.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["SqlError", "exec_parameters_missing", "no_matching_operation"]


class SqlError(Exception):
    """A statement that cannot run: a syntax error, an unknown resource, method or column, or
    missing parameters. The message is one line."""


def no_matching_operation(resource: str, missing: Iterable[str]) -> SqlError:
    names = ", ".join(missing)
    return SqlError(
        "cannot find matching operation, possible causes include missing required parameters "
        "or an unsupported method for the resource, to find required parameters for supported "
        f"methods run SHOW METHODS IN {resource}: "
        f"query cannot be executed, missing required parameters: {{ {names} }}"
    )


def exec_parameters_missing(missing: Iterable[str]) -> SqlError:
    quoted = ", ".join(f"'{name}'" for name in missing)
    noun = "variables" if "," in quoted else "variable"
    return SqlError(f"required param not supplied for exec: could not find {noun} {quoted}")
