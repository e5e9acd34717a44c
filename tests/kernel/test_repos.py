"""Repos: add, pull (git, offline via local paths and file:// URLs), ls, where, rm, and
registering MLCFlow and CM repositories exactly as they are."""

import shutil
import subprocess

import pytest

from tests.conftest import FIXTURES


@pytest.fixture
def mlc_repo(tmp_path):
    dest = tmp_path / "mlperf-automations"
    shutil.copytree(FIXTURES / "mlcflow-repo", dest)
    return dest


def _git_repo(src, dest):
    shutil.copytree(src, dest)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "HOME": str(dest),
    }
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "init"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, env=env)
    return dest


def test_mlcflow_repo_registers_as_it_is_and_search_finds_get_python3(cli, mlc_repo):
    r = cli("add", "repo:mlc", f"--path={mlc_repo}")
    assert r.code == 0, r
    r = cli("search", "script", "--tags=get,python3", "--repo=mlc")
    assert r.code == 0, r
    assert r.out.split() == ["mlc:script:get-python3"]
    assert "mlc:script:get-python3" in cli("search", "script", "--tags=get,python3").out.split()
    # meta.json entries of the same repo are indexed too
    assert cli("search", "script", "--tags=detect,os", "--repo=mlc").out.split() == [
        "mlc:script:detect-os"
    ]
    # a folder without metas (docs/) is not an entry and produces no warning
    assert "warning" not in r.err


def test_cm_repo_with_cmr_yaml_and__cm_yaml_entries(cli, tmp_path):
    dest = tmp_path / "cm"
    shutil.copytree(FIXTURES / "cm-repo", dest)
    assert cli("add", "repo:cm", f"--path={dest}").code == 0
    r = cli("ls", "repo", "--json")
    assert {"alias": "cm", "uid": "1b2c3d4e5f607182"}.items() <= next(
        x for x in r.json()["list"] if x["alias"] == "cm"
    ).items()
    assert cli("find", "script", "--tags=cuda").out.strip() == str(dest / "script" / "get-cuda")


def test_add_creates_a_new_repo_when_no_path_and_rm_unregisters(cli, ckx_home):
    r = cli("add", "repo:fresh")
    assert r.code == 0 and (ckx_home / "repos" / "fresh" / "repo.yaml").is_file()
    assert cli("where", "repo:fresh").out.strip() == str(ckx_home / "repos" / "fresh")
    assert cli("add", "repo:fresh").code == 12  # ConflictError
    r = cli("rm", "repo:fresh")  # no TTY, no --force: refuses
    assert r.code == 2 and "--force" in r.err
    assert cli("rm", "repo:fresh", "--force", "--delete").code == 0
    assert not (ckx_home / "repos" / "fresh").exists()
    r = cli("where", "repo:fresh")
    assert r.code == 3 and "unknown repo 'fresh'" in r.err


def test_rm_never_deletes_a_folder_ckx_does_not_own(cli, mlc_repo):
    cli("add", "repo:mlc", f"--path={mlc_repo}")
    r = cli("rm", "repo:mlc", "--force", "--delete")
    assert r.code == 2 and mlc_repo.is_dir()
    assert cli("rm", "repo:mlc", "--force").code == 0
    assert mlc_repo.is_dir()
    assert "mlc:" not in cli("search", "script", "--tags=get,python3").out


@pytest.mark.parametrize("scheme", ["path", "file"])
def test_pull_clones_git_repos_offline(cli, tmp_path, ckx_home, scheme):
    src = _git_repo(FIXTURES / "mlcflow-repo", tmp_path / "upstream")
    url = str(src) if scheme == "path" else f"file://{src}"
    r = cli("pull", "repo", f"--url={url}")
    assert r.code == 0, r
    assert (ckx_home / "repos" / "upstream" / "script" / "get-python3" / "meta.yaml").is_file()
    assert cli("search", "script", "--tags=get,python3", "--repo=upstream").out.split() == [
        "upstream:script:get-python3"
    ]
    # pulling again updates in place (fast-forward)
    (src / "script" / "get-python3" / "meta.yaml").write_text(
        (src / "script" / "get-python3" / "meta.yaml")
        .read_text()
        .replace("- get-python3", "- get-python3\n- newtag")
    )
    subprocess.run(
        ["git", "commit", "-qam", "tag"],
        cwd=src,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            "HOME": str(src),
        },
    )
    assert cli("pull", "repo", f"--url={url}").code == 0
    assert cli("search", "script", "--tags=newtag").out.split() == ["upstream:script:get-python3"]


def test_pull_of_a_bad_url_fails_cleanly_and_leaves_nothing(cli, tmp_path, ckx_home):
    r = cli("pull", "repo", f"--url={tmp_path / 'nope'}")
    assert r.code == 6 and "git failed" in r.err
    assert not any(p.name.startswith(".tmp") for p in (ckx_home / "repos").iterdir())
    assert "nope" not in cli("ls", "repo").out
