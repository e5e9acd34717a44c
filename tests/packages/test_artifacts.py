"""prepare_downloads: the download block fetched from a real local HTTP server, verified,
placed in the working folder (files linked, archives extracted), env returned; failures leave
nothing behind; mirrors and prefetch for machines without network."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from ckx.artifacts.prepare import (
    MANIFEST,
    check_prepared,
    parse_download_block,
    plan_artifacts,
    prefetch_items,
    prepare_downloads,
)
from ckx.core.errors import (
    ArchiveError,
    ChecksumError,
    ConflictError,
    DownloadError,
    MetaError,
    NotFoundError,
)
from tests.helpers.httpserver import closed_port_url

from .conftest import md5, sha256, store_objects, store_temp_files, zip_bytes

MODEL = b"onnx-model-bytes " * 4000
IMAGES_ZIP = zip_bytes(
    {"val2017/000000000001.jpg": b"jpeg-1", "val2017/000000000002.jpg": b"jpeg-2"}
)
ANN_ZIP = zip_bytes({"annotations/instances_val2017.json": b'{"images": []}'})


def model_meta(url: str, **extra) -> dict:
    item = {
        "url": url,
        "filename": "model.onnx",
        "size": len(MODEL),
        "sha256": sha256(MODEL),
        "env": {"CKX_ML_MODEL_FILE_WITH_PATH": "model.onnx"},
        **extra,
    }
    return {"alias": "test-model", "download": [item]}


def dataset_meta(images_url: str, ann_url: str) -> dict:
    return {
        "alias": "test-coco",
        "download": [
            {
                "url": images_url,
                "filename": "val2017.zip",
                "md5": md5(IMAGES_ZIP),
                "extract": True,
                "expect": ["val2017/000000000001.jpg"],
                "env": {"CKX_DATASET_IMAGES_PATH": "val2017"},
            },
            {
                "urls": [ann_url],
                "filename": "annotations.zip",
                "size": len(ANN_ZIP),
                "sha256": sha256(ANN_ZIP),
                "extract": True,
                "expect": ["annotations/instances_val2017.json"],
                "env": {
                    "CKX_DATASET_PATH": ".",
                    "CKX_DATASET_ANNOTATIONS": "annotations/instances_val2017.json",
                },
            },
        ],
    }


def test_file_is_fetched_linked_into_workdir_and_env_returned(
    make_ctx, http_server, tmp_path, ckx_home
):
    url = http_server.add("/m/model.onnx", MODEL)
    work = tmp_path / "work"
    env = prepare_downloads(make_ctx(), model_meta(url), {}, work, inputs={})
    placed = work / "model.onnx"
    assert env == {"CKX_ML_MODEL_FILE_WITH_PATH": str(placed)}
    assert placed.read_bytes() == MODEL
    assert store_objects(ckx_home) == [sha256(MODEL)]
    assert (
        placed.stat().st_ino
        == (ckx_home / "objects" / "sha256" / sha256(MODEL)[:2] / sha256(MODEL)[2:]).stat().st_ino
    )
    assert sorted(p.name for p in work.iterdir()) == [MANIFEST, "model.onnx"]
    assert check_prepared(work) == []
    # a second package folder needing the same file reuses the stored object: no new request
    prepare_downloads(make_ctx(), model_meta(url), {}, tmp_path / "work2", inputs={})
    assert http_server.count("/m/model.onnx") == 1


def test_archives_are_extracted_into_one_layout(make_ctx, http_server, tmp_path):
    meta = dataset_meta(
        http_server.add("/zips/val2017.zip", IMAGES_ZIP),
        http_server.add("/ann/annotations.zip", ANN_ZIP),
    )
    work = tmp_path / "work"
    env = prepare_downloads(make_ctx(), meta, {}, work, inputs={})
    assert env == {
        "CKX_DATASET_IMAGES_PATH": str(work / "val2017"),
        "CKX_DATASET_PATH": str(work),
        "CKX_DATASET_ANNOTATIONS": str(work / "annotations" / "instances_val2017.json"),
    }
    assert (work / "val2017" / "000000000002.jpg").read_bytes() == b"jpeg-2"
    assert sorted(p.name for p in work.iterdir()) == ["annotations", MANIFEST, "val2017"]
    assert not (work / "val2017.zip").exists()  # the archive stays in the store only
    (work / "val2017" / "000000000002.jpg").unlink()
    assert check_prepared(work) == [
        f"{work / 'val2017' / '000000000002.jpg'} (val2017.zip) is gone"
    ]


def test_tar_with_strip_components_into_dest(make_ctx, http_server, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in {
            "ssd_mobilenet_v1_coco_2018_01_28/frozen_inference_graph.pb": b"pb",
            "ssd_mobilenet_v1_coco_2018_01_28/pipeline.config": b"cfg",
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    meta = {
        "download": {
            "url": http_server.add("/tf/model.tar.gz", data),
            "sha256": sha256(data),
            "extract": True,
            "strip_components": 1,
            "dest": "tf",
            "env": {"CKX_ML_MODEL_FILE_WITH_PATH": "tf/frozen_inference_graph.pb"},
        }
    }
    env = prepare_downloads(make_ctx(), meta, {}, tmp_path / "w", inputs={})
    assert Path(env["CKX_ML_MODEL_FILE_WITH_PATH"]).read_bytes() == b"pb"
    assert (tmp_path / "w" / "tf" / "pipeline.config").is_file()


def test_checksum_mismatch_caches_nothing_and_leaves_workdir_empty(
    make_ctx, http_server, tmp_path, ckx_home
):
    url = http_server.add("/m/model.onnx", MODEL, wrong_bytes=True)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ChecksumError) as err:
        prepare_downloads(make_ctx(), model_meta(url), {}, work, inputs={})
    assert url in err.value.message and sha256(MODEL) in err.value.message
    assert store_objects(ckx_home) == [] and store_temp_files(ckx_home) == []
    assert list(work.iterdir()) == []


def test_one_failing_item_places_nothing(make_ctx, http_server, tmp_path, ckx_home):
    meta = dataset_meta(
        http_server.add("/zips/val2017.zip", IMAGES_ZIP), http_server.url("/ann/missing.zip")
    )
    work = tmp_path / "work"
    with pytest.raises(DownloadError) as err:
        prepare_downloads(make_ctx(), meta, {}, work, inputs={})
    assert "/ann/missing.zip: HTTP 404" in err.value.message
    assert not work.exists() or list(work.iterdir()) == []
    # the verified first archive stays in the store (reused next time), the failed one is not there
    assert store_objects(ckx_home) == [sha256(IMAGES_ZIP)]


def test_missing_expected_path_fails_and_leaves_workdir_empty(make_ctx, http_server, tmp_path):
    meta = dataset_meta(
        http_server.add("/zips/val2017.zip", IMAGES_ZIP), http_server.add("/a.zip", ANN_ZIP)
    )
    meta["download"][0]["expect"] = ["val2017/000000000139.jpg"]
    work = tmp_path / "work"
    with pytest.raises(
        ArchiveError, match=r"val2017\.zip did not provide val2017/000000000139\.jpg"
    ):
        prepare_downloads(make_ctx(), meta, {}, work, inputs={})
    assert list(work.iterdir()) == []


def test_two_items_providing_the_same_file_conflict(make_ctx, http_server, tmp_path):
    url = http_server.add("/m/model.onnx", MODEL)
    meta = model_meta(url)
    meta["download"].append(dict(meta["download"][0]))
    with pytest.raises(ConflictError, match="two download items provide model.onnx"):
        prepare_downloads(make_ctx(), meta, {}, tmp_path / "w", inputs={})
    assert list((tmp_path / "w").iterdir()) == []


@pytest.mark.parametrize("mirror_kind", ["folder", "http"])
def test_prefetch_then_prepare_with_origin_unreachable(
    make_ctx, http_server, tmp_path, mirror_kind, ckx_home
):
    images = http_server.add("/zips/val2017.zip", IMAGES_ZIP)
    ann = http_server.add("/ann/annotations.zip", ANN_ZIP)
    model = http_server.add("/m/model.onnx", MODEL)
    package_set = [dataset_meta(images, ann), model_meta(model)]
    mirror = tmp_path / "mirror"
    items = [item for meta in package_set for item in parse_download_block(meta)]
    results = prefetch_items(make_ctx(), items, mirror)
    assert len(results) == 3
    assert sorted(p.name for p in mirror.iterdir()) == [
        "annotations.zip",
        "model.onnx",
        "sha256",
        "val2017.zip",
    ]
    assert all(not p.is_symlink() for p in mirror.rglob("*"))

    # the air-gapped machine: a fresh home, the origin's port closed, only the mirror
    import shutil

    shutil.rmtree(ckx_home / "objects")
    offline = [
        dict(
            meta,
            download=[
                dict(i, url=closed_port_url("/" + i["filename"]), urls=None)
                for i in meta["download"]
            ],
        )
        for meta in package_set
    ]
    if mirror_kind == "folder":
        where = str(mirror)
    else:
        for f in mirror.iterdir():
            if f.is_file():
                http_server.add("/mirror/" + f.name, f.read_bytes())
        where = http_server.url("/mirror")
    ctx = make_ctx(CKX_MIRROR=where)
    started = time.monotonic()
    env = prepare_downloads(ctx, offline[0], {}, tmp_path / "coco", inputs={})
    env.update(prepare_downloads(ctx, offline[1], {}, tmp_path / "model", inputs={}))
    assert time.monotonic() - started < 30
    assert (Path(env["CKX_DATASET_IMAGES_PATH"]) / "000000000001.jpg").read_bytes() == b"jpeg-1"
    assert Path(env["CKX_ML_MODEL_FILE_WITH_PATH"]).read_bytes() == MODEL


def test_config_file_mirrors_are_used(make_ctx, http_server, tmp_path, ckx_home):
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "model.onnx").write_bytes(MODEL)
    (ckx_home / "config.yaml").write_text(f"mirrors: [{mirror}]\n")
    env = prepare_downloads(
        make_ctx(), model_meta(closed_port_url("/model.onnx")), {}, tmp_path / "w", inputs={}
    )
    assert Path(env["CKX_ML_MODEL_FILE_WITH_PATH"]).read_bytes() == MODEL


def test_offline_without_mirror_fails_fast_naming_url_and_mirror_help(make_ctx, tmp_path):
    url = closed_port_url("/model.onnx")
    started = time.monotonic()
    with pytest.raises(DownloadError) as err:
        prepare_downloads(make_ctx(), model_meta(url), {}, tmp_path / "w", inputs={})
    assert time.monotonic() - started < 10
    assert url in err.value.message
    assert "CKX_MIRROR" in err.value.hint and "ckx prefetch" in err.value.hint


# --- existing copies: --path / _path.# -------------------------------------------------------------


def test_path_registers_an_existing_folder_without_copying(make_ctx, tmp_path, ckx_home):
    mine = tmp_path / "my-models"
    mine.mkdir()
    (mine / "model.onnx").write_bytes(MODEL)
    work = tmp_path / "work"
    env = prepare_downloads(
        make_ctx(), model_meta(closed_port_url()), {}, work, inputs={"path": str(mine)}
    )
    assert env == {"CKX_ML_MODEL_FILE_WITH_PATH": str(mine / "model.onnx")}
    assert store_objects(ckx_home) == []
    assert [p.name for p in work.iterdir()] == [MANIFEST]
    assert check_prepared(work) == []
    (mine / "model.onnx").unlink()
    assert check_prepared(work) == [f"{mine / 'model.onnx'} (model.onnx) is gone"]


def test_path_may_name_the_file_itself(make_ctx, tmp_path):
    f = tmp_path / "renamed.onnx"
    f.write_bytes(MODEL)
    env = prepare_downloads(
        make_ctx(),
        model_meta(closed_port_url()),
        {"CKX_PACKAGE_PATH": str(f)},
        tmp_path / "w",
        inputs={},
    )
    assert env == {"CKX_ML_MODEL_FILE_WITH_PATH": str(f)}


def test_path_missing_expected_file_is_named(make_ctx, tmp_path):
    root = tmp_path / "coco"
    (root / "val2017").mkdir(parents=True)
    (root / "val2017" / "000000000001.jpg").write_bytes(b"x")
    meta = dataset_meta(closed_port_url(), closed_port_url())
    with pytest.raises(NotFoundError) as err:
        prepare_downloads(make_ctx(), meta, {}, tmp_path / "w", inputs={"path": str(root)})
    assert "annotations/instances_val2017.json is missing" in err.value.message
    assert str(root) in err.value.message


def test_path_checksum_is_checked_where_known(make_ctx, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "model.onnx").write_bytes(MODEL[:-1] + b"X")
    with pytest.raises(ChecksumError, match="sha256 .* does not match"):
        prepare_downloads(
            make_ctx(),
            model_meta(closed_port_url()),
            {},
            tmp_path / "w",
            inputs={"path": str(mine)},
        )
    (mine / "model.onnx").write_bytes(MODEL[:100])
    with pytest.raises(ChecksumError, match="has 100 bytes"):
        prepare_downloads(
            make_ctx(),
            model_meta(closed_port_url()),
            {},
            tmp_path / "w",
            inputs={"path": str(mine)},
        )


def test_path_that_does_not_exist(make_ctx, tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        prepare_downloads(
            make_ctx(),
            model_meta(closed_port_url()),
            {},
            tmp_path / "w",
            inputs={"path": str(tmp_path / "nope")},
        )


# --- the block itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"filename": "x"}, "needs 'url', 'urls', 'rclone' or 'git'"),
        ({"url": "http://h/x", "sha256": "abc"}, "'sha256' must be 64 hex digits"),
        ({"url": "http://h/x", "dest": "../up"}, "'dest' must be a path inside"),
        ({"url": "http://h/x", "env": {"1BAD": "."}}, "not an env var name"),
        ({"url": "http://h/x", "colour": "red"}, "unknown field 'colour'"),
        ({"rclone": "no-colon"}, "must be 'remote:path'"),
    ],
)
def test_malformed_items_are_named(item, problem):
    with pytest.raises(MetaError, match=problem) as err:
        parse_download_block({"download": [item]}, where="pkg/meta.yaml")
    assert "pkg/meta.yaml: download[0]" in err.value.message


def test_plan_artifacts_substitutes_env():
    meta = {"download": [{"url": "http://h/<<<CKX_VER>>>/m.onnx", "md5": "0" * 32}]}
    [art] = plan_artifacts(meta, {"CKX_VER": "v2"})
    assert art.urls == ["http://h/v2/m.onnx"] and art.filename == "m.onnx" and art.md5 == "0" * 32
    with pytest.raises(MetaError, match="CKX_VER is not set"):
        plan_artifacts(meta, {})


def test_rclone_item_filename_defaults_to_the_remote_file():
    [item] = parse_download_block(
        {"download": [{"rclone": "mlc-cognata:a/b/val_2d.tar.gz", "extract": True}]}
    )
    assert item.artifact.filename == "val_2d.tar.gz" and item.artifact.urls == [] and item.extract


def test_no_download_block_is_nothing_to_do(make_ctx, tmp_path):
    assert prepare_downloads(make_ctx(), {"alias": "x"}, {}, tmp_path / "w", inputs={}) == {}
    assert not os.path.exists(tmp_path / "w" / MANIFEST)
