"""The runner: executes a :class:`~ckx.engine.model.Plan`, node by node, without changing it.

Per node (a cache hit skips all of it and exports what the entry recorded)::

    compose env (ckx.engine.envs.compose of the node's layers) -> deps -> detect block (if any)
    -> downloads -> preprocess(i) -> prehook_deps -> run script -> posthook_deps
    -> postprocess(i) -> detect_version(i) (nodes without a detect block) -> post_deps
    -> check the version -> export new_env_keys/new_state_keys

A dep's exported env is merged into its parent's env as soon as the dep is done, so later
deps and the parent's hooks and script see it.

The plan is immutable. What is learnt only while running goes through one step,
:meth:`Runner._revise` (:meth:`ckx.engine.planner.Planner.revise`), which plans the affected
node and its subtree again and tells the reporter why:

* a deferred dep whose tags, once its condition is decided on the real env, differ from the
  plan (or whose planning failed and which is needed);
* a node with ``cache_key_env`` whose key, from the env it really inherits, differs from the
  planned one;
* a node planned as cached whose cache entry is no longer valid when reached.

:meth:`Runner.ran_plan` is the plan as it was run (revised nodes in place).

How the runner talks to a node's files (hook ``i``, hook folder, run script, output files,
engine variables) is its dialect's business (:mod:`ckx.engine.dialects`). For ckx's own: the
script runs with the node's env exported (``+PATH``-style lists prepended), in its working
folder (the cache entry for cacheable scripts, otherwise ``--outdirname`` if given, else a
fresh folder under ``CKX_HOME/state/work``), and reports back through
``$CKX_OUTPUT_ENV_FILE`` (``KEY=VALUE`` lines; ``CKX_DETECTED_VERSION`` sets the version) and
``$CKX_OUTPUT_STATE_FILE`` (a JSON object merged into the state).

Hooks may run another script now with ``i.run_script(...)`` (:meth:`Runner.run_nested`): a
nested plan under the same cache, locks and reporter, whose cycle check sees every node
being run.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core.errors import CkxError, RunError
from ckx.core.query import parse
from ckx.engine import envs
from ckx.engine.dialects import is_current_folder
from ckx.engine.hooks import HookCall, call_hook, detect_spec
from ckx.engine.model import Edge, Node, Origin, Plan
from ckx.engine.planner import Outer, Planner, node_key, plan_args
from ckx.engine.protocols import Reporter
from ckx.engine.provider import CacheFlags, RepoProvider, entries_changed

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.cache import CacheRecord

LOG_FILE = "ckx-run.log"
TAIL_LINES = 25


@dataclass
class Result:
    """What one node gave its parent."""

    env: dict[str, Any]
    state: dict[str, Any]
    version: str | None
    status: str  # ran | cached
    cache_uid: str | None = None
    node_id: int = 0
    children: list[Result] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "state": self.state,
            "version": self.version,
            "status": self.status,
            "cache_uid": self.cache_uid,
        }


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
        self.flags = flags or provider.flags
        self.results: dict[int, Result] = {}
        self.revised: dict[str, Node] = {}
        self.notes: list[str] = []
        self.stack: list[Node] = stack if stack is not None else []
        self.plan: Plan | None = None
        self.root_env: dict[str, Any] = {}

    def run(
        self, plan: Plan, *, env: dict[str, Any] | None = None, state: dict[str, Any] | None = None
    ) -> Result:
        """Run the whole plan; return the root's result."""
        self.plan = plan
        self.root_env = dict(plan.root.request_env)  # --env of the request reaches every node
        return self._node(plan.root, dict(env or {}), dict(state or {}))

    def ran_plan(self) -> Plan:
        """The plan as it was run: revised nodes in place, the revisions noted."""
        assert self.plan is not None, "run() first"
        return self.plan.with_revisions(self.revised, self.notes)

    # -- the one revise step -----------------------------------------------------------------
    def _revise(self, origin: Origin, env: dict[str, Any], reason: str, query: Any = None) -> Node:
        assert self.plan is not None
        node = self.planner.revise(self.plan, origin, env, reason, query)
        self.revised[origin.path] = node
        self.notes.append(f"{' → '.join(node.chain)}: {reason}")
        return node

    # -- one node --------------------------------------------------------------------------
    def _node(self, node: Node, inherited: dict[str, Any], state: dict[str, Any]) -> Result:
        if node.cacheable and node.meta.get("cache_key_env"):
            key = node_key(node, envs.compose(inherited, node.layers))
            if key != node.cache_key:
                why = "cache_key_env values from the deps that ran give another cache key"
                node = self._revise(node.origin, inherited, why)
        rec = node.cached
        if rec is not None:
            problems = rec.problems()
            if not problems:
                return self._from_cache(node, rec)
            why = f"its cache entry {rec.uid} is no longer valid ({problems[0]})"
            node = self._revise(node.origin, inherited, why)
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
                rec = store.commit(build, self._cache_meta(node, result, build.path))
            except BaseException:
                store.abort(build)
                raise
        entries_changed(self.ctx)
        result.cache_uid = rec.uid
        return result

    def _from_cache(self, node: Node, rec: CacheRecord) -> Result:
        self.reporter.cached(node, rec)
        res = Result(
            env=dict(rec.env),
            state=dict(rec.state),
            version=rec.version,
            status="cached",
            cache_uid=rec.uid,
            node_id=node.id,
        )
        self.results[node.id] = res
        self.reporter.done(node, "cached")
        return res

    def _cache_meta(self, node: Node, result: Result, path: Path) -> dict[str, Any]:
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

    def _build(
        self, node: Node, inherited: dict[str, Any], state_in: dict[str, Any], work: Path | None
    ) -> Result:
        self.reporter.started(node)
        env = envs.compose(inherited, node.layers)
        work = work or self._work_dir(node)
        call = self._call_of(node, env, dict(state_in), work)
        env.update(node.dialect.engine_env(call, os.getcwd()))
        self.stack.append(node)
        try:
            if node.dialect.lifecycle is not None:
                # the dialect's own steps (MLCFlow's): they give the exports themselves
                version, exported, state_out = node.dialect.lifecycle(NodeOps(self, node, call))
            else:
                version = self._steps(node, call, work)
        finally:
            self.stack.pop()
        version = str(version) if version else None
        if node.dialect.lifecycle is None:
            self._check_version(node, version)
            local = envs.local_keys(node.dialect.prefix)
            exported = envs.export(
                envs.without_local(env, local), node.meta.get("new_env_keys") or []
            )
            state_out = envs.export_state(call.state, node.meta.get("new_state_keys") or [])
        res = Result(env=exported, state=state_out, version=version, status="ran", node_id=node.id)
        self.results[node.id] = res
        self.reporter.done(node, "ran")
        return res

    def _steps(self, node: Node, call: HookCall, work: Path) -> str | None:
        """ckx's steps of a node: deps, detection, downloads, hooks and script, post_deps."""
        env, version = call.env, node.version
        self._edges(node, "deps", env, call.state)
        if node.meta.get("detect"):
            version = self._detect(node, env) or version
        if node.meta.get("download"):
            from ckx.artifacts.prepare import prepare_downloads

            envs.set_all(env, prepare_downloads(self.ctx, node.meta, env, work, inputs=node.inputs))
        version = self._hooks_and_script(node, call, work, version)
        self._edges(node, "post_deps", env, call.state)
        return version

    def _call_of(
        self, node: Node, env: dict[str, Any], state: dict[str, Any], work: Path
    ) -> HookCall:
        return HookCall(
            script_path=node.entry.path,
            run_path=work,
            env=env,
            state=state,
            meta=node.meta,
            inputs=node.inputs,
            variations=list(node.variations),
            variation_values=dict(node.selection.values),
            version=node.version,
            constraints=node.joint(),
            tags=list(node.entry.tags),
            chain=node.chain,
            base_environ=self.ctx.environ,
            objects_root=self.ctx.home / "objects",
            run_script=lambda request: self.run_nested(request, node),
        )

    def _hooks_and_script(
        self, node: Node, call: HookCall, work: Path, version: str | None
    ) -> str | None:
        hooks = node.hooks
        skip = False
        if hooks and hooks.has("preprocess"):
            out = self._hook(node, "preprocess", call, version)
            skip = bool(out.get("skip"))
            version = out.get("version") or version
        if not skip:
            self._edges(node, "prehook_deps", call.env, call.state)
            version = self._script(node, call.env, call.state, work) or version
            self._edges(node, "posthook_deps", call.env, call.state)
            if hooks and hooks.has("postprocess"):
                version = self._hook(node, "postprocess", call, version).get("version") or version
        if hooks and hooks.has("detect_version") and not node.meta.get("detect"):
            # with a detect block the version hook already ran once per found candidate
            version = self._hook(node, "detect_version", call, version).get("version") or version
        return version

    def _hook(self, node: Node, name: str, call: HookCall, version: str | None) -> dict[str, Any]:
        assert node.hooks is not None
        call.version = version
        i = node.dialect.hook_input(call)
        cwd = node.dialect.hook_cwd(call)
        if cwd is None:
            return call_hook(node.hooks, name, i, node.entry.cid)
        back = os.getcwd()
        os.chdir(cwd)  # the dialect's hooks expect to run in that folder
        try:
            return call_hook(node.hooks, name, i, node.entry.cid)
        finally:
            os.chdir(back)

    def _work_dir(self, node: Node) -> Path:
        out = node.inputs.get("outdirname")
        if out:
            p = Path(out).expanduser().resolve()
            p.mkdir(parents=True, exist_ok=True)
            return p
        here = node.dialect.run_folder(os.getcwd())
        if here is not None:
            return here
        base = self.ctx.state_dir("work")
        p = base / f"{node.entry.alias}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
        p.mkdir(parents=True)
        return p

    # -- deps --------------------------------------------------------------------------------
    def _edges(self, node: Node, kind: str, env: dict[str, Any], state: dict[str, Any]) -> None:
        for edge in node.edges:
            if edge.kind != kind or edge.skipped:
                continue
            child = self._reached(node, edge, env)
            if child is None:
                continue
            res = self._node(child, env, state)
            envs.set_all(env, res.env)
            state.update(res.state)

    def _reached(self, node: Node, edge: Edge, env: dict[str, Any]) -> Node | None:
        """The node a dep runs now: as planned, or (a deferred dep whose tags changed) revised."""
        if not edge.deferred:
            return edge.node
        if not envs.dep_enabled(edge.dep, env):
            return None
        q = parse(edge.dep.get("tags") or "").merged(parse(envs.tags_from_env(edge.dep, env)))
        if q == edge.query:
            if edge.node is not None:
                return edge.node
            if edge.error is not None:
                raise edge.error
        assert edge.origin is not None  # every planned (not skipped) edge has one
        why = f"{edge.label()} decided when reached: its tags are '{q}' now"
        return self._revise(edge.origin, env, why, query=q)

    # -- nested runs -----------------------------------------------------------------------
    def run_nested(self, request: dict[str, Any], parent: Node) -> dict[str, Any]:
        """Plan and run ``request`` now, for a hook of ``parent`` (see
        :func:`ckx.engine.nested.run_nested`); return its result dict."""
        planner = self.planner.without_pins()
        outer = Outer(
            chain=parent.chain,
            ancestors=tuple(n.group for n in self.stack),
            via=parent.dialect.name,
        )
        plan = planner.plan(**plan_args(request), outer=outer)
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

    # -- the script ------------------------------------------------------------------------
    def _script(
        self, node: Node, env: dict[str, Any], state: dict[str, Any], work: Path
    ) -> str | None:
        dialect = node.dialect
        script = dialect.script_file(node.entry.path)
        if script is None:
            return None
        dialect.prepare_outputs(work, env)
        proc_env = envs.to_process_env(self.ctx.environ, env)
        rc, tail, log = self._execute(node, dialect.command(script), work, proc_env)
        if rc != 0:
            raise RunError(
                f"{script.name} of {node.entry.cid} failed with exit code {rc} "
                f"(in {' → '.join(node.chain)})\n--- last lines of its output ({log}) ---\n"
                + "\n".join(tail),
                hint=f"rerun just this step: {rerun_command(node, self.root_env)}",
            )
        return dialect.collect_outputs(work, env, state, script)

    def _execute(
        self, node: Node, cmd: list[str], cwd: Path, proc_env: dict[str, str]
    ) -> tuple[int, list[str], Path]:
        """Run ``cmd``, its output to the reporter and a log; return rc, tail, log."""
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

    # -- detection -------------------------------------------------------------------------
    def _detect(self, node: Node, env: dict[str, Any]) -> str | None:
        from ckx.artifacts.detect import detect
        from ckx.core.versions import satisfies

        spec = detect_spec(node.meta, str(node.entry.meta_file), node.hooks)
        proc_env = envs.to_process_env(self.ctx.environ, env)
        kwargs: dict[str, Any] = {"warn": self.ctx.ui.warn}
        if spec.is_python_package:
            kwargs["python"] = env.get("CKX_PYTHON_BIN_WITH_PATH") or sys.executable
        else:
            kwargs["path_env"] = proc_env.get("PATH", "")
            if spec.env_key and env.get(spec.env_key):
                kwargs["full_path"] = env[spec.env_key]
        dirs = node.inputs.get("search_dirs") or env.get("CKX_SEARCH_DIRS")
        if dirs:
            kwargs["search_dirs"] = [d for d in str(dirs).split(",") if d]
        found = detect(spec, **kwargs)
        joint = {k: v for k, v in node.joint().items() if k != "version_max_usable"}
        fits = [d for d in found if d.version is None or satisfies(d.version, **joint)]
        if not fits:
            seen = ", ".join(f"{d.path} ({d.version})" for d in found) or "nothing"
            wanted = node.constraints[0].describe() if node.constraints else "it"
            raise RunError(
                f"{node.entry.cid}: detection found no match for {wanted}"
                f" (found: {seen}; in {' → '.join(node.chain)})",
                hint=node.meta.get("detect_hint")
                or "install it or point ckx at it with --search_dirs=DIR",
            )
        k = 0
        if len(fits) > 1:
            k = self.reporter.choose(
                f"{len(fits)} installations found for {node.title()}",
                [f"{d.path} {d.version or ''}".strip() for d in fits],
                0,
            )
        envs.set_all(env, fits[k].env)
        if fits[k].path is not None:
            env["CKX_TMP_DETECTED_PATH"] = str(fits[k].path)
        return fits[k].version

    def _check_version(self, node: Node, version: str | None) -> None:
        if not version:
            return
        from ckx.core.versions import satisfies

        joint = node.joint()
        try:
            ok = satisfies(version, **joint)
        except CkxError:
            return  # a version text that is not a version cannot be checked
        if not ok:
            who = "; ".join(
                f"{' → '.join(c.chain)} requires {c.describe()}" for c in node.constraints
            )
            raise RunError(
                f"{node.entry.cid} provides version {version}, but {who}",
                hint="install a matching version or relax the constraint",
            )


