"""Lock files (write, replay, refuse changed entries and newer formats) and the cache/soft/env
automations."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from ckx.core.errors import ResolutionError, UsageError
from ckx.engine import make_plan, run_request
from ckx.engine.cache import CacheStore, parse_expiration
from ckx.engine.lockfile import LOCK_VERSION, read_lock

from .conftest import write_script


def _python_like(script_repo):
    write_script(script_repo, "app", {"deps": [{"tags": "py", "names": ["py"]}]})
    write_script(
        script_repo,
        "py",
        {
            "versions": {"3.10": {}, "3.11": {}, "3.12": {}},
            "variations": {
                "slim": {},
                "full": {"default": True, "group": "g"},
                "min": {"group": "g"},
            },
        },
    )


def test_lock_replays_versions_and_variations(ectx, script_repo, tmp_path):
    _python_like(script_repo)
    lock_file = tmp_path / "ckx.lock"
    out = run_request(
        ectx,
        {
            "query": "app",
            "adr": {"py": {"version": "3.10", "tags": "_min"}},
            "plan": True,
            "save_lock": str(lock_file),
        },
    )
    assert "py _min v3.10" in out["plan_text"]
    lock = read_lock(lock_file)
    assert lock["ckx_lock"] == LOCK_VERSION
    assert [(n["alias"], n["version"], n["variations"]) for n in lock["nodes"]] == [
        ("app", None, []),
        ("py", "3.10", ["min"]),
    ]
    # replaying without the --adr gives the locked graph, not the newest version
    plan = make_plan(ectx, {"lock": str(lock_file)})
    assert [(n.entry.alias, n.version, n.variations) for n in plan.nodes] == [
        ("app", None, ()),
        ("py", "3.10", ("min",)),
    ]
    assert plan.to_lock()["nodes"][1]["meta_sha256"] == lock["nodes"][1]["meta_sha256"]


def test_lock_refuses_changed_entries_and_newer_formats(ectx, script_repo, tmp_path):
    _python_like(script_repo)
    lock_file = tmp_path / "ckx.lock"
    run_request(ectx, {"query": "app", "plan": True, "save_lock": str(lock_file)})
    (script_repo / "script" / "py" / "run.sh").write_text("echo changed\n")
    with pytest.raises(ResolutionError, match="changed since the lock was written"):
        make_plan(ectx, {"lock": str(lock_file)})
    data = json.loads(lock_file.read_text())
    data["ckx_lock"] = LOCK_VERSION + 1
    lock_file.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="newer than this ckx understands"):
        read_lock(lock_file)


def test_cache_expiration_and_missing_paths_invalidate(ectx, script_repo, tmp_path):
    target = tmp_path / "made"
    write_script(
        script_repo,
        "maker",
        {
            "cache": True,
            "cache_expiration": "1h",
            "new_env_keys": ["MADE"],
            "env": {"TARGET": str(target)},
        },
        {"run.sh": 'echo x > "$TARGET"\necho "MADE=$TARGET" >> "$CKX_OUTPUT_ENV_FILE"\n'},
    )
    first = run_request(ectx, {"query": "maker"})
    assert first["status"] == "ran"
    store = CacheStore(ectx.home / "repos" / "local" / "cache")
    (rec,) = store.records()
    assert rec.meta["paths"] == [str(target)] and rec.meta["expires"] > time.time() + 3000
    assert run_request(ectx, {"query": "maker"})["status"] == "cached"
    target.unlink()
    assert rec.problems() == [f"recorded path {target} is gone"]
    assert run_request(ectx, {"query": "maker"})["status"] == "ran"
    assert (
        parse_expiration("30m") == 1800
        and parse_expiration(5) == 5
        and parse_expiration(None) is None
    )


def test_renew_replaces_and_skip_cache_records_nothing(ectx, script_repo):
    write_script(script_repo, "tool", {"cache": True}, {"run.sh": "true\n"})
    store = CacheStore(ectx.home / "repos" / "local" / "cache")
    run_request(ectx, {"query": "tool"})
    (old,) = store.records()
    run_request(ectx, {"query": "tool", "renew": True})
    (new,) = store.records()
    assert new.uid != old.uid
    assert run_request(ectx, {"query": "tool", "skip_cache": True})["status"] == "ran"
    assert [r.uid for r in store.records()] == [new.uid]


def test_ambiguous_cached_results_pick_newest_version_and_say_so(ectx, script_repo):
    import io

    from ckx.core.ui import UI

    write_script(
        script_repo,
        "tool",
        {"cache": True},
        {"run.sh": 'echo "CKX_DETECTED_VERSION=$V" >> "$CKX_OUTPUT_ENV_FILE"\n'},
    )
    ectx.environ["V"] = "1.0"
    run_request(ectx, {"query": "tool"})
    ectx.environ["V"] = "2.0"
    run_request(ectx, {"query": "tool", "new": True})
    err = io.StringIO()
    ectx.ui = UI(mode="con", quiet=True, interactive=False, out=io.StringIO(), err=err)
    out = run_request(ectx, {"query": "tool"})
    assert out["status"] == "cached" and out["version"] == "2.0"
    assert "2 cached results of tool; chose 0)" in err.getvalue()


def test_cache_automation_show_find_rm(ectx, script_repo):
    from ckx.app.api import run

    write_script(
        script_repo, "tool", {"cache": True, "tags": ["tool", "thing"]}, {"run.sh": "true\n"}
    )
    run_request(ectx, {"query": "tool"})
    shown = run(ectx, {"action": "show", "automation": "cache", "tags": "thing"})
    assert [r["script"] for r in shown["list"]] == ["tool"] and shown["list"][0]["valid"]
    with pytest.raises(UsageError, match="without confirmation"):
        run(ectx, {"action": "rm", "automation": "cache", "tags": "thing"})
    gone = run(ectx, {"action": "rm", "automation": "cache", "tags": "thing", "force": True})
    assert len(gone["removed"]) == 1
    assert run(ectx, {"action": "find", "automation": "cache", "tags": "thing"})["list"] == []


def test_detect_soft_registers_env_entries(ectx, tmp_path):
    from ckx.app.api import run

    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, ver in (("python3", "3.9.1"), ("python3.12", "3.12.4")):
        exe = bindir / name
        exe.write_text(f"#!/bin/sh\necho 'Python {ver}'\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    ectx.environ["PATH"] = str(bindir)
    out = run(ectx, {"action": "detect", "automation": "soft", "entry": "compiler.python"})
    assert sorted(r["version"] for r in out["list"]) == ["3.12.4", "3.9.1"]
    again = run(ectx, {"action": "detect", "automation": "soft", "entry": "compiler.python"})
    assert {r["uid"] for r in again["list"]} == {r["uid"] for r in out["list"]}, (
        "re-detection updates entries"
    )
    shown = run(ectx, {"action": "show", "automation": "env", "tags": "python,v3.12"})
    assert [r["path"] for r in shown["list"]] == [str(bindir / "python3.12")]
    os.unlink(bindir / "python3.12")
    assert not run(ectx, {"action": "show", "automation": "env", "tags": "v3.12"})["list"][0][
        "valid"
    ]


def test_get_python3_detects_and_fails_with_a_hint(ectx, tmp_path):
    import sys

    from ckx.core.errors import RunError

    out = run_request(
        ectx, {"query": "get,python3", "env": {"CKX_PYTHON_BIN_WITH_PATH": sys.executable}}
    )
    assert out["env"]["CKX_PYTHON_BIN_WITH_PATH"] == sys.executable
    assert out["version"] == ".".join(map(str, sys.version_info[:3]))
    assert out["env"]["+PATH"] == [os.path.dirname(sys.executable)]
    # without a choice, the interpreter running ckx is used (not whatever PATH finds first)
    ectx.environ["PATH"] = str(tmp_path)
    assert (
        run_request(ectx, {"query": "get,python3"})["env"]["CKX_PYTHON_BIN_WITH_PATH"]
        == sys.executable
    )
    with pytest.raises(RunError) as e:
        run_request(ectx, {"query": f"get,python3,_custom-path.{tmp_path / 'no-python'}"})
    assert "detection found no match" in e.value.message and "_custom-path" in e.value.hint


def test_get_generic_python_lib_detects_numpy(ectx):
    import sys

    import numpy

    out = run_request(
        ectx,
        {
            "query": "get,generic-python-lib,_numpy",
            "env": {"CKX_PYTHON_BIN_WITH_PATH": sys.executable},
        },
    )
    assert out["env"]["CKX_PYTHONLIB_NUMPY_VERSION"] == numpy.__version__
    assert out["env"]["CKX_NUMPY_VERSION"] == numpy.__version__


def test_detect_os(ectx):
    import platform

    out = run_request(ectx, {"query": "detect-os"})
    assert out["env"]["CKX_HOST_PLATFORM_FLAVOR"] == platform.machine()
    assert out["status"] == "ran"


def test_keep_in_store_shares_bytes_between_entries(ectx, script_repo):
    hook = (
        "def postprocess(i):\n"
        "    p = i.run_path / 'big.bin'\n"
        "    p.write_bytes(b'x' * 4096)\n"
        "    i.env['BIG'] = str(i.keep_in_store(p))\n"
    )
    write_script(
        script_repo,
        "big",
        {"cache": True, "new_env_keys": ["BIG"], "variations": {"a": {}, "b": {}}},
        {"customize.py": hook},
    )
    a = run_request(ectx, {"query": "big,_a"})["env"]["BIG"]
    b = run_request(ectx, {"query": "big,_b"})["env"]["BIG"]
    assert a != b
    assert os.stat(a).st_ino == os.stat(b).st_ino and open(a, "rb").read() == b"x" * 4096


def test_script_test_action_runs_run_inputs(ectx, script_repo):
    from ckx.app.api import run

    write_script(
        script_repo,
        "ok",
        {
            "tests": {"run_inputs": [{"variations_list": ["_a", "_b"]}]},
            "variations": {"a": {}, "b": {}},
        },
        {"run.sh": "true\n"},
    )
    out = run(ectx, {"action": "test", "automation": "script", "entry": "ok"})
    assert [(t["variations"], t["ok"]) for t in out["tests"]] == [("_a", True), ("_b", True)]


def test_a_lock_written_while_deps_were_cached_replays_where_they_are_not(
    ectx, script_repo, tmp_path
):
    """A cached node's deps are not planned, so they are not in the lock; replaying on a
    machine where that node must be built plans them freely (they were never pinned)."""
    write_script(script_repo, "leaf", {"cache": True}, {"run.sh": "echo leaf\n"})
    write_script(
        script_repo, "mid", {"cache": True, "deps": [{"tags": "leaf"}]}, {"run.sh": "echo mid\n"}
    )
    write_script(script_repo, "top", {"deps": [{"tags": "mid"}]}, {"run.sh": "echo top\n"})
    run_request(ectx, {"query": "top"})  # mid (and leaf) are now cached
    lock_file = tmp_path / "ckx.lock"
    run_request(ectx, {"query": "top", "save_lock": str(lock_file)})
    assert [n["alias"] for n in read_lock(lock_file)["nodes"]] == ["top", "mid"]
    from ckx.engine.cache import CacheStore

    store = CacheStore(ectx.home / "repos" / "local" / "cache")
    for rec in store.records():
        store.remove(rec)
    ectx.index.invalidate()
    out = run_request(ectx, {"query": "top", "lock": str(lock_file)})
    assert out["status"] == "ran"


def test_a_lock_file_is_read_once_per_request(ectx, script_repo, tmp_path, monkeypatch):
    """Its pins and its replay come from one reading: a lock file changed in between cannot
    pin one graph and replay another."""
    from ckx.engine import lockfile

    _python_like(script_repo)
    lock_file = tmp_path / "ckx.lock"
    run_request(ectx, {"query": "app", "plan": True, "save_lock": str(lock_file)})
    reads = []

    def counted(path):
        reads.append(path)
        return read_lock(path)

    monkeypatch.setattr(lockfile, "read_lock", counted)
    out = run_request(ectx, {"lock": str(lock_file), "plan": True})
    assert "deps: py _full v3.12" in out["plan_text"] and reads == [str(lock_file)]
