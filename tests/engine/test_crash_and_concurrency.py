"""Crash safety and concurrency of cache entries, with real `ckx` processes.

A run is killed with SIGKILL at several points; no half-made cache entry may remain and the
next run must succeed (and sweep the leftovers). Four processes asking for the same cacheable
node at once must run it once and all get its result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ckx.core.context import Context
from ckx.core.repos import Repo
from ckx.engine.cache import CacheStore

from .conftest import REPO_UID, write_script

ROOT = Path(__file__).resolve().parents[2]

# Waits while $GATE exists, after saying it got there: the test kills or releases it.
WAIT = (
    'touch "$MARK"; while [ -e "$GATE" ]; do read -t 0.05 < /dev/zero 2>/dev/null || true; done\n'
)


def _register(home: Path, repo: Path) -> None:
    ctx = Context(home)
    ctx.registry.add(Repo(alias="t", uid=REPO_UID, path=repo))


def _ckx(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CKX_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "ckx", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"ckx ended before reaching the kill point:\n{proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.02)


def _scripts(repo: Path, tmp: Path, point: str) -> None:
    mark, gate, log = tmp / "mark", tmp / "gate", tmp / "log"
    env = {"MARK": str(mark), "GATE": str(gate), "RUNLOG": str(log)}
    at = lambda p: WAIT if point == p else ""  # noqa: E731
    write_script(
        repo,
        "dep",
        {"cache": True, "env": env, "new_env_keys": ["DEP_*"]},
        {
            "run.sh": at("dep")
            + 'echo dep >> "$RUNLOG"\necho "DEP_DIR=$PWD" >> "$CKX_OUTPUT_ENV_FILE"\n'
        },
    )
    write_script(repo, "after", {"env": env}, {"run.sh": at("posthook")})
    hook = (
        (
            "import os, time\n\ndef postprocess(i):\n"
            "    open(os.environ.get('MARK') or i.env['MARK'], 'w').close()\n"
            "    while os.path.exists(i.env['GATE']):\n        time.sleep(0.05)\n"
        )
        if point == "postprocess"
        else ""
    )
    files = {
        "run.sh": at("run.sh")
        + 'echo top >> "$RUNLOG"\necho "TOP_OUT=$DEP_DIR/x" >> "$CKX_OUTPUT_ENV_FILE"\n'
    }
    if hook:
        files["customize.py"] = hook
    write_script(
        repo,
        "top",
        {
            "cache": True,
            "env": env,
            "deps": [{"tags": "dep"}],
            "posthook_deps": [{"tags": "after"}],
            "new_env_keys": ["TOP_*", "DEP_*"],
        },
        files,
    )


@pytest.mark.parametrize("point", ["dep", "run.sh", "posthook", "postprocess"])
def test_sigkill_leaves_no_half_made_entry(point, ckx_home, script_repo, tmp_path):
    _scripts(script_repo, tmp_path, point)
    _register(ckx_home, script_repo)
    (tmp_path / "gate").touch()
    proc = _ckx(ckx_home, "run", "script:top", "--quiet")
    _wait_for(tmp_path / "mark", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    store = CacheStore(ckx_home / "repos" / "local" / "cache")
    done = {r.meta["script_alias"] for r in store.records()}
    assert "top" not in done, "the killed node must not have a cache entry"
    leftovers = [
        p
        for p in store.root.iterdir()
        if not p.name.startswith(".") and not (p / "meta.json").exists()
    ]
    assert leftovers, "the killed build's folder should be there (without meta.json) until swept"
    for rec in store.records():
        assert rec.key and rec.meta.get("created"), f"incomplete entry {rec.path}"
    (tmp_path / "gate").unlink()
    again = _ckx(ckx_home, "run", "script:top", "--quiet", "--json")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    res = json.loads(out)
    assert res["status"] == "ran" and res["env"]["TOP_OUT"].endswith("/x")
    assert all(
        (p / "meta.json").exists() for p in store.root.iterdir() if not p.name.startswith(".")
    ), "the rerun must sweep what the killed run left"
    assert {r.meta["script_alias"] for r in store.records()} == {"dep", "top"}


def test_four_processes_run_a_node_once(ckx_home, script_repo, tmp_path):
    _scripts(script_repo, tmp_path, "run.sh")
    _register(ckx_home, script_repo)
    (tmp_path / "gate").touch()
    procs = [_ckx(ckx_home, "run", "script:top", "--quiet", "--json") for _ in range(4)]
    _wait_for(tmp_path / "mark", procs[0] if procs[0].poll() is None else procs[1])
    (tmp_path / "gate").unlink()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    ran = (tmp_path / "log").read_text().split()
    assert ran.count("top") == 1 and ran.count("dep") == 1, ran
    assert len({r["cache_uid"] for r in results}) == 1
    assert len({json.dumps(r["env"], sort_keys=True) for r in results}) == 1
    assert sum(r["status"] == "ran" for r in results) == 1
