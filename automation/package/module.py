"""The ``package`` automation: ``ckx install package --tags=...``, ``ckx prefetch package ...``.

``install`` plans and runs the package like a script node through :mod:`ckx.engine` (the
engine fetches the meta's ``download`` block with :func:`ckx.artifacts.prepare.prepare_downloads`).
``prefetch`` fills a mirror folder for air-gapped machines; ``artifacts`` lists what would be
downloaded. See docs/packages.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ckx.core.errors import NotFoundError, UsageError


def install(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Install (or reuse from the cache) the package matching ``--tags``/``package:NAME``.

    A version written as a tag (``--tags=lib,python-package,onnxruntime-cpu,1.6.0``, CK's
    spelling) is ``--version``; a Python library with a version menu offers it when a terminal
    is present and no version was given. ``--plan`` prints what would be fetched, from where,
    and what is already there."""
    from ckx.engine import run_request

    _check_request(i)
    i = _version_from_tags(ctx, {**i, "automation": "package"})
    i = _version_menu(ctx, i)
    out = run_request(ctx, i)
    if "plan_text" in out:  # --plan: printed by the engine, nothing ran
        return out
    ver = f" version {out['version']}" if out.get("version") else ""
    ctx.ui.print(f"done ({out.get('status')}){ver}")
    for k, v in sorted((out.get("env") or {}).items()):
        ctx.ui.print(f"  {k}={':'.join(v) if isinstance(v, list) else v}")
    return out


