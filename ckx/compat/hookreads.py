"""Which ``--key=value`` inputs an MLCFlow graph can read, so a typo is refused, not ignored.

MLCFlow silently ignores an input no script reads (``--modle=ssd`` runs with the default
model). ckx refuses it before anything runs, with a suggestion, when no node of the planned
graph can read it. An input is readable when:

* the engine reads it (ckx's options, MLCFlow's flags: ``--path``, ``--outdirname``,
  ``--extra_cache_tags``, ``--quiet``, ``--force_cache``, ...), see :data:`ENGINE_INPUTS`;
* a node's meta maps it (``input_mapping``, with its variations and version applied);
* a hook of a node reads it from ``i['input']``: found by reading each ``customize.py``
  (an AST scan, nothing is imported): ``i['input']['k']``, ``i['input'].get('k')``,
  ``'k' in inp`` with ``inp = i['input']``, and prefixes a hook tests while iterating over
  the inputs (``k.startswith('docker_')``).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from ckx.core import vocabulary

#: Inputs the engine itself reads: ckx's options and MLCFlow's flags, views of the request
#: vocabulary (its ``mlcflow`` role holds ``envrules.FLAGS`` and ``TMP_FLAGS``); what "did
#: you mean" offers besides the inputs of the graph.
ENGINE_INPUTS = vocabulary.MLCFLOW_INPUTS | vocabulary.SUGGESTED


class Reads:
    """The input keys and key prefixes one ``customize.py`` reads."""

    __slots__ = ("keys", "prefixes")

    def __init__(self, keys: frozenset[str] = frozenset(), prefixes: tuple[str, ...] = ()) -> None:
        self.keys = keys
        self.prefixes = prefixes

    def reads(self, key: str) -> bool:
        return key in self.keys or key.startswith(self.prefixes)


@lru_cache(maxsize=1024)
def _scan(path: str, mtime_ns: int) -> Reads:
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return Reads()  # the engine reports a broken file when it loads it
    aliases = _input_aliases(tree)
    keys: set[str] = set()
    prefixes: set[str] = set()
    iterates = False
    for n in ast.walk(tree):
        if isinstance(n, ast.Subscript) and _is_input(n.value, aliases):
            keys |= _const(n.slice)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            if n.func.attr in ("get", "pop") and _is_input(n.func.value, aliases) and n.args:
                keys |= _const(n.args[0])
            elif n.func.attr == "startswith" and n.args:
                prefixes |= _const(n.args[0])
        elif isinstance(n, ast.Compare) and any(isinstance(o, (ast.In, ast.NotIn)) for o in n.ops):
            if any(_is_input(c, aliases) for c in n.comparators):
                keys |= _const(n.left)
        elif isinstance(n, (ast.For, ast.comprehension)) and _is_input(n.iter, aliases):
            iterates = True
    return Reads(frozenset(keys), tuple(sorted(prefixes)) if iterates else ())


def reads_of(customize: Path) -> Reads:
    """What ``customize`` reads from ``i['input']`` (empty when there is no such file)."""
    try:
        st = customize.stat()
    except OSError:
        return Reads()
    return _scan(str(customize), st.st_mtime_ns)


def _input_aliases(tree: ast.AST) -> set[str]:
    """Names bound to ``i['input']`` (``inp = i['input']``, ``inp = i.get('input', {})``)."""
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and _is_input(n.value, set()):
            out |= {t.id for t in n.targets if isinstance(t, ast.Name)}
    return out


def _is_input(node: ast.AST, aliases: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in aliases
    if isinstance(node, ast.Subscript):
        return "input" in _const(node.slice)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "get" and bool(node.args) and "input" in _const(node.args[0])
    return False


def _const(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple):
        return {
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        }
    return set()


def unreadable(inputs: dict, nodes: list, reserved: frozenset[str]) -> list[str]:
    """The input keys no node of ``nodes`` (planned nodes: ``.meta``, ``.entry.path``) and
    not the engine can read, sorted."""
    left = {k for k in inputs if k not in reserved and k not in ENGINE_INPUTS}
    for node in nodes:
        if not left:
            break
        left -= set((node.meta.get("input_mapping") or {}).keys())
        reads = reads_of(Path(node.entry.path) / "customize.py")
        left = {k for k in left if not reads.reads(k)}
    return sorted(left)
