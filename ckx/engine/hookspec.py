"""The hook spec: every ``customize.py`` hook declared once, and the one checker.

pluggy's idea: a hook is a declaration (name, arguments, what it may return), and an
implementation is checked against it when its file is loaded, not when it is first called
halfway through a benchmark. The engine loads and checks the ``customize.py`` of every node of
a plan at plan time, so ``ckx run ... --plan``, ``ckx lint`` and ``ckx run`` refuse a bad hook
before anything runs (see :func:`ckx.engine.hooks.load_customize`).

ckx's hooks (:data:`CKX_HOOKS`), each ``def NAME(i)`` with exactly one argument:

==================  ==========================================  ===============================
hook                when                                        may return (a dict, or None)
==================  ==========================================  ===============================
``preprocess``      after ``deps`` (and detection, downloads)  ``return``, ``error``, ``skip``,
                                                                ``version``
``postprocess``     after ``run.sh`` and ``posthook_deps``      ``return``, ``error``, ``version``
``detect_version``  a node with a ``detect`` block: once per    a version string, or ``return``,
                    candidate it finds (``i``: ``exe``,          ``error``, ``version``
                    ``output``, ``run``); any other node: last
==================  ==========================================  ===============================

``determine_version`` is a documented alias of ``detect_version`` (Spack's name, used by
ckx's detecting package entries); a file may define one of the two, not both.

A content dialect (:mod:`ckx.engine.dialects`) may declare its own :class:`HookSpecs` (MLCFlow's
hooks have the same names but other return keys); the checker is the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ckx.core.errors import MetaError
from ckx.core.pyfile import signature_problem


class HookError(MetaError):
    """A ``customize.py`` hook that does not match its declaration (file, hook, problem)."""


class HookSpec:
    """One hook: its ``name``, its argument names, the keys its result dict may hold (``None``:
    any key, for a dialect whose hooks return more than the engine reads), whether it may
    return a plain string (a version), its ``aliases`` and a one-line ``doc``."""

    __slots__ = ("name", "args", "returns", "returns_text", "aliases", "doc")

    def __init__(
        self,
        name: str,
        *,
        args: tuple[str, ...] = ("i",),
        returns: Iterable[str] | None = ("return", "error"),
        returns_text: bool = False,
        aliases: tuple[str, ...] = (),
        doc: str = "",
    ) -> None:
        self.name = name
        self.args = args
        self.returns = None if returns is None else frozenset(returns)
        self.returns_text = returns_text
        self.aliases = aliases
        self.doc = doc

    def __repr__(self) -> str:
        return f"HookSpec({self.name}({', '.join(self.args)}))"

    def signature(self) -> str:
        return f"def {self.name}({', '.join(self.args)}): ..."


class HookSpecs:
    """The hooks of one content dialect, by name (aliases resolve to their hook)."""

    __slots__ = ("specs", "_by_name")

    def __init__(self, specs: Iterable[HookSpec]) -> None:
        self.specs = tuple(specs)
        self._by_name: dict[str, HookSpec] = {}
        for s in self.specs:
            for n in (s.name, *s.aliases):
                self._by_name[n] = s

    def names(self) -> tuple[str, ...]:
        """Every name a file may define (hooks and their aliases)."""
        return tuple(self._by_name)

    def get(self, name: str) -> HookSpec | None:
        return self._by_name.get(name)

    def implementations(self, module: Any, path: Path) -> dict[str, tuple[str, Any]]:
        """The hooks ``module`` (loaded from ``path``) defines, each checked: declared name ->
        (the name it is defined under, the function).

        Raises :class:`HookError` for a hook with the wrong signature, a hook name that is not
        a function, or a hook defined under two of its names."""
        found: dict[str, tuple[str, Any]] = {}
        for spec in self.specs:
            names = [n for n in (spec.name, *spec.aliases) if getattr(module, n, None) is not None]
            if len(names) > 1:
                raise HookError(
                    f"{path}: defines both '{names[0]}' and '{names[1]}', which are one hook "
                    f"('{spec.name}')",
                    hint=f"keep one of them: {spec.signature()}",
                )
            if names:
                fn = getattr(module, names[0])
                check_hook(fn, spec, path, defined_as=names[0])
                found[spec.name] = (names[0], fn)
        return found


def check_hook(fn: Any, spec: HookSpec, path: Path | str, *, defined_as: str | None = None) -> None:
    """The checker: ``fn`` must take the arguments of ``spec`` as its first positional
    parameters; a :class:`HookError` names the file, the hook and what it takes otherwise."""
    name = defined_as or spec.name
    if not callable(fn):
        raise HookError(
            f"{path}: hook '{name}' must be a function, it is a {type(fn).__name__}",
            hint=f"define it as: {spec.signature()}",
        )
    problem = signature_problem(fn, len(spec.args))
    if problem:
        raise HookError(
            f"{path}: hook '{name}' must take exactly {_count(spec.args)} "
            f"{', '.join(repr(a) for a in spec.args)}, {problem}",
            hint=f"define it as: {spec.signature().replace(spec.name, name, 1)}",
        )


def _count(args: tuple[str, ...]) -> str:
    return "one argument" if len(args) == 1 else f"{len(args)} arguments"


def check_result(out: Any, spec: HookSpec, where: str) -> dict[str, Any]:
    """A hook's result as a dict (``None`` is ``{}``; a string is a version where the spec
    allows it); a result of another type or with a key the spec does not declare is a
    :class:`HookError` naming ``where`` (file and hook)."""
    if out is None:
        return {}
    if isinstance(out, str) and spec.returns_text:
        return {"version": out}
    if not isinstance(out, Mapping):
        want = "a dict, a version string or None" if spec.returns_text else "a dict or None"
        raise HookError(f"{where} returned {type(out).__name__}, expected {want}")
    unknown = sorted(set(out) - spec.returns) if spec.returns is not None else []
    if unknown:
        raise HookError(
            f"{where} returned the unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)}",
            hint=f"{spec.name} may return: {', '.join(sorted(spec.returns or ()))}",
        )
    return dict(out)


#: ckx's own hooks (the table in the module doc).
CKX_HOOKS = HookSpecs(
    (
        HookSpec(
            "preprocess",
            returns=("return", "error", "skip", "version"),
            doc="after deps, detection and downloads; skip: True skips the script",
        ),
        HookSpec(
            "postprocess",
            returns=("return", "error", "version"),
            doc="after run.sh and posthook_deps",
        ),
        HookSpec(
            "detect_version",
            returns=("return", "error", "version"),
            returns_text=True,
            aliases=("determine_version",),
            doc="the node's version: per detected candidate, or last",
        ),
    )
)


class Customize:
    """The checked hooks of one ``customize.py``: ``hooks`` by declared name (an alias such
    as ``determine_version`` is stored under its hook's name; ``defined_as`` has the name the
    file uses)."""

    __slots__ = ("path", "hooks", "defined_as", "specs")

    def __init__(self, path: Path, found: dict[str, tuple[str, Any]], specs: HookSpecs) -> None:
        self.path = path
        self.hooks = {k: fn for k, (_, fn) in found.items()}
        self.defined_as = {k: n for k, (n, _) in found.items()}
        self.specs = specs

    def has(self, name: str) -> bool:
        return name in self.hooks


_loaded: dict[tuple[str, int, int], Customize] = {}


def load_hooks(folder: Path | str, specs: HookSpecs = CKX_HOOKS) -> Customize | None:
    """The checked hooks of the entry in ``folder`` (its ``customize.py``; None: it has
    none): ckx's lifecycle loads its content's hooks with this."""
    path = os.path.join(folder, "customize.py")
    if not os.path.isfile(path):  # most entries have none: no Path made
        return None
    return load_customize(Path(path), specs)


def load_customize(path: Path, specs: HookSpecs = CKX_HOOKS) -> Customize | None:
    """Load and check ``path`` against ``specs`` (None when there is no such file).

    The file is imported by path under a unique module name (``sys.path`` is untouched), once
    per process and modification time. A file that does not import, or a hook that does not
    match its spec, is a :class:`~ckx.core.errors.MetaError` naming the file and the hook."""
    try:
        mtime = path.stat().st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return None
    key = (str(path), mtime, id(specs))
    found = _loaded.get(key)
    if found is None:
        from ckx.core.pyfile import import_file

        module = import_file(path, "ckx_customize", hint="fix the error in this customize.py")
        found = Customize(path, specs.implementations(module, path), specs)
        _loaded[key] = found
    return found
