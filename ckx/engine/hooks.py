"""``customize.py`` hooks: loading by path, signature checks, the ``i`` object, results.

Hooks (all optional): ``preprocess(i)`` before ``prehook_deps`` and ``run.sh``,
``postprocess(i)`` after ``posthook_deps``, ``detect_version(i)`` last (returns the version).
Each takes exactly one argument ``i`` (a :class:`HookInput`) and returns ``None`` or a dict:

* ``{"return": 0}`` or ``None``: fine. ``{"return": N, "error": "..."}`` with N > 0, or raising
  a :class:`~ckx.core.errors.CkxError`: the hook failed (the error names file and hook).
* ``"skip": True`` from ``preprocess``: skip ``prehook_deps``, ``run.sh``, ``posthook_deps``
  and ``postprocess`` (the node is done; its env is exported as it is).
* ``"version": "1.2.3"``: the version this node provides.

The file is loaded once per process under a unique module name (``sys.path`` is untouched)
and its hooks' signatures are checked at load time.
"""

from __future__ import annotations

import inspect
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from ckx.core.errors import CkxError, MetaError, RunError

HOOK_NAMES = ("preprocess", "postprocess", "detect_version")
_loaded: dict[tuple[str, int], Customize] = {}


@dataclass
class Customize:
    """The hooks found in one ``customize.py``."""

    path: Path
    hooks: dict[str, Any]

    def has(self, name: str) -> bool:
        return name in self.hooks


def load_customize(path: Path) -> Customize | None:
    """Load ``path`` (None when there is no such file); MetaError names file and function."""
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    key = (str(path), mtime)
    if key in _loaded:
        return _loaded[key]
    module = _import(path)
    hooks: dict[str, Any] = {}
    for name in HOOK_NAMES:
        fn = getattr(module, name, None)
        if fn is None:
            continue
        _check_signature(fn, name, path)
        hooks[name] = fn
    found = Customize(path=path, hooks=hooks)
    _loaded[key] = found
    return found


def _import(path: Path) -> ModuleType:
    from ckx.core.pyfile import import_file

    return import_file(path, "ckx_customize", hint="fix the error in this customize.py")


def _check_signature(fn: Any, name: str, path: Path) -> None:
    if not callable(fn):
        raise MetaError(f"{path}: '{name}' must be a function")
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [
        p
        for p in params
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    takes_one = (params and params[0].kind in positional and len(required) <= 1) or any(
        p.kind == inspect.Parameter.VAR_POSITIONAL for p in params
    )
    if not takes_one or len(required) > 1:
        got = ", ".join(str(p) for p in params) or "no arguments"
        raise MetaError(
            f"{path}: hook '{name}' must take exactly one argument 'i', it takes ({got})",
            hint=f"define it as: def {name}(i): ...",
        )


def os_info() -> dict[str, str]:
    """What hooks learn about the machine (MLCFlow's ``os_info`` keys plus a few)."""
    plat = "windows" if os.name == "nt" else ("darwin" if sys.platform == "darwin" else "linux")
    return {
        "platform": plat,
        "machine": platform.machine(),
        "bat_ext": ".bat" if plat == "windows" else ".sh",
        "env_separator": os.pathsep,
        "python": sys.executable,
    }


@dataclass
class HookInput:
    """The ``i`` a hook receives. Attributes, and the same as keys (``i["env"]``) for
    MLCFlow-style code.

    ``env``/``state`` are the node's live dicts: changes are seen by the rest of the node and,
    for keys matching ``new_env_keys``/``new_state_keys``, by its parent. ``meta`` is the
    entry meta with variations applied; ``input`` the request inputs; ``script_path`` the
    entry folder; ``run_path`` the working folder (the cache entry for cacheable scripts);
    ``variations``/``variation_values`` the selection; ``version`` the planned version and
    ``constraints`` the version constraints; ``os_info`` see :func:`os_info`;
    ``run(cmd)`` runs a command with the node's env and returns its output.
    """

    env: dict[str, Any]
    state: dict[str, Any]
    meta: dict[str, Any]
    input: dict[str, Any]
    script_path: Path
    run_path: Path
    variations: list[str]
    variation_values: dict[str, str]
    version: str | None
    constraints: dict[str, str | None]
    tags: list[str]
    os_info: dict[str, str] = field(default_factory=os_info)
    base_environ: dict[str, str] = field(default_factory=dict, repr=False)
    objects_root: Path | None = field(default=None, repr=False)

    def keep_in_store(self, path: str | Path) -> Path:
        """Move a large file into the content-addressed store and hardlink it back in place
        (read-only), so two cache entries with the same bytes share them."""
        from ckx.artifacts.cas import ObjectStore

        if self.objects_root is None:
            raise RunError("no object store is configured for this run")
        src = Path(path)
        store = ObjectStore(self.objects_root)
        obj = store.add_file(src, move=True)
        return store.link_into(obj.parent.name + obj.name, src.parent, src.name)

    def run(
        self, cmd: str | Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> str:
        """Run ``cmd`` (a shell string or an argv list) in ``run_path`` with the node's env;
        return stdout+stderr. A failure raises RunError with the output's last lines."""
        from ckx.engine.envs import to_process_env

        proc = subprocess.run(
            cmd,
            shell=isinstance(cmd, str),
            cwd=self.run_path,
            env=to_process_env(self.base_environ, self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            tail = "\n".join(proc.stdout.splitlines()[-15:])
            raise RunError(f"command failed with exit code {proc.returncode}: {cmd}\n{tail}")
        return proc.stdout

    # -- MLCFlow-style mapping access ------------------------------------------------------
    def _as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "state": self.state,
            "meta": self.meta,
            "input": self.input,
            "os_info": self.os_info,
            "script_tags": self.tags,
            "variation_tags": self.variations,
            "run_script_input": {"path": str(self.script_path), "run_path": str(self.run_path)},
            "artifact": SimpleNamespace(path=str(self.script_path)),
            "version": self.version,
            "automation": None,
        }

    def __getitem__(self, key: str) -> Any:
        return self._as_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._as_dict().get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self._as_dict()


def call_hook(cust: Customize, name: str, i: HookInput, where: str) -> dict[str, Any]:
    """Call hook ``name``; return its result dict; raise RunError naming file and hook."""
    fn = cust.hooks[name]
    try:
        out = fn(i)
    except CkxError as e:
        e.message = f"{cust.path}: {name}() of {where} failed: {e.message}"
        raise
    except Exception as exc:
        raise RunError(
            f"{cust.path}: {name}() of {where} raised {type(exc).__name__}: {exc}",
            hint="run with --debug for the traceback",
        ) from exc
    if out is None:
        return {}
    if not isinstance(out, dict):
        raise RunError(
            f"{cust.path}: {name}() of {where} returned {type(out).__name__}, expected a dict or None"
        )
    code = out.get("return", 0)
    if code not in (0, None, False):
        raise RunError(
            f"{cust.path}: {name}() of {where} failed: {out.get('error') or f'return code {code}'}"
        )
    return out
