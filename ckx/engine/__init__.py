"""The script engine: plan the whole graph, then run it, caching results.

Public entry points (the ``script`` automation is a thin layer over them)::

    plan = make_plan(ctx, request)          # Plan: immutable tree of Nodes, .render(), .to_lock()
    result = run_plan(ctx, plan, request)   # Result: exported env/state, version, status
    out = run_request(ctx, request)         # both, as the dict ckx.access returns

How a request flows, and the modules: see docs/engine.md. In short:
:mod:`~ckx.engine.planner` (request dict -> planner arguments, resolution; asks a
:mod:`~ckx.engine.protocols` Provider, tells a
Reporter), :mod:`~ckx.engine.provider` (index + cache backed provider),
:mod:`~ckx.engine.reporter` (the CLI reporter), :mod:`~ckx.engine.model` (the plan),
:mod:`~ckx.engine.problems` (planning errors as data), :mod:`~ckx.engine.variations`,
:mod:`~ckx.engine.envs` (env rules and the one env composition), :mod:`~ckx.engine.hookspec`
(hooks declared once, the checker), :mod:`~ckx.engine.hooks` (the ``i`` object),
:mod:`~ckx.engine.dialects` (how the runner talks to content), :mod:`~ckx.engine.runner`
(execution, revisions), :mod:`~ckx.engine.nested` (nested runs from hooks),
:mod:`~ckx.engine.cache` (cache entries), :mod:`~ckx.engine.lockfile` (ckx.lock); the
functions below take one request end to end.

This package's ``__init__`` imports nothing at start-up: its functions import what they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Plan
    from ckx.engine.planner import Planner
    from ckx.engine.protocols import Reporter
    from ckx.engine.provider import RepoProvider
    from ckx.engine.runner import Result


def make_planner(
    ctx: Context, request: dict[str, Any], reporter: Reporter | None = None
) -> tuple[Planner, RepoProvider]:
    """The planner and provider for ``request`` (pins from ``--lock`` included); ``reporter``
    defaults to a :class:`~ckx.engine.reporter.CliReporter` on ``ctx.ui``."""
    from ckx.engine.installed import provider_for
    from ckx.engine.planner import Planner
    from ckx.engine.reporter import CliReporter

    # installed packages first, registered copies reused, `ckx run TAGS` finds packages too
    provider = provider_for(ctx, request)  # the repo a request names is its root's
    pins = None
    if request.get("lock"):
        from ckx.engine.lockfile import pins as lock_pins
        from ckx.engine.lockfile import read_lock

        pins = lock_pins(read_lock(request["lock"]))
    return Planner(provider, reporter or CliReporter(ctx.ui), pins=pins), provider


def make_plan(ctx: Context, request: dict[str, Any], planner: Planner | None = None) -> Plan:
    """Resolve ``request`` (the dict of ``ckx run script ...``) into a Plan."""
    from ckx.engine.planner import plan_args

    if planner is None:
        planner, _ = make_planner(ctx, request)
    lock = None
    if request.get("lock"):
        from ckx.engine.lockfile import read_lock, replay_request

        lock = read_lock(request["lock"])
        request = replay_request(request, lock)
    plan = planner.plan(**plan_args(request))
    if lock is not None:
        from ckx.engine.lockfile import check_replay

        check_replay(plan, lock)
    return plan


def show_plan(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """``--plan`` of a package or program: the graph, then which installed (or registered)
    artefact each node uses and what would be fetched. Nothing runs; undeclared inputs are
    refused as in a run."""
    from ckx.engine.inputcheck import check_inputs
    from ckx.engine.installed import artifact_report

    plan = make_plan(ctx, request, make_planner(ctx, request)[0])
    check_inputs(plan, request)
    out: dict[str, Any] = {"return": 0, "plan": plan.to_dict(), "plan_text": plan.render()}
    out["artifacts"] = artifact_report(ctx, plan)
    for line in [out["plan_text"], *out["artifacts"]]:
        ctx.ui.print(line)
    return out


def run_plan(
    ctx: Context,
    plan: Plan,
    request: dict[str, Any],
    planner: Planner | None = None,
    provider: RepoProvider | None = None,
) -> Result:
    """Run ``plan``; return the root's :class:`~ckx.engine.runner.Result`."""
    from ckx.engine.runner import Runner

    if planner is None or provider is None:
        planner, provider = make_planner(ctx, request)
    return Runner(ctx, planner, provider).run(plan, state=request.get("state") or {})


def run_request(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Plan and run (or, with ``plan``, only plan) one request; return the result dict."""
    from ckx.engine.reporter import CliReporter

    reporter = CliReporter(ctx.ui)
    planner, provider = make_planner(ctx, request, reporter)
    plan = make_plan(ctx, request, planner)
    plan.root.dialect.check_plan(plan, request)  # strict inputs: an unused --key fails first
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
