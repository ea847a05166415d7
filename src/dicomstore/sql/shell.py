"""The interactive shell of ``dicomstore sql``: statements end with ``;`` and may span lines;
``.quit``, ``exit`` or Ctrl-D leaves, ``.help`` shows help, Ctrl-C drops the statement being
typed. With a terminal, lines are edited with ``readline`` (when Python has it) and kept in
``~/.dicomstore_sql_history``; without one, statements are read from standard input silently.
What is left unfinished at the end of input runs as a last statement.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from dicomstore.sql.script import is_blank, split_statements

__all__ = ["HELP", "run_shell"]

_PROMPT = "dicomstore> "
_CONTINUATION = "        -> "
_HISTORY = Path("~/.dicomstore_sql_history")
_QUIT = {".quit", ".exit", "exit", "quit", "\\q"}
HELP = """\
Statements end with ';' and may span lines. For example:
  SHOW RESOURCES;
  SHOW METHODS IN google.healthcare.dicom_stores;
  SELECT name, labels FROM google.healthcare.dicom_stores
   WHERE projectsId = 'p' AND locationsId = 'l' AND datasetsId = 'd';
  EXEC google.healthcare.dicom_stores.search_for_studies
   @projectsId = 'p', @locationsId = 'l', @datasetsId = 'd', @dicomStoresId = 's';
.quit, exit or Ctrl-D leaves."""


def _readline_history() -> Callable[[], None]:
    """Load the history file; the function that saves it."""
    try:
        import readline
    except ImportError:  # Python built without readline (Windows): plain input()
        return lambda: None
    path = _HISTORY.expanduser()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(path)

    return save


def run_shell(
    execute: Callable[[str], bool],
    *,
    stdin: TextIO | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Read statements until the end of input, handing each to ``execute`` (which reports its
    own result and answers whether it succeeded). Exit status 1 if any failed, else 0."""
    stdin = stdin or sys.stdin
    interactive = stdin.isatty()
    save_history = _readline_history() if interactive else (lambda: None)
    buffer = ""
    failed = False
    try:
        while True:
            try:
                line = _read(_PROMPT if is_blank(buffer) else _CONTINUATION, stdin, interactive)
            except KeyboardInterrupt:
                say("")
                buffer = ""
                continue
            if line is None:
                break
            if is_blank(buffer):
                command = line.strip().rstrip(";").strip().lower()
                if command in _QUIT:
                    return 1 if failed else 0
                if command in (".help", "help"):
                    say(HELP)
                    continue
            statements, buffer = split_statements(buffer + line + "\n")
            for statement in statements:
                failed = not _attempt(execute, statement) or failed
        if not is_blank(buffer):
            failed = not _attempt(execute, buffer.strip()) or failed
        return 1 if failed else 0
    finally:
        save_history()


def _read(prompt: str, stdin: TextIO, interactive: bool) -> str | None:
    if interactive:
        try:
            return input(prompt)
        except EOFError:
            return None
    line = stdin.readline()
    return line.rstrip("\n") if line else None


def _attempt(execute: Callable[[str], bool], statement: str) -> bool:
    try:
        return execute(statement)
    except KeyboardInterrupt:
        return False
