"""dataset-coco-2017-val: the ``_subset.N`` view (first N images in annotation order).

Runs after the engine placed (or registered, with ``--path``) the full set and put its paths
in env. A subset is a folder in the package's working folder with the same layout: the first
N entries of ``images`` in ``instances_val2017.json`` (the order the MLPerf reference reads
them), hardlinked (symlinked across filesystems) from the full set, and the annotation file
filtered to those images. Nothing of the full set is copied.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def preprocess(i):
    env = i["env"]
    count = str(env.get("CKX_DATASET_SUBSET_COUNT") or "").strip()
    if not count:
        images = Path(env["CKX_DATASET_PATH"]) / "val2017"
        if images.is_dir():  # a --path copy may hold fewer than the official 5000
            env["CKX_DATASET_COUNT"] = str(
                sum(1 for p in images.iterdir() if p.suffix.lower() == ".jpg")
            )
        return {"return": 0}
    if not count.isdigit() or int(count) < 1:
        return {
            "return": 1,
            "error": f"_subset.{count}: the subset size must be a positive integer",
        }
    root = make_subset(
        Path(env["CKX_DATASET_PATH"]), Path(i.run_path) / f"subset-{count}", int(count)
    )
    env["CKX_DATASET_PATH"] = str(root)
    env["CKX_DATASET_IMAGES_PATH"] = str(root / "val2017")
    env["CKX_DATASET_ANNOTATIONS"] = str(root / "annotations" / "instances_val2017.json")
    env["CKX_DATASET_COUNT"] = str(len(os.listdir(root / "val2017")))
    env["CKX_DATASET_NAME"] = f"coco-2017-val-subset-{count}"
    return {"return": 0}


def make_subset(full: Path, dest: Path, count: int) -> Path:
    """Write the subset of ``full`` to ``dest`` (atomically: temp folder, then rename)."""
    ann = json.loads((full / "annotations" / "instances_val2017.json").read_text(encoding="utf-8"))
    images = ann["images"][:count]
    keep = {img["id"] for img in images}
    subset = {
        **ann,
        "images": images,
        "annotations": [a for a in ann["annotations"] if a["image_id"] in keep],
    }
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    (tmp / "val2017").mkdir(parents=True)
    (tmp / "annotations").mkdir()
    for img in images:
        _link(full / "val2017" / img["file_name"], tmp / "val2017" / img["file_name"])
    (tmp / "annotations" / "instances_val2017.json").write_text(
        json.dumps(subset), encoding="utf-8"
    )
    os.replace(tmp, dest)
    return dest


def _link(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise FileNotFoundError(f"{src} is listed in the annotations but missing")
    try:
        os.link(src, dst)
    except OSError:  # another filesystem (e.g. a --path on a network share)
        os.symlink(src.resolve(), dst)
