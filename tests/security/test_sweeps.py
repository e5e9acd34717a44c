"""Issue 20, sweeps: huge numbers and damaged sweep files are clear errors that say how to
recover, and concurrent sweeps into one experiment keep the sweep document's counts true."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from tests.sweeps.conftest import experiment_points, sweep_doc


def test_a_range_of_huge_numbers_is_a_usage_error(cli, sweepy):
    r = cli("benchmark", "program:sweepy", "--cmd_key=fast", "--sweep.value=1:" + "9" * 5000)
    assert r.code == 2, r
    assert "--sweep.value=1:999" in r.err and "too large for a range" in r.err
    assert "Traceback" not in r.err and len(r.err) < 2000


def _damage(f, how: str) -> None:
    if how == "truncated":
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    elif how == "garbage":
        f.write_bytes(b"\x00\xff garbage \x89PNG")
    else:
        doc = json.loads(f.read_text())
        doc["configurations"] = "oops"
        f.write_text(json.dumps(doc))


@pytest.mark.parametrize("how", ["truncated", "garbage", "configurations"])
def test_resume_with_a_damaged_sweep_file_names_it_and_the_way_back(cli, sweepy, ckx_home, how):
    args = ("benchmark", "program:sweepy", "--cmd_key=fast", "--sweep.value=1,2", "--record")
    args += ("--record_uoa=dmg", "--quiet")
    assert cli(*args).code == 0
    (f,) = (ckx_home / "repos/local/experiment/dmg/sweeps").glob("*.json")
    _damage(f, how)
    r = cli(*args, "--resume")
    assert r.code == 4, r
    assert f"the sweep file {f} is damaged" in r.err and "Traceback" not in r.err
    assert "--resume" in r.err and f"mv {f} {f}.damaged" in r.err
    show = cli("show", "experiment:dmg")
    assert show.code == 0 and "is damaged" in show.out + show.err, show  # shown, not a crash
    f.rename(f.with_name(f.name + ".damaged"))  # what the hint says
    again = cli(*args, "--resume")
    assert again.code == 0, again
    doc = sweep_doc(ckx_home, "dmg")
    assert [c["repetitions"] for c in doc["configurations"]] == [1, 1]  # rebuilt from the points
    assert len(experiment_points(ckx_home, "dmg")) == 2


GATED_META = """\
alias: gated
uid: 9a7ed9a7ed9a7ed0
automation_alias: program
tags: [program, gated]
cache: false
characteristics_file: chars.json
run_cmds:
  go: {desc: "waits at a gate"}
input_mapping:
  value: GATED_VALUE
new_env_keys: [CKX_RUN_DIR]
"""
# The first run of a value waits while the file GATE.VALUE exists; every later run passes.
GATED_RUN = """\
#!/usr/bin/env bash
if mkdir "$GATE.$GATED_VALUE.first" 2>/dev/null; then
  while [ -e "$GATE.$GATED_VALUE" ]; do sleep 0.05; done
fi
printf '{"value": %s}\\n' "$GATED_VALUE" > "$CKX_RUN_DIR/chars.json"
"""


def _gated_repo(root):
    d = root / "program" / "gated"
    d.mkdir(parents=True)
    (root / "repo.yaml").write_text("alias: gt\nuid: 9a7ed9a7ed9a7ed1\n")
    (d / "meta.yaml").write_text(GATED_META)
    (d / "run.sh").write_text(GATED_RUN)
    (d / "run.sh").chmod(0o755)
    return root


def test_concurrent_identical_sweeps_count_every_repetition(cli, tmp_path, ckx_home):
    """Sweep A records value 1, then waits at value 2 while sweep B (the same command) runs
    whole; A then finishes. Each value has 2 repetitions, and the sweep document says so."""
    assert cli("add", "repo:gt", f"--path={_gated_repo(tmp_path / 'gt')}").code == 0
    gate = tmp_path / "gate"
    (tmp_path / "gate.2").touch()
    args = ["benchmark", "program:gated", "--cmd_key=go", "--sweep.value=1,2,3,4"]
    args += [f"--env.GATE={gate}", "--record", "--record_uoa=busy", "--quiet"]
    a = subprocess.Popen(
        [sys.executable, "-m", "ckx", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "gate.2.first").exists():  # A has recorded 1, waits at 2
            assert a.poll() is None and time.monotonic() < deadline, a.communicate()
            time.sleep(0.05)
        b = cli(*args)
        assert b.code == 0, b
    finally:
        (tmp_path / "gate.2").unlink()
        out = a.communicate(timeout=120)
    assert a.returncode == 0, out
    points = {p["id"]: len(p["repetitions"]) for p in experiment_points(ckx_home, "busy")}
    assert sorted(points.values()) == [2, 2, 2, 2]
    doc = sweep_doc(ckx_home, "busy")
    assert [(c["point"], c["repetitions"]) for c in doc["configurations"]] == [
        (c["point"], points[c["point"]]) for c in doc["configurations"]
    ]
    assert [c["status"] for c in doc["configurations"]] == ["done"] * 4


@pytest.mark.slow  # Ray's import and connection attempts
def test_an_unreachable_ray_cluster_is_a_message_within_seconds(cli, sweepy, tmp_path):
    pytest.importorskip("ray")
    args = ("benchmark", "program:sweepy", "--cmd_key=fast", "--sweep.value=1,2")
    start = time.monotonic()
    r = cli(*args, "--executor=ray", "--ray_address=127.0.0.1:1")  # nothing listens there
    assert r.code == 2, r
    assert "cannot reach a Ray cluster at 127.0.0.1:1" in r.err and "ray start --head" in r.err
    assert time.monotonic() - start < 60
    # something listens but never answers as Ray would: the wait is bounded all the same
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        start = time.monotonic()
        env = {"CKX_RAY_CONNECT_TIMEOUT": "4"}  # the default is 45 s
        r = cli(*args, "--executor=ray", f"--ray_address=127.0.0.1:{port}", env=env)
    assert r.code == 2, r
    assert f"at 127.0.0.1:{port}: no answer within 4 s (CKX_RAY_CONNECT_TIMEOUT" in r.err
    assert time.monotonic() - start < 40 and "Traceback" not in r.err
