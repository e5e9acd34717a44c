"""Post-processors: model outputs -> per-sample float32 response rows (reference §1.6, §2.4).

COCO rows are ``[qsl_idx, ymin, xmin, ymax, xmax, score, class]`` with boxes normalised to
[0, 1]; Cognata rows are ``[x1, y1, x2, y2, label, score]`` in pixels (§6.4). The loops of the
reference are vectorised with numpy; the selection rules (``num_detections`` prefix, "break at
the first score below the threshold", the xmin/ymin swap) are the reference's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _np():
    import numpy as np

    return np


def _prefix_until_below(scores: Any, threshold: float) -> int:
    """Length of the prefix kept by ``for d: if scores[d] < thr: break``."""
    np = _np()
    below = np.asarray(scores) < threshold
    return int(np.argmax(below)) if below.any() else len(below)


class PostProcessCoco:
    """Shared state and the TF/ONNX ssd-mobilenet layout (``PostProcessCoco`` in the reference).

    Inputs: ``num_detections [N]``, ``detection_boxes [N,100,4]`` (ymin, xmin, ymax, xmax),
    ``detection_scores [N,100]``, ``detection_classes [N,100]``; no score filter.
    """

    use_inv_map = False

    def __init__(self) -> None:
        self.good = 0
        self.total = 0

    def start(self) -> None:
        """Reset the counters at the start of a run."""
        self.good = 0
        self.total = 0

    def _count(self, classes: Any, expected: Any) -> None:
        # the reference's rough "accuracy": a detection is good when its class is one of the
        # image's ground-truth classes
        np = _np()
        self.total += len(classes)
        if expected is not None and len(classes):
            self.good += int(np.isin(classes, np.asarray(expected[0], dtype=np.int64)).sum())

    @staticmethod
    def _rows(idx: int, boxes: Any, order: Sequence[int], scores: Any, classes: Any) -> Any:
        np = _np()
        n = len(scores)
        out = np.empty((n, 7), dtype=np.float32)
        out[:, 0] = float(idx)
        out[:, 1:5] = np.asarray(boxes, dtype=np.float32)[:, list(order)]
        out[:, 5] = scores
        out[:, 6] = classes
        return out

    def __call__(
        self, results: Sequence[Any], ids: Sequence[int], expected: Sequence[Any] | None = None
    ) -> list[Any]:
        np = _np()
        out = []
        for i, idx in enumerate(ids):
            n = int(results[0][i])
            classes = np.asarray(results[3][i][:n]).astype(np.int64)
            self._count(classes, expected[i] if expected is not None else None)
            out.append(self._rows(idx, results[1][i][:n], (0, 1, 2, 3), results[2][i][:n], classes))
        return out


class PostProcessCocoPt(PostProcessCoco):
    """PyTorch / ONNX-from-PyTorch layout: ``bboxes [N,K,4]`` (xmin, ymin, xmax, ymax),
    ``labels [N,K]``, ``scores [N,K]`` sorted descending; stop at the first score < threshold."""

    def __init__(self, use_inv_map: bool, score_threshold: float) -> None:
        super().__init__()
        self.use_inv_map = use_inv_map
        self.score_threshold = score_threshold

    def __call__(
        self, results: Sequence[Any], ids: Sequence[int], expected: Sequence[Any] | None = None
    ) -> list[Any]:
        np = _np()
        out = []
        for i, idx in enumerate(ids):
            scores = np.asarray(results[2][i]).reshape(-1)
            n = _prefix_until_below(scores, self.score_threshold)
            classes = np.asarray(results[1][i]).reshape(-1)[:n].astype(np.int64)
            boxes = np.asarray(results[0][i]).reshape(-1, 4)[:n]
            self._count(classes, expected[i] if expected is not None else None)
            # the model gives xmin, ymin, xmax, ymax; the response wants ymin, xmin, ymax, xmax
            out.append(self._rows(idx, boxes, (1, 0, 3, 2), scores[:n], classes))
        return out


class PostProcessCocoOnnx(PostProcessCocoPt):
    """``resnet34-ssd1200.onnx``: the PyTorch layout with the reference's 0.5 cut-off."""

    def __init__(self) -> None:
        super().__init__(use_inv_map=False, score_threshold=0.5)


class PostProcessCocoTf(PostProcessCoco):
    """TF SSD-ResNet34 layout: ``detection_bboxes`` (ymin, xmin, ymax, xmax), ``classes``,
    ``scores``; stop at the first score < 0.05."""

    use_inv_map = True

    def __call__(
        self, results: Sequence[Any], ids: Sequence[int], expected: Sequence[Any] | None = None
    ) -> list[Any]:
        np = _np()
        out = []
        for i, idx in enumerate(ids):
            scores = np.asarray(results[2][i]).reshape(-1)
            n = _prefix_until_below(scores, 0.05)
            classes = np.asarray(results[1][i]).reshape(-1)[:n].astype(np.int64)
            boxes = np.asarray(results[0][i]).reshape(-1, 4)[:n]
            self._count(classes, expected[i] if expected is not None else None)
            out.append(self._rows(idx, boxes, (0, 1, 2, 3), scores[:n], classes))
        return out


class PostProcessCognata:
    """SSD-ResNet50 on Cognata: decode ``ploc``/``plabel`` (§6.3) into pixel rows (§6.4)."""

    use_inv_map = False

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.good = 0
        self.total = 0

    def start(self) -> None:
        """Reset the counters at the start of a run."""
        self.good = 0
        self.total = 0

    def __call__(
        self, results: Sequence[Any], ids: Sequence[int], expected: Sequence[Any] | None = None
    ) -> list[Any]:
        ploc, plabel = results[0], results[1]
        out = []
        for i in range(len(ids)):
            rows = self.decoder.decode_pixels(ploc[i], plabel[i])
            self.total += len(rows)
            out.append(rows)
        return out


def make_postprocessor(
    kind: str, decoder: Any = None, score_threshold: float | None = None, use_inv_map: bool = False
) -> Any:
    """A fresh post-processor for the dataset's ``postprocessor`` key."""
    if kind == "coco":
        return PostProcessCoco()
    if kind == "coco_onnx":
        return PostProcessCocoOnnx()
    if kind == "coco_pt":
        # coco-300-pt: (False, 0.3); coco-1200-pt: (True, 0.05)
        thr = 0.3 if score_threshold is None else score_threshold
        return PostProcessCocoPt(use_inv_map=use_inv_map, score_threshold=thr)
    if kind == "coco_tf":
        return PostProcessCocoTf()
    if kind == "cognata":
        if decoder is None:
            raise ValueError("the cognata post-processor needs a box decoder")
        return PostProcessCognata(decoder)
    raise ValueError(f"unknown post-processor '{kind}'")
