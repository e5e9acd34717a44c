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

What the engine provides is :class:`EngineOps`; the env the node starts with (MLCFlow's
engine variables included) is composed by the engine.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

from ckx.compat import envrules, runscript
from ckx.compat.imports import HookImports
from ckx.core.errors import CkxError, RunError
from ckx.engine.dialects import is_current_folder

if TYPE_CHECKING:
    from ckx.compat.automation import MlcAutomation

HOOKS = ("predeps", "preprocess", "postprocess", "detect_version")


class EngineOps(Protocol):
    """What one MLCFlow node asks the engine while it runs."""

    ctx: Any
    quiet: bool

    def run_deps(
        self, kind: str, env: dict[str, Any], state: dict[str, Any], declared: list[dict]
    ) -> None:
        """Run the node's ``kind`` deps (``declared``: the dep list as hooks left it) with
        MLCFlow's env passing; merge their exports into ``env``/``state``."""
        ...

    def nested(self, request: dict[str, Any]) -> dict[str, Any]:
        """Plan and run another script now (same cache, locks, reporter, cycle check)."""
        ...

    def execute(
        self, cmd: list[str], cwd: Path, env: dict[str, str]
    ) -> tuple[int, list[str], Path]:
        """Run ``cmd`` (output to the reporter and a log); return (rc, last lines, log)."""
        ...

    def info(self, text: str) -> None:
        """A progress line for the user (hooks' logger.info goes here)."""
        ...


class MlcNode:
    """The MLCFlow steps of one planned node (see the module doc). ``node`` is the engine's
    planned node (read only); ``env``/``state`` are the node's live dicts."""

    def __init__(
        self,
        ops: EngineOps,
        node: Any,
        env: dict[str, Any],
        state: dict[str, Any],
        work: Path,
        imports: HookImports,
        os_info: dict[str, Any],
        depth: int = 0,
    ) -> None:
        self.ops = ops
        self.node = node
        self.env = env
        self.state = state
        self.work = Path(work)
        self.imports = imports
        self.os_info = os_info
        self.script_dir = Path(node.entry.path)
        self.repo_root = _repo_root(self.script_dir)
        # hooks may edit the meta (update_deps, script_name): they get a copy, never the plan
        self.meta: dict[str, Any] = copy.deepcopy(node.meta)
        self.spaces = "  " * depth
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
        self.ops.run_deps("deps", self.env, self.state, self.meta.get("deps") or [])
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
        self.ops.run_deps("prehook_deps", self.env, self.state, self.meta.get("prehook_deps") or [])
        _map_keys(self.env, self.meta.get("env_key_mappings") or {})
        version = self.script_and_post("postprocess") or version
        self.ops.run_deps("post_deps", self.env, self.state, self.meta.get("post_deps") or [])
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
            self.ops.run_deps("posthook_deps", env, self.state, declared)
        if post and self._has(post):
            return self.hook(post, env=env).get("version") or None
        return None

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
        extra = getattr(self.ops, "request", None) or {}
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
