"""The runner: executes a :class:`~ckx.engine.model.Plan`, node by node, without changing it.

Per node: a valid cache entry is reused (its recorded exports, nothing runs); otherwise, under
the cache key's lock, the node's dialect's lifecycle runs it
(:class:`ckx.engine.nodeops.Lifecycle`: ckx's steps are in :mod:`ckx.engine.lifecycle`,
MLCFlow's in :mod:`ckx.compat.runtime`), given the node's :class:`RunnerOps`, and what it
exports is recorded in a new cache entry. The runner keeps the plan, the cache, the locks,
revisions, nested runs, running commands and the reporter; the lifecycle asks for them
through :class:`~ckx.engine.nodeops.NodeOps` only.

The plan is immutable. What is learnt only while running goes through one step,
:meth:`Runner.revise` (:meth:`ckx.engine.planner.Planner.revise`), which plans the affected
node and its subtree again and tells the reporter why:

* a deferred dep whose tags, once its condition is decided on the real env, differ from the
  plan (or whose planning failed and which is needed), or whose declaration a hook changed;
* a node with ``cache_key_env`` whose key, from the env it really inherits, differs from the
  planned one;
* a node planned as cached whose cache entry is no longer valid when reached.

:meth:`Runner.ran_plan` is the plan as it was run (revised nodes in place).

Hooks may run another script now (``i.run_script(...)``, MLCFlow's ``mlc.access``):
:meth:`Runner.run_nested`, a nested plan under the same cache, locks and reporter, whose
cycle check sees every node being run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.engine import envs
from ckx.engine.dialects import is_current_folder
from ckx.engine.nodeops import Result
from ckx.engine.planner import Outer, Planner, node_key
from ckx.engine.provider import CacheFlags, RepoProvider, entries_changed

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.query import Query
    from ckx.engine.cache import CacheRecord
    from ckx.engine.model import Edge, Node, Origin, Plan
    from ckx.engine.nodeops import Lifecycle
    from ckx.engine.protocols import Chooser, Reporter

__all__ = ["Result", "Runner", "RunnerOps"]

LOG_FILE = "ckx-run.log"
TAIL_LINES = 25


class Runner:
    """Runs plans made by ``planner`` against the context ``ctx``; ``stack`` is shared with
    the runners of nested runs (the nodes being run, outermost first)."""

    def __init__(
        self,
        ctx: Context,
        planner: Planner,
        provider: RepoProvider,
        reporter: Reporter | None = None,
        *,
        flags: CacheFlags | None = None,
        stack: list[Node] | None = None,
    ) -> None:
        self.ctx = ctx
        self.planner = planner
        self.provider = provider
        self.reporter: Reporter = reporter or planner.reporter
        self.chooser: Chooser = planner.chooser
        self.flags = flags or provider.flags
        self.revised: dict[str, Node] = {}
        self.notes: list[str] = []
        self.stack: list[Node] = stack if stack is not None else []
        self.plan: Plan | None = None

    def run(
        self, plan: Plan, *, env: dict[str, Any] | None = None, state: dict[str, Any] | None = None
    ) -> Result:
        """Run the whole plan; return the root's result."""
        self.plan = plan
        return self.node(plan.root, dict(env or {}), dict(state or {}))

    def ran_plan(self) -> Plan:
        """The plan as it was run: revised nodes in place, the revisions noted."""
        assert self.plan is not None, "run() first"
        return self.plan.with_revisions(self.revised, self.notes)

    # -- the one revise step -----------------------------------------------------------------
    def revise(self, origin: Origin, env: dict[str, Any], reason: str, query: Any = None) -> Node:
        """Plan the node of ``origin`` again (see the module doc); remember it and why."""
        assert self.plan is not None
        node = self.planner.revise(self.plan, origin, env, reason, query)
        self.revised[origin.path] = node
        self.notes.append(f"{' → '.join(node.chain)}: {reason}")
        return node

    # -- one node --------------------------------------------------------------------------
    def node(self, node: Node, inherited: dict[str, Any], state: dict[str, Any]) -> Result:
        """Run ``node`` (or reuse its cache entry) with ``inherited`` env; its result."""
        if node.cacheable and node.meta.get("cache_key_env"):
            key = node_key(node, envs.compose(inherited, node.layers))
            if key != node.cache_key:
                why = "cache_key_env values from the deps that ran give another cache key"
                node = self.revise(node.origin, inherited, why)
        rec = node.cached
        if rec is not None:
            problems = rec.problems()
            if not problems:
                return self._from_cache(node, rec)
            why = f"its cache entry {rec.uid} is no longer valid ({problems[0]})"
            node = self.revise(node.origin, inherited, why)
            if node.cached is not None:
                return self._from_cache(node, node.cached)
        if not node.cacheable:
            return self._build(node, inherited, state, work=None)
        return self._build_cached(node, inherited, state)

    def _build_cached(self, node: Node, inherited: dict[str, Any], state: dict[str, Any]) -> Result:
        store = self.provider.store
        assert node.cache_key is not None  # set by the planner for every cacheable node
        root = node.path == "root"
        what = f"run {node.entry.alias} {node.selection.text}".strip()
        with store.locked(node.cache_key, what=what):
            if self.flags.reuse(node.path):
                again = store.valid(node.cache_key)
                if again:  # another process made it while we waited
                    return self._from_cache(node, again[0])
            if root and self.flags.renew:
                for old in store.records(node.cache_key):
                    store.remove(old)
            if root and self.flags.skip_cache:
                return self._build(node, inherited, state, work=None)
            build = store.begin(node.cache_key)
            try:
                result = self._build(node, inherited, state, work=build.path)
                rec = store.commit(build, _cache_meta(node, result, build.path))
            except BaseException:
                store.abort(build)
                raise
        entries_changed(self.ctx)
        result.cache_uid = rec.uid
        return result

    def _from_cache(self, node: Node, rec: CacheRecord) -> Result:
        self.reporter.cached(node, rec)
        res = Result(dict(rec.env), dict(rec.state), rec.version, "cached", rec.uid, node.id)
        self.reporter.done(node, "cached")
        return res

    def _build(
        self, node: Node, inherited: dict[str, Any], state: dict[str, Any], work: Path | None
    ) -> Result:
        """The node's lifecycle, given its :class:`RunnerOps`; the exports as a Result."""
        self.reporter.started(node)
        lifecycle = self.provider.dialect(node.entry).lifecycle
        work = work or self._work_dir(node, lifecycle)
        ops = RunnerOps(self, node, envs.compose(inherited, node.layers), dict(state), work)
        self.stack.append(node)
        try:
            version, exported, state_out = lifecycle.run(ops)
        finally:
            self.stack.pop()
        res = Result(exported, state_out, str(version) if version else None, "ran", None, node.id)
        self.reporter.done(node, "ran")
        return res

    def _work_dir(self, node: Node, lifecycle: Lifecycle) -> Path:
        out = node.inputs.get("outdirname")
        if out:
            p = Path(out).expanduser().resolve()
            p.mkdir(parents=True, exist_ok=True)
            return p
        here = lifecycle.run_folder(os.getcwd())
        if here is not None:
            return here
        base = self.ctx.state_dir("work")
        p = base / f"{node.entry.alias}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
        p.mkdir(parents=True)
        return p

    # -- nested runs -----------------------------------------------------------------------
    def run_nested(self, request: dict[str, Any], parent: Node) -> dict[str, Any]:
        """Plan and run ``request`` now, for a hook of ``parent`` (see
        :func:`ckx.engine.nested.run_nested`); return its result dict."""
        planner = self.planner.without_pins()
        outer = Outer(
            chain=parent.chain,
            ancestors=tuple(n.group for n in self.stack),
            via=self.provider.dialect(parent.entry).name,
        )
        plan = planner.plan_request(request, outer)
        flags = CacheFlags.of(request)
        runner = Runner(
            self.ctx,
            planner,
            self.provider.with_flags(flags),
            self.reporter,
            flags=flags,
            stack=self.stack,
        )
        result = runner.run(plan, state=request.get("state") or {})
        return result.to_dict()

    # -- commands --------------------------------------------------------------------------
    def execute(
        self, node: Node, cmd: list[str], cwd: Path, proc_env: dict[str, str]
    ) -> tuple[int, list[str], Path]:
        """Run ``cmd`` for ``node``, its output to the reporter and a log; return rc, the
        last lines, the log."""
        import subprocess
        from collections import deque

        log = self._log_file(node, cwd)
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        with open(log, "w", encoding="utf-8", errors="replace") as logf:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=proc_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
            )
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    logf.write(line)
                    tail.append(line.rstrip("\n"))
                    self.reporter.output(node, line)
                rc = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        return rc, list(tail), log

    def _log_file(self, node: Node, cwd: Path) -> Path:
        """``ckx-run.log`` in the node's folder, except in the user's current folder (where
        MLCFlow's scripts run): there ckx writes only what the script writes, and the log
        goes to ``CKX_HOME/state/logs/``."""
        if not is_current_folder(cwd):
            return cwd / LOG_FILE
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"
        return self.ctx.state_dir("logs") / f"{node.entry.alias}-{stamp}.log"


