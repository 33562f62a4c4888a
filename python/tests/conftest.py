"""Shared fixtures: the command-line binary whose JSON the bindings must reproduce."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, List

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _binary() -> Path:
    """The release binary: $GSTARVE_BIN, else target/release/gstarve, built if missing."""
    given = os.environ.get("GSTARVE_BIN")
    if given:
        return Path(given)
    path = ROOT / "target" / "release" / "gstarve"
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "--release", "--bin", "gstarve"], cwd=ROOT, check=True
        )
    return path


class Cli:
    """Runs ``gstarve`` and parses its output."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, *args: str, cwd: Any = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.path), *args], capture_output=True, text=True, cwd=cwd, timeout=300
        )

    def json(self, *args: str) -> Any:
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def error(self, *args: str) -> str:
        """The one error line of a rejected command (exit status 2), without its prefix."""
        done = self.run(*args)
        assert done.returncode == 2, (done.returncode, done.stderr)
        line = done.stderr.strip().splitlines()[-1]
        return line.removeprefix("gstarve: error: ")


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli(_binary())


def close(actual: Any, expected: Any, tol: float = 1e-12) -> None:
    """Entrywise |a − e| ≤ tol·max(1, |e|); JSON null (a masked entry) matches NaN."""
    e = np.array(
        [[np.nan if v is None else v for v in row] for row in expected]
        if isinstance(expected, list) and expected and isinstance(expected[0], list)
        else [np.nan if v is None else v for v in expected]
        if isinstance(expected, list)
        else expected,
        dtype=float,
    )
    a = np.asarray(actual, dtype=float)
    assert a.shape == e.shape, (a.shape, e.shape)
    both_nan = np.isnan(a) & np.isnan(e)
    ok = both_nan | (np.abs(a - e) <= tol * np.maximum(1.0, np.abs(e)))
    assert ok.all(), (a, e)


def csv_rows(path: Path) -> List[List[str]]:
    return [line.split(",") for line in path.read_text().splitlines() if not line.startswith("#")]
