"""The code stays typed and lint-clean: ruff and mypy run as part of the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SOURCES = ["bot", "handlers", "nlp", "storage", "tests", "bench"]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([str(BIN / "ruff"), "check", *SOURCES], id="ruff-check"),
        pytest.param([str(BIN / "ruff"), "format", "--check", *SOURCES], id="ruff-format"),
        pytest.param([str(BIN / "mypy")], id="mypy"),
    ],
)
def test_tool_passes(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
