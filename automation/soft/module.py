"""The ``soft`` automation: ``ckx detect soft --tags=compiler,python`` or ``soft:NAME``.

Each soft entry declares a ``detect`` block (see ckx/artifacts/detect.py). Every installation found is
registered as an entry of automation ``env`` in the local repo (``repos/local/env/<uid>/
meta.json``): tags = the soft's tags + ``v3``, ``v3.11``... , the version, the path and the env
it exports. Detecting the same path again updates its entry instead of adding one.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ckx.core.errors import NotFoundError


def detect(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Detect the matching soft entries and register what is found."""
    from ckx.artifacts.detect import detect as run_detect
    from ckx.engine.hooks import load_detector

    hits = ctx.search("soft", i.get("query"), repo=i.get("repo"), name=i.get("entry"))
    if not hits:
        what = f"'{i['entry']}'" if i.get("entry") else f"tags '{i.get('query')}'"
        raise NotFoundError(f"no soft entry matches {what}", hint="list them with: ckx ls soft")
    from ckx.engine.inputcheck import check_detect_inputs

    check_detect_inputs(hits, i)  # strict inputs: an unknown --key fails before detecting
    dirs = i.get("search_dirs")
    dirs = [d for d in (dirs.split(",") if isinstance(dirs, str) else dirs or []) if d]
    found_all = []
    for e in hits:
        spec = load_detector(e.path)
        kwargs: dict[str, Any] = {"warn": ctx.ui.warn, "search_dirs": dirs or None}
        if i.get("full_path") and not spec.is_python_package:
            kwargs["full_path"] = i["full_path"]
        if spec.is_python_package and i.get("python"):
            kwargs["python"] = i["python"]
        if not spec.is_python_package:
            kwargs["path_env"] = ctx.environ.get("PATH", "")
        found = run_detect(spec, **kwargs)
        if not found:
            ctx.ui.warn(f"{e.cid}: nothing found")
        for d in found:
            rec = register(ctx, e, d)
            found_all.append(rec)
            ctx.ui.print(f"{e.alias}  {d.version or '?'}  {d.path}  -> env:{rec['uid']}")
    from ckx.engine.provider import entries_changed

    entries_changed(ctx)
    return {"return": 0, "list": found_all}


def register(ctx, soft, d) -> dict[str, Any]:
    """Write (or update) the env entry of one detected installation; return its meta."""
    from ckx.core.entries import new_uid
    from ckx.core.metafile import atomic_write_text
    from ckx.core.versions import version_tags

    folder = ctx.registry.get("local").folder_for("env")
    folder.mkdir(parents=True, exist_ok=True)
    path = str(d.path) if d.path is not None else None
    uid = _existing(folder, soft.uid, path) or new_uid()
    tags = list(soft.tags)
    if d.version:
        try:
            tags += version_tags(d.version)
        except Exception:  # a version text without digits gives no tags
            pass
    meta = {
        "alias": f"{soft.alias}-{uid[:8]}",
        "uid": uid,
        "automation_alias": "env",
        "tags": list(dict.fromkeys(tags)),
        "soft_uid": soft.uid,
        "soft_alias": soft.alias,
        "version": d.version,
        "path": path,
        "env": d.env,
        "details": {k: v for k, v in d.details.items() if isinstance(v, (str, int, float, bool))},
        "detected": time.time(),
    }
    atomic_write_text(folder / uid / "meta.json", json.dumps(meta, indent=1) + "\n")
    return meta


def _existing(folder, soft_uid: str, path: str | None) -> str | None:
    try:
        it = os.scandir(folder)
    except FileNotFoundError:
        return None
    with it:
        for d in it:
            if d.name.startswith("."):
                continue
            try:
                m = json.loads(open(os.path.join(d.path, "meta.json"), encoding="utf-8").read())
            except (OSError, ValueError):
                continue
            if m.get("soft_uid") == soft_uid and m.get("path") == path:
                return d.name
    return None
