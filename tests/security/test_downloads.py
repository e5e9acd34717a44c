"""Findings 7 and 10: a mirror cannot pin a wrong file against the origin, and a slow server
cannot keep a download going forever (a real HTTP server on 127.0.0.1 sends bytes slowly)."""

from __future__ import annotations

import hashlib
import json
import logging
import time

import pytest

from ckx.artifacts.cas import ObjectStore
from ckx.artifacts.download import Artifact, fetch
from ckx.core.errors import DownloadError

GENUINE = b"the genuine file, as its origin serves it\n" * 50
POISON = b"what a compromised mirror serves instead!\n" * 50


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_mirror_never_overrides_the_origins_file(http_server, tmp_path, caplog):
    """Issue 20 item 17: a file that publishes no checksum comes from its origin while the
    origin answers (nothing could check a mirror's copy); a mirror serves it only when the
    origin does not, with a warning, and is bound by the origin's hash from then on."""
    from tests.helpers.httpserver import closed_port_url

    caplog.set_level(logging.WARNING)
    url = http_server.add("/f.bin", GENUINE)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "f.bin").write_bytes(POISON)
    known = tmp_path / "known-hashes.json"
    art = Artifact("f.bin", [url])  # publishes no checksum

    first = fetch(art, ObjectStore(tmp_path / "s1"), mirrors=[str(mirror)], known_hashes=known)
    assert not first.from_mirror and first.sha256 == _sha(GENUINE)  # the poison never got in
    entry = json.loads(known.read_text())["files"][url]
    assert entry["from_mirror"] is False and entry["source"] == url

    # from now on the mirror's wrong file is refused and the origin used instead
    again = fetch(art, ObjectStore(tmp_path / "s3"), mirrors=[str(mirror)], known_hashes=known)
    assert not again.from_mirror and again.sha256 == _sha(GENUINE)

    # an offline machine (the origin unreachable): the mirror serves it, and says so
    gone = closed_port_url("/f.bin")
    offline = Artifact("f.bin", [gone])
    known2 = tmp_path / "known-offline.json"
    got = fetch(offline, ObjectStore(tmp_path / "s4"), mirrors=[str(mirror)], known_hashes=known2)
    assert got.from_mirror and got.sha256 == _sha(POISON)
    assert "installed from the mirror" in caplog.text and "unchecked" in caplog.text
    assert json.loads(known2.read_text())["files"][gone]["from_mirror"] is True
    # back online, the origin's own file is accepted, and its hash replaces the mirror's
    online = Artifact("f.bin", [url])
    data = json.loads(known2.read_text())
    data["files"][url] = data["files"].pop(gone)  # the same file, its origin reachable now
    known2.write_text(json.dumps(data))
    origin = fetch(online, ObjectStore(tmp_path / "s5"), mirrors=[str(mirror)], known_hashes=known2)
    assert not origin.from_mirror and origin.sha256 == _sha(GENUINE)
    assert "a mirror had served" in caplog.text


def test_a_hash_learned_from_the_origin_binds_every_mirror(http_server, tmp_path):
    url = http_server.add("/g.bin", GENUINE)
    known = tmp_path / "known-hashes.json"
    art = Artifact("g.bin", [url])
    fetch(art, ObjectStore(tmp_path / "s1"), known_hashes=known)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "g.bin").write_bytes(POISON)
    got = fetch(art, ObjectStore(tmp_path / "s2"), mirrors=[str(mirror)], known_hashes=known)
    assert got.sha256 == _sha(GENUINE) and not got.from_mirror


def test_a_stalled_download_stops_with_a_clear_error_and_resumes_next_time(
    http_server, tmp_path, monkeypatch
):
    data = bytes(range(256)) * 4
    path = "/slow.bin"
    url = http_server.add(path, data, chunk=1, delay=0.05)  # ~20 bytes a second
    monkeypatch.setenv("CKX_DOWNLOAD_STALL_S", "0.4")
    monkeypatch.setenv("CKX_DOWNLOAD_STALL_BYTES", "100")
    store = ObjectStore(tmp_path / "store")
    art = Artifact("slow.bin", [url], sha256=_sha(data))
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        fetch(art, store, retries=1, backoff=0.01)
    assert time.monotonic() - start < 10
    assert "stalled" in err.value.message and "CKX_DOWNLOAD_STALL_BYTES" in err.value.message
    assert "run the same command again to resume" in (err.value.hint or "")
    parts = list(store.tmp_dir.glob("*.part"))
    assert len(parts) == 1 and 0 < parts[0].stat().st_size < len(data)
    kept = parts[0].stat().st_size
    http_server.routes[path].delay = 0.0  # the server recovers
    res = fetch(art, store, retries=1, backoff=0.01)
    assert res.sha256 == _sha(data) and res.path.read_bytes() == data
    assert http_server.requests_for(path)[-1].headers.get("Range") == f"bytes={kept}-"


