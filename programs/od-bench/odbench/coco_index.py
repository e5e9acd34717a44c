"""The COCO annotation index: which images of an annotation file the QSL serves, in order.

QSL index *i* is the *i*-th kept image in the JSON order of the annotation file's "images"
(missing files skipped; with ``use_label_map`` images without annotations are skipped too),
limited to the first ``count``. Both the dataset (``odbench.dataset_coco``) and the
pre-processing command (``odbench.preprocess``) read it; it imports neither.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import NotFoundError


@dataclass
class CocoIndex:
    """The selected images of a COCO annotation file, in QSL order."""

    annotation_file: str
    image_ids: list[int] = field(default_factory=list)
    image_names: list[str] = field(default_factory=list)  # "val2017/<file_name>"
    image_sizes: list[tuple[int, int]] = field(default_factory=list)  # (height, width)
    labels: list[tuple[list[int], list[list[float]]]] = field(default_factory=list)
    not_found: int = 0
    skipped_empty: int = 0


def default_annotation_file(data_path: str) -> str:
    """``<data_path>/annotations/instances_val2017.json``."""
    return os.path.join(data_path, "annotations", "instances_val2017.json")


def read_coco_index(
    data_path: str,
    image_list: str | None = None,
    count: int | None = None,
    use_label_map: bool = False,
) -> CocoIndex:
    """Select the images exactly like ``Coco.__init__`` (without touching the pixels)."""
    annotation_file = image_list or default_annotation_file(data_path)
    if not os.path.isfile(annotation_file):
        raise NotFoundError(
            f"annotation file '{annotation_file}' not found",
            hint="--dataset-path must be a COCO root with annotations/instances_val2017.json "
            "and val2017/ (or give --dataset-list)",
        )
    with open(annotation_file, encoding="utf-8") as f:
        coco = json.load(f)
    label_map = {}
    if use_label_map:
        for cnt, cat in enumerate(coco["categories"]):
            label_map[cat["id"]] = cnt + 1
    images: dict[int, dict[str, Any]] = {}
    for img in coco["images"]:
        images[img["id"]] = {
            "file_name": img["file_name"],
            "height": img["height"],
            "width": img["width"],
            "bbox": [],
            "category": [],
        }
    for a in coco.get("annotations", []):
        img = images.get(a["image_id"])
        if img is None:
            continue
        cat = a.get("category_id")
        img["category"].append(label_map[cat] if use_label_map else cat)
        img["bbox"].append(a.get("bbox"))
    index = CocoIndex(annotation_file=annotation_file)
    for image_id, img in images.items():
        name = os.path.join("val2017", img["file_name"])
        if not os.path.exists(os.path.join(data_path, name)):
            index.not_found += 1
            continue
        if use_label_map and len(img["category"]) == 0:
            index.skipped_empty += 1  # "should be 48 images" on full val2017
            continue
        index.image_ids.append(image_id)
        index.image_names.append(name)
        index.image_sizes.append((img["height"], img["width"]))
        index.labels.append((img["category"], img["bbox"]))
        if count and len(index.image_names) >= count:
            break
    if not index.image_names:
        raise NotFoundError(
            f"no images of '{annotation_file}' found under '{os.path.join(data_path, 'val2017')}'",
            hint="check --dataset-path (the images live in <dataset-path>/val2017/)",
        )
    return index