def prefetch(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Fetch the files of every matching package (variations applied) into ``--to=DIR``."""
    from ckx.artifacts.prepare import parse_download_block, prefetch_items

    to = ctx.require(
        i.get("to") if isinstance(i.get("to"), str) else None,
        "--to=DIR (the mirror folder)",
        "ckx prefetch package --tags=dataset,coco,val --to=/mnt/mirror",
    )
    items = []
    resolved = resolve(ctx, i)
    for entry, meta in resolved:
        items += parse_download_block(meta, _static_env(meta, i), str(entry.meta_file))
    results = prefetch_items(ctx, items, Path(to).expanduser())
    ctx.ui.print(
        f"{len(results)} file(s) of {len(resolved)} package(s) in {to}; "
        f"on the offline machine: export CKX_MIRROR={Path(to).expanduser().resolve()}"
    )
    return {
        "return": 0,
        "files": [
            {"path": str(r.path), "sha256": r.sha256, "size": r.size, "source": r.source}
            for r in results
        ],
        "packages": [e.alias for e, _ in resolved],
    }


def artifacts(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """List the files matching packages download: name, size, checksums, sources."""
    from ckx.artifacts.prepare import parse_download_block

    rows = []
    for entry, meta in resolve(ctx, i):
        for item in parse_download_block(meta, _static_env(meta, i), str(entry.meta_file)):
            a = item.artifact
            rows.append(
                {
                    "package": entry.alias,
                    "filename": a.filename,
                    "urls": a.urls,
                    "rclone": item.rclone,
                    "size": a.size,
                    "sha256": a.sha256,
                    "md5": a.md5,
                    "extract": item.extract,
                }
            )
            if item.git:
                rows[-1].update(git=item.git, checkout=item.checkout)
                ctx.ui.print(f"{entry.alias}: git checkout {item.checkout or '(default branch)'}")
                ctx.ui.print(f"    {item.git}")
                continue
            check = (
                f"sha256 {a.sha256}"
                if a.sha256
                else (f"md5 {a.md5}" if a.md5 else "no published checksum")
            )
            ctx.ui.print(
                f"{entry.alias}: {a.filename}  {a.size if a.size is not None else '?'} bytes  {check}"
            )
            for src in [*a.urls, *([f"rclone {item.rclone}"] if item.rclone else [])]:
                ctx.ui.print(f"    {src}")
    return {"return": 0, "list": rows}


def _static_env(meta: dict[str, Any], i: dict[str, Any]) -> dict[str, Any]:
    """The env a download block is read with outside a run: defaults, env, the version."""
    env = {**(meta.get("default_env") or {}), **(meta.get("env") or {})}
    version = i.get("version") if i.get("version") not in (None, True, "") else None
    version = version or meta.get("default_version")
    if version:
        env["CKX_VERSION"] = str(version)
    return env


def resolve(ctx, i: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """Matching package entries with their meta after the query's variations are applied."""
    from ckx.core.query import Query
    from ckx.engine.variations import select

    query = i.get("query") or Query()
    plain = Query(tags=query.tags, not_tags=query.not_tags)
    entries = ctx.search("package", plain, repo=i.get("repo"), name=i.get("entry"))
    if not entries:
        raise NotFoundError(
            f"no package matches '{query.text or i.get('entry') or ''}'",
            hint="list packages with: ckx ls package",
        )
    if len(entries) > 1 and not i.get("all"):
        names = ", ".join(e.alias for e in entries)
        raise UsageError(
            f"{len(entries)} packages match: {names}",
            hint="add tags to pick one, or --all to take every match",
        )
    out = []
    for entry in entries:
        selection = select(entry.meta, query, str(entry.meta_file))
        out.append((entry, _with_download_overlay(entry.meta, selection)))
    return out


def _with_download_overlay(meta: dict[str, Any], selection) -> dict[str, Any]:
    """A selected variation's ``download`` replaces the entry's (applied here in case the
    engine's meta merge does not know the field)."""
    merged = dict(selection.meta)
    declared = meta.get("variations") or {}
    for name in selection.names:
        block = declared.get(name) or declared.get(name.split(".", 1)[0] + ".#") or {}
        if isinstance(block, dict) and "download" in block:
            merged["download"] = block["download"]
    return merged


def _check_request(i: dict[str, Any]) -> None:
    q = i.get("query")
    if (q is None or q.is_empty()) and not i.get("entry") and not i.get("lock"):
        raise UsageError(
            "which package? give tags or a name",
            hint="for example: ckx install package --tags=dataset,coco,val",
        )


_VERSION_TAG = re.compile(r"^v?\d+(\.\d+)+([a-z]+\d*)?$")


def _version_from_tags(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """CK wrote versions as tags: a tag like ``1.6.0`` that no package has is ``--version``."""
    from ckx.core.query import Query

    q = i.get("query")
    vtags = [t for t in (q.tags if q is not None else ()) if _VERSION_TAG.match(t)]
    if not vtags or ctx.search("package", q, name=i.get("entry")):
        return i
    if len(vtags) > 1:
        raise UsageError(f"two versions given as tags: {', '.join(vtags)}", hint="keep one")
    version = vtags[0].lstrip("v")
    if i.get("version") not in (None, True, "") and str(i["version"]) != version:
        raise UsageError(
            f"--version={i['version']} and the version tag {vtags[0]} disagree", hint="keep one"
        )
    rest = Query(
        tags=tuple(t for t in q.tags if t != vtags[0]),
        not_tags=q.not_tags,
        variations=q.variations,
        not_variations=q.not_variations,
    )
    ctx.ui.note(f"the tag {vtags[0]} is a version: --version={version}")
    return {**i, "query": rest, "version": version}


def _version_menu(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """CK's "select a version" menu for a Python library that lists ``versions``: only with a
    terminal and no version asked for. Choice 0, the default (also without a terminal), is the
    installed version, else the newest pip finds."""
    if not ctx.ui.interactive or any(
        i.get(k) not in (None, "", True) for k in ("version", "version_min", "version_max")
    ):
        return i
    hits = ctx.search("package", i.get("query"), name=i.get("entry"))
    block = hits[0].meta.get("python_package") if len(hits) == 1 else None
    versions = [str(v) for v in (block or {}).get("versions") or []]
    if not versions:
        return i
    name = block["name"]
    options = [f"the installed {name}, else the newest pip finds (default)", *versions]
    k = ctx.ui.choose(f"{name}: select a version", options, default=0)
    return i if k == 0 else {**i, "version": versions[k - 1]}
