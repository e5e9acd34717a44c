"""One atomic-write helper (ckx/core/atomic.py), used everywhere a file is written whole."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ckx.core import atomic

ROOT = Path(__file__).resolve().parents[2]


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    f = tmp_path / "sub" / "a.json"
    atomic.write_text(f, "one")
    atomic.write_text(f, "two")
    atomic.write_bytes(tmp_path / "b.bin", b"\0\1")
    assert f.read_text() == "two" and (tmp_path / "b.bin").read_bytes() == b"\0\1"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json", "b.bin", "sub"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary_file(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.replacing(f) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    with pytest.raises(TypeError):
        atomic.write_text(f, b"not text")  # type: ignore[arg-type]
    assert f.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def _hand_rolled(path: Path) -> list[str]:
    """Functions that write a file under one name and rename it: the helper's job."""
    out = []
    for fn in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        written, renamed = set(), set()
        for n in ast.walk(fn):
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
                continue
            owner = n.func.value
            if n.func.attr in ("write_text", "write_bytes") and isinstance(owner, ast.Name):
                written.add(owner.id)
            elif n.func.attr in ("replace", "rename") and n.args:
                if isinstance(owner, ast.Name) and owner.id == "os":
                    first = n.args[0]
                    renamed.add(first.id if isinstance(first, ast.Name) else "")
                elif isinstance(owner, ast.Name):
                    renamed.add(owner.id)
        if written & renamed:
            out.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}")
    return out


def test_no_module_hand_rolls_the_temp_then_rename_write():
    files = [*sorted((ROOT / "ckx").rglob("*.py")), *sorted((ROOT / "automation").rglob("*.py"))]
    found = [f for p in files if p.name != "atomic.py" for f in _hand_rolled(p)]
    assert not found, f"use ckx.core.atomic instead: {found}"
