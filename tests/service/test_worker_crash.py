"""A crash inside a request (native code killing its process) fails that request alone."""

from __future__ import annotations

import ckx

from .conftest import start_server

CRASH_META = """\
alias: crash-hook
uid: c4a5c4a5c4a5c4a5
automation_alias: script
tags: [crash, hook]
"""
CRASH_HOOK = """\
import os, signal


def preprocess(i):
    os.kill(os.getpid(), signal.SIGKILL)  # what a segfault in native code looks like
"""


def test_a_worker_that_dies_fails_only_its_request(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CKX_HOME", str(home))
    entry = tmp_path / "crash-repo" / "script" / "crash-hook"
    entry.mkdir(parents=True)
    (tmp_path / "crash-repo" / "repo.yaml").write_text("alias: crash\nuid: c4a5c4a5c4a5c4a6\n")
    (entry / "meta.yaml").write_text(CRASH_META)
    (entry / "customize.py").write_text(CRASH_HOOK)
    added = ckx.access(
        {"action": "add", "automation": "repo", "entry": "crash", "path": str(entry.parents[1])}
    )
    assert added["return"] == 0, added
    s = start_server(home, "--workers=1")
    try:
        with s.client() as c:
            out = c.access({"action": "run", "automation": "script", "tags": "crash,hook"})
            assert (
                c.last_status == 500 and "worker process running this request died" in out["error"]
            )
            ok = c.access({"action": "search", "automation": "script", "tags": "crash"})
            assert c.last_status == 200 and ok["list"][0]["alias"] == "crash-hook"
            job = c.wait(c.submit({"action": "run", "automation": "script", "tags": "crash,hook"}))
            assert job["status"] == "failed" and "killed by signal 9" in job["reason"]
    finally:
        s.stop()
