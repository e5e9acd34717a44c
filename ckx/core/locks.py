"""Cross-process locks that explain themselves, on top of ``filelock``.

``with path_lock(path, timeout=30, what="install coco"):`` takes the OS lock on
``<path>.lock`` and records who holds it in ``<path>.lock.holder`` (JSON: pid, host, command
line, what, start time). A waiter that times out gets a :class:`LockTimeout` naming that
holder and the lock file, so the user can see which command to wait for or stop.

Stale locks. The OS lock (``flock``) is released by the kernel when its process dies, so a
crashed holder normally frees the lock by itself; only its holder record stays behind and is
overwritten. The lock can still look held after its recorded holder died, when a child that
inherited the descriptor outlives it, or where the filesystem has no ``flock`` and filelock
falls back to a lock *file*. So: if the recorded holder is on this host, its pid is dead,
and that stays true for ``stale_after`` seconds (to skip the instant between a new holder
taking the lock and writing its record), the lock file is removed and taken over, with a
warning. Holders on other hosts are never judged dead.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ckx.core import atomic
from ckx.core.errors import LockTimeout

log = logging.getLogger("ckx.core.locks")


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as recorded next to it."""

    pid: int
    host: str
    cmd: str
    what: str
    since: float

    def describe(self) -> str:
        """``'pid 123 on host (python -m ckx …), doing "install coco", since 12:00:01'``."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        doing = f', doing "{self.what}"' if self.what else ""
        return f"pid {self.pid} on {self.host} ({self.cmd}){doing}, since {since}"


def lock_file_for(path: Path | str) -> Path:
    """The lock file guarding ``path``: ``<path>.lock``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def read_holder(lock_file: Path) -> Holder | None:
    """The holder recorded for ``lock_file``, or None when there is no readable record."""
    try:
        data = json.loads(_holder_file(lock_file).read_text(encoding="utf-8"))
        return Holder(**{k: data[k] for k in ("pid", "host", "cmd", "what", "since")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this machine and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True  # cannot tell: assume alive, never steal a live lock
    return not _is_zombie(pid)


def holder_is_dead(holder: Holder) -> bool:
    """True only when the holder ran on this host and its process is gone."""
    return holder.host == socket.gethostname() and not pid_alive(holder.pid)


@contextmanager
def path_lock(
    path: Path | str,
    *,
    timeout: float = 60.0,
    what: str = "",
    poll: float = 0.05,
    stale_after: float = 1.0,
) -> Iterator[Holder]:
    """Hold the cross-process lock guarding ``path`` for the ``with`` block.

    ``timeout`` seconds at most are spent waiting (0: one try); then :class:`LockTimeout`
    names the holder and the lock file. ``what`` says what the holder is doing, for that
    message. Yields this process's :class:`Holder` record. See the module doc for stale locks.
    """
    import filelock

    lock_file = lock_file_for(path)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_file))
    _acquire(lock, lock_file, timeout=timeout, what=what, poll=poll, stale_after=stale_after)
    me = Holder(os.getpid(), socket.gethostname(), _command_line(), what, time.time())
    try:
        _write_holder(lock_file, me)
        yield me
    finally:
        _clear_holder(lock_file, me)
        lock.release()


def _acquire(
    lock, lock_file: Path, *, timeout: float, what: str, poll: float, stale_after: float
) -> None:
    import filelock

    deadline = time.monotonic() + max(0.0, timeout)
    dead_seen: tuple[Holder, float] | None = None  # (dead holder, when first seen dead)
    while True:
        try:
            lock.acquire(timeout=min(poll, max(0.0, deadline - time.monotonic())))
            return
        except filelock.Timeout:
            pass
        holder = read_holder(lock_file)
        now = time.monotonic()
        if holder is not None and holder_is_dead(holder):
            if dead_seen is None or dead_seen[0] != holder:
                dead_seen = (holder, now)
            elif now - dead_seen[1] >= stale_after:
                _break_stale(lock_file, holder)
                dead_seen = None
                continue
        else:
            dead_seen = None
        if now >= deadline:
            raise _timeout_error(lock_file, holder, timeout, what)


def _break_stale(lock_file: Path, holder: Holder) -> None:
    log.warning("taking over stale lock %s: its holder %s is dead", lock_file, holder.describe())
    # Unlinking gives the next acquire a fresh inode; whoever still has the old one open
    # (an orphaned child of the dead holder) keeps a lock on nothing.
    _holder_file(lock_file).unlink(missing_ok=True)
    lock_file.unlink(missing_ok=True)


def _timeout_error(
    lock_file: Path, holder: Holder | None, timeout: float, what: str
) -> LockTimeout:
    who = holder.describe() if holder else "an unknown process (no holder record)"
    purpose = f" to {what}" if what else ""
    return LockTimeout(
        f"could not take the lock {lock_file}{purpose} within {timeout:g} s: it is held by {who}",
        hint="wait for that command to finish, or stop it; a lock whose holder died is "
        "taken over automatically",
    )


def _holder_file(lock_file: Path) -> Path:
    return lock_file.with_name(lock_file.name + ".holder")


def _write_holder(lock_file: Path, holder: Holder) -> None:
    atomic.write_text(_holder_file(lock_file), json.dumps(asdict(holder)))


def _clear_holder(lock_file: Path, me: Holder) -> None:
    # Only remove our own record: after a stale takeover, the file may belong to the new holder.
    if read_holder(lock_file) == me:
        _holder_file(lock_file).unlink(missing_ok=True)


def _command_line() -> str:
    cmd = " ".join(sys.argv) if sys.argv and sys.argv[0] else sys.executable
    return cmd if len(cmd) <= 200 else cmd[:197] + "..."


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            # the state letter follows the parenthesised command name, which may contain spaces
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
