"""One MLCFlow script being run: its hooks, its run script, MLCFlow's order of steps.

The engine plans MLCFlow scripts like its own (variations, versions, deps, cache) and runs
their deps; what happens *inside* one such node follows MLCFlow (``_run`` of its ``script``
automation), because hooks rely on it:

1. ``predeps(i)`` (unless the meta says ``predeps: false``);
2. ``deps``; ``<<<KEY>>>`` placeholders in the env are filled in;
3. ``preprocess(i)``, run in the working folder; ``skip: True`` ends the node, and with
   ``script: {tags: ...}`` runs that script instead (a nested run, whose env is the node's);
4. ``prehook_deps``; ``env_key_mappings`` (``MLC_X_* -> MLC_Y_*`` copies);
5. the run script (:mod:`ckx.compat.runscript`), then ``posthook_deps``, then
   ``postprocess(i)``;
6. ``post_deps``;
7. the version: what ``postprocess``/``preprocess`` returned, else ``MLC_DETECTED_VERSION``,
   else ``MLC_VERSION``.

``detect_version(i)`` is not a step: hooks reach it through ``find_artifact`` and
``run_native_script`` (:mod:`ckx.compat.automation`), which run a script and then that hook.

:class:`MlcLifecycle` is the MLCFlow dialect's lifecycle (:class:`ckx.engine.nodeops.Lifecycle`):
the engine hands it a node that is not cached through the node's
:class:`~ckx.engine.nodeops.NodeOps`, the one interface it uses: the node's env (composed by
the engine from its layers), MLCFlow's engine variables added here, then :class:`MlcNode`'s
steps, its deps reached and run through ``ops.reach``/``ops.run_child``, nested runs through
``ops.nested``, commands through ``ops.execute``.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from ckx.compat import envrules, runscript
from ckx.compat.imports import HookImports
from ckx.core.errors import CkxError, MetaError, RunError
from ckx.engine.dialects import is_current_folder
from ckx.engine.hookspec import Customize, HookError, HookSpec, HookSpecs

if TYPE_CHECKING:
    from ckx.compat.automation import MlcAutomation
    from ckx.engine.nodeops import Exports, NodeOps

#: MLCFlow's hooks (names and one argument ``i``; results are MLCFlow's dicts)
MLC_HOOKS = HookSpecs(
    HookSpec(name, returns=("return", "error", "skip", "script", "version", "add_extra_cache_tags"))
    for name in ("predeps", "preprocess", "postprocess", "detect_version")
)


class MlcLifecycle:
    """MLCFlow's lifecycle of a node (see the module doc); one per MLCFlow dialect, so per
    Context. It keeps the hook import path of the top-level run being served."""

    def __init__(self) -> None:
        self._imports: HookImports | None = None

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

    def run_folder(self, cwd: str) -> Path | None:
        """MLCFlow runs a script that is not cached in the current folder (``mlcr
        run,python --command=my.py`` finds ``my.py`` there); one that cannot be written to
        gets ckx's own work folder instead."""
        return Path(cwd) if os.access(cwd, os.W_OK) else None

    def run(self, ops: NodeOps) -> Exports:
        """MLCFlow's steps of one node; its exports."""
        from ckx.compat import offline
        from ckx.engine.osinfo import os_info

        env, state = ops.env, ops.state
        if self._imports is None or ops.depth == 0:
            self._imports = HookImports()  # a new top-level run
        info = os_info()
        env.update(engine_env(ops, info, os.getcwd()))
        ui = ops.ctx.ui
        if ui.quiet or not ui.interactive or env.get("MLC_QUIET"):
            env["MLC_QUIET"] = "yes"
        _conditional_meta(ops.node.meta, env, state)
        offline.use_mirrors(env, ops.ctx.environ, ops.info)
        mlc = MlcNode(ops, self._imports, info)
        version = mlc.run()
        exported = envrules.export_env(env, mlc.meta.get("new_env_keys") or [])
        state_out = envrules.export_state(state, mlc.meta.get("new_state_keys") or [])
        return version, exported, state_out


def _not_loaded(i: Any) -> Any:  # pragma: no cover - MlcNode imports the file itself
    raise RuntimeError("MLCFlow hooks are called by ckx.compat.runtime.MlcNode")


