"""The ``package`` automation: ``ckx install package --tags=...``, ``ckx prefetch package ...``.

A package entry describes a piece of software (or data) once: how it is installed (a
``download`` block, ``python_package``, a ``run.sh``) and, in a ``detect`` block, how an
installed copy is found (``ckx detect soft`` is the view of those: automation/soft).

``install`` plans and runs the package like a script node through :mod:`ckx.engine` (the
engine fetches the meta's ``download`` block with :func:`ckx.artifacts.prepare.prepare_downloads`);
a package that is not cached is then recorded as an env entry (``ckx show env``).
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
    own = _own_model(ctx, i)
    if own is not None and i.get("plan"):
        ctx.ui.print(f"would register {own.path} as local:package:{own.alias}")
        ctx.ui.print(f"  tags: {','.join(own.tags)}")
        return {"return": 0, "register": str(own.path), "alias": own.alias, "tags": own.tags}
    if own is not None:
        i = _register_own_model(ctx, i, own)
    i = _version_menu(ctx, i)
    out = run_request(ctx, {**i, "want_lock": True})
    if "plan_text" in out:  # --plan: printed by the engine, nothing ran
        return out
    lock = out.pop("lock") if not i.get("want_lock") else out.get("lock")
    ver = f" version {out['version']}" if out.get("version") else ""
    ctx.ui.print(f"done ({out.get('status')}){ver}")
    for k, v in sorted((out.get("env") or {}).items()):
        ctx.ui.print(f"  {k}={':'.join(v) if isinstance(v, list) else v}")
    _register(ctx, out, lock)
    return out


def _own_model(ctx, i: dict[str, Any]):
    """A model file (``--path=FILE``) under tags no package has: identified and checked
    (:mod:`ckx.programs.register`), or None when a package fits the tags."""
    from ckx.programs import register

    if not register.wants_registration(ctx, i):
        return None
    path = Path(str(i["path"])).expanduser().resolve()
    return register.identify(ctx, list(i["query"].tags), path)


def _register_own_model(ctx, i: dict[str, Any], own) -> dict[str, Any]:
    """Write the package entry of ``own`` (``local``), then install it from the file."""
    from ckx.programs import register

    asked = ",".join(i["query"].tags)
    like = ", ".join(e.alias for e in own.like)
    ctx.ui.note(
        f"no package has the tags {asked}: {own.path} is {own.family} by its interface "
        f"(that of {like}), ONNX opset {own.info.opset}, "
        + ("quantized" if own.info.quantized else "not quantized")
    )
    alias = register.write_package(ctx, own)
    ctx.ui.note(f"registered as local:package:{alias}, tags {','.join(own.tags)}")
    rest = {k: v for k, v in i.items() if k != "query"}
    return {**rest, "entry": alias, "repo": "local", "path": str(own.path)}


def _register(ctx, out: dict[str, Any], lock: dict[str, Any] | None) -> None:
    """A package that is not cached (a library in an interpreter, a detect-only tool) leaves
    no cache entry behind: what it installed or found is recorded as an env entry (CK's), so
    ``ckx show env`` lists it."""
    if out.get("cache_uid") or not lock or not lock.get("nodes"):
        return
    from ckx.artifacts.installations import installed_path, register
    from ckx.engine.provider import entries_changed

    root = next((n for n in lock["nodes"] if n.get("path") == "root"), None)
    if root is None:
        return
    hits = ctx.search("package", None, name=root["uid"], unique_uids=False)
    if not hits:
        return
    env = out.get("env") or {}
    path = installed_path(hits[0].meta, env)
    rec = register(
        ctx,
        hits[0],
        version=out.get("version"),
        path=path,
        env=env,
        how="installed",
        variations=root.get("variations"),
    )
    entries_changed(ctx)
    ctx.ui.print(f"  -> env:{rec['uid']} (ckx show env)")


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
