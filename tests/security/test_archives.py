"""Findings 1, 2 and 6 of the trust review: a shared archive carries data, never code, cache
results or links out of its entries, and never expands without bounds."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from .conftest import (
    GET_PYTHON3_UID,
    access,
    experiment_meta,
    link,
    make_zip,
    tar_gz_with,
    tree,
)

# where the forged cache result points: a path no real run can produce, so finding it in the
# env proves the forgery was used (whatever folder the checkout, CKX_HOME or TMPDIR is in)
FORGED = "/forged-by-ckr-zip"


def _hostile_fragment(path: Path, marker: Path) -> Path:
    """A ckr.zip with a real experiment plus everything an attacker would slip in."""
    evil_meta = (
        "alias: evil-python\nuid: 'eeeeeeeeeeeeeee1'\nautomation_alias: script\n"
        "tags: [get, python, python3, get-python, get-python3]\nsort: 100000\ncache: false\n"
    )
    return make_zip(
        path,
        {
            "experiment/ok/meta.yaml": experiment_meta("ok", "00000000000000a1"),
            "script/evil-python/meta.yaml": evil_meta,
            "script/evil-python/run.sh": f"#!/bin/sh\ntouch {marker}\n",
            "script/evil-python/customize.py": (
                f"def preprocess(i):\n    open({str(marker)!r}, 'w').close()\n    return {{}}\n"
            ),
            "automation/zzz/meta.yaml": (
                "alias: zzz\nuid: 'eeeeeeeeeeeeeee2'\nautomation_alias: automation\n"
                "tags: [automation]\nactions: {go: {desc: pwn}}\n"
            ),
            "automation/zzz/module.py": (
                f"open({str(marker)!r}, 'w').close()\n\ndef go(ctx, i):\n    return {{}}\n"
            ),
            # a forged result for get-python3: whatever key it claims, it is never imported
            "cache/d0b5dd74aaaaaaaa/meta.json": (
                '{"alias": "get-python3", "uid": "d0b5dd74aaaaaaaa", "automation_alias": "cache",'
                ' "tags": ["get", "python3"], "key": "forged",'
                f' "new_env": {{"+PATH": ["{FORGED}"], "CKX_PYTHON_BIN_WITH_PATH": "{FORGED}/python3"}}}}'
            ),
        },
    )


def _python3_runs_the_builtin(ckx_home: Path) -> dict:
    out = access(action="run", automation="script", query="get,python3")
    assert out["return"] == 0, out
    assert out.get("status") != "cached"  # a fresh home: nothing could have been cached
    assert FORGED not in str(out.get("env")), out["env"]
    hits = access(action="find", automation="script", tags="get,python3")["list"]
    assert [h["uid"] for h in hits] == [GET_PYTHON3_UID]
    return out


def test_unzip_merges_experiments_only_and_never_installs_code(tmp_path, ckx_home):
    marker = tmp_path / "pwned"
    frag = _hostile_fragment(tmp_path / "ckr.zip", marker)
    out = access(action="unzip", automation="repo", zip=str(frag))
    assert out["return"] == 0, out
    assert out["added"] == ["local:experiment:ok"]
    refused = " ".join(out["refused"])
    assert "script/evil-python" in refused and "--allow_code" in refused
    assert "automation/zzz" in refused and "cache/d0b5dd74aaaaaaaa" in refused
    assert "never imported" in refused
    local = ckx_home / "repos" / "local"
    assert not (local / "script").exists() and not (local / "automation").exists()
    assert not (local / "cache" / "d0b5dd74aaaaaaaa").exists()
    _python3_runs_the_builtin(ckx_home)
    go = access(action="go", automation="zzz")
    assert go["return"] == 3 and "unknown automation 'zzz'" in go["error"]
    assert not marker.exists()


def test_allow_code_quarantines_code_in_an_untrusted_repo_until_added(tmp_path, ckx_home, cli):
    marker = tmp_path / "pwned"
    frag = _hostile_fragment(tmp_path / "team.zip", marker)
    r = cli("unzip", "repo", f"--zip={frag}", "--allow_code")
    assert r.code == 0, r
    assert "untrusted repo 'untrusted-team'" in r.err and "ckx add repo:untrusted-team" in r.err
    assert "refused cache/d0b5dd74aaaaaaaa" in r.err  # cache entries: never, even so
    quarantine = ckx_home / "repos" / "untrusted-team"
    assert (quarantine / "script" / "evil-python" / "run.sh").is_file()
    assert (quarantine / "automation" / "zzz" / "module.py").is_file()
    assert "untrusted" in cli("ls", "repo").out
    _python3_runs_the_builtin(ckx_home)  # the untrusted repo is not searched ...
    assert cli("find", "script:evil-python").code == 3
    assert cli("go", "zzz").code == 3  # ... nor its automations imported
    named = access(action="ls", automation="script", repo="untrusted-team")
    assert named["return"] == 3 and "not trusted" in named["error"]
    assert not marker.exists()
    # the user reviews it and says so: from now on it is a repo like any other
    assert cli("add", "repo:untrusted-team").code == 0
    found = cli("find", "script:evil-python")
    assert found.code == 0 and str(quarantine) in found.out
    assert cli("rm", "repo:untrusted-team", "--force", "--delete").code == 0
    assert not quarantine.exists() and not marker.exists()


def test_a_link_chain_out_of_the_entry_is_refused_and_nothing_merged(tmp_path, ckx_home):
    # each link text alone stays inside the entry (`a/..` is `.`); followed, `b` is the
    # experiment folder and `c` the repo root, which the dashboard would then publish
    frag = make_zip(
        tmp_path / "chain.zip",
        {
            "experiment/ok/meta.yaml": experiment_meta("ok", "00000000000000a1"),
            "experiment/ok/a": link("."),
            "experiment/ok/b": link("a/.."),
            "experiment/ok/c": link("b/.."),
        },
    )
    out = access(action="unzip", automation="repo", zip=str(frag))
    assert out["return"] == 10, out
    assert "resolves outside its entry" in out["error"] and "nothing was merged" in out["error"]
    assert tree(ckx_home / "repos" / "local") == set()


def test_zip_bomb_is_refused_before_it_fills_the_disk(tmp_path, ckx_home):
    # 40 MiB of zeros deflate to ~40 kB: a ratio of ~1000 against the limit of 200
    frag = make_zip(
        tmp_path / "bomb.zip",
        {
            "experiment/ok/meta.yaml": experiment_meta("ok", "00000000000000a1"),
            "experiment/ok/points/p/files/zeros": bytes(40 * 1024 * 1024),
        },
    )
    assert frag.stat().st_size < 200_000
    out = access(action="unzip", automation="repo", zip=str(frag))
    assert out["return"] == 10, out
    assert "CKX_EXTRACT_MAX_RATIO" in out["hint"] and "nothing was extracted" in out["error"]
    assert _bytes_under(ckx_home) < 1024 * 1024


@pytest.mark.parametrize(
    ("var", "value", "what"),
    [
        ("CKX_EXTRACT_MAX_MEMBERS", "20", "more than 20 members"),
        ("CKX_EXTRACT_MAX_BYTES", "50000", "more than 50000 bytes"),
    ],
)
def test_extraction_limits_are_adjustable(tmp_path, ckx_home, monkeypatch, var, value, what):
    members = {"experiment/ok/meta.yaml": experiment_meta("ok", "00000000000000a1")}
    members.update({f"experiment/ok/points/p/files/f{k}": os.urandom(2000) for k in range(40)})
    frag = make_zip(tmp_path / "many.zip", members)
    monkeypatch.setenv(var, value)
    out = access(action="unzip", automation="repo", zip=str(frag))
    assert out["return"] == 10 and what in out["error"], out
    monkeypatch.setenv(var, "100000000")
    assert access(action="unzip", automation="repo", zip=str(frag))["return"] == 0


def test_a_package_tar_gz_bomb_is_refused_and_nothing_is_placed(tmp_path, ckx_home, cli):
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(tar_gz_with({"data/zeros.bin": bytes(40 * 1024 * 1024)}))
    assert bomb.stat().st_size < 200_000
    repo = tmp_path / "pkgrepo"
    pkg = repo / "package" / "bomb-data"
    pkg.mkdir(parents=True)
    (repo / "repo.yaml").write_text("alias: pkgrepo\nuid: '00000000000000f1'\n")
    (pkg / "meta.yaml").write_text(
        "alias: bomb-data\nuid: '00000000000000f2'\nautomation_alias: package\n"
        "tags: [dataset, bomb]\ndownload:\n"
        f"  - url: file://{bomb}\n    filename: bomb.tar.gz\n    extract: true\n"
    )
    assert cli("add", "repo:pkgrepo", f"--path={repo}").code == 0
    r = cli("install", "package", "--tags=dataset,bomb", "--quiet")
    assert r.code == 10, r
    assert "CKX_EXTRACT_MAX_RATIO" in r.err and "Traceback" not in r.err
    assert _bytes_under(ckx_home) < 2 * 1024 * 1024  # the archive itself, not its contents


def test_extract_counts_tar_members_as_it_reads(tmp_path, monkeypatch):
    from ckx.artifacts.archive import extract
    from ckx.core.errors import ArchiveError

    many = tmp_path / "many.tar"
    with tarfile.open(many, "w") as tf:
        for k in range(50):
            tf.addfile(tarfile.TarInfo(f"d/f{k}"))
    monkeypatch.setenv("CKX_EXTRACT_MAX_MEMBERS", "10")
    with pytest.raises(ArchiveError, match="more than 10 members"):
        extract(many, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["many.tar"]


def test_dashboard_copies_only_regular_files_inside_the_entry(tmp_path, ckx_home, synth):
    from .conftest import access as acc

    secret = tmp_path / "private.txt"
    secret.write_text("private")
    assert (
        acc(
            action="benchmark",
            automation="program",
            entry="synth",
            cmd_key="fast",
            record=True,
            record_uoa="d",
            print_files="out.txt",
        )["return"]
        == 0
    )
    exp = ckx_home / "repos" / "local" / "experiment" / "d"
    files = next((exp / "points").iterdir()) / "files"
    # what a hostile or careless entry may hold: links out, a loop, a link to the repo root
    os.symlink(secret, files / "leak.txt")
    os.symlink(".", files / "loop")
    os.symlink(ckx_home, files / "home")
    out_dir = tmp_path / "dash"
    out = acc(action="dashboard", automation="experiment", output=str(out_dir))
    assert out["return"] == 0, out
    everything = list((out_dir / "files").rglob("*"))
    copied = [p for p in everything if p.is_file()]
    assert len(copied) == 1 and copied[0].as_posix().endswith("/r0001/out.txt"), everything
    assert not any(p.is_symlink() for p in out_dir.rglob("*"))
    assert "private" not in (out_dir / "index.html").read_text()
    assert _bytes_under(out_dir) < 1024 * 1024


def _bytes_under(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
