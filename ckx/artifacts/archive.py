"""Safe, atomic extraction of zip and tar (plain, gz, bz2, xz) archives.

Every member is checked before anything is written: absolute paths, ``..`` components,
symlinks or hardlinks that point outside the destination, and device files / FIFOs are
refused with an :class:`ArchiveError` naming the archive and the member. For tar files,
tarfile's ``data`` filter (Python 3.12, backported to 3.8.17+/3.10.12+/3.11.4+) runs as a
second line of defence and also drops set-uid bits. The archive is extracted into a temp dir
next to ``dest`` which is renamed to ``dest`` only when complete, so ``dest`` either does
not exist or holds the whole archive.

``strip_components=N`` drops the first N path components of every member, like GNU tar's
``--strip-components``; members with N or fewer components are skipped.

Bounded: an archive may not expand to more than :data:`EXTRACT_LIMITS` allow — total bytes,
number of members, and (above :data:`RATIO_FLOOR` bytes) bytes per byte of archive — so a
"zip bomb" is refused before anything is written. Each limit is changed by the environment
variable of its name (docs/security.md).
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import IO

from ckx.core.errors import ArchiveError, ConflictError, NotFoundError, UsageError
from ckx.core.metafile import env_limit

KINDS = ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz")

#: Limits of one extraction; the environment variable of each name overrides it.
EXTRACT_LIMITS = {
    "CKX_EXTRACT_MAX_BYTES": 512 * 1024**3,  # total size of the extracted files
    "CKX_EXTRACT_MAX_MEMBERS": 5_000_000,  # files, folders and links (ImageNet train: 1.3M)
    "CKX_EXTRACT_MAX_RATIO": 200,  # extracted bytes per archive byte (real data: < 20)
}
#: Archives that expand to less than this are never refused for their ratio (text compresses
#: well, and a small archive cannot fill a disk).
RATIO_FLOOR = 16 * 1024 * 1024


def extract_limit(name: str) -> int:
    """The limit ``name`` of :data:`EXTRACT_LIMITS`, from the environment when set there."""
    return env_limit(name, EXTRACT_LIMITS)


class _Budget:
    """Counts members and bytes against the limits while an archive is planned and written."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.size = max(archive.stat().st_size, 1)
        self.max_bytes = extract_limit("CKX_EXTRACT_MAX_BYTES")
        self.max_members = extract_limit("CKX_EXTRACT_MAX_MEMBERS")
        self.max_ratio = extract_limit("CKX_EXTRACT_MAX_RATIO")
        self.members = 0
        self.bytes = 0

    def add(self, nbytes: int, members: int = 1) -> None:
        self.members += members
        self.bytes += max(nbytes, 0)
        if self.members > self.max_members:
            self._refuse(f"more than {self.max_members} members", "CKX_EXTRACT_MAX_MEMBERS")
        if self.bytes > self.max_bytes:
            self._refuse(f"expands to more than {self.max_bytes} bytes", "CKX_EXTRACT_MAX_BYTES")
        if self.bytes > RATIO_FLOOR and self.bytes > self.max_ratio * self.size:
            self._refuse(
                f"expands to more than {self.bytes} bytes from {self.size} "
                f"(over {self.max_ratio} times its size)",
                "CKX_EXTRACT_MAX_RATIO",
            )

    def _refuse(self, what: str, var: str) -> None:
        raise ArchiveError(
            f"archive {self.archive} {what}; nothing was extracted",
            hint=f"a decompression bomb, or a genuinely huge archive: if you trust it, raise {var} "
            "(see docs/security.md)",
        )


_SUFFIXES = {
    ".zip": "zip",
    ".tar": "tar",
    ".tar.gz": "tar.gz",
    ".tgz": "tar.gz",
    ".tar.bz2": "tar.bz2",
    ".tbz2": "tar.bz2",
    ".tbz": "tar.bz2",
    ".tar.xz": "tar.xz",
    ".txz": "tar.xz",
}


