"""Train the SSD-style shapes detector and export it as an SSD-MobileNet-profile ONNX model.

Training data is the shapes-coco **train** split: by default its first ``--pool`` images are
rendered in memory by the dataset generator (the same pixels ``generate.py --split train``
writes), or any COCO-format folder is read with ``--data DIR``. Images go through the
MLPerf ssd-mobilenet transform (cv2 BGR -> float32 -> RGB -> resize 300x300 INTER_LINEAR ->
uint8), so the model sees at training time exactly what od-bench feeds it; random horizontal
and vertical flips are the only augmentation.

Deterministic: same arguments, same torch build and same ``--threads`` give the same file.

CLI: ``python train.py --out model.onnx [--steps N] [--seed S] [--data DIR] [--batch B]``
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model as ssd  # noqa: E402  (sibling module; this folder is not a package)

GENERATOR_PATH = Path(__file__).resolve().parents[1] / "get-dataset-shapes-coco" / "generate.py"
TRAIN_SEED = 1  # seed of the generator's train split (see generate.SPLITS)


def load_generator() -> ModuleType:
    """Import the dataset generator (a sibling ckx script, not a package)."""
    spec = importlib.util.spec_from_file_location("shapes_coco_generate", GENERATOR_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the dataset generator at {GENERATOR_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def preprocess(bgr: np.ndarray) -> np.ndarray:
    """The reference ssd-mobilenet transform: uint8 BGR -> uint8 RGB 300x300 (truncation)."""
    img = np.array(bgr, dtype=np.float32)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    img = cv2.resize(img, (ssd.IMAGE_SIZE, ssd.IMAGE_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.asarray(img, dtype=np.uint8)


@dataclass
class TrainingSet:
    """Preprocessed images ``[M, 300, 300, 3]`` and per-image boxes/labels (normalised)."""

    images: np.ndarray
    boxes: list[np.ndarray]  # each [G, 4] float32 (ymin, xmin, ymax, xmax) in [0, 1]
    labels: list[np.ndarray]  # each [G] int64 class index 0..C-1


def _normalised(bbox: list[float] | tuple[float, ...], width: int, height: int) -> list[float]:
    x, y, w, h = bbox
    return [y / height, x / width, (y + h) / height, (x + w) / width]


def render_training_set(gen: ModuleType, count: int, seed: int) -> TrainingSet:
    """Render the first ``count`` scenes of the train stream through a JPEG round trip."""
    images = np.empty((count, ssd.IMAGE_SIZE, ssd.IMAGE_SIZE, 3), np.uint8)
    boxes, labels = [], []
    class_of = {cid: k for k, cid in enumerate(gen.CATEGORY_IDS)}
    for i in range(count):
        img, objects = gen.render_scene(seed, i)
        jpeg = np.frombuffer(gen.encode_jpeg(img), np.uint8)
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)  # what cv2.imread gives for the file
        images[i] = preprocess(decoded)
        h, w = img.shape[:2]
        boxes.append(
            np.array([_normalised(o.bbox, w, h) for o in objects], np.float32).reshape(-1, 4)
        )
        labels.append(np.array([class_of[o.category_id] for o in objects], np.int64))
    return TrainingSet(images, boxes, labels)


def load_training_set(data: Path, category_ids: tuple[int, ...]) -> TrainingSet:
    """Read a COCO-format folder (``val2017/``, ``annotations/instances_val2017.json``)."""
    ann_file = data / "annotations" / "instances_val2017.json"
    doc = json.loads(ann_file.read_text(encoding="utf-8"))
    found = tuple(sorted(c["id"] for c in doc["categories"]))
    if found != tuple(sorted(category_ids)):
        raise ValueError(f"{ann_file}: categories {found} differ from the model's {category_ids}")
    class_of = {cid: k for k, cid in enumerate(category_ids)}
    per_image: dict[int, list[dict]] = {img["id"]: [] for img in doc["images"]}
    for ann in doc["annotations"]:
        per_image[ann["image_id"]].append(ann)
    images = np.empty((len(doc["images"]), ssd.IMAGE_SIZE, ssd.IMAGE_SIZE, 3), np.uint8)
    boxes, labels = [], []
    for i, img in enumerate(doc["images"]):
        bgr = cv2.imread(str(data / "val2017" / img["file_name"]))
        if bgr is None:
            raise FileNotFoundError(f"{data / 'val2017' / img['file_name']}: cannot read image")
        images[i] = preprocess(bgr)
        anns = per_image[img["id"]]
        w, h = img["width"], img["height"]
        boxes.append(
            np.array([_normalised(a["bbox"], w, h) for a in anns], np.float32).reshape(-1, 4)
        )
        labels.append(np.array([class_of[a["category_id"]] for a in anns], np.int64))
    return TrainingSet(images, boxes, labels)


def make_batch(data: TrainingSet, index: np.ndarray, rng: np.random.Generator):
    """Images ``[B,300,300,3]`` uint8 plus box/label lists, with random h/v flips."""
    imgs = data.images[index].copy()
    boxes, labels = [], []
    flips = rng.integers(0, 2, size=(len(index), 2))
    for k, i in enumerate(index):
        b = data.boxes[i].copy()
        if flips[k, 0]:  # horizontal: x -> 1 - x
            imgs[k] = imgs[k, :, ::-1]
            b[:, [1, 3]] = 1.0 - b[:, [3, 1]]
        if flips[k, 1]:  # vertical: y -> 1 - y
            imgs[k] = imgs[k, ::-1, :]
            b[:, [0, 2]] = 1.0 - b[:, [2, 0]]
        boxes.append(torch.from_numpy(b))
        labels.append(torch.from_numpy(data.labels[i]))
    return torch.from_numpy(imgs), boxes, labels


def match_targets(
    boxes: list[torch.Tensor],
    labels: list[torch.Tensor],
    anchors: torch.Tensor,
    corners: torch.Tensor,
    iou_threshold: float = 0.5,
):
    """SSD matching: per anchor, the best GT if IoU >= threshold; every GT keeps its best anchor.

    Returns ``loc_t [B, A, 4]`` offsets and ``cls_t [B, A]`` (0 = background, k+1 = class k).
    """
    n_anchors = anchors.shape[0]
    loc_t = torch.zeros(len(boxes), n_anchors, 4)
    cls_t = torch.zeros(len(boxes), n_anchors, dtype=torch.int64)
    for b, (gt, lab) in enumerate(zip(boxes, labels, strict=True)):
        if gt.shape[0] == 0:
            continue
        iou = ssd.box_iou(gt, corners)  # [G, A]
        best_iou, best_gt = iou.max(dim=0)
        best_anchor = iou.argmax(dim=1)
        best_gt[best_anchor] = torch.arange(gt.shape[0])
        best_iou[best_anchor] = 2.0
        cls = lab[best_gt] + 1
        cls[best_iou < iou_threshold] = 0
        cls_t[b] = cls
        loc_t[b] = ssd.encode_boxes(gt[best_gt], anchors)
    return loc_t, cls_t


def multibox_loss(
    loc: torch.Tensor,
    logits: torch.Tensor,
    loc_t: torch.Tensor,
    cls_t: torch.Tensor,
    neg_ratio: int = 3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth-L1 box loss on positives + cross-entropy with 3:1 hard negative mining."""
    pos = cls_t > 0
    num_pos = pos.sum().clamp(min=1).float()
    loc_loss = F.smooth_l1_loss(loc[pos], loc_t[pos], reduction="sum") / num_pos
    ce = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), cls_t.reshape(-1), reduction="none"
    ).view_as(cls_t)
    neg_ce = ce.detach().clone()
    neg_ce[pos] = 0.0
    rank = neg_ce.argsort(dim=1, descending=True, stable=True).argsort(dim=1, stable=True)
    num_neg = (pos.sum(dim=1, keepdim=True) * neg_ratio).clamp(min=8, max=cls_t.shape[1] - 1)
    neg = rank < num_neg
    conf_loss = ce[pos | neg].sum() / num_pos
    return loc_loss, conf_loss


