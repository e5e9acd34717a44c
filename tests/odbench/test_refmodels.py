"""The MLPerf reference's pickled SSD modules load through od-bench's PyTorch backend.

Each model is built from ``odbench.refmodels`` with random weights, pickled whole the way the
reference repo would have pickled it (classes under ``models.*``), then loaded in a fresh
interpreter where no ``models`` package exists, run, and compared with the outputs computed
here; the outputs go through the harness's PyTorch post-processor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")  # the onnx extra
torch = pytest.importorskip("torch")

from conftest import ODBENCH  # noqa: E402
from odbench import refmodels  # noqa: E402
from odbench.backends import get_backend  # noqa: E402
from odbench.errors import OdBenchError  # noqa: E402

# Loads the pickle through the backend in a clean interpreter and checks it against the
# outputs the parent computed (expected.npz) and the harness post-processor.
CHILD = r"""
import importlib.util, json, sys
import numpy as np
assert importlib.util.find_spec("models") is None, "a models package is importable"
from odbench.backends import get_backend
from odbench.postprocess import make_postprocessor
args = json.loads(sys.argv[1])
be = get_backend("pytorch").load(args["model"], ["image"], ["bboxes", "labels", "scores"])
assert "models" not in sys.modules and "models.utils" not in sys.modules, "alias left behind"
x = np.load(args["input"])
out = be.predict({"image": x})
exp = np.load(args["expected"])
n_img = x.shape[0]
assert len(out) == 3 and all(len(o) == n_img for o in out), [len(o) for o in out]
for i in range(n_img):
    boxes, labels, scores = out[0][i], out[1][i], out[2][i]
    assert isinstance(boxes, np.ndarray) and boxes.ndim == 2 and boxes.shape[1] == 4
    assert labels.dtype == np.int64 and labels.shape == scores.shape == boxes.shape[:1]
    np.testing.assert_allclose(boxes, exp[f"boxes{i}"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(labels, exp[f"labels{i}"])
    np.testing.assert_allclose(scores, exp[f"scores{i}"], rtol=1e-4, atol=1e-6)
post = make_postprocessor("coco_pt", score_threshold=args["threshold"])
rows = post(out, list(range(n_img)))
print(json.dumps({"rows": [len(r) for r in rows], "kinds": sorted({type(m).__module__ + "." + type(m).__name__ for m in be.model.modules()})}))
"""


def _child_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ODBENCH)  # od-bench only: no tests dir, no reference repo
    env["OMP_NUM_THREADS"] = "1"
    return env


def _save_and_expect(model: torch.nn.Module, x: np.ndarray, tmp_path: Path) -> dict[str, str]:
    """Pickle ``model`` as the reference would, then record its outputs on ``x``."""
    model.eval()
    paths = {k: str(tmp_path / f"{k}.bin") for k in ("model", "input", "expected")}
    refmodels.save_pickled(model, paths["model"])  # before any forward, as a fresh export
    with torch.no_grad():
        boxes, labels, scores = model(torch.from_numpy(x))
    arrays = {}
    for i in range(x.shape[0]):
        arrays[f"boxes{i}"] = boxes[i].numpy()
        arrays[f"labels{i}"] = labels[i].numpy()
        arrays[f"scores{i}"] = scores[i].numpy()
    with open(paths["expected"], "wb") as f:
        np.savez(f, **arrays)
    with open(paths["input"], "wb") as f:
        np.save(f, x)
    return paths


def _run_child(paths: dict[str, str], threshold: float) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({**paths, "threshold": threshold})],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _pickled_names(path: str) -> set[str]:
    """``module.Class`` names a torch pickle file refers to (torch's zip format)."""
    import pickletools
    import zipfile

    with zipfile.ZipFile(path) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.add(".".join(strings[-2:]))
        elif op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
    return names


def _mobilenet() -> torch.nn.Module:
    """The reference SSD-MobileNet with random weights and heads tuned so that a few
    hundred boxes of classes 1 and 7 pass the 0.3 score cut-off (not all 1917 x 90)."""
    from odbench.refmodels.ssd_mobilenet_v1 import create_mobilenetv1_ssd

    torch.manual_seed(0)
    model = create_mobilenetv1_ssd(91)
    for head in model.predictors:
        torch.nn.init.normal_(head.classification.weight, std=0.01)
        bias = torch.full((head.num_anchors, head.num_classes), -6.0)
        bias[:, 1] = 0.5
        bias[:, 7] = -0.5
        head.classification.bias.data = bias.reshape(-1)
        torch.nn.init.normal_(head.regression.weight, std=0.01)
    return model.eval()


def test_ssd_mobilenet_pickle_loads_and_runs(tmp_path: Path) -> None:
    model = _mobilenet()
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 300, 300)).astype(np.float32)
    paths = _save_and_expect(model, x, tmp_path)

    names = _pickled_names(paths["model"])
    assert {
        "models.ssd_mobilenet_v1.SSD",
        "models.ssd_mobilenet_v1.MobileNetV1Base",
        "models.ssd_mobilenet_v1.PredictionHead",
        "models.ssd_mobilenet_v1.Block",
        "models.utils.Conv2d_tf",
        "models.utils.BatchNorm2d",
        "models.utils.BiasAdd",
    } <= names
    assert not any(n.startswith("odbench") for n in names)

    got = _run_child(paths, threshold=0.3)
    assert all(n > 0 for n in got["rows"])
    assert "odbench.refmodels.ssd_mobilenet_v1.SSD" in got["kinds"]
    with torch.no_grad():
        _, labels, scores = model(torch.from_numpy(x))
    assert set(labels[0].tolist()) <= {1, 7} and bool((scores[0] > 0.3).all())


def test_legacy_format_pickle_loads(tmp_path: Path) -> None:
    # the zenodo files date from torch 1.0/1.1: pre-zip serialization
    model = _mobilenet()
    path = tmp_path / "ssd_mobilenet_v1.pytorch"
    refmodels.save_pickled(model, str(path), legacy_format=True)
    with open(path, "rb") as f:
        assert f.read(2) == b"\x80\x02"  # a bare pickle stream, not a zip archive
    be = get_backend("pytorch-native").load(str(path), ["image"], ["bboxes", "labels", "scores"])
    assert "models" not in sys.modules
    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, 300, 300)).astype(np.float32)
    got = be.predict({"image": x})
    with torch.no_grad():
        want = model(torch.from_numpy(x))
    assert got[0][0].shape[0] > 0
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g[0], w[0].numpy(), rtol=1e-4, atol=1e-5)


