"""One request vocabulary (ckx/core/vocabulary.py): the lists of request keys other modules
read are views of its table, each key has one row with known roles and a type."""

from __future__ import annotations

import ast
from pathlib import Path

from ckx.core import vocabulary as v

ROOT = Path(__file__).resolve().parents[2]


def test_the_lists_of_request_keys_are_views_of_the_one_table():
    from ckx.compat import access, envrules
    from ckx.compat import hookreads as inputs
    from ckx.engine import inputcheck as engine_inputs
    from ckx.engine import planner
    from ckx.experiments import records

    assert planner.RESERVED is v.RESERVED and engine_inputs.KERNEL_OPTIONS is v.RESERVED
    assert engine_inputs.DETECT_OPTIONS is v.DETECT_OPTIONS
    assert inputs.ENGINE_INPUTS >= v.MLCFLOW_INPUTS
    assert access.ENGINE_KEYS is v.MLCFLOW_REQUEST
    assert set(access._CKX_OPTIONS) == v.MLCFLOW_OPTIONS
    assert records.BENCH_ONLY is v.BENCH_ONLY and records.BENCH_KEYS is v.BENCH_KEYS
    # MLCFlow's flags (what envrules turns into MLC_* env) are rows of the table
    assert set(envrules.FLAGS) | set(envrules.TMP_FLAGS) <= v.MLCFLOW_INPUTS


def test_each_key_has_one_row_known_roles_and_a_known_type():
    names = [k.name for k in v.KEYS]
    assert len(names) == len(set(names)), "a key declared twice"
    for k in v.KEYS:
        assert k.roles and k.roles <= set(v.ROLES), k
        assert k.type in v.TYPES, k
    # what ckx fills itself is never offered as a "did you mean"
    assert not v.SUGGESTED & v.with_role("address", "plumbing")
    assert {"version_min", "env", "adr", "quiet", "cmd_key"} <= v.SUGGESTED
    # the CLI's own options stay with the CLI; the rest of the options of every command
    assert v.CLI_ONLY == {"json", "debug"}
    # a benchmark option is never handed to the program, and is no configuration of a point
    assert v.BENCH_ONLY <= v.BENCH_KEYS and not v.BENCH_ONLY & v.RESERVED - {
        "tags",
        "help",
        "force",
    }
    assert {"version_min", "adr"} & v.BENCH_KEYS == set()  # they change what is measured


def test_the_engine_inputs_module_does_not_import_the_planner():
    """The knot dialects → inputcheck → planner → model → dialects is gone: the keys come from
    core."""
    tree = ast.parse((ROOT / "ckx" / "engine" / "inputcheck.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not {m for m in imported if m.startswith("ckx.engine")}, imported
