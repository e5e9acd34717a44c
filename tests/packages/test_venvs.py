"""ckx venvs (create atomically, activate, ls, rm) and Python library packages detected or
pip-installed into the selected venv, offline, from tiny wheels built here."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from ckx.artifacts.pythonlibs import (
    PythonPackage,
    ensure_python_package,
    requirement_for,
    select_python,
)
from ckx.artifacts.venvs import (
    activate_command,
    list_venvs,
    pins_from,
    venv_dir,
)
from ckx.core.context import Context
from ckx.core.errors import ConflictError, NotFoundError, RunError, UsageError
from ckx.core.ui import UI

pytestmark = pytest.mark.slow  # creates a real venv (ensurepip) once for the module: ~10 s


def build_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel (module ``name`` with ``__version__``), written by hand."""
    files = {
        f"{name}/__init__.py": f"__version__ = '{version}'\n".encode(),
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: ckx-test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = f"{name}-{version}.dist-info/RECORD"
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    files[record] = ("\n".join([*lines, f"{record},,"]) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("venv-home")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("wheels")
    for v in ("1.0.0", "1.2.0"):
        build_wheel(d, "ckxtinypkg", v)
    build_wheel(d, "ckxhintpkg", "0.5.0")
    return d


def context(home: Path, **environ: str) -> Context:
    return Context(home, ui=UI(mode="none", interactive=False), environ={**os.environ, **environ})


@pytest.fixture(scope="module")
def made(home, wheels):
    """``ckx create venv:t1 --requirements=ckxtinypkg==1.0.0`` offline from the wheel folder."""
    from ckx.app.api import run

    ctx = context(home, CKX_PIP_EXTRA_ARGS=f"--no-index --find-links {wheels}")
    return run(
        ctx,
        {
            "action": "create",
            "automation": "venv",
            "entry": "t1",
            "requirements": "ckxtinypkg==1.0.0",
        },
    )


def python_of(home: Path, name: str) -> Path:
    return venv_dir(home, name) / "bin" / "python"


def version_in(python: Path, module: str) -> str:
    return subprocess.run(
        [str(python), "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_create_makes_a_complete_venv_with_the_requirements(made, home):
    path = Path(made["path"])
    assert path == home / "venvs" / "t1" and made["requirements"] == ["ckxtinypkg==1.0.0"]
    assert version_in(python_of(home, "t1"), "ckxtinypkg") == "1.0.0"
    # built in a temp folder, then renamed: no trace of the temp path, no leftovers
    assert [p.name for p in (home / "venvs").iterdir() if not p.name.startswith(".locks")] == ["t1"]
    tmp_names = [
        p for p in (path / "bin").iterdir() if p.is_file() and b".t1.tmp-" in p.read_bytes()
    ]
    assert tmp_names == []
    pip = subprocess.run([str(path / "bin" / "pip"), "--version"], capture_output=True, text=True)
    assert pip.returncode == 0 and str(path) in pip.stdout  # console scripts work after the rename


def test_activate_prints_the_line_to_source(made, home):
    from ckx.app.api import run

    out = run(
        context(home, SHELL="/bin/bash"),
        {"action": "activate", "automation": "venv", "entry": "t1"},
    )
    assert out["command"] == f"source {home / 'venvs' / 't1' / 'bin' / 'activate'}"
    assert activate_command(Path(made["path"]), "fish").endswith("activate.fish")
    shown = subprocess.run(
        ["bash", "-c", f"{out['command']} && echo $VIRTUAL_ENV && command -v python"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == [made["path"], str(python_of(home, "t1"))]


def test_activate_shell_runs_inside_the_venv(made, home, tmp_path):
    from ckx.app.api import run

    probe = tmp_path / "probe.sh"
    probe.write_text(f'#!/bin/sh\necho "$VIRTUAL_ENV $(command -v python)" > {tmp_path / "seen"}\n')
    probe.chmod(0o755)
    out = run(
        context(home),
        {"action": "activate", "automation": "venv", "entry": "t1", "shell": str(probe)},
    )
    assert out["shell_exit_code"] == 0
    assert (tmp_path / "seen").read_text().split() == [made["path"], str(python_of(home, "t1"))]


def test_ls_lists_it_and_unknown_names_are_explained(made, home):
    from ckx.app.api import run

    out = run(context(home), {"action": "ls", "automation": "venv"})
    assert [v["name"] for v in out["list"]] == ["t1"] and out["list"][0]["python_version"]
    with pytest.raises(NotFoundError) as err:
        run(context(home), {"action": "activate", "automation": "venv", "entry": "t2"})
    assert "ckx create venv:t2" in err.value.hint


def test_create_refuses_to_overwrite_and_bad_input(made, home):
    from ckx.artifacts.venvs import create_venv

    with pytest.raises(ConflictError, match="already exists"):
        create_venv(home, "t1")
    with pytest.raises(UsageError, match="unknown venv template"):
        create_venv(home, "t9", template="nope")
    with pytest.raises(UsageError, match="bad venv name"):
        create_venv(home, "../x")
    assert [v.name for v in list_venvs(home)] == ["t1"]


def test_failed_install_leaves_no_venv(home, wheels):
    from ckx.artifacts.venvs import create_venv

    with pytest.raises(RunError) as err:
        create_venv(
            home,
            "broken",
            requirements=["ckxtinypkg==9.9"],
            pip_args=["--no-index", "--find-links", str(wheels)],
        )
    assert "ckxtinypkg==9.9" in err.value.message
    assert not (home / "venvs" / "broken").exists()
    assert [p.name for p in (home / "venvs").iterdir() if ".tmp-" in p.name] == []


def test_library_is_detected_or_installed_with_constraints_and_pins(made, home, wheels):
    python = select_python({"CKX_VENV": "t1"}, {}, home)
    assert python == python_of(home, "t1")
    meta = {"python_package": {"name": "ckxtinypkg"}, "env_prefix": "CKX_TINY"}
    pkg = PythonPackage.from_meta(meta, "lib-python-ckxtinypkg")
    args = ["--no-index", "--find-links", str(wheels)]
    found = ensure_python_package(pkg, python=python, constraints={}, pip_args=args)
    assert (found["version"], found["installed"]) == ("1.0.0", False)  # already there: detected
    assert found["env"]["CKX_TINY_VERSION"] == "1.0.0" and found["env"]["CKX_VENV_PYTHON"] == str(
        python
    )
    up = ensure_python_package(
        pkg, python=python, constraints={"version_min": "1.1"}, pip_args=args
    )
    assert (up["version"], up["installed"]) == ("1.2.0", True)
    with pytest.raises(
        RunError, match="pins: ckxtinypkg==1.0.0"
    ):  # the pin contradicts the constraint
        ensure_python_package(
            pkg,
            python=python,
            constraints={"version": "1.3"},
            pins=["ckxtinypkg==1.0.0"],
            pip_args=args,
        )
    down = ensure_python_package(
        pkg,
        python=python,
        constraints={"version_max": "1.1"},
        pins=["ckxtinypkg==1.0.0"],
        pip_args=args,
    )
    assert (down["version"], down["installed"]) == ("1.0.0", True)


def test_no_pip_install_outside_a_venv(tmp_path):
    pkg = PythonPackage.from_meta({"python_package": {"name": "ckx-surely-absent-pkg"}}, "x")
    with pytest.raises(RunError, match="not a virtual environment") as err:
        ensure_python_package(pkg, python=Path("/usr/bin/python3"), constraints={})
    assert "ckx create venv" in err.value.hint
    # the do-it-yourself command names the interpreter that lacks the package
    assert "/usr/bin/python3 -m pip install ckx-surely-absent-pkg" in err.value.hint


def test_hook_of_the_shipped_library_packages(made, home, wheels):
    """customize.py of lib-python-* (here numpy's, pointed at the venv without numpy)."""
    import yaml

    from ckx.engine.hooks import HookInput, call_hook, load_customize

    entry = Path(__file__).resolve().parents[2] / "packages" / "lib-python-numpy"
    meta = yaml.safe_load((entry / "meta.yaml").read_text())
    # what the test can install offline, described as numpy's entry describes numpy
    meta["python_package"] = {"name": "ckxtinypkg"}
    meta["detect"] = {
        **meta["detect"],
        "python_package": ["ckxtinypkg"],
        "import_name": "ckxtinypkg",
    }
    env = {"CKX_VENV": "t1"}
    i = HookInput(
        env=env,
        state={},
        meta=meta,
        input={},
        script_path=entry,
        run_path=home,
        variations=[],
        variation_values={},
        version=None,
        constraints={"version": "1.2.0"},
        tags=meta["tags"],
        base_environ={**os.environ, "CKX_PIP_EXTRA_ARGS": f"--no-index --find-links {wheels}"},
        objects_root=home / "objects",
    )
    out = call_hook(load_customize(entry / "customize.py"), "preprocess", i, "lib-python-numpy")
    assert out["version"] == "1.2.0" and env["CKX_PYTHONLIB_NUMPY_VERSION"] == "1.2.0"
    assert env["CKX_PYTHONLIB_NUMPY_PATH"].startswith(str(home / "venvs" / "t1"))


def test_the_front_only_detects_and_its_hint_installs_the_library(made, home, wheels, monkeypatch):
    """get-generic-python-lib asks the library's package entry to detect only: a library that
    is not in the venv is an error that installs nothing, and its hint is a command that
    installs it (run here as printed); then the front finds it."""
    import shlex
    import sys

    from ckx.app.api import run

    monkeypatch.setenv("CKX_HOME", str(home))  # (get-python3 reads the process's CKX_HOME)
    ctx = context(home, CKX_PIP_EXTRA_ARGS=f"--no-index --find-links {wheels}")
    front = {"action": "run", "tags": "get,generic-python-lib,_package.ckxhintpkg"}
    front["env"] = {"CKX_VENV": "t1"}
    with pytest.raises(RunError) as err:
        run(ctx, dict(front))
    python = python_of(home, "t1")
    assert f"ckxhintpkg is not installed in {python}" in err.value.message
    assert "get-generic-python-lib(_package.ckxhintpkg)" in err.value.message
    with pytest.raises(subprocess.CalledProcessError):
        version_in(python, "ckxhintpkg")  # nothing was installed
    prefix = "install it there: ckx "
    assert err.value.hint.startswith(prefix), err.value.hint
    p = subprocess.run(
        [sys.executable, "-m", "ckx", *shlex.split(err.value.hint.removeprefix(prefix))],
        capture_output=True,
        text=True,
        env=ctx.environ,
    )
    assert p.returncode == 0, p.stderr
    assert version_in(python, "ckxhintpkg") == "0.5.0"
    out = run(ctx, dict(front))
    assert out["version"] == "0.5.0" and out["env"]["CKX_PYTHONLIB_CKXHINTPKG_VERSION"] == "0.5.0"


def test_requirement_and_pins():
    assert requirement_for("torch", {"version": "2.13.0"}) == "torch==2.13.0"
    assert (
        requirement_for("numpy", {"version_min": "1.24", "version_max": "2.2"})
        == "numpy>=1.24,<=2.2"
    )
    assert requirement_for("numpy", {}) == "numpy"
    assert pins_from({"CKX_PIP_PINS": "torch==2.13.0, numpy<3"}) == ["torch==2.13.0", "numpy<3"]


def test_pins_from_config(tmp_path):
    (tmp_path / "config.yaml").write_text("pip_pins: [torch==2.13.0]\n")
    assert pins_from({}, tmp_path) == ["torch==2.13.0"]


def test_rm_removes_by_pattern(made, home, wheels):
    from ckx.app.api import run
    from ckx.artifacts.venvs import create_venv

    create_venv(home, "t2", pip_args=["--no-index"])
    with pytest.raises(UsageError, match="without confirmation"):
        run(context(home), {"action": "rm", "automation": "venv", "entry": "*"})
    out = run(context(home), {"action": "rm", "automation": "venv", "entry": "*", "force": True})
    assert sorted(out["removed"]) == ["t1", "t2"] and list_venvs(home) == []
    assert [p.name for p in (home / "venvs").iterdir() if not p.name.startswith(".locks")] == []
