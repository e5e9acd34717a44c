"""Issue 20 item 14: a URL is never an option of git. ``--url=--upload-pack=...`` is refused
as "not a URL", and every git call ckx makes puts ``--`` before its URLs and paths."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import FIXTURES
from tests.kernel.test_repos import _git_repo


def test_a_url_that_begins_with_a_dash_is_not_a_url(cli, tmp_path, ckx_home):
    marker = tmp_path / "X"
    r = cli("pull", "repo", f"--url=--upload-pack=touch {marker}", cwd=tmp_path)
    assert r.code == 2, r
    assert "is not a URL" in r.err and "begins with '-'" in r.err
    assert ".tmp-clone" not in r.err and "Traceback" not in r.err
    assert not marker.exists()
    repos = ckx_home / "repos"
    assert not repos.exists() or not any(p.name.startswith(".tmp") for p in repos.iterdir())


def _logging_git(tmp_path: Path) -> tuple[dict, Path]:
    """A ``git`` first on PATH that logs its argv (one line, NUL-separated) and runs git."""
    real = shutil.which("git")
    assert real
    log = tmp_path / "git.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "git").write_text(
        f'#!/bin/sh\nprintf "%s\\0" "$@" >> "{log}"\necho >> "{log}"\nexec "{real}" "$@"\n'
    )
    (bindir / "git").chmod(0o755)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}, log


def test_every_git_call_puts_double_dash_before_urls_and_paths(cli, tmp_path, ckx_home):
    env, log = _logging_git(tmp_path)
    src = _git_repo(FIXTURES / "mlcflow-repo", tmp_path / "upstream")
    assert cli("pull", "repo", f"--url={src}", env=env).code == 0
    # a package that is a git checkout: its mirror clone (prefetch) and its clone (install)
    pkg = tmp_path / "pkgs" / "package" / "src-checkout"
    pkg.mkdir(parents=True)
    (tmp_path / "pkgs" / "repo.yaml").write_text("alias: pk\nuid: 6170617061706170\n")
    (pkg / "meta.yaml").write_text(
        "alias: src-checkout\nuid: '6170617061706171'\nautomation_alias: package\n"
        f"tags: [src, checkout]\ndownload:\n  - git: {src}\n    checkout: main\n"
    )
    assert cli("add", "repo:pk", f"--path={tmp_path / 'pkgs'}").code == 0
    r = cli("prefetch", "package", "--tags=src,checkout", f"--to={tmp_path / 'mirror'}", env=env)
    assert r.code == 0, r
    r = cli("install", "package", "--tags=src,checkout", "--quiet", env=env)
    assert r.code == 0, r
    calls = [line.split("\0")[:-1] for line in log.read_text().splitlines() if line]
    clones = [c for c in calls if c and c[0] == "clone"]
    assert len(clones) >= 3 and any("--mirror" in c for c in clones), calls
    for c in clones:
        assert "--" in c, c
        after = c[c.index("--") + 1 :]
        assert str(src) in after and not any(a.startswith("-") for a in after), c
