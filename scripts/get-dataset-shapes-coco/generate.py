"""Generate the shapes-coco dataset: simple-shape scenes in COCO format, deterministically.

The layout is exactly what the MLPerf reference (``python/coco.py``) expects::

    <out>/val2017/000000000001.jpg ...
    <out>/annotations/instances_val2017.json

(the train split uses the same folder and file names, so any COCO reader takes either).

Every image is a function of ``(seed, index)`` only: image *i* is the same whatever ``--count``
is, and two runs with the same arguments give byte-identical files (same OpenCV/libjpeg build).
Boxes and areas come from the exact geometry of each shape (circle centre/radius, polygon
vertices), not from rasterised pixels, so the ground truth is as tight as it can be.

Categories use **non-contiguous** COCO-style ids on purpose (2, 3, 5, 7, 11), so a pipeline that
confuses a contiguous label with a category id fails visibly, as it would on real COCO.

CLI: ``python generate.py --out DIR [--split val|train] [--count N] [--seed S] [--force]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# (name, COCO category id). Non-contiguous ids on purpose, see the module docstring.
CATEGORIES: tuple[tuple[str, int], ...] = (
    ("circle", 2),
    ("square", 3),
    ("triangle", 5),
    ("star", 7),
    ("cross", 11),
)
CATEGORY_IDS: tuple[int, ...] = tuple(cid for _, cid in CATEGORIES)

# Default seed and size per split; image ids of the train split start far away from val so
# that the two can never be confused in a merged result file.
SPLITS: dict[str, dict[str, int]] = {
    "val": {"seed": 2017, "count": 200, "first_id": 1},
    "train": {"seed": 1, "count": 2000, "first_id": 1_000_001},
}

WIDTH_RANGE = (320, 640)
HEIGHT_RANGE = (240, 480)
MAX_ASPECT = 1.8  # width/height kept within [1/1.8, 1.8]: stretched shapes stay recognisable
OBJECTS_RANGE = (1, 5)
SIZE_FRACTION = (0.15, 0.5)  # outer diameter of a shape, as a fraction of min(width, height)
JPEG_QUALITY = 90
INFO_DATE = "2017-09-01 00:00:00"  # fixed: a timestamp would break byte-identical output


@dataclass(frozen=True)
class ShapeAnnotation:
    """One object: COCO category id, bbox ``[x, y, w, h]`` in pixels and its exact area."""

    category_id: int
    bbox: tuple[float, float, float, float]
    area: float


def _regular_polygon(n: int, radius: float, angle: float) -> np.ndarray:
    t = angle + 2 * math.pi * np.arange(n) / n
    return np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)


def _star(radius: float, angle: float) -> np.ndarray:
    outer = _regular_polygon(5, radius, angle)
    inner = _regular_polygon(5, radius * 0.45, angle + math.pi / 5)
    return np.stack([outer, inner], axis=1).reshape(-1, 2)


def _cross(radius: float, angle: float) -> np.ndarray:
    a, b = radius, radius * 0.34  # arm half-length and half-thickness
    pts = np.array(
        [
            (b, -a),
            (b, -b),
            (a, -b),
            (a, b),
            (b, b),
            (b, a),
            (-b, a),
            (-b, b),
            (-a, b),
            (-a, -b),
            (-b, -b),
            (-b, -a),
        ],
        dtype=np.float64,
    )
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]])


def _outline(name: str, radius: float, angle: float) -> np.ndarray | None:
    """Polygon vertices centred on (0, 0), or None for the circle."""
    if name == "circle":
        return None
    if name == "square":
        return _regular_polygon(4, radius, angle)
    if name == "triangle":
        return _regular_polygon(3, radius, angle)
    if name == "star":
        return _star(radius, angle)
    return _cross(radius, angle)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A linear gradient between two random colours, plus mild noise (BGR float32)."""
    c0 = rng.uniform(0, 255, 3).astype(np.float32)
    c1 = rng.uniform(0, 255, 3).astype(np.float32)
    theta = rng.uniform(0, 2 * math.pi)
    # The ramp is separable (x term + y term): two 1-D arrays, broadcast, no mgrid.
    ramp = (np.arange(width, dtype=np.float32) * np.float32(math.cos(theta) / width))[None, :] + (
        np.arange(height, dtype=np.float32) * np.float32(math.sin(theta) / height)
    )[:, None]
    ramp -= ramp.min()
    ramp /= max(float(ramp.max()), 1e-6)
    sigma = np.float32(rng.uniform(2.0, 10.0))
    img = c0 + (c1 - c0) * ramp[..., None]
    img += rng.standard_normal((height, width, 1), dtype=np.float32) * sigma
    return img


