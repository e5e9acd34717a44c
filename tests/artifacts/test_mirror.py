"""Mirrors: CKX_MIRROR parsing, and prefetch filling a directory that then serves offline."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ckx.artifacts.cas import ObjectStore
from ckx.artifacts.download import Artifact, fetch
from ckx.artifacts.mirror import mirrors_from_env, prefetch_into, split_mirror_list
from tests.helpers.httpserver import FaultServer, closed_port_url

DATA = b"mirror me\n" * 5000
SHA = hashlib.sha256(DATA).hexdigest()


def test_mirror_list_keeps_urls_with_ports_whole() -> None:
    value = "/mnt/m:http://127.0.0.1:8000/ckx:https://host/x::rel/dir:file:///srv/m"
    assert split_mirror_list(value, ":") == [
        "/mnt/m",
        "http://127.0.0.1:8000/ckx",
        "https://host/x",
        "rel/dir",
        "file:///srv/m",
    ]
    assert split_mirror_list(r"C:\m;http://h:1/x", ";") == [r"C:\m", "http://h:1/x"]


def test_env_entries_come_first_then_config_without_duplicates(tmp_path: Path) -> None:
    env = {"CKX_MIRROR": f"{tmp_path}:http://127.0.0.1:9/m/:{tmp_path.as_uri()}"}
    assert mirrors_from_env(env, config=["http://127.0.0.1:9/m", str(tmp_path / "cfg")]) == [
        str(tmp_path),
        "http://127.0.0.1:9/m",
        str(tmp_path / "cfg"),
    ]
    assert mirrors_from_env({}) == []
    assert mirrors_from_env({"CKX_MIRROR": "~/mirror"}) == [str(Path("~/mirror").expanduser())]


def test_prefetched_dir_serves_an_offline_fetch(http_server: FaultServer, tmp_path: Path) -> None:
    url = http_server.add("/d/data.bin", DATA)
    mirror = tmp_path / "mirror"
    res = prefetch_into(
        Artifact("data.bin", [url], sha256=SHA),
        mirror,
        ObjectStore(tmp_path / "online-store"),
        retries=1,
        backoff=0.01,
    )
    assert res.sha256 == SHA
    assert (mirror / "data.bin").read_bytes() == DATA
    assert (mirror / "sha256" / SHA).read_bytes() == DATA
    assert not (mirror / "data.bin").is_symlink()
    # On the "air-gapped" machine the origin is unreachable; the mirror is enough.
    offline = Artifact("data.bin", [closed_port_url("/d/data.bin")], sha256=SHA)
    env = {"CKX_MIRROR": str(mirror)}
    got = fetch(offline, ObjectStore(tmp_path / "offline-store"), mirrors=mirrors_from_env(env))
    assert got.from_mirror and got.path.read_bytes() == DATA
    assert http_server.count("/d/data.bin") == 1
