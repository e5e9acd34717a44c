"""One error hierarchy for all of ckx.

Every user-facing failure is a :class:`CkxError` carrying a message (what went wrong and
where), an optional hint (what to do) and an exit code. The CLI prints ``message`` and
``hint`` on one or two lines (a traceback only with ``--debug``); the dict API turns the
error into ``{"return": exit_code, "error": message}`` for CK compatibility.
"""

from __future__ import annotations


class CkxError(Exception):
    """Base class: ``message`` says what and where, ``hint`` says what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        out = {"return": self.exit_code, "error": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class UsageError(CkxError):
    """Bad command-line input or a bad request dict."""

    exit_code = 2


class QueryError(UsageError):
    """A tag query or CID that does not parse; the message points at the character."""


class NotFoundError(CkxError):
    """An unknown action, automation, entry, repo or file."""

    exit_code = 3


class MetaError(CkxError):
    """A malformed or invalid meta file (names the file, the field and the problem)."""

    exit_code = 4


class ResolutionError(CkxError):
    """The planner cannot build a graph: no match, a cycle, a version conflict."""

    exit_code = 5


class RunError(CkxError):
    """A script, hook or program failed while running."""

    exit_code = 6


class DownloadError(CkxError):
    """A download failed (HTTP error, retries exhausted, size mismatch)."""

    exit_code = 7


class ChecksumError(DownloadError):
    """Downloaded or registered bytes do not match the expected checksum."""

    exit_code = 8


class LockTimeout(CkxError):
    """A lock could not be taken in time; the message names the holder if known."""

    exit_code = 9


class ArchiveError(CkxError):
    """An archive is corrupt or unsafe (path traversal, escaping links)."""

    exit_code = 10


class MissingDependencyError(CkxError):
    """An optional Python dependency (extra) or external tool is missing."""

    exit_code = 11


class ConflictError(CkxError):
    """Something already exists (entry alias, repo, file) and would be overwritten."""

    exit_code = 12


class StorageError(CkxError):
    """ckx's state (``CKX_HOME``) or a target folder cannot be used: read-only, full, not a
    folder. The message names the path and the cause; nothing half-written is kept."""

    exit_code = 13


class Interrupted(CkxError):
    """The user pressed Ctrl-C; nothing half-made was left behind."""

    exit_code = 130


def missing_extra(module: str, extra: str, needed_for: str = "") -> MissingDependencyError:
    """The error for an optional import that failed, with the pip command to fix it: run by
    the interpreter that runs ckx (``sys.executable``: a bare ``pip`` may belong to another
    venv), installing the extra's requirements as the installed distribution declares them."""
    why = f" (needed for {needed_for})" if needed_for else ""
    return MissingDependencyError(
        f"the Python module '{module}' is not installed{why}",
        hint=f"install it into the Python that runs ckx: {pip_install_command(extra)}",
    )


def pip_install_command(extra: str) -> str:
    """``<sys.executable> -m pip install <the requirements of extra>``, shell-quoted. The
    requirements come from ckx's installed metadata, so the command never asks an index for
    ckx itself; without metadata (a checkout on ``PYTHONPATH``) it names ``DIST[extra]``."""
    import shlex
    import sys

    from ckx.core.version import DISTRIBUTION

    reqs = extra_requirements(DISTRIBUTION, extra) or [f"{DISTRIBUTION}[{extra}]"]
    return " ".join(shlex.quote(w) for w in [sys.executable, "-m", "pip", "install", *reqs])


def extra_requirements(distribution: str, extra: str) -> list[str]:
    """The requirements ``distribution`` declares for ``extra`` (``[]`` when it is not
    installed or declares none), without their ``extra == ...`` markers."""
    from importlib import metadata

    from packaging.requirements import Requirement

    try:
        declared = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    out = []
    for line in declared:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            continue  # not tied to an extra: a core dependency (or one for every extra)
        if req.marker.evaluate({"extra": extra}):
            req.marker = None
            out.append(str(req))
    return out


def storage_error(exc: OSError, what: str = "") -> StorageError:
    """The error for an OSError met while writing (read-only, disk full, not a folder ...)."""
    import errno

    where = exc.filename if exc.filename is not None else what or "a file"
    cause = exc.strerror or str(exc) or type(exc).__name__
    code = exc.errno
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "make it writable, or point CKX_HOME at a writable folder"
    elif code in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some space (or point CKX_HOME at a disk with room), then run the command again"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        hint = "a file stands where ckx needs a folder: move it, or point CKX_HOME elsewhere"
    else:
        hint = "check the path and its disk, then run the command again"
    doing = f" ({what})" if what and exc.filename is not None else ""
    return StorageError(f"cannot write {where}{doing}: {cause}", hint=hint)
