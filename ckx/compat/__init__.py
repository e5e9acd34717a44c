"""Running MLCFlow's own script repositories (mlcommons/mlperf-automations) as they are.

A compatibility layer kept apart from the kernel: nothing in ``ckx/core``, ``ckx/artifacts``
or ``ckx/engine`` imports it, and it is loaded only when a registered repository is an
MLCFlow repository (:func:`is_mlcflow_repo`), through the engine's content-dialect seam
(:mod:`ckx.engine.dialect`). Layer: above the engine, below experiments and the app.

Modules:

* :mod:`ckx.compat.dialect` - the MLCFlow dialect the engine asks per entry;
* :mod:`ckx.compat.runtime` - the steps of one MLCFlow script (hooks, run script, versions);
* :mod:`ckx.compat.automation`, :mod:`ckx.compat.access` - ``i['automation']`` and
  ``mlc.access``;
* :mod:`ckx.compat.mlc` - the ``mlc`` module hooks import; :mod:`ckx.compat.imports` - the
  hook import path (``mlc``, ``utils``, script folders) for the length of a hook call;
* :mod:`ckx.compat.envrules`, :mod:`ckx.compat.deps` - MLCFlow's env and dep semantics;
* :mod:`ckx.compat.runscript` - ``tmp-run.sh``, ``tmp-run-env.out``, run-script variants;
* :mod:`ckx.compat.osinfo` - ``os_info``; :mod:`ckx.compat.inputs` - readable inputs;
* :mod:`ckx.compat.offline` - mirrors for what scripts fetch, network failures explained.

docs/mlcflow.md is the user's page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The uid of MLCFlow's (and CM's) ``script`` automation, as script metas declare it.
SCRIPT_AUTOMATION_UID = "5b4e0237da074764"
_claims: dict[str, bool] = {}


def is_mlcflow_repo(repo: Any) -> bool:
    """Is ``repo`` (a :class:`ckx.core.repos.Repo`) an MLCFlow repository: a root
    ``meta.yaml``/``meta.json`` (MLCFlow's repo description, not ckx's ``repo.yaml``, CM's
    ``cmr.yaml`` or CK's ``.ckr.json``) and a ``script/`` folder?"""
    if repo is None or getattr(repo, "kind", "") == "builtin" or getattr(repo, "folders", None):
        return False
    root = Path(repo.path)
    key = str(root)
    if key not in _claims:
        own = any((root / f).is_file() for f in ("repo.yaml", "cmr.yaml", ".ckr.json"))
        desc = (root / "meta.yaml").is_file() or (root / "meta.json").is_file()
        _claims[key] = desc and not own and (root / "script").is_dir()
    return _claims[key]


def activate(ctx: Any) -> bool:
    """Serve MLCFlow content if a registered repository is an MLCFlow repository: registers
    the MLCFlow dialect with the engine (once per process). Returns whether it is served."""
    if not any(is_mlcflow_repo(r) for r in ctx.registry.repos if r.kind == "user"):
        return False
    from ckx.engine.dialect import register_dialect, registered

    if not any(d.name == "mlcflow" for d in registered()):
        from ckx.compat.dialect import MlcDialect

        register_dialect(MlcDialect())
    return True