def _dboxes_for(
    refmodels_ssd_r34: types.ModuleType, size: int, feat: list[int]
) -> refmodels.ssd_r34.DefaultBoxes:
    # dboxes_R34_coco's recipe for another input size (it hard-codes the 1200 grids)
    feat_size = [[f, f] for f in feat]
    steps = [(int(size / f), int(size / f)) for f in feat]
    scales = [(int(s * size / 300),) * 2 for s in [21, 45, 99, 153, 207, 261, 315]]
    return refmodels_ssd_r34.DefaultBoxes(
        [size, size], feat_size, steps, scales, [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
    )


def test_ssd_resnet34_pickle_loads_and_runs(tmp_path: Path) -> None:
    from odbench.refmodels import ssd_r34

    torch.manual_seed(0)
    model = ssd_r34.SSD_R34()
    assert model.encoder.nboxes == 15130  # the 1200x1200 model's default boxes
    # 400x400 input instead of 1200 (9x less compute): grids 17, 9, 5, 3, 1, 1
    model.encoder = ssd_r34.Encoder(_dboxes_for(ssd_r34, 400, [17, 9, 5, 3, 1, 1]))
    for nd, conf, loc in zip(model.num_defaults, model.conf, model.loc, strict=True):
        torch.nn.init.normal_(conf.weight, std=1e-3)
        bias = torch.full((81, nd), -4.0)
        bias[3] = 4.0  # label 3 above the 0.05 cut-off everywhere, the rest below
        conf.bias.data = bias.reshape(-1)
        torch.nn.init.normal_(loc.weight, std=1e-3)
    x = np.random.default_rng(2).normal(0, 1, (1, 3, 400, 400)).astype(np.float32)
    paths = _save_and_expect(model, x, tmp_path)

    names = _pickled_names(paths["model"])
    assert {
        "models.ssd_r34.SSD_R34",
        "models.ssd_r34.Encoder",
        "models.base_model_r34.ResNet34",
    } <= names
    try:
        import torchvision  # noqa: F401
    except ImportError:
        assert "torchvision.models.resnet.BasicBlock" in names

    got = _run_child(paths, threshold=0.05)
    assert 0 < got["rows"][0] <= 200
    assert "odbench.refmodels.ssd_r34.SSD_R34" in got["kinds"]


def _save_with_fake_module(mod_name: str, cls_name: str, path: Path) -> None:
    """Pickle an instance of a class that claims to live in ``mod_name``."""
    cls = type(cls_name, (torch.nn.Module,), {"__module__": mod_name})
    fake = types.ModuleType(mod_name)
    setattr(fake, cls_name, cls)
    fakes = {"models": types.ModuleType("models"), mod_name: fake}  # pickle imports the parent
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        torch.save(cls(), path)
    finally:
        for name, old in saved.items():
            if old is None:
                del sys.modules[name]
            else:
                sys.modules[name] = old


@pytest.mark.parametrize(
    ("mod_name", "cls_name", "says"),
    [
        ("models.retinanet", "RetinaNet", "module 'models.retinanet'"),
        ("models.utils", "Swish", "class 'Swish' in module 'models.utils'"),
    ],
)
def test_unknown_reference_class_is_a_clear_error(
    tmp_path: Path, mod_name: str, cls_name: str, says: str
) -> None:
    path = tmp_path / "other.pytorch"
    _save_with_fake_module(mod_name, cls_name, path)
    before = {k: v for k, v in sys.modules.items() if k == "models" or k.startswith("models.")}
    with pytest.raises(OdBenchError) as info:
        get_backend("pytorch").load(str(path))
    assert says in info.value.message and f"{mod_name}.{cls_name}" in info.value.message
    assert "models.ssd_mobilenet_v1.SSD" in info.value.hint
    assert "models.ssd_r34.SSD_R34" in info.value.hint
    after = {k: v for k, v in sys.modules.items() if k == "models" or k.startswith("models.")}
    assert after == before


def test_reference_modules_restores_a_users_models_package() -> None:
    own = types.ModuleType("models")
    sys.modules["models"] = own
    try:
        with refmodels.reference_modules() as table:
            assert sys.modules["models"] is refmodels
            assert sys.modules["models.ssd_r34"] is table["models.ssd_r34"]
        assert sys.modules["models"] is own
        assert "models.ssd_r34" not in sys.modules
    finally:
        del sys.modules["models"]


def test_anchors_match_the_tf_ssd_layout() -> None:
    from odbench.refmodels.anchor_generator import create_ssd_anchors

    shapes = [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    anchors = create_ssd_anchors()._generate(shapes)
    assert [a.shape[0] for a in anchors] == [19 * 19 * 3] + [s[0] * s[1] * 6 for s in shapes[1:]]
    assert sum(a.shape[0] for a in anchors) == 1917  # SSD-MobileNet-v1 at 300x300
    # first anchor: scale 0.1, ratio 1, centred on cell (0, 0) of the 19x19 grid
    c = 0.5 / 19
    np.testing.assert_allclose(
        anchors[0][0].numpy(), [c - 0.05, c - 0.05, c + 0.05, c + 0.05], atol=1e-6
    )
    # last layer's interpolated anchor: sqrt(0.95 * 1.0), square, centred at 0.5
    s = np.sqrt(0.95)
    np.testing.assert_allclose(
        anchors[5][-1].numpy(), [0.5 - s / 2, 0.5 - s / 2, 0.5 + s / 2, 0.5 + s / 2], atol=1e-6
    )


def test_nms_and_box_decoding() -> None:
    from odbench.refmodels.utils import decode_boxes, nms

    rows = torch.tensor([[0, 0, 1, 1, 0.9], [0, 0, 1, 0.9, 0.8], [2, 2, 3, 3, 0.7]])
    kept = nms(rows, 0.6)
    assert kept[:, 4].tolist() == pytest.approx([0.9, 0.7])
    # zero codes give the anchor back, converted from (y, x, y, x) to (x, y, x, y)
    anchors = torch.tensor([[0.1, 0.2, 0.5, 0.6]])
    out = decode_boxes(torch.zeros(1, 1, 4), anchors, torch.tensor([10.0, 10.0, 5.0, 5.0]))
    np.testing.assert_allclose(out[0, 0].numpy(), [0.2, 0.1, 0.6, 0.5], atol=1e-6)


def test_r34_iou_keeps_the_reference_quirk() -> None:
    from odbench.refmodels.ssd_r34 import calc_iou_tensor

    a = torch.tensor([[0.0, 0.0, 0.2, 0.2]])
    # apart in x only: the overlap width is negative, the product negative
    assert calc_iou_tensor(a, torch.tensor([[0.5, 0.0, 0.7, 0.2]])).item() < 0
    # apart in both x and y: both extents negative, so the reference's product is positive
    # (its clamp fills a copy); NMS must see the same value to drop the same boxes
    iou = calc_iou_tensor(a, torch.tensor([[0.3, 0.3, 0.5, 0.5]])).item()
    assert iou == pytest.approx(0.01 / (0.04 + 0.04 - 0.01))
    same = calc_iou_tensor(a, a).item()
    assert same == pytest.approx(1.0)
