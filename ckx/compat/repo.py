"""Which repositories are MLCFlow repositories, and serving them."""

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
