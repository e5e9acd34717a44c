"""The evaluation helper scores responses exactly like tools/accuracy-coco.py."""

from __future__ import annotations

import json

import pytest

np = pytest.importorskip("numpy")  # the onnx extra


def _gt_responses(val_split, shift: float = 0.0) -> list[np.ndarray]:
    """Reference response rows that echo the ground truth (optionally shifted right)."""
    doc = json.loads((val_split / "annotations" / "instances_val2017.json").read_text())
    out = []
    for idx, img in enumerate(doc["images"]):
        h, w = img["height"], img["width"]
        rows = []
        for a in doc["annotations"]:
            if a["image_id"] == img["id"]:
                x, y, bw, bh = a["bbox"]
                x += shift * bw
                rows.append([idx, y / h, x / w, (y + bh) / h, (x + bw) / w, 0.9, a["category_id"]])
        out.append(np.array(rows, np.float32).reshape(-1, 7))
    return out


def test_ground_truth_echo_scores_one(evaluator, val_split):
    ann = val_split / "annotations" / "instances_val2017.json"
    assert evaluator.coco_map(ann, _gt_responses(val_split)) == pytest.approx(1.0, abs=1e-6)


def test_misplaced_boxes_score_lower(evaluator, val_split):
    ann = val_split / "annotations" / "instances_val2017.json"
    value = evaluator.coco_map(ann, _gt_responses(val_split, shift=0.2))
    assert 0.0 < value < 0.8


def test_no_detections_score_zero(evaluator, val_split):
    ann = val_split / "annotations" / "instances_val2017.json"
    assert evaluator.coco_map(ann, [np.zeros((0, 7), np.float32)] * 200) == 0.0


def test_response_rows_follow_num_detections(evaluator):
    num = np.array([2.0, 0.0], np.float32)
    boxes = np.arange(2 * 100 * 4, dtype=np.float32).reshape(2, 100, 4)
    scores = np.full((2, 100), 0.5, np.float32)
    classes = np.full((2, 100), 7.0, np.float32)
    rows = evaluator.response_rows(4, [num, boxes, scores, classes], 0)
    assert rows.shape == (2, 7) and rows.dtype == np.float32
    assert rows[1].tolist() == [4.0, 4.0, 5.0, 6.0, 7.0, 0.5, 7.0]
    assert evaluator.response_rows(5, [num, boxes, scores, classes], 1).shape == (0, 7)


def test_preprocessing_is_the_reference_mobilenet_transform(evaluator, val_split):
    import cv2

    path = next((val_split / "val2017").iterdir())
    got = evaluator.preprocess_mobilenet(path)
    bgr = cv2.imread(str(path)).astype(np.float32)
    want = cv2.resize(bgr[:, :, ::-1].copy(), (300, 300), interpolation=cv2.INTER_LINEAR)
    assert got.dtype == np.uint8 and got.shape == (300, 300, 3)
    assert np.array_equal(got, want.astype(np.uint8))


def test_missing_inputs_are_named(evaluator, val_split, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        evaluator.evaluate(tmp_path / "none.onnx", val_split)
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="not a COCO-format folder"):
        evaluator.evaluate(tmp_path / "m.onnx", tmp_path)
