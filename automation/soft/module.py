"""The ``soft`` automation: CK's detectors, as a view of the package entries.

A piece of software is described once, by a package entry (``packages/<alias>/``): its
``detect`` block says how an installed copy is found, the rest how it is installed. The
detectors ``ckx detect soft`` runs are the package entries with a ``detect`` block, named by
CK's soft name (``soft_alias: compiler.python``), their alias or uid, or selected by tags:
``ckx detect soft:compiler.python``, ``ckx detect platform.os``, ``ckx detect soft
--tags=lib,python-package``. Every installation found is registered as an ``env`` entry
(:mod:`ckx.artifacts.installations`); ``ckx show env`` lists them. Entries of a repo's own
``soft/`` folder with a ``detect`` block are detectors too.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from ckx.core.errors import NotFoundError


def detectors(ctx, i: dict[str, Any]) -> list[Any]:
    """The entries ``i`` names (``entry``: a CK soft name, alias or uid, wildcards allowed)
    or selects (``query``) among those with a ``detect`` block."""
    hits = []
    for kind in ("package", "soft"):
        found = ctx.search(kind, i.get("query"), repo=i.get("repo"), unique_uids=False)
        hits += [e for e in found if isinstance(e.meta.get("detect"), dict)]
    name = i.get("entry")
    if name:
        hits = [e for e in hits if any(fnmatch.fnmatchcase(n, name) for n in _names(e))]
    return hits


def _names(entry) -> list[str]:
    return [n for n in (entry.meta.get("soft_alias"), entry.alias, entry.uid) if n]


def soft_name(entry) -> str:
    """What the view calls ``entry``: CK's soft name where it has one, else its alias."""
    return str(entry.meta.get("soft_alias") or entry.alias)


def ls(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """List the detectors: CK's name, the package entry that holds it, its tags."""
    rows = []
    for e in sorted(detectors(ctx, i), key=soft_name):
        rows.append({"soft": soft_name(e), "cid": e.cid, "tags": list(e.tags)})
        ctx.ui.print(f"{soft_name(e)}  ({e.cid})  {','.join(e.tags)}")
    return {"return": 0, "list": rows}


def detect(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Detect with the matching detectors and register what is found as env entries."""
    from ckx.artifacts.detect import detect as run_detect
    from ckx.artifacts.installations import register
    from ckx.engine.hooks import load_detector
    from ckx.engine.inputcheck import check_detect_inputs

    hits = detectors(ctx, i)
    if not hits:
        what = f"'{i['entry']}'" if i.get("entry") else f"tags '{i.get('query')}'"
        raise NotFoundError(f"no detector matches {what}", hint="list them with: ckx ls soft")
    check_detect_inputs(hits, i)  # strict inputs: an unknown --key fails before detecting
    found_all = []
    for e in sorted(hits, key=soft_name):
        spec = load_detector(e.path)
        found = run_detect(spec, **_detect_args(ctx, i, spec))
        if not found:
            ctx.ui.warn(f"{soft_name(e)}: nothing found")
        for d in found:
            path = str(d.path) if d.path is not None else None
            rec = register(ctx, e, version=d.version, path=path, env=d.env, details=d.details)
            found_all.append(rec)
            ctx.ui.print(f"{soft_name(e)}  {d.version or '?'}  {d.path}  -> env:{rec['uid']}")
    from ckx.engine.provider import entries_changed

    entries_changed(ctx)
    return {"return": 0, "list": found_all}


def _detect_args(ctx, i: dict[str, Any], spec) -> dict[str, Any]:
    dirs = i.get("search_dirs")
    dirs = [d for d in (dirs.split(",") if isinstance(dirs, str) else dirs or []) if d]
    kwargs: dict[str, Any] = {"warn": ctx.ui.warn, "search_dirs": dirs or None}
    if spec.is_python_package:
        if i.get("python"):
            kwargs["python"] = i["python"]
    else:
        kwargs["path_env"] = ctx.environ.get("PATH", "")
        if i.get("full_path"):
            kwargs["full_path"] = i["full_path"]
    return kwargs
