"""COCO mAP from ``mlperf_log_accuracy.json``: the reference ``tools/accuracy-coco.py`` (§3).

Fixes over the reference (§9.4): ``--remove-48-empty-images`` keeps JSON order; a log with no
detection at all gives mAP 0 instead of a pycocotools crash; box arithmetic is done in float64
as numpy 1.x did (numpy 2 would keep float32 and ``json.dump`` would fail); the detections
file is written only when asked (``--detections-file``), never into the current directory.

``python -m odbench.accuracy_coco --mlperf-accuracy-file F --coco-dir D [--use-inv-map]
[--remove-48-empty-images] [--annotation-file A] [--output-file accuracy.txt]
[--detections-file coco-results.json] [--verbose]`` prints the COCOeval summary and
``mAP=XX.XXX%``; ``--output-file`` gets the same text.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import NotFoundError, OdBenchError, UsageError, report


@dataclass
class CocoAccuracy:
    """Result of one evaluation; ``text`` is what the reference tool prints."""

    mAP: float  # fraction 0..1 (stats[0])
    stats: list[float] = field(default_factory=list)
    n_results: int = 0
    n_images: int = 0
    n_no_results: int = 0
    n_dupes: int = 0
    n_detections: int = 0
    text: str = ""

    @property
    def map_line(self) -> str:
        """``mAP=XX.XXX%`` as the submission checker parses it."""
        return f"mAP={100.0 * self.mAP:.3f}%"


def read_accuracy_log(path: str) -> list[dict[str, Any]]:
    """The list of ``{"seq_id", "qsl_idx", "data"}`` records LoadGen wrote."""
    if not os.path.isfile(path):
        raise NotFoundError(
            f"accuracy log '{path}' not found", hint="run the benchmark with --accuracy first"
        )
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as exc:
            raise UsageError(f"accuracy log '{path}' is not valid JSON: {exc}") from exc


def decode_floats(hex_data: str) -> Any:
    """LoadGen's upper-case hex of the response bytes -> float32 array."""
    import numpy as np

    return np.frombuffer(bytes.fromhex(hex_data), np.float32)


