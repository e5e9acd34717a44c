"""Mirrors: where to look before the origin, and how to fill a mirror for offline machines.

A mirror is a directory or an http(s) base URL. :func:`ckx.artifacts.download.fetch` looks in a
directory for ``sha256/<hash>`` (when the sha256 is known), ``<hash>`` and ``<filename>``;
from a base URL it GETs ``<base>/<filename>``. Whatever a mirror serves is checked like any
download, so a stale or corrupt mirror cannot poison the store.

``CKX_MIRROR`` lists mirrors separated by the OS path separator (``:`` on POSIX, ``;`` on
Windows), e.g. ``CKX_MIRROR=/mnt/mirror:http://127.0.0.1:8000/ckx``. On POSIX, URLs may
carry a port; a URL's path must not contain ``:``. :func:`prefetch_into` fills a mirror
directory on a connected machine; copy it to the air-gapped one and point ``CKX_MIRROR`` at it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ckx.artifacts.cas import ObjectStore
from ckx.artifacts.download import Artifact, FetchResult, fetch

ENV_VAR = "CKX_MIRROR"
# scheme://host[:port] then a path up to the next ':' (POSIX separator)
_URL_RE = re.compile(r"(?:https?|file)://[^/:]*(?::\d+)?[^:]*", re.IGNORECASE)


def split_mirror_list(value: str, sep: str = os.pathsep) -> list[str]:
    """Split a ``CKX_MIRROR``-style value into entries, keeping ``http://host:port/x`` whole."""
    if sep != ":":
        return [part.strip() for part in value.split(sep) if part.strip()]
    out, pos = [], 0
    while pos < len(value):
        match = _URL_RE.match(value, pos)
        end = match.end() if match else _next_sep(value, pos)
        entry = value[pos:end].strip()
        if entry:
            out.append(entry)
        pos = end + 1  # skip the separator
    return out


def mirrors_from_env(
    environ: Mapping[str, str] = os.environ, config: Iterable[str] | None = None
) -> list[str]:
    """The mirrors to try, in order: ``CKX_MIRROR`` entries, then ``config`` entries.

    Directories are returned as absolute paths (``~`` expanded; ``file://`` URLs converted),
    URLs as given; duplicates are dropped.
    """
    entries = split_mirror_list(environ.get(ENV_VAR, ""))
    entries += [str(c) for c in (config or []) if str(c).strip()]
    out: list[str] = []
    for entry in entries:
        norm = _normalise(entry)
        if norm not in out:
            out.append(norm)
    return out


def prefetch_into(
    artifact: Artifact,
    dest_dir: Path | str,
    store: ObjectStore,
    *,
    by_hash: bool = True,
    **fetch_options: Any,
) -> FetchResult:
    """Fetch and verify ``artifact`` (see :func:`ckx.artifacts.download.fetch` for ``fetch_options``) and
    place it at ``dest_dir/<filename>`` — and at ``dest_dir/sha256/<hash>`` with ``by_hash`` —
    so that ``dest_dir`` works as a mirror. Files are hardlinked from the store when possible,
    otherwise copied (never symlinked: a mirror must survive being copied elsewhere).
    """
    dest = Path(dest_dir)
    result = fetch(artifact, store, **fetch_options)
    store.link_into(result.sha256, dest, artifact.filename, allow_symlink=False)
    if by_hash:
        store.link_into(result.sha256, dest / "sha256", result.sha256, allow_symlink=False)
    return result


def _next_sep(value: str, pos: int) -> int:
    idx = value.find(":", pos)
    return len(value) if idx < 0 else idx


def _normalise(entry: str) -> str:
    low = entry.lower()
    if low.startswith(("http://", "https://")):
        return entry.rstrip("/")
    if low.startswith("file://"):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        return str(Path(url2pathname(urlparse(entry).path)).resolve())
    return str(Path(entry).expanduser().resolve())
