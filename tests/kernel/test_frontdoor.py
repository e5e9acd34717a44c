"""The front door: how ckx is installed and first run (issue 19, items 14 and 15).

The PyPI name ``ckx`` belongs to an unrelated project, so no doc or hint may ask pip for it;
an install hint names the interpreter that needs the module; the README's commands work for a
newcomer in a new shell, on the embedded default and on their own model and data."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, ckx_process, shared_data_root

PIP_INSTALL = re.compile(r"\bpip3?(?:\.\d+)?\s+install\b([^\n`;&|)]*)")
# folders that are not the project's own text: environments, builds, VCS, caches
SKIP_DIRS = {".git", "build", "dist", "node_modules", "__pycache__", ".pytest_cache"}
SKIP_SUFFIXES = {".onnx", ".png", ".jpg", ".zip", ".gz", ".whl", ".pyc", ".so", ".pt"}


def pip_targets_named_ckx(text: str) -> list[str]:
    """Every ``pip install ...`` in ``text`` whose requirements include the distribution ``ckx``
    (with or without extras or a version), quoted or not."""
    bad = []
    for m in PIP_INSTALL.finditer(text):
        for word in m.group(1).split():
            req = word.strip("'\"\\,.:")
            if re.fullmatch(r"ckx(\[[^\]]*\])?([<>=!~;@ ].*)?", req, re.I):
                bad.append(m.group(0).strip())
    return bad


def project_text_files(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d
            for d in dirnames
            if d not in SKIP_DIRS and not d.startswith(".venv") and not d.endswith(".egg-info")
        ]
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix in SKIP_SUFFIXES or path.stat().st_size > 2_000_000:
                continue
            try:
                yield path, path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue


def test_the_pip_install_detector_sees_every_form():
    ask = "pip" + " install"  # never written whole in this file either
    for text in (
        f"{ask} ckx",
        f"run `{ask} 'ckx[plot]'` first",
        f'python -m {ask} -U "ckx[serve,ray]"',
        f"{ask} numpy ckx==0.1",
        f'{ask.replace("pip", "pip3")} --user ckx",',  # as in Python source
    ):
        assert pip_targets_named_ckx(text), text
    for text in (
        f"{ask} -e '.[plot]'",
        f"{ask} ckx-automation",
        f"{ask} ckxprogresspkg (into /tmp/ckx-home)",
        f"{ask} 'matplotlib>=3.6' && ckx plot",
        "pip uninstall -y ckx",
    ):
        assert not pip_targets_named_ckx(text), text


def test_no_doc_or_hint_asks_pip_for_the_unrelated_ckx_project():
    found = {
        str(path.relative_to(ROOT)): hits
        for path, text in project_text_files(ROOT)
        if (hits := pip_targets_named_ckx(text))
    }
    assert not found, f"pip pointed at PyPI's unrelated 'ckx' project: {found}"


def test_the_distribution_name_is_not_ckx_and_extras_refer_to_it():
    from importlib import metadata

    from ckx.core.version import DISTRIBUTION

    pyproject = (ROOT / "pyproject.toml").read_text()
    name = re.search(r'^name = "([^"]+)"', pyproject, re.M)
    assert name and name.group(1) == DISTRIBUTION != "ckx"
    # the extras that gather others name the distribution itself
    assert f'"{DISTRIBUTION}[onnx,plot,rclone,ray,serve]"' in pyproject
    assert not re.search(r'"ckx\[', pyproject)
    assert re.search(r'^ckx = "ckx.app.cli:main"', pyproject, re.M)  # the command stays ckx
    assert metadata.version(DISTRIBUTION)  # what this test run has installed


def test_a_missing_extra_names_the_interpreter_that_runs_ckx(monkeypatch):
    from ckx.core.errors import MissingDependencyError
    from ckx.experiments import dashboard

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were not installed
    with pytest.raises(MissingDependencyError) as err:
        dashboard._pyplot()
    hint = err.value.hint or ""
    command = hint.split(": ", 1)[1]
    argv = shlex.split(command)
    assert argv[:4] == [sys.executable, "-m", "pip", "install"], hint
    assert any(a.startswith("matplotlib") for a in argv[4:]), hint
    # the command works as printed (here everything is installed: nothing to fetch)
    monkeypatch.delitem(sys.modules, "matplotlib")
    p = subprocess.run([*argv, "--no-index"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_od_bench_names_the_interpreter_that_lacks_the_module():
    sys.path.insert(0, str(ROOT / "programs" / "od-bench"))
    try:
        from odbench.errors import missing_module
    finally:
        sys.path.remove(str(ROOT / "programs" / "od-bench"))
    hint = missing_module("cv2").hint or ""
    assert hint.endswith(f"{shlex.quote(sys.executable)} -m pip install opencv-python-headless")


def readme_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first = re.match(r"# ckx\n\n```bash\n(.*?)```", text, re.S)
    assert first, "README.md must open with its command block"
    lines = first.group(1).splitlines()
    assert len(lines) == 2, lines
    assert "ckx run program:od-bench --cmd_key=accuracy-offline" in lines[0]
    assert lines[1].endswith("&& .venv/bin/python -m pytest")


def test_the_readme_makes_ckx_reachable_before_it_uses_it_bare():
    """The first command installs into .venv; in a new shell plain ``ckx`` is only found once
    the README has said how (``source .venv/bin/activate``)."""
    text = (ROOT / "README.md").read_text()
    first_bare = min(
        text.index(line)
        for block in readme_blocks()[1:]
        for line in block.splitlines()
        if line.startswith("ckx ")
    )
    told = text.find("source .venv/bin/activate")
    assert 0 <= told < first_bare


def test_source_venv_activate_puts_ckx_on_path_in_a_new_shell():
    activate = ROOT / ".venv" / "bin" / "activate"
    if not activate.is_file() or Path(sys.prefix).resolve() != activate.parent.parent.resolve():
        pytest.skip("the tests do not run from the README's .venv")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"  # a new shell: nothing of ckx's on PATH
    p = subprocess.run(
        ["bash", "-c", "source .venv/bin/activate && ckx --version"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0 and p.stdout.startswith("ckx "), p


@pytest.mark.realdata
def test_the_readme_own_model_and_data_commands_plan(ckx_home):
    """The README's "own model and data" block, on the real SSD-MobileNet and COCO copy of
    ../shared/data, each ``ckx run`` planned (``--plan``): every option is a real input."""
    data = shared_data_root()
    model = (
        data
        / "models/ssd-mobilenet-v1-quant-coco/ssd_mobilenet_v1_coco_quant_2018_06_29_mlperf_io.onnx"
    )
    coco = data / "coco2017-val-mini"
    if not model.is_file() or not coco.is_dir():
        pytest.skip(f"no real model and data set under {data}")
    (block,) = [b for b in readme_blocks() if "--model_path=" in b]
    commands = [line.split("#")[0] for line in block.splitlines() if line.startswith("ckx ")]
    assert any("--path=" in c for c in commands) and any("--dataset_path=" in c for c in commands)
    for command in commands:
        argv = shlex.split(
            command.replace("/data/ssd_mobilenet.onnx", str(model)).replace("/data/coco", str(coco))
        )[1:]
        if argv[0] == "run":
            argv.append("--plan")
        p = ckx_process(ckx_home, *argv)
        assert p.returncode == 0, (command, p.stdout, p.stderr)
    assert f"registered copy {coco}" in p.stdout  # the last run uses the registered copy
