"""Helpers shared by the artefact tests (importable by spawned worker processes too)."""

from __future__ import annotations

from pathlib import Path

from ckx.artifacts.cas import ObjectStore


def store_is_empty(store: ObjectStore) -> bool:
    """No object and no temp file (.part or other) left in ``store``."""
    tmp = store.root / "tmp"
    leftovers = list(tmp.iterdir()) if tmp.is_dir() else []
    return not list(store.iter_objects()) and not leftovers


def fetch_worker(args: tuple[str, str, str, str]) -> tuple[str, str, bool]:
    """Run in a spawned process: fetch one artefact into a shared store.

    Returns ("ok", object path, cached) or ("error", message, False).
    """
    url, sha256, store_root, filename = args
    from ckx.artifacts.download import Artifact, fetch

    try:
        res = fetch(
            Artifact(filename, [url], sha256=sha256),
            ObjectStore(Path(store_root)),
            retries=1,
            backoff=0.01,
            timeout=20,
            lock_timeout=60,
        )
    except Exception as exc:  # reported to the parent, which fails the test with it
        return ("error", f"{type(exc).__name__}: {exc}", False)
    return ("ok", str(res.path), res.cached)
