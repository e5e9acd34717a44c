"""The CK catalogue of the MLPerf object-detection tutorial: every package query plans, source
packages build from a mirror, versions as tags and CK's version menu, CK's program name, venv
template, platform.os, setup kernel, CK repos, program help, model registration checks."""

from __future__ import annotations

import io
import shutil

import pytest

from .conftest import (
    OFFLINE,
    ROOT,
    cmake_source_tarball,
    git_bare_repo,
    mobilenet_like,
    onnx_model,
    serve_tree,
)

#: Every `ck install package --tags=...` of the tutorial (docs/ck-tutorial.md).
TUTORIAL_PACKAGES = [
    "tool,cmake,src",
    "mlperf,inference,src,dev",
    "lib,python-package,absl",
    "lib,python-package,numpy",
    "lib,python-package,mlperf,loadgen",
    "lib,python-package,matplotlib",
    "lib,python-package,cython",
    "lib,python-package,opencv-python-headless",
    "tool,coco,api",
    "dataset,coco,val,2017,full",
    "lib,python-package,onnxruntime-cpu",
    "lib,python-package,onnxruntime-cpu,1.6.0",
    "model,object-detection,mlperf,onnx,ssd-mobilenet,side.300,non-quantized,opset-8",
    "model,object-detection,mlperf,onnx,ssd-mobilenet,side.300,non-quantized,opset-11",
    "model,object-detection,mlperf,onnx,ssd-resnet34,side.1200,non-quantized,opset-8",
]


@pytest.mark.parametrize("tags", TUTORIAL_PACKAGES)
def test_every_tutorial_package_query_plans_offline(ckx, tags):
    r = ckx("install", "package", f"--tags={tags}", "--plan", env=OFFLINE)
    assert r.code == 0, r
    assert "artefacts:" in r.out  # what is there, what would be fetched and from where


def test_a_version_written_as_a_tag_is_the_version(ckx):
    r = ckx("install", "package", "--tags=lib,python-package,onnxruntime-cpu,1.6.0", "--plan")
    assert r.code == 0, r
    assert "the tag 1.6.0 is a version: --version=1.6.0" in r.err
    assert r.out.startswith("lib-python-onnxruntime v1.6.0")
    assert "pip install onnxruntime==1.6.0 into" in r.out
    r = ckx(
        "install", "package", "--tags=lib,python-package,onnxruntime-cpu,1.6.0", "--version=1.7.0"
    )
    assert r.code == 2 and "disagree" in r.err, r


def test_version_menu_with_a_terminal_and_the_default_without(ctx):
    from ckx.core.automations import load_module
    from ckx.core.query import parse
    from ckx.core.ui import UI

    mod = load_module(ROOT / "automation" / "package" / "module.py", "t_package")
    i = {"automation": "package", "query": parse("lib,python-package,onnxruntime-cpu")}
    assert mod._version_menu(ctx, i) is i  # no terminal: the documented default, unchanged
    out = io.StringIO()
    ctx.ui = UI(mode="con", interactive=True, inp=io.StringIO("2\n"), out=out)
    picked = mod._version_menu(ctx, i)
    versions = ctx.load("package", "lib-python-onnxruntime").meta["python_package"]["versions"]
    assert picked["version"] == versions[1]
    assert "onnxruntime: select a version" in out.getvalue() and "1.6.0" in out.getvalue()
    assert mod._version_menu(ctx, {**i, "version": "1.6.0"})["version"] == "1.6.0"  # asked: no menu


def _inference_repo(tmp_path):
    return git_bare_repo(
        tmp_path,
        "inference",
        {
            "loadgen/loadgen.h": "// loadgen\n",
            "loadgen/setup.py": "# setup\n",
            "mlperf.conf": "#\n",
        },
    )


