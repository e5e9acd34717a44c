"""Generic actions every automation has (CK's kernel verbs): add, load, find, search, ls, rm,
ren, cp, mv, update, lint. An automation's module may override any of them. Their names,
aliases and descriptions are rows of the command table, ``ckx.core.commands``.

Each takes ``(ctx, i)`` and returns a dict; human output goes through ``ctx.ui.print``.
``i["automation"]``, ``i.get("entry")`` (alias/uid glob), ``i.get("repo")`` come from the CID;
``i.get("query")`` from ``--tags``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ckx.core.automations import load_automation
from ckx.core.cid import parse_cid
from ckx.core.entries import Entry, is_uid, new_uid
from ckx.core.errors import ConflictError, MetaError, NotFoundError, UsageError
from ckx.core.metafile import dump_text, find_meta_file, load_meta, save_meta

if TYPE_CHECKING:
    from ckx.core.context import Context


def _matches(ctx: Context, i: dict, *, need: bool = True) -> list[Entry]:
    automation = i["automation"]
    name = i.get("entry")
    repo = i.get("repo")
    if isinstance(repo, str) and not any(c in repo for c in "*?["):
        ctx.registry.get(repo)  # an unknown (or untrusted) repo is an error, not an empty list
    hits = ctx.search(automation, i.get("query"), repo=i.get("repo"), name=name, unique_uids=False)
    if not hits and need:
        if name and not any(c in name for c in "*?["):
            raise ctx.not_found(automation, name, repo=i.get("repo"))
        what = f" matching '{i['query']}'" if i.get("query") and not i["query"].is_empty() else ""
        raise NotFoundError(
            f"no {automation} entries{what}", hint=f"list them with: ckx ls {automation}"
        )
    return hits


def _one(ctx: Context, i: dict) -> Entry:
    if not i.get("entry"):
        hits = _matches(ctx, i)
        if len(hits) > 1:
            k = ctx.ui.choose(
                f"{len(hits)} {i['automation']} entries match",
                [f"{e.cid} ({e.path})" for e in hits],
                default=0,
            )
            return hits[k]
        return hits[0]
    return ctx.load(i["automation"], i["entry"], repo=i.get("repo"), unique_uids=False)


def _is_builtin(ctx: Context, repo_alias: str) -> bool:
    repo = ctx.registry.find(repo_alias)
    return repo is not None and repo.kind == "builtin"


def _refuse_builtin(ctx: Context, entries: list[Entry], verb: str) -> None:
    """Built-in entries are ckx itself (often a git checkout): no generic action changes them."""
    for e in entries:
        if _is_builtin(ctx, e.repo):
            raise UsageError(
                f"{e.cid} is part of ckx itself and is read-only: not {verb}",
                hint=f"copy it and change the copy: ckx cp {e.automation}:{e.alias} "
                f"local:{e.automation}:my-{e.alias}",
            )


def _check_new_alias(alias: str) -> str:
    """A name for a new entry: the alias syntax of every meta, never a pattern or a path."""
    from ckx.core.schema import BASE_SCHEMA

    if not re.fullmatch(BASE_SCHEMA["properties"]["alias"]["pattern"], alias):
        raise UsageError(
            f"'{alias}' is not a valid entry name"
            + (
                " (wildcards name several entries, never a new one)"
                if any(c in alias for c in "*?[")
                else ""
            ),
            hint="names start with a letter or digit and use letters, digits, '-', '_', '.', '@', '+'",
        )
    return alias


def _one_source(ctx: Context, i: dict, example: str) -> Entry:
    """The one entry an action changes: a name, never a pattern."""
    name = ctx.require(i.get("entry"), "the entry", example)
    if any(c in name for c in "*?["):
        raise UsageError(
            f"'{name}' is a pattern; this action changes one entry, named exactly",
            hint=f"list the candidates with: ckx ls {i['automation']}:{name}",
        )
    return ctx.load(i["automation"], name, repo=i.get("repo"), unique_uids=False)


def _list(ctx: Context, hits: list[Entry], what: str = "cid") -> None:
    for e in hits:
        ctx.ui.print(str(e.path) if what == "path" else e.cid)


def search(ctx: Context, i: dict) -> dict:
    hits = _matches(ctx, i, need=False)
    _list(ctx, hits)
    return {"list": [e.to_dict() for e in hits]}


def ls(ctx: Context, i: dict) -> dict:
    return search(ctx, i)


def find(ctx: Context, i: dict) -> dict:
    hits = _matches(ctx, i)
    _list(ctx, hits, "path")
    return {"list": [e.to_dict() for e in hits], "path": str(hits[0].path)}


def load(ctx: Context, i: dict) -> dict:
    e = _one(ctx, i)
    if ctx.ui.mode == "con":
        ctx.ui.print(dump_text(e.meta, "x.yaml").rstrip())
    return {"entry": e.to_dict(), "meta": e.meta}


def _target_repo(ctx: Context, i: dict):
    return ctx.registry.get(i.get("repo") or "local")


def add(ctx: Context, i: dict) -> dict:
    automation = i["automation"]
    alias = ctx.require(
        i.get("entry"), "the new entry's name", f"ckx add {automation}:my-entry --tags=a,b"
    )
    _check_new_alias(alias)
    repo = _target_repo(ctx, i)
    if repo.kind == "builtin":
        raise UsageError(
            f"the repo '{repo.alias}' is part of ckx itself and is read-only",
            hint=f"add it to your own repo: ckx add {automation}:{alias} (goes to 'local')",
        )
    existing = [
        e
        for e in ctx.search(automation, None, name=alias, unique_uids=False)
        if e.repo == repo.alias
    ]
    if existing:
        raise ConflictError(
            f"{automation}:{alias} already exists in repo '{repo.alias}' at {existing[0].path}"
        )
    dest = repo.folder_for(automation) / alias
    if dest.exists():
        raise ConflictError(f"{dest} already exists", hint="pick another name")
    query = i.get("query")
    tags = list(query.tags) if query is not None else []
    meta = {"alias": alias, "uid": new_uid(), "automation_alias": automation, "tags": tags}
    tmp = dest.parent / f".tmp-add-{meta['uid']}"
    template = i.get("template")
    try:
        if template:
            src = _template_dir(ctx, automation, template)
            shutil.copytree(src, tmp)
            tf = find_meta_file(tmp)
            if tf:
                tmeta = load_meta(tf)
                tf.unlink()
                tmeta.update({k: v for k, v in meta.items() if v or k not in tmeta})
                meta = tmeta
        else:
            tmp.mkdir(parents=True)
        meta.update(i.get("meta") or {})
        save_meta(tmp / "meta.yaml", meta)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ctx.index.invalidate()
    ctx.ui.print(f"added {repo.alias}:{automation}:{alias} at {dest}")
    return {"path": str(dest), "uid": meta["uid"], "cid": f"{repo.alias}:{automation}:{alias}"}


def _template_dir(ctx: Context, automation: str, name: str) -> Path:
    auto = load_automation(ctx, automation)
    base = auto.entry.path / "templates" if auto.entry else None
    d = base / name if base else None
    if d is None or not d.is_dir():
        avail = sorted(p.name for p in base.glob("*") if p.is_dir()) if base else []
        raise NotFoundError(
            f"no template '{name}' for {automation}",
            hint=("available: " + ", ".join(avail)) if avail else f"{automation} has no templates",
        )
    return d


def rm(ctx: Context, i: dict) -> dict:
    if not i.get("entry") and not (i.get("query") and not i["query"].is_empty()):
        raise UsageError(
            f"say which {i['automation']} entries to remove",
            hint=f"e.g. ckx rm {i['automation']}:NAME, ckx rm '{i['automation']}:*' --force",
        )
    hits = _matches(ctx, i)
    _refuse_builtin(ctx, hits, "removed")
    ask = not (i.get("force") or i.get("f") or ctx.quiet)
    if ask:
        listing = "\n".join(f"  {e.cid}  ({e.path})" for e in hits)
        if not ctx.ui.interactive:
            raise UsageError(
                f"refusing to remove {len(hits)} entr{'y' if len(hits) == 1 else 'ies'} without confirmation:\n{listing}",
                hint="add --force (or --quiet) to remove without asking",
            )
        ctx.ui.print(listing)
        if not ctx.ui.confirm(f"Remove {len(hits)} entr{'y' if len(hits) == 1 else 'ies'}?"):
            return {"removed": []}
    removed = []
    for e in hits:
        _remove_tree(e.path)
        removed.append(e.cid)
        ctx.ui.print(f"removed {e.cid}")
    ctx.index.invalidate()
    return {"removed": removed}


def _remove_tree(path: Path) -> None:
    """Remove an entry folder: rename it away first so it vanishes from the index at once."""
    trash = path.parent / f".rm-{path.name}-{new_uid()}"
    path.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


def _new_name(i: dict) -> str:
    args = i.get("args") or []
    new = i.get("new_alias") or i.get("new") or (args[0] if args else None)
    if not new or not isinstance(new, str):
        raise UsageError("missing the new name", hint="e.g. ckx ren script:old new-name")
    return new


def ren(ctx: Context, i: dict) -> dict:
    e = _one_source(ctx, i, "ckx ren script:old new")
    _refuse_builtin(ctx, [e], "renamed")
    new = _check_new_alias(_new_name(i))
    dest = e.path.parent / new
    if dest.exists():
        raise ConflictError(f"{dest} already exists")
    meta = load_meta(e.meta_file)
    meta["alias"] = new
    save_meta(e.meta_file, meta)
    e.path.rename(dest)
    ctx.index.invalidate()
    ctx.ui.print(f"renamed {e.cid} to {e.repo}:{e.automation}:{new}")
    return {"path": str(dest)}


def _copy_or_move(ctx: Context, i: dict, move: bool) -> dict:
    e = _one_source(ctx, i, "ckx cp script:a local:script:b")
    if move:
        _refuse_builtin(ctx, [e], "moved")
    target = _new_name(i)
    cid = parse_cid(target) if ":" in target else None
    repo = ctx.registry.get(cid.repo if cid and cid.repo else e.repo)
    if repo.kind == "builtin":
        hint_repo = "local" if e.repo != "local" else e.repo
        raise UsageError(
            f"the repo '{repo.alias}' is part of ckx itself and is read-only",
            hint=f"copy into your own repo: ckx cp {e.automation}:{e.alias} "
            f"{hint_repo}:{e.automation}:NEW-NAME",
        )
    new_alias = _check_new_alias((cid.entry if cid else target) or e.alias)  # no entry: keep it
    dest = repo.folder_for(e.automation) / new_alias
    if dest.exists():
        raise ConflictError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".tmp-cp-{new_uid()}"
    shutil.copytree(e.path, tmp, symlinks=True)
    meta = load_meta(tmp / e.meta_file.name)
    meta["alias"] = new_alias
    if not move:
        meta["uid"] = new_uid()
    save_meta(tmp / e.meta_file.name, meta)
    tmp.rename(dest)
    if move:
        _remove_tree(e.path)
    ctx.index.invalidate()
    verb = "moved" if move else "copied"
    ctx.ui.print(f"{verb} {e.cid} to {repo.alias}:{e.automation}:{new_alias}")
    return {"path": str(dest), "uid": meta["uid"]}


def cp(ctx: Context, i: dict) -> dict:
    return _copy_or_move(ctx, i, move=False)


def mv(ctx: Context, i: dict) -> dict:
    return _copy_or_move(ctx, i, move=True)


def update(ctx: Context, i: dict) -> dict:
    hits = _matches(ctx, i)
    _refuse_builtin(ctx, hits, "updated")
    changes = dict(i.get("meta") or {})
    if i.get("query") and i["query"].tags:
        changes.setdefault("tags", list(i["query"].tags))
    if not changes:
        raise UsageError(
            "nothing to update", hint="e.g. ckx update script:x --meta.name='A name' or --tags=a,b"
        )
    for key in ("uid", "alias"):
        if key in changes:
            raise UsageError(f"'{key}' cannot be changed with update", hint="use ckx ren / ckx cp")
    from ckx.core.schema import problems_of  # only update and lint validate: not at start-up

    for e in hits:
        meta = load_meta(e.meta_file)
        merged = _deep_merge(meta, changes)
        problems = problems_of(merged, e.meta_file, e.automation, ctx.registry)
        if problems:
            raise MetaError("the update would make the meta invalid: " + problems[0])
        save_meta(e.meta_file, merged)
        ctx.ui.print(f"updated {e.cid}")
    ctx.index.invalidate()
    return {"updated": [e.cid for e in hits]}


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def lint(ctx: Context, i: dict) -> dict:
    """Every problem: unreadable/invalid metas, schema violations, duplicate uids and aliases,
    ``customize.py`` files whose hooks do not match their spec."""
    from ckx.core.schema import problems_of  # only update and lint validate: not at start-up
    from ckx.engine.dialects import hook_problems  # each under its dialect's hook spec

    automation = i.get("automation")
    auto_filter = automation if automation not in (None, "*") else None
    problems: list[str] = [p.message for p in ctx.index.problems(i.get("repo"), auto_filter)]
    entries = ctx.search(
        automation if automation not in (None, "*") else None,
        None,
        repo=i.get("repo"),
        name=i.get("entry"),
        unique_uids=False,
    )
    warnings: list[str] = []
    for e in entries:
        f = find_meta_file(e.path)
        if f is None:
            continue
        problems += _strict_problems(f)  # what a foreign repo's tolerant read let through
        problems += problems_of(e.meta, f, e.automation, ctx.registry)
        problems += hook_problems(ctx, e)  # customize.py against its hook spec
        warnings += _tolerated(f)
        if e.alias and Path(e.path).name not in (e.alias, e.uid):  # (a cache entry: its uid)
            warnings.append(
                f"{f}: warning: alias '{e.alias}' differs from its folder name "
                f"'{Path(e.path).name}': `ckx load {e.automation}:{Path(e.path).name}` does not "
                "find it; rename the folder or the alias"
            )
    problems += _duplicates(
        ctx.search(None, None, unique_uids=False)
        if not automation or automation == "*"
        else entries
    )
    for p in problems:
        ctx.ui.print(p)
    for w in warnings:
        ctx.ui.print(w)
    if ctx.ui.mode == "con":
        ctx.ui.print(
            f"{len(problems)} problem(s), {len(warnings)} warning(s) in {len(entries)} "
            f"entr{'y' if len(entries) == 1 else 'ies'}"
        )
    return {
        "problems": problems,
        "warnings": warnings,
        "checked": len(entries),
        "return": 4 if problems else 0,
    }


def _tolerated(meta_file) -> list[str]:
    """Loose forms the index read as MLCFlow does (see ckx.core.schema.tolerate)."""
    from ckx.core.errors import MetaError
    from ckx.core.metafile import load_meta
    from ckx.core.schema import tolerate

    try:
        raw = load_meta(meta_file)
    except MetaError:
        return []  # reported as a problem already
    return [f"{meta_file}: warning: {note}" for note in tolerate(raw)]


def _strict_problems(meta_file: Path) -> list[str]:
    try:
        load_meta(meta_file)
    except MetaError as e:
        return [e.message]
    return []


def _duplicates(entries: list[Entry]) -> list[str]:
    out = []
    by_uid: dict[str, Entry] = {}
    by_alias: dict[tuple[str, str], Entry] = {}
    for e in entries:
        if e.uid and is_uid(e.uid):
            other = by_uid.get(e.uid)
            if other is not None:
                out.append(f"duplicate uid {e.uid}: {other.meta_file} and {e.meta_file}")
            else:
                by_uid[e.uid] = e
        key = (e.automation, e.alias)
        other = by_alias.get(key)
        if other is not None:
            out.append(
                f"duplicate alias {e.automation}:{e.alias}: {other.meta_file} and {e.meta_file}"
            )
        else:
            by_alias[key] = e
    return out
