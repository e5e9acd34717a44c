"""Running MLCFlow's own script repositories (mlcommons/mlperf-automations) as they are.

A compatibility layer kept apart from the kernel: nothing in ``ckx/core``, ``ckx/artifacts``
or ``ckx/engine`` imports it, and it is loaded only when a registered repository is an
MLCFlow repository (:func:`ckx.compat.mlcrepos.is_mlcflow_repo`): :func:`served`, which the
app door gives every Context it makes (``ckx.app.api.open_context``), then puts the MLCFlow
dialect among the Context's dialects, through the engine's content-dialect seam
(:mod:`ckx.engine.dialects`). Layer: above the engine, below programs, experiments and the
app. It uses only the engine's public interface: the node being run is a
:class:`ckx.engine.nodeops.NodeOps`.

Modules:

* :mod:`ckx.compat.mlcrepos` - which repositories are MLCFlow's;
* :mod:`ckx.compat.mlcdialect` - the MLCFlow dialect the engine asks per entry (plan policy);
* :mod:`ckx.compat.runtime` - its lifecycle: the steps of one MLCFlow script (hooks, deps,
  run script, versions); :mod:`ckx.compat.nodeview` - what the helpers below see of it;
* :mod:`ckx.compat.automation`, :mod:`ckx.compat.access` - ``i['automation']`` and
  ``mlc.access``;
* :mod:`ckx.compat.mlc` - the ``mlc`` module hooks import; :mod:`ckx.compat.imports` - the
  hook import path (``mlc``, ``utils``, script folders) for the length of a hook call;
* :mod:`ckx.compat.envrules`, :mod:`ckx.compat.deps` - MLCFlow's env and dep semantics;
* :mod:`ckx.compat.runscript` - ``tmp-run.sh``, ``tmp-run-env.out``, run-script variants;
* :mod:`ckx.compat.hookreads` - the inputs hooks read (an unreadable one is refused);
* :mod:`ckx.compat.offline` - mirrors for what scripts fetch, network failures explained.

docs/mlcflow.md is the user's page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def served(ctx: Any) -> Sequence[Any]:
    """The dialects a Context serves besides ckx's own: MLCFlow's (a fresh one, its state
    this Context's alone) when a registered user repository is an MLCFlow repository, else
    none. Called once per Context (:attr:`ckx.core.context.Context.dialects`)."""
    from ckx.compat.mlcrepos import is_mlcflow_repo

    if not any(is_mlcflow_repo(r) for r in ctx.registry.repos if r.kind == "user"):
        return ()
    from ckx.compat.mlcdialect import MlcDialect

    return (MlcDialect(),)
