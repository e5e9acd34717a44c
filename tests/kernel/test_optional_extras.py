"""The test suite collects without the optional extras: a test module reaches numpy, onnx,
torch, ray ... only through ``pytest.importorskip`` (its tests are then skipped, not errors).

Read from the sources: in every ``test_*.py`` and ``conftest.py``, no module-level import of an
extra's module, nor of a helper module that imports one at its top (``synth.py``), comes
before a module-level ``pytest.importorskip``.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
#: The import names of the packages of the optional extras (pyproject.toml).
EXTRAS = {"numpy", "onnx", "onnxruntime", "cv2", "pycocotools", "mlperf_loadgen", "torch"}
EXTRAS |= {"matplotlib", "rclone_python", "ray", "starlette", "uvicorn"}


def _top_imports(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.Import):
        return {a.name.split(".")[0] for a in stmt.names}
    if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
        return {stmt.module.split(".")[0]}
    if isinstance(stmt, ast.ImportFrom) and stmt.module:  # from .onnx_checks import ...
        return {stmt.module.split(".")[0]}
    return set()


def _skips(stmt: ast.stmt) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "importorskip" for n in ast.walk(stmt))


def _helpers_needing_extras() -> set[str]:
    """Helper modules of the tests (not test modules) that import an extra at their top."""
    out = set()
    for f in TESTS.rglob("*.py"):
        if f.name.startswith("test_") or f.name == "conftest.py" or "fixtures" in f.parts:
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"))
        if any(_top_imports(s) & EXTRAS for s in tree.body):
            out.add(f.stem)
    return out


def test_no_test_module_imports_an_optional_extra_before_importorskip():
    needs = EXTRAS | _helpers_needing_extras()
    bad = []
    for f in sorted(TESTS.rglob("*.py")):
        if "fixtures" in f.parts or not (f.name.startswith("test_") or f.name == "conftest.py"):
            continue
        for stmt in ast.parse(f.read_text(encoding="utf-8")).body:
            if _skips(stmt):
                break
            hit = _top_imports(stmt) & needs
            if hit:
                bad.append(f"{f.relative_to(TESTS)}:{stmt.lineno} imports {sorted(hit)}")
    assert not bad, "use pytest.importorskip first: " + "; ".join(bad)
