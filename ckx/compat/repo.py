"""Serving MLCFlow repositories: the one call the layers above make."""

from __future__ import annotations

from typing import Any

from ckx.compat.mlcrepos import is_mlcflow_repo


def activate(ctx: Any) -> bool:
    """Serve MLCFlow content if a registered repository is an MLCFlow repository: registers
    the MLCFlow dialect with the engine (once per process). Returns whether it is served."""
    if not any(is_mlcflow_repo(r) for r in ctx.registry.repos if r.kind == "user"):
        return False
    from ckx.engine.dialects import register_dialect, registered

    if not any(d.name == "mlcflow" for d in registered()):
        from ckx.compat.mlcdialect import MlcDialect

        register_dialect(MlcDialect())
    return True