def test_the_download_deadline_bounds_a_drip_feed(http_server, tmp_path, monkeypatch):
    data = b"x" * 400
    url = http_server.add("/drip.bin", data, chunk=1, delay=0.02)  # ~8 s in all
    monkeypatch.setenv("CKX_DOWNLOAD_DEADLINE", "0.8")
    store = ObjectStore(tmp_path / "store")
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        fetch(Artifact("drip.bin", [url], sha256=_sha(data)), store, retries=3, backoff=0.01)
    assert time.monotonic() - start < 5
    assert "deadline" in err.value.message and "CKX_DOWNLOAD_DEADLINE" in err.value.message
    assert [p.stat().st_size > 0 for p in store.tmp_dir.glob("*.part")] == [True]


def test_the_cli_reports_a_stall_as_one_message(http_server, tmp_path, cli):
    url = http_server.add("/pkg.bin", b"y" * 500, chunk=1, delay=0.05)
    repo = tmp_path / "pkgrepo"
    pkg = repo / "package" / "slow-data"
    pkg.mkdir(parents=True)
    (repo / "repo.yaml").write_text("alias: pkgrepo\nuid: '00000000000000f1'\n")
    (pkg / "meta.yaml").write_text(
        "alias: slow-data\nuid: '00000000000000f3'\nautomation_alias: package\n"
        f"tags: [dataset, slow]\ndownload:\n  - url: {url}\n    filename: pkg.bin\n"
        f"    sha256: '{_sha(b'y' * 500)}'\n"
    )
    assert cli("add", "repo:pkgrepo", f"--path={repo}").code == 0
    env = {
        "CKX_DOWNLOAD_STALL_S": "0.3",
        "CKX_DOWNLOAD_STALL_BYTES": "100",
        "CKX_DOWNLOAD_DEADLINE": "1.5",
    }
    r = cli("install", "package", "--tags=dataset,slow", "--quiet", env=env)
    assert r.code == 7, r
    assert "deadline" in r.err and "resume" in r.err and "Traceback" not in r.err


def test_a_trickle_is_given_up_within_the_stall_budget_whatever_the_retries(
    http_server, tmp_path, monkeypatch
):
    """Issue 20 item 16: one byte every 20 s, scaled down 100 times (every 0.2 s), with every
    setting scaled the same way (stall window 0.3 s, read timeout 0.3 s, budget 0.9 s = 90 s
    by default). Before, each retry waited a whole stall window: 329 s by default."""
    from ckx.artifacts.download import TIME_LIMITS

    assert TIME_LIMITS["CKX_DOWNLOAD_STALL_TOTAL"] <= 90  # the default bound
    data = bytes(range(256)) * 8
    url = http_server.add("/trickle.bin", data, chunk=1, delay=0.2)
    monkeypatch.setenv("CKX_DOWNLOAD_STALL_S", "0.3")
    monkeypatch.setenv("CKX_DOWNLOAD_STALL_TOTAL", "0.9")
    store = ObjectStore(tmp_path / "store")
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        fetch(
            Artifact("trickle.bin", [url], sha256=_sha(data)),
            store,
            timeout=0.3,
            retries=20,
            backoff=0.005,
        )
    took = time.monotonic() - start
    assert took < 2.5, took  # 0.9 s and the connections' own time; 20 retries would be 8 s
    assert "stalled" in err.value.message and "CKX_DOWNLOAD_STALL_TOTAL" in err.value.message
    assert "resume" in (err.value.hint or "")
    assert [p.stat().st_size > 0 for p in store.tmp_dir.glob("*.part")] == [True]
