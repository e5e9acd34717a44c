"""Shared checks of the SSD-MobileNet ONNX profile signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np

INPUT = "image_tensor:0"
OUTPUTS = ["num_detections:0", "detection_boxes:0", "detection_scores:0", "detection_classes:0"]


def check_signature(model_path: Path) -> None:
    """Input uint8 [N,300,300,3]; outputs in profile order with [N], [N,100,4], [N,100] x2."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == INPUT and inp.type == "tensor(uint8)"
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [300, 300, 3]
    outs = session.get_outputs()
    assert [o.name for o in outs] == OUTPUTS
    assert all(o.type == "tensor(float)" for o in outs)
    assert [o.shape[1:] for o in outs] == [[], [100, 4], [100], [100]]


def run_batches(model_path: Path, images: np.ndarray, category_ids: tuple[int, ...]) -> list:
    """Run the model on the whole batch and image by image; check shapes and value ranges."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    n = len(images)
    batched = session.run(OUTPUTS, {INPUT: images})
    num, boxes, scores, classes = batched
    assert num.shape == (n,) and boxes.shape == (n, 100, 4)
    assert scores.shape == (n, 100) and classes.shape == (n, 100)
    for b in range(n):
        k = int(num[b])
        assert 0 <= k <= 100 and num[b] == k
        assert np.all(np.diff(scores[b, :k]) <= 0) and np.all(scores[b, k:] == 0)
        assert set(classes[b, :k].astype(int)) <= set(category_ids)
        assert np.all((boxes[b] >= 0) & (boxes[b] <= 1))
        assert np.all(boxes[b, :k, 2] >= boxes[b, :k, 0]) and np.all(
            boxes[b, :k, 3] >= boxes[b, :k, 1]
        )
        single = session.run(OUTPUTS, {INPUT: images[b : b + 1]})
        for full, one in zip(batched, single, strict=True):
            np.testing.assert_allclose(full[b], one[0], atol=1e-5)
    return batched
