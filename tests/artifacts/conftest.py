"""Fixtures for the artefact services tests (store, locks, downloads, mirrors, archives)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.helpers` must import however pytest was started
    sys.path.insert(0, str(ROOT))

from ckx.artifacts.cas import ObjectStore  # noqa: E402
from tests.helpers.httpserver import http_server  # noqa: E402,F401 - re-exported fixture


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    """An empty object store in a temp dir."""
    return ObjectStore(tmp_path / "store")
