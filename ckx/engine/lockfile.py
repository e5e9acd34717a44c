"""Lock files: a resolved plan written down so it can be replayed exactly.

Format (JSON, ``"ckx_lock": 1``)::

    {"ckx_lock": 1, "created": "...", "request": {"query": ..., "name": ..., "env": ..., ...},
     "nodes": [{"path": "root/deps.0", "alias": ..., "uid": ..., "repo": ..., "cid": ...,
                "variations": [...], "version": ..., "status": "run|cached|detect",
                "meta_sha256": ..., "files": {"run.sh": "<sha256>", "customize.py": ...},
                "cache_uid": ...}]}

Replaying (``--lock FILE``) plans the same request again with every node pinned by its
``path`` to the same entry uid, variations and version; an entry whose meta or scripts
changed since is refused. Lock files of a newer format version are refused; older ones are
read.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from ckx.core.errors import UsageError

LOCK_VERSION = 1
_FILES = ("run.sh", "run.bat", "customize.py")


def _file_digests(path: Path) -> dict[str, str]:
    out = {}
    for name in _FILES:
        f = path / name
        if f.is_file():
            out[name] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def meta_digest(meta: dict) -> str:
    """sha256 of a meta's canonical JSON (for lock files)."""
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()


# Plans are passed as ``Any``: this module sits below the plan model (ckx.engine.model
# imports it for Plan.to_lock), so it reads plans by their documented attributes.
def plan_to_lock(plan: Any) -> dict[str, Any]:
    """The lock document of ``plan`` (what ``Plan.to_lock()`` returns)."""
    nodes = []
    for n in plan.nodes:
        nodes.append(
            {
                "path": n.path,
                "alias": n.entry.alias,
                "uid": n.entry.uid,
                "repo": n.entry.repo,
                "cid": n.entry.cid,
                "variations": list(n.variations),
                "version": n.version if n.cached is None else (n.cached.version or n.version),
                "status": n.status,
                "meta_sha256": meta_digest(n.entry.meta),
                "files": _file_digests(n.entry.path),
                "cache_uid": n.cached.uid if n.cached is not None else None,
            }
        )
    return {
        "ckx_lock": LOCK_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "request": plan.request,
        "nodes": nodes,
    }


def replay_request(request: dict[str, Any], lock: dict[str, Any]) -> dict[str, Any]:
    """The request a lock file replays: its query, entry, env and ``--adr`` (the request's own
    ``--env`` added on top)."""
    req = lock.get("request") or {}
    return {
        **request,
        "query": req.get("query"),
        "entry": req.get("name"),
        "env": {**(req.get("env") or {}), **(request.get("env") or {})},
        "adr": req.get("adr") or request.get("adr"),
    }


def write_lock(plan: Any, path: Path | str) -> Path:
    """Write ``plan``'s lock to ``path`` atomically."""
    from ckx.core import atomic

    p = Path(path)
    atomic.write_text(p, json.dumps(plan_to_lock(plan), indent=2) + "\n")
    return p


def read_lock(path: Path | str) -> dict[str, Any]:
    """Read and check a lock file (older format versions are accepted)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"lock file {p} not found") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{p}: not a JSON lock file (line {e.lineno}: {e.msg})") from None
    ver = data.get("ckx_lock") if isinstance(data, dict) else None
    if not isinstance(ver, int) or ver < 1:
        raise UsageError(f"{p}: not a ckx lock file (no 'ckx_lock' version)")
    if ver > LOCK_VERSION:
        raise UsageError(
            f"{p}: lock format version {ver} is newer than this ckx understands ({LOCK_VERSION})",
            hint="upgrade ckx to replay it",
        )
    return data


def pins(lock: dict[str, Any]) -> dict[str, dict]:
    """Node pins by tree path, for :class:`ckx.engine.planner.Planner`."""
    return {n["path"]: n for n in lock.get("nodes") or []}


def _under_cached(path: str, want: dict[str, dict]) -> bool:
    parts = path.split("/")
    return any(
        (want.get("/".join(parts[:k])) or {}).get("status") == "cached"
        for k in range(1, len(parts))
    )


def check_replay(plan: Any, lock: dict[str, Any]) -> None:
    """Refuse a replay whose entries changed since the lock was written (a ``PlanError`` of
    kind ``lock-graph`` or ``lock-changed``)."""
    from ckx.engine.problems import PlanError

    want = pins(lock)
    for n in plan.nodes:
        pin = want.get(n.path)
        if pin is None and _under_cached(n.path, want):
            continue  # the lock was written while an ancestor was cached: its deps were not planned
        if pin is None:
            raise PlanError("lock-graph", chain=n.chain, path=n.path, cid=n.entry.cid)
        if pin.get("meta_sha256") and pin["meta_sha256"] != meta_digest(n.entry.meta):
            raise PlanError("lock-changed", chain=n.chain, cid=n.entry.cid, what="its meta")
        if pin.get("files") is not None and pin["files"] != _file_digests(n.entry.path):
            raise PlanError("lock-changed", chain=n.chain, cid=n.entry.cid, what="its scripts")
