"""The runner: executes a :class:`~ckx.engine.planner.Plan`, node by node.

Per node (a cache hit skips all of it and exports what the entry recorded)::

    compose env (see ckx.engine.envs) -> deps -> detect block (if any) -> preprocess(i)
    -> prehook_deps -> run.sh / run.bat -> posthook_deps -> postprocess(i)
    -> detect_version(i) -> post_deps -> check the version -> export new_env_keys/new_state_keys

A dep's exported env is merged into its parent's env as soon as the dep is done, so later
deps and the parent's hooks and script see it.

The script runs with the node's env exported (``+PATH``-style lists prepended), in its
working folder: the cache entry for cacheable scripts, otherwise ``--outdirname`` if given,
else a fresh folder under ``CKX_HOME/state/work``. It reports back through files:

* ``$CKX_OUTPUT_ENV_FILE`` (``ckx-output.env``): ``KEY=VALUE`` lines (``+PATH=/dir`` appends),
  merged into the node's env; ``CKX_DETECTED_VERSION=...`` there sets the node's version;
* ``$CKX_OUTPUT_STATE_FILE`` (``ckx-output.json``): a JSON object merged into the state.

Other variables it gets: ``CKX_TMP_CURRENT_SCRIPT_PATH`` (the entry folder),
``CKX_TMP_CURRENT_PATH`` (where ckx was started), ``CKX_RUN_DIR`` (its working folder),
``CKX_VERSION``/``CKX_VERSION_MIN``/``CKX_VERSION_MAX`` (what was asked).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ckx.core.errors import CkxError, RunError
from ckx.engine import envs
from ckx.engine.planner import Edge, Node, Plan, Planner, compose_env
from ckx.engine.provider import CacheFlags, RepoProvider

OUTPUT_STATE_FILE = "ckx-output.json"
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
    """Runs plans made by ``planner`` against the context ``ctx``."""

    def __init__(
        self, ctx, planner: Planner, provider: RepoProvider, *, flags: CacheFlags | None = None
    ) -> None:
        self.ctx = ctx
        self.planner = planner
        self.provider = provider
        self.flags = flags or provider.flags
        self.results: dict[int, Result] = {}
        self._shown_cached: set[str] = set()

    def run(
        self, plan: Plan, *, env: dict[str, Any] | None = None, state: dict[str, Any] | None = None
    ) -> Result:
        """Run the whole plan; return the root's result."""
        self.root_env = dict(plan.root.request_env)  # --env of the request reaches every node
        return self._node(plan.root, dict(env or {}), dict(state or {}))

    # -- one node --------------------------------------------------------------------------
    def _node(self, node: Node, inherited: dict[str, Any], state: dict[str, Any]) -> Result:
        if node.cacheable and node.meta.get("cache_key_env"):
            self._rekey(node, inherited)
        rec = node.cached
        if rec is not None and not rec.problems():
            return self._from_cache(node, rec)
        if not node.cacheable:
            return self._build(node, inherited, state, work=None)
        store = self.provider.store
        assert node.cache_key is not None  # set by the planner for every cacheable node
        with store.locked(
            node.cache_key, what=f"run {node.entry.alias} {node.selection.text}".strip()
        ):
            if self.flags.reuse(node):
                again = store.valid(node.cache_key)
                if again:  # another process made it while we waited
                    return self._from_cache(node, again[0])
            if node.path == "root" and self.flags.renew:
                for old in store.records(node.cache_key):
                    store.remove(old)
            if node.path == "root" and self.flags.skip_cache:
                return self._build(node, inherited, state, work=None)
            build = store.begin(node.cache_key)
            try:
                result = self._build(node, inherited, state, work=build.path)
                rec = store.commit(build, self._cache_meta(node, result, build.path))
            except BaseException:
                store.abort(build)
                raise
        from ckx.engine.provider import entries_changed

        entries_changed(self.ctx)
        result.cache_uid = rec.uid
        return result

    def _rekey(self, node: Node, inherited: dict[str, Any]) -> None:
        """Recompute the key with the env as it is now (deps that ran may have set keys)."""
        from ckx.engine.cache import cache_key
        from ckx.engine.planner import compose_env

        key = cache_key(node, compose_env(inherited, node))
        if key != node.cache_key:
            node.cache_key = key
            node.cached = self.provider.cache_lookup(node)

    def _from_cache(self, node: Node, rec) -> Result:
        if rec.uid not in self._shown_cached:  # a shared dep (get-python3) is reported once per run
            self._shown_cached.add(rec.uid)
            self.ctx.ui.info(f"  cached: {node.title()} ({rec.path})")
        res = Result(
            env=dict(rec.env),
            state=dict(rec.state),
            version=rec.version,
            status="cached",
            cache_uid=rec.uid,
            node_id=node.id,
        )
        self.results[node.id] = res
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
        where = " → ".join(node.chain)
        self.ctx.ui.info(f"  run: {where}")
        env = compose_env(inherited, node)
        state = dict(state_in)
        work = work or self._work_dir(node)
        env.update(
            {
                "CKX_TMP_CURRENT_SCRIPT_PATH": str(node.entry.path),
                "CKX_TMP_CURRENT_PATH": os.getcwd(),
                "CKX_RUN_DIR": str(work),
            }
        )
        version = node.version
        self._edges(node, "deps", env, state)
        if node.meta.get("detect"):
            version = self._detect(node, env) or version
        if node.meta.get("download"):
            from ckx.artifacts.prepare import prepare_downloads

            envs.set_all(env, prepare_downloads(self.ctx, node.meta, env, work, inputs=node.inputs))
        from ckx.engine.hooks import HookInput, call_hook, load_customize

        cust = load_customize(node.entry.path / "customize.py")
        i = HookInput(
            env=env,
            state=state,
            meta=node.meta,
            input=node.inputs,
            script_path=node.entry.path,
            run_path=work,
            variations=list(node.variations),
            variation_values=dict(node.selection.values),
            version=version,
            constraints=node.joint(),
            tags=list(node.entry.tags),
            base_environ=self.ctx.environ,
            objects_root=self.ctx.home / "objects",
        )
        skip = False
        if cust and cust.has("preprocess"):
            out = call_hook(cust, "preprocess", i, node.entry.cid)
            skip = bool(out.get("skip"))
            version = out.get("version") or version
        if not skip:
            self._edges(node, "prehook_deps", env, state)
            version = self._script(node, env, state, work) or version
            self._edges(node, "posthook_deps", env, state)
            if cust and cust.has("postprocess"):
                i.version = version
                version = (
                    call_hook(cust, "postprocess", i, node.entry.cid).get("version") or version
                )
        if cust and cust.has("detect_version"):
            i.version = version
            version = call_hook(cust, "detect_version", i, node.entry.cid).get("version") or version
        self._edges(node, "post_deps", env, state)
        version = str(version) if version else None
        self._check_version(node, version)
        exported = envs.export(envs.without_local(env), node.meta.get("new_env_keys") or [])
        res = Result(
            env=exported,
            state=envs.export_state(state, node.meta.get("new_state_keys") or []),
            version=version,
            status="ran",
            node_id=node.id,
        )
        self.results[node.id] = res
        return res

    def _work_dir(self, node: Node) -> Path:
        out = node.inputs.get("outdirname")
        if out:
            p = Path(out).expanduser().resolve()
            p.mkdir(parents=True, exist_ok=True)
            return p
        base = self.ctx.state_dir("work")
        p = base / f"{node.entry.alias}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
        p.mkdir(parents=True)
        return p

    # -- deps --------------------------------------------------------------------------------
    def _edges(self, node: Node, kind: str, env: dict[str, Any], state: dict[str, Any]) -> None:
        for edge in node.edges:
            if edge.kind != kind or edge.skipped:
                continue
            child = self._resolve_edge(node, edge, env)
            if child is None:
                continue
            res = self._node(child, env, state)
            envs.set_all(env, res.env)
            state.update(res.state)

    def _resolve_edge(self, node: Node, edge: Edge, env: dict[str, Any]) -> Node | None:
        if not edge.deferred:
            return edge.node
        if not envs.dep_enabled(edge.dep, env):
            return None
        from ckx.core.query import parse

        q = parse(edge.dep.get("tags") or "").merged(parse(envs.tags_from_env(edge.dep, env)))
        if edge.node is not None and q == edge.query:
            return edge.node
        if edge.error is not None and q == edge.query:
            raise edge.error
        edge.node = self.planner.plan_edge(node, edge, env)
        edge.error = None
        return edge.node

    # -- the script ------------------------------------------------------------------------
    def _script(
        self, node: Node, env: dict[str, Any], state: dict[str, Any], work: Path
    ) -> str | None:
        script = _find_script(node.entry.path)
        if script is None:
            return None
        out_env = work / envs.OUTPUT_ENV_FILE
        out_state = work / OUTPUT_STATE_FILE
        for f in (out_env, out_state):
            f.unlink(missing_ok=True)
        env["CKX_OUTPUT_ENV_FILE"] = str(out_env)
        env["CKX_OUTPUT_STATE_FILE"] = str(out_state)
        proc_env = envs.to_process_env(self.ctx.environ, env)
        cmd = ["cmd", "/c", str(script)] if script.suffix == ".bat" else ["bash", str(script)]
        rc, tail, log = self._execute(cmd, work, proc_env)
        if rc != 0:
            raise RunError(
                f"{script.name} of {node.entry.cid} failed with exit code {rc} "
                f"(in {' → '.join(node.chain)})\n--- last lines of its output ({log}) ---\n"
                + "\n".join(tail),
                hint=f"rerun just this step: {rerun_command(node, getattr(self, 'root_env', {}))}",
            )
        produced = envs.read_output_env(out_env)
        version = produced.pop("CKX_DETECTED_VERSION", None)
        envs.set_all(env, produced)
        if out_state.is_file():
            try:
                state.update(json.loads(out_state.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, TypeError, ValueError) as e:
                raise RunError(f"{out_state}: not a JSON object written by {script}: {e}") from None
        for k in ("CKX_OUTPUT_ENV_FILE", "CKX_OUTPUT_STATE_FILE"):
            env.pop(k, None)
        return version

    def _execute(
        self, cmd: list[str], cwd: Path, proc_env: dict[str, str]
    ) -> tuple[int, list[str], Path]:
        """Run ``cmd``, echoing its output (unless quiet) into a log; return rc, tail, log."""
        import subprocess
        from collections import deque

        log = cwd / LOG_FILE
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        echo = self.ctx.ui.mode == "con" and not self.ctx.ui.quiet
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
                    if echo:
                        self.ctx.ui.stderr.write(line)
                rc = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        return rc, list(tail), log

    # -- detection -------------------------------------------------------------------------
    def _detect(self, node: Node, env: dict[str, Any]) -> str | None:
        from ckx.artifacts.detect import DetectSpec, detect
        from ckx.core.versions import satisfies

        cust = node.entry.path / "customize.py"
        spec = DetectSpec.from_meta(
            node.meta["detect"],
            str(node.entry.meta_file),
            env_prefix=node.meta.get("env_prefix"),
            customize_path=cust if cust.is_file() else None,
        )
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
            raise RunError(
                f"{node.entry.cid}: detection found no match for {node.constraints[0].describe() if node.constraints else 'it'}"
                f" (found: {seen}; in {' → '.join(node.chain)})",
                hint=node.meta.get("detect_hint")
                or "install it or point ckx at it with --search_dirs=DIR",
            )
        k = 0
        if len(fits) > 1:
            k = self.provider.choose(
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


def _find_script(path: Path) -> Path | None:
    if os.name == "nt":
        names = ["run.bat"]
    else:
        plat = "darwin" if sys.platform == "darwin" else "linux"
        names = [f"run-{plat}.sh", "run.sh"]
    for n in names:
        if (path / n).is_file():
            return path / n
    return None


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
