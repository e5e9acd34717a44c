"""Source checkouts: a ``git`` item of a package's ``download`` block.

::

    download:
      - git: https://github.com/mlcommons/inference.git
        checkout: master            # a branch or tag (shallow clone), or a commit (full clone)
        dest: inference             # default: the repository name
        submodules: false           # --recurse-submodules
        expect: [inference/loadgen/loadgen.h]
        env: {CKX_MLPERF_INFERENCE_SOURCE: inference}
        commit_env: CKX_MLPERF_INFERENCE_SOURCE_COMMIT   # the commit that was checked out

Mirrors come first, as for files: a mirror directory holding ``<name>.git`` (a bare or
``--mirror`` clone, what :func:`prefetch_git` writes) or ``<name>``, and an http(s) mirror
base serving ``<base>/<name>.git`` (git's "dumb" HTTP protocol: any static file server, after
``git update-server-info``). Then the origin URL. git never prompts (``GIT_TERMINAL_PROMPT=0``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from ckx.core.errors import DownloadError, NotFoundError

GIT_TIMEOUT_S = 3600.0
_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


def repo_name(url: str) -> str:
    """``https://github.com/mlcommons/inference.git`` -> ``inference``."""
    last = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return last[:-4] if last.endswith(".git") else last


def sources(url: str, mirrors: Sequence[str]) -> list[str]:
    """Where to clone from, in order: mirror candidates, then ``url``."""
    name = repo_name(url)
    out: list[str] = []
    for m in mirrors:
        if m.lower().startswith(("http://", "https://")):
            out.append(f"{m.rstrip('/')}/{name}.git")
            continue
        for cand in (Path(m) / f"{name}.git", Path(m) / name):
            if cand.is_dir():
                out.append(str(cand))
                break
    return [*out, url]


def _git(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    if shutil.which("git") is None:
        raise NotFoundError(
            "git is not installed, and this package is a git checkout",
            hint="install git (apt-get install git), or register a checkout with --path=DIR",
        )
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true")
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
    )


def clone(
    url: str,
    dest: Path,
    *,
    checkout: str | None = None,
    submodules: bool = False,
    mirrors: Sequence[str] = (),
    info: Callable[[str], None] | None = None,
) -> tuple[str, str]:
    """Clone ``url`` (a mirror first) at ``checkout`` into ``dest`` (which must not exist);
    return ``(source, commit)``. DownloadError naming every source tried when none works."""
    failures = []
    for src in sources(url, mirrors):
        if info:
            info(f"  git clone {src}" + (f" ({checkout})" if checkout else ""))
        err = _clone_one(src, dest, checkout, submodules)
        if err is None:
            head = _git(["rev-parse", "HEAD"], cwd=dest).stdout.strip()
            return src, head
        shutil.rmtree(dest, ignore_errors=True)
        failures.append(f"{src}: {err}")
    from ckx.artifacts.download import OFFLINE_HINT

    raise DownloadError(
        f"could not clone {url}"
        + (f" at {checkout}" if checkout else "")
        + ": "
        + "; ".join(failures),
        hint=OFFLINE_HINT
        + "; for a git source the mirror holds <name>.git (ckx prefetch writes it)",
    )


def _clone_one(src: str, dest: Path, checkout: str | None, submodules: bool) -> str | None:
    args = ["clone", "--quiet"]
    if submodules:
        args += ["--recurse-submodules", "--shallow-submodules"]
    commit = checkout if checkout and _SHA.match(checkout) else None
    if checkout and not commit:
        args += ["--depth", "1", f"--branch={checkout}"]
    # `--` before the URL and the path: neither is ever read as an option of git
    proc = _git([*args, "--", src, str(dest)])
    if proc.returncode != 0 and "shallow" in proc.stderr and "--depth" in args:
        # a static ("dumb" HTTP) mirror cannot serve a shallow clone: fetch it whole
        shutil.rmtree(dest, ignore_errors=True)
        k = args.index("--depth")
        proc = _git([*args[:k], *args[k + 2 :], "--", src, str(dest)])
    if proc.returncode == 0 and commit:
        proc = _git(["checkout", "--quiet", commit, "--"], cwd=dest)
    if proc.returncode != 0:
        return " ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:]) or "git failed"
    return None


def prefetch_git(url: str, into: Path, *, mirrors: Sequence[str] = ()) -> Path:
    """Write a ``--mirror`` clone of ``url`` as ``into/<name>.git`` (servable over plain HTTP:
    ``git update-server-info`` is run). Returns its path."""
    target = Path(into) / f"{repo_name(url)}.git"
    if target.exists():
        _git(["remote", "update", "--prune"], cwd=target)
    else:
        failures = []
        for src in sources(url, mirrors):
            proc = _git(["clone", "--quiet", "--mirror", "--", src, str(target)])
            if proc.returncode == 0:
                break
            shutil.rmtree(target, ignore_errors=True)
            failures.append(f"{src}: {proc.stderr.strip()[-300:]}")
        else:
            raise DownloadError(f"could not clone {url}: " + "; ".join(failures))
    _git(["update-server-info"], cwd=target)
    return target
