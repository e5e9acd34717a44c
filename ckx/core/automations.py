"""Automations: the verbs. An automation is an entry ``automation/<kind>/`` with a meta that
lists its actions (one-line descriptions) and the schema of its entries, and a ``module.py``
with one function per action: ``def action(ctx, i) -> dict``.

Modules are imported lazily, only the one a command needs, and checked when loaded: a declared
action without a function, or a function whose parameters are not ``(ctx, i)``, is reported
naming the file and the function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ckx.core.commands import COMMANDS, generic_descriptions, is_generic
from ckx.core.entries import Entry
from ckx.core.errors import MetaError, NotFoundError

if TYPE_CHECKING:
    from ckx.core.context import Context


class Automation:
    """An automation; ``entry`` is None for a folder of entries with no automation entry
    (e.g. an MLCFlow repo's ``cache/``): such kinds get the generic actions only."""

    __slots__ = ("alias", "entry", "actions", "_module")

    def __init__(self, alias: str, entry: Entry | None, actions: dict[str, str]) -> None:
        self.alias = alias
        self.entry = entry
        self.actions = actions
        self._module: ModuleType | None = None

    @property
    def desc(self) -> str:
        return (
            str(self.entry.meta.get("desc", ""))
            if self.entry
            else "(no automation entry: generic actions only)"
        )

    @property
    def module(self) -> ModuleType | None:
        if self._module is None and self.entry is not None:
            path = self.entry.path / "module.py"
            if not path.is_file():
                return None
            self._module = load_module(path, f"ckx_automation_{self.alias.replace('-', '_')}")
            check_module(self._module, path, self.actions)
        return self._module

    def function(self, action: str) -> Callable | None:
        """The module's own function for a declared ``action``, or None: the kernel's generic
        one then comes from the command table (``ckx.app.api.function_for``)."""
        if action in self.actions:
            mod = self.module
            return getattr(mod, action, None) if mod else None
        return None

    def all_actions(self) -> dict[str, str]:
        """Every action of this automation (the generic ones too) -> its description."""
        out = generic_descriptions()
        out.update(self.actions)
        return out


def load_module(path: Path, name: str) -> ModuleType:
    """Import a Python file by path under a unique module name (no sys.path changes)."""
    from ckx.core.pyfile import import_file  # not at start-up: most commands load no module

    return import_file(path, name)


def check_module(mod: ModuleType, path: Path, actions: dict[str, str]) -> None:
    from ckx.core.pyfile import signature_problem

    for action in actions:
        fn = getattr(mod, action, None)
        if fn is None:
            if is_generic(action):
                continue  # the meta documents a generic action; the kernel provides it
            raise MetaError(
                f"{path}: action '{action}' is declared in the meta but has no function"
            )
        problem = signature_problem(fn, 2)  # the rule of customize.py hooks too
        if problem:
            raise MetaError(f"{path}: function '{action}' must take (ctx, i); {problem}")


def load_automation(ctx: Context, name: str) -> Automation:
    hits = ctx.search("automation", None, name=name)
    if not hits and name in ctx.index.automations():
        return Automation(alias=name, entry=None, actions={})
    if not hits:
        from ckx.core.suggest import did_you_mean  # the error path only: not at start-up

        raise NotFoundError(
            f"unknown automation '{name}'" + did_you_mean(name, ctx.index.names("automation")),
            hint="list automations with: ckx help",
        )
    entry = hits[0]
    acts = entry.meta.get("actions") or {}
    actions = {k: (v.get("desc", "") if isinstance(v, dict) else str(v)) for k, v in acts.items()}
    return Automation(alias=entry.alias, entry=entry, actions=actions)


def all_automations(ctx: Context) -> list[Automation]:
    seen: dict[str, Automation] = {}
    for e in ctx.search("automation", None):
        if e.alias not in seen:
            acts = e.meta.get("actions") or {}
            seen[e.alias] = Automation(
                alias=e.alias,
                entry=e,
                actions={
                    k: (v.get("desc", "") if isinstance(v, dict) else str(v))
                    for k, v in acts.items()
                },
            )
    return list(seen.values())


def known_actions(ctx: Context) -> dict[str, list[str]]:
    """action -> automations that implement it (generic and standalone actions: '*')."""
    out: dict[str, list[str]] = {c.name: ["*"] for c in COMMANDS if c.generic or c.standalone}
    for auto in sorted(all_automations(ctx), key=lambda a: a.alias):
        for act in auto.actions:
            out.setdefault(act, []).append(auto.alias)
    return out
