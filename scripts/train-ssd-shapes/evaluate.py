"""COCO mAP of an SSD-MobileNet-profile ONNX model, computed the way MLPerf does it.

Preprocessing is the reference ``pre_process_coco_mobilenet`` (cv2.imread BGR -> float32 ->
RGB -> resize 300x300 INTER_LINEAR -> uint8 by truncation, NHWC); every image of
``annotations/instances_val2017.json`` is run in JSON order; each detection becomes the
reference response row ``[qsl_idx, ymin, xmin, ymax, xmax, score, class]`` for
``d in range(int(num_detections))`` (``PostProcessCoco``), and the rows are scored as
``tools/accuracy-coco.py`` does: boxes scaled by the image height/width, COCO bbox
``[xmin, ymin, w, h]``, ``COCOeval(iouType="bbox")`` over the images seen, ``stats[0]``.

CLI: ``python evaluate.py --model M --data DIR [--count N] [--batch B]`` prints ``mAP=...``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np

INPUT_NAME = "image_tensor:0"
OUTPUT_NAMES = [
    "num_detections:0",
    "detection_boxes:0",
    "detection_scores:0",
    "detection_classes:0",
]


def preprocess_mobilenet(path: Path) -> np.ndarray:
    """Reference ssd-mobilenet preprocessing of one image file to uint8 ``[300, 300, 3]``."""
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise FileNotFoundError(f"{path}: cannot read image")
    img = np.array(bgr, dtype=np.float32)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    img = cv2.resize(img, (300, 300), interpolation=cv2.INTER_LINEAR)
    return np.asarray(img, dtype=np.uint8)


def response_rows(qsl_idx: int, outputs: list[np.ndarray], b: int) -> np.ndarray:
    """Reference ``PostProcessCoco`` rows for batch element ``b``: float32 ``[n, 7]``."""
    num, boxes, scores, classes = outputs
    rows = [
        [float(qsl_idx), *boxes[b, d], scores[b, d], float(classes[b, d])]
        for d in range(int(num[b]))
    ]
    return np.array(rows, dtype=np.float32).reshape(-1, 7)


def run_model(
    model: Path, data: Path, count: int | None = None, batch: int = 8
) -> list[np.ndarray]:
    """Response rows per QSL index for the first ``count`` images (all by default)."""
    import onnxruntime as ort

    doc = json.loads((data / "annotations" / "instances_val2017.json").read_text(encoding="utf-8"))
    images = doc["images"][:count] if count else doc["images"]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    responses: list[np.ndarray] = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        tensor = np.stack(
            [preprocess_mobilenet(data / "val2017" / im["file_name"]) for im in chunk]
        )
        outputs = session.run(OUTPUT_NAMES, {INPUT_NAME: tensor})
        responses.extend(response_rows(start + b, outputs, b) for b in range(len(chunk)))
    return responses


def coco_map(annotation_file: Path, responses: list[np.ndarray]) -> float:
    """``tools/accuracy-coco.py`` on response rows indexed by QSL index; returns AP@[.5:.95]."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(annotation_file))
    image_map = coco_gt.dataset["images"]
    detections, image_ids = [], set()
    for idx, rows in enumerate(responses):
        image = image_map[idx]
        image_ids.add(image["id"])
        h, w = image["height"], image["width"]
        for _, ymin, xmin, ymax, xmax, score, label in rows:
            ymin, xmin, ymax, xmax = ymin * h, xmin * w, ymax * h, xmax * w
            detections.append(
                {
                    "image_id": image["id"],
                    "category_id": int(label),
                    "bbox": [float(xmin), float(ymin), float(xmax - xmin), float(ymax - ymin)],
                    "score": float(score),
                }
            )
    if not detections:  # pycocotools' loadRes fails on an empty list; nothing found = 0 AP
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(detections)
        ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
        ev.params.imgIds = sorted(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def evaluate(model: Path, data: Path, count: int | None = None, batch: int = 8) -> float:
    """mAP (COCO AP@[.5:.95]) of ``model`` on the COCO-format folder ``data``."""
    if not model.is_file():
        raise FileNotFoundError(f"{model}: no such model file")
    if not (data / "annotations" / "instances_val2017.json").is_file():
        raise FileNotFoundError(
            f"{data}: not a COCO-format folder (no annotations/instances_val2017.json)"
        )
    responses = run_model(model, data, count, batch)
    return coco_map(data / "annotations" / "instances_val2017.json", responses)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: prints ``mAP=XX.XXX%`` like the reference accuracy tool."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path, help="COCO-format folder")
    p.add_argument("--count", type=int, default=None, help="first N images only")
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args(argv)
    value = evaluate(args.model, args.data, args.count, args.batch)
    print(f"mAP={100.0 * value:.3f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
