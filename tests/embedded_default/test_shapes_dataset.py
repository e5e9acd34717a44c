"""The shapes-coco generator: deterministic bytes, valid COCO, the reference folder layout."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest

cv2 = pytest.importorskip("cv2")  # the onnx extra (opencv-python-headless)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_byte_identical_files(generator, tmp_path):
    generator.main(["--out", str(tmp_path / "a"), "--count", "12", "--seed", "5"])
    generator.main(["--out", str(tmp_path / "b"), "--count", "12", "--seed", "5"])
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(a) == 13  # 12 images + the annotation file
    assert a == b


def test_a_scene_depends_only_on_seed_and_index(generator, tmp_path):
    generator.main(["--out", str(tmp_path / "few"), "--count", "3", "--seed", "5"])
    generator.main(["--out", str(tmp_path / "more"), "--count", "6", "--seed", "5"])
    generator.main(["--out", str(tmp_path / "other"), "--count", "3", "--seed", "6"])
    few, more, other = (_digests(tmp_path / n) for n in ("few", "more", "other"))
    images = [k for k in few if k.endswith(".jpg")]
    assert all(few[k] == more[k] for k in images)
    assert all(few[k] != other[k] for k in images)


def test_val_split_is_valid_coco_in_the_reference_layout(generator, val_split):
    from pycocotools.coco import COCO

    ann_file = val_split / "annotations" / "instances_val2017.json"
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(ann_file))
    doc = coco.dataset
    assert set(doc) == {"info", "licenses", "images", "annotations", "categories"}
    assert len(doc["images"]) == 200
    assert [c["id"] for c in doc["categories"]] == list(generator.CATEGORY_IDS)
    assert sorted(coco.getCatIds()) == sorted(generator.CATEGORY_IDS)
    assert len({a["id"] for a in doc["annotations"]}) == len(doc["annotations"])
    for img in doc["images"]:
        pixels = cv2.imread(str(val_split / "val2017" / img["file_name"]))
        assert pixels is not None and pixels.shape == (img["height"], img["width"], 3)
        anns = coco.imgToAnns[img["id"]]
        assert 1 <= len(anns) <= 5
        for a in anns:
            x, y, w, h = a["bbox"]
            assert w > 1 and h > 1
            assert x >= 0 and y >= 0 and x + w <= img["width"] and y + h <= img["height"]
            assert 0 < a["area"] <= w * h
            assert a["iscrowd"] == 0 and a["category_id"] in generator.CATEGORY_IDS


def test_val_split_exercises_the_resize_path_and_every_class(val_split):
    doc = json.loads((val_split / "annotations" / "instances_val2017.json").read_text())
    sizes = {(i["width"], i["height"]) for i in doc["images"]}
    assert len(sizes) > 100 and (300, 300) not in sizes
    widths = [w for w, _ in sizes]
    assert min(widths) < 400 and max(widths) > 560
    per_class = {c["id"]: 0 for c in doc["categories"]}
    for a in doc["annotations"]:
        per_class[a["category_id"]] += 1
    assert min(per_class.values()) >= 50


def test_train_split_has_its_own_seed_and_ids(generator, tmp_path):
    generator.main(["--out", str(tmp_path / "t"), "--split", "train", "--count", "2"])
    doc = json.loads((tmp_path / "t" / "annotations" / "instances_val2017.json").read_text())
    assert [i["id"] for i in doc["images"]] == [1_000_001, 1_000_002]
    assert "seed 1" in doc["info"]["description"]


def test_existing_output_is_kept_unless_forced(generator, tmp_path):
    out = tmp_path / "d"
    generator.main(["--out", str(out), "--count", "2"])
    before = _digests(out)
    with pytest.raises((Exception, SystemExit), match="already exists"):
        generator.main(["--out", str(out), "--count", "3"])
    assert _digests(out) == before
    generator.main(["--out", str(out), "--count", "3", "--force"])
    assert len(_digests(out)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temp folder left behind


def test_failed_generation_leaves_nothing_behind(generator, tmp_path, monkeypatch):
    def broken(img):
        raise OSError("disk full")

    monkeypatch.setattr(generator, "encode_jpeg", broken)
    with pytest.raises(OSError, match="disk full"):
        generator.main(["--out", str(tmp_path / "d"), "--count", "2"])
    assert list(tmp_path.iterdir()) == []