def engine_env(ops: NodeOps, info: dict[str, Any], cwd: str) -> dict[str, Any]:
    """MLCFlow's engine variables for a node (before its steps)."""
    node, env = ops.node, ops.env
    out: dict[str, Any] = dict(info["env"])
    for k in envrules.HOST_ENV_KEYS:
        if ops.ctx.environ.get(k) and not env.get(k):
            out[k] = ops.ctx.environ[k]
    script_path = Path(node.entry.path)
    root = script_path.parent.parent
    out.update(
        MLC_TMP_CURRENT_PATH=cwd,
        MLC_TMP_CURRENT_SCRIPT_PATH=str(script_path),
        MLC_TMP_CURRENT_SCRIPT_REPO_PATH=str(root),
        MLC_TMP_CURRENT_SCRIPT_REPO_PATH_WITH_PREFIX=str(root),
    )
    if not env.get("MLC_USER_RUN_DIR"):
        out["MLC_USER_RUN_DIR"] = cwd
    out.update(envrules.input_flags_env(node.inputs))
    out.update(_path_inputs(node.meta, node.inputs, env.get("MLC_USER_RUN_DIR") or cwd))
    out.update(node.meta.get("const") or {})
    return out


class MlcNode:
    """The MLCFlow steps of one planned node (see the module doc), driven through ``ops``
    (its :class:`~ckx.engine.nodeops.NodeOps`): ``node`` is the engine's planned node (read
    only); ``env``/``state`` are the node's live dicts."""

    def __init__(self, ops: NodeOps, imports: HookImports, os_info: dict[str, Any]) -> None:
        self.ops = ops
        self.node = ops.node
        self.env = ops.env
        self.state = ops.state
        self.work = Path(ops.work)
        self.imports = imports
        self.os_info = os_info
        self.script_dir = Path(self.node.entry.path)
        self.repo_root = _repo_root(self.script_dir)
        # hooks may edit the meta (update_deps, script_name): they get a copy, never the plan
        self.meta: dict[str, Any] = copy.deepcopy(self.node.meta)
        self.spaces = "  " * ops.depth
        self.module: ModuleType | None = None
        self.automation: MlcAutomation | None = None
        self.run_script_input: dict[str, Any] = {}

    # -- the steps ---------------------------------------------------------------------------
    def run(self) -> str | None:
        """Run the node's steps; return the version it provides."""
        from ckx.compat.automation import MlcAutomation

        self.automation = MlcAutomation(self)
        self.run_script_input = self._run_script_input()
        self.imports.visit(self.script_dir)
        if not envrules.is_false(self.meta.get("predeps", True)) and self._defines("predeps"):
            self.module = self._load()
            self.hook("predeps")
        self.run_deps("deps", self.env, self.state, self.meta.get("deps") or [])
        if self.module is None:
            self.module = self._load()  # after the deps: they may install what it imports
        envrules.substitute(self.env)
        self._clean_outputs()
        self.env["MLC_TMP_PIP_VERSION_STRING"] = _pip_version_string(self.env)
        version = self.node.version
        if self._has("preprocess"):
            out = self.hook("preprocess")
            if out.get("skip"):
                if out.get("script"):
                    self._instead(out["script"])
                return version
            version = out.get("version") or version
        envrules.substitute(self.env)
        self.run_deps("prehook_deps", self.env, self.state, self.meta.get("prehook_deps") or [])
        _map_keys(self.env, self.meta.get("env_key_mappings") or {})
        version = self.script_and_post("postprocess") or version
        self.run_deps("post_deps", self.env, self.state, self.meta.get("post_deps") or [])
        if is_current_folder(self.work) and not self.node.inputs.get("dirty"):
            self._clean_outputs()  # as MLCFlow: its protocol files leave the user's folder
        detected = self.env.get("MLC_DETECTED_VERSION") or self.env.get("MLC_VERSION")
        return str(version or detected or "") or None

    def script_and_post(
        self, post: str, script_name: str | None = None, env: dict[str, Any] | None = None
    ) -> str | None:
        """MLCFlow's ``prepare_and_run_script_with_postprocessing``: run the script (if the
        folder has it), then for ``post='postprocess'`` the ``posthook_deps`` and
        ``postprocess(i)``, for ``post='detect_version'`` ``detect_version(i)``; return the
        version the hook gave."""
        env = self.env if env is None else env
        rsi = self.run_script_input
        name = (script_name or rsi.get("script_name") or self.meta.get("script_name") or "").strip()
        script = runscript.choose_script(self.script_dir, env, self.os_info, name or "run")
        if name and name != "run" and not script.is_file():
            raise RunError(
                f"{self.where()}: script {script} not found",
                hint=f"add {script.name} to {self.script_dir}, or fix 'script_name'",
            )
        env["MLC_TMP_CURRENT_SCRIPT_PATH"] = str(self.script_dir)
        env["MLC_TMP_CURRENT_SCRIPT_WORK_PATH"] = str(self.work)
        if script.is_file():
            self._run_script(script, env)
        else:
            (self.work / runscript.TMP_STATE).write_text("{}", encoding="utf-8")
        if post == "postprocess":
            declared = self.meta.get("posthook_deps") or []
            self.run_deps("posthook_deps", env, self.state, declared)
        if post and self._has(post):
            return self.hook(post, env=env).get("version") or None
        return None

    def run_deps(
        self, kind: str, env: dict[str, Any], state: dict[str, Any], declared: list[dict]
    ) -> None:
        """Run the node's ``kind`` deps (``declared``: the dep list as the hooks left it)
        with MLCFlow's env passing; merge their exports into ``env``/``state``. A dep a hook
        changed is read again (``ops.merged_dep``) and planned again when reached."""
        from ckx.compat import deps
        from ckx.core.query import parse
        from ckx.engine import envs

        node, ops = self.node, self.ops
        original = node.meta.get(kind) or []
        for edge in node.edges:
            if edge.kind != kind:
                continue
            dep, k = edge.dep, edge.index
            if k < len(declared) and k < len(original) and declared[k] != original[k]:
                dep = ops.merged_dep(declared[k])
            if not dep.get("tags") or envrules.dep_skipped(dep, env):
                continue
            view = {**env, **(dep.get("env") or {})}
            query = parse(dep["tags"]).merged(parse(envs.tags_from_env(dep, view)))
            child = ops.reach(edge, dep, env, query)
            inherited = deps.dep_env(env, dep, node.meta.get("local_env_keys") or [])
            try:
                res = ops.run_child(child, inherited, state)
            except CkxError as e:
                if not envrules.is_false(dep.get("continue_on_error", "no")):
                    ops.ctx.ui.warn(
                        f"{edge.label()} of {node.entry.alias} failed, going on: {e.message}"
                    )
                    continue
                raise
            envrules.merge_into(env, res.env)
            envrules.merge_into(state, res.state)
            # as MLCFlow: the node's const and const_state win again after each dep
            env.update(node.meta.get("const") or {})
            envrules.merge_into(state, node.meta.get("const_state") or {})

    def _run_script(self, script: Path, env: dict[str, Any]) -> None:
        wrapper = runscript.write_wrapper(self.work, script, env, self.state, self.os_info)
        cmd = runscript.command(wrapper, self.os_info)
        rc, tail, log = self.ops.execute(cmd, self.work, dict(self.ops.ctx.environ))
        if rc != 0:
            from ckx.compat.offline import script_failure

            raise script_failure(self, script, rc, tail, log, env)
        runscript.read_outputs(self.work, env, self.state, script)

    def _instead(self, request: dict[str, Any]) -> None:
        """``preprocess`` skipped this node and named another script to run in its place."""
        out = self.ops.nested({**request, "env": dict(self.env), "state": self.state})
        envrules.merge_into(self.env, out.get("env") or {})
        envrules.merge_into(self.state, out.get("state") or {})

    # -- hooks -------------------------------------------------------------------------------
    def _load(self) -> ModuleType | None:
        f = self.script_dir / "customize.py"
        if not f.is_file():
            return None
        import importlib.util

        name = f"ckx_mlc_customize_{abs(hash((str(f), id(self))))}"
        spec = importlib.util.spec_from_file_location(name, f)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        with self.hook_context():
            try:
                spec.loader.exec_module(module)
            except Exception as exc:  # noqa: BLE001 - any error in content becomes a RunError
                raise self._hook_error("import", exc) from exc
        return module

    def _defines(self, name: str) -> bool:
        """Does ``customize.py`` define ``name`` at top level (read, not imported)?"""
        import ast

        f = self.script_dir / "customize.py"
        try:
            tree = ast.parse(f.read_text(encoding="utf-8", errors="replace"))
        except (OSError, SyntaxError):
            return False
        return any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)

    def _has(self, name: str) -> bool:
        return self.module is not None and callable(getattr(self.module, name, None))

    def hook(self, name: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call hook ``name`` with MLCFlow's ``i``, in the working folder; a failure (an
        exception or ``return > 0``) is a RunError naming the file and the hook."""
        fn = getattr(self.module, name)
        i = self.hook_input(name, env)
        with self.hook_context():
            try:
                out = fn(i)
            except CkxError:
                raise
            except Exception as exc:  # noqa: BLE001 - any error in content becomes a RunError
                raise self._hook_error(name, exc) from exc
        if out is None:
            return {}
        if not isinstance(out, dict):
            raise RunError(
                f"{self._file()}: {name}() returned {type(out).__name__}, expected a dict"
            )
        if out.get("return", 0) not in (0, None, False):
            from ckx.compat.offline import hook_failure

            assert self.automation is not None
            where = f"{self._file()}: {name}() of {self.where()}"
            failure = self.automation.failure_of(out, where)
            if failure.message.startswith(where):  # the hook's own error, not a nested run's
                text = str(out.get("error"))
                raise hook_failure(self, f"{name}() of {self._file()}", text) or failure
            raise failure
        return out

    @contextmanager
    def hook_context(self) -> Iterator[None]:
        """Hooks run in the working folder, with MLCFlow's imports and this node's ``mlc``;
        what they print goes to stderr (ckx's stdout carries results, ``--json`` included)."""
        from contextlib import redirect_stdout

        from ckx.compat.automation import serving

        back = os.getcwd()
        os.chdir(self.work)
        try:
            with (
                self.imports.active(self.repo_root, self.script_dir),
                serving(self.automation),
                redirect_stdout(sys.stderr),
            ):
                yield
        finally:
            os.chdir(back)

    def hook_input(self, name: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
        """MLCFlow's ``i``: input, automation, artifact, customize, os_info, recursion_spaces,
        script_tags, variation_tags, env, state, meta, run_script_input (+ const for
        postprocess)."""
        node = self.node
        i: dict[str, Any] = {
            "input": self._input(),
            "automation": self.automation,
            "artifact": _artifact(node, self.repo_root),
            "customize": self.meta.get("customize") or {},
            "os_info": self.os_info,
            "recursion_spaces": self.spaces,
            "script_tags": list(node.query.tags),
            "variation_tags": list(node.variations),
            "env": self.env if env is None else env,
            "state": self.state,
            "meta": self.meta,
            "run_script_input": self.run_script_input,
        }
        if name == "postprocess":
            i["const"] = dict(self.meta.get("const") or {})
            i["const_state"] = dict(self.meta.get("const_state") or {})
        return i

    def _input(self) -> dict[str, Any]:
        node = self.node
        extra = _root_input(self.ops.request) if node.path == "root" else {}
        return {
            "action": "run",
            "automation": "script",
            "tags": str(node.query),
            **extra,
            **node.inputs,
        }

    def _run_script_input(self) -> dict[str, Any]:
        m = self.meta
        return {
            "path": str(self.script_dir),
            "bat_ext": self.os_info["bat_ext"],
            "os_info": self.os_info,
            "env": self.env,
            "state": self.state,
            "const": dict(m.get("const") or {}),
            "const_state": dict(m.get("const_state") or {}),
            "meta": m,
            "recursion_spaces": self.spaces,
            "script_name": "",
            "run_state": {
                k: m.get(k) or [] for k in ("deps", "prehook_deps", "posthook_deps", "post_deps")
            },
            "add_deps_recursive": dict(getattr(self.node, "adr", {}) or {}),
            "posthook_deps": m.get("posthook_deps") or [],
            "found_script_tags": list(self.node.entry.tags),
            "variation_tags_string": ",".join(f"_{v}" for v in self.node.variations),
            "local_env_keys": list(envrules.LOCAL_KEYS),
            "local_env_keys_from_meta": list(m.get("local_env_keys") or []),
            "tmp_file_run": runscript.TMP_RUN,
            "tmp_file_run_env": runscript.RUN_ENV,
            "tmp_file_run_state": runscript.RUN_STATE,
            "tmp_file_state": runscript.TMP_STATE,
            "self": self.automation,
        }

    # -- helpers -----------------------------------------------------------------------------
    def where(self) -> str:
        return " → ".join(self.node.chain) or self.node.entry.alias

    def _file(self) -> Path:
        return self.script_dir / "customize.py"

    def _hook_error(self, name: str, exc: BaseException) -> CkxError:
        what = "importing it" if name == "import" else f"{name}()"
        if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] != "mlc":
            mod = exc.name.split(".")[0]
            return RunError(
                f"{self._file()}: {what} of {self.where()} needs the Python module '{mod}', "
                f"which the Python running ckx ({sys.executable}) does not have",
                hint=f"install it there: {sys.executable} -m pip install {mod}",
            )
        from ckx.compat.offline import hook_failure

        return hook_failure(self, f"{what} of {self._file()}", f"{exc}") or RunError(
            f"{self._file()}: {what} of {self.where()} raised {type(exc).__name__}: {exc}",
            hint="run with --debug for the traceback",
        )

    def _clean_outputs(self) -> None:
        """MLCFlow removes the previous outputs of the protocol before the hooks run."""
        bat = self.os_info["bat_ext"]
        for f in (
            runscript.RUN_STATE,
            runscript.RUN_ENV,
            runscript.VER_FILE,
            f"tmp-env{bat}",
            f"tmp-env-all{bat}",
            runscript.TMP_STATE,
            f"{runscript.TMP_RUN}{bat}",
            *[str(x) for x in self.meta.get("clean_files") or []],
        ):
            p = self.work / f
            if p.is_file():
                p.unlink()


def _repo_root(script_dir: Path) -> Path | None:
    """The repository an MLCFlow script lives in: the folder above ``script/<alias>``."""
    root = script_dir.parent.parent
    return root if (root / "meta.yaml").is_file() or (root / "meta.json").is_file() else None


def _artifact(node: Any, repo_root: Path | None) -> SimpleNamespace:
    entry = node.entry
    repo_meta: dict[str, Any] = {}
    if repo_root is not None:
        from ckx.core.errors import MetaError
        from ckx.core.metafile import find_meta_file, load_meta

        f = find_meta_file(repo_root)
        try:
            repo_meta = load_meta(f) if f else {}
        except MetaError:
            repo_meta = {}
    repo = SimpleNamespace(path=str(repo_root or entry.path), meta=repo_meta)
    return SimpleNamespace(path=str(entry.path), meta=entry.meta, repo=repo, uid=entry.uid)


def _pip_version_string(env: dict[str, Any]) -> str:
    v = str(env.get("MLC_VERSION", "") or "")
    lo = str(env.get("MLC_VERSION_MIN", "") or "")
    hi = str(env.get("MLC_VERSION_MAX", "") or "")
    if v:
        return "==" + v
    if lo and hi:
        return f">={lo},<={hi}"
    return (">=" + lo) if lo else (("<=" + hi) if hi else "")


def _map_keys(env: dict[str, Any], mappings: dict[str, str]) -> None:
    """``env_key_mappings``: every key starting with a prefix is copied under the new one."""
    for prefix, new in mappings.items():
        for key in list(env):
            if key.startswith(prefix):
                env[key.replace(prefix, str(new), 1)] = env[key]


def _root_input(request: dict[str, Any]) -> dict[str, Any]:
    """What a root node's hooks read from ``i['input']`` of the request (``--adr``,
    ``--env``, versions), as MLCFlow gives them; ``request`` is the plan's."""
    out: dict[str, Any] = {"env": dict(request.get("env") or {}), "quiet": True}
    if request.get("adr"):
        out["adr"] = out["add_deps_recursive"] = dict(request["adr"])
    out.update({k: v for k, v in (request.get("constraint") or {}).items() if v})
    return out


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