def detect_kind(archive: Path | str) -> str:
    """The archive kind (one of :data:`KINDS`) from its name, else from its first bytes."""
    name = Path(archive).name.lower()
    for suffix, kind in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return kind
    import tarfile
    import zipfile

    if zipfile.is_zipfile(archive):
        return "zip"
    if tarfile.is_tarfile(archive):
        return "tar"  # tarfile detects the compression by itself
    raise ArchiveError(
        f"cannot tell the archive type of {archive}",
        hint=f"pass kind= (one of {', '.join(KINDS)})",
    )


def extract(
    archive: Path | str, dest: Path | str, *, strip_components: int = 0, kind: str | None = None
) -> list[str]:
    """Extract ``archive`` into the new directory ``dest``; return the extracted relative paths.

    ``dest`` must not exist or be an empty directory (:class:`ConflictError` otherwise). The
    returned paths are POSIX-style, relative to ``dest``, in archive order, directories
    included — enough to check later that an extracted tree is still complete.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise NotFoundError(f"archive not found: {archive}")
    if strip_components < 0:
        raise UsageError(f"strip_components must be >= 0, got {strip_components}")
    kind = kind or detect_kind(archive)
    if kind not in KINDS:
        raise UsageError(f"unknown archive kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    _check_dest_free(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.extract-{os.urandom(4).hex()}"
    tmp.mkdir()
    try:
        budget = _Budget(archive)
        if kind == "zip":
            names = _extract_zip(archive, tmp, strip_components, budget)
        else:
            names = _extract_tar(archive, tmp, strip_components, budget)
        if dest.is_dir():
            dest.rmdir()  # empty (checked above); a rename cannot replace a directory
        os.rename(tmp, dest)
    except OSError as exc:  # e.g. a member that is both a file and a directory, or disk full
        _rmtree(tmp)
        raise ArchiveError(f"cannot extract {archive} into {dest}: {exc}") from exc
    except BaseException:
        _rmtree(tmp)
        raise
    return names


def safe_member_path(name: str, strip_components: int = 0) -> str | None:
    """The member name made relative and stripped, or None when nothing is left after strip.

    Raises ``ValueError`` (with the reason) for absolute names and ``..`` components.
    """
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ValueError("absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError("'..' in path")
    parts = parts[strip_components:]
    return "/".join(parts) if parts else None


def check_link_target(member: str, target: str) -> None:
    """Raise ``ValueError`` if a symlink ``member`` → ``target`` would point outside the root."""
    if not target or target.startswith(("/", "\\")) or (len(target) > 1 and target[1] == ":"):
        raise ValueError(f"symlink to absolute path {target!r}")
    resolved = posixpath.normpath(
        posixpath.join(posixpath.dirname(member), target.replace("\\", "/"))
    )
    if resolved == ".." or resolved.startswith("../"):
        raise ValueError(f"symlink {target!r} escapes the destination")


def _bad(archive: Path, member: str, reason: str) -> ArchiveError:
    return ArchiveError(
        f"unsafe member {member!r} in archive {archive}: {reason}; nothing was extracted",
        hint="the archive is corrupt or malicious; get it from a trusted source",
    )


# --- tar ---------------------------------------------------------------------------------


def _extract_tar(archive: Path, root: Path, strip: int, budget: _Budget) -> list[str]:
    import tarfile

    try:
        with tarfile.open(archive, "r:*") as tf:
            members = _plan_tar(archive, _bounded_members(tf, budget), strip)
            _extract_tar_members(tf, members, root, archive)
    except tarfile.TarError as exc:
        raise ArchiveError(f"cannot read tar archive {archive}: {exc}") from exc
    except EOFError as exc:  # a truncated compressed stream
        raise ArchiveError(f"archive {archive} is truncated: {exc}") from exc
    return [m.name for m in members]


def _bounded_members(tf, budget: _Budget):
    """The members, read one by one and counted (getmembers() would read them all first)."""
    for m in tf:
        budget.add(m.size if m.isfile() else 0)
        yield m


def _plan_tar(archive: Path, members, strip: int) -> list:
    """Check every member and return copies renamed for ``strip``; raise on the first bad one."""
    planned, seen = [], set()
    for m in members:
        try:
            name = safe_member_path(m.name, strip)
            if name is None:
                continue
            if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                raise ValueError("device file, FIFO or other special file")
            changes = {"name": name}
            if m.issym():
                check_link_target(name, m.linkname)
            elif m.islnk():
                link = safe_member_path(m.linkname, strip)
                if link is None or link not in seen:
                    raise ValueError(
                        f"hardlink to {m.linkname!r}, which is not extracted before it"
                    )
                changes["linkname"] = link
        except ValueError as exc:
            raise _bad(archive, m.name, str(exc)) from None
        seen.add(name)
        planned.append(_renamed(m, changes))
    return planned


def _renamed(member, changes: dict):
    import copy

    new = copy.copy(member)  # TarInfo.replace() only exists from Python 3.11.4
    for key, value in changes.items():
        setattr(new, key, value)
    return new


def _extract_tar_members(tf, members: list, root: Path, archive: Path) -> None:
    import tarfile

    kwargs: dict = {}
    if hasattr(tarfile, "data_filter"):
        kwargs["filter"] = "data"
    try:
        tf.extractall(root, members=members, **kwargs)
    except tarfile.FilterError as exc:  # our checks passed but the data filter still refused
        member = getattr(exc, "tarinfo", None)
        raise _bad(archive, member.name if member else "?", str(exc)) from None


# --- zip ---------------------------------------------------------------------------------


def _extract_zip(archive: Path, root: Path, strip: int, budget: _Budget) -> list[str]:
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():  # the declared sizes (zipfile never reads past them)
                budget.add(info.file_size)
            plan = _plan_zip(archive, zf, strip)
            for info, name in plan:
                _extract_zip_member(zf, info, name, root, archive)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"cannot read zip archive {archive}: {exc}") from exc
    return [name for _, name in plan]


def _zip_mode(info) -> int:
    return (info.external_attr >> 16) & 0xFFFF


def _plan_zip(archive: Path, zf, strip: int) -> list[tuple]:
    plan = []
    for info in zf.infolist():
        mode = _zip_mode(info)
        try:
            name = safe_member_path(info.filename, strip)
            if name is None:
                continue
            # permission bits with no file-type bits (zipfile.writestr, some Windows tools)
            # describe a regular file; only an explicit special type is refused
            if stat.S_IFMT(mode) and not (
                stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)
            ):
                raise ValueError("device file, FIFO or other special file")
            if stat.S_ISLNK(mode):
                check_link_target(name, zf.read(info).decode("utf-8", "replace"))
        except ValueError as exc:
            raise _bad(archive, info.filename, str(exc)) from None
        plan.append((info, name))
    return plan


def _extract_zip_member(zf, info, name: str, root: Path, archive: Path) -> None:
    target = root / name
    mode = _zip_mode(info)
    # Lexical checks cannot see through symlinks made earlier (``t -> .`` then ``s -> t/..``):
    # check the real location of everything about to be written.
    _check_inside(root, target, archive, info.filename)
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if stat.S_ISLNK(mode):
        link = zf.read(info).decode("utf-8")
        _check_inside(root, target.parent / link, archive, info.filename)
        os.symlink(link, target)
        return
    with zf.open(info) as src, open(target, "wb") as out:
        _copy(src, out)
    if mode & 0o111:  # keep executables executable (zipfile itself drops the mode)
        os.chmod(target, 0o755)


def _copy(src: IO[bytes], out: IO[bytes]) -> None:
    while chunk := src.read(1024 * 1024):
        out.write(chunk)


# --- helpers -----------------------------------------------------------------------------


def _check_inside(root: Path, path: Path, archive: Path, member: str) -> None:
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise _bad(archive, member, f"resolves outside the destination (to {real})")


def _check_dest_free(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise ConflictError(f"cannot extract into {dest}: it exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise ConflictError(
            f"cannot extract into {dest}: the directory is not empty",
            hint="remove it first, or extract somewhere else",
        )


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