def _contrasting_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A colour far enough (L1 > 150) from the mean background under the shape."""
    colour = rng.uniform(0, 255, 3)
    for _ in range(20):
        if np.abs(colour - under).sum() > 150:
            break
        colour = rng.uniform(0, 255, 3)
    else:
        colour = np.where(under > 127, 0.0, 255.0)
    return colour


def _boxes_overlap(a: tuple[float, ...], b: tuple[float, ...], margin: float) -> bool:
    return not (
        a[0] + a[2] + margin <= b[0]
        or b[0] + b[2] + margin <= a[0]
        or a[1] + a[3] + margin <= b[1]
        or b[1] + b[3] + margin <= a[1]
    )


def _place_shape(
    rng: np.random.Generator, width: int, height: int, placed: list[ShapeAnnotation]
) -> tuple[int, str, float, float, float, np.ndarray | None] | None:
    """Pick class, size, rotation and a free spot; None when no free spot was found."""
    cls = int(rng.integers(len(CATEGORIES)))
    name = CATEGORIES[cls][0]
    radius = 0.5 * min(width, height) * rng.uniform(*SIZE_FRACTION)
    angle = rng.uniform(0, 2 * math.pi)
    outline = _outline(name, radius, angle)
    if outline is None:
        lo, hi = np.array([-radius, -radius]), np.array([radius, radius])
    else:
        lo, hi = outline.min(axis=0), outline.max(axis=0)
    for _ in range(30):
        cx = rng.uniform(-lo[0] + 1, width - hi[0] - 1)
        cy = rng.uniform(-lo[1] + 1, height - hi[1] - 1)
        box = (cx + lo[0], cy + lo[1], hi[0] - lo[0], hi[1] - lo[1])
        if not any(_boxes_overlap(box, p.bbox, 4.0) for p in placed):
            return cls, name, cx, cy, radius, outline
    return None


def render_scene(seed: int, index: int) -> tuple[np.ndarray, list[ShapeAnnotation]]:
    """Render scene ``index`` of the stream ``seed``: a BGR uint8 image and its objects.

    Depends only on ``(seed, index)``, so a scene can be re-made on its own (the trainer
    streams scenes this way without writing files).
    """
    rng = np.random.default_rng([seed, index])
    while True:
        width = int(rng.integers(WIDTH_RANGE[0], WIDTH_RANGE[1] + 1))
        height = int(rng.integers(HEIGHT_RANGE[0], HEIGHT_RANGE[1] + 1))
        if 1 / MAX_ASPECT <= width / height <= MAX_ASPECT:
            break
    img = _background(rng, height, width)
    shift = 4  # sub-pixel drawing precision: coordinates are in 1/16 pixel
    scale = 1 << shift
    objects: list[ShapeAnnotation] = []
    for _ in range(int(rng.integers(OBJECTS_RANGE[0], OBJECTS_RANGE[1] + 1))):
        spot = _place_shape(rng, width, height, objects)
        if spot is None:
            continue
        cls, name, cx, cy, radius, outline = spot
        x0, y0 = int(max(cx - radius, 0)), int(max(cy - radius, 0))
        under = img[y0 : int(cy + radius) + 1, x0 : int(cx + radius) + 1].reshape(-1, 3).mean(0)
        colour = tuple(float(c) for c in _contrasting_colour(rng, under))
        if outline is None:
            centre = (round(cx * scale), round(cy * scale))
            cv2.circle(img, centre, round(radius * scale), colour, -1, cv2.LINE_AA, shift)
            bbox = (cx - radius, cy - radius, 2 * radius, 2 * radius)
            area = math.pi * radius * radius
        else:
            pts = outline + np.array([cx, cy])
            fixed = np.round(pts * scale).astype(np.int32)
            cv2.fillPoly(img, [fixed], colour, cv2.LINE_AA, shift)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            bbox = (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
            area = float(cv2.contourArea(pts.astype(np.float32)))
        rounded = tuple(round(v, 2) for v in bbox)
        objects.append(ShapeAnnotation(CATEGORIES[cls][1], rounded, round(area, 2)))
    return np.clip(img, 0, 255).astype(np.uint8), objects


def encode_jpeg(img: np.ndarray) -> bytes:
    """JPEG bytes of a BGR uint8 image, as written to disk (quality fixed for determinism)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("cv2.imencode failed to encode a JPEG")
    return buf.tobytes()


