"""The real SSD-MobileNet model on the 206 real COCO images (../shared/data)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import data_root, run_odbench

MODEL = "models/ssd-mobilenet-v1-quant-coco/ssd_mobilenet_v1_coco_quant_2018_06_29_mlperf_io.onnx"
COCO = "coco2017-val-mini"

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def real():
    root = data_root()
    if not (root / MODEL).is_file() or not (root / COCO / "annotations").is_dir():
        pytest.skip(f"real data not found under {root} (set CKX_TEST_DATA)")
    return root


def test_real_ssd_mobilenet_accuracy_offline_matches_reference(real, tmp_path):
    out = tmp_path / "out"
    proc = run_odbench(
        [
            "--profile",
            "ssd-mobilenet-onnxruntime",
            "--model",
            str(real / MODEL),
            "--dataset-path",
            str(real / COCO),
            "--output",
            str(out),
            "--scenario",
            "Offline",
            "--accuracy",
        ],
        tmp_path,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    rec = json.loads((out / "odbench_summary.json").read_text())
    assert rec["count"] == 206
    assert rec["max_batchsize"] == 1  # the model's batch dimension is fixed at 1
    # reference figure: mAP 0.2018 (README of the data); od-bench gives 20.183 %
    assert rec["mAP"] == pytest.approx(20.18, abs=0.005)
    line = re.search(r"^mAP=([\d.]+)%$", (out / "accuracy.txt").read_text(), re.M)
    assert line and line.group(1) == "20.183"