def _image_map(
    coco_gt: Any, remove_48_empty_images: bool, image_order: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    if image_order is not None:
        return [coco_gt.imgs[i] for i in image_order]
    images = coco_gt.dataset["images"]
    if not remove_48_empty_images:
        return images
    with_ann: set[int] = set()
    for cat_id in coco_gt.getCatIds():
        with_ann.update(coco_gt.catToImgs[cat_id])
    # JSON order, as coco.py builds the QSL (the reference iterates a set here)
    return [img for img in images if img["id"] in with_ann]


def collect_detections(
    results: list[dict[str, Any]],
    coco_gt: Any,
    image_dir: str,
    use_inv_map: bool,
    remove_48_empty_images: bool,
    log: Any = None,
    image_order: Sequence[int] | None = None,
) -> tuple[list[dict[str, Any]], set[int], dict[str, int]]:
    """Turn the accuracy-log records into pycocotools detections (reference loop).

    ``qsl_idx`` -> image through the annotation file's "images" (JSON order), or through
    ``image_order`` (COCO image ids in QSL order) when the caller knows the QSL.
    """
    inv_map = [0] + coco_gt.getCatIds() if use_inv_map else None
    image_map = _image_map(coco_gt, remove_48_empty_images, image_order)
    detections: list[dict[str, Any]] = []
    image_ids: set[int] = set()
    seen: set[int] = set()
    no_results = 0
    for j in results:
        idx = j["qsl_idx"]
        if idx in seen:
            continue
        seen.add(idx)
        if idx >= len(image_map):
            raise UsageError(
                f"qsl_idx {idx} is beyond the {len(image_map)} images of the annotation file",
                hint="use the annotation file of the run (and --remove-48-empty-images only "
                "for datasets that skipped empty images)",
            )
        image = image_map[idx]
        data = decode_floats(j["data"])
        image_ids.add(image["id"])
        if len(data) < 7:
            no_results += 1
            continue
        detections += _detections_of(data, idx, image, image_dir, inv_map, log)
    counts = {"results": len(results), "dupes": len(results) - len(seen), "no_results": no_results}
    return detections, image_ids, counts


def _detections_of(
    data: Any, idx: int, image: dict[str, Any], image_dir: str, inv_map: list | None, log: Any
) -> list[dict[str, Any]]:
    """The detections of one response: records of 7 floats (image_idx, ymin, xmin, ymax,
    xmax, score, label) with coordinates relative to the image."""
    out = []
    h, w = image["height"], image["width"]
    for i in range(0, len(data) - 6, 7):
        image_idx, ymin, xmin, ymax, xmax, score, label = (float(v) for v in data[i : i + 7])
        if int(image_idx) != idx and log is not None:
            print(
                f"ERROR: loadgen({idx}) and payload({int(image_idx)}) disagree on image_idx",
                file=log,
            )
        ymin, xmin, ymax, xmax = ymin * h, xmin * w, ymax * h, xmax * w
        label_id = int(label)
        if inv_map is not None:
            if not 0 <= label_id < len(inv_map):
                raise UsageError(
                    f"label {label_id} of qsl_idx {idx} is outside 0..{len(inv_map) - 1} "
                    "(--use-inv-map expects contiguous labels 1..80)"
                )
            label_id = inv_map[label_id]
        out.append(
            {
                "image_id": image["id"],
                "image_loc": os.path.join(image_dir, image["file_name"]),
                "category_id": label_id,
                "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
                "score": score,
            }
        )
    return out


def cocoeval_stats(coco_gt: Any, coco_dt: Any, image_ids: list[int] | None = None) -> list[float]:
    """pycocotools' bbox COCOeval (evaluate, accumulate, summarize): the 12 stats; stats[0]
    is the mAP the reference tools print. Restricted to ``image_ids`` when given."""
    from pycocotools.cocoeval import COCOeval

    ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
    if image_ids is not None:
        ev.params.imgIds = image_ids
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return [float(v) for v in ev.stats]


def evaluate_coco(
    accuracy_file: str,
    annotation_file: str,
    image_dir: str = "",
    use_inv_map: bool = False,
    remove_48_empty_images: bool = False,
    detections_file: str | None = None,
    verbose: bool = False,
    image_order: Sequence[int] | None = None,
) -> CocoAccuracy:
    """Compute the COCO mAP of an accuracy log, exactly as ``accuracy-coco.py`` does.

    ``image_order`` (COCO ids in QSL order) replaces the JSON-order lookup; od-bench passes
    its QSL so that images missing on disk (skipped by the QSL) cannot shift the mapping.
    When no file is missing both give the same list, hence the same mAP as the tool.
    """
    out = io.StringIO()
    coco_gt = _ground_truth(annotation_file, out)
    results = read_accuracy_log(accuracy_file)
    detections, image_ids, counts = collect_detections(
        results,
        coco_gt,
        image_dir,
        use_inv_map,
        remove_48_empty_images,
        log=out,
        image_order=image_order,
    )
    if detections_file:
        write_text_atomic(detections_file, json.dumps(detections, sort_keys=True, indent=4))
    stats: list[float] = []
    mAP = 0.0
    with contextlib.redirect_stdout(out):
        if detections:
            stats = cocoeval_stats(coco_gt, coco_gt.loadRes(detections), list(image_ids))
            mAP = stats[0]
        else:
            print("no detections in the accuracy log: mAP is 0")
    acc = CocoAccuracy(
        mAP=mAP,
        stats=stats,
        n_results=counts["results"],
        n_images=len(image_ids),
        n_no_results=counts["no_results"],
        n_dupes=counts["dupes"],
        n_detections=len(detections),
    )
    print(acc.map_line, file=out)
    if verbose:
        print(f"found {acc.n_results} results", file=out)
        print(f"found {acc.n_images} images", file=out)
        print(f"found {acc.n_no_results} images with no results", file=out)
        print(f"ignored {acc.n_dupes} dupes", file=out)
    acc.text = out.getvalue()
    return acc


def _ground_truth(annotation_file: str, out: io.StringIO) -> Any:
    """pycocotools' COCO of the annotation file (its chatter goes to ``out``)."""
    try:
        from pycocotools.coco import COCO
    except ImportError as exc:  # pragma: no cover
        from .errors import missing_module

        raise missing_module("pycocotools", exc) from exc
    if not os.path.isfile(annotation_file):
        raise NotFoundError(
            f"annotation file '{annotation_file}' not found",
            hint="--coco-dir must contain annotations/instances_val2017.json",
        )
    with contextlib.redirect_stdout(out):
        return COCO(annotation_file)


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m odbench.accuracy_coco`` argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m odbench.accuracy_coco", description="COCO mAP of an MLPerf accuracy log."
    )
    p.add_argument("--mlperf-accuracy-file", required=True, help="path to mlperf_log_accuracy.json")
    p.add_argument("--coco-dir", required=True, help="COCO root (annotations/, val2017/)")
    p.add_argument(
        "--annotation-file", help="default <coco-dir>/annotations/instances_val2017.json"
    )
    p.add_argument("--verbose", action="store_true", help="verbose messages")
    p.add_argument("--output-file", help="also write the printed text (e.g. accuracy.txt)")
    p.add_argument("--detections-file", help="write the pycocotools detections JSON here")
    p.add_argument("--use-inv-map", action="store_true", help="map labels 1..80 to COCO ids")
    p.add_argument(
        "--remove-48-empty-images",
        action="store_true",
        help="the QSL skipped images without annotations (coco-1200-pt)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m odbench.accuracy_coco``."""
    a = build_parser().parse_args(argv)
    ann = a.annotation_file or os.path.join(a.coco_dir, "annotations", "instances_val2017.json")
    try:
        acc = evaluate_coco(
            a.mlperf_accuracy_file,
            ann,
            os.path.join(a.coco_dir, "val2017"),
            use_inv_map=a.use_inv_map,
            remove_48_empty_images=a.remove_48_empty_images,
            detections_file=a.detections_file,
            verbose=a.verbose,
        )
    except OdBenchError as exc:
        return report("accuracy_coco", exc)
    sys.stdout.write(acc.text)
    if a.output_file:
        write_text_atomic(a.output_file, acc.text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
