"""Cross-process locks: they exclude, explain who holds them, and recover from dead holders."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ckx.core.errors import LockTimeout
from ckx.core.locks import lock_file_for, path_lock, read_holder

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="uses fork and signals")


def _start(code: str) -> subprocess.Popen:
    """Run ``code`` in a child Python; wait (10 s at most) until it prints READY."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("READY"):
        proc.kill()
        raise AssertionError(f"child did not start: {line!r}")
    proc.ready_line = line  # type: ignore[attr-defined]
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=10)


def test_holder_is_recorded_while_held_and_cleared_after(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "entry"
    with path_lock(target, timeout=1, what="install coco") as me:
        holder = read_holder(lock_file_for(target))
        assert holder == me and holder.pid == os.getpid() and holder.what == "install coco"
    assert read_holder(lock_file_for(target)) is None
    with path_lock(target, timeout=0):  # free again at once
        pass


def test_timeout_names_the_holder_and_the_lock_file(tmp_path: Path) -> None:
    target = tmp_path / "entry"
    holder = _start(f"""
        import sys, time
        from ckx.core.locks import path_lock
        with path_lock({str(target)!r}, timeout=5, what="download coco"):
            print("READY", flush=True)
            time.sleep(30)
    """)
    try:
        with pytest.raises(LockTimeout) as err:
            with path_lock(target, timeout=0.3, what="install coco"):
                pass
        msg = err.value.message
        assert f"pid {holder.pid}" in msg and str(lock_file_for(target)) in msg
        assert '"download coco"' in msg and "to install coco" in msg
        assert err.value.hint and "stop it" in err.value.hint
    finally:
        _stop(holder)


def test_lock_of_a_killed_holder_is_free_at_once(tmp_path: Path) -> None:
    target = tmp_path / "entry"
    holder = _start(f"""
        import time
        from ckx.core.locks import path_lock
        with path_lock({str(target)!r}, timeout=5):
            print("READY", flush=True)
            time.sleep(30)
    """)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert read_holder(lock_file_for(target)).pid == holder.pid  # the record stayed behind
    with path_lock(target, timeout=2) as me:
        assert read_holder(lock_file_for(target)) == me


def test_lock_still_held_after_its_recorded_holder_died_is_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An OS lock can outlive its recorded holder: an orphaned child that inherited the locked
    # descriptor (older filelock versions do not close it at fork), or a lock file left on a
    # filesystem without flock. Simulate it: a process holds the raw flock while the holder
    # record names a process that has exited.
    target = tmp_path / "entry"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=10)
    lock_file = lock_file_for(target)
    orphan = _start(f"""
        import fcntl, json, os, socket, time
        fd = os.open({str(lock_file)!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        record = dict(pid={dead.pid}, host=socket.gethostname(), cmd="ckx install x",
                      what="build", since=time.time())
        with open({str(lock_file) + ".holder"!r}, "w") as f:
            json.dump(record, f)
        print("READY", flush=True)
        time.sleep(30)
    """)
    try:
        with pytest.raises(LockTimeout) as err:  # respected until stale_after has passed
            with path_lock(target, timeout=0.2, stale_after=5):
                pass
        assert f"pid {dead.pid}" in err.value.message
        caplog.set_level(logging.WARNING, logger="ckx.core.locks")
        with path_lock(target, timeout=5, stale_after=0.2) as me:
            assert read_holder(lock_file) == me
        assert f"pid {dead.pid}" in caplog.text and "stale lock" in caplog.text
    finally:
        _stop(orphan)


def test_a_live_holder_is_never_taken_over(tmp_path: Path) -> None:
    target = tmp_path / "entry"
    holder = _start(f"""
        import time
        from ckx.core.locks import path_lock
        with path_lock({str(target)!r}, timeout=5):
            print("READY", flush=True)
            time.sleep(30)
    """)
    try:
        with pytest.raises(LockTimeout):
            with path_lock(target, timeout=0.5, stale_after=0.05):
                pass
        assert holder.poll() is None
    finally:
        _stop(holder)


def test_waiter_gets_the_lock_only_after_the_holder_releases_it(tmp_path: Path) -> None:
    target, marker = tmp_path / "entry", tmp_path / "holder-finished"
    holder = _start(f"""
        import pathlib, time
        from ckx.core.locks import path_lock
        with path_lock({str(target)!r}, timeout=5):
            print("READY", flush=True)
            time.sleep(0.5)
            pathlib.Path({str(marker)!r}).write_text("done")  # last act while holding it
    """)
    try:
        with path_lock(target, timeout=10):
            assert marker.exists()
        assert holder.wait(timeout=10) == 0
    finally:
        _stop(holder)
