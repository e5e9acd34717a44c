"""Content dialects: how the engine plans one kind of content, and whose lifecycle runs it.

ckx runs its own scripts and, through ``ckx/compat/``, MLCFlow's. Their plan is the same
(meta vocabulary, deps, variations, versions, cache); what differs is the meaning of some
declarations and the life of a node once it runs. A :class:`Dialect`, chosen per entry by
its repo (:meth:`~Dialect.claims`), is that difference, in ten members (the protocol is
:class:`ckx.engine.protocols.Dialect`, beside the provider that hands dialects out):

* ``name``, and ``prefix``: the prefix of the engine's variables (``CKX_`` ->
  ``CKX_VERSION``, ``CKX_TMP_*``), which the planner's env layers use;
* :meth:`~Dialect.claims`: does it serve the entries of a repo;
* :meth:`~Dialect.preference`: the sort key among several matching entries (ckx's content
  first, in its documented order; then each dialect's own: MLCFlow's lowest ``sort``);
* :meth:`~Dialect.plan_dep` and :meth:`~Dialect.dep_enabled`: what a dep declaration means
  (fields ckx does not have, how a condition on the env reads);
* :meth:`~Dialect.check_plan`: a check of the whole plan before anything runs (ckx's: strict
  inputs);
* ``predicts_conditions``: a dep decided when reached whose condition is false on the env
  known at plan time is not planned until it is reached and holds (MLCFlow's post deps on
  Windows, installers behind ``MLC_REQUIRE_INSTALL``); ckx plans them all;
* ``variation_env_wins``: the chosen variations' ``env`` is applied again after the inputs
  (MLCFlow's order; ckx's own content lets an input win);
* ``lifecycle``: the node's steps once it runs (hooks, deps, detection, script, exports) and
  what the planner asks of them first (its hooks checked, its run folder), a
  :class:`ckx.engine.nodeops.Lifecycle` driven through :class:`~ckx.engine.nodeops.NodeOps`:
  ckx's is :class:`ckx.engine.lifecycle.CkxLifecycle`, MLCFlow's
  :class:`ckx.compat.runtime.MlcLifecycle`.

A new dialect is an object with these members (:class:`DialectDefaults` gives ckx's plan
policy; no subclassing needed). The dialects a call serves are on its Context
(:attr:`ckx.core.context.Context.dialects`, made once per Context by the door that made it);
ckx's, :data:`CKX`, serves every repo no other dialect claims.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ckx.core.entries import Entry
from ckx.core.errors import CkxError, MetaError
from ckx.engine import envs
from ckx.engine.inputcheck import check_inputs

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Plan
    from ckx.engine.nodeops import Lifecycle
    from ckx.engine.protocols import Dialect


class DialectDefaults:
    """ckx's plan policy, for a dialect to keep what it does not change (subclass it, or
    define the members yourself)."""

    predicts_conditions = False
    variation_env_wins = False

    def preference(self, entry: Entry) -> tuple:
        return (1, *priority(entry))  # after ckx's own content

    def plan_dep(self, dep: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
        return dep

    dep_enabled = staticmethod(envs.dep_enabled)

    def check_plan(self, plan: Plan, request: dict[str, Any]) -> None:
        return None


def is_current_folder(folder: Path | str) -> bool:
    """Is ``folder`` the one the process runs in (where a lifecycle's ``run_folder`` may put
    a node: ckx then writes there only what the content writes)?"""
    return os.path.realpath(folder) == os.path.realpath(os.getcwd())


class CkxDialect(DialectDefaults):
    """ckx's own content: ``CKX_`` variables, strict inputs, its lifecycle
    (:class:`ckx.engine.lifecycle.CkxLifecycle`)."""

    name = "ckx"
    prefix = "CKX_"

    @cached_property
    def lifecycle(self) -> Lifecycle:
        # made (and its module imported) when a node is first planned to run, not before
        from ckx.engine.lifecycle import CkxLifecycle

        return CkxLifecycle()

    def claims(self, repo: Any) -> bool:
        return True  # the default for every repo no other dialect claims

    def preference(self, entry: Entry) -> tuple:
        return (0, *priority(entry))

    #: strict inputs (:mod:`ckx.engine.inputcheck`): an unused ``--key`` fails first
    check_plan = staticmethod(check_inputs)


def priority(entry: Entry) -> tuple:
    """ckx's documented order among several matching entries: declared priority (meta
    ``sort`` or ``priority``, higher first), then newest version (the newest key of
    ``versions``, else ``default_version``), then alias."""
    from ckx.core.versions import parse_version

    meta = entry.meta
    try:
        prio = float(meta.get("sort", meta.get("priority", 0)) or 0)
    except (TypeError, ValueError):
        prio = 0.0
    vs = [str(v) for v in (meta.get("versions") or {})]
    if meta.get("default_version"):
        vs.append(str(meta["default_version"]))
    best = None
    for v in vs:
        try:
            pv = parse_version(v)
        except CkxError:
            continue
        best = pv if best is None or pv > best else best
    return (-prio, 0 if best is not None else 1, NewestFirst(best), entry.alias)


class NewestFirst:
    """Sorts versions newest first inside a key tuple (None sorts with anything)."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: NewestFirst) -> bool:
        return self.v is not None and other.v is not None and self.v > other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewestFirst) and self.v == other.v


#: ckx's dialect (the default).
CKX: Dialect = CkxDialect()


def dialect_for(ctx: Context, repo: Any) -> Dialect:
    """The dialect of the entries of ``repo`` (None or a repo no dialect of ``ctx.dialects``
    claims: ckx's)."""
    if repo is not None:
        for d in ctx.dialects:
            if d.claims(repo):
                return cast("Dialect", d)
    return CKX


def hook_problems(ctx: Context, entry: Entry) -> list[str]:
    """What is wrong with the ``customize.py`` of ``entry`` under its dialect's hook spec (an
    import error, a hook with the wrong signature, ...): ``ckx lint`` reports these."""
    if not (entry.path / "customize.py").is_file():
        return []
    dialect = dialect_for(ctx, ctx.registry.get(entry.repo)) if ctx.dialects else CKX
    try:
        dialect.lifecycle.load_hooks(entry.path)
    except MetaError as e:
        return [e.message]
    return []