def _cache_meta(node: Node, result: Result, path: Path) -> dict[str, Any]:
    from ckx.engine.cache import cache_tags, parse_expiration

    now = time.time()
    ttl = parse_expiration(node.meta.get("cache_expiration"))
    return {
        "alias": f"{node.entry.alias}-{path.name}",
        "tags": cache_tags(
            list(node.entry.tags), list(node.variations), result.version, node.entry.uid
        ),
        "script_uid": node.entry.uid,
        "script_alias": node.entry.alias,
        "script_repo": node.entry.repo,
        "variations": list(node.variations),
        "version": result.version,
        "constraints": node.joint(),
        "created": now,
        "expires": now + ttl if ttl else None,
        "new_env": result.env,
        "new_state": result.state,
        "paths": envs.recorded_paths(result.env),
        "has_downloads": bool(node.meta.get("download")),
    }


class RunnerOps:
    """The runner's :class:`~ckx.engine.nodeops.NodeOps` for one node being run: the one
    interface a lifecycle drives (see :mod:`ckx.engine.nodeops`)."""

    def __init__(
        self, runner: Runner, node: Node, env: dict[str, Any], state: dict[str, Any], work: Path
    ) -> None:
        self._runner = runner
        self.ctx = runner.ctx
        self.node = node
        self.env = env
        self.state = state
        self.work = work
        self.depth = len(runner.stack)  # the nodes being run above this one

    @property
    def request(self) -> dict[str, Any]:
        plan = self._runner.plan
        return plan.request if plan is not None else {}

    def merged_dep(self, raw: dict[str, Any]) -> dict[str, Any]:
        return self._runner.planner.read_dep(self.node, raw)

    def reach(self, edge: Edge, dep: dict[str, Any], env: dict[str, Any], query: Query) -> Node:
        if dep == edge.dep and query == edge.query:
            if edge.node is not None:
                return edge.node
            if edge.error is not None:
                raise edge.error
        from ckx.engine.model import Constraint

        assert edge.origin is not None  # every edge of a planned node has one
        origin = edge.origin
        if dep != edge.dep:
            why = f"{edge.label()} was changed by a hook"
            origin = origin.but(request_env=dict(dep.get("env") or {}), own=Constraint.of(dep, ()))
        else:
            why = f"{edge.label()} decided when reached: its tags are '{query}' now"
        return self._runner.revise(origin, env, why, query=query)

    def run_child(self, child: Node, inherited: dict[str, Any], state: dict[str, Any]) -> Result:
        return self._runner.node(child, inherited, state)

    def nested(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("plan"):
            planner = self._runner.planner.without_pins()
            plan = planner.plan_request(request)
            return {"deps": [f"{e.kind}: {e.query}" for e in plan.root.edges if not e.skipped]}
        return self._runner.run_nested(request, self.node)

    def execute(
        self, cmd: list[str], cwd: Path, env: dict[str, str]
    ) -> tuple[int, list[str], Path]:
        return self._runner.execute(self.node, cmd, cwd, env)

    def choose(self, title: str, options: list[str], default: int = 0) -> int:
        return self._runner.chooser.choose(title, options, default)

    def info(self, text: str) -> None:
        self.ctx.ui.info(text)
