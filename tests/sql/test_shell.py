"""The shell loop: statements over several lines, meta commands, errors that do not end it."""

from __future__ import annotations

import io

from dicomstore.sql.shell import HELP, run_shell


def drive(text: str, outcomes: dict[str, bool] | None = None) -> tuple[int, list[str], list[str]]:
    ran: list[str] = []
    said: list[str] = []

    def execute(statement: str) -> bool:
        ran.append(statement)
        return (outcomes or {}).get(statement, True)

    code = run_shell(execute, stdin=io.StringIO(text), say=said.append)
    return code, ran, said


def test_statements_span_lines_and_end_with_semicolons() -> None:
    code, ran, _ = drive("SELECT 1\n  FROM t;  SELECT 2;\nSELECT\n3 -- required;\n")
    assert code == 0
    assert ran == ["SELECT 1\n  FROM t", "SELECT 2", "SELECT\n3 -- required"]


def test_a_failure_does_not_end_the_shell_but_sets_the_exit_status() -> None:
    code, ran, _ = drive("BAD;\nSELECT 2;\n", {"BAD": False})
    assert ran == ["BAD", "SELECT 2"]
    assert code == 1


def test_quit_help_and_unfinished_input() -> None:
    code, ran, said = drive(".help\nSELECT 1;\n.quit\nSELECT 2;\n")
    assert (code, ran, said) == (0, ["SELECT 1"], [HELP])
    _, ran, _ = drive("SELECT 1;\nSELECT\n 2")
    assert ran == ["SELECT 1", "SELECT\n 2"]
    _, ran, _ = drive("exit;\n")
    assert ran == []