def _coco_document(split: str, seed: int, images: list[dict], annotations: list[dict]) -> dict:
    return {
        "info": {
            "description": f"shapes-coco synthetic dataset, split {split}, seed {seed} (ckx)",
            "version": "1.0",
            "year": 2017,
            "contributor": "ckx get-dataset-shapes-coco",
            "date_created": INFO_DATE,
        },
        "licenses": [
            {
                "id": 1,
                "name": "CC0-1.0",
                "url": "https://creativecommons.org/publicdomain/zero/1.0/",
            }
        ],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"supercategory": "shape", "id": cid, "name": name} for name, cid in CATEGORIES
        ],
    }


def write_dataset(out: Path, split: str, count: int, seed: int, replace: bool = False) -> dict:
    """Write ``count`` scenes of ``split`` under ``out`` atomically; return the COCO document.

    Everything is written in a temporary sibling folder which is renamed to ``out`` at the
    end, so ``out`` either does not exist, or is the old complete dataset, or the new one.
    """
    first_id = SPLITS[split]["first_id"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / "val2017").mkdir()
        (tmp / "annotations").mkdir()
        images, annotations = [], []
        for i in range(count):
            image_id = first_id + i
            img, objects = render_scene(seed, i)
            file_name = f"{image_id:012d}.jpg"
            (tmp / "val2017" / file_name).write_bytes(encode_jpeg(img))
            height, width = img.shape[:2]
            images.append(
                {
                    "license": 1,
                    "file_name": file_name,
                    "height": height,
                    "width": width,
                    "id": image_id,
                }
            )
            for obj in objects:
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": obj.category_id,
                        "bbox": list(obj.bbox),
                        "area": obj.area,
                        "iscrowd": 0,
                    }
                )
        doc = _coco_document(split, seed, images, annotations)
        text = json.dumps(doc, indent=1) + "\n"
        (tmp / "annotations" / "instances_val2017.json").write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; the dataset is meant to be shared
        if replace and out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "d")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return doc


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path, help="dataset root to create")
    p.add_argument("--split", choices=sorted(SPLITS), default="val")
    p.add_argument("--count", type=int, default=None, help="images (default: 200 val, 2000 train)")
    p.add_argument("--seed", type=int, default=None, help="default: 2017 val, 1 train")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    return p.parse_args(argv)


def _usage_error(message: str, hint: str) -> Exception:
    """ckx's UsageError when ckx is importable (run by the engine), else a SystemExit."""
    try:
        from ckx.core.errors import UsageError
    except ImportError:  # run by hand outside the ckx environment
        return SystemExit(f"error: {message}\nhint: {hint}")
    return UsageError(message, hint=hint)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    args = _parse_args(argv)
    count = SPLITS[args.split]["count"] if args.count is None else args.count
    seed = SPLITS[args.split]["seed"] if args.seed is None else args.seed
    if count < 1:
        raise _usage_error(f"--count must be at least 1, got {count}", hint="e.g. --count 200")
    out = args.out.resolve()
    if out.exists() and not args.force:
        raise _usage_error(
            f"dataset folder already exists: {out}",
            hint="pass --force to replace it, or choose another --out",
        )
    doc = write_dataset(out, args.split, count, seed, replace=args.force)
    print(
        f"wrote {len(doc['images'])} images, {len(doc['annotations'])} objects "
        f"(split {args.split}, seed {seed}) to {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
