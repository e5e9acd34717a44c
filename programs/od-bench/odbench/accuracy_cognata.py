"""Cognata mAP from ``mlperf_log_accuracy.json`` (reference ``accuracy_cognata.py``, §6.5).

The reference feeds torchmetrics ``MeanAveragePrecision(iou_type="bbox")`` (faster_coco_eval
backend); that is COCOeval on xyxy -> xywh boxes, which this module runs with pycocotools:
images get ids 0..K-1 in log order, categories are the union of GT and predicted labels, and
images without any detection are dropped from predictions *and* targets (a reference quirk).

``python -m odbench.accuracy_cognata --mlperf-accuracy-file F --dataset-path D
[--output-file accuracy.txt] [--verbose]`` prints ``mAP: x``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .accuracy_coco import decode_floats, read_accuracy_log, write_text_atomic
from .errors import OdBenchError, report


@dataclass
class CognataAccuracy:
    """mAP (fraction), COCOeval stats and the printed text."""

    mAP: float
    stats: list[float]
    n_images: int
    text: str


def _coco_from(images: list[int], anns: list[dict[str, Any]], cats: list[int]) -> Any:
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {
        "images": [{"id": i} for i in images],
        "annotations": anns,
        "categories": [{"id": c} for c in cats],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _anns(
    boxes: Any, labels: Any, image_id: int, start_id: int, scores: Any = None
) -> list[dict[str, Any]]:
    out = []
    for k in range(len(labels)):
        x1, y1, x2, y2 = (float(v) for v in boxes[k])
        w, h = x2 - x1, y2 - y1
        ann = {
            "id": start_id + k,
            "image_id": image_id,
            "bbox": [x1, y1, w, h],
            "area": w * h,
            "category_id": int(labels[k]),
            "iscrowd": 0,
        }
        if scores is not None:
            ann["score"] = float(scores[k])
        out.append(ann)
    return out


def evaluate_cognata(
    accuracy_file: str, dataset_path: str, verbose: bool = False, gt_loader: Any = None
) -> CognataAccuracy:
    """mAP of a Cognata accuracy log; GT from ``<dataset_path>/val_<qsl_idx>.pkl``."""
    from .accuracy_coco import cocoeval_stats
    from .dataset_cognata import load_item

    load_gt = gt_loader or (lambda idx: load_item(dataset_path, idx)["gt_boxes"])
    results = read_accuracy_log(accuracy_file)
    seen: set[int] = set()
    gt_anns: list[dict[str, Any]] = []
    dt_anns: list[dict[str, Any]] = []
    cats: set[int] = set()
    images: list[int] = []
    for j in results:
        idx = j["qsl_idx"]
        if idx in seen:
            continue
        seen.add(idx)
        data = decode_floats(j["data"]).reshape(-1, 6)
        if len(data) == 0:
            continue  # the reference keeps only images with at least one detection
        image_id = len(images)
        images.append(image_id)
        gt = load_gt(idx)
        gt = gt.reshape(-1, 7) if len(gt) else gt.reshape(0, 7)
        labels = data[:, 4].astype(int)
        dt_anns += _anns(data[:, :4], labels, image_id, len(dt_anns) + 1, data[:, 5])
        gt_labels = gt[:, 4].astype(int)
        gt_anns += _anns(gt[:, :4], gt_labels, image_id, len(gt_anns) + 1)
        cats.update(int(x) for x in labels)
        cats.update(int(x) for x in gt_labels)
    out = io.StringIO()
    stats: list[float] = []
    mAP = 0.0
    with contextlib.redirect_stdout(out):
        if dt_anns:
            cat_list = sorted(cats)
            stats = cocoeval_stats(
                _coco_from(images, gt_anns, cat_list), _coco_from(images, dt_anns, cat_list)
            )
            mAP = stats[0]
        else:
            print("no detections in the accuracy log: mAP is 0")
    print(f"mAP: {mAP}", file=out)
    if verbose:
        print(
            f"found {len(results)} results, {len(seen)} unique, {len(images)} images with "
            "detections",
            file=out,
        )
    return CognataAccuracy(mAP=mAP, stats=stats, n_images=len(images), text=out.getvalue())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m odbench.accuracy_cognata``."""
    p = argparse.ArgumentParser(
        prog="python -m odbench.accuracy_cognata",
        description="Cognata mAP of an MLPerf accuracy log.",
    )
    p.add_argument("--mlperf-accuracy-file", required=True)
    p.add_argument("--dataset-path", required=True, help="folder of val_<i>.pkl")
    p.add_argument("--output-file", help="also write the printed text (e.g. accuracy.txt)")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--config", help="accepted for compatibility; unused")
    p.add_argument("--use-inv-map", action="store_true", help="accepted; unused")
    a = p.parse_args(argv)
    try:
        res = evaluate_cognata(a.mlperf_accuracy_file, a.dataset_path, verbose=a.verbose)
    except OdBenchError as exc:
        return report("accuracy_cognata", exc)
    sys.stdout.write(res.text)
    if a.output_file:
        write_text_atomic(os.path.abspath(a.output_file), res.text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
