"""Issue 20 item 3 and issue 19 item 11: a replay never runs an interpreter or a program named
by a record (an imported ``ckr.zip`` can name any file of this machine); it uses what this
machine resolves today and says which, unless its own command line names one; and it says
when the recorded interpreter (a venv's python) is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

from .conftest import experiment_meta, make_zip

PYPROG_META = """\
alias: pyprog
uid: 9e9e9e9e9e9e9e91
automation_alias: program
tags: [program, pyprog]
cache: false
characteristics_file: chars.json
run_cmds:
  go: {desc: "says which python ran it"}
deps:
  - tags: get,python3
    names: [python]
new_env_keys: [CKX_RUN_DIR]
"""
PYPROG_RUN = """\
#!/usr/bin/env bash
"$CKX_PYTHON_BIN_WITH_PATH" -c 'import json, os, sys
json.dump({"python": sys.executable, "ok": 1}, open(os.environ["CKX_RUN_DIR"] + "/chars.json", "w"))'
"""


def _pyprog(root: Path, cli) -> None:
    d = root / "program" / "pyprog"
    d.mkdir(parents=True)
    (root / "repo.yaml").write_text("alias: py\nuid: 9e9e9e9e9e9e9e90\n")
    (d / "meta.yaml").write_text(PYPROG_META)
    (d / "run.sh").write_text(PYPROG_RUN)
    (d / "run.sh").chmod(0o755)
    assert cli("add", "repo:py", f"--path={root}").code == 0


BENCH = ("benchmark", "program:pyprog", "--cmd_key=go", "--record", "--quiet")


def _point(home: Path, name: str) -> tuple[Path, dict]:
    (f,) = (home / "repos/local/experiment" / name / "points").glob("*/point.json")
    return f, json.loads(f.read_text())


def test_a_replay_never_runs_an_interpreter_a_record_names(tmp_path, ckx_home, cli):
    _pyprog(tmp_path / "py", cli)
    assert cli(*BENCH, "--record_uoa=mine").code == 0
    f, point = _point(ckx_home, "mine")
    marker = tmp_path / "pwned"
    anything = tmp_path / "elsewhere" / "python3"  # outside any experiment: an existing file
    anything.parent.mkdir()
    anything.write_text(f'#!/bin/sh\ntouch "{marker}"\necho "Python 3.11.7"\n')
    anything.chmod(0o755)
    point["inputs"]["env"]["CKX_PYTHON_BIN_WITH_PATH"] = str(anything)
    lock = next(iter(point["locks"].values()))
    lock["request"]["env"]["CKX_PYTHON_BIN_WITH_PATH"] = str(anything)
    lock["request"]["env"]["LD_PRELOAD"] = str(anything)
    lock["request"]["adr"] = {"python": {"env": {"CKX_PYTHON_BIN_WITH_PATH": str(anything)}}}
    py_node = next(n for n in lock["nodes"] if n["alias"] == "get-python3")
    py_node["variations"] = [f"custom-path.{anything}"]
    frag = make_zip(
        tmp_path / "evil.zip",
        {
            "experiment/evil/meta.yaml": experiment_meta("evil", "00000000000000e2"),
            f"experiment/evil/points/{point['id']}/point.json": json.dumps(point),
        },
    )
    assert cli("unzip", "repo", f"--zip={frag}").code == 0
    r = cli("replay", "experiment:evil", "--json")
    assert r.code == 0, r
    assert not marker.exists()  # the record's interpreter never ran
    for named in (
        "env CKX_PYTHON_BIN_WITH_PATH=",
        "env LD_PRELOAD=",
        "adr.python.env ",
        "_custom-path.",
    ):
        assert named in r.err, (named, r.err)
    assert "a replay never runs a program, an interpreter or a search path" in r.err
    out = r.json()
    assert out["characteristics"]["python"] == sys.executable  # this machine's own
    assert out["tools"] == [
        f"CKX_PYTHON_BIN_WITH_PATH={sys.executable} (get-python3 {'.'.join(map(str, sys.version_info[:3]))})"
    ]
    # the user may name one on the command line: that one runs
    link = tmp_path / "chosen" / "python3"
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    r = cli("replay", "experiment:evil", "--json", f"--env.CKX_PYTHON_BIN_WITH_PATH={link}")
    assert r.code == 0, r
    assert r.json()["characteristics"]["python"] == str(link) and not marker.exists()


def test_a_replay_says_when_the_recorded_interpreter_is_gone(tmp_path, ckx_home, cli):
    """Recorded with the python of a venv that is deleted since: the replay says so, and
    runs on the python this machine resolves today."""
    _pyprog(tmp_path / "py", cli)
    venv = tmp_path / "venv-gone-soon"
    venv.symlink_to(Path(sys.prefix))  # a venv at another place (the same files)
    python = venv / "bin" / Path(sys.executable).name
    for args in (("run", "get,python3", "--quiet"), (*BENCH, "--record_uoa=old")):
        p = subprocess.run(
            [str(python), "-m", "ckx", *args],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=ROOT,
            env={**os.environ, "CKX_HOME": str(ckx_home)},
        )  # fmt: skip
        assert p.returncode == 0, p.stderr  # the interpreter was known before the benchmark
    _, point = _point(ckx_home, "old")
    assert point["repetitions"][0]["characteristics"]["python"] == str(python)
    venv.unlink()  # the venv is gone
    r = cli("replay", "experiment:old", "--json")
    assert r.code == 0, r
    assert "the recorded get-python3" in r.err and f"recorded path {venv}" in r.err, r.err
    assert "the replay uses the one this machine resolves today" in r.err
    assert r.json()["characteristics"]["python"] == sys.executable
    assert str(python) not in json.dumps(r.json()["tools"])
