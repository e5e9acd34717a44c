"""The house keeps its layers: read every import of ckx and od-bench from the sources.

Every ``import`` is counted, those inside functions too (an import inside a function is fine
when it keeps start-up fast, but it may still not close a cycle), and in ``ckx/`` those under
``if TYPE_CHECKING:`` too (a type names what a module depends on: a knot of types is a knot
of modules). Rules:

- no import cycle among the modules of ``ckx/`` (type-only imports included) or of
  ``programs/od-bench/odbench/`` (imports that run);
- layer order ``core < artifacts < engine < compat < programs < experiments < containers <
  app``: a module imports its own layer or lower ones only. ``ckx/__init__.py`` (the lazy ``ckx.access``
  re-export), ``ckx/__main__.py`` and any other module directly in ``ckx/`` are doors in from
  outside: they stand above every layer, and nothing inside a layer imports them. Every folder
  of ``ckx/`` is a layer.

And the size rule of the house: no function over 60 lines in ``ckx/``, ``automation/`` and
od-bench's harness, which also names nothing of ckx (the program's customize.py is the bridge).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [
    "core",
    "artifacts",
    "engine",
    "compat",
    "programs",
    "experiments",
    "containers",
    "app",
]
TOP = len(LAYERS)  # modules directly in ckx/ (__init__, __main__): the doors in from outside
MAX_FUNCTION_LINES = 60
ODBENCH = ROOT / "programs" / "od-bench" / "odbench"


def module_files(base: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``base`` (the folder of ``package``)."""
    out = {}
    for f in sorted(base.rglob("*.py")):
        parts = [package, *f.relative_to(base).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def imports_of(name: str, path: Path, known: set[str], *, typing: bool = True) -> dict[str, int]:
    """Modules of ``known`` that ``path`` imports (anywhere in the file) -> first line number.

    ``typing=False`` leaves out the imports under ``if TYPE_CHECKING:``, which never run.
    """
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}
    for node in _import_nodes(ast.parse(path.read_text(), str(path)), typing):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            # `from pkg import sub` imports the module pkg.sub; `from mod import obj` imports mod
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for t in targets:
            if t in known and t != name:
                found.setdefault(t, node.lineno)
    return found


def _import_nodes(tree: ast.AST, typing: bool) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif not typing and isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return sorted(out, key=lambda n: n.lineno)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def graph(files: dict[str, Path], *, typing: bool = True) -> dict[str, dict[str, int]]:
    known = set(files)
    return {name: imports_of(name, path, known, typing=typing) for name, path in files.items()}


