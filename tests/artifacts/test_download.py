"""Downloads: resume, restarts, retries, errors that name URLs, checksums, mirrors, one download
for many processes. Every server is the fault-injecting one on 127.0.0.1."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
from pathlib import Path

import pytest

from ckx.artifacts.cas import ObjectStore
from ckx.artifacts.download import Artifact, FetchResult, fetch
from ckx.core.errors import ChecksumError, DownloadError
from tests.helpers.httpserver import FaultServer, closed_port_url

from .support import fetch_worker, store_is_empty

DATA = os.urandom(300_000)
SHA = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()
FAST = {"retries": 3, "backoff": 0.01, "timeout": 10}  # bounded loops for tests


def _get(artifact: Artifact, store: ObjectStore, **kw: object) -> FetchResult:
    return fetch(artifact, store, **{**FAST, **kw})  # type: ignore[arg-type]


def test_plain_download_lands_verified_in_the_store(
    http_server: FaultServer, store: ObjectStore
) -> None:
    url = http_server.add("/f.bin", DATA)
    res = _get(Artifact("f.bin", [url], size=len(DATA), sha256=SHA, md5=MD5), store)
    assert res.path == store.path(SHA) and res.path.read_bytes() == DATA
    assert (res.sha256, res.size, res.source, res.from_mirror, res.cached) == (
        SHA,
        len(DATA),
        url,
        False,
        False,
    )
    assert res.md5 == MD5
    assert list((store.root / "tmp").iterdir()) == []
    again = _get(Artifact("f.bin", [url], sha256=SHA), store)
    assert again.cached and again.path == res.path and http_server.count("/f.bin") == 1


def test_dropped_connection_resumes_with_range_and_if_range(
    http_server: FaultServer, store: ObjectStore
) -> None:
    url = http_server.add("/f.bin", DATA, drop_after=100_000, drop_times=1)
    res = _get(Artifact("f.bin", [url], sha256=SHA), store)
    assert res.path.read_bytes() == DATA
    first, second = http_server.requests_for("/f.bin")
    assert "Range" not in first.headers
    assert second.headers["Range"] == "bytes=100000-"
    assert second.headers["If-Range"] == http_server.routes["/f.bin"].etag_value
    assert second.status == 206


def test_two_drops_resume_twice(http_server: FaultServer, store: ObjectStore) -> None:
    url = http_server.add("/f.bin", DATA, drop_after=50_000, drop_times=2)
    assert _get(Artifact("f.bin", [url], sha256=SHA), store).path.read_bytes() == DATA
    ranges = [r.headers.get("Range") for r in http_server.requests_for("/f.bin")]
    assert ranges == [None, "bytes=50000-", "bytes=100000-"]


def test_server_ignoring_range_restarts_cleanly_from_zero(
    http_server: FaultServer, store: ObjectStore
) -> None:
    url = http_server.add("/f.bin", DATA, honour_range=False, drop_after=100_000)
    res = _get(Artifact("f.bin", [url], size=len(DATA), sha256=SHA), store)
    assert res.path.read_bytes() == DATA
    second = http_server.requests_for("/f.bin")[1]
    assert second.headers["Range"] == "bytes=100000-" and second.status == 200


def test_resume_without_a_published_checksum_still_gives_the_right_bytes(
    http_server: FaultServer, store: ObjectStore
) -> None:
    url = http_server.add("/f.bin", DATA, drop_after=70_000, last_modified=False)
    res = _get(Artifact("f.bin", [url]), store)
    assert res.sha256 == SHA and res.path.read_bytes() == DATA


def test_interrupted_fetch_keeps_its_part_and_the_next_fetch_resumes_it(
    http_server: FaultServer, store: ObjectStore
) -> None:
    class CtrlCAfter:
        def start(self, label: str, total: int | None, done: int = 0) -> None:
            pass

        def update(self, done: int) -> None:
            if done >= 64 * 1024:
                raise KeyboardInterrupt

        def finish(self) -> None:
            pass

    url = http_server.add("/f.bin", DATA, chunk=16 * 1024)
    with pytest.raises(KeyboardInterrupt):
        _get(Artifact("f.bin", [url], sha256=SHA), store, progress=CtrlCAfter())
    parts = list((store.root / "tmp").glob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size >= 64 * 1024
    kept = parts[0].stat().st_size
    res = _get(Artifact("f.bin", [url], sha256=SHA), store)
    assert res.path.read_bytes() == DATA
    assert http_server.requests_for("/f.bin")[1].headers["Range"] == f"bytes={kept}-"
    assert list((store.root / "tmp").iterdir()) == []


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_errors_are_retried_then_succeed(
    http_server: FaultServer, store: ObjectStore, status: int
) -> None:
    url = http_server.add("/f.bin", DATA, status=status, status_times=2, retry_after="0")
    assert _get(Artifact("f.bin", [url], sha256=SHA), store).path.read_bytes() == DATA
    assert [r.status for r in http_server.requests_for("/f.bin")] == [status, status, 200]


def test_persistent_500_gives_up_after_the_retries(
    http_server: FaultServer, store: ObjectStore
) -> None:
    url = http_server.add("/f.bin", DATA, status=500, status_times=None)
    with pytest.raises(DownloadError) as err:
        _get(Artifact("f.bin", [url], sha256=SHA), store, retries=2)
    assert f"{url}: HTTP 500" in err.value.message
    assert http_server.count("/f.bin") == 3  # the first try and 2 retries
    assert store_is_empty(store)


def test_404_is_a_clear_error_naming_the_url(http_server: FaultServer, store: ObjectStore) -> None:
    url = http_server.url("/missing.tar.gz")
    with pytest.raises(DownloadError) as err:
        _get(Artifact("missing.tar.gz", [url], sha256=SHA), store)
    assert not isinstance(err.value, ChecksumError)
    assert f"{url}: HTTP 404" in err.value.message and SHA in err.value.message
    assert http_server.count("/missing.tar.gz") == 1  # a 404 is not retried
    assert store_is_empty(store)


def test_checksum_mismatch_caches_nothing(http_server: FaultServer, store: ObjectStore) -> None:
    url = http_server.add("/f.bin", DATA, wrong_bytes=True)
    with pytest.raises(ChecksumError) as err:
        _get(Artifact("f.bin", [url], sha256=SHA), store)
    assert url in err.value.message and f"published sha256 {SHA}" in err.value.message
    assert store_is_empty(store)


def test_size_and_md5_mismatches_are_refused(http_server: FaultServer, store: ObjectStore) -> None:
    url = http_server.add("/f.bin", DATA)
    with pytest.raises(DownloadError, match=f"got {len(DATA)} bytes, expected 5"):
        _get(Artifact("f.bin", [url], size=5), store)
    with pytest.raises(ChecksumError, match="published md5"):
        _get(Artifact("f.bin", [url], md5="0" * 32), store)
    assert store_is_empty(store)


def test_urls_are_tried_in_order_until_one_works(
    http_server: FaultServer, store: ObjectStore
) -> None:
    missing = http_server.url("/a/f.bin")
    broken = http_server.add("/b/f.bin", DATA, status=500, status_times=None)
    good = http_server.add("/c/f.bin", DATA)
    late = http_server.add("/d/f.bin", DATA)
    res = _get(Artifact("f.bin", [missing, broken, good, late], sha256=SHA), store, retries=1)
    assert res.source == good and not res.from_mirror
    assert [r.path for r in http_server.log] == ["/a/f.bin", "/b/f.bin", "/b/f.bin", "/c/f.bin"]


def test_all_urls_failing_names_each_one(http_server: FaultServer, store: ObjectStore) -> None:
    urls = [http_server.url("/x/f.bin"), http_server.url("/y/f.bin")]
    with pytest.raises(DownloadError) as err:
        _get(Artifact("f.bin", urls), store)
    assert all(u in err.value.message for u in urls)


def test_unreachable_origin_fails_fast_with_the_offline_hint(store: ObjectStore) -> None:
    url = closed_port_url()
    with pytest.raises(DownloadError) as err:
        fetch(Artifact("f.bin", [url], sha256=SHA), store)  # default retries and backoff
    assert url in err.value.message and "cannot connect" in err.value.message
    assert "CKX_MIRROR" in err.value.hint and "ckx prefetch" in err.value.hint
    assert store_is_empty(store)


def test_mirror_dir_is_used_before_an_unreachable_origin(
    tmp_path: Path, store: ObjectStore
) -> None:
    by_name, by_hash = tmp_path / "m1", tmp_path / "m2"
    by_name.mkdir()
    (by_name / "f.bin").write_bytes(DATA)
    (by_hash / "sha256").mkdir(parents=True)
    (by_hash / "sha256" / SHA).write_bytes(DATA)
    origin = closed_port_url()
    for mirror in (by_name, by_hash):
        store_root = tmp_path / f"store-{mirror.name}"
        res = _get(
            Artifact("f.bin", [origin], sha256=SHA), ObjectStore(store_root), mirrors=[str(mirror)]
        )
        assert (
            res.from_mirror and res.source.startswith(str(mirror)) and res.path.read_bytes() == DATA
        )


def test_mirror_base_url_is_used_before_an_unreachable_origin(
    http_server: FaultServer, store: ObjectStore
) -> None:
    http_server.add("/mirror/f.bin", DATA)
    res = _get(
        Artifact("f.bin", [closed_port_url()], sha256=SHA),
        store,
        mirrors=[http_server.url("/mirror/")],
    )
    assert res.from_mirror and res.source == http_server.url("/mirror/f.bin")


def test_a_corrupt_mirror_falls_through_to_the_origin(
    tmp_path: Path, http_server: FaultServer, store: ObjectStore
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "f.bin").write_bytes(b"stale")
    url = http_server.add("/f.bin", DATA)
    res = _get(
        Artifact("f.bin", [url], sha256=SHA), store, mirrors=[str(mirror), http_server.url("/none")]
    )
    assert res.source == url and not res.from_mirror


def test_file_urls_and_plain_paths_work(tmp_path: Path, store: ObjectStore) -> None:
    src = tmp_path / "local.bin"
    src.write_bytes(DATA)
    assert _get(Artifact("f.bin", [src.as_uri()], sha256=SHA), store).path.read_bytes() == DATA
    other = ObjectStore(tmp_path / "s2")
    res = _get(Artifact("f.bin", [str(tmp_path / "nope.bin"), str(src)]), other)
    assert res.source == str(src) and res.sha256 == SHA


def test_first_download_records_its_hash_and_later_ones_must_match(
    http_server: FaultServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    known = tmp_path / "known-hashes.json"
    url = http_server.add("/f.bin", DATA)
    caplog.set_level(logging.WARNING, logger="ckx.artifacts.download")
    first = _get(Artifact("f.bin", [url]), ObjectStore(tmp_path / "s1"), known_hashes=known)
    assert "publishes no checksum" in caplog.text and SHA in known.read_text()
    caplog.clear()
    again = _get(Artifact("f.bin", [url]), ObjectStore(tmp_path / "s1"), known_hashes=known)
    assert again.cached and again.path == first.path and caplog.text == ""
    assert http_server.count("/f.bin") == 1  # the recorded hash found it in the store
    http_server.add("/f.bin", b"the file changed upstream")
    fresh = ObjectStore(tmp_path / "s2")
    with pytest.raises(ChecksumError) as err:
        _get(Artifact("f.bin", [url]), fresh, known_hashes=known)
    assert f"recorded in {known}" in err.value.message and SHA in err.value.message
    assert store_is_empty(fresh)


def test_progress_sees_the_whole_transfer(http_server: FaultServer, store: ObjectStore) -> None:
    seen: list[tuple] = []

    class Sink:
        def start(self, label: str, total: int | None, done: int = 0) -> None:
            seen.append(("start", label, total, done))

        def update(self, done: int) -> None:
            seen.append(("update", done))

        def finish(self) -> None:
            seen.append(("finish",))

    url = http_server.add("/f.bin", DATA)
    _get(Artifact("f.bin", [url], size=len(DATA), name="my data"), store, progress=Sink())
    assert seen[0] == ("start", "my data", len(DATA), 0)
    assert seen[-2:] == [("update", len(DATA)), ("finish",)]


def test_eight_processes_cause_one_download_and_eight_successes(
    http_server: FaultServer, tmp_path: Path
) -> None:
    url = http_server.add("/f.bin", DATA, delay=0.02)  # ~0.4 s body: the others must wait
    args = (url, SHA, str(tmp_path / "store"), "f.bin")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        results = pool.map_async(fetch_worker, [args] * 8).get(timeout=120)
    errors = [r for r in results if r[0] != "ok"]
    assert errors == []
    assert {r[1] for r in results} == {str(ObjectStore(tmp_path / "store").path(SHA))}
    assert http_server.count("/f.bin") == 1
    assert sum(not cached for _, _, cached in results) == 1


def test_artifact_from_package_meta() -> None:
    art = Artifact.from_meta(
        {"url": "https://example.org/d/coco.zip?x=1", "sha256": SHA, "size": 3}
    )
    assert (art.filename, art.urls, art.sha256, art.size, art.label) == (
        "coco.zip",
        ["https://example.org/d/coco.zip?x=1"],
        SHA,
        3,
        "coco.zip",
    )
    art = Artifact.from_meta({"urls": ["a", "b"], "filename": "f.bin", "name": "F"})
    assert (art.urls, art.label) == (["a", "b"], "F")


def test_unsupported_scheme_is_reported_not_retried(
    http_server: FaultServer, store: ObjectStore
) -> None:
    good = http_server.add("/f.bin", DATA)
    with pytest.raises(DownloadError, match="ftp://x/f.bin: unsupported URL scheme"):
        _get(Artifact("f.bin", ["ftp://x/f.bin"]), store)
    assert _get(Artifact("f.bin", ["ftp://x/f.bin", good], sha256=SHA), store).source == good
