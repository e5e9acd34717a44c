"""Fixtures for the trust tests: attacks on archives, metas, downloads, records and the CLI.

Every test builds its hostile input itself (a ``ckr.zip``, a meta, a slow HTTP server) in its
own CKX_HOME and checks that the attack holds: no marker file appears, nothing is written
outside the target, sizes stay bounded and the answer is one clear error.
"""

from __future__ import annotations

import io
import json
import stat
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.helpers` must import however pytest was started
    sys.path.insert(0, str(ROOT))

from tests.experiments.conftest import make_synth_repo  # noqa: E402
from tests.helpers.httpserver import http_server  # noqa: E402,F401 - re-exported fixture
from tests.sweeps.conftest import sweepy, sweepy_repo  # noqa: E402,F401 - re-exported fixtures

GET_PYTHON3_UID = "d0b5dd74373f4a62"


def access(**req) -> dict:
    import ckx

    return ckx.access({"quiet": True, **req})


def make_zip(path: Path, members: dict[str, bytes | str | tuple[bytes, int]]) -> Path:
    """A zip with ``members`` (name -> data, or (data, st_mode) for links and the like)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in members.items():
            data, mode = value if isinstance(value, tuple) else (value, None)
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data.encode() if isinstance(data, str) else data)
    return path


def experiment_meta(alias: str, uid: str) -> str:
    return (
        f"alias: {alias}\nuid: '{uid}'\nautomation_alias: experiment\ntags: [shared]\n"
        "ckx_experiment: 1\n"
    )


def link(target: str) -> tuple[bytes, int]:
    return (target.encode(), stat.S_IFLNK | 0o777)


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


def big_zeros_member(nbytes: int) -> bytes:
    return bytes(nbytes)


def json_bytes(data) -> bytes:
    return json.dumps(data).encode()


def tar_gz_with(members: dict[str, bytes]) -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def synth(tmp_path, ckx_home) -> Path:
    """The synthetic program of the experiment tests, registered as repo ``t``."""
    root = make_synth_repo(tmp_path / "synth-repo")
    out = access(action="add", automation="repo", entry="t", path=str(root))
    assert out["return"] == 0, out
    return root
