"""The content-addressed object store: layout, atomicity, idempotence, verification, links."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from ckx.artifacts.cas import ObjectStore, hash_file
from ckx.core.errors import ChecksumError, UsageError

from .support import store_is_empty

DATA = b"hello object store\n" * 1000
SHA = hashlib.sha256(DATA).hexdigest()


def test_objects_live_under_sha256_ab_cdef_and_are_read_only(store: ObjectStore) -> None:
    path = store.add_bytes(DATA)
    assert path == store.root / "sha256" / SHA[:2] / SHA[2:]
    assert path.read_bytes() == DATA
    assert not (path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    assert store.has(SHA) and store.verify(SHA)
    assert list(store.iter_objects()) == [SHA]


def test_adding_the_same_content_twice_is_a_no_op(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(DATA)
    first = store.add_file(src)
    mtime = first.stat().st_mtime_ns
    assert store.add_file(src) == first == store.add_bytes(DATA)
    assert first.stat().st_mtime_ns == mtime
    assert list((store.root / "tmp").iterdir()) == []  # no temp file left behind


def test_copy_keeps_the_source_and_move_consumes_it(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(DATA)
    store.add_file(src)
    assert src.exists()
    other = tmp_path / "b.bin"
    other.write_bytes(b"moved")
    obj = store.add_file(other, move=True)
    assert not other.exists() and obj.read_bytes() == b"moved"


def test_wrong_expected_sha256_stores_nothing(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(DATA)
    with pytest.raises(ChecksumError) as err:
        store.add_file(src, expected_sha256="0" * 64)
    assert "0" * 64 in err.value.message and SHA in err.value.message
    with pytest.raises(ChecksumError):
        store.add_file(src, move=True, expected_sha256="1" * 64)
    assert src.exists()  # a refused move leaves the source alone
    assert store_is_empty(store)


def test_verify_detects_a_corrupted_object(store: ObjectStore) -> None:
    path = store.add_bytes(DATA)
    os.chmod(path, 0o644)
    path.write_bytes(b"bit rot")
    assert store.has(SHA) and not store.verify(SHA)
    assert not store.verify("a" * 64)


def test_bad_digest_is_a_usage_error(store: ObjectStore) -> None:
    with pytest.raises(UsageError):
        store.path("not-a-hash")


def test_link_into_hardlinks_and_replaces_an_existing_file(
    store: ObjectStore, tmp_path: Path
) -> None:
    obj = store.add_bytes(DATA)
    dest = tmp_path / "entry"
    dest.mkdir()
    (dest / "data.bin").write_bytes(b"old")
    linked = store.link_into(SHA, dest, "data.bin")
    assert linked.read_bytes() == DATA
    assert linked.stat().st_ino == obj.stat().st_ino  # same filesystem: a hardlink
    assert sorted(p.name for p in dest.iterdir()) == ["data.bin"]  # no temp left


def test_removed_object_is_gone_but_links_keep_their_bytes(
    store: ObjectStore, tmp_path: Path
) -> None:
    store.add_bytes(DATA)
    linked = store.link_into(SHA, tmp_path / "e", "f")
    assert store.remove(SHA) and not store.has(SHA) and not store.remove(SHA)
    assert linked.read_bytes() == DATA


def test_hash_file_streams_every_requested_digest(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    raw = src.read_bytes()
    assert hash_file(src) == {
        "sha256": hashlib.sha256(raw).hexdigest(),
        "md5": hashlib.md5(raw).hexdigest(),
    }
    assert hash_file(src, ("sha1",)) == {"sha1": hashlib.sha1(raw).hexdigest()}
