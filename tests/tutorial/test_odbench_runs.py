"""The run says what it ran: a model file identifies the model (and so the data set), the
summary names model, data set, backend and device, INVALID says why, registered copies are
used offline, and the CK tutorial's program name benchmarks the real model."""

from __future__ import annotations

import json
import re

import pytest

TensorProto = pytest.importorskip("onnx").TensorProto  # the onnx extra: models are made here

from .conftest import COCO, MODEL, OFFLINE, ROOT, mobilenet_like, onnx_model, small_coco  # noqa: E402

SHAPES = ROOT / "packages" / "ml-model-ssd-shapes" / "ssd_shapes.onnx"


def test_onnx_reader_sees_interface_opset_and_quantization(tmp_path):
    from ckx.artifacts.onnxinfo import read_onnx

    plain = read_onnx(mobilenet_like(tmp_path / "a.onnx", opset=8))
    assert plain.input_names() == ["image_tensor:0"] and plain.inputs[0].elem_type == "uint8"
    assert plain.output_names()[0] == "num_detections:0" and plain.opset == 8
    assert not plain.quantized and plain.producer == "ckx-test"
    q = read_onnx(mobilenet_like(tmp_path / "q.onnx", opset=13, quantized=True))
    assert q.quantized and q.opset == 13
    shapes = read_onnx(SHAPES)
    assert shapes.producer == "ckx train-ssd-shapes" and shapes.inputs[0].shape[1:] == [300, 300, 3]
    from ckx.core.errors import UsageError

    with pytest.raises(UsageError, match="is not an ONNX model"):
        read_onnx(ROOT / "pyproject.toml")


@pytest.mark.parametrize(
    ("maker", "model"),
    [
        (lambda p: SHAPES, "ssd-shapes"),
        (lambda p: mobilenet_like(p / "m.onnx", opset=13), "ssd-mobilenet"),
        (
            lambda p: onnx_model(
                p / "r.onnx",
                [("image", TensorProto.FLOAT, [1, 3, 1200, 1200])],
                ["bboxes", "labels", "scores"],
                opset=11,
            ),
            "ssd-resnet34",
        ),
    ],
)
def test_model_path_without_model_is_identified_and_the_data_set_follows(
    ckx, tmp_path, maker, model
):
    path = maker(tmp_path)
    r = ckx(
        "run", "program:od-bench", "--cmd_key=accuracy-offline", f"--model_path={path}", "--plan"
    )
    assert r.code == 0, r
    assert f"identified as --model={model}" in r.err
    assert f"_{model}" in r.out.splitlines()[0]
    if model == "ssd-shapes":
        assert "get-dataset-shapes-coco" in r.out and "dataset-coco-2017-val" not in r.out
    else:  # a real model runs on the real data set, never on the synthetic one
        assert "dataset-coco-2017-val" in r.out and "get-dataset-shapes-coco" not in r.out


def test_unknown_interface_or_not_onnx_fails_naming_the_choices(ckx, tmp_path):
    odd = onnx_model(tmp_path / "odd.onnx", [("x", TensorProto.FLOAT, [1, 3])], ["y"], opset=13)
    r = ckx(
        "run", "program:od-bench", "--cmd_key=accuracy-offline", f"--model_path={odd}", "--plan"
    )
    assert r.code == 2 and "matches no model od-bench knows" in r.err, r
    assert "ssd-mobilenet: inputs image_tensor:0" in r.err
    r = ckx("run", "program:od-bench", "--cmd_key=accuracy-offline", "--model_path=pyproject.toml")
    assert r.code == 2 and "it is not an ONNX file" in r.err and "--model=ssd-shapes |" in r.err


def test_a_folder_given_as_model_path_is_called_a_folder(ckx, tmp_path):
    mobilenet_like(tmp_path / "m.onnx", opset=13)
    for extra in ([], ["--model=ssd-mobilenet"]):
        r = ckx(
            "run", "program:od-bench", "--cmd_key=accuracy-offline", f"--model_path={tmp_path}",
            "--plan", *extra,
        )  # fmt: skip
        assert r.code == 2 and f"--model_path={tmp_path} is a folder, not a model file" in r.err
        assert f"e.g. --model_path={tmp_path / 'm.onnx'}" in r.err, r


def test_a_model_that_contradicts_model_or_backend_is_refused(ckx, tmp_path):
    m = mobilenet_like(tmp_path / "m.onnx", opset=13)
    args = ["run", "program:od-bench", "--cmd_key=accuracy-offline", f"--model_path={m}", "--plan"]
    r = ckx(*args, "--model=ssd-resnet34")
    assert r.code == 2 and "does not look like --model=ssd-resnet34" in r.err, r
    r = ckx(*args, "--framework=pytorch")
    assert r.code == 2 and "is an ONNX model, but --backend=pytorch" in r.err, r


