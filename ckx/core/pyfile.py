"""Importing a Python file by its path (automation modules, customize.py hooks)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

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
