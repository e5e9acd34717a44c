"""The trainer keeps working: a few steps, then an ONNX model with the profile signature."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")  # the onnx extra

from .conftest import TRAINER_DIR, load_module  # noqa: E402
from .onnx_checks import check_signature, run_batches  # noqa: E402


@pytest.fixture(scope="module")
def model_module():
    return load_module(TRAINER_DIR / "model.py", "ckx_test_ssd_shapes_model")


def _train(out, seed: int) -> str:
    cmd = [
        sys.executable,
        str(TRAINER_DIR / "train.py"),
        "--out",
        str(out),
        "--steps",
        "3",
        "--seed",
        str(seed),
        "--pool",
        "8",
        "--batch",
        "4",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "after 3 steps" in done.stdout
    return hashlib.sha256(out.read_bytes()).hexdigest()


@pytest.mark.slow
def test_three_steps_export_a_deterministic_profile_model(tmp_path, generator, val_split):
    first = _train(tmp_path / "a.onnx", seed=3)
    assert _train(tmp_path / "b.onnx", seed=3) == first
    assert _train(tmp_path / "c.onnx", seed=4) != first
    check_signature(tmp_path / "a.onnx")
    evaluator = load_module(TRAINER_DIR / "evaluate.py", "ckx_test_shapes_evaluate")
    files = sorted((val_split / "val2017").iterdir())[:2]
    images = np.stack([evaluator.preprocess_mobilenet(p) for p in files])
    run_batches(tmp_path / "a.onnx", images[:1], generator.CATEGORY_IDS)
    run_batches(tmp_path / "a.onnx", images, generator.CATEGORY_IDS)


def test_box_encoding_round_trips(model_module):
    import torch

    anchors = model_module.make_anchors()
    assert anchors.shape == (7720, 4)
    gt = torch.tensor([[0.1, 0.2, 0.5, 0.4]]).expand(anchors.shape[0], 4)
    back = model_module.decode_boxes(model_module.encode_boxes(gt, anchors), anchors)
    torch.testing.assert_close(back, gt, atol=1e-5, rtol=0)


def test_every_object_gets_a_positive_anchor(model_module):
    import torch

    trainer = load_module(TRAINER_DIR / "train.py", "ckx_test_ssd_shapes_train")
    anchors = model_module.make_anchors()
    corners = model_module.anchors_as_corners(anchors)
    boxes = [torch.tensor([[0.0, 0.0, 0.03, 0.9], [0.4, 0.4, 0.6, 0.6]]), torch.zeros(0, 4)]
    labels = [torch.tensor([4, 1]), torch.zeros(0, dtype=torch.int64)]
    loc_t, cls_t = trainer.match_targets(boxes, labels, anchors, corners)
    assert set(cls_t[0].unique().tolist()) == {0, 2, 5}  # background, class 1 + 1, class 4 + 1
    assert cls_t[1].eq(0).all()  # an image without objects is all background
    loc = torch.zeros_like(loc_t)
    logits = torch.zeros(2, anchors.shape[0], 6)
    loc_loss, conf_loss = trainer.multibox_loss(loc, logits, loc_t, cls_t)
    assert loc_loss > 0 and conf_loss > 0


@pytest.mark.slow
def test_retrain_variation_through_ckx(tmp_path):
    """`ckx install package:ml-model-ssd-shapes --tags=_retrain` trains (2 steps here) and the
    package then points at the new file instead of the shipped one."""
    import os

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, CKX_HOME=str(tmp_path / "home"))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "ckx",
            "install",
            "package:ml-model-ssd-shapes",
            "--tags=_retrain",
            "--env.CKX_TRAIN_STEPS=2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    line = next(ln for ln in p.stdout.splitlines() if "CKX_ML_MODEL_FILE_WITH_PATH=" in ln)
    model = Path(line.split("=", 1)[1])
    assert model.is_file() and str(tmp_path) in str(model)  # the retrained file, in the cache
