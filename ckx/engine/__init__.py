"""The script engine: plan the whole graph, then run it, caching results.

Public entry points (the ``script`` automation is a thin layer over them)::

    plan = make_plan(ctx, request)          # Plan: tree of Nodes, .render(), .to_lock()
    result = run_plan(ctx, plan, request)   # Result: exported env/state, version, status

Modules: :mod:`~ckx.engine.variations` (the variation rule), :mod:`~ckx.engine.planner`
(resolution, provider protocol), :mod:`~ckx.engine.provider` (index + cache backed provider),
:mod:`~ckx.engine.envs` (env rules), :mod:`~ckx.engine.hooks` (customize.py),
:mod:`~ckx.engine.runner` (execution), :mod:`~ckx.engine.cache` (cache entries),
:mod:`~ckx.engine.lockfile` (ckx.lock).
"""

from __future__ import annotations

from typing import Any

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


def _query(request: dict[str, Any]):
    from ckx.core.query import Query, parse

    q = request.get("query")
    if q is None:
        q = request.get("tags")
    if isinstance(q, Query):
        return q
    return parse(q)


def make_planner(ctx, request: dict[str, Any]):
    """The planner and provider for ``request`` (pins from ``--lock`` included)."""
    from ckx.engine.installed import provider_for
    from ckx.engine.planner import Planner

    # installed packages first, registered copies reused, `ckx run TAGS` finds packages too
    provider = provider_for(ctx, request)
    pins = None
    if request.get("lock"):
        from ckx.engine.lockfile import pins as lock_pins
        from ckx.engine.lockfile import read_lock

        pins = lock_pins(read_lock(request["lock"]))
    return Planner(provider, pins=pins), provider


def make_plan(ctx, request: dict[str, Any], planner=None):
    """Resolve ``request`` (the dict of ``ckx run script ...``) into a Plan."""
    if planner is None:
        planner, _ = make_planner(ctx, request)
    lock = None
    if request.get("lock"):
        from ckx.engine.lockfile import read_lock

        lock = read_lock(request["lock"])
        req = lock.get("request") or {}
        request = {
            **request,
            "query": req.get("query"),
            "entry": req.get("name"),
            "env": {**(req.get("env") or {}), **(request.get("env") or {})},
            "adr": req.get("adr") or request.get("adr"),
        }
    # --outdirname is an engine option the runner reads from the root's inputs (its folder)
    inputs = {k: v for k, v in request.items() if k not in RESERVED or k == "outdirname"}
    constraint = {
        k: str(request[k])
        for k in ("version", "version_min", "version_max", "version_max_usable")
        if request.get(k) not in (None, "", True)
    }
    plan = planner.plan(
        _query(request),
        name=request.get("entry"),
        env={k: v for k, v in (request.get("env") or {}).items()},
        adr=request.get("adr") or {},
        inputs=inputs,
        constraint=constraint,
    )
    if lock is not None:
        from ckx.engine.lockfile import check_replay

        check_replay(plan, lock)
    return plan


def run_plan(ctx, plan, request: dict[str, Any], planner=None, provider=None):
    """Run ``plan``; return the root's :class:`~ckx.engine.runner.Result`."""
    from ckx.engine.runner import Runner

    if planner is None or provider is None:
        planner, provider = make_planner(ctx, request)
    return Runner(ctx, planner, provider).run(plan, state=request.get("state") or {})


def run_request(ctx, request: dict[str, Any]) -> dict[str, Any]:
    """Plan and run (or, with ``plan``, only plan) one request; return the result dict."""
    planner, provider = make_planner(ctx, request)
    plan = make_plan(ctx, request, planner)
    from ckx.engine.inputs import check_inputs

    check_inputs(plan, request)  # strict inputs: an unused --key fails before anything runs
    out: dict[str, Any] = {"return": 0}
    if request.get("save_lock"):
        from ckx.engine.lockfile import write_lock

        target = request["save_lock"] if isinstance(request["save_lock"], str) else "ckx.lock"
        out["lock_file"] = str(write_lock(plan, target))
    if request.get("plan"):
        out["plan"] = plan.to_dict()
        out["plan_text"] = plan.render()
        return out
    rec = plan.root.cached
    if rec is not None and not rec.problems():
        # the fully cached path: nothing to run, so the runner (and subprocess) is not imported
        ctx.ui.info(f"  cached: {plan.root.title()} ({rec.path})")
        env, state, version, status, uid = rec.env, rec.state, rec.version, "cached", rec.uid
    else:
        result = run_plan(ctx, plan, request, planner, provider)
        env, state, version, status, uid = (
            result.env,
            result.state,
            result.version,
            result.status,
            result.cache_uid,
        )
    out.update(
        env=env,
        new_env=env,
        state=state,
        new_state=state,
        version=version,
        status=status,
        cache_uid=uid,
    )
    if request.get("want_lock"):
        out["lock"] = plan.to_lock()  # what experiments record (entries, variations, versions)
    return out
