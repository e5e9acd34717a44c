"""Issue 20 (items 12, 13) and issue 19 (small traps): what kill -9 leaves in an experiment
or a repo is consistent or swept, ``ckx zip`` never replaces a file silently, and an
experiment name found in two repos is said to be."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT, ckx_process

from .conftest import access

#: Put in front of sys.path as ``sitecustomize``: after ``MODULE.FUNCTION`` returns for an
#: argument ending with SUFFIX (``CKX_TEST_KILL_AT=MODULE:FUNCTION:SUFFIX``), the process
#: kills itself with SIGKILL: a kill -9 at the worst moment, every time.
KILL_HOOK = """\
import importlib, os, signal
_mod, _fn, _suffix = os.environ["CKX_TEST_KILL_AT"].split(":")
_m = importlib.import_module(_mod)
_orig = getattr(_m, _fn)
def _hooked(*a, **k):
    out = _orig(*a, **k)
    if str(a[0] if a else "").endswith(_suffix):
        os.kill(os.getpid(), signal.SIGKILL)
    return out
setattr(_m, _fn, _hooked)
"""


def _killed_at(home: Path, tmp_path: Path, where: str, *args: str) -> subprocess.CompletedProcess:
    hook = tmp_path / "killhook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(KILL_HOOK)
    path = os.pathsep.join([str(hook), str(ROOT)])
    env = {"PYTHONPATH": path, "CKX_TEST_KILL_AT": where}
    p = ckx_process(home, *args, env=env)
    assert p.returncode == -9, (p.returncode, p.stderr)
    return p


def test_kill_9_while_recording_leaves_no_count_that_disagrees_with_the_points(
    tmp_path, ckx_home, synth, cli
):
    bench = ("benchmark", "program:synth", "--cmd_key=fast", "--record", "--record_uoa=k")
    assert cli(*bench, "--quiet").code == 0
    # killed right after point.json is written, before meta.yaml is
    _killed_at(ckx_home, tmp_path, "ckx.experiments.records:_write_json:point.json", *bench)
    exp = ckx_home / "repos" / "local" / "experiment" / "k"
    (pfile,) = exp.glob("points/*/point.json")
    reps = len(json.loads(pfile.read_text())["repetitions"])
    assert reps == 2
    meta = access(action="load", automation="experiment", entry="k")["meta"]
    for key, true in (("repetitions", reps), ("points", 1)):
        assert meta.get(key, true) == true, (key, meta)  # no count, or the true one
    show = cli("show", "experiment:k")
    assert "1 point(s), 2 repetition(s)" in show.out, show
    assert cli(*bench, "--quiet").code == 0  # the killed recorder's lock does not block
    assert len(json.loads(pfile.read_text())["repetitions"]) == 3


def test_what_a_killed_unzip_left_is_swept_at_the_next_start(tmp_path, ckx_home, synth, cli):
    assert (
        cli("benchmark", "program:synth", "--cmd_key=fast", "--record", "--record_uoa=z").code == 0
    )
    frag = tmp_path / "z.zip"
    assert cli("zip", "experiment:z", f"--out={frag}").code == 0
    assert cli("add", "repo:dst").code == 0
    dst = ckx_home / "repos" / "dst"
    # killed right after the archive is extracted into the staging folder
    where = "ckx.artifacts.archive:extract:" + "z.zip"
    _killed_at(ckx_home, tmp_path, where, "unzip", "repo:dst", f"--zip={frag}")
    left = [p.name for p in dst.iterdir() if p.name.startswith(".tmp-unzip-")]
    assert left, "the kill left no staging folder: the test does not test anything"
    # a staging folder of a live process (this test's) is never taken away
    from ckx.core.leftovers import staging_dir

    live = staging_dir(dst, "unzip")
    live.mkdir()
    r = cli("ls", "experiment")  # the next start: the repo's root changed, its index rescans
    assert r.code == 0, r
    assert sorted(p.name for p in dst.iterdir() if p.name.startswith(".tmp-")) == [live.name]
    live.rmdir()
    assert cli("unzip", "repo:dst", f"--zip={frag}").code == 0  # and the unzip itself works


def test_zip_never_replaces_an_archive_silently(tmp_path, ckx_home, synth, cli):
    assert (
        cli("benchmark", "program:synth", "--cmd_key=fast", "--record", "--record_uoa=w").code == 0
    )
    (tmp_path / "ckr.zip").write_bytes(b"someone else's archive")
    for args in (("zip", "experiment:w"), ("zip", "repo:local")):
        r = cli(*args, cwd=tmp_path)
        assert r.code == 12, r  # ConflictError
        assert "ckr.zip exists" in r.err and "--overwrite" in r.err
        assert (tmp_path / "ckr.zip").read_bytes() == b"someone else's archive"
    r = cli("zip", "experiment:w", "--overwrite", cwd=tmp_path)
    assert r.code == 0, r
    assert (tmp_path / "ckr.zip").read_bytes()[:2] == b"PK"


def test_show_says_when_an_experiment_name_is_in_two_repos(tmp_path, ckx_home, synth, cli):
    assert (
        cli("benchmark", "program:synth", "--cmd_key=fast", "--record", "--record_uoa=twice").code
        == 0
    )
    frag = tmp_path / "t.zip"
    assert cli("zip", "experiment:twice", f"--out={frag}").code == 0
    assert cli("add", "repo:other").code == 0
    assert cli("unzip", "repo:other", f"--zip={frag}").code == 0
    r = cli("show", "experiment:twice")
    assert r.code == 0, r
    assert "experiment 'twice' exists in 2 repos (local, other)" in r.err
    assert "local:experiment:twice" in r.err
    one = cli("show", "local:experiment:twice")
    assert one.code == 0 and "exists in 2 repos" not in one.err
