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
    import importlib.util

    from ckx.core.digest import short_hex

    path = Path(path)
    name = f"{prefix}_{short_hex(str(path.resolve()).encode(), 8)}"
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
    code = getattr(fn, "__code__", None)
    if code is not None and not hasattr(fn, "__wrapped__"):  # a plain function or method:
        if _code_accepts(fn, code, n):  # read its code object (inspect costs ~3 ms to import)
            return None
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


def _code_accepts(fn: Any, code: Any, n: int) -> bool:
    """True when the code object of a plain function (or bound method) takes ``n`` positional
    arguments by the rule above; False means "ask inspect" (which also words the problem)."""
    given = 1 if getattr(fn, "__self__", None) is not None else 0  # a bound method's self
    positional = code.co_argcount - given
    defaults = len(getattr(fn, "__defaults__", None) or ())
    required = code.co_argcount - defaults - given
    kwonly = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    kw_defaults = getattr(fn, "__kwdefaults__", None) or {}
    kw_required = [k for k in kwonly if k not in kw_defaults]
    return positional >= n and required <= n and not kw_required
