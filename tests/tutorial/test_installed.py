"""What was installed is what runs: registered copies and installed packages are found by
programs offline, `ckx run TAGS` finds packages, an active ckx venv is the interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import OFFLINE, small_coco


def test_a_registered_coco_copy_is_what_a_program_uses_offline(ckx, tmp_path):
    coco = small_coco(tmp_path / "coco")
    r = ckx(
        "install", "package", "--tags=dataset,coco,val,2017,full", f"--path={coco}", env=OFFLINE
    )
    assert r.code == 0, r
    assert f"CKX_DATASET_PATH={coco}" in r.out
    r = ckx(
        "run",
        "program:od-bench",
        "--cmd_key=accuracy-offline",
        "--model=ssd-mobilenet",
        "--plan",
        env=OFFLINE,
    )
    assert r.code == 0, r
    assert "dataset-coco-2017-val  [cached]" in r.out  # no download planned
    assert f"installed: registered copy {coco}" in r.out
    assert "fetch ssd_mobilenet_v1_coco_2018_01_28.onnx" in r.out  # the model is not there yet
    # the same lookup answers `ckx install package` without --path: it is installed
    r = ckx("install", "package", "--tags=dataset,coco,val,2017,full", env=OFFLINE)
    assert r.code == 0 and "done (cached)" in r.out and f"CKX_DATASET_PATH={coco}" in r.out, r


def test_a_subset_is_not_taken_for_the_full_set(ckx, tmp_path):
    coco = small_coco(tmp_path / "coco")
    assert ckx("install", "package", "--tags=dataset,coco,val", f"--path={coco}").code == 0
    r = ckx("install", "package", "--tags=dataset,coco,val,_subset.2", "--plan")
    assert r.code == 0 and "[run]" in r.out.splitlines()[0], r  # a different artefact


def _two_packages_repo(tmp_path):
    repo = tmp_path / "repo"
    for alias, uid, prio in (("pkg-a", "aaaaaaaaaaaaaaa1", 5), ("pkg-b", "aaaaaaaaaaaaaaa2", 0)):
        d = repo / "package" / alias
        d.mkdir(parents=True)
        (d / "meta.yaml").write_text(
            f"alias: {alias}\nuid: {uid}\nautomation_alias: package\npriority: {prio}\n"
            f"tags: [thing, {alias}]\ncache: true\nnew_env_keys: [THING]\n"
        )
        (d / "run.sh").write_text(f'echo "THING={alias}" >> "$CKX_OUTPUT_ENV_FILE"\n')
    d = repo / "script" / "uses-thing"
    d.mkdir(parents=True)
    (d / "meta.yaml").write_text(
        "alias: uses-thing\nuid: aaaaaaaaaaaaaaa3\nautomation_alias: script\n"
        "tags: [uses-thing]\ndeps: [{tags: thing}]\nnew_env_keys: [THING]\n"
    )
    return repo


def test_an_installed_package_is_preferred_over_an_uninstalled_match(ckx, tmp_path):
    repo = _two_packages_repo(tmp_path)
    assert ckx("add", "repo:two", f"--path={repo}").code == 0
    r = ckx("run", "uses-thing", "--plan")
    assert "pkg-a" in r.out and "pkg-b" not in r.out, r  # by priority, nothing installed
    assert ckx("install", "package:pkg-b").code == 0
    r = ckx("run", "uses-thing", "--quiet")
    assert r.code == 0 and "THING=pkg-b" in r.out, r


def test_ckx_run_tags_finds_packages(ckx):
    r = ckx("run", "lib,python-package,numpy", "--quiet")
    assert r.code == 0 and "CKX_PYTHONLIB_NUMPY_VERSION=" in r.out, r


def test_ckx_run_of_an_ambiguous_query_says_what_it_chose(ckx):
    r = ckx("run", "dataset,coco,val", "--plan")
    assert r.code == 0, r
    assert "2 entries match 'dataset,coco,val'; chose 0)" in r.err  # visible, not silent
    assert "package:dataset-coco-2017-val" in r.err  # the real data set is the default
    assert r.out.startswith("dataset-coco-2017-val  [run]")


def test_the_active_ckx_venv_is_the_interpreter_of_scripts_and_programs(ckx, ckx_home, tmp_path):
    r = ckx("create", "venv:t", "--template=empty")
    assert r.code == 0, r
    python = ckx_home / "venvs" / "t" / "bin" / "python"
    r = ckx("run", "get,python3", "--env.CKX_VENV=t", "--quiet")
    assert r.code == 0 and f"CKX_PYTHON_BIN_WITH_PATH={python}" in r.out, r
    r = ckx("run", "get,python3", "--quiet", env={"VIRTUAL_ENV": str(ckx_home / "venvs" / "t")})
    assert r.code == 0 and f"CKX_PYTHON_BIN_WITH_PATH={python}" in r.out, r
    # od-bench runs with it: its libraries are looked for in that (empty) venv, not in ckx's
    r = ckx("run", "program:od-bench", "--cmd_key=accuracy-offline", "--env.CKX_VENV=t", "--quiet")
    assert r.code == 6 and "get-generic-python-lib(_numpy)" in r.err, r
    assert f"numpy is not installed in {python}" in r.err  # detection only: nothing installed
    assert f"ckx install package:lib-python-numpy --env.CKX_PYTHON_BIN_WITH_PATH={python}" in r.err


def test_activate_exports_cks_venv_python_name(ckx, ckx_home):
    assert ckx("create", "venv:ck", "--template=empty").code == 0
    act = ckx_home / "venvs" / "ck" / "bin" / "activate"
    out = subprocess.run(
        [
            "bash",
            "-c",
            f'. "{act}"; echo "in=$CK_VENV_PYTHON_BIN"; deactivate; echo "out=$CK_VENV_PYTHON_BIN"',
        ],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
    ).stdout
    assert f"in={ckx_home / 'venvs' / 'ck' / 'bin' / 'python'}" in out and "out=\n" in out
    assert sys.executable  # (the venv is a real one: python -m venv)
