"""ckx zip / ckx unzip: repo fragments, merging with conflicts, and malicious archives."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

import ckx

from .conftest import bench


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


def _access(**req) -> dict:
    return ckx.access({"quiet": True, **req})


def test_zip_experiments_writes_ckr_zip_here(synth, cli, tmp_path):
    bench("z1")
    bench("z2")
    work = tmp_path / "work"
    work.mkdir()
    r = cli("zip", "experiment:*", cwd=work)
    assert r.code == 0, r
    with zipfile.ZipFile(work / "ckr.zip") as zf:
        names = zf.namelist()
        desc = json.loads(zf.read("ckr.json"))
    assert "experiment/z1/meta.yaml" in names and "experiment/z2/meta.yaml" in names
    assert any(n.startswith("experiment/z1/points/") and n.endswith("/point.json") for n in names)
    assert not any(n.endswith((".lock", ".holder", ".tmp")) for n in names)
    assert desc["ckx_repo_fragment"] == 1 and {e["alias"] for e in desc["entries"]} == {"z1", "z2"}


def test_zip_repo_and_unzip_roundtrip_into_a_fresh_home(synth, cli, tmp_path):
    bench("z1")
    out = tmp_path / "frag.zip"
    assert cli("zip", "repo:local", f"--out={out}").code == 0
    home2 = tmp_path / "home2"
    env = {"CKX_HOME": str(home2)}
    assert cli("add", "repo:my-cool-experiments", "--quiet", env=env).code == 0
    r = cli("unzip", "repo:my-cool-experiments", f"--zip={out}", env=env)
    assert r.code == 0, r
    assert "added my-cool-experiments:experiment:z1" in r.out
    src = cli("show", "experiment:z1").out.splitlines()[1:]
    dst = cli("show", "experiment:z1", env=env).out.splitlines()[1:]
    assert src == dst and any(line.startswith("score") for line in dst)
    again = cli("unzip", "repo:my-cool-experiments", f"--zip={out}", env=env)
    assert again.code == 0 and "identical" in again.out


def test_unzip_conflicts_are_refused_per_entry(synth, tmp_path, ckx_home):
    bench("same-name")
    bench("other")
    frag = tmp_path / "frag.zip"
    assert (
        _access(action="zip", automation="experiment", entry="*", output=str(frag))["return"] == 0
    )
    assert _access(action="add", automation="repo", entry="dst")["return"] == 0
    # in the target: an unrelated experiment that happens to have the same name
    dst = ckx_home / "repos" / "dst" / "experiment" / "same-name"
    dst.mkdir(parents=True)
    (dst / "meta.yaml").write_text(
        "alias: same-name\nuid: 0123456789abcdef\nautomation_alias: experiment\ntags: []\n"
    )
    out = _access(action="unzip", automation="repo", entry="dst", zip=str(frag))
    assert out["return"] == 12 and "conflicts" in out["error"]
    assert out["added"] == ["dst:experiment:other"]
    assert (
        len(out["conflicts"]) == 1
        and "same-name" in out["conflicts"][0]
        and "different entry" in out["conflicts"][0]
    )
    assert (dst / "meta.yaml").read_text().count("0123456789abcdef") == 1  # untouched
    assert not list((ckx_home / "repos" / "dst").glob(".tmp-*"))


def test_unzip_same_uid_different_files_needs_overwrite(synth, tmp_path, ckx_home):
    bench("grow", reps=1)
    frag = tmp_path / "v1.zip"
    _access(action="zip", automation="experiment", entry="grow", output=str(frag))
    assert _access(action="add", automation="repo", entry="dst")["return"] == 0
    assert _access(action="unzip", automation="repo", entry="dst", zip=str(frag))["added"]
    bench("grow", reps=1)  # the source experiment grows
    frag2 = tmp_path / "v2.zip"
    _access(action="zip", automation="experiment", entry="grow", repo="local", output=str(frag2))
    out = _access(action="unzip", automation="repo", entry="dst", zip=str(frag2))
    assert out["return"] == 12 and "--overwrite" in out["conflicts"][0]
    out = _access(action="unzip", automation="repo", entry="dst", zip=str(frag2), overwrite=True)
    assert out["return"] == 0 and out["replaced"] == ["dst:experiment:grow"]
    (point,) = (ckx_home / "repos" / "dst" / "experiment" / "grow" / "points").glob("*/point.json")
    assert len(json.loads(point.read_text())["repetitions"]) == 2


def _zip_with(path: Path, members: list[tuple[str, bytes, int | None]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "experiment/ok/meta.yaml",
            "alias: ok\nuid: 00000000000000aa\nautomation_alias: experiment\n",
        )
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


MALICIOUS = {
    "absolute": [("/tmp/ckx-evil-abs.txt", b"x", None)],
    "dotdot": [("experiment/../../ckx-evil-dotdot.txt", b"x", None)],
    "dotdot-deep": [("experiment/ok/../../../ckx-evil.txt", b"x", None)],
    "symlink-out": [("experiment/ok/link", b"../../../../etc", stat.S_IFLNK | 0o777)],
    "symlink-abs": [("experiment/ok/link", b"/etc/passwd", stat.S_IFLNK | 0o777)],
    "symlink-other-entry": [("experiment/ok/link", b"../other/secret", stat.S_IFLNK | 0o777)],
    "fifo": [("experiment/ok/pipe", b"", stat.S_IFIFO | 0o644)],
}


@pytest.mark.parametrize("kind", sorted(MALICIOUS))
def test_malicious_archives_are_refused_and_nothing_is_written(kind, tmp_path, ckx_home):
    assert _access(action="add", automation="repo", entry="dst")["return"] == 0
    repo = ckx_home / "repos" / "dst"
    bad = _zip_with(tmp_path / "bad.zip", MALICIOUS[kind])
    before_repo, before_tmp = _tree(repo), _tree(tmp_path)
    out = _access(action="unzip", automation="repo", entry="dst", zip=str(bad))
    assert out["return"] == 10, out  # ArchiveError
    assert "unsafe member" in out["error"] and "nothing was extracted" in out["error"]
    assert _tree(repo) == before_repo and _tree(tmp_path) == before_tmp
    assert not Path("/tmp/ckx-evil-abs.txt").exists()


def test_files_outside_entries_are_ignored_with_a_warning(tmp_path, ckx_home):
    assert _access(action="add", automation="repo", entry="dst")["return"] == 0
    z = _zip_with(
        tmp_path / "odd.zip",
        [
            ("README.txt", b"hi", None),
            ("experiment/loose.txt", b"x", None),
            ("experiment/nometa/data.json", b"{}", None),
        ],
    )
    out = _access(action="unzip", automation="repo", entry="dst", zip=str(z))
    assert out["return"] == 0 and out["added"] == ["dst:experiment:ok"]
    assert len(out["ignored"]) == 3
    repo = ckx_home / "repos" / "dst"
    assert _tree(repo) == {"repo.yaml", "experiment", "experiment/ok", "experiment/ok/meta.yaml"}


def test_internal_links_inside_an_entry_are_kept(tmp_path, ckx_home):
    assert _access(action="add", automation="repo", entry="dst")["return"] == 0
    z = _zip_with(
        tmp_path / "links.zip",
        [
            ("experiment/ok/data.txt", b"data", None),
            ("experiment/ok/alias.txt", b"data.txt", stat.S_IFLNK | 0o777),
        ],
    )
    out = _access(action="unzip", automation="repo", entry="dst", zip=str(z))
    assert out["return"] == 0, out
    link = ckx_home / "repos" / "dst" / "experiment" / "ok" / "alias.txt"
    assert link.is_symlink() and os.readlink(link) == "data.txt" and link.read_text() == "data"


def test_unzip_missing_archive_and_not_a_zip(tmp_path):
    out = _access(action="unzip", automation="repo", zip=str(tmp_path / "nope.zip"))
    assert out["return"] == 3 and "not found" in out["error"]
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    out = _access(action="unzip", automation="repo", zip=str(junk))
    assert out["return"] == 10
