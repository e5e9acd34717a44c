"""Never silently wrong: every --key of run/benchmark/install is used, or the run does not start."""

from __future__ import annotations

import json

import pytest

from ckx.core.errors import UsageError


def _plan(ctx, **request):
    from ckx.core.automations import load_module
    from ckx.engine import make_plan

    from .conftest import ROOT

    prog = load_module(ROOT / "automation" / "program" / "module.py", "t_program")
    entry, i = prog.target(ctx, {"entry": "od-bench", **request})
    req = prog.build_request(ctx, i, entry, "accuracy-offline")
    return make_plan(ctx, req), req


def test_a_typo_in_an_input_fails_with_did_you_mean(ctx):
    from ckx.engine.inputcheck import check_inputs

    plan, req = _plan(ctx, model_pth="/x.onnx")
    with pytest.raises(UsageError) as e:
        check_inputs(plan, req)
    assert "--model_pth is not an input of od-bench" in e.value.message
    assert "did you mean" in e.value.message and "'model_path'" in e.value.message
    assert "--model_path" in e.value.hint


def test_mlcflow_framework_is_the_backend(ctx):
    from ckx.engine.inputcheck import check_inputs

    plan, req = _plan(ctx, framework="pytorch")
    check_inputs(plan, req)
    assert "pytorch" in plan.root.variations and "onnxruntime" not in plan.root.variations


def test_an_input_only_a_dependency_declares_is_refused_with_its_env_spelling(ctx):
    from ckx.engine.inputcheck import check_inputs

    plan, req = _plan(ctx, model="ssd-mobilenet", subset="50")
    with pytest.raises(UsageError) as e:
        check_inputs(plan, req)
    msg = e.value.message
    assert "--subset is an input of dataset-coco-2017-val" in msg
    assert "--env.CKX_DATASET_SUBSET_COUNT=..." in msg


def test_a_value_outside_the_declared_choices_is_refused(ctx):
    from ckx.engine.inputcheck import check_inputs

    plan, req = _plan(ctx, device="gpu")
    with pytest.raises(UsageError, match="--device=gpu is not one of: cpu, cuda"):
        check_inputs(plan, req)


def test_cli_typo_fails_before_anything_runs(ckx, ckx_home):
    r = ckx(
        "run", "program:od-bench", "--cmd_key=accuracy-offline", "--model_pth=/x.onnx", "--quiet"
    )
    assert r.code == 2, r
    assert "did you mean" in r.err and "model_path" in r.err
    assert not (ckx_home / "state" / "work").exists()  # no run folder: nothing ran
    assert not list((ckx_home / "repos" / "local" / "cache").glob("*/meta.json"))


def test_install_refuses_path_for_a_python_library(ckx, tmp_path):
    r = ckx("install", "package", "--tags=lib,python-package,numpy", f"--path={tmp_path}")
    assert r.code == 2, r
    assert "--path is not an input of lib-python-numpy" in r.err


def test_benchmark_is_strict_too(ckx):
    r = ckx(
        "benchmark",
        "program:od-bench",
        "--cmd_key=accuracy-offline",
        "--repetitions=1",
        "--model_pth=/x.onnx",
    )
    assert r.code == 2 and "did you mean" in r.err, r


def test_detect_soft_is_strict(ckx):
    r = ckx("detect", "soft:compiler.python", "--ful_path=/usr/bin/python3")
    assert r.code == 2 and "did you mean 'full_path'" in r.err, r


def test_json_errors_are_json(ckx):
    r = ckx("run", "get,python3", "--foo=1", "--json")
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["return"] == 2 and "--foo" in doc["error"] and "hint" in doc


def test_outdirname_is_where_the_output_goes(ckx, tmp_path):
    repo = tmp_path / "repo"
    (repo / "script" / "writes-here").mkdir(parents=True)
    (repo / "script" / "writes-here" / "meta.yaml").write_text(
        "alias: writes-here\nuid: 5a6b7c8d9e0f1a2b\nautomation_alias: script\n"
        "tags: [writes, here]\ncache: false\n"
    )
    (repo / "script" / "writes-here" / "run.sh").write_text("echo hello > made-here.txt\n")
    assert ckx("add", f"repo:t{tmp_path.name[-6:]}", f"--path={repo}").code == 0
    out = tmp_path / "out"
    r = ckx("run", "writes,here", f"--outdirname={out}", "--quiet")
    assert r.code == 0, r
    assert (out / "made-here.txt").read_text() == "hello\n"