def test_inference_sources_from_a_mirror_folder_then_over_http(ckx, tmp_path, http_server):
    bare = _inference_repo(tmp_path / "mirror")
    r = ckx(
        "install",
        "package",
        "--tags=mlperf,inference,src,dev",
        env={**OFFLINE, "CKX_MIRROR": str(bare.parent)},
    )
    assert r.code == 0, r
    assert f"git clone {bare}" in r.err and "checked out" in r.err
    assert "CKX_MLPERF_INFERENCE_SOURCE_COMMIT=" in r.out
    src = next(ln for ln in r.out.splitlines() if "CKX_MLPERF_INFERENCE_LOADGEN_SOURCE=" in ln)
    assert (tmp_path.parent / src.split("=", 1)[1] / "loadgen.h").is_file() or src.endswith(
        "/loadgen"
    )
    serve_tree(http_server, "mirror/inference.git", bare)
    r = ckx(
        "install",
        "package",
        "--tags=mlperf,inference,src,dev,_branch.master",
        "--new",
        env={**OFFLINE, "CKX_MIRROR": http_server.url("/mirror")},
    )
    assert r.code == 0 and http_server.url("/mirror/inference.git") in r.err, r


def test_inference_sources_offline_without_a_mirror_fail_with_the_mirror_hint(ckx):
    r = ckx("install", "package", "--tags=mlperf,inference,src,dev", env=OFFLINE)
    assert r.code == 7, r
    assert "could not clone https://github.com/mlcommons/inference.git" in r.err
    assert "CKX_MIRROR" in r.err and "<name>.git" in r.err


def test_prefetch_writes_a_servable_git_mirror(ckx, tmp_path):
    bare = _inference_repo(tmp_path / "src")
    to = tmp_path / "mirror"
    r = ckx(
        "prefetch",
        "package",
        "--tags=mlperf,inference,src",
        f"--to={to}",
        env={**OFFLINE, "CKX_MIRROR": str(bare.parent)},
    )
    assert r.code == 0, r
    assert (to / "inference.git" / "info" / "refs").is_file()


@pytest.mark.skipif(not (shutil.which("cc") and shutil.which("make")), reason="needs cc and make")
def test_cmake_is_built_from_its_source_release_with_progress(ckx, http_server):
    http_server.add("/m/cmake-3.28.3.tar.gz", cmake_source_tarball("3.28.3"))
    env = {**OFFLINE, "CKX_MIRROR": http_server.url("/m")}
    r = ckx("install", "package", "--quiet", "--tags=tool,cmake,src", env=env)
    assert r.code == 0, r
    assert "CKX_CMAKE_BIN_WITH_PATH=" in r.out and "done (ran) version 3.28.3" in r.out
    r = ckx("install", "package", "--tags=tool,cmake,src", "--new", env=env)
    assert r.code == 0, r
    for step in ("[cmake-src +", "bootstrap:", "make -j", "make install", "done: "):
        assert step in r.err, step  # each step, with the elapsed time, as it runs


def test_cmake_offline_without_a_mirror_fails_with_the_mirror_hint(ckx):
    r = ckx("install", "package", "--quiet", "--tags=tool,cmake,src", env=OFFLINE)
    assert r.code == 7 and "cmake-3.28.3.tar.gz" in r.err and "CKX_MIRROR" in r.err, r


def test_cks_program_name_is_od_bench_with_its_defaults(ckx):
    name = "program:mlperf-inference-bench-object-detection-onnx-cpu"
    r = ckx("run", name, "--cmd_key=accuracy-offline", "--plan", env=OFFLINE)
    assert r.code == 0, r
    assert (
        f"{name} is program:od-bench --model=ssd-mobilenet --backend=onnxruntime --device=cpu"
        in r.err
    )
    assert r.out.startswith("od-bench _onnxruntime,_ssd-mobilenet")
    r = ckx(
        "run", name, "--cmd_key=accuracy-offline", "--model=ssd-resnet34", "--plan", env=OFFLINE
    )
    assert r.code == 0 and r.out.startswith("od-bench _onnxruntime,_ssd-resnet34"), r
    r = ckx("run", name)  # no cmd_key and no terminal: CK's menu, as an error listing it
    assert r.code == 2 and "performance-singlestream" in r.err, r


