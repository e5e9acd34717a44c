"""Issue 20 item 15: an entry whose alias differs from its folder name is a lint warning, and
loading it by its folder name says why it is not found and what to type instead."""

from __future__ import annotations

from tests.conftest import write_entry


def test_an_alias_that_differs_from_its_folder_is_told(cli, tmp_path, ckx_home):
    repo = tmp_path / "mine"
    (repo / "script").mkdir(parents=True)
    (repo / "repo.yaml").write_text("alias: mine\nuid: '00000000000000d1'\n")
    d = write_entry(repo / "script", "folder-name", "00000000000000d2", ["odd"])
    meta = d / "meta.yaml"
    meta.write_text(meta.read_text().replace("alias: folder-name", "alias: other-name"))
    assert cli("add", "repo:mine", f"--path={repo}").code == 0
    lint = cli("lint", "--repo=mine")
    assert "alias 'other-name' differs from its folder name 'folder-name'" in lint.out, lint
    assert "1 warning(s)" in lint.out
    r = cli("load", "script:folder-name")
    assert r.code == 3, r
    assert "the entry in the folder" in r.err and "is named 'other-name'" in r.err
    assert "script:other-name" in r.err
    assert cli("load", "script:other-name").code == 0
    assert cli("run", "get,python3", "--quiet").code == 0
    clean = cli("lint", "--repo=local")  # cache entries live in folders named by their uid
    assert "differs from its folder name" not in clean.out
