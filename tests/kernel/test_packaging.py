"""A regular (non-editable) install carries the built-in repo inside the package."""

import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


def test_the_wheel_contains_the_builtin_repo(tmp_path):
    import shutil

    pytest.importorskip("setuptools")
    src = (
        tmp_path / "src"
    )  # build from a copy: a build writes build/ and *.egg-info beside the sources
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "*.egg-info",
            "__pycache__",
            ".pytest_cache",
            "test-artifacts",
            "tests",
        ),
    )
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    from ckx.core.version import DISTRIBUTION

    (wheel,) = tmp_path.glob(f"{DISTRIBUTION.replace('-', '_')}-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for must in (
        "ckx/_builtin/repos.yaml",
        "ckx/_builtin/automation/script/meta.yaml",
        "ckx/_builtin/programs/od-bench/meta.yaml",
        "ckx/_builtin/packages/ml-model-ssd-shapes/ssd_shapes.onnx",
        "ckx/_builtin/packages/compiler-python/meta.yaml",
        "ckx/app/cli.py",
    ):
        assert must in names, must
    assert not any("__pycache__" in n for n in names)


def test_builtin_repo_location_can_be_overridden(tmp_path, monkeypatch):
    from ckx.core.repos import project_root

    assert project_root() == ROOT  # an editable checkout uses itself
    monkeypatch.setenv("CKX_BUILTIN_REPO", str(tmp_path))
    assert project_root() == tmp_path


def test_the_version_ckx_reports_is_the_packaged_one():
    import re

    import ckx
    from ckx.core.version import __version__

    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert declared and ckx.__version__ == __version__ == declared.group(1)
