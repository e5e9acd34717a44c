"""``customize.py`` hooks of ckx content at run time: the ``i`` object and calling a hook.

What hooks exist, their signatures and what they may return are declared once in
:mod:`ckx.engine.hookspec`, which also loads and checks the file (at plan time, for every node
of the plan). Hooks (all optional) take exactly one argument ``i`` (a :class:`HookInput`) and
return ``None`` or a dict:

* ``{"return": 0}`` or ``None``: fine. ``{"return": N, "error": "..."}`` with N > 0, or raising
  a :class:`~ckx.core.errors.CkxError`: the hook failed (the error names file and hook).
* ``"skip": True`` from ``preprocess``: skip ``prehook_deps``, ``run.sh``, ``posthook_deps``
  and ``postprocess`` (the node is done; its env is exported as it is).
* ``"version": "1.2.3"``: the version this node provides.

A key the spec does not declare is an error naming the file and the hook.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ckx.core.errors import CkxError, RunError
from ckx.engine.hookspec import CKX_HOOKS, Customize, check_result, load_customize
from ckx.engine.osinfo import os_info

if TYPE_CHECKING:
    from ckx.artifacts.detect import DetectSpec

__all__ = [
    "HookCall",
    "HookInput",
    "NestedRun",
    "call_hook",
    "detect_spec",
    "load_customize",
    "load_detector",
]

#: Run a nested script by request (``{"query": ..., "env": ..., **inputs}``); see
#: :func:`ckx.engine.nested.run_nested`.
NestedRun = Callable[[dict[str, Any]], dict[str, Any]]


class HookCall:
    """Everything the engine knows when it calls a hook of one node; a dialect turns it
    into the ``i`` its hooks expect. ``env`` and ``state`` are the node's live dicts;
    ``run_script`` runs another script by tags (a nested run) and returns its result dict."""

    __slots__ = (
        "script_path",
        "run_path",
        "env",
        "state",
        "meta",
        "inputs",
        "variations",
        "variation_values",
        "version",
        "constraints",
        "tags",
        "chain",
        "base_environ",
        "objects_root",
        "run_script",
    )

    def __init__(
        self,
        *,
        script_path: Path,
        run_path: Path,
        env: dict[str, Any],
        state: dict[str, Any],
        meta: dict[str, Any],
        inputs: dict[str, Any],
        variations: list[str],
        variation_values: dict[str, str],
        version: str | None,
        constraints: dict[str, str | None],
        tags: list[str],
        chain: tuple[str, ...] = (),
        base_environ: dict[str, str] | None = None,
        objects_root: Path | None = None,
        run_script: NestedRun | None = None,
    ) -> None:
        self.script_path = script_path
        self.run_path = run_path
        self.env = env
        self.state = state
        self.meta = meta
        self.inputs = inputs
        self.variations = variations
        self.variation_values = variation_values
        self.version = version
        self.constraints = constraints
        self.tags = tags
        self.chain = chain
        self.base_environ = base_environ or {}
        self.objects_root = objects_root
        self.run_script = run_script


@dataclass
class HookInput:
    """The ``i`` a hook receives. Attributes, and the same as keys (``i["env"]``) for
    MLCFlow-style code.

    ``env``/``state`` are the node's live dicts: changes are seen by the rest of the node and,
    for keys matching ``new_env_keys``/``new_state_keys``, by its parent. ``meta`` is the
    entry meta with variations applied; ``input`` the request inputs; ``script_path`` the
    entry folder; ``run_path`` the working folder (the cache entry for cacheable scripts);
    ``variations``/``variation_values`` the selection; ``version`` the planned version and
    ``constraints`` the version constraints; ``os_info`` see :func:`ckx.engine.osinfo.os_info`;
    ``run(cmd)`` runs a command with the node's env and returns its output;
    ``run_script(tags, ...)`` plans and runs another script now (a nested run) and returns
    its result (``env``, ``state``, ``version``, ``status``, ``cache_uid``); ``chain`` the
    aliases from the root to this node.
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
    os_info: dict[str, Any] = field(default_factory=os_info)
    base_environ: dict[str, str] = field(default_factory=dict, repr=False)
    objects_root: Path | None = field(default=None, repr=False)
    chain: tuple[str, ...] = ()
    nested: NestedRun | None = field(default=None, repr=False)

    @classmethod
    def from_call(cls, call: HookCall) -> HookInput:
        """The ``i`` of ckx's dialect for one hook call."""
        return cls(
            env=call.env,
            state=call.state,
            meta=call.meta,
            input=call.inputs,
            script_path=call.script_path,
            run_path=call.run_path,
            variations=list(call.variations),
            variation_values=dict(call.variation_values),
            version=call.version,
            constraints=call.constraints,
            tags=list(call.tags),
            base_environ=call.base_environ,
            objects_root=call.objects_root,
            chain=call.chain,
            nested=call.run_script,
        )

    def run_script(
        self,
        tags: str | Sequence[str] | None = None,
        *,
        name: str | None = None,
        env: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Plan and run the script matching ``tags`` (and/or alias ``name``) now, with ``env``
        as its request env and ``inputs`` as its ``--key=value`` inputs; ``options`` are engine
        options (``version_min``, ``new``, ...). Returns ``{"env", "state", "version", "status",
        "cache_uid"}``. It shares this run's cache, locks and reporter; a cycle through nested
        runs is a ResolutionError showing the chain (``a → b → (nested) a``)."""
        if self.nested is None:
            raise RunError(
                "run_script() is only available while the engine runs this hook",
                hint="call the hook through ckx run",
            )
        query = tags if isinstance(tags, str) or tags is None else ",".join(tags)
        request: dict[str, Any] = {
            **(inputs or {}),
            **options,
            "query": query or "",
            "env": env or {},
        }
        if name:
            request["entry"] = name
        return self.nested(request)

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


def call_hook(cust: Customize, name: str, i: Any, where: str) -> dict[str, Any]:
    """Call hook ``name``; return its result dict (checked against the hook spec of the file);
    raise RunError naming file and hook when it fails."""
    fn = cust.hooks[name]
    spec = cust.specs.get(name)
    assert spec is not None  # only declared hooks are loaded
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
    out = check_result(out, spec, f"{cust.path}: {name}() of {where}")
    code = out.get("return", 0)
    if code not in (0, None, False):
        raise RunError(
            f"{cust.path}: {name}() of {where} failed: {out.get('error') or f'return code {code}'}"
        )
    return out


def detect_spec(meta: dict[str, Any], where: str, cust: Customize | None) -> DetectSpec:
    """The detection spec of a ``detect`` block in ``meta`` (``where`` names it), with the
    version hook of the entry's checked ``customize.py`` (``detect_version`` or its alias
    ``determine_version``), if it defines one."""
    from ckx.artifacts.detect import DetectSpec

    hook = cust.hooks.get("detect_version") if cust else None
    kw: dict[str, Any] = {}
    if cust is not None and hook is not None:
        kw = {"hook_file": str(cust.path), "hook_name": cust.defined_as["detect_version"]}
    return DetectSpec.from_meta(
        meta["detect"], where, env_prefix=meta.get("env_prefix"), version_hook=hook, **kw
    )


def load_detector(entry_dir: Path | str) -> DetectSpec:
    """The detection spec of an entry folder (its ``detect`` block and ``env_prefix``),
    with its ``customize.py`` version hook loaded and checked by the hook spec."""
    from ckx.artifacts import detect

    folder = Path(entry_dir)
    cust = load_customize(folder / "customize.py", CKX_HOOKS)
    hook = cust.hooks.get("detect_version") if cust else None
    if cust is None or hook is None:
        return detect.load_detector(folder)
    return detect.load_detector(
        folder,
        version_hook=hook,
        hook_file=str(cust.path),
        hook_name=cust.defined_as["detect_version"],
    )
