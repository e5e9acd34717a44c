"""Safe archive extraction: good archives land atomically, malicious ones write nothing."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from ckx.artifacts.archive import detect_kind, extract
from ckx.core.errors import ArchiveError, ConflictError

FILES = {
    "pkg-1.0/README": b"read me\n",
    "pkg-1.0/bin/tool": b"#!/bin/sh\necho hi\n",
    "pkg-1.0/data/a.txt": b"alpha\n",
}


def _tar(path: Path, mode: str, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def _file(name: str, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _good_tar(path: Path, mode: str) -> Path:
    members = [(_file(n, 0o755 if n.endswith("tool") else 0o644), d) for n, d in FILES.items()]
    members.append((_link("pkg-1.0/latest", "data/a.txt"), None))
    members.append((_link("pkg-1.0/hard.txt", "pkg-1.0/data/a.txt", tarfile.LNKTYPE), None))
    return _tar(path, mode, members)


def _zip(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("suffix", "mode"),
    [(".tar.gz", "w:gz"), (".tar.xz", "w:xz"), (".tar.bz2", "w:bz2"), (".tar", "w")],
)
def test_good_tar_extracts_with_strip_components(tmp_path: Path, suffix: str, mode: str) -> None:
    archive = _good_tar(tmp_path / f"pkg{suffix}", mode)
    dest = tmp_path / "out"
    names = extract(archive, dest, strip_components=1)
    assert names == ["README", "bin/tool", "data/a.txt", "latest", "hard.txt"]
    assert (dest / "README").read_bytes() == b"read me\n"
    assert os.access(dest / "bin" / "tool", os.X_OK)
    assert (dest / "latest").is_symlink() and (dest / "latest").read_bytes() == b"alpha\n"
    assert (dest / "hard.txt").stat().st_ino == (dest / "data" / "a.txt").stat().st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", f"pkg{suffix}"]  # no temp dir


def test_good_zip_extracts_with_strip_components(tmp_path: Path) -> None:
    members = [
        (n, d, stat.S_IFREG | (0o755 if n.endswith("tool") else 0o644)) for n, d in FILES.items()
    ]
    members.append(("pkg-1.0/latest", b"data/a.txt", stat.S_IFLNK | 0o777))
    archive = _zip(tmp_path / "pkg.zip", members)
    dest = tmp_path / "out"
    names = extract(archive, dest, strip_components=1)
    assert names == ["README", "bin/tool", "data/a.txt", "latest"]
    assert (dest / "data" / "a.txt").read_bytes() == b"alpha\n"
    assert os.access(dest / "bin" / "tool", os.X_OK)
    assert not os.access(dest / "README", os.X_OK)
    assert (dest / "latest").is_symlink() and (dest / "latest").read_bytes() == b"alpha\n"


def test_kind_is_detected_from_the_content_when_the_name_says_nothing(tmp_path: Path) -> None:
    archive = _good_tar(tmp_path / "download", "w:gz")
    assert detect_kind(archive) == "tar"
    assert extract(archive, tmp_path / "out")[0] == "pkg-1.0/README"
    plain = tmp_path / "blob"
    plain.write_bytes(b"not an archive")
    with pytest.raises(ArchiveError, match="cannot tell"):
        detect_kind(plain)


def test_a_non_empty_destination_is_refused(tmp_path: Path) -> None:
    archive = _good_tar(tmp_path / "p.tgz", "w:gz")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    with pytest.raises(ConflictError):
        extract(archive, dest)
    assert _tree(dest) == {"keep"}
    (dest / "keep").unlink()
    assert len(extract(archive, dest)) == 5  # an empty directory is fine


def test_truncated_archive_is_an_archive_error(tmp_path: Path) -> None:
    archive = _good_tar(tmp_path / "p.tar.gz", "w:gz")
    archive.write_bytes(archive.read_bytes()[:60])
    with pytest.raises(ArchiveError, match="p.tar.gz"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


MALICIOUS_TAR = {
    "dotdot": ([(_file("ok.txt"), b"fine"), (_file("../escaped.txt"), b"evil")], "../escaped.txt"),
    "absolute": ([(_file("/tmp/ckx-abs-escape.txt"), b"evil")], "/tmp/ckx-abs-escape.txt"),
    "symlink-out": ([(_link("sub/link", "../../outside"), None)], "sub/link"),
    "symlink-abs": ([(_link("link", "/etc"), None)], "link"),
    "hardlink-out": ([(_link("hl", "../outside.txt", tarfile.LNKTYPE), None)], "hl"),
    "hardlink-abs": ([(_link("hl", "/etc/passwd", tarfile.LNKTYPE), None)], "hl"),
    "device": ([(_link("dev", "", tarfile.CHRTYPE), None)], "dev"),
    "fifo": ([(_link("fifo", "", tarfile.FIFOTYPE), None)], "fifo"),
    # each link stays inside on its own; together s -> t/.. -> ./.. is the parent of dest
    "chained-symlinks": (
        [(_link("t", "."), None), (_link("s", "t/.."), None), (_file("s/escaped.txt"), b"evil")],
        "s",
    ),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS_TAR))
def test_malicious_tar_is_refused_and_writes_nothing(tmp_path: Path, case: str) -> None:
    members, bad = MALICIOUS_TAR[case]
    work = tmp_path / "work"
    work.mkdir()
    archive = _tar(tmp_path / "evil.tar.gz", "w:gz", members)
    before = _tree(tmp_path)
    with pytest.raises(ArchiveError) as err:
        extract(archive, work / "dest")
    assert repr(bad) in err.value.message and "evil.tar.gz" in err.value.message
    assert _tree(tmp_path) == before  # not dest, not a temp dir, nothing outside
    assert not Path("/tmp/ckx-abs-escape.txt").exists()


MALICIOUS_ZIP = {
    "dotdot": ([("../escaped.txt", b"evil", stat.S_IFREG | 0o644)], "../escaped.txt"),
    "absolute": ([("/tmp/ckx-zip-abs.txt", b"evil", stat.S_IFREG | 0o644)], "/tmp/ckx-zip-abs.txt"),
    "symlink-out": ([("link", b"../../outside", stat.S_IFLNK | 0o777)], "link"),
    "chained-symlinks": (
        [
            ("t", b".", stat.S_IFLNK | 0o777),
            ("s", b"t/..", stat.S_IFLNK | 0o777),
            ("s/escaped.txt", b"evil", stat.S_IFREG | 0o644),
        ],
        "s",
    ),
    "device": ([("dev", b"", stat.S_IFCHR | 0o644)], "dev"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS_ZIP))
def test_malicious_zip_is_refused_and_writes_nothing(tmp_path: Path, case: str) -> None:
    members, bad = MALICIOUS_ZIP[case]
    work = tmp_path / "work"
    work.mkdir()
    archive = _zip(tmp_path / "evil.zip", members)
    before = _tree(tmp_path)
    with pytest.raises(ArchiveError) as err:
        extract(archive, work / "dest")
    assert repr(bad) in err.value.message and "evil.zip" in err.value.message
    assert _tree(tmp_path) == before
    assert not Path("/tmp/ckx-zip-abs.txt").exists()


def test_zip_members_with_permission_bits_only_are_regular_files(tmp_path):
    import zipfile

    from ckx.artifacts.archive import extract

    z = tmp_path / "w.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("a/readme.txt")
        info.external_attr = (
            0o644 << 16
        )  # no S_IFREG: what zipfile.writestr and Windows tools write
        zf.writestr(info, "hello")
    extract(z, tmp_path / "out")
    assert (tmp_path / "out" / "a" / "readme.txt").read_text() == "hello"
