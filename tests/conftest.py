"""Shared fixtures: every test gets its own CKX_HOME; nothing touches the user's home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_data_root() -> Path:
    """Real data for tests: ``$CKX_TEST_DATA`` or ``<project>/../shared/data``."""
    return Path(os.environ.get("CKX_TEST_DATA") or ROOT.parent / "shared" / "data")


@pytest.fixture(autouse=True)
def ckx_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("ckx-home")
    monkeypatch.setenv("CKX_HOME", str(home))
    monkeypatch.delenv("CKX_MIRROR", raising=False)
    return home


@pytest.fixture
def ctx(ckx_home):
    """A Context as the app door makes it (its dialects activated when first asked)."""
    from ckx.app.api import open_context
    from ckx.core.ui import UI

    c = open_context(ckx_home, ui=UI(mode="none", interactive=False))
    yield c
    if "index" in c.__dict__:
        c.index.close()


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out!r}, err={self.err!r})"


def ckx_process(
    home: Path,
    *args: str,
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    drop: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """``ckx ARGS`` as a real process (stdin closed: not a terminal) with ``CKX_HOME=home``;
    ``drop`` names variables of this environment the process must not inherit."""
    e = {k: v for k, v in os.environ.items() if k not in drop}
    e["CKX_HOME"] = str(home)
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ckx", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=e,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


@pytest.fixture
def cli(ckx_home):
    """Run ``ckx`` as a real subprocess (stdin closed, not a TTY)."""

    def run(
        *args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120
    ) -> CliResult:
        p = ckx_process(ckx_home, *args, env=env, cwd=cwd, timeout=timeout)
        return CliResult(p.returncode, p.stdout, p.stderr)

    return run


def write_entry(
    folder: Path,
    alias: str,
    uid: str,
    tags,
    automation: str = "script",
    name: str = "meta.yaml",
    **extra,
) -> Path:
    """Create an entry folder with a meta file (YAML or JSON by name)."""
    d = folder / alias
    d.mkdir(parents=True, exist_ok=True)
    meta = {"alias": alias, "uid": uid, "automation_alias": automation, "tags": list(tags), **extra}
    if name.endswith(".json"):
        (d / name).write_text(json.dumps(meta))
    else:
        import yaml

        (d / name).write_text(yaml.safe_dump(meta, sort_keys=False))
    return d
