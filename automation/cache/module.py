"""The ``cache`` automation: look at and remove results of cacheable scripts.

Cache entries are ordinary entries of the local repo (``repos/local/cache/<uid>/meta.json``),
so the generic actions (``ls``, ``load``, ``find``...) work on them too; ``show`` adds what the
engine knows: script, variations, version, validity and the exported env.
"""

from __future__ import annotations

import time
from typing import Any

from ckx.core.errors import UsageError


def _records(ctx, i: dict[str, Any]):
    from ckx.engine.provider import cache_store

    store = cache_store(ctx)
    hits = ctx.search("cache", i.get("query"), repo=i.get("repo"), name=i.get("entry"))
    out = []
    for e in hits:
        rec = store.read(e.path)
        if rec is not None:
            out.append(rec)
    return store, out


def show(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """List matching cache entries with version, validity and exported env."""
    _, recs = _records(ctx, i)
    rows = []
    for r in recs:
        problems = r.problems()
        m = r.meta
        rows.append(
            {
                "uid": r.uid,
                "alias": m.get("alias"),
                "script": m.get("script_alias"),
                "path": str(r.path),
                "variations": m.get("variations") or [],
                "version": r.version,
                "valid": not problems,
                "problems": problems,
                "created": m.get("created"),
                "expires": m.get("expires"),
                "tags": m.get("tags") or [],
                "env": r.env,
            }
        )
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(m.get("created") or 0))
        var = (
            " " + ",".join(f"_{v}" for v in rows[-1]["variations"])
            if rows[-1]["variations"]
            else ""
        )
        ver = f" v{r.version}" if r.version else ""
        state = "valid" if not problems else "INVALID: " + "; ".join(problems)
        ctx.ui.print(f"{r.uid}  {m.get('script_alias')}{var}{ver}  made {made}  [{state}]")
        ctx.ui.print(f"    {r.path}")
        if i.get("env", True) is not False:
            for k, v in sorted(r.env.items()):
                ctx.ui.print(f"    {k}={':'.join(v) if isinstance(v, list) else v}")
    if not rows:
        ctx.ui.print("no cache entries" + (f" matching '{i['query']}'" if i.get("query") else ""))
    return {"return": 0, "list": rows}


def find(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Print the folders of matching cache entries."""
    _, recs = _records(ctx, i)
    for r in recs:
        ctx.ui.print(str(r.path))
    return {
        "return": 0,
        "list": [{"uid": r.uid, "path": str(r.path), "version": r.version} for r in recs],
    }


def rm(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Remove cache entries: ``cache:UID``, ``--tags=...``, ``--invalid`` (expired or with
    missing paths) or ``--all``. Asks first unless ``--force`` or ``--quiet``."""
    has_query = i.get("query") is not None and not i["query"].is_empty()
    if not (i.get("entry") or has_query or i.get("invalid") or i.get("all")):
        raise UsageError(
            "say which cache entries to remove",
            hint="e.g. ckx rm cache --tags=python, ckx rm cache:UID, ckx rm cache --invalid --force",
        )
    store, recs = _records(ctx, i)
    if i.get("invalid"):
        recs = [r for r in recs if r.problems()]
    if not recs:
        ctx.ui.print("no matching cache entries")
        store.sweep()
        return {"return": 0, "removed": []}
    if not (i.get("force") or i.get("f") or ctx.quiet):
        listing = "\n".join(f"  {r.uid}  {r.meta.get('script_alias')} ({r.path})" for r in recs)
        if not ctx.ui.interactive:
            raise UsageError(
                f"refusing to remove {len(recs)} cache entries without confirmation:\n{listing}",
                hint="add --force (or --quiet) to remove without asking",
            )
        ctx.ui.print(listing)
        if not ctx.ui.confirm(f"Remove {len(recs)} cache entries?"):
            return {"return": 0, "removed": []}
    removed = []
    for r in recs:
        store.remove(r)
        removed.append(r.uid)
        ctx.ui.print(f"removed cache:{r.uid} ({r.meta.get('script_alias')})")
    store.sweep()
    from ckx.engine.provider import entries_changed

    entries_changed(ctx)
    return {"return": 0, "removed": removed}
