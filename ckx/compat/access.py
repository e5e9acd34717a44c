"""MLCFlow requests from hooks (``action_object.access``, ``mlc.access``) mapped onto ckx.

See the table in :mod:`ckx.compat.automation`. Every function returns MLCFlow's result dict.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ckx.compat import envrules
from ckx.core import vocabulary
from ckx.core.errors import UsageError

if TYPE_CHECKING:
    from ckx.compat.nodeview import MlcNodeView

#: Keys of an MLCFlow run request that steer MLCFlow itself, not the script's inputs, and
#: those ckx takes as its own options (versions, new, renew, skip_cache): views of the
#: request vocabulary.
ENGINE_KEYS = vocabulary.MLCFLOW_REQUEST
_CKX_OPTIONS = tuple(sorted(vocabulary.MLCFLOW_OPTIONS))


def as_item(path: str | Path, meta: dict[str, Any], **extra: Any) -> SimpleNamespace:
    """An MLCFlow artifact as search results hold them (``path``, ``meta``)."""
    return SimpleNamespace(path=str(path), meta=meta, **extra)


def access(node: MlcNodeView, i: dict[str, Any]) -> dict[str, Any]:
    """Serve one MLCFlow request from a hook of ``node``."""
    action = str(i.get("action") or "")
    target = str(i.get("automation") or i.get("target") or "script").split(",")[0]
    if action == "run" and target == "script":
        return run(node, i)
    if action in ("search", "find") and target in ("script", "cache", "repo"):
        return {"return": 0, "list": _search(node, target, i)}
    if action in ("rm", "remove", "delete") and target == "cache":
        return _rm_cache(node, i)
    return {
        "return": 1,
        "error": f"ckx does not serve the MLCFlow request '{action}' on '{target}' from a hook "
        f"(of {node.where()}); ckx maps run, search, find and rm cache",
    }


def nested_request(i: dict[str, Any]) -> dict[str, Any]:
    """The ckx request of an MLCFlow ``run``: its inputs are ``i['input']`` when given (as
    MLCFlow's ``input_mapping`` reads them) else the request's own non-engine keys; ``env``
    without the caller's local keys; ``adr`` and ``ad`` together (ckx applies both
    recursively); engine options (versions, ``new``) as ckx options."""
    inp = i.get("input")
    inputs = dict(inp) if isinstance(inp, dict) else {}
    if not isinstance(inp, dict):
        inputs = {k: v for k, v in i.items() if k not in ENGINE_KEYS and k not in _CKX_OPTIONS}
    inputs = {k: v for k, v in inputs.items() if k not in ENGINE_KEYS}
    adr: dict[str, Any] = {}
    for key in ("ad", "add_deps", "adr", "add_deps_recursive"):
        for name, fields in (i.get(key) or {}).items():
            if isinstance(fields, dict):
                adr[name] = {**adr.get(name, {}), **fields}
    req: dict[str, Any] = {
        **inputs,
        "query": str(i.get("tags") or ""),
        "env": envrules.without_local(i.get("env") or {}),
        "adr": adr,
        "quiet": True,
    }
    for k in _CKX_OPTIONS:
        if i.get(k) not in (None, ""):
            req[k] = i[k]
    if str(i.get("fake_run") or i.get("prepare") or "").lower() in ("1", "true", "yes", "on"):
        req["plan"] = True
    return req


def run(node: MlcNodeView, i: dict[str, Any]) -> dict[str, Any]:
    """A nested run; MLCFlow's result (and its in-place merge into the caller's dicts)."""
    req = nested_request(i)
    if not req["query"]:
        raise UsageError(f"a hook of {node.where()} asked to run a script without tags")
    out = node.ops.nested(req)
    if req.get("plan"):
        deps = out.get("deps") or []
        return {
            "return": 0,
            "env": {},
            "new_env": {},
            "state": {},
            "new_state": {"print_deps": deps},
        }
    new_env, new_state = dict(out.get("env") or {}), dict(out.get("state") or {})
    env: dict[str, Any] = i["env"] if isinstance(i.get("env"), dict) else {}
    state: dict[str, Any] = i["state"] if isinstance(i.get("state"), dict) else {}
    envrules.merge_into(env, new_env)
    envrules.merge_into(state, new_state)
    return {
        "return": 0,
        "env": env,
        "new_env": new_env,
        "state": state,
        "new_state": new_state,
        "version": out.get("version"),
        "deps": [],
    }


def _search(node: MlcNodeView, target: str, i: dict[str, Any]) -> list[Any]:
    ctx = node.ops.ctx
    tags = [t for t in str(i.get("tags") or "").split(",") if t.strip()]
    if target == "repo":
        return _repos(ctx, str(i.get("item") or i.get("artifact") or ""))
    if target == "cache":
        return [as_item(r.path, r.meta) for r in _cache_records(ctx, tags)]
    from ckx.core.query import Query

    q = Query(
        tags=tuple(t for t in tags if not t.startswith(("_", "-"))),
        not_tags=tuple(t[1:] for t in tags if t.startswith("-") and not t.startswith("-_")),
    )
    return [as_item(e.path, e.meta) for e in ctx.search("script", q)]


def _repos(ctx: Any, item: str) -> list[Any]:
    from ckx.core.repos import read_repo_description

    names = {p.strip() for p in item.split(",") if p.strip()}
    out = []
    for repo in ctx.registry.repos:
        if names and not ({repo.alias, repo.uid} & names):
            desc = read_repo_description(Path(repo.path))
            if not ({desc.get("alias"), desc.get("uid")} & names):
                continue
        out.append(as_item(repo.path, {"alias": repo.alias, "uid": repo.uid}))
    return out


def _cache_records(ctx: Any, tags: list[str]) -> list[Any]:
    from ckx.engine.provider import cache_store

    want = {t for t in tags if not t.startswith("-")}
    avoid = {t[1:] for t in tags if t.startswith("-")}
    out = []
    for rec in cache_store(ctx).records():
        have = set(rec.meta.get("tags") or [])
        if want <= have and not (avoid & have):
            out.append(rec)
    return out


def _rm_cache(node: MlcNodeView, i: dict[str, Any]) -> dict[str, Any]:
    from ckx.engine.provider import cache_store, entries_changed

    ctx = node.ops.ctx
    tags = [t for t in str(i.get("tags") or "").split(",") if t.strip()]
    if not tags:
        raise UsageError(f"a hook of {node.where()} asked to remove cache entries without tags")
    store = cache_store(ctx)
    gone = _cache_records(ctx, tags)
    for rec in gone:
        store.remove(rec)
    entries_changed(ctx)
    node.ops.info(
        f"removed {len(gone)} cache entr{'y' if len(gone) == 1 else 'ies'} ({','.join(tags)})"
    )
    return {"return": 0, "list": [str(r.path) for r in gone]}
