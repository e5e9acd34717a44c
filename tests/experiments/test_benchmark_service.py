"""The benchmark is a kernel service: the program and experiment automations both call it and
never each other; a program reports its characteristics by ckx's convention
($CKX_CHARACTERISTICS_FILE), and od-bench writes its own (no sys.path insertion in ckx)."""

from __future__ import annotations

import ast
import json
import sys

import pytest

from tests.conftest import ROOT


def _references(path) -> set[str]:
    """Automation names a module reaches by loading a module or asking the context for one."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("automation", "load_module") and node.args:
                arg = node.args[0]
                found.add(arg.value if isinstance(arg, ast.Constant) else ast.unparse(arg))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if mod and mod.startswith("automation"):
                found.add(mod)
    return found


def test_the_program_and_experiment_automations_do_not_reach_each_other():
    program = _references(ROOT / "automation/program/module.py")
    experiment = _references(ROOT / "automation/experiment/module.py")
    assert program == set() and experiment == set(), (program, experiment)


def test_a_program_that_writes_no_declared_characteristics_fails_the_run(ctx, tmp_path):
    import ckx

    root = tmp_path / "repo"
    d = root / "program" / "quiet-prog"
    d.mkdir(parents=True)
    (root / "repo.yaml").write_text("alias: q\nuid: 0123456789abcdef\n")
    (d / "meta.yaml").write_text(
        "alias: quiet-prog\nuid: 0123456789abcde0\nautomation_alias: program\n"
        "tags: [program]\ncharacteristics_file: out.json\nrun_cmds: {go: {}}\n"
        "new_env_keys: [CKX_RUN_DIR]\n"
    )
    (d / "run.sh").write_text('#!/usr/bin/env bash\necho "$CKX_CHARACTERISTICS_FILE" > told.txt\n')
    (d / "run.sh").chmod(0o755)
    assert (
        ckx.access({"action": "add", "automation": "repo", "entry": "q", "path": str(root)})[
            "return"
        ]
        == 0
    )
    out = ckx.access(
        {"action": "benchmark", "automation": "program", "entry": "quiet-prog", "cmd_key": "go",
         "record": True, "record_uoa": "never", "quiet": True}
    )  # fmt: skip
    assert out["return"] == 6, out
    assert "wrote no characteristics" in out["error"] and "out.json is missing" in out["error"]
    assert "$CKX_CHARACTERISTICS_FILE" in out["hint"]
    told = next((ctx.home / "state" / "work").glob("quiet-prog-*/told.txt"))
    assert told.read_text().strip() == "out.json"  # what ckx told the program
    assert not (ctx.home / "repos/local/experiment/never").exists()  # nothing empty recorded


@pytest.mark.slow
def test_odbench_writes_its_own_characteristics_and_ckx_never_imports_it(ckx_home):
    import ckx

    path_before = list(sys.path)
    had_odbench = "odbench" in sys.modules  # the harness's own tests import it in this process
    out = ckx.access(
        {"action": "run", "automation": "program", "entry": "od-bench",
         "cmd_key": "performance-offline", "env": {"EXTRA_OPS": "--count 8 --time 1"},
         "quiet": True}
    )  # fmt: skip
    assert out["return"] == 0, out
    assert sys.path == path_before and ("odbench" in sys.modules) == had_odbench
    chars = out["characteristics"]
    written = json.loads((ckx_home / out["run_dir"] / "ckx-characteristics.json").read_text())
    assert written == {k: v for k, v in chars.items() if k != "run_time_s"}
    assert chars["model"] == "ssd-shapes" and chars["loadgen_model"] == "ssd-mobilenet"
    assert chars["cmd_key"] == "performance-offline" and chars["scenario"] == "Offline"
    assert chars["summary_text"].startswith("od-bench: model=ssd-shapes")
