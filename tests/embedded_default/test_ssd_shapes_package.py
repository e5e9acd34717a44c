"""The shipped model: the documented file, the SSD-MobileNet profile signature, mAP >= 0.5."""

from __future__ import annotations

import hashlib

import pytest
import yaml

np = pytest.importorskip("numpy")  # the onnx extra

from .conftest import PACKAGE_DIR  # noqa: E402
from .onnx_checks import INPUT, OUTPUTS, check_signature, run_batches  # noqa: E402


@pytest.fixture(scope="module")
def meta() -> dict:
    return yaml.safe_load((PACKAGE_DIR / "meta.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model_path(meta):
    return PACKAGE_DIR / meta["provides"]["env"]["CKX_ML_MODEL_FILE_WITH_PATH"]


def test_meta_identifies_the_package(meta):
    assert meta["alias"] == "ml-model-ssd-shapes" and meta["automation_alias"] == "package"
    assert len(meta["uid"]) == 16 and int(meta["uid"], 16) >= 0
    assert set(meta["tags"]) >= {
        "ml-model",
        "object-detection",
        "ssd-shapes",
        "onnx",
        "ckx-default",
    }


def test_shipped_file_has_the_documented_sha256_and_size(meta, model_path):
    blob = model_path.read_bytes()
    assert len(blob) == meta["file"]["size"] < 2_000_000
    assert hashlib.sha256(blob).hexdigest() == meta["file"]["sha256"]
    assert meta["file"]["sha256"] in (PACKAGE_DIR / "PROVENANCE.md").read_text(encoding="utf-8")


def test_shipped_model_has_the_profile_signature(meta, model_path):
    check_signature(model_path)
    env = meta["provides"]["env"]
    assert env["CKX_ML_MODEL_INPUTS_NAMES"] == INPUT
    assert env["CKX_ML_MODEL_OUTPUTS_NAMES"] == ",".join(OUTPUTS)
    assert env["CKX_ML_MODEL_DATA_LAYOUT"] == "NHWC"


def test_shipped_model_finds_the_shapes(generator, evaluator, val_split, model_path):
    files = sorted((val_split / "val2017").iterdir())[:3]
    images = np.stack([evaluator.preprocess_mobilenet(p) for p in files])
    num, _, scores, classes = run_batches(model_path, images, generator.CATEGORY_IDS)
    assert np.all(num >= 1) and np.all(scores[:, 0] > 0.5)
    run_batches(model_path, images[:1], generator.CATEGORY_IDS)


def test_shipped_model_reaches_the_documented_map(evaluator, val_split, model_path, meta):
    value = evaluator.evaluate(model_path, val_split)
    assert value >= 0.5
    assert value == pytest.approx(meta["accuracy"]["mAP"], abs=0.0005)


def _nms_reference(boxes, scores, iou_thr=0.5, score_thr=0.01, per_class=100, top=100):
    """Plain numpy per-class greedy NMS + global top-k over (class, box) pairs."""
    kept = []
    for c in range(scores.shape[0]):
        order = [a for a in np.argsort(-scores[c], kind="stable") if scores[c, a] > score_thr]
        chosen: list[int] = []
        for a in order:
            if len(chosen) == per_class:
                break
            y0 = np.maximum(boxes[a, 0], boxes[chosen, 0])
            x0 = np.maximum(boxes[a, 1], boxes[chosen, 1])
            y1 = np.minimum(boxes[a, 2], boxes[chosen, 2])
            x1 = np.minimum(boxes[a, 3], boxes[chosen, 3])
            inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
            area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
            iou = inter / (area(boxes[a]) + area(boxes[chosen]) - inter)
            if not np.any(iou > iou_thr):
                chosen.append(a)
        kept += [(scores[c, a], c, a) for a in chosen]
    kept.sort(key=lambda t: -t[0])
    return kept[:top]


def test_in_graph_postprocessing_matches_a_numpy_reference(
    generator, evaluator, val_split, model_path
):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    for name in ("pp_boxes", "pp_scores"):  # expose the decoded boxes and class scores too
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    files = sorted((val_split / "val2017").iterdir())[3:5]
    images = np.stack([evaluator.preprocess_mobilenet(p) for p in files])
    num, boxes, scores, classes, pp_boxes, pp_scores = session.run(
        [*OUTPUTS, "pp_boxes", "pp_scores"], {INPUT: images}
    )
    for b in range(len(images)):
        want = _nms_reference(pp_boxes[b], pp_scores[b])
        k = int(num[b])
        assert k == len(want) > 0
        np.testing.assert_allclose(scores[b, :k], [s for s, _, _ in want], rtol=1e-6)
        assert classes[b, :k].tolist() == [generator.CATEGORY_IDS[c] for _, c, _ in want]
        np.testing.assert_allclose(boxes[b, :k], pp_boxes[b][[a for _, _, a in want]], atol=1e-7)
