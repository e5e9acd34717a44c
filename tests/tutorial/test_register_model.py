"""Register once, then run (the CK tutorial): a model file no built-in package describes (a
quantized, opset-13 SSD-MobileNet) is registered under tags that say what it is, identified
from the file and checked; the CK program then uses it with no --model_path. The hints of a
refused registration and of a failed model download are commands that work."""

from __future__ import annotations

import shlex

import yaml

from .conftest import OFFLINE, mobilenet_like, small_coco

QUANT_TAGS = "--tags=model,object-detection,onnx,ssd-mobilenet,quantized"
ALIAS = "ml-model-ssd-mobilenet-onnx-opset13-quantized"
CK_PROGRAM = "program:mlperf-inference-bench-object-detection-onnx-cpu"


def _hinted(err: str, prefix: str) -> list[str]:
    """The command a hint names (from ``prefix`` to the next ' (' or the end of the line)."""
    line = next(ln for ln in err.splitlines() if "hint:" in ln and prefix in ln)
    text = prefix + line.split(prefix, 1)[1]
    return shlex.split(text.split(" (", 1)[0])


def test_a_model_no_package_describes_is_registered_as_what_it_is(ckx, ckx_home, tmp_path):
    q = mobilenet_like(tmp_path / "ssd_quant.onnx", opset=13, quantized=True)
    r = ckx("install", "package", QUANT_TAGS, f"--path={q}")
    assert r.code == 0, r
    assert f"registered as local:package:{ALIAS}" in r.err
    assert "is ssd-mobilenet by its interface (that of ml-model-ssd-mobilenet-onnx-opset8" in r.err
    assert f"CKX_ML_MODEL_FILE_WITH_PATH={q}" in r.out and "CKX_ML_MODEL_OPSET=13" in r.out
    meta = yaml.safe_load((ckx_home / "repos/local/package" / ALIAS / "meta.yaml").read_text())
    for tag in ("model", "object-detection", "onnx", "ssd-mobilenet", "quantized", "opset-13"):
        assert tag in meta["tags"]  # the tags it is registered under say what it is
    assert "non-quantized" not in meta["tags"] and meta["registered"]["file"] == str(q)
    coco = small_coco(tmp_path / "coco")
    assert (
        ckx("install", "package", "--tags=dataset,coco,val,2017,full", f"--path={coco}").code == 0
    )
    r = ckx("run", CK_PROGRAM, "--cmd_key=accuracy-offline", "--plan", env=OFFLINE)
    assert r.code == 0, r  # no --model_path: the registered model is what runs, offline
    assert f"installed: registered copy {q}" in r.out and ALIAS in r.out
    again = ckx("install", "package", QUANT_TAGS, f"--path={q}")
    assert again.code == 0 and "registered as" not in again.err  # now a package has the tags


def test_what_the_file_contradicts_is_refused_with_a_hint_that_works(ckx, tmp_path):
    q = mobilenet_like(tmp_path / "ssd_quant.onnx", opset=13, quantized=True)
    resnet = "--tags=model,object-detection,onnx,ssd-resnet34,quantized"
    r = ckx("install", "package", resnet, f"--path={q}")
    assert r.code == 2 and "is not what --tags say (object-detection,ssd-resnet34)" in r.err, r
    r = ckx("install", "package", "--tags=model,onnx,ssd-mobilenet,opset-11,int8", f"--path={q}")
    assert r.code == 2 and "its opset is 13, the entry says 11" in r.err, r
    r = ckx("install", "package", QUANT_TAGS, f"--path={tmp_path}")
    assert r.code == 2 and f"--path={tmp_path} is a folder, not a model file" in r.err, r
    # the tutorial's command: the quantized file under the non-quantized opset-8 package
    tags = "--tags=model,object-detection,mlperf,onnx,ssd-mobilenet,side.300,non-quantized,opset-8"
    r = ckx("install", "package", tags, f"--path={q}")
    assert r.code == 2 and "refusing to register it" in r.err, r
    hinted = _hinted(r.err, "ckx install package --tags=")
    assert hinted[3] == "--tags=model,object-detection,onnx,ssd-mobilenet,opset-13,quantized"
    r = ckx(*hinted[1:])
    assert r.code == 0 and f"registered as local:package:{ALIAS}" in r.err, r


def test_a_failed_model_download_says_how_to_use_the_file_at_hand(ckx, tmp_path):
    tags = "--tags=model,object-detection,mlperf,onnx,ssd-mobilenet,side.300,non-quantized,opset-8"
    r = ckx("install", "package", tags, env=OFFLINE)
    assert r.code == 7 and "could not fetch ssd_mobilenet_v1_coco_2018_01_28.onnx" in r.err, r
    assert "--model_path=FILE" in r.err
    hinted = _hinted(r.err, "ckx install package:")
    assert hinted == ["ckx", "install", "package:ml-model-ssd-mobilenet-onnx-opset8", "--path=FILE"]
    m = mobilenet_like(tmp_path / "ssd_mobilenet_v1_coco_2018_01_28.onnx", opset=8)
    r = ckx(*hinted[1:-1], f"--path={m}", env=OFFLINE)
    assert r.code == 0 and f"CKX_ML_MODEL_FILE_WITH_PATH={m}" in r.out, r
