"""Atomic file writes: the one temp-then-rename of ckx.

A file is written under a temporary name in its own folder, then renamed onto its name
(:func:`os.replace`, atomic on one filesystem). A reader therefore sees the old file or the
whole new one, never a half-written one; a write that fails or is interrupted removes its
temporary file (a ``kill -9`` can leave one, named ``.NAME.PID.HEX.tmp``, which no reader takes
for the file). The temporary file is created with the usual permissions (the umask applies),
so a file keeps the mode a plain write would give it.

``write_text`` and ``write_bytes`` write data; ``replacing`` gives the temporary path to a
writer that needs a file name (a zip, a PNG, a copy).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_text(path: Path | str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; creates the folder if needed."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; creates the folder if needed."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


@contextmanager
def replacing(path: Path | str) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write; renamed onto ``path`` when the
    block ends normally, removed when it raises (or is interrupted)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
