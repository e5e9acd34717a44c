"""The ``env`` automation: software environments registered by ``ckx detect soft``."""

from __future__ import annotations

import os
from typing import Any


def show(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """List env entries (``--tags=...``), flagging those whose path is gone."""
    hits = ctx.search("env", i.get("query"), repo=i.get("repo"), name=i.get("entry"))
    rows = []
    for e in hits:
        m = e.meta
        ok = not m.get("path") or os.path.exists(m["path"])
        rows.append(
            {
                "uid": e.uid,
                "alias": e.alias,
                "soft": m.get("soft_alias"),
                "version": m.get("version"),
                "path": m.get("path"),
                "env": m.get("env") or {},
                "tags": list(e.tags),
                "valid": ok,
            }
        )
        flag = "" if ok else "  [path gone]"
        ctx.ui.print(
            f"{e.uid}  {m.get('soft_alias')}  {m.get('version') or '?'}  {m.get('path') or ''}{flag}"
        )
        for k, v in sorted((m.get("env") or {}).items()):
            ctx.ui.print(f"    {k}={v}")
    if not rows:
        ctx.ui.print("no env entries; register some with: ckx detect soft --tags=...")
    return {"return": 0, "list": rows}
