"""The script engine: plan the whole graph, then run it, caching results.

Public entry points (the ``script`` automation is a thin layer over them)::

    plan = make_plan(ctx, request)          # Plan: immutable tree of Nodes, .render(), .to_lock()
    result = run_plan(ctx, plan, request)   # Result: exported env/state, version, status
    out = run_request(ctx, request)         # both, as the dict ckx.access returns

How a request flows, and the modules: see docs/engine.md. In short:
:mod:`~ckx.engine.request` (request dict -> planner arguments),
:mod:`~ckx.engine.planner` (resolution; asks a :mod:`~ckx.engine.protocols` Provider, tells a
Reporter), :mod:`~ckx.engine.provider` (index + cache backed provider),
:mod:`~ckx.engine.reporter` (the CLI reporter), :mod:`~ckx.engine.model` (the plan),
:mod:`~ckx.engine.problems` (planning errors as data), :mod:`~ckx.engine.variations`,
:mod:`~ckx.engine.envs` (env rules and the one env composition), :mod:`~ckx.engine.hookspec`
(hooks declared once, the checker), :mod:`~ckx.engine.hooks` (the ``i`` object),
:mod:`~ckx.engine.dialect` (how the runner talks to content), :mod:`~ckx.engine.runner`
(execution, revisions), :mod:`~ckx.engine.nested` (nested runs from hooks),
:mod:`~ckx.engine.cache` (cache entries), :mod:`~ckx.engine.lockfile` (ckx.lock),
:mod:`~ckx.engine.session` (one request end to end).

This package's ``__init__`` imports nothing at start-up; the functions below import
:mod:`ckx.engine.session` when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Plan
    from ckx.engine.planner import Planner
    from ckx.engine.provider import RepoProvider
    from ckx.engine.runner import Result


def make_planner(ctx: Context, request: dict[str, Any]) -> tuple[Planner, RepoProvider]:
    """The planner and provider for ``request`` (pins from ``--lock`` included)."""
    from ckx.engine import session

    return session.make_planner(ctx, request)


def make_plan(ctx: Context, request: dict[str, Any], planner: Planner | None = None) -> Plan:
    """Resolve ``request`` (the dict of ``ckx run script ...``) into a Plan."""
    from ckx.engine import session

    return session.make_plan(ctx, request, planner)


def run_plan(
    ctx: Context,
    plan: Plan,
    request: dict[str, Any],
    planner: Planner | None = None,
    provider: RepoProvider | None = None,
) -> Result:
    """Run ``plan``; return the root's :class:`~ckx.engine.runner.Result`."""
    from ckx.engine import session

    return session.run_plan(ctx, plan, request, planner, provider)


def run_request(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Plan and run (or, with ``plan``, only plan) one request; return the result dict."""
    from ckx.engine import session

    return session.run_request(ctx, request)
