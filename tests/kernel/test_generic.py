"""The generic actions every automation has: add, load, find, search, ls, rm, ren, cp, mv, update."""

import json

import pytest


@pytest.fixture
def cx(cli):
    assert cli("add", "repo:work").code == 0
    return cli


def test_add_then_load_find_search_ls(cx, ckx_home):
    r = cx("add", "work:automation:widget", "--tags=w,gadget", "--json")
    assert r.code == 0, r
    path = r.json()["path"]
    assert path == str(ckx_home / "repos" / "work" / "automation" / "widget")
    assert cx("find", "automation:widget").out.strip() == path
    assert cx("search", "automation", "--tags=w,-nope").out.split() == ["work:automation:widget"]
    assert cx("search", "automation", "--tags=w,-gadget").out.split() == []
    assert "work:automation:widget" in cx("ls", "automation:wid*").out
    meta = cx("load", "automation:widget", "--json").json()["meta"]
    assert meta["tags"] == ["w", "gadget"] and len(meta["uid"]) == 16
    assert cx("add", "work:automation:widget").code == 12


def test_ren_cp_mv_update_rm(cx, ckx_home):
    cx("add", "work:automation:one", "--tags=a")
    assert cx("ren", "automation:one", "uno").code == 0
    assert cx("search", "automation:uno").out.split() == ["work:automation:uno"]
    uid = cx("load", "automation:uno", "--json").json()["meta"]["uid"]
    assert cx("cp", "automation:uno", "work:automation:dos").code == 0
    dos = cx("load", "automation:dos", "--json").json()["meta"]
    assert dos["uid"] != uid and dos["alias"] == "dos"
    assert cx("mv", "automation:uno", "local:automation:uno").code == 0
    moved = cx("load", "automation:uno", "--json").json()
    assert moved["entry"]["repo"] == "local" and moved["meta"]["uid"] == uid
    assert cx("update", "automation:dos", "--meta.desc=two things").code == 0
    assert cx("load", "automation:dos", "--json").json()["meta"]["desc"] == "two things"
    bad = cx("update", "automation:dos", "--meta.desc.x=1")
    assert bad.code == 4 and "field 'desc'" in bad.err
    r = cx("rm", "automation:dos")
    assert r.code == 2 and "--force" in r.err  # no TTY and no --force: nothing removed
    assert cx("rm", "automation:*o*", "--repo=work", "--force").code == 0
    assert cx("search", "automation:dos").out.strip() == ""
    assert cx("search", "automation:uno").out.split() == ["local:automation:uno"]


def test_rm_refuses_builtin_entries(cx):
    r = cx("rm", "automation:repo", "--force")
    assert r.code == 2 and "part of ckx itself" in r.err


def test_add_from_a_template(cx, ckx_home):
    tpl = ckx_home / "repos" / "work" / "automation" / "thing" / "templates" / "basic"
    cx("add", "work:automation:thing")
    tpl.mkdir(parents=True)
    (tpl / "meta.yaml").write_text("desc: from template\ntags: [templ]\n")
    (tpl / "run.sh").write_text("echo hi\n")
    r = cx("add", "work:thing:t1", "--template=basic", "--tags=mine")
    assert r.code == 0, r
    d = ckx_home / "repos" / "work" / "thing" / "t1"
    assert (d / "run.sh").read_text() == "echo hi\n"
    meta = cx("load", "thing:t1", "--json").json()["meta"]
    assert meta["desc"] == "from template" and meta["tags"] == ["mine"]
    missing = cx("add", "work:thing:t2", "--template=nope")
    assert missing.code == 3 and "available: basic" in missing.err
    assert not (ckx_home / "repos" / "work" / "thing" / "t2").exists()


def test_input_file_and_nested_keys(cx, tmp_path):
    f = tmp_path / "in.json"
    f.write_text(json.dumps({"meta": {"desc": "from file"}}))
    cx("add", "work:automation:fromfile", f"@{f}")
    assert cx("load", "automation:fromfile", "--json").json()["meta"]["desc"] == "from file"
