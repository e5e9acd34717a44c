"""The MLCFlow dialect: what the engine asks when an entry comes from an MLCFlow repository.

Registered by :func:`ckx.compat.activate` (only when such a repository is registered). Plan
side: MLCFlow's candidate order (lowest ``sort`` first, then path), its dep fields
(:func:`ckx.compat.deps.plan_dep`), its conditions (:mod:`ckx.compat.envrules`), ``MLC_``
engine variables, a hook check that reads ``customize.py`` without importing it (hooks import
what their deps install), and a refusal of inputs no node of the graph reads
(:mod:`ckx.compat.hookreads`). Run side: the node's steps are MLCFlow's
(:mod:`ckx.compat.runtime`), with deps run by the engine as MLCFlow passes them env.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core.errors import CkxError, MetaError, UsageError
from ckx.engine.dialects import DialectDefaults
from ckx.engine.hookspec import Customize, HookError, HookSpec, HookSpecs

if TYPE_CHECKING:
    from ckx.compat.imports import HookImports

# The MLCFlow modules are imported where they are used: a fully cached run of an MLCFlow
# script needs this class (the planner asks it for the order of candidates) and no more.

#: MLCFlow's hooks (names and one argument ``i``; results are MLCFlow's dicts)
MLC_HOOKS = HookSpecs(
    HookSpec(name, returns=("return", "error", "skip", "script", "version", "add_extra_cache_tags"))
    for name in ("predeps", "preprocess", "postprocess", "detect_version")
)


def _not_loaded(i: Any) -> Any:  # pragma: no cover - the MLCFlow steps import the file
    raise RuntimeError("MLCFlow hooks are called by ckx.compat.runtime, not by the runner")


class MlcDialect(DialectDefaults):
    """See the module doc."""

    name = "mlcflow"
    prefix = "MLC_"
    hooks = MLC_HOOKS
    rank = 1
    predicts_conditions = True
    variation_env_wins = True  # mlcr s,_v --x=1: the variation's env beats --x (and --env)

    def __init__(self) -> None:
        self._imports: HookImports | None = None
        self._claims: dict[str, bool] = {}  # repo path -> an MLCFlow repository?

    def claims(self, repo: Any) -> bool:
        key = str(getattr(repo, "path", ""))
        if key not in self._claims:
            from ckx.compat.mlcrepos import is_mlcflow_repo

            self._claims[key] = is_mlcflow_repo(repo)
        return self._claims[key]

    # -- plan ------------------------------------------------------------------------------
    def preference(self, entry: Any) -> tuple:
        try:
            sort = float(entry.meta.get("sort", 0) or 0)
        except (TypeError, ValueError):
            sort = 0.0
        return (sort, str(entry.path))

    def plan_dep(self, dep: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
        from ckx.compat import deps
        from ckx.engine.model import combine

        return deps.plan_dep(
            dep,
            variations=parent["selection"].names,
            variation_meta=parent["meta"].get("variations") or {},
            env=_with_host(parent["static_env"]),
            version=parent["version"],
            constraints=combine(parent["constraints"]),
        )

    def dep_enabled(self, dep: dict[str, Any], env: dict[str, Any]) -> bool:
        from ckx.compat.envrules import dep_skipped

        return not dep_skipped(dep, _with_host(env))

    def load_hooks(self, folder: Path) -> Customize | None:
        """Check the hooks of ``folder/customize.py`` by reading it (a syntax error, a hook
        that does not take exactly one argument): importing waits for the run, because MLCFlow
        hooks import modules their own deps install."""
        import ast

        path = folder / "customize.py"
        if not path.is_file():
            return None
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), str(path))
        except SyntaxError as e:
            raise MetaError(f"{path}: line {e.lineno}: {e.msg}", hint="fix the file") from None
        found: dict[str, tuple[str, Any]] = {}
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef) and MLC_HOOKS.get(fn.name):
                a = fn.args
                n = len(a.posonlyargs) + len(a.args) - len(a.defaults)
                if a.vararg is None and (n != 1 or len(a.posonlyargs) + len(a.args) < 1):
                    raise HookError(
                        f"{path}: hook '{fn.name}' must take exactly one argument 'i'",
                        hint=f"define it as: def {fn.name}(i): ...",
                    )
                found[fn.name] = (fn.name, _not_loaded)
        return Customize(path, found, MLC_HOOKS)

    def check_plan(self, plan: Any, request: dict[str, Any]) -> None:
        """Refuse an input that no node of the graph can read (MLCFlow ignores it)."""
        from ckx.compat.hookreads import unreadable
        from ckx.engine.planner import RESERVED

        bad = unreadable(request, plan.nodes, RESERVED)
        if bad:
            raise _unknown_input(bad[0], plan)

    # -- run -------------------------------------------------------------------------------
    def run_folder(self, cwd: str) -> Path | None:
        """MLCFlow runs a script that is not cached in the current folder (``mlcr
        run,python --command=my.py`` finds ``my.py`` there); one that cannot be written to
        gets ckx's own work folder instead."""
        return Path(cwd) if os.access(cwd, os.W_OK) else None

    def engine_env(self, call: Any, cwd: str) -> dict[str, Any]:
        """MLCFlow's engine variables for a node (before its steps)."""
        from ckx.compat import envrules
        from ckx.engine.osinfo import os_info

        env = call.env
        info = os_info()
        out: dict[str, Any] = dict(info["env"])
        for k in envrules.HOST_ENV_KEYS:
            if call.base_environ.get(k) and not env.get(k):
                out[k] = call.base_environ[k]
        root = Path(call.script_path).parent.parent
        out.update(
            MLC_TMP_CURRENT_PATH=cwd,
            MLC_TMP_CURRENT_SCRIPT_PATH=str(call.script_path),
            MLC_TMP_CURRENT_SCRIPT_REPO_PATH=str(root),
            MLC_TMP_CURRENT_SCRIPT_REPO_PATH_WITH_PREFIX=str(root),
        )
        if not env.get("MLC_USER_RUN_DIR"):
            out["MLC_USER_RUN_DIR"] = cwd
        out.update(envrules.input_flags_env(call.inputs))
        out.update(_path_inputs(call.meta, call.inputs, env.get("MLC_USER_RUN_DIR") or cwd))
        out.update(call.meta.get("const") or {})
        return out

    def lifecycle(self, ops: Any) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
        """MLCFlow's steps of one node (see :mod:`ckx.compat.runtime`); its exports."""
        from ckx.compat import envrules, offline
        from ckx.compat.imports import HookImports
        from ckx.compat.runtime import MlcNode
        from ckx.engine.osinfo import os_info

        node, call = ops.node, ops.call
        env, state = call.env, call.state
        if self._imports is None or len(ops.runner.stack) == 1:
            self._imports = HookImports()  # a new top-level run
        ui = ops.ctx.ui
        if ui.quiet or not ui.interactive or env.get("MLC_QUIET"):
            env["MLC_QUIET"] = "yes"
        _conditional_meta(node.meta, env, state)
        offline.use_mirrors(env, ops.ctx.environ, ops.info)
        mlc = MlcNode(
            MlcOps(ops),
            node,
            env,
            state,
            ops.work,
            self._imports,
            os_info(),
            len(ops.runner.stack) - 1,
        )
        version = mlc.run()
        exported = envrules.export_env(env, mlc.meta.get("new_env_keys") or [])
        state_out = envrules.export_state(state, mlc.meta.get("new_state_keys") or [])
        return version, exported, state_out

    # the runner asks these only of dialects without their own lifecycle
    def hook_input(self, call: Any) -> Any:
        raise NotImplementedError("MLCFlow hooks get their i from ckx.compat.runtime")

    def hook_cwd(self, call: Any) -> Path | None:
        return Path(call.run_path)

    def script_file(self, folder: Path) -> Path | None:
        f = folder / ("run.bat" if os.name == "nt" else "run.sh")
        return f if f.is_file() else None

    def command(self, script: Path) -> list[str]:
        return ["bash", str(script)]

    def prepare_outputs(self, work: Path, env: dict[str, Any]) -> None:
        return None

    def collect_outputs(
        self, work: Path, env: dict[str, Any], state: dict[str, Any], script: Path
    ) -> None:
        from ckx.compat.runscript import read_outputs

        read_outputs(work, env, state, script)


