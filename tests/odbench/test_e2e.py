"""End-to-end od-bench runs: real LoadGen, onnxruntime, pycocotools on synthetic data.

The "perfect" models (see synth.py) return the ground truth of the image they are shown, so
every accuracy run must score mAP 1.000 through LoadGen -> mlperf_log_accuracy.json ->
accuracy.txt; anything lost on the way (order, layout, label map, batching) lowers it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("numpy")  # the onnx extra: the synthetic data sets are numpy arrays

import synth  # noqa: E402
from conftest import run_odbench  # noqa: E402

SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"]


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    s = synth.make_coco(str(root / "coco"), n_images=6, seed=1)
    synth.make_mobilenet_model(str(root / "mobilenet.onnx"), s)
    synth.make_mobilenet_model(str(root / "mobilenet-shifted.onnx"), s, shift=0.2346)
    return root, s


def _ok(proc):
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def _summary(out: Path) -> dict:
    return json.loads((out / "odbench_summary.json").read_text())


def _map_line(out: Path) -> float:
    m = re.search(r"^mAP=([\d.]+)%", (out / "accuracy.txt").read_text(), re.M)
    assert m, (out / "accuracy.txt").read_text()
    return float(m.group(1))


def test_perfect_ssd_mobilenet_layout_scores_full_map(coco, tmp_path):
    root, _ = coco
    out = tmp_path / "out"
    _ok(
        run_odbench(
            [
                "--profile",
                "ssd-mobilenet-onnxruntime",
                "--model",
                str(root / "mobilenet.onnx"),
                "--dataset-path",
                str(root / "coco"),
                "--output",
                str(out),
                "--scenario",
                "Offline",
                "--accuracy",
            ],
            tmp_path,
        )
    )
    assert _map_line(out) == 100.0
    rec = _summary(out)
    assert rec["mAP"] == pytest.approx(100.0)
    assert rec["mode"] == "AccuracyOnly" and rec["result_valid"] is True and rec["count"] == 6
    results = json.loads((out / "results.json").read_text())
    r = results["TestScenario.Offline"]
    assert r["mAP"] == pytest.approx(100.0) and r["accuracy"] == pytest.approx(100.0)
    assert set(r["percentiles"]) == {"50.0", "80.0", "90.0", "95.0", "99.0", "99.9"}
    assert {"runtime", "version", "time", "cmdline", "args"} <= set(results)
    # the reference tool's CLI on the same log prints the same figure
    tool = _ok(
        run_odbench(
            [
                "--mlperf-accuracy-file",
                str(out / "mlperf_log_accuracy.json"),
                "--coco-dir",
                str(root / "coco"),
            ],
            tmp_path,
            module="odbench.accuracy_coco",
        )
    )
    assert "mAP=100.000%" in tool.stdout
    # nothing written to the working directory (no audit.config, no coco-results.json)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_shifted_boxes_lower_map_to_the_expected_value(coco, tmp_path):
    # every box moved right by 0.2346 of its width has IoU 0.62 with its GT: it matches at
    # IoU thresholds 0.50, 0.55, 0.60 and misses at the 7 others -> mAP = 3/10
    root, _ = coco
    out = tmp_path / "out"
    _ok(
        run_odbench(
            [
                "--profile",
                "ssd-mobilenet-onnxruntime",
                "--model",
                str(root / "mobilenet-shifted.onnx"),
                "--dataset-path",
                str(root / "coco"),
                "--output",
                str(out),
                "--scenario",
                "SingleStream",
                "--accuracy",
            ],
            tmp_path,
        )
    )
    assert _map_line(out) == pytest.approx(30.0, abs=0.001)


def test_perfect_ssd_resnet34_layout_with_fixed_batch(tmp_path):
    s = synth.make_coco(str(tmp_path / "coco"), n_images=4, seed=2)
    model = synth.make_resnet34_model(str(tmp_path / "r34.onnx"), s, batch=1)
    out = tmp_path / "out"
    proc = _ok(
        run_odbench(
            [
                "--profile",
                "ssd-resnet34-onnxruntime",
                "--model",
                model,
                "--dataset-path",
                str(tmp_path / "coco"),
                "--output",
                str(out),
                "--scenario",
                "Offline",
                "--accuracy",
                "--max-batchsize",
                "8",
            ],
            tmp_path,
        )
    )
    assert "fixed at 1" in proc.stderr
    rec = _summary(out)
    assert rec["max_batchsize"] == 1
    assert _map_line(out) == 100.0
    # the 0.5 cut-off dropped every decoy: exactly one row per GT box
    import numpy as np

    log = json.loads((out / "mlperf_log_accuracy.json").read_text())
    rows = {e["qsl_idx"]: len(bytes.fromhex(e["data"])) // 28 for e in log}
    assert rows == {i: len(s.boxes[i]) for i in range(4)}
    assert np.isfinite(rec["mAP"])


def test_pytorch_native_resnet34_skips_empty_images(tmp_path):
    torch = pytest.importorskip("torch")
    s = synth.make_coco(str(tmp_path / "coco"), n_images=5, seed=3, empty=(1,))
    model = tmp_path / "r34.pt"
    synth.make_resnet34_torchscript(str(model), s)
    out = tmp_path / "out"
    _ok(
        run_odbench(
            [
                "--profile",
                "ssd-resnet34-pytorch",
                "--model",
                str(model),
                "--dataset-path",
                str(tmp_path / "coco"),
                "--output",
                str(out),
                "--scenario",
                "SingleStream",
                "--accuracy",
                "--warmup",
                "1",
            ],
            tmp_path,
        )
    )
    rec = _summary(out)
    assert rec["count"] == 4  # the image without annotations is not in the QSL
    assert rec["backend"] == "pytorch-native"
    assert _map_line(out) == 100.0
    assert torch is not None


def test_perfect_cognata_layout(tmp_path):
    data = tmp_path / "val_2d"
    gts = synth.make_cognata(str(data), n_items=4, seed=4)
    model = synth.make_cognata_model(str(tmp_path / "ssd.onnx"), gts)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(synth.SMALL_COGNATA_CONFIG))
    out = tmp_path / "out"
    _ok(
        run_odbench(
            [
                "--profile",
                "ssd-resnet50-onnxruntime",
                "--checkpoint",
                model,
                "--dataset-path",
                str(data),
                "--config",
                str(cfg),
                "--output",
                str(out),
                "--scenario",
                "Offline",
                "--accuracy",
            ],
            tmp_path,
        )
    )
    text = (out / "accuracy.txt").read_text()
    assert re.search(r"mAP:\s*1\.0\b", text), text
    assert _summary(out)["mAP"] == pytest.approx(100.0)
    tool = _ok(
        run_odbench(
            [
                "--mlperf-accuracy-file",
                str(out / "mlperf_log_accuracy.json"),
                "--dataset-path",
                str(data),
            ],
            tmp_path,
            module="odbench.accuracy_cognata",
        )
    )
    assert "mAP: 1.0" in tool.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("mode", ["accuracy", "performance"])
def test_every_scenario_and_mode(coco, tmp_path, scenario, mode):
    root, _ = coco
    out = tmp_path / "out"
    args = [
        "--profile",
        "ssd-mobilenet-onnxruntime",
        "--model",
        str(root / "mobilenet.onnx"),
        "--dataset-path",
        str(root / "coco"),
        "--output",
        str(out),
        "--scenario",
        scenario,
        "--threads",
        "2",
    ]
    if mode == "accuracy":
        args += ["--accuracy", "--qps", "200"]
    else:
        conf = tmp_path / "user.conf"
        # Server: a modest rate and a loose latency bound, so a loaded CI machine still
        # gives VALID (the default 10 ms p99 bound is a property of real submissions)
        server = (
            ["--target-qps", "100", "--target-latency", "1000"]
            if scenario == "Server"
            else ["--target-qps", "1000"]
        )
        _ok(
            run_odbench(
                [
                    "--model-name",
                    "ssd-mobilenet",
                    "--scenario",
                    scenario,
                    "--out",
                    str(conf),
                    "--query-count",
                    "700",
                    "--min-duration",
                    "0",
                    *server,
                ],
                tmp_path,
                module="odbench.userconf",
            )
        )
        args += ["--user_conf", str(conf)]
    _ok(run_odbench(args, tmp_path))
    for name in (
        "mlperf_log_summary.txt",
        "mlperf_log_detail.txt",
        "mlperf_log_accuracy.json",
        "results.json",
        "odbench_summary.json",
    ):
        assert (out / name).is_file(), name
    rec = _summary(out)
    assert rec["scenario"] == scenario
    assert rec["result_valid"] is True, (out / "mlperf_log_summary.txt").read_text()
    assert rec["loadgen_errors"] is False
    if mode == "accuracy":
        assert _map_line(out) == 100.0
    else:
        assert not (out / "accuracy.txt").exists()
        assert rec["latency_ns"]["p90"] > 0 and rec["samples_per_second"] > 0
    assert "audit.config" not in {p.name for p in tmp_path.iterdir()}


def test_preprocess_cli_then_harness_uses_the_cache(coco, tmp_path):
    root, _ = coco
    pre = tmp_path / "pre"
    cmd = [
        "--dataset-path",
        str(root / "coco"),
        "--out",
        str(pre),
        "--profile",
        "ssd-mobilenet-onnxruntime",
        "--workers",
        "2",
        "--count",
        "5",
    ]
    first = _ok(run_odbench(cmd, tmp_path, module="odbench.preprocess"))
    assert "5 written" in first.stdout
    files = sorted((pre / "val2017").glob("*.npy"))
    assert len(files) == 5 and not list(pre.rglob("*.tmp*"))
    again = _ok(run_odbench(cmd, tmp_path, module="odbench.preprocess"))
    assert "0 written, 5 already there" in again.stdout
    files[0].write_bytes(b"truncated")  # a half-written file is redone
    third = _ok(run_odbench(cmd, tmp_path, module="odbench.preprocess"))
    assert "1 written, 4 already there" in third.stdout
    out = tmp_path / "out"
    _ok(
        run_odbench(
            [
                "--profile",
                "ssd-mobilenet-onnxruntime",
                "--model",
                str(root / "mobilenet.onnx"),
                "--dataset-path",
                str(root / "coco"),
                "--preprocessed_dir",
                str(pre),
                "--use_preprocessed_dataset",
                "--count",
                "5",
                "--output",
                str(out),
                "--scenario",
                "Offline",
                "--accuracy",
            ],
            tmp_path,
        )
    )
    assert _map_line(out) == 100.0
    # a cache made for another layout is refused with a clear message
    bad = run_odbench(
        [
            "--profile",
            "ssd-resnet34-onnxruntime",
            "--model",
            str(root / "mobilenet.onnx"),
            "--dataset-path",
            str(root / "coco"),
            "--preprocessed_dir",
            str(pre),
            "--use_preprocessed_dataset",
            "--output",
            str(tmp_path / "bad"),
        ],
        tmp_path,
    )
    assert bad.returncode == 2 and "coco-300/NHWC" in bad.stderr


def test_missing_user_conf_is_a_clear_error(coco, tmp_path):
    root, _ = coco
    proc = run_odbench(
        [
            "--profile",
            "ssd-mobilenet-onnxruntime",
            "--model",
            str(root / "mobilenet.onnx"),
            "--dataset-path",
            str(root / "coco"),
            "--user_conf",
            str(tmp_path / "nope.conf"),
            "--output",
            str(tmp_path / "o"),
        ],
        tmp_path,
    )
    assert proc.returncode == 3
    assert "nope.conf not found" in proc.stderr and "Traceback" not in proc.stderr
