"""MLPerf Automotive 2D detection: SSD-ResNet50 on Cognata (reference §6).

* :func:`preprocess_image` — PIL RGB -> resize to (2160, 3840) -> /255 -> ImageNet mean/std ->
  ``(1, 3, H, W)`` float32 (``SSDTransformer(val=True)``);
* :func:`filter_annotations` — the ground-truth filters and label map of ``cognata_raw.py``;
* :func:`write_item` — a ``val_<i>.pkl`` as ``preprocess.py`` writes it;
* :class:`CognataDataset` — the runtime QSL over ``val_<i>.pkl``;
* :class:`DefaultBoxes` / :class:`SSDDecoder` — the SSD default boxes and
  ``Encoder.decode_batch(ploc, plabel, 0.5, 500)`` in numpy.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import NotFoundError, UsageError

# cognata_labels.label_map: Cognata object class -> contiguous label (0 = background)
LABEL_MAP = {
    0: 0,
    28: 1,
    29: 2,
    33: 3,
    8: 4,
    36: 5,
    13: 6,
    11: 7,
    35: 8,
    14: 9,
    9: 10,
    48: 11,
    10: 12,
    46: 13,
    44: 14,
}
LABEL_NAMES = [
    "background",
    "Traffic_light",
    "Props",
    "TrafficSign",
    "Car",
    "Van",
    "Rider",
    "Motorcycle",
    "Bicycle",
    "Pedestrian",
    "Truck",
    "PersonalMobility",
    "Bus",
    "Trailer",
    "Animal",
]
IGNORE_CLASSES = (2, 25, 31)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# config/baseline_8MP_ss_scales_fm1_5x5_all.py (the parts the decoder needs)
BASELINE_8MP = {
    "name": "baseline_8MP_ss_scales_fm1_5x5_all",
    "image_size": [2160, 3840],
    "feat_size": [[270, 480], [135, 240], [68, 120], [34, 60], [17, 30], [9, 15], [5, 8]],
    "steps": [8, 16, 32, 64, 128, 256, 480],
    "scales": [31, 67, 148, 229, 310, 392, 473, 760],
    "aspect_ratios": [
        [2, 0.5],
        [2, 0.5, 3, 1 / 3],
        [2, 0.5, 3, 1 / 3],
        [2, 0.5, 3, 1 / 3],
        [2, 0.5],
        [2, 0.5],
        [2, 0.5],
    ],
    "num_classes": 15,
    "scale_xy": 0.1,
    "scale_wh": 0.2,
    "nms_threshold": 0.5,
    "max_output": 500,
}
BUILTIN_CONFIGS = {BASELINE_8MP["name"]: BASELINE_8MP}


def load_config(name_or_path: str | None) -> dict[str, Any]:
    """A built-in config by name (default: the baseline 8 MP one) or a JSON file."""
    if not name_or_path:
        return dict(BASELINE_8MP)
    if name_or_path in BUILTIN_CONFIGS:
        return dict(BUILTIN_CONFIGS[name_or_path])
    if os.path.isfile(name_or_path):
        with open(name_or_path, encoding="utf-8") as f:
            cfg = dict(BASELINE_8MP, **json.load(f))
        missing = [
            k
            for k in ("image_size", "feat_size", "steps", "scales", "aspect_ratios")
            if k not in cfg
        ]
        if missing:  # pragma: no cover - BASELINE_8MP provides every key
            raise UsageError(f"config '{name_or_path}' lacks {missing}")
        return cfg
    raise NotFoundError(
        f"unknown Cognata config '{name_or_path}'",
        hint="use " + ", ".join(BUILTIN_CONFIGS) + " or a .json file",
    )


# ---- ground truth and pre-processing ------------------------------------------------------


def filter_annotations(rows: Sequence[dict[str, Any]]) -> Any:
    """Ground-truth boxes ``[x1, y1, x2, y2, label, 0, 0]`` kept by ``cognata_raw.py``.

    Each row has ``bounding_box_2D`` (x1, y1, x2, y2), ``object_class`` and
    ``center_distance``; boxes with area < 50, height or width < 8, distance > 300 or an
    ignored class are dropped, and classes go through :data:`LABEL_MAP`.
    """
    import numpy as np

    out = []
    for row in rows:
        x1, y1, x2, y2 = (float(v) for v in row["bounding_box_2D"])
        cls = int(row["object_class"])
        w, h = x2 - x1, y2 - y1
        if w * h < 50 or cls in IGNORE_CLASSES or h < 8 or w < 8:
            continue
        if float(row.get("center_distance", 0)) > 300:
            continue
        if cls not in LABEL_MAP:
            continue
        out.append([x1, y1, x2, y2, LABEL_MAP[cls], 0, 0])
    return np.asarray(out, dtype=np.float32).reshape(-1, 7)


def preprocess_image(path: str, size: Sequence[int] = (2160, 3840)) -> Any:
    """PIL RGB -> resize to ``size`` (H, W) if needed -> ToTensor -> Normalize -> (1,3,H,W)."""
    import numpy as np

    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover
        from .errors import missing_module

        raise missing_module("PIL", exc) from exc
    with Image.open(path) as im:
        im = im.convert("RGB")
        h, w = int(size[0]), int(size[1])
        if im.size != (w, h):
            im = im.resize((w, h), Image.BILINEAR)
        arr = np.asarray(im, dtype=np.float32) / 255.0
    arr = (arr - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1)[None], dtype=np.float32)


def write_item(folder: str, index: int, img: Any, gt_boxes: Any) -> str:
    """Write ``<folder>/val_<index>.pkl`` = ``{"img", "gt_boxes"}`` atomically."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"val_{index}.pkl")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump({"img": img, "gt_boxes": gt_boxes}, f)
    os.replace(tmp, path)
    return path


