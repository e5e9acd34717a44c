"""What MLCFlow hooks may import, for the length of one hook call.

MLCFlow hooks import three kinds of things the ckx process does not normally have:

* ``mlc`` and ``mlc.utils`` (344 of 353 ``customize.py`` files): served by
  :mod:`ckx.compat.mlc`;
* ``utils``: the repository's own ``automation/utils.py`` (``from utils import is_true``),
  or, for a repository without one, :mod:`ckx.compat.fallback_utils`;
* modules next to scripts (``import mlperf_utils``, ``from log_parser import MLPerfLog``) and
  folders hooks append to ``sys.path`` themselves (the MLPerf submission checker): MLCFlow
  puts the folder of every script it runs on ``sys.path`` for good, and hooks rely on what
  earlier hooks of the same run added.

:class:`HookImports` gives exactly that while a hook runs (:meth:`HookImports.active`) and
takes it away afterwards: ``sys.path`` and the names ``mlc``, ``mlc.utils``, ``utils`` are
restored, and modules loaded from script folders are kept aside for the next hook of the same
run. The ckx process's own imports are never shadowed outside a hook call, and an installed
``mlcflow`` package is not used (nor its import side effects triggered).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

_SERVED = ("mlc", "mlc.utils", "utils")
_repo_utils: dict[str, ModuleType] = {}


def _mlc_modules() -> dict[str, ModuleType]:
    import ckx.compat.mlc as mlc
    import ckx.compat.mlc.utils as mlc_utils

    return {"mlc": mlc, "mlc.utils": mlc_utils}


def repo_utils(repo_root: Path | None) -> ModuleType:
    """The ``utils`` module of an MLCFlow repository: its ``automation/utils.py`` (loaded once
    per process, with ckx's ``mlc`` in place), else ckx's fallback."""
    f = Path(repo_root) / "automation" / "utils.py" if repo_root else None
    if f is None or not f.is_file():
        import ckx.compat.fallback_utils as fallback

        return fallback
    key = str(f.resolve())
    if key not in _repo_utils:
        import importlib.util

        spec = importlib.util.spec_from_file_location("utils", f)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        saved = {n: sys.modules.get(n) for n in _SERVED}
        sys.modules.update(_mlc_modules())
        try:
            spec.loader.exec_module(module)
        finally:
            _restore(saved)
        if callable(getattr(module, "download_file", None)):
            from ckx.compat.offline import mirrored_download

            # the file is untouched; this process's copy of the function also reads mirrors
            module.download_file = mirrored_download(module.download_file)  # type: ignore[attr-defined]
        _repo_utils[key] = module
    return _repo_utils[key]


def _restore(saved: dict[str, ModuleType | None]) -> None:
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


class HookImports:
    """The import world of the MLCFlow hooks of one run (see the module doc)."""

    def __init__(self) -> None:
        #: folders hooks may import from: script folders visited, folders hooks added
        self.paths: list[str] = []
        #: modules hooks loaded from those folders, kept aside between hook calls
        self.modules: dict[str, ModuleType] = {}

    def visit(self, script_dir: Path | str) -> None:
        """A script of the run was reached: its folder is importable from now on."""
        d = str(script_dir)
        if d not in self.paths:
            self.paths.insert(0, d)

    @contextmanager
    def active(self, repo_root: Path | None, script_dir: Path | str) -> Iterator[None]:
        """``mlc``, ``utils`` and the run's folders importable while the block runs."""
        self.visit(script_dir)
        served = {**_mlc_modules(), "utils": repo_utils(repo_root)}
        saved_path = list(sys.path)
        saved_mods = {n: sys.modules.get(n) for n in (*served, *self.modules)}
        before = set(sys.modules)
        sys.path[:0] = [p for p in self.paths if p not in sys.path]
        sys.modules.update(served)
        sys.modules.update(self.modules)
        try:
            yield
        finally:
            self._keep(saved_path, before)
            sys.path[:] = saved_path
            _restore(saved_mods)

    def _keep(self, saved_path: list[str], before: set[str]) -> None:
        # folders a hook appended (sys.path.append(submission_checker_dir)) stay for the run
        for p in sys.path:
            if p not in saved_path and p not in self.paths:
                self.paths.append(p)
        roots = tuple(os.path.join(p, "") for p in self.paths)
        for name in set(sys.modules) - before:
            f = getattr(sys.modules[name], "__file__", None) or ""
            if f.startswith(roots):
                self.modules[name] = sys.modules.pop(name)
