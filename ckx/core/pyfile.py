"""Importing a Python file by its path (automation modules, customize.py hooks), and the one
rule for the signature of a function ckx calls in such a file."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ckx.core.errors import MetaError


def import_file(path: Path, prefix: str, *, hint: str | None = None) -> ModuleType:
    """Import ``path`` under a unique module name derived from its real path (no sys.path
    changes). The module is registered in ``sys.modules`` because dataclasses and pickle inside
    the file need that; importing the same file again returns the same module. Any error in the
    file becomes a MetaError naming it."""
    import hashlib
    import importlib.util

    path = Path(path)
    name = f"{prefix}_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MetaError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # any error in user code makes the file unusable
        sys.modules.pop(name, None)
        raise MetaError(
            f"{path}: failed to import: {type(exc).__name__}: {exc}", hint=hint
        ) from exc
    return module


def signature_problem(fn: Any, n: int) -> str | None:
    """Why ``fn`` does not take ``n`` arguments (None: it does): ``it takes (...)``.

    The one rule for every function ckx calls in content (``customize.py`` hooks, see
    ``ckx.engine.hookspec``; automation actions ``def ACTION(ctx, i)``): its first ``n``
    parameters are positional ones (not ``*args``), any later one has a default, and no
    keyword-only parameter is required."""
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None  # builtins without a signature: nothing to check
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    kw_required = [p for p in params if p.kind == p.KEYWORD_ONLY and p.default is p.empty]
    if len(positional) >= n and len(required) <= n and not kw_required:
        return None
    got = ", ".join(str(p) for p in params) or "no arguments"
    return f"it takes ({got})"
