"""Fixtures for the CK-tutorial tests: a ckx runner, a machine without network (a proxy on a
closed port; 127.0.0.1 exempt), a local mirror served over HTTP, and builders for what the
mirror serves: ONNX files, a CMake-like source release, git repositories."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.helpers` must import however pytest was started
    sys.path.insert(0, str(ROOT))

from tests.conftest import ckx_process  # noqa: E402
from tests.helpers.httpserver import closed_port_url, http_server  # noqa: E402,F401

#: What a tutorial user's shell would not have: a mirror, a venv of the test runner
_NOT_INHERITED = ("CKX_MIRROR", "VIRTUAL_ENV", "CKX_VENV")

#: A machine without network: every origin is unreachable, the local mirror is not.
OFFLINE = {
    "HTTP_PROXY": closed_port_url("").rstrip("/"),
    "HTTPS_PROXY": closed_port_url("").rstrip("/"),
    "ALL_PROXY": closed_port_url("").rstrip("/"),
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
MODEL = "models/ssd-mobilenet-v1-quant-coco/ssd_mobilenet_v1_coco_quant_2018_06_29_mlperf_io.onnx"
COCO = "coco2017-val-mini"
MOBILENET_OUT = [
    "num_detections:0",
    "detection_boxes:0",
    "detection_scores:0",
    "detection_classes:0",
]


def data_root() -> Path:
    """Real data: ``$CKX_TEST_DATA`` or ``<project>/../shared/data``."""
    return Path(os.environ.get("CKX_TEST_DATA") or ROOT.parent / "shared" / "data")


@pytest.fixture
def real_data() -> Path:
    root = data_root()
    if not (root / MODEL).is_file() or not (root / COCO / "annotations").is_dir():
        pytest.skip(f"real data not found under {root} (set CKX_TEST_DATA)")
    return root


class Ran:
    def __init__(self, args, p: subprocess.CompletedProcess) -> None:
        self.args, self.code, self.out, self.err = args, p.returncode, p.stdout, p.stderr

    def __repr__(self) -> str:
        return f"ckx {' '.join(self.args)} -> {self.code}\n--- out\n{self.out}\n--- err\n{self.err}"


def run_ckx(home: Path, *args: str, env: dict | None = None, cwd: Path | None = None, timeout=600):
    """``ckx ARGS`` as a real subprocess (stdin closed: not a terminal)."""
    env = {"OMP_NUM_THREADS": "1", **(env or {})}
    p = ckx_process(home, *args, env=env, cwd=cwd, timeout=timeout, drop=_NOT_INHERITED)
    return Ran(args, p)


@pytest.fixture
def ckx(ckx_home):
    def run(*args: str, **kw):
        return run_ckx(ckx_home, *args, **kw)

    return run


# --- what a mirror serves ------------------------------------------------------------------------


def onnx_model(
    path: Path,
    inputs: list[tuple[str, int, list]],
    outputs: list[str],
    *,
    opset: int = 8,
    quantized: bool = False,
    producer: str = "ckx-test",
) -> Path:
    """A valid ONNX file with that interface: each output is a Constant (float, zeros); with
    ``quantized`` a QuantizeLinear/DequantizeLinear pair feeds the first one."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shapes = {"num_detections:0": [1], "detection_boxes:0": [1, 100, 4]}
    nodes, outs = [], []
    for k, name in enumerate(outputs):
        shape = shapes.get(name, [1, 100])
        src = f"c{k}" if quantized and k == 0 else name
        value = numpy_helper.from_array(np.zeros(shape, np.float32), f"v{k}")
        nodes.append(helper.make_node("Constant", [], [src], value=value))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    if quantized:
        scale = helper.make_node(
            "Constant", [], ["s"], value=numpy_helper.from_array(np.float32(0.1))
        )
        zp = helper.make_node("Constant", [], ["z"], value=numpy_helper.from_array(np.uint8(0)))
        q = helper.make_node("QuantizeLinear", ["c0", "s", "z"], ["q0"])
        dq = helper.make_node("DequantizeLinear", ["q0", "s", "z"], [outputs[0]])
        nodes += [scale, zp, q, dq]
    ins = [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs]
    graph = helper.make_graph(nodes, "test", ins, outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 4 if opset < 11 else 7
    model.producer_name = producer
    onnx.save(model, str(path))
    return path


def mobilenet_like(path: Path, **kw) -> Path:
    from onnx import TensorProto

    return onnx_model(
        path, [("image_tensor:0", TensorProto.UINT8, [1, 300, 300, 3])], MOBILENET_OUT, **kw
    )


def cmake_source_tarball(version: str) -> bytes:
    """``cmake-VERSION.tar.gz`` laid out like Kitware's release, tiny: ``bootstrap`` (out of
    source, --prefix/--parallel, then ``--`` and cache flags) writes a Makefile that compiles
    ``cmake.c`` (prints ``cmake version VERSION``) with the system C compiler."""
    bootstrap = f"""#!/bin/sh
set -e
src="$(cd "$(dirname "$0")" && pwd)"
prefix=/usr/local
for a in "$@"; do case "$a" in --prefix=*) prefix="${{a#--prefix=}}";; --) break;; esac; done
echo "---------------------------------------------"
echo "CMake {version}, Copyright 2000-2024 Kitware, Inc. and Contributors (test source)"
printf 'all: bin/cmake\\nbin/cmake: %s/cmake.c\\n\\tmkdir -p bin && $(CC) -o bin/cmake %s/cmake.c\\ninstall: bin/cmake\\n\\tmkdir -p %s/bin && cp bin/cmake %s/bin/cmake\\n' "$src" "$src" "$prefix" "$prefix" > Makefile
echo "CMake has bootstrapped.  Now run make."
"""
    files = {
        "bootstrap": (bootstrap.encode(), 0o755),
        "CMakeLists.txt": (b"# test source\n", 0o644),
        "cmake.c": (
            f'#include <stdio.h>\nint main(void) {{ printf("cmake version {version}\\n"); return 0; }}\n'.encode(),
            0o644,
        ),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(f"cmake-{version}/{name}")
            info.size, info.mode = len(data), mode
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def git_bare_repo(tmp: Path, name: str, files: dict[str, str], branch: str = "master") -> Path:
    """A bare git repo ``tmp/<name>.git`` holding ``files`` in one commit on ``branch``,
    ready to be served over plain HTTP (``git update-server-info``)."""
    work = tmp / f"{name}-work"
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t")
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    for cmd in (["init", "-q", "-b", branch], ["add", "-A"], ["commit", "-qm", "test"]):
        subprocess.run(["git", *cmd], cwd=work, env=env, check=True, capture_output=True)
    bare = tmp / f"{name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    subprocess.run(["git", "update-server-info"], cwd=bare, check=True)
    shutil.rmtree(work)
    return bare


def serve_tree(server, prefix: str, folder: Path) -> None:
    """Add every file under ``folder`` to ``server`` at ``/prefix/<relative path>``."""
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            server.add(f"/{prefix}/{p.relative_to(folder).as_posix()}", p.read_bytes())


def small_coco(root: Path, n: int = 5) -> Path:
    """A COCO root the dataset package accepts as a --path copy (its first image is the
    ``000000000139.jpg`` the package expects), with real JPEG files."""
    sys.path.insert(0, str(ROOT / "tests" / "odbench"))
    try:
        from synth import make_coco
    finally:
        sys.path.remove(str(ROOT / "tests" / "odbench"))
    s = make_coco(str(root), n_images=n)
    first = s.images[0]["file_name"]
    (root / "val2017" / first).rename(root / "val2017" / "000000000139.jpg")
    ann = root / "annotations" / "instances_val2017.json"
    data = json.loads(ann.read_text())
    data["images"][0]["file_name"] = "000000000139.jpg"
    ann.write_text(json.dumps(data))
    return root
