"""The seam between the runner and a dialect's lifecycle: what one node being run may ask.

The runner walks the plan: the cache, its locks, revisions, nested runs, the reporter. What
happens *inside* a node that is not cached (its hooks, its deps in order, detection, its run
script, what it exports) is the node's dialect's :class:`Lifecycle`: ckx's own
(:class:`ckx.engine.lifecycle.CkxLifecycle`) or MLCFlow's (:mod:`ckx.compat.runtime`). Both
are driven through the one public interface :class:`NodeOps`, which the runner implements::

    runner ──(NodeOps of the node)──▶ dialect.lifecycle.run(ops) ──▶ (version, env, state)
                     ▲                       │
                     └── ops.reach / run_child (its deps), ops.nested, ops.execute, ...

A lifecycle uses nothing else of the engine's run-time state. To add a step or change an
order (MLCFlow's ``os.chdir`` deciding where ``run.sh`` runs, a variation's ``state:``
block), change the lifecycle; to let it learn something new about the run, add a member
here and to :class:`ckx.engine.runner.RunnerOps`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.query import Query
    from ckx.engine.hookspec import Customize
    from ckx.engine.model import Edge, Node

#: What a lifecycle gives back for its node: (version, exported env, exported state).
Exports = tuple[str | None, dict[str, Any], dict[str, Any]]


class Result:
    """What one node gave its parent."""

    __slots__ = ("env", "state", "version", "status", "cache_uid", "node_id")

    def __init__(
        self,
        env: dict[str, Any],
        state: dict[str, Any],
        version: str | None,
        status: str,  # ran | cached
        cache_uid: str | None = None,
        node_id: int = 0,
    ) -> None:
        self.env = env
        self.state = state
        self.version = version
        self.status = status
        self.cache_uid = cache_uid
        self.node_id = node_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "state": self.state,
            "version": self.version,
            "status": self.status,
            "cache_uid": self.cache_uid,
        }


class NodeOps(Protocol):
    """What a lifecycle may ask about, and of, the one node it runs."""

    #: the context of the call (home, UI, the process environment)
    ctx: Context
    #: the planned node (read only: the plan is immutable)
    node: Node
    #: the node's live env (its layers composed over what it inherits) and state
    env: dict[str, Any]
    state: dict[str, Any]
    #: the folder the node runs in (its cache entry, ``--outdirname``, or the dialect's)
    work: Path
    #: how many nodes are being run above this one (nested runs included): 0 for the root
    #: of a top-level run
    depth: int

    @property
    def request(self) -> dict[str, Any]:
        """The request the plan being run was made from (``query``, ``name``, ``env``,
        ``adr``, ``inputs``, ``constraint``): a nested run's own for its nodes."""
        ...

    def merged_dep(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The dep declaration ``raw`` of this node as the planner reads it: the node's
        ``add_deps`` and the ``add_deps_recursive`` in force merged in, then read by the
        node's dialect (``plan_dep``). For a dep list a hook changed."""
        ...

    def reach(self, edge: Edge, dep: dict[str, Any], env: dict[str, Any], query: Query) -> Node:
        """The node ``edge`` runs when its declaration is ``dep`` and its tags ``query`` on
        ``env`` now: the planned one when both are as planned, else planned again (a
        revision, which the reporter is told)."""
        ...

    def run_child(self, child: Node, inherited: dict[str, Any], state: dict[str, Any]) -> Result:
        """Run (or reuse from the cache) the dep node ``child`` with ``inherited`` env."""
        ...

    def nested(self, request: dict[str, Any]) -> dict[str, Any]:
        """Plan and run another request now (same cache, locks, reporter, cycle check);
        ``{"plan": True}``: plan only, the result lists its root's direct deps."""
        ...

    def execute(
        self, cmd: list[str], cwd: Path, env: dict[str, str]
    ) -> tuple[int, list[str], Path]:
        """Run ``cmd`` (its output to the reporter and a log); return (rc, last lines, log)."""
        ...

    def choose(self, title: str, options: list[str], default: int = 0) -> int:
        """Pick one of several ``options`` (found installations ...) through the run's chooser."""
        ...

    def info(self, text: str) -> None:
        """A progress line for the user."""
        ...


class Lifecycle(Protocol):
    """A dialect's steps of one node, and what the engine needs of them before it runs."""

    def load_hooks(self, folder: Path) -> Customize | None:
        """The checked hooks of the entry in ``folder`` (None: it has none); the planner
        calls it for every node that will run, so a bad hook stops the plan."""
        ...

    def run_folder(self, cwd: str) -> Path | None:
        """Where a node that is not cached runs when no ``--outdirname`` is given: None for
        a fresh folder under ``CKX_HOME/state/work``, or a folder the content expects."""
        ...

    def run(self, ops: NodeOps) -> Exports:
        """Run the node's steps (hooks, deps through ``ops``, its script); return what it
        exports to its parent."""
        ...
