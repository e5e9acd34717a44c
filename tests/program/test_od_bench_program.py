"""od-bench as a ckx program: cmd_keys, the menu, deps resolved by ckx, the embedded default,
local copies of a model and data set, and all eight cmd_keys producing loadgen logs."""

import io
import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, ckx_process, shared_data_root

CMD_KEYS = [
    "accuracy-offline",
    "accuracy-singlestream",
    "accuracy-server",
    "accuracy-multistream",
    "performance-offline",
    "performance-singlestream",
    "performance-server",
    "performance-multistream",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One CKX_HOME for the module: the data set and its pre-processing are made once."""
    return tmp_path_factory.mktemp("odbench-home")


def ckx(home, *args, timeout=300):
    return ckx_process(home, *args, timeout=timeout)


def run_dir_of(stdout: str) -> Path:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("output files: "))
    return Path(line.split(": ", 1)[1])


def test_without_cmd_key_a_non_interactive_run_lists_the_eight(home):
    p = ckx(home, "run", "program:od-bench")
    assert p.returncode == 2
    for k in CMD_KEYS:
        assert k in p.stderr
    assert "--cmd_key" in p.stderr


def test_interactive_run_shows_cks_numbered_menu(ctx):
    from ckx.core.automations import load_module
    from ckx.core.ui import UI

    out = io.StringIO()
    ctx.ui = UI(mode="con", interactive=True, inp=io.StringIO("9\n5\n"), out=out)
    mod = load_module(ROOT / "automation" / "program" / "module.py", "ckx_automation_program")
    entry = ctx.load("program", "od-bench")
    assert mod.choose_cmd_key(ctx, entry, None) == CMD_KEYS[5]
    shown = out.getvalue()
    assert "0) accuracy-offline" in shown and "7) performance-multistream" in shown
    assert "please type a number" in shown  # 9 was refused, then 5 taken


def test_unknown_cmd_key_and_model_get_suggestions(home):
    p = ckx(home, "run", "program:od-bench", "--cmd_key=acuracy-offline")
    assert p.returncode == 3 and "did you mean" in p.stderr and "'accuracy-offline'" in p.stderr
    p = ckx(home, "run", "program:od-bench", "--cmd_key=accuracy-offline", "--model=ssd-mobilnet")
    assert p.returncode == 3 and "did you mean 'ssd-mobilenet'" in p.stderr


def test_plan_shows_deps_resolved_through_ckx(home):
    p = ckx(home, "run", "program:od-bench", "--cmd_key=accuracy-offline", "--plan")
    assert p.returncode == 0, p.stderr
    for alias in (
        "get-python3",
        "get-generic-python-lib",
        "ml-model-ssd-shapes",
        "get-dataset-shapes-coco",
        "preprocess-dataset-coco",
    ):
        assert alias in p.stdout


def test_embedded_default_accuracy_run_is_meaningful(home):
    p = ckx(home, "run", "program:od-bench", "--cmd_key=accuracy-offline", "--quiet")
    assert p.returncode == 0, p.stderr
    assert "result=VALID" in p.stdout
    assert p.stdout.count("od-bench: model=ssd-shapes ") == 1  # ckx prints it, not the harness
    d = run_dir_of(p.stdout)
    acc = (d / "accuracy.txt").read_text()
    m = float(acc.split("mAP=")[1].split("%")[0])
    assert m >= 50.0, acc  # the embedded model is a real detector, not a toy (docs: 81.3%)
    chars = json.loads((d / "ckx-characteristics.json").read_text())
    assert chars["mAP"] == pytest.approx(m, abs=0.001) and chars["count"] == 200
    # the second run reuses the generated data set and its pre-processing
    again = ckx(home, "run", "program:od-bench", "--cmd_key=accuracy-offline")
    assert again.returncode == 0
    assert "run: od-bench → preprocess-dataset-coco" not in again.stderr
    assert "cached" in again.stderr


@pytest.mark.parametrize("key", CMD_KEYS)
def test_every_cmd_key_runs_and_writes_loadgen_logs(home, key):
    p = ckx(
        home,
        "run",
        "program:od-bench",
        f"--cmd_key={key}",
        "--quiet",
        "--env.EXTRA_OPS=--count 24 --time 1 --qps 50",
    )
    assert p.returncode == 0, p.stderr
    d = run_dir_of(p.stdout)
    for f in (
        "mlperf_log_summary.txt",
        "mlperf_log_detail.txt",
        "mlperf_log_accuracy.json",
        "results.json",
    ):
        assert (d / f).is_file(), f
    summary = (d / "mlperf_log_summary.txt").read_text()
    chars = json.loads((d / "ckx-characteristics.json").read_text())
    assert chars["scenario"].lower() == key.split("-")[1]
    if key.startswith("accuracy"):
        assert "No errors encountered during test." in summary
        assert chars["mode"] == "AccuracyOnly"
        assert "mAP=" in (d / "accuracy.txt").read_text()
        assert json.loads((d / "mlperf_log_accuracy.json").read_text())  # one record per sample
    else:
        assert chars["mode"] == "PerformanceOnly"
        assert not (d / "accuracy.txt").exists()
        # (a run this short may end on "Max query count reached", which loadgen logs as an error)
        assert f"Scenario : {chars['scenario']}" in summary and "Result is" in summary


@pytest.mark.realdata
def test_local_model_and_dataset_copies_give_the_reference_map(home):
    data = shared_data_root()
    model = (
        data
        / "models"
        / "ssd-mobilenet-v1-quant-coco"
        / "ssd_mobilenet_v1_coco_quant_2018_06_29_mlperf_io.onnx"
    )
    coco = data / "coco2017-val-mini"
    if not model.is_file() or not coco.is_dir():
        pytest.skip(f"real data not found under {data} (set CKX_TEST_DATA)")
    p = ckx(
        home,
        "run",
        "program:od-bench",
        "--cmd_key=accuracy-offline",
        "--quiet",
        "--model=ssd-mobilenet",
        f"--model_path={model}",
        f"--dataset_path={coco}",
    )
    assert p.returncode == 0, p.stderr
    assert (
        "mAP=20.183%" in p.stdout
    )  # reference figure: 0.2018 (shared/data/coco2017-val-mini/README.md)


def test_a_dataset_path_that_is_not_a_coco_root_is_refused_clearly(home, tmp_path):
    p = ckx(
        home,
        "run",
        "program:od-bench",
        "--cmd_key=accuracy-offline",
        "--quiet",
        f"--dataset_path={tmp_path}",
    )
    assert p.returncode == 2
    assert f"{tmp_path} is not a COCO root" in p.stderr and "val2017" in p.stderr


def test_the_rerun_hint_after_a_failure_is_a_command_that_reruns_the_step(home):
    """The hint printed when od-bench fails reruns just that step: run as printed, it reaches
    the same failure (and prints the same hint) instead of failing to find the program."""
    import shlex

    args = ["run", "program:od-bench", "--cmd_key=accuracy-offline", "--count=4"]
    p = ckx(home, *args, "--env.EXTRA_OPS=--bogus", "--quiet")
    assert p.returncode == 6 and "unrecognized arguments: --bogus" in p.stderr, p.stderr
    hint = next(ln for ln in p.stderr.splitlines() if "rerun just this step: " in ln)
    command = shlex.split(hint.split("rerun just this step: ", 1)[1])
    assert command[:4] == ["ckx", "run", "program:od-bench", "--cmd_key=accuracy-offline"]
    assert not any("CKX_CMD_KEY" in a or "CKX_LOADGEN" in a for a in command), command
    again = ckx(home, *command[1:], "--quiet")
    assert again.returncode == 6 and "unrecognized arguments: --bogus" in again.stderr
    assert hint in again.stderr.splitlines()
