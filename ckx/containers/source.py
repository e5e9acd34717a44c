"""What an image takes from the host: ckx itself (a wheel built from the running checkout), the
registered repos, the versions to pin, the CA bundle. Nothing is cloned or pulled.

The digest of ckx's source is taken over the files that go into the wheel (``ckx/`` and the
built-in repo's folders), so an unchanged checkout gives the same image tag; the wheel itself
is only built when an image has to be built, with ``SOURCE_DATE_EPOCH`` fixed so that the same
source gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ckx.core.errors import RunError, UsageError

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.repos import Repo

#: Files and folders never copied into an image.
IGNORED = frozenset({"__pycache__", ".git", ".hg", ".svn", ".venv", ".mypy_cache", ".ruff_cache"})
#: Variables naming a CA bundle, in the order they are asked.
CA_VARS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
#: Files of the checkout's root that the wheel build reads.
ROOT_FILES = ("pyproject.toml", "setup.py", "README.md", "repos.yaml", "LICENSE")


def checkout() -> Path:
    """The checkout ckx runs from (where ``pyproject.toml`` and ``setup.py`` are)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "setup.py").is_file():
        return root
    raise UsageError(
        f"--docker builds ckx into the image from its source, and ckx runs from {root.parent} "
        "(an installed wheel) without it",
        hint="run ckx from a checkout (pip install -e CHECKOUT) to use --docker",
    )


def _content_folders(root: Path) -> list[str]:
    import yaml

    data = yaml.safe_load((root / "repos.yaml").read_text(encoding="utf-8")) or {}
    out = {"automation"}
    for repo in data.get("repos") or []:
        out.update(str(f) for f in (repo.get("folders") or {}).values())
    return sorted(f for f in out if (root / f).is_dir())


def walk(base: Path, rel: Path = Path()) -> Iterator[Path]:
    """Files under ``base`` (relative paths, sorted), without caches and VCS folders."""
    try:
        names = sorted(os.listdir(base / rel))
    except FileNotFoundError:
        return
    for name in names:
        if name in IGNORED or name.endswith(".pyc") or name == "_builtin":
            continue
        p = rel / name
        full = base / p
        if full.is_dir() and not full.is_symlink():
            yield from walk(base, p)
        elif full.is_file():
            yield p


def source_files(root: Path) -> list[Path]:
    """The checkout's files a wheel of ckx is built from (relative)."""
    files = [Path(f) for f in ROOT_FILES if (root / f).is_file()]
    for folder in ["ckx", *_content_folders(root)]:
        files += [Path(folder) / p for p in walk(root / folder)]
    return files


def tree_digest(root: Path, files: Iterable[Path]) -> str:
    """sha256 over the names, executable bits and contents of ``files`` under ``root``."""
    h = hashlib.sha256()
    for rel in files:
        full = root / rel
        h.update(str(rel).encode() + b"\0" + (b"x" if os.access(full, os.X_OK) else b"-"))
        with open(full, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def build_wheel(root: Path, files: list[Path], out: Path) -> Path:
    """A wheel of ckx from a copy of ``files`` (the checkout itself is not written to)."""
    src = out / "src"
    for rel in files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, src / rel)
    wheels = out / "wheels"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800", "PIP_NO_INPUT": "1"}
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)]
    p = subprocess.run(
        [*cmd[:5], "--no-build-isolation", *cmd[5:]],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    if p.returncode != 0:  # no setuptools here: let pip fetch it
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    found = sorted(wheels.glob("*.whl"))
    if p.returncode != 0 or not found:
        raise RunError(
            "could not build a wheel of ckx for the image: " + p.stderr.strip()[-600:],
            hint=f"try it by hand: {sys.executable} -m pip wheel --no-deps {root}",
        )
    shutil.rmtree(src, ignore_errors=True)
    return found[0]


def distribution(root: Path) -> str:
    """The name of ckx's distribution, as the checkout's ``pyproject.toml`` declares it."""
    import re

    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'^name\s*=\s*"([^"]+)"', text, re.M)
    return m.group(1) if m else "ckx"


def user_repos(ctx: Context) -> list[Repo]:
    """The registered repos an image copies in (trusted, not built-in, not ``local``)."""
    return [r for r in ctx.registry.repos if r.kind == "user" and r.path.is_dir()]


def ca_bundle(environ: dict[str, str]) -> Path | None:
    """The CA bundle this machine's tools are pointed at (``PIP_CERT`` ...), if any."""
    for var in CA_VARS:
        value = environ.get(var)
        if value and Path(value).is_file():
            return Path(value).resolve()
    return None


# --- versions to pin ----------------------------------------------------------------------


def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """``name -> version`` of ``names`` and of what they require, as installed in the Python
    running ckx (local versions such as ``+cpu`` are left out: no index has them)."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    todo: list[str] = [canonicalize_name(n) for n in names]
    seen: set[str] = set()
    out: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if "+" not in dist.version:
            out[name] = dist.version
        for text in dist.requires or []:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return out