def load_item(folder: str, index: int) -> dict[str, Any]:
    """The ``val_<index>.pkl`` dict."""
    path = os.path.join(folder, f"val_{index}.pkl")
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError as exc:
        raise NotFoundError(
            f"Cognata item '{path}' not found",
            hint="--dataset-path must hold the val_<i>.pkl files",
        ) from exc


def count_items(folder: str) -> int:
    """Number of consecutive ``val_0.pkl, val_1.pkl, ...`` in ``folder``."""
    n = 0
    while os.path.exists(os.path.join(folder, f"val_{n}.pkl")):
        n += 1
    return n


class CognataDataset:
    """The runtime QSL over pre-processed ``val_<i>.pkl`` items (``cognata.py``)."""

    def __init__(self, data_root: str, count: int | None = None) -> None:
        if not os.path.isdir(data_root):
            raise NotFoundError(
                f"Cognata dataset folder '{data_root}' not found", hint="check --dataset-path"
            )
        n = count_items(data_root)
        if n == 0:
            raise NotFoundError(
                f"no val_0.pkl in '{data_root}'",
                hint="--dataset-path must hold the pre-processed val_<i>.pkl",
            )
        self.data_root = data_root
        self.length = min(n, count) if count else n
        self.preloaded: dict[int, Any] = {}
        self.last_loaded = time.time()
        self.label_list = [None] * self.length

    def get_item_count(self) -> int:
        """Number of items in the QSL."""
        return self.length

    def load_query_samples(self, sample_list: list[int]) -> None:
        """LoadGen callback: load the images of ``sample_list`` (accumulates, as the reference)."""
        for i in sample_list:
            if i not in self.preloaded:
                self.preloaded[i] = load_item(self.data_root, i)["img"]
        self.last_loaded = time.time()

    def unload_query_samples(self, sample_list: list[int] | None) -> None:
        """LoadGen callback: drop ``sample_list`` (all when empty)."""
        if sample_list:
            for i in sample_list:
                self.preloaded.pop(i, None)
        else:
            self.preloaded = {}

    def get_samples(self, id_list: list[int]) -> tuple[Any, list[Any]]:
        """A batch ``(N, 3, H, W)``: the ``(1, 3, H, W)`` items concatenated."""
        import numpy as np

        imgs = [np.asarray(self.preloaded[i], dtype=np.float32) for i in id_list]
        return np.concatenate(imgs, axis=0), [None] * len(id_list)


# ---- default boxes and decoding -----------------------------------------------------------


