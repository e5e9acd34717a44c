"""Shared fixtures for the od-bench tests: import path, subprocess environment, data root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ODBENCH = ROOT / "programs" / "od-bench"
HERE = Path(__file__).resolve().parent

for p in (str(ODBENCH), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)


def data_root() -> Path:
    """The shared real data (``CKX_TEST_DATA`` overrides ``<project>/../shared/data``)."""
    return Path(os.environ.get("CKX_TEST_DATA", ROOT.parent / "shared" / "data"))


def odbench_env() -> dict[str, str]:
    """Environment for ``python -m odbench`` subprocesses."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ODBENCH)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_odbench(
    args: list[str], cwd: Path, module: str = "odbench", timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``python -m <module> args`` in ``cwd``; fails the test with its output on error."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=odbench_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc


@pytest.fixture
def run_cli():
    """``run_cli(args, cwd, module="odbench")`` -> CompletedProcess."""
    return run_odbench
