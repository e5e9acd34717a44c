"""The shipped package entries: valid metas, CK's tag queries, the real COCO meta offline and
from a mirror, --path on the real 206-image COCO copy, the _subset.N view, ckx prefetch."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from ckx.artifacts.prepare import parse_download_block, prepare_downloads
from ckx.core.errors import DownloadError
from tests.conftest import shared_data_root
from tests.helpers.httpserver import closed_port_url

from .conftest import PACKAGES, md5, zip_bytes

MINE = sorted(
    p.parent.name for p in PACKAGES.glob("*/meta.yaml") if p.parent.name != "ml-model-ssd-shapes"
)
COCO = PACKAGES / "dataset-coco-2017-val"
MINI = shared_data_root() / "coco2017-val-mini"


def load(alias: str) -> dict:
    return yaml.safe_load((PACKAGES / alias / "meta.yaml").read_text(encoding="utf-8"))


def test_every_package_entry_is_valid_and_indexed(ctx):
    bad = [p.message for p in ctx.index.problems(None) if "/packages/" in p.path]
    assert bad == []
    indexed = {e.alias for e in ctx.search("package", None)}
    assert set(MINE) <= indexed


def run_env(meta: dict) -> dict:
    """The env a download block is read with in a run: defaults, env, the default version."""
    env = {**(meta.get("default_env") or {}), **(meta.get("env") or {})}
    if meta.get("default_version"):
        env["CKX_VERSION"] = str(meta["default_version"])
    return env


@pytest.mark.parametrize("alias", MINE)
def test_download_blocks_parse_in_every_variation(alias):
    meta = load(alias)
    metas = [meta] + [
        {**meta, "download": v["download"]}
        for v in (meta.get("variations") or {}).values()
        if isinstance(v, dict) and "download" in v
    ]
    for m in metas:
        for item in parse_download_block(m, run_env(m), where=alias):
            assert item.artifact.urls or item.rclone
            assert all(u.startswith(("http://", "https://")) for u in item.artifact.urls)
            assert item.env, f"{alias}: {item.artifact.filename} declares no env"
    if meta.get("download"):
        assert "path.#" in meta["variations"]  # an existing copy can always be registered


@pytest.mark.parametrize(
    ("query", "alias"),
    [
        (
            "model,object-detection,mlperf,onnx,ssd-mobilenet,side.300,non-quantized,opset-8",
            "ml-model-ssd-mobilenet-onnx-opset8",
        ),
        (
            "model,object-detection,mlperf,onnx,ssd-mobilenet,side.300,non-quantized,opset-11",
            "ml-model-ssd-mobilenet-onnx-opset11",
        ),
        (
            "model,object-detection,mlperf,onnx,ssd-resnet34,side.1200,opset-8",
            "ml-model-ssd-resnet34-onnx-opset8",
        ),
        ("model,ssd-resnet34,pytorch", "ml-model-ssd-resnet34-pytorch"),
        ("model,ssd-mobilenet,tf", "ml-model-ssd-mobilenet-tf"),
        ("model,ssd-resnet50,cognata,onnx", "ml-model-ssd-resnet50-cognata-onnx"),
        ("dataset,coco,val,2017,full", "dataset-coco-2017-val"),
        ("dataset,coco,val", "dataset-coco-2017-val"),
        ("dataset,cognata,val_2d", "dataset-cognata-val-2d"),
        ("lib,python-package,onnxruntime", "lib-python-onnxruntime"),
        ("lib,python-package,mlcommons-loadgen", "lib-python-mlcommons-loadgen"),
    ],
)
def test_ck_tag_queries_find_exactly_one_package(ctx, query, alias):
    assert [e.alias for e in ctx.search("package", query)] == [alias]


def test_official_artefacts_are_declared_as_published():
    items = {
        i.artifact.filename: i.artifact
        for a in MINE
        for i in parse_download_block(load(a), run_env(load(a)))
    }
    coco_val = items["val2017.zip"]
    assert coco_val.urls == ["http://images.cocodataset.org/zips/val2017.zip"]
    assert (coco_val.size, coco_val.md5) == (815_585_330, "442b8da7639aecaf257c1dceb8ba8c80")
    ann = items["annotations_trainval2017.zip"]
    assert ann.urls == ["http://images.cocodataset.org/annotations/annotations_trainval2017.zip"]
    assert (ann.size, ann.md5) == (252_907_541, "f4bbac642086de4f52a3fdda2de5fa2c")
    r34 = items["resnet34-ssd1200.onnx"]
    assert r34.urls == ["https://zenodo.org/record/3228411/files/resnet34-ssd1200.onnx"]
    assert (r34.size, r34.sha256) == (
        80_363_696,
        "b417a8186967f1e78670b0075aa72a10e5c7d1a6d5c08af9d13dc97f3d29ef0d",
    )
    assert items["ssd_resnet34_mAP_20.2.onnx"].urls == [
        "https://zenodo.org/record/4735664/files/ssd_resnet34_mAP_20.2.onnx"
    ]
    assert items["resnet34-ssd1200.pytorch"].urls == [
        "https://zenodo.org/record/3236545/files/resnet34-ssd1200.pytorch"
    ]
    assert items["ssd_mobilenet_v1.pytorch"].urls == [
        "https://zenodo.org/record/3239977/files/ssd_mobilenet_v1.pytorch"
    ]
    opset = {
        a: parse_download_block(load(a))[0].artifact.urls[0]
        for a in ("ml-model-ssd-mobilenet-onnx-opset8", "ml-model-ssd-mobilenet-onnx-opset11")
    }
    assert opset == {
        "ml-model-ssd-mobilenet-onnx-opset8": "https://zenodo.org/record/3163026/files/ssd_mobilenet_v1_coco_2018_01_28.onnx",
        "ml-model-ssd-mobilenet-onnx-opset11": "https://zenodo.org/record/4735652/files/ssd_mobilenet_v1_coco_2018_01_28.onnx",
    }
    tf = items["ssd_mobilenet_v1_coco_2018_01_28.tar.gz"]
    assert (tf.size, tf.sha256) == (
        76_541_073,
        "8788f89108519fd1102b8a5c2ac861cf6d86603571b6ce5bbd1c245b7fe005e3",
    )
    assert (
        items["baseline_8MP_ss_scales_fm1_5x5_all_ep60.pth"].md5
        == "26845c3b9573ce115ef29dca4ae5be14"
    )


def offline_copy(meta: dict) -> dict:
    """The meta with each origin URL replaced by one where nothing listens (file names kept)."""
    return {
        **meta,
        "download": [{**i, "url": closed_port_url("/" + i["filename"])} for i in meta["download"]],
    }


def test_coco_without_network_fails_fast_naming_the_url_and_the_mirror_help(make_ctx, tmp_path):
    meta = offline_copy(load("dataset-coco-2017-val"))
    started = time.monotonic()
    with pytest.raises(DownloadError) as err:
        prepare_downloads(make_ctx(), meta, {}, tmp_path / "w", inputs={})
    assert time.monotonic() - started < 10
    assert meta["download"][0]["url"] in err.value.message and "val2017.zip" in err.value.message
    assert "CKX_MIRROR" in err.value.hint and "ckx prefetch" in err.value.hint
    assert not (tmp_path / "w").exists() or list((tmp_path / "w").iterdir()) == []


def test_coco_from_a_mirror_folder_with_the_same_file_names(make_ctx, tmp_path):
    # small stand-ins named like the real archives; their checksums go into a test copy of the
    # meta (the real meta keeps the official ones)
    images = zip_bytes({"val2017/000000000139.jpg": b"a", "val2017/000000000285.jpg": b"b"})
    ann = zip_bytes(
        {"annotations/instances_val2017.json": b"{}", "annotations/captions_val2017.json": b"{}"}
    )
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "val2017.zip").write_bytes(images)
    (mirror / "annotations_trainval2017.zip").write_bytes(ann)
    meta = offline_copy(load("dataset-coco-2017-val"))
    for item, data in zip(meta["download"], (images, ann), strict=True):
        item.update(size=len(data), md5=md5(data))
    work = tmp_path / "w"
    env = prepare_downloads(make_ctx(CKX_MIRROR=str(mirror)), meta, {}, work, inputs={})
    assert env == {
        "CKX_DATASET_IMAGES_PATH": str(work / "val2017"),
        "CKX_DATASET_PATH": str(work),
        "CKX_DATASET_ANNOTATIONS": str(work / "annotations" / "instances_val2017.json"),
    }
    assert sorted(p.name for p in (work / "val2017").iterdir()) == [
        "000000000139.jpg",
        "000000000285.jpg",
    ]


needs_mini = pytest.mark.skipif(not MINI.is_dir(), reason=f"real COCO sample not found at {MINI}")


@needs_mini
def test_path_registers_the_real_coco_copy_without_copying(make_ctx, tmp_path):
    work = tmp_path / "w"
    env = prepare_downloads(
        make_ctx(), load("dataset-coco-2017-val"), {"CKX_PACKAGE_PATH": str(MINI)}, work, inputs={}
    )
    assert env["CKX_DATASET_PATH"] == str(MINI.resolve())
    assert env["CKX_DATASET_ANNOTATIONS"] == str(
        MINI.resolve() / "annotations" / "instances_val2017.json"
    )
    assert [p.name for p in work.iterdir()] == ["ckx-artifacts.json"]


@needs_mini
def test_subset_is_the_first_n_images_in_annotation_order(make_ctx, tmp_path):
    from ckx.engine.hooks import HookInput, call_hook, load_customize

    meta = load("dataset-coco-2017-val")
    work = tmp_path / "w"
    env = {"CKX_DATASET_SUBSET_COUNT": "5", **meta["env"]}
    env.update(prepare_downloads(make_ctx(), meta, {}, work, inputs={"path": str(MINI)}))
    hook = HookInput(
        env=env,
        state={},
        meta=meta,
        input={},
        script_path=COCO,
        run_path=work,
        variations=["subset.5"],
        variation_values={"subset": "5"},
        version=None,
        constraints={},
        tags=meta["tags"],
    )
    call_hook(load_customize(COCO / "customize.py"), "preprocess", hook, "dataset-coco-2017-val")
    full = json.loads((MINI / "annotations" / "instances_val2017.json").read_text())
    sub = json.loads(Path(env["CKX_DATASET_ANNOTATIONS"]).read_text())
    first = full["images"][:5]
    assert sub["images"] == first and sub["categories"] == full["categories"]
    ids = {i["id"] for i in first}
    assert sub["annotations"] == [a for a in full["annotations"] if a["image_id"] in ids]
    assert sorted(p.name for p in Path(env["CKX_DATASET_IMAGES_PATH"]).iterdir()) == sorted(
        i["file_name"] for i in first
    )
    assert env["CKX_DATASET_COUNT"] == "5" and Path(env["CKX_DATASET_PATH"]).parent == work
    linked = Path(env["CKX_DATASET_IMAGES_PATH"]) / first[0]["file_name"]
    assert linked.read_bytes() == (MINI / "val2017" / first[0]["file_name"]).read_bytes()


def test_prefetch_action_fills_a_mirror(make_ctx, http_server, tmp_path):
    """`ckx prefetch package --tags=... --to=DIR` over a repo whose package points at the test server."""
    from ckx.app.api import run
    from ckx.core.repos import Repo

    data = b"weights" * 1000
    repo = tmp_path / "repo"
    (repo / "package" / "tiny-model").mkdir(parents=True)
    (repo / "repo.yaml").write_text("alias: t\nuid: 00000000000000ab\n")
    (repo / "package" / "tiny-model" / "meta.yaml").write_text(
        yaml.safe_dump(
            {
                "alias": "tiny-model",
                "uid": "00000000000000ac",
                "automation_alias": "package",
                "tags": ["tiny", "model"],
                "download": [
                    {
                        "url": http_server.add("/w.bin", data),
                        "md5": md5(data),
                        "env": {"CKX_ML_MODEL_FILE_WITH_PATH": "w.bin"},
                    }
                ],
                "variations": {
                    "other": {
                        "download": [
                            {
                                "url": http_server.add("/o.bin", b"other"),
                                "env": {"CKX_ML_MODEL_FILE_WITH_PATH": "o.bin"},
                            }
                        ]
                    }
                },
            }
        )
    )
    ctx = make_ctx()
    ctx.registry.add(Repo(alias="t", uid="00000000000000ab", path=repo))
    out = run(
        ctx,
        {
            "action": "prefetch",
            "automation": "package",
            "tags": "tiny,model",
            "to": str(tmp_path / "m"),
        },
    )
    assert out["packages"] == ["tiny-model"] and (tmp_path / "m" / "w.bin").read_bytes() == data
    run(
        ctx,
        {
            "action": "prefetch",
            "automation": "package",
            "tags": "tiny,_other",
            "to": str(tmp_path / "m2"),
        },
    )
    assert [p.name for p in (tmp_path / "m2").iterdir() if p.is_file()] == ["o.bin"]
    with pytest.raises(Exception, match="--to=DIR"):
        run(ctx, {"action": "prefetch", "automation": "package", "tags": "tiny"})
