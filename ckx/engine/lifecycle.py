"""ckx's own lifecycle of a node: its steps between the env it starts with and its exports.

The runner hands a node that is not cached to its dialect's lifecycle
(:class:`ckx.engine.nodeops.Lifecycle`), through the node's
:class:`~ckx.engine.nodeops.NodeOps`. ckx's content runs these steps::

    engine variables -> deps -> detect block (if any) -> downloads -> preprocess(i)
    -> prehook_deps -> run script -> posthook_deps -> postprocess(i)
    -> detect_version(i) (nodes without a detect block) -> post_deps
    -> check the version -> export new_env_keys/new_state_keys

A dep's exported env is merged into the node's env as soon as the dep is done, so later deps
and the node's hooks and script see it. A dep decided when reached is reached through
:meth:`NodeOps.reach <ckx.engine.nodeops.NodeOps.reach>` (planned again if its tags changed).

The files and names of the content are methods of :class:`CkxLifecycle` (the hook ``i``, the
folder a hook runs in, the engine's variables, which run script and with what, how a script
reports back), so content that follows ckx's steps with other files is a subclass overriding
them (``tests/engine/test_hooks_and_nesting.py`` has one). For ckx's own: the script runs
with the node's env exported (``+PATH``-style lists prepended), in its working folder, and
reports back through ``$CKX_OUTPUT_ENV_FILE`` (``KEY=VALUE`` lines; ``CKX_DETECTED_VERSION``
sets the version) and ``$CKX_OUTPUT_STATE_FILE`` (a JSON object merged into the state).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core.errors import CkxError, RunError
from ckx.engine import envs
from ckx.engine.hookspec import load_hooks
from ckx.engine.model import detects_when_run

if TYPE_CHECKING:
    from ckx.engine.hooks import HookCall
    from ckx.engine.model import Node
    from ckx.engine.nodeops import Exports, NodeOps

OUTPUT_STATE_FILE = "ckx-output.json"


class CkxLifecycle:
    """ckx's steps of a node (see the module doc)."""

    #: the prefix of the engine variables that stay local to a node (a subclass may change it)
    prefix = "CKX_"

    # -- what the engine asks before the node runs ---------------------------------------
    #: the checked hooks of an entry's ``customize.py`` under ckx's hook spec (the spec's
    #: own loader: :func:`ckx.engine.hookspec.load_hooks`)
    load_hooks = staticmethod(load_hooks)

    def run_folder(self, cwd: str) -> Path | None:
        return None  # a fresh folder under CKX_HOME/state/work

    # -- the steps -----------------------------------------------------------------------
    def run(self, ops: NodeOps) -> Exports:
        node, env = ops.node, ops.env
        call = self._call(ops)
        env.update(self.engine_env(call, os.getcwd()))
        version = _text(self._steps(ops, call))
        check_version(node, version)
        kept = envs.without_local(env, envs.local_keys(self.prefix))
        exported = envs.export(kept, node.meta.get("new_env_keys") or [])
        state = envs.export_state(call.state, node.meta.get("new_state_keys") or [])
        return version, exported, state

    def _steps(self, ops: NodeOps, call: HookCall) -> str | None:
        node, env = ops.node, ops.env
        version = node.version
        self._deps(ops, "deps")
        if detects_when_run(node.meta):
            version = self._detect(ops) or version
        if node.meta.get("download"):
            from ckx.artifacts.prepare import prepare_downloads

            fetched = prepare_downloads(ops.ctx, node.meta, env, ops.work, inputs=node.inputs)
            envs.set_all(env, fetched)
        hooks = node.hooks
        skip = False
        if hooks and hooks.has("preprocess"):
            out = self._hook(ops, "preprocess", call, version)
            skip = bool(out.get("skip"))
            version = out.get("version") or version
        if not skip:
            self._deps(ops, "prehook_deps")
            version = self._script(ops) or version
            self._deps(ops, "posthook_deps")
            if hooks and hooks.has("postprocess"):
                version = self._hook(ops, "postprocess", call, version).get("version") or version
        if hooks and hooks.has("detect_version") and not node.meta.get("detect"):
            # with a detect block the version hook already ran once per found candidate
            version = self._hook(ops, "detect_version", call, version).get("version") or version
        self._deps(ops, "post_deps")
        return version

    def _deps(self, ops: NodeOps, kind: str) -> None:
        """Run the node's ``kind`` deps in order; a dep decided when reached whose condition
        is false now is left out, one whose tags changed is planned again."""
        from ckx.core.query import parse

        env, state = ops.env, ops.state
        for edge in ops.node.edges:
            if edge.kind != kind or edge.skipped:
                continue
            child = edge.node
            if edge.deferred:
                if not envs.dep_enabled(edge.dep, env):
                    continue
                tags = parse(edge.dep.get("tags") or "")
                query = tags.merged(parse(envs.tags_from_env(edge.dep, env)))
                child = ops.reach(edge, edge.dep, env, query)
            assert child is not None  # a dep planned now has its node
            res = ops.run_child(child, env, state)
            envs.set_all(env, res.env)
            state.update(res.state)

    def _call(self, ops: NodeOps) -> HookCall:
        from ckx.engine.hooks import HookCall

        node = ops.node
        return HookCall(
            script_path=node.entry.path,
            run_path=ops.work,
            env=ops.env,
            state=ops.state,
            meta=node.meta,
            inputs=node.inputs,
            variations=list(node.variations),
            variation_values=dict(node.selection.values),
            version=node.version,
            constraints=node.joint(),
            tags=list(node.entry.tags),
            chain=node.chain,
            base_environ=ops.ctx.environ,
            objects_root=ops.ctx.home / "objects",
            run_script=ops.nested,
        )

    def _hook(self, ops: NodeOps, name: str, call: HookCall, version: str | None) -> dict:
        from ckx.engine.hooks import call_hook

        node = ops.node
        assert node.hooks is not None
        call.version = version
        i = self.hook_input(call)
        cwd = self.hook_cwd(call)
        if cwd is None:
            return call_hook(node.hooks, name, i, node.entry.cid)
        back = os.getcwd()
        os.chdir(cwd)  # the content's hooks expect to run in that folder
        try:
            return call_hook(node.hooks, name, i, node.entry.cid)
        finally:
            os.chdir(back)

    def _script(self, ops: NodeOps) -> str | None:
        node, env = ops.node, ops.env
        script = self.script_file(node.entry.path)
        if script is None:
            return None
        self.prepare_outputs(ops.work, env)
        proc_env = envs.to_process_env(ops.ctx.environ, env)
        rc, tail, log = ops.execute(self.command(script), ops.work, proc_env)
        if rc != 0:
            raise RunError(
                f"{script.name} of {node.entry.cid} failed with exit code {rc} "
                f"(in {' → '.join(node.chain)})\n--- last lines of its output ({log}) ---\n"
                + "\n".join(tail),
                hint=f"rerun just this step: {rerun_command(node, ops.request.get('env'))}",
            )
        return self.collect_outputs(ops.work, env, ops.state, script)

    def _detect(self, ops: NodeOps) -> str | None:
        """The ``detect`` block: find installations, keep those that fit the constraints,
        choose one (the chooser asks when several fit); its env goes into the node's."""
        from ckx.artifacts.detect import detect
        from ckx.core.versions import satisfies
        from ckx.engine.hooks import detect_spec

        node, env = ops.node, ops.env
        spec = detect_spec(node.meta, str(node.entry.meta_file), node.hooks)
        kwargs: dict[str, Any] = {"warn": ops.ctx.ui.warn}
        if spec.is_python_package:
            kwargs["python"] = env.get("CKX_PYTHON_BIN_WITH_PATH") or sys.executable
        else:
            kwargs["path_env"] = envs.to_process_env(ops.ctx.environ, env).get("PATH", "")
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
            options = [f"{d.path} {d.version or ''}".strip() for d in fits]
            k = ops.choose(f"{len(fits)} installations found for {node.title()}", options, 0)
        envs.set_all(env, fits[k].env)
        if fits[k].path is not None:
            env["CKX_TMP_DETECTED_PATH"] = str(fits[k].path)
        return fits[k].version

    # -- the content's files and names (a subclass may change them) ----------------------
    def hook_input(self, call: HookCall) -> Any:
        """The ``i`` a hook gets."""
        from ckx.engine.hooks import HookInput

        return HookInput.from_call(call)

    def hook_cwd(self, call: HookCall) -> Path | None:
        """The folder a hook runs in (None: where the process is)."""
        return None

    def engine_env(self, call: HookCall, cwd: str) -> dict[str, str]:
        """Variables the engine sets for the node before its steps."""
        return {
            "CKX_TMP_CURRENT_SCRIPT_PATH": str(call.script_path),
            "CKX_TMP_CURRENT_PATH": cwd,
            "CKX_RUN_DIR": str(call.run_path),
        }

    def script_file(self, folder: Path) -> Path | None:
        """The run script of the entry in ``folder`` for this machine (None: it has none)."""
        if os.name == "nt":
            names = ["run.bat"]
        else:
            plat = "darwin" if sys.platform == "darwin" else "linux"
            names = [f"run-{plat}.sh", "run.sh"]
        for n in names:
            if (folder / n).is_file():
                return folder / n
        return None

    def command(self, script: Path) -> list[str]:
        """The argv that runs ``script``."""
        return ["cmd", "/c", str(script)] if script.suffix == ".bat" else ["bash", str(script)]

    def prepare_outputs(self, work: Path, env: dict[str, Any]) -> None:
        """Before the script runs: make the report-back files known (and empty)."""
        out_env, out_state = work / envs.OUTPUT_ENV_FILE, work / OUTPUT_STATE_FILE
        for f in (out_env, out_state):
            f.unlink(missing_ok=True)
        env["CKX_OUTPUT_ENV_FILE"] = str(out_env)
        env["CKX_OUTPUT_STATE_FILE"] = str(out_state)

    def collect_outputs(
        self, work: Path, env: dict[str, Any], state: dict[str, Any], script: Path
    ) -> str | None:
        """After the script ran: merge what it reported into ``env``/``state``; return the
        version it reported, if any."""
        produced = envs.read_output_env(work / envs.OUTPUT_ENV_FILE)
        version = produced.pop("CKX_DETECTED_VERSION", None)
        envs.set_all(env, produced)
        out_state = work / OUTPUT_STATE_FILE
        if out_state.is_file():
            try:
                state.update(json.loads(out_state.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, TypeError, ValueError) as e:
                raise RunError(f"{out_state}: not a JSON object written by {script}: {e}") from None
        for k in ("CKX_OUTPUT_ENV_FILE", "CKX_OUTPUT_STATE_FILE"):
            env.pop(k, None)
        return version


def _text(version: Any) -> str | None:
    return str(version) if version else None


def check_version(node: Node, version: str | None) -> None:
    """A RunError when the version the node provides breaks a constraint on it."""
    if not version:
        return
    from ckx.core.versions import satisfies

    try:
        ok = satisfies(version, **node.joint())
    except CkxError:
        return  # a version text that is not a version cannot be checked
    if not ok:
        who = "; ".join(f"{' → '.join(c.chain)} requires {c.describe()}" for c in node.constraints)
        raise RunError(
            f"{node.entry.cid} provides version {version}, but {who}",
            hint="install a matching version or relax the constraint",
        )


#: The env a program run adds from its ``--cmd_key`` (:mod:`ckx.programs.run` sets them).
PROGRAM_ENV = ("CKX_CMD_KEY", "CKX_CHARACTERISTICS_FILE")


def rerun_command(node: Node, root_env: dict[str, Any] | None = None) -> str:
    """A command that runs just ``node`` again with the inputs it had (its own request env,
    the request's ``--env``, version and variations). A program (the root of ``ckx run
    program:NAME``) runs again by its cmd_key, with the env the user gave."""
    import shlex

    env = {**(root_env or {}), **node.request_env}
    parts = ["ckx", "run", f"script:{node.entry.alias}"]
    if node.entry.automation == "program" and env.get(PROGRAM_ENV[0]):
        parts, env = _rerun_program(node, env)
    if node.variations:
        parts.append("--tags=" + ",".join(f"_{v}" for v in node.variations))
    joint = node.joint()
    if node.version and not joint.get("version"):
        joint["version"] = node.version
    for k in ("version", "version_min", "version_max"):
        if joint.get(k):
            parts.append(f"--{k}={joint[k]}")
    for k, v in sorted(env.items()):
        if not k.startswith("+"):
            parts.append(f"--env.{k}={v}")
    for k, v in sorted(node.inputs.items()):
        if k in (node.meta.get("input_mapping") or {}):
            parts.append(f"--{k}={v}")
    if node.cacheable:
        parts.append("--new")
    return " ".join(shlex.quote(p) for p in parts)


def _rerun_program(node: Node, env: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """``ckx run program:NAME --cmd_key=KEY`` and the env left once the cmd_key's is taken out."""
    key = str(env[PROGRAM_ENV[0]])
    cmd_env = ((node.entry.meta.get("run_cmds") or {}).get(key) or {}).get("env") or {}
    own = {
        k: v
        for k, v in env.items()
        if k not in PROGRAM_ENV and (k not in cmd_env or str(cmd_env[k]) != str(v))
    }
    return ["ckx", "run", f"program:{node.entry.alias}", f"--cmd_key={key}"], own
