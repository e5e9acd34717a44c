"""A content-addressed object store: each file lives once, named by its SHA-256.

Layout (DVC style)::

    <root>/sha256/ab/cdef0123…   the object whose sha256 is abcdef0123…, read-only
    <root>/tmp/                  temp files being written (same filesystem, so rename is atomic)

Every object is written to a temp file in ``tmp/`` while it is hashed, checked, made
read-only and only then renamed into place with :func:`os.replace`. A reader therefore sees
either no object or a complete one; a crash leaves at most a stray temp file. Adding bytes
that are already stored is a no-op, so two cache entries that need the same archive share it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from ckx.core import atomic
from ckx.core.errors import ChecksumError, NotFoundError, UsageError

CHUNK = 1024 * 1024
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def hash_file(path: Path | str, algos: Iterable[str] = ("sha256", "md5")) -> dict[str, str]:
    """Hex digests of ``path`` for each algorithm in ``algos``, reading the file once in chunks."""
    hashers = {name: hashlib.new(name) for name in algos}
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashers.items()}


def check_sha256(value: str) -> str:
    """Return ``value`` lower-cased if it is a 64-hex SHA-256, else raise :class:`UsageError`."""
    lowered = value.strip().lower()
    if not _SHA256_RE.match(lowered):
        raise UsageError(f"not a sha256 hex digest: {value!r}", hint="expected 64 hex characters")
    return lowered


class ObjectStore:
    """Content-addressed files under ``root`` (see the module doc for the layout)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def tmp_dir(self) -> Path:
        """Where temp files are written before they become objects (created on demand)."""
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def new_temp(self, suffix: str = ".tmp") -> Path:
        """A fresh, unused path in :attr:`tmp_dir` (the file is not created)."""
        return self.tmp_dir / f"{os.urandom(16).hex()}{suffix}"

    def path(self, sha256: str) -> Path:
        """Where the object ``sha256`` lives (whether or not it exists)."""
        digest = check_sha256(sha256)
        return self.root / "sha256" / digest[:2] / digest[2:]

    def has(self, sha256: str) -> bool:
        """True when the object is stored (its content is not re-hashed; see :meth:`verify`)."""
        return self.path(sha256).is_file()

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored object: True if its bytes still match its name, False if absent or bad."""
        path = self.path(sha256)
        if not path.is_file():
            return False
        return hash_file(path, ("sha256",))["sha256"] == check_sha256(sha256)

    def add_file(
        self, src: Path | str, *, move: bool = False, expected_sha256: str | None = None
    ) -> Path:
        """Store the file ``src`` and return its object path.

        The content is hashed while it is copied into a temp file next to the objects; with
        ``move=True`` the file is renamed instead when it is on the same filesystem (and
        removed afterwards in any case). ``expected_sha256`` is checked before anything is
        stored: a mismatch raises :class:`ChecksumError` and stores nothing. Idempotent.
        """
        src = Path(src)
        if not src.is_file():
            raise NotFoundError(f"cannot add {src} to the object store: not a file")
        if move and _same_device(src, self.tmp_dir):
            digest = hash_file(src, ("sha256",))["sha256"]
            _check_expected(digest, expected_sha256, str(src))
            return self._place(src, digest)
        tmp = self.new_temp()
        try:
            digest = _copy_hashing(src, tmp)
            _check_expected(digest, expected_sha256, str(src))
            obj = self._place(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)
        if move:
            src.unlink()
        return obj

    def add_bytes(self, data: bytes, *, expected_sha256: str | None = None) -> Path:
        """Store ``data`` and return its object path (idempotent; checks ``expected_sha256``)."""
        digest = hashlib.sha256(data).hexdigest()
        _check_expected(digest, expected_sha256, "bytes")
        if self.has(digest):
            return self.path(digest)
        tmp = self.new_temp()
        try:
            tmp.write_bytes(data)
            return self._place(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)

    def commit_temp(self, tmp: Path, sha256: str) -> Path:
        """Rename ``tmp`` (a file in :attr:`tmp_dir` whose sha256 the caller computed while
        writing it, e.g. a finished download) into place without re-reading it."""
        if tmp.parent.resolve() != self.tmp_dir.resolve():
            raise UsageError(f"commit_temp: {tmp} is not in the store's tmp dir {self.tmp_dir}")
        return self._place(tmp, check_sha256(sha256))

    def remove(self, sha256: str) -> bool:
        """Delete the object; True if it existed. Links made by :meth:`link_into` keep their bytes."""
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def iter_objects(self) -> Iterator[str]:
        """The sha256 of every stored object (unordered)."""
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for sub in base.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                for obj in sub.iterdir():
                    if _SHA256_RE.match(sub.name + obj.name):
                        yield sub.name + obj.name

    def link_into(
        self, sha256: str, dest: Path | str, name: str, *, allow_symlink: bool = True
    ) -> Path:
        """Make the object appear as ``dest/name`` and return that path.

        A hardlink is tried first (no extra space; the object is read-only, so the shared
        bytes cannot be changed through the link). Across filesystems, a symlink to the
        object is made when ``allow_symlink`` (cheap, but dangles if the store is cleaned);
        otherwise, or if symlinks are not permitted, the bytes are copied. An existing
        ``dest/name`` is replaced atomically.
        """
        obj = self.path(sha256)
        if not obj.is_file():
            raise NotFoundError(f"object {sha256} is not in the store at {self.root}")
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise UsageError(f"link_into: bad file name {name!r}")
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / name
        with atomic.replacing(target) as tmp:
            _link_or_copy(obj, tmp, allow_symlink=allow_symlink)
        return target

    def _place(self, tmp: Path, digest: str) -> Path:
        """Move a complete, hashed temp file to its object path (or drop it if already there)."""
        obj = self.path(digest)
        if obj.is_file():
            tmp.unlink(missing_ok=True)
            return obj
        obj.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, _READ_ONLY)
        os.replace(tmp, obj)  # atomic: readers see no object or the whole object
        return obj


def _check_expected(digest: str, expected: str | None, what: str) -> None:
    if expected is not None and digest != check_sha256(expected):
        raise ChecksumError(
            f"sha256 mismatch for {what}: expected {check_sha256(expected)}, got {digest}",
            hint="the file is corrupt or not the one expected; nothing was stored",
        )


def _copy_hashing(src: Path, dst: Path) -> str:
    h = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
    return h.hexdigest()


def _same_device(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def _link_or_copy(obj: Path, tmp: Path, *, allow_symlink: bool) -> None:
    try:
        os.link(obj, tmp)
        return
    except OSError:  # cross-device, or a filesystem without hardlinks
        pass
    if allow_symlink:
        try:
            os.symlink(obj.resolve(), tmp)
            return
        except OSError:  # e.g. Windows without the symlink privilege
            pass
    import shutil

    shutil.copyfile(obj, tmp)
