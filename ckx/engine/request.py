"""From a request dict (what ``ckx run script ...`` and ``ckx.access`` pass) to planner
arguments: which keys are engine options, which are script inputs, and what ``--lock`` adds."""

from __future__ import annotations

from typing import Any

from ckx.core.query import Query, parse
from ckx.engine.provider import CacheFlags

#: Request keys that are options of the engine, not inputs of the script.
RESERVED = frozenset(
    {
        "action",
        "automation",
        "entry",
        "query",
        "tags",
        "env",
        "adr",
        "add_deps_recursive",
        "quiet",
        "new",
        "renew",
        "skip_cache",
        "plan",
        "lock",
        "save_lock",
        "json",
        "out",
        "debug",
        "version",
        "version_min",
        "version_max",
        "version_max_usable",
        "cid",
        "repo",
        "force",
        "state",
        "cmd_key",
        "outdirname",
        "args",
        "unparsed",
        "want_lock",
    }
)

_VERSION_KEYS = ("version", "version_min", "version_max", "version_max_usable")


def query_of(request: dict[str, Any]) -> Query:
    """The tag query of a request (``query`` or ``tags``; text or a parsed Query)."""
    q = request.get("query")
    if q is None:
        q = request.get("tags")
    if isinstance(q, Query):
        return q
    return parse(q)


def with_lock(request: dict[str, Any], lock: dict[str, Any]) -> dict[str, Any]:
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


def plan_args(request: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :meth:`ckx.engine.planner.Planner.plan` for ``request``."""
    return {
        "query": query_of(request),
        "name": request.get("entry"),
        "env": dict(request.get("env") or {}),
        "adr": request.get("adr") or {},
        "inputs": {k: v for k, v in request.items() if k not in RESERVED},
        "constraint": {
            k: str(request[k]) for k in _VERSION_KEYS if request.get(k) not in (None, "", True)
        },
    }


def flags_of(request: dict[str, Any]) -> CacheFlags:
    """``--new``, ``--renew``, ``--skip_cache`` of a request."""
    return CacheFlags(
        new=bool(request.get("new")),
        renew=bool(request.get("renew")),
        skip_cache=bool(request.get("skip_cache")),
    )
