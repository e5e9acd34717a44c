"""Finding 9: ordinary faults of the environment and of the command line are one clear message
and an exit code each, never a traceback."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import access

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed"])
def test_a_corrupt_index_is_rebuilt_with_a_warning(damage, cli, ckx_home):
    assert cli("ls", "script").code == 0
    index = ckx_home / "index.sqlite"
    for extra in ("-wal", "-shm"):
        Path(f"{index}{extra}").unlink(missing_ok=True)
    size = index.stat().st_size
    with open(index, "r+b") as f:
        if damage == "garbage":
            f.write(os.urandom(512))
        elif damage == "truncated":
            f.truncate(size // 3)
        else:
            f.seek(4096)
            f.write(bytes(8192))
    r = cli("ls", "script")
    assert r.code == 0, r
    assert "get-python3" in r.out and "rebuilt it" in r.err and "Traceback" not in r.err
    again = cli("ls", "script")
    assert again.code == 0 and "rebuilt" not in again.err


def test_ckx_home_that_is_a_file(tmp_path, cli):
    f = tmp_path / "not-a-folder"
    f.write_text("x")
    r = cli("ls", "script", env={"CKX_HOME": str(f)})
    assert r.code == 13 and "is a file, not a folder" in r.err and "Traceback" not in r.err
    out = access(action="ls", automation="script", home=str(f))
    assert out["return"] == 13


def test_full_disk_while_writing_an_entry(ckx_home, monkeypatch):
    from ckx.core import atomic

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "write_text", full)
    out = access(action="add", automation="script", entry="new-one", tags="a")
    assert out["return"] == 13, out
    assert "No space left on device" in out["error"] and "free some space" in out["hint"]
    scripts = ckx_home / "repos" / "local" / "script"
    assert not scripts.exists() or list(scripts.iterdir()) == []  # nothing half-made


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def _ckx_on_tmpfs(home: Path, options: str, *args: str) -> subprocess.CompletedProcess:
    """Run ckx with CKX_HOME on a tmpfs of its own (a private mount namespace: the mount goes
    away with the process, whatever happens)."""
    script = f'mount -t tmpfs -o {options} tmpfs "$CKX_HOME" && exec "$0" -m ckx "$@"'
    env = {**os.environ, "CKX_HOME": str(home)}
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces")


@needs_mount
def test_read_only_ckx_home(tmp_path):
    """Reads work on a private copy of the index (said on stderr); writes fail clearly."""
    home = tmp_path / "ro"
    home.mkdir()
    r = _ckx_on_tmpfs(home, "ro,size=1m", "ls", "script")
    assert r.returncode == 0, r
    assert "builtin:script:get-python3" in r.stdout
    assert f"CKX_HOME {home} is read-only" in r.stderr and "private copy" in r.stderr
    r = _ckx_on_tmpfs(home, "ro,size=1m", "add", "script:x", "--tags=x")
    assert r.returncode == 13, r
    assert "cannot" in r.stderr and "writable" in r.stderr and "Traceback" not in r.stderr


@needs_mount
def test_full_ckx_home(tmp_path):
    home = tmp_path / "full"
    home.mkdir()
    r = _ckx_on_tmpfs(home, "size=48k", "ls", "script")
    assert r.returncode == 13, r
    assert "full" in r.stderr and "Traceback" not in r.stderr


def test_create_venv_with_a_missing_interpreter(cli, ckx_home):
    r = cli("create", "venv:x", "--python=/nonexistent/python3")
    assert r.code == 3, r
    assert "no Python interpreter at '/nonexistent/python3'" in r.err
    assert "Traceback" not in r.err
    assert not any((ckx_home / "venvs").glob("*x*")) if (ckx_home / "venvs").exists() else True


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "--env.=x"], "an empty name"),
        (["run", "get,python3", "--adr..x=1"], "an empty name between dots"),
        (["run", "@"], "a lone '@'"),
        (["ls", "script", "--repo=../../etc"], "not a repo name"),
        (["ls", "script", "--repo=/etc"], "not a repo name"),
        (["ls", "script", "--=1"], "an empty name"),
        (["ls", "script", "--a b=1"], "is not an option name"),
    ],
)
def test_malformed_options_are_errors(cli, args, says):
    r = cli(*args)
    assert r.code == 2, r
    assert says in r.err and "Traceback" not in r.err


def test_undecodable_argv_bytes_are_an_error(ckx_home):
    env = {**os.environ, "CKX_HOME": str(ckx_home)}
    p = subprocess.run(
        [sys.executable.encode(), b"-m", b"ckx", b"ls", b"script:\xff\xfe"],
        capture_output=True,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert p.returncode == 2, p
    assert b"not valid UTF-8 text" in p.stderr and b"Traceback" not in p.stderr


def test_duplicate_keys_in_an_input_file(tmp_path, cli):
    f = tmp_path / "in.yaml"
    f.write_text("action: ls\nautomation: script\naction: rm\n")
    r = cli(f"@{f}")
    assert r.code == 4 and "duplicate key 'action'" in r.err
