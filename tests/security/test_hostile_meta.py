"""Finding 5: one hostile meta costs one clear message and its entry, never every command."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import access

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + k)}: &{chr(98 + k)} [" + ", ".join([f"*{chr(97 + k)}"] * 9) + "]\n"
    for k in range(8)
)

HOSTILE = {
    "big-int.json": '{"alias": "x", "uid": "00000000000000b1", "tags": [], "n": '
    + "9" * 5000
    + "}",
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "deep.yaml": "alias: x\nn: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "laughs.yaml": "alias: x\nuid: '00000000000000b1'\ntags: []\n" + LAUGHS,
    "dup.yaml": "alias: x\nuid: '00000000000000b1'\ntags: []\nalias: y\n",
    "dup.json": '{"alias": "x", "uid": "00000000000000b1", "tags": [], "alias": "y"}',
}
EXPECT = {
    "big-int.json": "too many digits",
    "deep.json": "nested too deeply",
    "deep.yaml": "nesting depth",
    "laughs.yaml": "more than 200000 values",
    "dup.yaml": "duplicate key 'alias'",
    "dup.json": "duplicate key 'alias'",
}


def _repo_with(tmp_path: Path, filename: str, text: str) -> Path:
    repo = tmp_path / "bad"
    d = repo / "script" / "x"
    d.mkdir(parents=True)
    (repo / "repo.yaml").write_text("alias: bad\nuid: '00000000000000b0'\n")
    name = "meta.json" if filename.endswith(".json") else "meta.yaml"
    (d / name).write_text(text)
    return repo


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_meta_is_skipped_with_one_message(case, tmp_path, ckx_home, cli):
    repo = _repo_with(tmp_path, case, HOSTILE[case])
    assert cli("add", "repo:bad", f"--path={repo}").code == 0
    start = time.monotonic()
    r = cli("ls", "script")
    assert r.code == 0, r
    assert "get-python3" in r.out and "Traceback" not in r.err
    assert EXPECT[case] in r.err and "skipped entry" in r.err
    assert time.monotonic() - start < 20  # seconds, not the minutes of expanding 10^9 values
    index = ckx_home / "index.sqlite"
    assert index.stat().st_size < 5 * 1024 * 1024
    lint = cli("lint")
    assert lint.code == 4 and EXPECT[case] in lint.out
    rm = cli("rm", "repo:bad", "--force")  # the way out always works
    assert rm.code == 0, rm
    assert cli("ls", "script").err == ""


def test_meta_limits_are_adjustable(tmp_path, ckx_home, monkeypatch):
    text = "alias: x\nuid: '00000000000000b1'\ntags: []\nlist: [" + "1, " * 300 + "1]\n"
    repo = _repo_with(tmp_path, "meta.yaml", text)
    assert access(action="add", automation="repo", entry="bad", path=str(repo))["return"] == 0
    monkeypatch.setenv("CKX_META_MAX_NODES", "100")
    out = access(action="find", automation="script", entry="x")
    assert out["return"] == 3 and "more than 100 values" in out["error"]
    monkeypatch.setenv("CKX_META_MAX_NODES", "1000")
    (repo / "script" / "x" / "meta.yaml").touch()  # the index re-reads a changed file only
    assert access(action="find", automation="script", entry="x")["return"] == 0


def test_a_huge_meta_is_not_read_into_memory(tmp_path, monkeypatch):
    from ckx.core.errors import MetaError
    from ckx.core.metafile import load_meta

    f = tmp_path / "meta.yaml"
    f.write_text("alias: x\nblob: '" + "x" * 5000 + "'\n")
    monkeypatch.setenv("CKX_META_MAX_BYTES", "1000")
    with pytest.raises(MetaError, match="larger than the limit of 1000 bytes"):
        load_meta(f)


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    from ckx.core.metafile import load_meta

    f = tmp_path / "meta.yaml"
    f.write_text("base: &b {x: 1, y: 2}\nnode:\n  <<: *b\n  x: 3\n")
    assert load_meta(f)["node"] == {"x": 3, "y": 2}


def test_duplicate_keys_in_a_foreign_repo_keep_the_last_and_lint_says_so(tmp_path, cli):
    """MLCFlow's own repo relies on YAML's last-one-wins (17 of its 324 scripts): a foreign
    repo registered as it is keeps working, and `ckx lint` names every duplicate."""
    repo = tmp_path / "mlc"
    d = repo / "script" / "twice"
    d.mkdir(parents=True)
    (repo / "meta.yaml").write_text("alias: mlc\nuid: '00000000000000d0'\n")  # MLCFlow's layout
    (d / "meta.yaml").write_text(
        "alias: twice\nuid: '00000000000000d1'\ntags: [twice]\nname: first\nname: second\n"
    )
    assert cli("add", "repo:mlc", f"--path={repo}").code == 0
    r = cli("load", "script:twice", "--json")
    assert r.code == 0 and r.json()["meta"]["name"] == "second" and r.err == "", r
    lint = cli("lint", "script:twice")
    assert lint.code == 4 and "duplicate key 'name'" in lint.out
