"""Unit tests: profiles, user.conf, summary parsing, results.json, post-processing, the SUT,
pre-processing, backends and the Cognata decoder."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy")  # the onnx extra

import synth  # noqa: E402
from conftest import odbench_env  # noqa: E402
from odbench import postprocess, sut, userconf  # noqa: E402
from odbench.main import add_results, effective_batchsize, resolve_args  # noqa: E402
from odbench.profiles import apply_profile  # noqa: E402
from odbench.summary import build_odbench_summary, parse_detail, parse_summary_text  # noqa: E402

# ---- profiles -----------------------------------------------------------------------------


def test_profile_fills_only_what_the_cli_left_unset():
    cfg = resolve_args(
        [
            "--profile",
            "ssd-resnet34-onnxruntime",
            "--model",
            "m",
            "--dataset-path",
            "d",
            "--max-batchsize",
            "4",
            "--threads",
            "3",
        ]
    )
    a = cfg.args
    assert (a.dataset, a.data_format, a.model_name) == ("coco-1200-onnx", "NCHW", "ssd-resnet34")
    assert a.max_batchsize == 4 and a.threads == 3  # the CLI wins
    assert cfg.outputs == ["bboxes", "labels", "scores"] and cfg.inputs == ["image"]
    ns = apply_profile(argparse.Namespace(backend=None, dataset="coco-300"), "ssd-resnet50-pytorch")
    assert ns.backend == "pytorch-native" and ns.dataset == "coco-300" and ns.model_name == "ssd"


def test_the_program_runs_the_harness_profiles_and_holds_no_table_of_its_own():
    """One profile table (the harness's): the program's meta names, per model and backend,
    which of its profiles runs; customize.py (the bridge) and the model packages name none."""
    import yaml
    from conftest import ODBENCH
    from odbench.profiles import SUPPORTED_PROFILES

    meta = yaml.safe_load((ODBENCH / "meta.yaml").read_text())
    variations = meta["variations"]
    chosen = {k: v["env"]["CKX_ODBENCH_PROFILE"] for k, v in variations.items() if "," in k}
    assert chosen and set(chosen.values()) <= set(SUPPORTED_PROFILES) - {"defaults"}
    models = [k for k, v in variations.items() if v.get("group") == "model"]
    assert all(f"{m},onnxruntime" in chosen for m in models)
    bridge = (ODBENCH / "customize.py").read_text()
    assert not [name for name in SUPPORTED_PROFILES if f'"{name}"' in bridge]
    packages = ODBENCH.parents[1] / "packages"
    assert not [f for f in packages.glob("*/meta.yaml") if "CKX_ML_MODEL_PROFILE" in f.read_text()]


def test_unknown_scenario_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        resolve_args(["--model", "m", "--dataset-path", "d", "--scenario", "ConstantStream"])
    assert exc.value.code == 2 and "valid scanarios" in capsys.readouterr().err


def test_fixed_batch_limits_max_batchsize():
    assert effective_batchsize(32, 1) == 1
    assert effective_batchsize(8, None) == 8
    assert effective_batchsize(4, 16) == 4


# ---- user.conf ----------------------------------------------------------------------------


def test_user_conf_has_reference_lines_and_per_model_values():
    text = userconf.generate_user_conf(
        "ssd-resnet34",
        "Server",
        target_qps=12,
        quick=userconf.QuickRun(query_count=50, min_duration_ms=0),
    )
    lines = text.splitlines()
    for line in userconf.REFERENCE_USER_CONF:
        assert line in lines
    assert "ssd-resnet34.*.performance_sample_count_override = 64" in lines
    assert "ssd-resnet34.Server.target_latency = 100" in lines
    assert "ssd-resnet34.Server.target_qps = 12.0" in lines
    assert "ssd-resnet34.Server.min_query_count = 50" in lines
    assert not any("max_query_count" in x for x in lines)  # Server: see userconf.py
    ss = userconf.generate_user_conf("ssd", "SingleStream", target_latency_ms=50)
    assert "ssd.SingleStream.target_latency_percentile = 99.9" in ss
    assert "ssd.SingleStream.min_query_count = 6636" in ss
    assert "ssd.SingleStream.target_latency = 50" in ss
    with pytest.raises(ValueError):
        userconf.generate_user_conf("ssd", "ConstantStream")


_READ_SETTINGS = """
import sys, mlperf_loadgen as lg
s = lg.TestSettings()
s.FromConfig(sys.argv[1], sys.argv[2], sys.argv[3])
print(s.performance_sample_count_override, s.server_target_latency_ns,
      s.single_stream_target_latency_percentile, s.min_query_count, s.max_query_count,
      s.min_duration_ms, s.qsl_rng_seed)
"""


@pytest.mark.parametrize(
    "model,scenario,expected",
    [
        ("ssd-resnet34", "Server", ["64", "100000000"]),
        ("ssd", "SingleStream", ["128", None, "0.999", "6636"]),
        ("ssd-mobilenet", "Offline", ["256"]),
    ],
)
def test_loadgen_honours_the_generated_user_conf(tmp_path, model, scenario, expected):
    # one FromConfig per process: LoadGen loads its embedded mlperf.conf only on the first
    path = userconf.write_user_conf(
        str(tmp_path / "user.conf"), userconf.generate_user_conf(model, scenario)
    )
    out = subprocess.run(
        [sys.executable, "-c", _READ_SETTINGS, path, model, scenario],
        capture_output=True,
        text=True,
        env=odbench_env(),
        check=True,
    )
    got = out.stdout.split()
    for i, want in enumerate(expected):
        if want is not None:
            assert float(got[i]) == pytest.approx(float(want)), got
    assert got[-1] != "0"  # the embedded mlperf.conf (seeds) was loaded too


# ---- summary parsing ----------------------------------------------------------------------

SUMMARY = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : SingleStream
Mode     : PerformanceOnly
90.0th percentile latency (ns) : 704046
Result is : INVALID
  Min duration satisfied : NO
  Min queries satisfied : Yes
  Early stopping satisfied: NO
Recommendations:
 * Decrease the expected latency so the loadgen pre-generates more queries.
Early Stopping Result:
 * Only processed 6 queries.

================================================
Additional Stats
================================================
QPS w/ loadgen overhead         : 2934.22
QPS w/o loadgen overhead        : 3000.87

Min latency (ns)                : 174979
Mean latency (ns)               : 300000
50.00 percentile latency (ns)   : 310000
90.00 percentile latency (ns)   : 704046
95.00 percentile latency (ns)   : 704046
97.00 percentile latency (ns)   : 704046
99.00 percentile latency (ns)   : 704046
99.90 percentile latency (ns)   : 704046

================================================
Test Parameters Used
================================================
samples_per_query : 1
min_duration (ms): 1000

No warnings encountered during test.

1 ERROR encountered. See detailed log.
"""


def test_parse_summary_fields_percentiles_and_verdict():
    s = parse_summary_text(SUMMARY)
    assert s["result_valid"] is False
    assert s["fields"]["Scenario"] == "SingleStream"
    assert s["fields"]["QPS w/ loadgen overhead"] == pytest.approx(2934.22)
    assert s["fields"]["min_duration (ms)"] == 1000
    assert s["percentiles_ns"]["99.90"] == 704046
    assert s["constraints"] == {
        "Min duration satisfied": False,
        "Min queries satisfied": True,
        "Early stopping satisfied": False,
    }
    assert s["recommendations"][0].startswith("Decrease the expected latency")
    assert s["warnings"] is False and s["errors"] is True
    rec = build_odbench_summary(
        model="ssd-mobilenet",
        profile=None,
        backend="onnxruntime",
        scenario="SingleStream",
        mode="PerformanceOnly",
        output_dir="o",
        count=6,
        mAP=None,
        summary=s,
    )
    assert rec["latency_ns"] == {
        "p50": 310000,
        "p90": 704046,
        "p95": 704046,
        "p97": 704046,
        "p99": 704046,
        "p99.9": 704046,
    }
    assert rec["samples_per_second"] == pytest.approx(2934.22)
    assert rec["metric_latency_ns"] == 704046 and rec["mean_latency_ns"] == 300000
    assert rec["result_valid"] is False and rec["loadgen_errors"] is True


def test_parse_detail_collects_errors(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text(
        ':::MLLOG {"key": "effective_scenario", "value": "Offline", "metadata": {}}\n'
        ':::MLLOG {"key": "error_runtime", "value": "boom", "metadata": {"is_error": true}}\n'
        "garbage line\n"
    )
    d = parse_detail(str(p))
    assert d["effective_scenario"] == "Offline"
    assert d["_errors"] == [{"key": "error_runtime", "value": "boom"}]


# ---- results.json -------------------------------------------------------------------------


def test_add_results_has_the_reference_format(capsys):
    final: dict = {}
    rd = {"good": 3, "total": 4, "mAP": 0.25}
    add_results(final, "TestScenario.Offline", rd, [0.1, 0.2, 0.3, 0.4], 2.0, True)
    r = final["TestScenario.Offline"]
    assert set(r) == {
        "took",
        "mean",
        "percentiles",
        "qps",
        "count",
        "good_items",
        "total_items",
        "accuracy",
        "mAP",
    }
    assert r["qps"] == 2.0 and r["count"] == 4 and r["mean"] == pytest.approx(0.25)
    assert r["accuracy"] == 75.0 and r["mAP"] == 25.0
    assert list(r["percentiles"]) == ["50.0", "80.0", "90.0", "95.0", "99.0", "99.9"]
    json.dumps(final)  # serialisable
    out = capsys.readouterr().out
    assert out.startswith(
        "TestScenario.Offline qps=2.00, mean=0.2500, time=2.000, "
        "acc=75.000%, mAP=25.000%, queries=4, tiles=50.0:0.2500"
    )


# ---- post-processing ----------------------------------------------------------------------


def test_coco_postprocessor_takes_num_detections_rows():
    pp = postprocess.PostProcessCoco()
    boxes = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) / 100
    res = [
        np.array([2.0, 0.0]),
        boxes,
        np.full((2, 3), 0.7, np.float32),
        np.array([[5, 7, 9], [1, 1, 1]], np.float32),
    ]
    out = pp(res, [11, 12], [([5], []), ([1], [])])
    assert out[0].shape == (2, 7) and out[1].shape == (0, 7)
    np.testing.assert_allclose(out[0][1], [11, *boxes[0, 1], 0.7, 7], rtol=1e-6)
    assert (pp.good, pp.total) == (1, 2)


def test_pt_postprocessor_swaps_and_stops_at_first_low_score():
    pp = postprocess.make_postprocessor("coco_onnx")
    boxes = np.array([[[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0, 0, 1, 1]]], np.float32)
    scores = np.array([[0.9, 0.4, 0.8]], np.float32)  # unsorted: break, not filter
    out = pp([boxes, np.array([[3, 4, 5]]), scores], [0])
    assert out[0].shape == (1, 7)
    np.testing.assert_allclose(out[0][0], [0, 0.2, 0.1, 0.4, 0.3, 0.9, 3], rtol=1e-6)
    pt = postprocess.make_postprocessor("coco_pt", score_threshold=0.3)
    assert pt([boxes, np.array([[3, 4, 5]]), scores], [0])[0].shape == (3, 7)


# ---- SUT ----------------------------------------------------------------------------------


class _Q:
    def __init__(self, i):
        self.index, self.id = i, 1000 + i


class _DS:
    def get_samples(self, ids):
        return np.array(ids, np.float32)[:, None], [None] * len(ids)


class _Model:
    inputs = ["x"]

    def predict(self, feed):
        x = feed["x"]
        if (x == 13).any():
            raise RuntimeError("bad sample")
        return [x]


class _PP:
    def start(self):
        pass

    def __call__(self, results, ids, expected):
        return [np.array([[i, 1, 2]], np.float32) for i in ids]


@pytest.mark.parametrize("cls", [sut.RunnerBase, sut.QueueRunner])
def test_runner_batches_and_completes_once_per_batch(cls):
    calls = []

    def complete(responses):
        # the buffers must still be alive and hold the rows while LoadGen copies them
        calls.append(
            [
                (
                    qid,
                    np.ctypeslib.as_array(
                        (np.ctypeslib.ctypes.c_float * (size // 4)).from_address(ptr)
                    ).copy()
                    if size
                    else np.zeros(0),
                )
                for qid, ptr, size in responses
            ]
        )

    r = cls(
        _Model(),
        _DS(),
        2,
        post_proc=_PP(),
        max_batchsize=4,
        complete=complete,
        make_response=lambda q, p, s: (q, p, s),
    )
    r.start_run({}, False)
    r.enqueue([_Q(i) for i in range(10)])
    r.finish()
    assert sorted(len(c) for c in calls) == [2, 4, 4]
    got = {qid: arr for c in calls for qid, arr in c}
    assert set(got) == {1000 + i for i in range(10)}
    np.testing.assert_array_equal(got[1007], [7, 1, 2])
    assert len(r.result_timing) == 3 and r.errors == 0


def test_failed_batch_answers_empty_responses():
    calls = []
    r = sut.RunnerBase(
        _Model(),
        _DS(),
        1,
        post_proc=_PP(),
        max_batchsize=2,
        complete=calls.append,
        make_response=lambda q, p, s: (q, s),
    )
    r.start_run({}, False)
    r.enqueue([_Q(12), _Q(13)])
    assert calls == [[(1012, 0), (1013, 0)]] and r.errors == 1


# ---- pre-processing -----------------------------------------------------------------------


def test_mobilenet_preprocessing_truncates_and_resnet34_normalises():
    import cv2
    from odbench import preprocess

    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    ref = cv2.resize(
        cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2RGB),
        (300, 300),
        interpolation=cv2.INTER_LINEAR,
    )
    mb = preprocess.pre_process_coco_mobilenet(bgr, (300, 300, 3), need_transpose=False)
    assert mb.dtype == np.uint8 and mb.shape == (300, 300, 3)
    np.testing.assert_array_equal(mb, np.trunc(ref).astype(np.uint8))
    r34 = preprocess.pre_process_coco_resnet34(bgr, (300, 300, 3), need_transpose=True)
    assert r34.dtype == np.float32 and r34.shape == (3, 300, 300)
    want = (ref / 255.0 - np.array([0.485, 0.456, 0.406], np.float32)) / np.array(
        [0.229, 0.224, 0.225], np.float32
    )
    np.testing.assert_allclose(r34, want.transpose(2, 0, 1), rtol=1e-6, atol=1e-6)
    pt = preprocess.pre_process_coco_pt_mobilenet(bgr, (300, 300, 3), need_transpose=True)
    np.testing.assert_allclose(pt, ((ref - 127.5) / 127.5).transpose(2, 0, 1), atol=1e-6)


def test_qsl_order_is_json_order_with_missing_files_skipped(tmp_path):
    from odbench.dataset_coco import read_coco_index

    s = synth.make_coco(str(tmp_path / "c"), n_images=5, seed=5, empty=(3,))
    (tmp_path / "c" / "val2017" / s.images[1]["file_name"]).unlink()
    idx = read_coco_index(str(tmp_path / "c"))
    assert idx.image_ids == [s.images[i]["id"] for i in (0, 2, 3, 4)] and idx.not_found == 1
    assert read_coco_index(str(tmp_path / "c"), count=2).image_ids == idx.image_ids[:2]
    labelled = read_coco_index(str(tmp_path / "c"), use_label_map=True)
    assert labelled.image_ids == [s.images[i]["id"] for i in (0, 2, 4)]
    assert all(1 <= c <= 80 for cats, _ in labelled.labels for c in cats)


# ---- backends -----------------------------------------------------------------------------


def test_onnxruntime_backend_reads_fixed_batch_and_uses_available_providers(tmp_path):
    import onnxruntime as ort
    from odbench.backends import get_backend

    s = synth.make_coco(str(tmp_path / "c"), n_images=2, seed=6)
    fixed = get_backend("onnxruntime").load(
        synth.make_mobilenet_model(str(tmp_path / "f.onnx"), s, batch=1)
    )
    dyn = get_backend("onnx").load(synth.make_mobilenet_model(str(tmp_path / "d.onnx"), s))
    assert fixed.fixed_batch == 1 and dyn.fixed_batch is None
    assert set(fixed.providers) <= set(ort.get_available_providers())
    assert dyn.inputs == ["image_tensor:0"] and len(dyn.outputs) == 4
    with pytest.raises(Exception, match="no output"):
        get_backend("onnxruntime").load(str(tmp_path / "d.onnx"), outputs=["nope"])


def test_pytorch_backend_loads_torchscript_and_whole_modules(tmp_path):
    torch = pytest.importorskip("torch")
    from odbench.backends import get_backend

    s = synth.make_coco(str(tmp_path / "c"), n_images=2, seed=7)
    ts = synth.make_resnet34_torchscript(str(tmp_path / "m.pt"), s)
    b = get_backend("pytorch").load(ts, inputs=["image"], outputs=["bboxes", "labels", "scores"])
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    grey = synth.GREY_BASE + synth.GREY_STEP  # image at position 1
    x = np.broadcast_to(((grey / 255 - mean) / std)[None, :, None, None], (1, 3, 16, 16))
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = b.predict({"image": x})
    assert [o.shape for o in out] == [(1, 8, 4), (1, 8), (1, 8)]
    assert int((out[2][0] > 0.5).sum()) == len(s.boxes[1])
    torch.save(torch.nn.Identity(), str(tmp_path / "whole.pt"))
    ident = get_backend("pytorch-native").load(str(tmp_path / "whole.pt"))
    np.testing.assert_array_equal(ident.predict({"image": x})[0], x)
    torch.save({"model_state_dict": {}}, str(tmp_path / "sd.pt"))
    with pytest.raises(Exception, match="state dict"):
        get_backend("pytorch-native").load(str(tmp_path / "sd.pt"))


# ---- Cognata ------------------------------------------------------------------------------


def test_baseline_config_has_776740_default_boxes():
    from odbench.dataset_cognata import BASELINE_8MP, DefaultBoxes

    d = DefaultBoxes.from_config(BASELINE_8MP)
    assert len(d) == 776740
    assert d.dboxes.min() >= 0 and d.dboxes.max() <= 1
    # first box: level 0, size (31/3840, 31/2160), centre of cell (0, 0)
    np.testing.assert_allclose(d.dboxes[0], [4 / 3840, 4 / 2160, 31 / 3840, 31 / 2160], rtol=1e-5)


def test_decoder_threshold_nms_and_pixel_scaling():
    from odbench.dataset_cognata import SSDDecoder

    dec = SSDDecoder(dict(synth.SMALL_COGNATA_CONFIG))
    nb = len(dec.dboxes)
    ploc = np.zeros((4, nb), np.float32)
    plabel = np.zeros((15, nb), np.float32)
    plabel[0] = 10
    for j in (5, 6):  # box 6 is moved onto box 5 (one cell = 8 px left) -> NMS keeps one
        plabel[0, j], plabel[3, j] = 0, 10 - (j - 5)
    ploc[0, 6] = -8 / (0.1 * 16)
    plabel[0, 200], plabel[4, 200] = 0, 10
    plabel[0, 201], plabel[4, 201] = 7, 4  # softmax ~ 0.047 for class 4: below 0.05
    rows = dec.decode_pixels(ploc, plabel)
    assert sorted(rows[:, 4].tolist()) == [3, 4]
    box = dec.dboxes.dboxes[5]
    r3 = rows[rows[:, 4] == 3][0]
    np.testing.assert_allclose(
        r3[:4],
        [
            (box[0] - box[2] / 2) * 96,
            (box[1] - box[3] / 2) * 64,
            (box[0] + box[2] / 2) * 96,
            (box[1] + box[3] / 2) * 64,
        ],
        rtol=1e-5,
    )
    r3_scores = rows[rows[:, 4] == 3][:, 5]
    assert len(r3_scores) == 1 and r3_scores[0] > 0.99  # the higher-scored of the pair
    background = np.zeros((15, nb), np.float32)
    background[0] = 10
    assert dec.decode_pixels(ploc, background).shape == (0, 6)


def test_cognata_ground_truth_filters():
    from odbench.dataset_cognata import filter_annotations

    rows = [
        {"bounding_box_2D": [0, 0, 20, 20], "object_class": 8, "center_distance": 10},  # Car
        {"bounding_box_2D": [0, 0, 5, 40], "object_class": 8, "center_distance": 10},  # narrow
        {"bounding_box_2D": [0, 0, 20, 20], "object_class": 2, "center_distance": 10},  # ignored
        {"bounding_box_2D": [0, 0, 20, 20], "object_class": 36, "center_distance": 301},  # far
        {"bounding_box_2D": [5, 5, 30, 30], "object_class": 14, "center_distance": 0},  # Ped.
    ]
    gt = filter_annotations(rows)
    assert gt.tolist() == [[0, 0, 20, 20, 4, 0, 0], [5, 5, 30, 30, 9, 0, 0]]


_PARALLEL_CHECK = """
import sys
import numpy as np, cv2
from pathlib import Path
from odbench import preprocess
from odbench.preprocess import PreprocessSpec, preprocess_to_dir
method, root = sys.argv[1], Path(sys.argv[2])
preprocess._start_method = lambda: method
rng = np.random.default_rng(9)
(root / "val2017").mkdir()
names = []
for i in range(70):  # enough for the pool to start 2 workers
    name = f"val2017/{i:04d}.jpg"
    cv2.imwrite(str(root / name), rng.integers(0, 256, (24, 40, 3), np.uint8))
    names.append(name)
spec = PreprocessSpec("coco_resnet34", (16, 16, 3), "NCHW")
assert preprocess_to_dir(names, str(root), str(root / "par"), spec, workers=2) == (70, 0)
assert preprocess_to_dir(names, str(root), str(root / "ser"), spec, workers=1) == (70, 0)
for name in names[::7]:
    a = np.load(root / "par" / (name + ".npy"))
    b = np.load(root / "ser" / (name + ".npy"))
    assert a.shape == (3, 16, 16) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
assert not list((root / "par").rglob("*.tmp*"))
print("ok")
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_parallel_preprocessing_matches_serial(tmp_path, method):
    # In a fresh process: forking from pytest's (threaded) process is exactly what
    # odbench.preprocess avoids, and would deadlock here for that reason.
    p = subprocess.run(
        [sys.executable, "-c", _PARALLEL_CHECK, method, str(tmp_path)],
        capture_output=True,
        text=True,
        env=odbench_env(),
        timeout=120,
    )
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stderr