@dataclass
class DefaultBoxes:
    """SSD default boxes (cx, cy, w, h) normalised to [0, 1] for a non-square image."""

    dboxes: Any  # (B, 4) float32 xywh
    scale_xy: float
    scale_wh: float

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> DefaultBoxes:
        """Build the boxes: per level, sizes then rows then columns (the head's layout)."""
        import numpy as np

        fig_h, fig_w = cfg["image_size"]
        scales, steps = cfg["scales"], cfg["steps"]
        levels = []
        for idx, (fh, fw) in enumerate(cfg["feat_size"]):
            sk1, sk2 = scales[idx], scales[idx + 1]
            sk3 = math.sqrt(sk1 * sk2)
            sizes = [(sk1 / fig_w, sk1 / fig_h), (sk3 / fig_w, sk3 / fig_h)]
            for alpha in cfg["aspect_ratios"][idx]:
                sizes.append((sk1 * math.sqrt(alpha) / fig_w, sk1 / (math.sqrt(alpha) * fig_h)))
            jj, ii = np.meshgrid(np.arange(fw), np.arange(fh))
            cx = ((jj.ravel() + 0.5) * steps[idx] / fig_w).astype(np.float64)
            cy = ((ii.ravel() + 0.5) * steps[idx] / fig_h).astype(np.float64)
            for w, h in sizes:
                levels.append(np.stack([cx, cy, np.full_like(cx, w), np.full_like(cx, h)], 1))
        boxes = np.clip(np.concatenate(levels, 0), 0.0, 1.0).astype(np.float32)
        return cls(boxes, float(cfg.get("scale_xy", 0.1)), float(cfg.get("scale_wh", 0.2)))

    def __len__(self) -> int:
        return len(self.dboxes)


def box_iou(a: Any, b: Any) -> Any:
    """IoU of every box of ``a`` (n,4 xyxy) with ``b`` (4,)."""
    import numpy as np

    lt = np.maximum(a[:, :2], b[:2])
    rb = np.minimum(a[:, 2:], b[2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[:, 0] * wh[:, 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area_a + area_b - inter)


class SSDDecoder:
    """``Encoder.decode_batch(ploc, plabel, nms_threshold, max_output)`` for one image."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.dboxes = DefaultBoxes.from_config(cfg)
        self.criteria = float(cfg.get("nms_threshold", 0.5))
        self.max_output = int(cfg.get("max_output", 500))
        self.max_num = 200
        self.fig_h, self.fig_w = cfg["image_size"]

    def scale_back(self, ploc: Any, plabel: Any) -> tuple[Any, Any]:
        """``ploc [4,B]``, ``plabel [C,B]`` -> boxes ``[B,4]`` xyxy and softmax scores ``[B,C]``."""
        import numpy as np

        d = self.dboxes
        if ploc.shape[-1] != len(d):
            raise UsageError(
                f"the model gives {ploc.shape[-1]} boxes, the config "
                f"'{self.cfg.get('name')}' has {len(d)} default boxes",
                hint="check --config",
            )
        loc = np.asarray(ploc, np.float32).T
        xy = d.scale_xy * loc[:, :2] * d.dboxes[:, 2:] + d.dboxes[:, :2]
        wh = np.exp(d.scale_wh * loc[:, 2:]) * d.dboxes[:, 2:]
        boxes = np.concatenate([xy - 0.5 * wh, xy + 0.5 * wh], axis=1)
        logits = np.asarray(plabel, np.float32).T
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return boxes, e / e.sum(axis=1, keepdims=True)

    def decode(self, ploc: Any, plabel: Any) -> tuple[Any, Any, Any]:
        """Normalised boxes, labels and scores after per-class NMS (ascending score order)."""
        import numpy as np

        boxes, scores = self.scale_back(ploc, plabel)
        out_b, out_l, out_s = [], [], []
        for c in range(1, scores.shape[1]):
            sc = scores[:, c]
            mask = sc > 0.05
            if not mask.any():
                continue
            cand_b, cand_s = boxes[mask], sc[mask]
            order = np.argsort(cand_s, kind="stable")[-self.max_num :]
            keep = []
            while order.size > 0:
                top = order[-1]
                keep.append(top)
                iou = box_iou(cand_b[order], cand_b[top])
                order = order[iou < self.criteria]
            out_b.append(cand_b[keep])
            out_s.append(cand_s[keep])
            out_l.extend([c] * len(keep))
        if not out_b:
            return (
                np.zeros((0, 4), np.float32),
                np.zeros((0,), np.int64),
                np.zeros((0,), np.float32),
            )
        b, s = np.concatenate(out_b), np.concatenate(out_s)
        lab = np.asarray(out_l, np.int64)
        top = np.argsort(s, kind="stable")[-self.max_output :]
        return b[top], lab[top], s[top]

    def decode_pixels(self, ploc: Any, plabel: Any) -> Any:
        """Response rows ``[x1, y1, x2, y2, label, score]`` in pixels, float32 ``(n, 6)``."""
        import numpy as np

        b, lab, s = self.decode(ploc, plabel)
        out = np.empty((len(s), 6), np.float32)
        out[:, 0] = b[:, 0] * self.fig_w
        out[:, 1] = b[:, 1] * self.fig_h
        out[:, 2] = b[:, 2] * self.fig_w
        out[:, 3] = b[:, 3] * self.fig_h
        out[:, 4] = lab
        out[:, 5] = s
        return out
