"""Synthetic data and "perfect" ONNX models for od-bench tests.

Every generated image is a flat grey field whose level encodes the image's position in the
annotation file (``GREY_BASE + GREY_STEP * position``). A perfect model reads that level back
from its input tensor (the mean pixel, so JPEG noise and resizing do not matter), rounds it to
the position, and ``Gather``s the ground-truth answer for that image from tables built from the
annotations. It therefore has to get the preprocessing, batching and response layout right to
score mAP 1.0: a wrong image order, a swapped coordinate or a lost label map all show.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np

GREY_BASE = 30.0
GREY_STEP = 25.0

# The 80 COCO category ids (1..90 without 12, 26, 29, 30, 45, 66, 68, 69, 71, 83).
COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


@dataclass
class SynthCoco:
    """What was generated: the root and, per image in JSON order, its GT."""

    root: str
    images: list[dict[str, Any]] = field(default_factory=list)  # id, file_name, height, width
    boxes: list[list[list[float]]] = field(default_factory=list)  # per image: [x, y, w, h]
    cats: list[list[int]] = field(default_factory=list)  # per image: COCO category ids


def make_coco(
    root: str, n_images: int = 5, seed: int = 0, empty: tuple[int, ...] = (), max_boxes: int = 3
) -> SynthCoco:
    """A COCO-layout dataset: ``val2017/*.jpg`` + ``annotations/instances_val2017.json``.

    Images listed in ``empty`` get no annotation.
    """
    import cv2

    assert n_images <= 8, "grey levels encode at most 8 positions"
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "val2017"), exist_ok=True)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    out = SynthCoco(root=root)
    anns = []
    ann_id = 1
    for pos in range(n_images):
        h, w = int(rng.integers(120, 240)), int(rng.integers(120, 240))
        image_id = 1000 + 7 * pos  # ids unrelated to positions on purpose
        name = f"{image_id:012d}.jpg"
        img = np.full((h, w, 3), GREY_BASE + GREY_STEP * pos, dtype=np.uint8)
        cv2.imwrite(os.path.join(root, "val2017", name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.images.append({"id": image_id, "file_name": name, "height": h, "width": w})
        boxes, cats = [], []
        if pos not in empty:
            for _ in range(int(rng.integers(1, max_boxes + 1))):
                bw, bh = float(rng.integers(30, w // 2)), float(rng.integers(30, h // 2))
                x, y = float(rng.integers(0, w - bw)), float(rng.integers(0, h - bh))
                cat = int(rng.choice(COCO_IDS))
                boxes.append([x, y, bw, bh])
                cats.append(cat)
                anns.append(
                    {
                        "id": ann_id,
                        "image_id": image_id,
                        "category_id": cat,
                        "bbox": [x, y, bw, bh],
                        "area": bw * bh,
                        "iscrowd": 0,
                    }
                )
                ann_id += 1
        out.boxes.append(boxes)
        out.cats.append(cats)
    coco = {
        "info": {"description": "od-bench synthetic"},
        "images": out.images,
        "annotations": anns,
        "categories": [{"id": c, "name": f"cat{c}", "supercategory": "x"} for c in COCO_IDS],
    }
    with open(os.path.join(root, "annotations", "instances_val2017.json"), "w") as f:
        json.dump(coco, f)
    return out


# ---- ONNX helpers -------------------------------------------------------------------------


def _const(name: str, arr: Any) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(arr), name)


def _key_nodes(x_float: str, a: float, b: float) -> list[Any]:
    """Nodes computing ``key = int64(round((mean(x) * a + b - BASE) / STEP))``."""
    from onnx import helper

    return [
        helper.make_node("ReduceMean", [x_float], ["m"], keepdims=0, axes=[1, 2, 3]),
        helper.make_node("Mul", ["m", "ka"], ["m1"]),
        helper.make_node("Add", ["m1", "kb"], ["grey"]),
        helper.make_node("Sub", ["grey", "base"], ["g0"]),
        helper.make_node("Div", ["g0", "step"], ["g1"]),
        helper.make_node("Round", ["g1"], ["g2"]),
        helper.make_node("Cast", ["g2"], ["key"], to=7),  # INT64
    ], [
        _const("ka", np.float32(a)),
        _const("kb", np.float32(b)),
        _const("base", np.float32(GREY_BASE)),
        _const("step", np.float32(GREY_STEP)),
    ]


def _save(graph: Any, path: str) -> str:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def mobilenet_tables(s: SynthCoco, shift: float = 0.0, k: int = 100) -> dict[str, Any]:
    """TF-OD-API output tables per position; ``shift`` moves every box right by that fraction
    of its width."""
    n = len(s.images)
    num = np.zeros((n,), np.float32)
    boxes = np.zeros((n, k, 4), np.float32)
    scores = np.zeros((n, k), np.float32)
    classes = np.zeros((n, k), np.float32)
    for p, img in enumerate(s.images):
        h, w = img["height"], img["width"]
        num[p] = len(s.boxes[p])
        for d, ((x, y, bw, bh), c) in enumerate(zip(s.boxes[p], s.cats[p], strict=True)):
            x = x + shift * bw
            boxes[p, d] = [y / h, x / w, (y + bh) / h, (x + bw) / w]
            scores[p, d] = 0.9 - 0.01 * d
            classes[p, d] = c
    return {"num": num, "boxes": boxes, "scores": scores, "classes": classes}


def make_mobilenet_model(path: str, s: SynthCoco, shift: float = 0.0, batch: Any = "N") -> str:
    """``image_tensor:0`` uint8 [N,300,300,3] -> the four ``detection_*`` outputs."""
    from onnx import TensorProto, helper

    t = mobilenet_tables(s, shift)
    knodes, kinit = _key_nodes("xf", 1.0, 0.0)
    nodes = (
        [helper.make_node("Cast", ["image_tensor:0"], ["xf"], to=1)]
        + knodes
        + [
            helper.make_node("Gather", ["t_num", "key"], ["num_detections:0"], axis=0),
            helper.make_node("Gather", ["t_boxes", "key"], ["detection_boxes:0"], axis=0),
            helper.make_node("Gather", ["t_scores", "key"], ["detection_scores:0"], axis=0),
            helper.make_node("Gather", ["t_classes", "key"], ["detection_classes:0"], axis=0),
        ]
    )
    init = kinit + [
        _const("t_num", t["num"]),
        _const("t_boxes", t["boxes"]),
        _const("t_scores", t["scores"]),
        _const("t_classes", t["classes"]),
    ]
    graph = helper.make_graph(
        nodes,
        "perfect_ssd_mobilenet",
        [helper.make_tensor_value_info("image_tensor:0", TensorProto.UINT8, [batch, 300, 300, 3])],
        [
            helper.make_tensor_value_info("num_detections:0", TensorProto.FLOAT, [batch]),
            helper.make_tensor_value_info("detection_boxes:0", TensorProto.FLOAT, [batch, 100, 4]),
            helper.make_tensor_value_info("detection_scores:0", TensorProto.FLOAT, [batch, 100]),
            helper.make_tensor_value_info("detection_classes:0", TensorProto.FLOAT, [batch, 100]),
        ],
        init,
    )
    return _save(graph, path)


def make_resnet34_model(path: str, s: SynthCoco, k: int = 16, batch: Any = 1) -> str:
    """``image`` float32 [1,3,1200,1200] (ImageNet-normalised) -> ``bboxes`` (xmin, ymin, xmax,
    ymax), ``labels`` (contiguous 1..80), ``scores`` sorted descending, padded with score 0.
    Padding rows are decoys with score 0.3 that the reference's 0.5 cut-off must drop."""
    from onnx import TensorProto, helper

    label_of = {cid: i + 1 for i, cid in enumerate(COCO_IDS)}
    n = len(s.images)
    boxes = np.zeros((n, k, 4), np.float32)
    labels = np.zeros((n, k), np.int64)
    scores = np.zeros((n, k), np.float32)
    for p, img in enumerate(s.images):
        h, w = img["height"], img["width"]
        for d, ((x, y, bw, bh), c) in enumerate(zip(s.boxes[p], s.cats[p], strict=True)):
            boxes[p, d] = [x / w, y / h, (x + bw) / w, (y + bh) / h]
            labels[p, d] = label_of[c]
            scores[p, d] = 0.95 - 0.01 * d
        for d in range(len(s.boxes[p]), k):  # decoys below the reference's 0.5 cut-off
            boxes[p, d] = [0.0, 0.0, 0.5, 0.5]
            labels[p, d] = 1
            scores[p, d] = 0.3
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    # a flat grey g gives channel values (g/255 - mean_c)/std_c; their mean is g*B - A
    a_coef, b_coef = float(np.mean(mean / std)), float(np.mean(1 / std)) / 255.0
    knodes, kinit = _key_nodes("image", 1.0 / b_coef, a_coef / b_coef)
    nodes = knodes + [
        helper.make_node("Gather", ["t_boxes", "key"], ["bboxes"], axis=0),
        helper.make_node("Gather", ["t_labels", "key"], ["labels"], axis=0),
        helper.make_node("Gather", ["t_scores", "key"], ["scores"], axis=0),
    ]
    init = kinit + [
        _const("t_boxes", boxes),
        _const("t_labels", labels),
        _const("t_scores", scores),
    ]
    graph = helper.make_graph(
        nodes,
        "perfect_ssd_resnet34",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, 1200, 1200])],
        [
            helper.make_tensor_value_info("bboxes", TensorProto.FLOAT, [batch, k, 4]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, [batch, k]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, k]),
        ],
        init,
    )
    return _save(graph, path)


def write_accuracy_log(path: str, entries: list[tuple[int, Any]]) -> str:
    """A LoadGen-style accuracy log from ``(qsl_idx, float32 rows)`` pairs."""
    with open(path, "w") as f:
        f.write("[\n")
        parts = []
        for seq, (idx, rows) in enumerate(entries):
            data = np.asarray(rows, np.float32).tobytes().hex().upper()
            parts.append(f'{{ "seq_id" : {seq}, "qsl_idx" : {idx}, "data" : "{data}" }}')
        f.write(",\n".join(parts))
        f.write("\n]\n")
    return path


def coco_rows(s: SynthCoco, pos: int, shift: float = 0.0, labels80: bool = False) -> Any:
    """Perfect response rows ``[idx, ymin, xmin, ymax, xmax, score, class]`` for image ``pos``."""
    img = s.images[pos]
    h, w = img["height"], img["width"]
    rows = []
    for d, ((x, y, bw, bh), c) in enumerate(zip(s.boxes[pos], s.cats[pos], strict=True)):
        x = x + shift * bw
        cls = COCO_IDS.index(c) + 1 if labels80 else c
        rows.append([pos, y / h, x / w, (y + bh) / h, (x + bw) / w, 0.9 - 0.01 * d, cls])
    return np.asarray(rows, np.float32).reshape(-1, 7)


def pickle_dump(path: str, obj: Any) -> None:
    """Write a pickle (Cognata dataset items)."""
    with open(path, "wb") as f:
        pickle.dump(obj, f)


# ---- Cognata ------------------------------------------------------------------------------

# A tiny SSD config with the structure of baseline_8MP_ss_scales_fm1_5x5_all.
SMALL_COGNATA_CONFIG = {
    "name": "tiny_test_config",
    "image_size": [64, 96],
    "feat_size": [[8, 12], [4, 6]],
    "steps": [8, 16],
    "scales": [16, 32, 48],
    "aspect_ratios": [[2], [2, 0.5]],
    "num_classes": 15,
}


def make_cognata(
    folder: str, n_items: int = 4, seed: int = 0, config: dict[str, Any] | None = None
) -> list[Any]:
    """``val_<i>.pkl`` items made from flat grey PNGs by od-bench's own pre-processing, with
    1..3 non-overlapping GT boxes each; returns the GT arrays (n, 7)."""
    from odbench.dataset_cognata import preprocess_image, write_item
    from PIL import Image

    cfg = config or SMALL_COGNATA_CONFIG
    h, w = cfg["image_size"]
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    gts = []
    cells = [(r, c) for r in range(0, h - 31, 32) for c in range(0, w - 31, 32)]
    for i in range(n_items):
        png = os.path.join(folder, f"frame_{i}.png")
        Image.fromarray(np.full((h, w, 3), GREY_BASE + GREY_STEP * i, np.uint8)).save(png)
        img = preprocess_image(png, (h, w))
        rows = []
        for cell in rng.permutation(len(cells))[: int(rng.integers(1, 4))]:
            r, c = cells[cell]
            x1, y1 = c + float(rng.integers(0, 6)), r + float(rng.integers(0, 6))
            bw, bh = float(rng.integers(12, 26)), float(rng.integers(12, 26))
            rows.append([x1, y1, x1 + bw, y1 + bh, int(rng.integers(1, 15)), 0, 0])
        gt = np.asarray(rows, np.float32)
        write_item(folder, i, img, gt)
        gts.append(gt)
    return gts


def make_cognata_model(
    path: str, gts: list[Any], config: dict[str, Any] | None = None, shift: float = 0.0
) -> str:
    """``image`` [1,3,H,W] -> ``ploc`` [1,4,B], ``plabel`` [1,15,B]: for each GT box one default
    box is encoded so that the reference decoding gives back exactly that box and label;
    every other default box says background."""
    from odbench.dataset_cognata import DefaultBoxes
    from onnx import TensorProto, helper

    cfg = config or SMALL_COGNATA_CONFIG
    h, w = cfg["image_size"]
    d = DefaultBoxes.from_config(cfg)
    nb, nc = len(d), cfg["num_classes"]
    ploc = np.zeros((len(gts), 4, nb), np.float32)
    plabel = np.zeros((len(gts), nc, nb), np.float32)
    plabel[:, 0, :] = 10.0  # background everywhere
    for p, gt in enumerate(gts):
        for k, (x1, y1, x2, y2, label, _, _) in enumerate(gt):
            j = 7 + 29 * k  # any default box can carry the answer
            dx, dy, dw, dh = d.dboxes[j]
            x1, x2 = x1 + shift * (x2 - x1), x2 + shift * (x2 - x1)
            cx, cy = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h
            bw, bh = (x2 - x1) / w, (y2 - y1) / h
            ploc[p, :, j] = [
                (cx - dx) / (d.scale_xy * dw),
                (cy - dy) / (d.scale_xy * dh),
                np.log(bw / dw) / d.scale_wh,
                np.log(bh / dh) / d.scale_wh,
            ]
            plabel[p, 0, j] = 0.0
            plabel[p, int(label), j] = 10.0
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    a_coef, b_coef = float(np.mean(mean / std)), float(np.mean(1 / std)) / 255.0
    knodes, kinit = _key_nodes("image", 1.0 / b_coef, a_coef / b_coef)
    nodes = knodes + [
        helper.make_node("Gather", ["t_loc", "key"], ["ploc"], axis=0),
        helper.make_node("Gather", ["t_label", "key"], ["plabel"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "perfect_ssd_resnet50",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, h, w])],
        [
            helper.make_tensor_value_info("ploc", TensorProto.FLOAT, [1, 4, nb]),
            helper.make_tensor_value_info("plabel", TensorProto.FLOAT, [1, nc, nb]),
        ],
        kinit + [_const("t_loc", ploc), _const("t_label", plabel)],
    )
    return _save(graph, path)


def make_resnet34_torchscript(path: str, s: SynthCoco, k: int = 8) -> str:
    """The perfect SSD-ResNet34 of :func:`make_resnet34_model` as a TorchScript module
    (``image`` NCHW float -> ``bboxes``, ``labels``, ``scores``), padding scores 0.01."""
    import torch

    label_of = {cid: i + 1 for i, cid in enumerate(COCO_IDS)}
    n = len(s.images)
    boxes = torch.zeros((n, k, 4))
    labels = torch.zeros((n, k), dtype=torch.int64)
    scores = torch.full((n, k), 0.01)
    for p, img in enumerate(s.images):
        h, w = img["height"], img["width"]
        for d, ((x, y, bw, bh), c) in enumerate(zip(s.boxes[p], s.cats[p], strict=True)):
            boxes[p, d] = torch.tensor([x / w, y / h, (x + bw) / w, (y + bh) / h])
            labels[p, d] = label_of[c]
            scores[p, d] = 0.95 - 0.01 * d
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    a_coef, b_coef = float(np.mean(mean / std)), float(np.mean(1 / std)) / 255.0

    class Perfect(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("boxes", boxes)
            self.register_buffer("labels", labels)
            self.register_buffer("scores", scores)
            self.a, self.b = 1.0 / b_coef, a_coef / b_coef
            self.base, self.step = GREY_BASE, GREY_STEP

        def forward(self, x: torch.Tensor):
            grey = x.mean(dim=(1, 2, 3)) * self.a + self.b
            key = torch.round((grey - self.base) / self.step).long()
            return self.boxes[key], self.labels[key], self.scores[key]

    # traced (torch.jit.script is deprecated); the graph is data-independent
    example = ((GREY_BASE / 255 - mean) / std).astype(np.float32)[None, :, None, None]
    traced = torch.jit.trace(Perfect(), torch.from_numpy(example).expand(1, 3, 8, 8))
    torch.jit.save(traced, path)
    return path
