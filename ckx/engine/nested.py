"""Nested runs: a hook asks the engine to plan and run another script now.

From a ``customize.py`` of ckx content::

    def preprocess(i):
        out = i.run_script("get,python3", env={"CKX_X": "1"}, version_min="3.9")
        i.env["MY_PYTHON"] = out["env"]["CKX_PYTHON_BIN_WITH_PATH"]

From code that only has the engine's objects (a content dialect, ``ckx/compat/`` mapping
MLCFlow's ``i['automation'].action_object.access({'action': 'run', ...})``): the
:class:`~ckx.engine.hooks.HookCall` it builds ``i`` from carries ``run_script``, a callable
taking a request dict; :func:`run_nested` is the same as a plain function.

A nested run is a plan of its own (``--plan`` of the outer request does not show it: hooks do
not run at plan time) under the same cache, locks, reporter and ancestry as the run that asks:
a script that, through nested runs and deps, asks for itself is a cycle, reported as the
chain ``a → b → (nested) a`` before anything of it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Node
    from ckx.engine.runner import Runner


def run_nested(
    runner: Runner | Context, request: dict[str, Any], parent: Node | None = None
) -> dict[str, Any]:
    """Run ``request`` (``{"query": "get,python3", "env": {...}, "version_min": ..., **inputs}``,
    the keys of ``ckx run script``) and return ``{"env", "state", "version", "status",
    "cache_uid"}``.

    With a :class:`~ckx.engine.runner.Runner` and the ``parent`` node whose hook asks (the
    node being run innermost when None), it is a nested run of that run; with a
    :class:`~ckx.core.context.Context` (no run in progress) it is a request of its own."""
    from ckx.engine.runner import Runner

    if not isinstance(runner, Runner):
        from ckx.engine import run_request

        out = run_request(runner, request)
        return {k: out.get(k) for k in ("env", "state", "version", "status", "cache_uid")}
    if parent is None:
        if not runner.stack:
            raise RuntimeError("run_nested(runner, ...) needs a node being run, or give parent")
        parent = runner.stack[-1]
    return runner.run_nested(request, parent)