class MlcOps:
    """:class:`ckx.compat.runtime.EngineOps` over the runner's
    :class:`ckx.engine.runner.NodeOps`: deps run with MLCFlow's env passing."""

    def __init__(self, ops: Any) -> None:
        self.ops = ops
        self.ctx = ops.ctx
        self.quiet = ops.quiet

    @property
    def request(self) -> dict[str, Any]:
        """The request of the plan being run, for its root (hooks read ``--adr``, ``--env``
        and versions from ``i['input']``, as MLCFlow gives them); ``{}`` for other nodes."""
        plan = getattr(self.ops.runner, "plan", None)
        if plan is None or self.ops.node.path != "root":
            return {}
        req = plan.request
        out: dict[str, Any] = {"env": dict(req.get("env") or {}), "quiet": True}
        if req.get("adr"):
            out["adr"] = out["add_deps_recursive"] = dict(req["adr"])
        out.update({k: v for k, v in (req.get("constraint") or {}).items() if v})
        return out

    def run_deps(
        self, kind: str, env: dict[str, Any], state: dict[str, Any], declared: list[dict]
    ) -> None:
        from ckx.compat import deps, envrules
        from ckx.core.query import parse
        from ckx.engine import envs
        from ckx.engine.planner import Planner

        node = self.ops.node
        original = node.meta.get(kind) or []
        for edge in self.ops.edges(kind):
            dep = edge.dep
            k = edge.index
            if k < len(declared) and k < len(original) and declared[k] != original[k]:
                merged = Planner._merged_dep(node.meta, node.adr, declared[k])
                dep = MlcDialect().plan_dep(merged, _parent_fields(node))
            if not dep.get("tags") or envrules.dep_skipped(dep, env):
                continue
            view = {**env, **(dep.get("env") or {})}
            query = parse(dep["tags"]).merged(parse(envs.tags_from_env(dep, view)))
            child = self.ops.reach(edge, dep, env, query)
            inherited = deps.dep_env(env, dep, node.meta.get("local_env_keys") or [])
            try:
                res = self.ops.run_child(child, inherited, state)
            except CkxError as e:
                if not envrules.is_false(dep.get("continue_on_error", "no")):
                    self.ctx.ui.warn(
                        f"{edge.label()} of {node.entry.alias} failed, going on: {e.message}"
                    )
                    continue
                raise
            envrules.merge_into(env, res.env)
            envrules.merge_into(state, res.state)
            # as MLCFlow: the node's const and const_state win again after each dep
            env.update(node.meta.get("const") or {})
            envrules.merge_into(state, node.meta.get("const_state") or {})

    def nested(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.ops.nested(request)

    def execute(
        self, cmd: list[str], cwd: Path, env: dict[str, str]
    ) -> tuple[int, list[str], Path]:
        return self.ops.execute(cmd, cwd, env)

    def info(self, text: str) -> None:
        self.ops.info(text)


def _path_inputs(meta: dict[str, Any], inputs: dict[str, Any], base: str) -> dict[str, str]:
    """Inputs declared ``is_path`` in ``input_description``: ``~`` expanded, relative ones
    made absolute against the folder ckx was started in (MLCFlow's ``MLC_USER_RUN_DIR``)."""
    out = {}
    desc = meta.get("input_description") or {}
    for key, env_key in (meta.get("input_mapping") or {}).items():
        d = desc.get(key)
        if (
            key in inputs
            and isinstance(d, dict)
            and str(d.get("is_path", "")).lower() in ("1", "yes", "on", "true")
        ):
            out[str(env_key)] = os.path.abspath(
                os.path.join(base, os.path.expanduser(str(inputs[key])))
            )
    return out


def _with_host(env: dict[str, Any]) -> dict[str, Any]:
    """``env`` as a script will see it: MLCFlow puts ``os_info``'s variables
    (``MLC_HOST_OS_TYPE``, ``MLC_HOST_PLATFORM_FLAVOR``) into every script's env, so plan-time
    conditions on them are decided right."""
    from ckx.engine.osinfo import host_env

    return {**env, **host_env()}


def _parent_fields(node: Any) -> dict[str, Any]:
    return {
        "selection": node.selection,
        "meta": node.meta,
        "static_env": node.static_env,
        "version": node.version,
        "constraints": node.constraints,
    }


def _conditional_meta(meta: dict[str, Any], env: dict[str, Any], state: dict[str, Any]) -> None:
    """``update_meta_if_env`` (the script's and its variations'), at run time: each block whose
    conditions hold adds its ``default_env`` (unset keys), ``env``, ``const`` and ``state``."""
    from ckx.compat import envrules

    for block in meta.get("update_meta_if_env") or []:
        if not isinstance(block, dict) or envrules.dep_skipped(block, env):
            continue
        for k, v in (block.get("default_env") or {}).items():
            env.setdefault(k, v)
        envrules.merge_into(env, block.get("env") or {})
        envrules.merge_into(env, block.get("const") or {})
        envrules.merge_into(state, block.get("state") or {})


def _unknown_input(key: str, plan: Any) -> UsageError:
    from ckx.compat.hookreads import ENGINE_INPUTS, reads_of
    from ckx.core.suggest import did_you_mean

    known: set[str] = set(ENGINE_INPUTS)
    for n in plan.nodes:
        known |= set((n.meta.get("input_mapping") or {}).keys())
        known |= set(reads_of(Path(n.entry.path) / "customize.py").keys)
    root = plan.root.entry.alias
    return UsageError(
        f"unknown input --{key}: no script of the graph of {root} reads it"
        + did_you_mean(key, sorted(known)),
        hint=f"the inputs {root} maps: "
        + ", ".join(f"--{k}" for k in sorted(plan.root.meta.get("input_mapping") or {})[:40]),
    )
