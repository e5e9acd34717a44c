"""`ckx install package` end to end through the engine: download once, verify, cache, validate
the cached result, never leave a half-made result, and do the work once for 8 processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, ckx_process
from tests.packages.conftest import sha256, zip_bytes

PAYLOAD = zip_bytes(
    {"toy/annotations/instances_val2017.json": b'{"images": []}', "toy/val2017/a.jpg": b"x" * 5000}
)


def make_repo(tmp_path: Path, url: str, digest: str) -> Path:
    repo = tmp_path / "pkgrepo"
    d = repo / "package" / "toy-data"
    d.mkdir(parents=True)
    (repo / "repo.yaml").write_text("alias: pkgrepo\nuid: '00000000000000f1'\n")
    (d / "meta.yaml").write_text(
        "alias: toy-data\nuid: '00000000000000f2'\nautomation_alias: package\n"
        "tags: [dataset, toy]\n"
        "download:\n"
        f"  - url: {url}\n    filename: toy.zip\n    sha256: '{digest}'\n    extract: true\n"
        "    strip_components: 1\n    expect: [val2017/a.jpg]\n    env: {CKX_DATASET_PATH: .}\n"
        "new_env_keys: [CKX_DATASET_*]\n"
    )
    return repo


def ckx(home: Path, *args: str) -> subprocess.CompletedProcess:
    return ckx_process(home, *args)


def installed_path(out: str) -> Path:
    line = next(ln for ln in out.splitlines() if "CKX_DATASET_PATH=" in ln)
    return Path(line.split("=", 1)[1])


def test_install_downloads_once_caches_and_revalidates(http_server, tmp_path, ckx_home):
    url = http_server.add("/toy.zip", PAYLOAD)
    assert (
        ckx(
            ckx_home, "add", "repo:pkgrepo", f"--path={make_repo(tmp_path, url, sha256(PAYLOAD))}"
        ).returncode
        == 0
    )
    first = ckx(ckx_home, "install", "package", "--tags=dataset,toy", "--quiet")
    assert first.returncode == 0, first.stderr
    root = installed_path(first.stdout)
    assert (root / "val2017" / "a.jpg").stat().st_size == 5000
    again = ckx(ckx_home, "install", "package:toy-data", "--quiet")
    assert again.returncode == 0 and installed_path(again.stdout) == root
    assert http_server.count("/toy.zip") == 1
    # a cached result whose files were deleted is not reused: rebuilt from the object store
    (root / "val2017" / "a.jpg").unlink()
    third = ckx(ckx_home, "install", "package:toy-data", "--quiet")
    assert third.returncode == 0, third.stderr
    assert (installed_path(third.stdout) / "val2017" / "a.jpg").is_file()
    assert http_server.count("/toy.zip") == 1  # the archive came from the store, not the network


def test_a_checksum_mismatch_caches_nothing(http_server, tmp_path, ckx_home):
    url = http_server.add("/toy.zip", PAYLOAD)
    ckx(ckx_home, "add", "repo:pkgrepo", f"--path={make_repo(tmp_path, url, '0' * 64)}")
    r = ckx(ckx_home, "install", "package:toy-data", "--quiet")
    assert r.returncode == 8, r.stderr
    assert url in r.stderr and "0" * 64 in r.stderr
    assert ckx(ckx_home, "show", "cache", "--json").stdout.count("toy-data") == 0
    cache = ckx_home / "repos" / "local" / "cache"
    assert not any((d / "meta.json").exists() for d in cache.iterdir()) if cache.is_dir() else True


@pytest.mark.slow
def test_eight_concurrent_installs_download_once(http_server, tmp_path, ckx_home):
    url = http_server.add("/toy.zip", PAYLOAD, delay=0.5)
    ckx(ckx_home, "add", "repo:pkgrepo", f"--path={make_repo(tmp_path, url, sha256(PAYLOAD))}")
    env = dict(os.environ, CKX_HOME=str(ckx_home))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ckx", "install", "package:toy-data", "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(8)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    paths = {installed_path(o[0]) for o in outs}
    assert len(paths) == 1  # all eight got the same result
    assert http_server.count("/toy.zip") == 1


@pytest.mark.parametrize("kind", ["folder", "http"])
def test_prefetch_then_install_offline_from_the_mirror(http_server, tmp_path, ckx_home, kind):
    from tests.helpers.httpserver import closed_port_url

    url = http_server.add("/toy.zip", PAYLOAD)
    repo = make_repo(tmp_path, url, sha256(PAYLOAD))
    ckx(ckx_home, "add", "repo:pkgrepo", f"--path={repo}")
    mirror = tmp_path / "mirror"
    r = ckx(ckx_home, "prefetch", "package:toy-data", f"--to={mirror}")
    assert r.returncode == 0, r.stderr
    assert (mirror / "toy.zip").read_bytes() == PAYLOAD
    # the offline machine: a fresh home, the origin unreachable
    meta = repo / "package" / "toy-data" / "meta.yaml"
    meta.write_text(meta.read_text().replace(url, closed_port_url("/toy.zip")))
    offline = tmp_path / "offline-home"
    ckx(offline, "add", "repo:pkgrepo", f"--path={repo}")
    fails = ckx(offline, "install", "package:toy-data", "--quiet")
    assert fails.returncode == 7 and "CKX_MIRROR" in fails.stderr
    if kind == "folder":
        where = str(mirror)
    else:
        where = http_server.base_url + "/mirror"
        http_server.add("/mirror/toy.zip", PAYLOAD)
    env = dict(os.environ, CKX_HOME=str(offline), CKX_MIRROR=where)
    ok = subprocess.run(
        [sys.executable, "-m", "ckx", "install", "package:toy-data", "--quiet"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert (installed_path(ok.stdout) / "val2017" / "a.jpg").is_file()