def test_program_help_lists_cmd_keys_variations_and_inputs(ckx):
    r = ckx("run", "program:od-bench", "--help")
    assert r.code == 0, r
    for text in (
        "accuracy-offline",
        "performance-multistream",
        "model: ssd-shapes (default), ssd-mobilenet",
        "backend: onnxruntime (default), pytorch",
        "--model_path",
        "--device           where the model runs [cpu | cuda] (default: cpu)",
        "--framework = --backend",
    ):
        assert text in r.out, text
    r = ckx("run", "program", "--help")
    assert r.code == 0 and "mlperf-inference-bench-object-detection-onnx-cpu" in r.out, r


def test_platform_os_setup_kernel_and_ck_repos(ckx):
    r = ckx("detect", "platform.os", "--platform_init_uoa=generic-linux-dummy")
    assert r.code == 0 and r.out.startswith("platform.os  "), r
    r = ckx("detect", "platform.os", "--platform_init_uoa=odroid")
    assert r.code == 2 and "generic-linux-dummy" in r.err, r
    r = ckx("setup", "kernel", "--var.install_to_env=yes")
    assert r.code == 0 and "always so in ckx" in r.out, r
    assert ckx("setup", "kernel", "--var.install_to_env=no").code == 2
    r = ckx("setup", "kernel", "--var.instal_to_env=yes")
    assert r.code == 2 and "did you mean 'install_to_env'" in r.err, r
    for repo in ("mlcommons@ck-venv", "mlcommons@ck-mlops"):
        r = ckx("pull", f"repo:{repo}", env=OFFLINE)
        assert r.code == 0 and "built in" in r.out, r


def test_the_dev_venv_template_holds_what_od_bench_imports():
    import yaml

    from ckx.artifacts.venvs import TEMPLATES

    meta = yaml.safe_load((ROOT / "programs" / "od-bench" / "meta.yaml").read_text())
    wanted = {
        d["tags"].split("_", 1)[1]
        for d in meta["deps"] + meta["variations"]["onnxruntime"]["deps"]
        if "generic-python-lib" in d["tags"]
    }
    assert wanted <= set(TEMPLATES["mlperf-inference-dev"])
    assert {"absl-py", "Cython"} <= set(TEMPLATES["mlperf-inference-dev"])


@pytest.mark.slow  # a real venv
def test_pip_progress_says_what_runs_and_how_long(tmp_path):
    from ckx.artifacts.venvs import create_venv
    from tests.packages.test_venvs import build_wheel

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "ckxprogresspkg", "1.0.0")
    said: list[str] = []
    create_venv(
        tmp_path / "home",
        "p",
        requirements=["ckxprogresspkg"],
        pip_args=["--no-index", "--find-links", str(wheels)],
        report=said.append,
    )
    text = "\n".join(said)
    assert "pip install ckxprogresspkg (into" in text
    assert "Successfully installed ckxprogresspkg-1.0.0" in text
    assert "pip install ckxprogresspkg: done in" in text


def test_a_model_registered_under_the_wrong_tags_is_refused(ckx, tmp_path):
    TensorProto = pytest.importorskip("onnx").TensorProto  # the onnx extra: models are made here
    q8 = "--tags=model,object-detection,mlperf,onnx,ssd-mobilenet,side.300,non-quantized,opset-8"
    quant = mobilenet_like(tmp_path / "quant.onnx", opset=13, quantized=True)
    r = ckx("install", "package", q8, f"--path={quant}")
    assert r.code == 2, r
    assert "refusing to register it" in r.err
    assert "its opset is 13, the entry says 8" in r.err and "it is quantized" in r.err
    other = onnx_model(
        tmp_path / "r.onnx", [("image", TensorProto.FLOAT, [1, 3, 1200, 1200])], ["bboxes"], opset=8
    )
    r = ckx("install", "package", q8, f"--path={other}")
    assert r.code == 2 and "its inputs are image, the entry says image_tensor:0" in r.err, r
    good = mobilenet_like(tmp_path / "good.onnx", opset=8)
    r = ckx("install", "package", q8, f"--path={good}")
    assert r.code == 0 and f"CKX_ML_MODEL_FILE_WITH_PATH={good}" in r.out, r
