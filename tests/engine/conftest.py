"""Helpers for engine tests: a fixture repo of script entries, registered in a fresh CKX_HOME."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ckx.core.context import Context
from ckx.core.repos import Repo
from ckx.core.ui import UI

REPO_UID = "00000000000000aa"


def uid_of(alias: str) -> str:
    return hashlib.sha256(alias.encode()).hexdigest()[:16]


def write_script(repo: Path, alias: str, meta: dict, files: dict[str, str] | None = None) -> Path:
    """Create ``<repo>/script/<alias>/meta.json`` (uid derived from the alias) and files."""
    d = repo / "script" / alias
    d.mkdir(parents=True, exist_ok=True)
    full = {
        "alias": alias,
        "uid": uid_of(alias),
        "automation_alias": "script",
        "tags": [alias],
        **meta,
    }
    (d / "meta.json").write_text(json.dumps(full, indent=1))
    for name, text in (files or {}).items():
        (d / name).write_text(text)
    return d


@pytest.fixture
def script_repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "repo.yaml").write_text(f"alias: t\nuid: {REPO_UID}\n")
    return repo


@pytest.fixture
def ectx(ckx_home, script_repo):
    """A Context whose registry holds the fixture repo ``t``."""
    c = Context(ckx_home, ui=UI(mode="none", interactive=False))
    c.registry.add(Repo(alias="t", uid=REPO_UID, path=script_repo))
    yield c
    if "index" in c.__dict__:
        c.index.close()