def test_summary_names_what_ran_and_invalid_says_why(ckx, tmp_path):
    out = tmp_path / "out"
    r = ckx(
        "run",
        "program:od-bench",
        "--cmd_key=performance-singlestream",
        "--quiet",
        "--count=8",
        "--time=1",
        f"--outdirname={out}",
    )
    assert r.code == 0, r
    head = r.out.splitlines()
    assert (
        head[0].startswith("od-bench: model=ssd-shapes ")
        and "backend=onnxruntime device=cpu" in head[0]
    )
    assert re.search(r"data set: \S+shapes-coco \(8 images used\)", r.out)
    chars = json.loads((out / "ckx-characteristics.json").read_text())
    assert chars["device"] == "cpu" and chars["dataset_path"].endswith("shapes-coco")
    if not chars["result_valid"]:  # a 1 s run is INVALID: loadgen's own reasons are shown
        assert "INVALID because: " in r.out and chars["invalid_reasons"]
        assert any("satisfied: NO" in w or "queries" in w for w in chars["invalid_reasons"])


def test_invalid_reasons_come_from_loadgen():
    import sys

    sys.path.insert(0, str(ROOT / "programs" / "od-bench"))
    try:
        from odbench.summary import build_odbench_summary, format_summary
    finally:
        sys.path.remove(str(ROOT / "programs" / "od-bench"))
    summary = {
        "fields": {"Result is": "INVALID"},
        "percentiles_ns": {},
        "result_valid": False,
        "constraints": {"Min duration satisfied": False, "Min queries satisfied": True},
        "recommendations": [
            "Increase expected QPS so the loadgen pre-generated a larger query set."
        ],
        "warnings": False,
        "errors": False,
        "detail_errors": [],
    }
    rec = build_odbench_summary(
        model="ssd-mobilenet",
        profile="p",
        backend="onnxruntime",
        scenario="Offline",
        mode="PerformanceOnly",
        output_dir="o",
        count=5,
        mAP=None,
        summary=summary,
    )
    assert rec["invalid_reasons"] == [
        "Min duration satisfied: NO",
        "Increase expected QPS so the loadgen pre-generated a larger query set.",
    ]
    assert "INVALID because: Min duration satisfied: NO" in format_summary(rec)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_model_registered_once_then_run_gives_the_reference_map(ckx, real_data):
    """The CK way: the data set and the model registered once (the quantized opset-13 model
    fits no built-in package: it is registered as what it is), then CK's program runs with
    no --model_path, offline."""
    coco = real_data / COCO
    r = ckx(
        "install", "package", "--tags=dataset,coco,val,2017,full", f"--path={coco}", env=OFFLINE
    )
    assert r.code == 0, r
    model = real_data / MODEL
    run = ["run", "program:mlperf-inference-bench-object-detection-onnx-cpu"]
    tags = "--tags=model,object-detection,onnx,ssd-mobilenet,quantized"
    r = ckx("install", "package", tags, f"--path={model}", env=OFFLINE)
    assert r.code == 0 and "registered as local:package:" in r.err, r
    r = ckx(*run, "--cmd_key=accuracy-offline", "--quiet", env=OFFLINE, timeout=900)
    assert r.code == 0, r  # nothing may be downloaded: the registered copies are used
    assert "od-bench: model=ssd-mobilenet " in r.out and "backend=onnxruntime device=cpu" in r.out
    assert f"model file: {model}" in r.out
    assert f"data set: {coco} (206 images used)" in r.out
    assert "mAP=20.183%" in r.out  # reference 0.2018 (shared/data/coco2017-val-mini/README.md)


@pytest.mark.slow
def test_ck_benchmark_command_records_the_model_its_tags_name(ckx, ckx_home, tmp_path, http_server):
    """The CK tutorial's benchmark line, offline, with the model from a mirror and the data
    set registered: it benchmarks ssd-mobilenet (not the embedded model) and records so."""
    coco = small_coco(tmp_path / "coco")
    model = mobilenet_like(tmp_path / "ssd_mobilenet_v1_coco_2018_01_28.onnx", opset=8)
    http_server.add("/m/ssd_mobilenet_v1_coco_2018_01_28.onnx", model.read_bytes())
    env = {**OFFLINE, "CKX_MIRROR": http_server.url("/m")}
    assert (
        ckx("install", "package", "--tags=dataset,coco,val,2017,full", f"--path={coco}").code == 0
    )
    r = ckx(
        "benchmark",
        "program:mlperf-inference-bench-object-detection-onnx-cpu",
        "--cmd_key=accuracy-offline",
        "--repetitions=1",
        "--skip_print_timers",
        "--skip_print_stats",
        "--record",
        "--record_repo=local",
        "--record_uoa=ck-result1",
        "--tags=mlperf-v1.0,inference,object-detection,onnx,ssd-mobilenet,cpu",
        "--print_files=accuracy.txt",
        env=env,
        timeout=900,
    )
    assert r.code == 0, r
    assert "program:mlperf-inference-bench-object-detection-onnx-cpu is program:od-bench" in r.err
    assert "mAP=" in r.out  # --print_files=accuracy.txt
    points = list((ckx_home / "repos" / "local" / "experiment" / "ck-result1" / "points").glob("*"))
    point = json.loads((points[0] / "point.json").read_text())
    assert point["inputs"]["program"] == "od-bench"  # what ran, under its own name
    assert point["inputs"]["inputs"]["model"] == "ssd-mobilenet"
    chars = point["repetitions"][0]["characteristics"]
    assert chars["model"] == "ssd-mobilenet" and chars["device"] == "cpu"
    assert chars["model_file"].endswith("ssd_mobilenet_v1_coco_2018_01_28.onnx")
    assert chars["dataset_path"] == str(coco) and chars["count"] == 5