def rerun_command(node: Node, root_env: dict[str, Any] | None = None) -> str:
    """A command that runs just ``node`` again with the inputs it had (its own request env,
    the request's ``--env``, version and variations)."""
    import shlex

    parts = ["ckx", "run", f"script:{node.entry.alias}"]
    if node.variations:
        parts.append("--tags=" + ",".join(f"_{v}" for v in node.variations))
    joint = node.joint()
    if node.version and not joint.get("version"):
        joint["version"] = node.version
    for k in ("version", "version_min", "version_max"):
        if joint.get(k):
            parts.append(f"--{k}={joint[k]}")
    for k, v in sorted({**(root_env or {}), **node.request_env}.items()):
        if not k.startswith("+"):
            parts.append(f"--env.{k}={v}")
    for k, v in sorted(node.inputs.items()):
        if k in (node.meta.get("input_mapping") or {}):
            parts.append(f"--{k}={v}")
    if node.cacheable:
        parts.append("--new")
    return " ".join(shlex.quote(p) for p in parts)


class NodeOps:
    """What a dialect that runs a node's steps itself (``Dialect.lifecycle``) may ask the
    runner: the node's planned ``edges``, the node a dep runs now (:meth:`reach`, revised
    when its dep or tags changed), running it (:meth:`run_child`), nested runs, running a
    command with its output to the reporter, and the user's attention."""

    def __init__(self, runner: Runner, node: Node, call: HookCall) -> None:
        self.runner = runner
        self.node = node
        self.call = call
        self.ctx = runner.ctx
        self.work = call.run_path

    @property
    def quiet(self) -> bool:
        return bool(self.ctx.ui.quiet)

    def edges(self, kind: str) -> list[Edge]:
        return [e for e in self.node.edges if e.kind == kind]

    def reach(self, edge: Edge, dep: dict[str, Any], env: dict[str, Any], query: Any) -> Node:
        """The node ``edge`` runs when its declaration is ``dep`` and its tags ``query`` now:
        as planned when both are as planned, else planned again (a revision, reported)."""
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
        return self.runner._revise(origin, env, why, query=query)

    def run_child(self, child: Node, inherited: dict[str, Any], state: dict[str, Any]) -> Result:
        return self.runner._node(child, inherited, state)

    def nested(self, request: dict[str, Any]) -> dict[str, Any]:
        """A nested run (``plan: True``: plan only; the result has the plan's direct deps)."""
        if request.get("plan"):
            planner = self.runner.planner.without_pins()
            plan = planner.plan(**plan_args(request))
            return {"deps": [f"{e.kind}: {e.query}" for e in plan.root.edges if not e.skipped]}
        return self.runner.run_nested(request, self.node)

    def execute(
        self, cmd: list[str], cwd: Path, env: dict[str, str]
    ) -> tuple[int, list[str], Path]:
        return self.runner._execute(self.node, cmd, cwd, env)

    def info(self, text: str) -> None:
        self.ctx.ui.info(text)

    def choose(self, title: str, options: list[str], default: int = 0) -> int:
        return self.runner.reporter.choose(title, options, default)
