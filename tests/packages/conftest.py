"""Fixtures for package tests: contexts with a chosen environ, the HTTP server, zip builders."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.helpers` must import however pytest was started
    sys.path.insert(0, str(ROOT))

from tests.helpers.httpserver import http_server  # noqa: E402,F401 - re-exported fixture

PACKAGES = ROOT / "packages"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive holding ``files`` (name -> bytes), built in memory with the Unix mode
    bits Info-ZIP writes (regular file, 0644), as in the real COCO archives."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2017, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
    return buf.getvalue()


@pytest.fixture
def make_ctx(ckx_home) -> Callable[..., object]:
    """``make_ctx(**environ)``: a Context on the test's CKX_HOME with ``environ`` added."""
    from ckx.core.context import Context
    from ckx.core.ui import UI

    made = []

    def make(**environ: str):
        env = {**os.environ, **environ}
        c = Context(ckx_home, ui=UI(mode="none", interactive=False), environ=env)
        made.append(c)
        return c

    yield make
    for c in made:
        if "index" in c.__dict__:
            c.index.close()


def store_objects(home: Path) -> list[str]:
    from ckx.artifacts.cas import ObjectStore

    return list(ObjectStore(home / "objects").iter_objects())


def store_temp_files(home: Path) -> list[Path]:
    tmp = home / "objects" / "tmp"
    return list(tmp.iterdir()) if tmp.is_dir() else []