def find_cycles(g: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with a cycle, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(components)


def _chain(g: dict[str, dict[str, int]], comp: list[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    start, members = comp[0], set(comp)
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(g[v]):
            if w == start:
                return paths[v] + [start]
            if w in members and w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    raise AssertionError(f"no cycle through {start}")  # cannot happen in a component


def describe(g: dict[str, dict[str, int]], files: dict[str, Path], comp: list[str]) -> str:
    """The chain of a cycle, each step with its file and line, and every module caught in it."""
    chain = _chain(g, comp)
    steps = [
        f"{a} -> {b} ({_rel(files[a])}:{g[a][b]})" for a, b in zip(chain, chain[1:], strict=False)
    ]
    more = f"\n    (all in one knot: {', '.join(comp)})" if len(comp) > len(chain) - 1 else ""
    return " -> ".join(chain) + "\n    " + "\n    ".join(steps) + more


def _rel(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return TOP


def ckx_files() -> dict[str, Path]:
    # ckx/_builtin/ is build output (the content a wheel carries), not ckx's own code
    return {k: v for k, v in module_files(ROOT / "ckx", "ckx").items() if "._builtin" not in k}


def test_every_folder_of_ckx_is_a_layer():
    folders = {
        p.name
        for p in (ROOT / "ckx").iterdir()
        if p.is_dir() and p.name not in ("__pycache__", "_builtin")
    }
    assert folders == set(LAYERS), "a new folder of ckx/ must be placed among the layers"


def test_no_import_cycles_in_ckx():
    files = ckx_files()
    g = graph(files)  # imports inside functions and for type checking count
    cycles = [describe(g, files, comp) for comp in find_cycles(g)]
    assert not cycles, (
        "import cycles in ckx (imports inside functions and for type checking count):\n"
        + "\n".join(cycles)
    )


def test_no_import_cycles_in_odbench():
    files = module_files(ODBENCH, "odbench")
    g = graph(files, typing=False)
    cycles = [describe(g, files, comp) for comp in find_cycles(g)]
    assert not cycles, "import cycles in odbench (imports inside functions count):\n" + "\n".join(
        cycles
    )


def test_layers_import_only_their_own_or_lower_layers():
    files = ckx_files()
    bad = []
    for name, deps in graph(files).items():
        for dep, line in deps.items():
            if layer_of(dep) > layer_of(name):
                where = f"{files[name].relative_to(ROOT)}:{line}"
                bad.append(
                    f"{name} ({_layer_name(name)}) imports {dep} ({_layer_name(dep)}) at {where}"
                )
    assert not bad, (
        "upward imports (order: "
        + " < ".join(LAYERS)
        + "; ckx/__init__ above all):\n"
        + "\n".join(sorted(bad))
    )


def _layer_name(module: str) -> str:
    n = layer_of(module)
    return LAYERS[n] if n < TOP else "package door"


def long_functions(folder: Path) -> list[str]:
    out = []
    for f in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                n = (node.end_lineno or node.lineno) - start + 1
                if n > MAX_FUNCTION_LINES:
                    out.append(f"{f.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    return out


def test_no_function_over_60_lines():
    bad = (
        long_functions(ROOT / "ckx") + long_functions(ROOT / "automation") + long_functions(ODBENCH)
    )
    assert not bad, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(bad)


def test_odbench_is_a_standalone_harness_that_knows_nothing_of_ckx():
    """od-bench follows the MLPerf reference: a harness that runs on its own. The program's
    customize.py (and run.sh) are the only bridge; the package names neither ckx nor a
    CKX_ variable, and imports nothing of ckx."""
    files = module_files(ODBENCH, "odbench")
    bad = []
    for path in files.values():
        text = path.read_text()
        for n, line in enumerate(text.splitlines(), 1):
            if "ckx" in line.lower():
                bad.append(f"{_rel(path)}:{n}: {line.strip()}")
        for node in _import_nodes(ast.parse(text, str(path)), typing=True):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            mods = names + (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            bad += [
                f"{_rel(path)}:{node.lineno}: imports {m}" for m in mods if m.split(".")[0] == "ckx"
            ]
    assert not bad, "odbench must not know ckx (customize.py is the bridge):\n" + "\n".join(bad)


def test_the_scanner_sees_a_cycle_through_an_import_inside_a_function(tmp_path):
    pkg = tmp_path / "p"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\nimport p.d\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from p.sub.c import x\n")
    (pkg / "sub" / "c.py").write_text("def g():\n    from .. import a\n")
    (pkg / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p import a\n"
    )
    (pkg / "sub" / "e.py").write_text("import p.d\n")
    files = module_files(pkg, "p")
    g = graph(files, typing=False)
    assert find_cycles(g) == [["p.a", "p.sub.b", "p.sub.c"]]
    assert describe(g, files, ["p.a", "p.sub.b", "p.sub.c"]).splitlines()[0] == (
        "p.a -> p.sub.b -> p.sub.c -> p.a"
    )
    assert "p.a" in graph(files)["p.d"], "imports for type checking still count for the layers"
    with_typing = find_cycles(graph(files))
    assert with_typing == [["p.a", "p.d", "p.sub.b", "p.sub.c"]], "typing=False leaves them out"


def private_reaches(folder: Path) -> list[str]:
    """``x._name`` where ``x`` is not ``self``/``cls`` (another object's private attribute),
    ``from m import _name`` of another module, and any ``.runner`` attribute."""
    out = []
    for f in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            where = f"{f.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute):
                private = node.attr.startswith("_") and not node.attr.startswith("__")
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                if private and owner not in ("self", "cls"):
                    out.append(f"{where}: .{node.attr}")
                if node.attr == "runner":
                    out.append(f"{where}: .runner")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ckx."):
                out += [
                    f"{where}: imports {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    return out


def test_compat_uses_only_the_engines_public_interface():
    bad = private_reaches(ROOT / "ckx" / "compat")
    assert not bad, "ckx/compat reaches into private state:\n" + "\n".join(bad)
