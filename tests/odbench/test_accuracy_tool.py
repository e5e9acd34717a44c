"""The COCO and Cognata accuracy tools on hand-made accuracy logs."""

from __future__ import annotations

import json

import pytest

np = pytest.importorskip("numpy")  # the onnx extra

import synth  # noqa: E402
from conftest import run_odbench  # noqa: E402
from odbench.accuracy_coco import evaluate_coco  # noqa: E402
from odbench.accuracy_cognata import evaluate_cognata  # noqa: E402


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("acc")
    return synth.make_coco(str(root / "coco"), n_images=5, seed=11, empty=(2,))


def _ann(s):
    return f"{s.root}/annotations/instances_val2017.json"


def _eval(s, tmp_path, entries, **kw):
    log = synth.write_accuracy_log(str(tmp_path / "log.json"), entries)
    return evaluate_coco(log, _ann(s), **kw)


def test_perfect_log_gives_full_map_and_the_reference_text(coco, tmp_path):
    acc = _eval(coco, tmp_path, [(i, synth.coco_rows(coco, i)) for i in range(5)], verbose=True)
    assert acc.mAP == pytest.approx(1.0)
    assert acc.text.rstrip().splitlines()[-5] == "mAP=100.000%"
    assert "found 5 images" in acc.text and "found 1 images with no results" in acc.text


def test_hex_is_upper_case_little_endian_float32(coco, tmp_path):
    log = synth.write_accuracy_log(str(tmp_path / "l.json"), [(0, [[1.0, 0, 0, 0, 0, 0, 0]])])
    data = json.loads(open(log).read())[0]["data"]
    assert data.startswith("0000803F") and data == data.upper()


def test_duplicates_keep_the_first_record(coco, tmp_path):
    entries = [(i, synth.coco_rows(coco, i)) for i in range(5)]
    entries.append((0, synth.coco_rows(coco, 0, shift=0.5)))  # a later, worse duplicate
    acc = _eval(coco, tmp_path, entries)
    assert acc.mAP == pytest.approx(1.0) and acc.n_dupes == 1


def test_shifted_boxes_give_three_tenths(coco, tmp_path):
    acc = _eval(coco, tmp_path, [(i, synth.coco_rows(coco, i, shift=0.2346)) for i in range(5)])
    assert acc.mAP == pytest.approx(0.3, abs=1e-6)


def test_an_image_without_detections_still_counts_its_ground_truth(coco, tmp_path):
    entries = [(i, synth.coco_rows(coco, i)) for i in range(5)]
    entries[0] = (0, np.zeros((0, 7), np.float32))  # image 0 has GT but nothing was found
    acc = _eval(coco, tmp_path, entries)
    assert acc.n_no_results == 2  # image 0 and the empty image 2
    assert 0.0 < acc.mAP < 1.0


def test_no_detection_at_all_is_map_zero_not_a_crash(coco, tmp_path):
    acc = _eval(coco, tmp_path, [(i, np.zeros((0, 7), np.float32)) for i in range(5)])
    assert acc.mAP == 0.0 and "mAP=0.000%" in acc.text


def test_inverse_label_map(coco, tmp_path):
    entries = [(i, synth.coco_rows(coco, i, labels80=True)) for i in range(5)]
    assert _eval(coco, tmp_path, entries, use_inv_map=True).mAP == pytest.approx(1.0)
    # without the map the 1..80 labels hit the wrong categories
    assert _eval(coco, tmp_path, entries).mAP < 0.5


def test_remove_48_empty_images_uses_json_order(coco, tmp_path):
    # QSL without the empty image 2: positions 0,1,3,4 become qsl 0,1,2,3
    entries = []
    for qsl, pos in enumerate([0, 1, 3, 4]):
        rows = synth.coco_rows(coco, pos)
        rows[:, 0] = qsl
        entries.append((qsl, rows))
    acc = _eval(coco, tmp_path, entries, remove_48_empty_images=True)
    assert acc.mAP == pytest.approx(1.0)


def test_cli_writes_output_file_and_detections(coco, tmp_path):
    log = synth.write_accuracy_log(
        str(tmp_path / "log.json"), [(i, synth.coco_rows(coco, i)) for i in range(5)]
    )
    proc = run_odbench(
        [
            "--mlperf-accuracy-file",
            log,
            "--coco-dir",
            coco.root,
            "--output-file",
            str(tmp_path / "accuracy.txt"),
            "--detections-file",
            str(tmp_path / "dets.json"),
        ],
        tmp_path,
        module="odbench.accuracy_coco",
    )
    assert proc.returncode == 0, proc.stderr
    assert "mAP=100.000%" in proc.stdout
    assert "mAP=100.000%" in (tmp_path / "accuracy.txt").read_text()
    dets = json.loads((tmp_path / "dets.json").read_text())
    assert {"image_id", "image_loc", "category_id", "bbox", "score"} == set(dets[0])


def test_cli_reports_a_missing_log_clearly(coco, tmp_path):
    proc = run_odbench(
        ["--mlperf-accuracy-file", str(tmp_path / "none.json"), "--coco-dir", coco.root],
        tmp_path,
        module="odbench.accuracy_coco",
    )
    assert proc.returncode == 3 and "not found" in proc.stderr


def _cognata_log(tmp_path, gts, drop=(), shift=0.0):
    entries = []
    for i, gt in enumerate(gts):
        if i in drop:
            entries.append((i, np.zeros((0, 6), np.float32)))
            continue
        rows = gt[:, [0, 1, 2, 3, 4, 5]].copy()
        w = rows[:, 2] - rows[:, 0]
        rows[:, 0] += shift * w
        rows[:, 2] += shift * w
        rows[:, 5] = 0.9
        entries.append((i, rows))
    return synth.write_accuracy_log(str(tmp_path / "cog.json"), entries)


def test_cognata_accuracy_perfect_shifted_and_dropped_images(tmp_path):
    gts = [
        np.array([[10, 10, 40, 30, 3, 0, 0], [50, 5, 90, 45, 4, 0, 0]], np.float32),
        np.array([[5, 5, 25, 25, 3, 0, 0]], np.float32),
        np.array([[30, 30, 60, 60, 7, 0, 0]], np.float32),
    ]
    loader = gts.__getitem__
    perfect = evaluate_cognata(_cognata_log(tmp_path, gts), "", gt_loader=loader)
    assert perfect.mAP == pytest.approx(1.0) and "mAP: 1.0" in perfect.text
    shifted = evaluate_cognata(_cognata_log(tmp_path, gts, shift=0.2346), "", gt_loader=loader)
    assert shifted.mAP == pytest.approx(0.3, abs=1e-6)
    # an image without detections is dropped with its GT (reference quirk): still 1.0
    dropped = evaluate_cognata(_cognata_log(tmp_path, gts, drop=(2,)), "", gt_loader=loader)
    assert dropped.mAP == pytest.approx(1.0) and dropped.n_images == 2
