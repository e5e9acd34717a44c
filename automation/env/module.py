"""The ``env`` automation: what is installed on this machine, as CK's ``ckx show env`` showed it.

Two records make the list: env entries (``repos/local/env/<uid>``, written by ``ckx detect
soft`` and by ``ckx install package`` for packages that are not cached: a Python library in
an interpreter, a detect-only tool) and the cache entries of packages (data sets, models,
source builds: ``ckx install package`` or a program's deps installed them).
"""

from __future__ import annotations

import os
from typing import Any


def show(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """List the installations (``--tags=...`` filters): detected or installed software with
    version, path and env, then installed packages (their cache entries)."""
    rows = _registered(ctx, i) + _installed_packages(ctx, i)
    for row in rows:
        var = "".join(f" _{v}" for v in row.get("variations") or [])
        flag = "" if row["valid"] else f"  [{row.get('problem') or 'path gone'}]"
        ctx.ui.print(
            f"{row['uid']}  {row['name']}{var}  {row['version'] or '?'}  "
            f"{row['path'] or ''}  ({row['how']}){flag}"
        )
        for k, v in sorted(row["env"].items()):
            ctx.ui.print(f"    {k}={':'.join(map(str, v)) if isinstance(v, list) else v}")
    if not rows:
        ctx.ui.print(
            "nothing installed or detected yet; detect software with: ckx detect soft "
            "(or --tags=...), install a package with: ckx install package --tags=..."
        )
    return {"return": 0, "list": rows}


def _registered(ctx, i: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for e in ctx.search("env", i.get("query"), repo=i.get("repo"), name=i.get("entry")):
        m = e.meta
        rows.append(
            {
                "uid": e.uid,
                "alias": e.alias,
                # what it was asked as: CK's soft name by ckx detect, the package by install
                "name": (m.get("how") != "installed" and m.get("soft_alias"))
                or m.get("package_alias")
                or m.get("soft_alias"),
                "package": m.get("package_alias"),
                "soft": m.get("soft_alias"),
                "how": m.get("how") or "detected",
                "variations": m.get("variations") or [],
                "version": m.get("version"),
                "path": m.get("path"),
                "env": m.get("env") or {},
                "tags": list(e.tags),
                "valid": not m.get("path") or os.path.exists(m["path"]),
            }
        )
    return rows


def _installed_packages(ctx, i: dict[str, Any]) -> list[dict[str, Any]]:
    """The cache entries of package entries (valid or not: an invalid one says why)."""
    if i.get("entry"):
        return []  # an env entry was named
    from ckx.engine.provider import cache_store

    packages = {e.uid for e in ctx.search("package", None, unique_uids=False)}
    store = cache_store(ctx)
    rows = []
    for e in ctx.search("cache", i.get("query"), repo=i.get("repo")):
        rec = store.read(e.path)
        if rec is None or rec.meta.get("script_uid") not in packages:
            continue
        problems = rec.problems()
        rows.append(
            {
                "uid": rec.uid,
                "alias": rec.meta.get("alias"),
                "name": rec.meta.get("script_alias"),
                "package": rec.meta.get("script_alias"),
                "variations": rec.meta.get("variations") or [],
                "how": "installed, cache",
                "version": rec.version,
                "path": rec.registered() or str(rec.path),
                "env": rec.env,
                "tags": list(rec.meta.get("tags") or []),
                "valid": not problems,
                "problem": "; ".join(problems),
            }
        )
    return rows