def learning_rate(step: int, steps: int, base: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 2 % of ``base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(steps - warmup, 1)
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def train(
    data: TrainingSet,
    num_classes: int,
    steps: int,
    batch: int,
    seed: int,
    lr: float,
    log_every: int = 50,
) -> ssd.SSDShapes:
    """Train from scratch, deterministically for a given seed; returns the model in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ssd.SSDShapes(num_classes)
    anchors = ssd.make_anchors()
    corners = ssd.anchors_as_corners(anchors)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    order = rng.permutation(len(data.images))
    cursor = 0
    start = time.perf_counter()
    net.train()
    for step in range(steps):
        if cursor + batch > len(order):  # new epoch, new order
            order, cursor = rng.permutation(len(data.images)), 0
        index = order[cursor : cursor + min(batch, len(order))]
        cursor += len(index)
        images, boxes, labels = make_batch(data, index, rng)
        loc_t, cls_t = match_targets(boxes, labels, anchors, corners)
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, steps, lr, warmup=min(100, steps // 10 + 1))
        loc, logits = net(images)
        loc_loss, conf_loss = multibox_loss(loc, logits, loc_t, cls_t)
        opt.zero_grad(set_to_none=True)
        (loc_loss + conf_loss).backward()
        opt.step()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            print(
                f"step {step + 1}/{steps}  loc {loc_loss.item():.4f}  conf {conf_loss.item():.4f}"
                f"  {time.perf_counter() - start:.0f}s",
                flush=True,
            )
    return net.eval()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path, help="ONNX file to write")
    p.add_argument("--steps", type=int, default=500, help="optimiser steps (default 500)")
    p.add_argument("--seed", type=int, default=0, help="torch/numpy seed (default 0)")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="COCO-format training folder (default: render the train split in memory)",
    )
    p.add_argument(
        "--pool",
        type=int,
        default=2000,
        help="train-split images rendered in memory when --data is not given",
    )
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2, help="torch threads (part of determinism)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    args = _parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    cv2.setNumThreads(1)  # cv2's own threads would make timing noisy; results do not depend on it
    gen = load_generator()
    t0 = time.perf_counter()
    if args.data is None:
        data = render_training_set(gen, args.pool, TRAIN_SEED)
        source = f"generator train split (seed {TRAIN_SEED}), first {args.pool} images"
    else:
        data = load_training_set(args.data, gen.CATEGORY_IDS)
        source = str(args.data)
    print(
        f"training data: {len(data.images)} images from {source} ({time.perf_counter() - t0:.0f}s)",
        flush=True,
    )
    t1 = time.perf_counter()
    net = train(data, len(gen.CATEGORY_IDS), args.steps, args.batch, args.seed, args.lr)
    train_s = time.perf_counter() - t1
    blob = ssd.export_onnx(net, gen.CATEGORY_IDS)
    write_atomically(args.out, blob)
    print(
        f"wrote {args.out} ({len(blob)} bytes, sha256 {hashlib.sha256(blob).hexdigest()}) "
        f"after {args.steps} steps in {train_s:.0f}s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
