"""The script engine: plan the whole graph, then run it, caching results.

Public entry points (the ``script`` automation is a thin layer over them)::

    plan = make_plan(ctx, request)          # Plan: immutable tree of Nodes, .render(), .to_lock()
    result = run_plan(ctx, plan, request)   # Result: exported env/state, version, status
    out = run_request(ctx, request)         # both, as the dict ckx.access returns

How a request flows, and the modules: see docs/engine.md. In short:
:mod:`~ckx.engine.planner` (request dict -> planner arguments, resolution; asks a
:mod:`~ckx.engine.protocols` Provider and Chooser, tells a Reporter),
:mod:`~ckx.engine.provider` (the provider: index, cache, installed packages first; the
chooser), :mod:`~ckx.engine.reporter` (the CLI reporter), :mod:`~ckx.engine.model` (the
plan), :mod:`~ckx.engine.problems` (planning errors as data), :mod:`~ckx.engine.variations`,
:mod:`~ckx.engine.envs` (env rules and the one env composition), :mod:`~ckx.engine.hookspec`
(hooks declared once, the checker), :mod:`~ckx.engine.hooks` (the ``i`` object),
:mod:`~ckx.engine.dialects` (plan policy per kind of content, and its lifecycle),
:mod:`~ckx.engine.nodeops` (the seam: what a lifecycle may ask), :mod:`~ckx.engine.lifecycle`
(ckx's steps of a node), :mod:`~ckx.engine.runner` (execution, revisions, the cache),
:mod:`~ckx.engine.nested` (nested runs from hooks), :mod:`~ckx.engine.cache` (cache entries),
:mod:`~ckx.engine.lockfile` (ckx.lock), :mod:`~ckx.engine.planreport` (``--plan``'s
artefacts); the functions below take one request end to end.

This package's ``__init__`` imports nothing at start-up: its functions import what they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Plan
    from ckx.engine.nodeops import Result
    from ckx.engine.planner import Planner
    from ckx.engine.protocols import Reporter
    from ckx.engine.provider import RepoProvider


def make_planner(
    ctx: Context,
    request: dict[str, Any],
    reporter: Reporter | None = None,
    *,
    lock: dict[str, Any] | None = None,
) -> tuple[Planner, RepoProvider]:
    """The planner and provider for ``request``: the provider of its kind (installed
    packages first) and the chooser beside it (``ctx.ui``'s prompts), ``reporter`` (default: a
    :class:`~ckx.engine.reporter.CliReporter` on ``ctx.ui``), and the pins of ``lock`` (the
    request's ``--lock`` document; read here when not given)."""
    from ckx.engine.planner import Planner
    from ckx.engine.provider import provider_for
    from ckx.engine.reporter import CliReporter

    provider = provider_for(ctx, request)  # the repo a request names is its root's
    if lock is None:
        lock = _read_lock(request)
    pins = None
    if lock is not None:
        from ckx.engine.lockfile import pins as lock_pins

        pins = lock_pins(lock)
    reporter = reporter or CliReporter(ctx.ui)
    return Planner(provider, reporter, chooser=provider.chooser, pins=pins), provider


def _read_lock(request: dict[str, Any]) -> dict[str, Any] | None:
    if not request.get("lock"):
        return None
    from ckx.engine.lockfile import read_lock

    return read_lock(request["lock"])


def make_plan(
    ctx: Context,
    request: dict[str, Any],
    planner: Planner | None = None,
    *,
    lock: dict[str, Any] | None = None,
) -> Plan:
    """Resolve ``request`` (the dict of ``ckx run script ...``) into a Plan; with ``--lock``,
    the locked graph again (``lock``: the lock document, when the caller has read it)."""
    if lock is None:
        lock = _read_lock(request)
    if planner is None:
        planner, _ = make_planner(ctx, request, lock=lock)
    if lock is not None:
        from ckx.engine.lockfile import replay_request

        request = replay_request(request, lock)
    plan = planner.plan_request(request)
    if lock is not None:
        from ckx.engine.lockfile import check_replay

        check_replay(plan, lock)
    return plan


def run_plan(
    ctx: Context,
    plan: Plan,
    request: dict[str, Any],
    planner: Planner | None = None,
    provider: RepoProvider | None = None,
) -> Result:
    """Run ``plan``; return the root's :class:`~ckx.engine.nodeops.Result`."""
    from ckx.engine.runner import Runner

    if planner is None or provider is None:
        planner, provider = make_planner(ctx, request)
    return Runner(ctx, planner, provider).run(plan, state=request.get("state") or {})


def run_request(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Plan and run one request; return the result dict. With ``plan``, only plan: print
    the graph and which artefact each node would use (nothing is fetched), and return them
    (``plan``, ``plan_text``, ``artifacts``): the one ``--plan`` of every automation."""
    from ckx.engine.reporter import CliReporter

    reporter = CliReporter(ctx.ui)
    lock = _read_lock(request)
    planner, provider = make_planner(ctx, request, reporter, lock=lock)
    plan = make_plan(ctx, request, planner, lock=lock)
    provider.dialect(plan.root.entry).check_plan(plan, request)  # an unused --key fails first
    out: dict[str, Any] = {"return": 0}
    if request.get("save_lock"):
        from ckx.engine.lockfile import write_lock

        target = request["save_lock"] if isinstance(request["save_lock"], str) else "ckx.lock"
        out["lock_file"] = str(write_lock(plan, target))
    if request.get("plan"):
        return _show_plan(ctx, plan, out)
    rec = plan.root.cached
    uid: str | None
    if rec is not None and not rec.problems():
        # the fully cached path: nothing to run, so the runner (and subprocess) is not imported
        reporter.cached(plan.root, rec)
        env, state, version, status, uid = rec.env, rec.state, rec.version, "cached", rec.uid
    else:
        from ckx.engine.runner import Runner

        runner = Runner(ctx, planner, provider, reporter)
        result = runner.run(plan, state=request.get("state") or {})
        plan = runner.ran_plan()
        env, state, version, status = result.env, result.state, result.version, result.status
        uid = result.cache_uid
    out.update(env=env, new_env=env, state=state, new_state=state, version=version)
    out.update(status=status, cache_uid=uid)
    if reporter.revisions:
        out["revisions"] = list(reporter.revisions)
    if request.get("want_lock"):
        out["lock"] = plan.to_lock()  # what experiments record (entries, variations, versions)
    return out


def _show_plan(ctx: Context, plan: Plan, out: dict[str, Any]) -> dict[str, Any]:
    from ckx.engine.planreport import artifact_report

    out.update(plan=plan.to_dict(), plan_text=plan.render(), artifacts=artifact_report(ctx, plan))
    for line in [out["plan_text"], *out["artifacts"]]:
        ctx.ui.print(line)
    return out
