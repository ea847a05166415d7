"""The README's terminal tour, run as written: a new user's first steps must keep working."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import environment
from tests.processes import ServerProcess

README = Path(__file__).parents[2] / "README.md"


def _tour_script() -> str:
    text = README.read_text()
    section = text[text.index("## A tour from the terminal") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2, "the tour has one block of commands and one of SQL"
    # The virtual environment is this interpreter's: its bin folder goes on PATH instead.
    return "set -euo pipefail\n" + "\n".join(blocks).replace(". .venv/bin/activate\n", "")


def test_the_readme_tour_runs_as_written(cli_server: ServerProcess, tmp_path: Path) -> None:
    env = environment(DICOMSTORE_ENDPOINT=cli_server.url)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    result = subprocess.run(
        ["bash", "-c", _tour_script()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Stored 3, duplicates 0, failed 0" in result.stdout
    assert len(list((tmp_path / "retrieved").rglob("*.dcm"))) == 1
    assert len(list((tmp_path / "exported").rglob("*.png"))) == 3
    assert "research" in result.stdout  # the UPDATE's RETURNING labels
    assert "retrieve_frames" in result.stdout  # SHOW METHODS
