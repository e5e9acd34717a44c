"""Staging folders that name their maker, so that what a killed process left is swept.

Work that must appear whole (an unzip of a ``ckr.zip``) is built in a hidden staging folder
next to its target, then renamed into place. ``kill -9`` leaves that folder behind. Its name
says which process made it on which machine: ``.tmp-<kind>-<host>-<pid>-<random>``, so the
next command that looks at the folder (the index's rescan of a repo, the next unzip) removes
the ones whose process is gone, and never one still being filled.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

#: A staging folder of another machine (a repo on a shared disk) is swept only this old.
FOREIGN_AGE_S = 24 * 3600
_NAME = re.compile(r"^\.tmp-(?P<kind>[a-z]+)-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[0-9a-f]+$")


def _host() -> str:
    import socket

    from ckx.core.digest import short_hex

    return short_hex(socket.gethostname().encode(), 4)


def staging_dir(parent: Path, kind: str) -> Path:
    """A fresh staging folder name under ``parent`` (not created)."""
    return parent / f".tmp-{kind}-{_host()}-{os.getpid()}-{os.urandom(4).hex()}"


def sweep_staging(parent: Path, kind: str) -> list[str]:
    """Remove the staging folders of ``kind`` under ``parent`` whose process is gone; their
    names. Nothing is raised: a folder that cannot be removed waits for the next sweep."""
    from ckx.core.locks import pid_alive

    try:
        entries = [d for d in os.scandir(parent) if d.name.startswith(f".tmp-{kind}-")]
    except OSError:
        return []
    removed = []
    host = _host() if entries else ""
    for d in entries:
        m = _NAME.match(d.name)
        if m is None or m["kind"] != kind or not d.is_dir(follow_symlinks=False):
            continue
        if m["host"] == host:
            gone = not pid_alive(int(m["pid"]))
        else:
            try:
                gone = time.time() - d.stat(follow_symlinks=False).st_mtime > FOREIGN_AGE_S
            except OSError:
                continue
        if gone:
            _remove(Path(d.path))
            removed.append(d.name)
    return removed


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
