"""Helpers for MLCFlow-content tests: small hand-made MLCFlow repositories, and running
requests against them in process (errors as exceptions) or through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult, ckx_process


class MiniRepo:
    """An MLCFlow repository in a temp folder: root ``meta.yaml``, ``script/<alias>/``."""

    def __init__(self, root: Path, alias: str = "mini") -> None:
        self.root = root
        self.alias = alias
        (root / "script").mkdir(parents=True, exist_ok=True)
        (root / "meta.yaml").write_text(
            f"alias: mlcommons@{alias}\nuid: 9cf241afa6074c{len(alias):02x}\ngit: true\n"
        )
        self._n = 0

    def script(self, alias: str, meta: dict[str, Any], files: dict[str, str] | None = None) -> Path:
        self._n += 1
        d = self.root / "script" / alias
        d.mkdir(parents=True, exist_ok=True)
        full = {
            "alias": alias,
            "uid": meta.pop("uid", f"{0xC0FFEE0000 + self._n:016x}"),
            "automation_alias": "script",
            "automation_uid": "5b4e0237da074764",
            "tags": meta.pop("tags", [alias]),
            **meta,
        }
        import yaml

        (d / "meta.yaml").write_text(yaml.safe_dump(full, sort_keys=False))
        for name, text in (files or {}).items():
            (d / name).write_text(text)
            if name.endswith(".sh"):
                (d / name).chmod(0o755)
        return d


@pytest.fixture(autouse=True)
def _in_a_folder_of_its_own(tmp_path, monkeypatch):
    """MLCFlow's scripts run in the current folder: each test runs in one of its own."""
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)


@pytest.fixture
def mini(tmp_path, ctx) -> MiniRepo:
    """A registered MLCFlow repository named ``mini`` (empty; add scripts with .script)."""
    from ckx.core.repos import Repo

    repo = MiniRepo(tmp_path / "mini-repo")
    ctx.registry.add(Repo(alias="mini", uid="0000000000000a11", path=repo.root))
    return repo


def run(ctx, tags: str = "", **request: Any) -> dict[str, Any]:
    """Plan and run ``tags`` (or only plan with ``plan=True``) as ``ckx run`` does;
    errors are raised."""
    from ckx.engine import run_request

    ctx.index.invalidate()
    return run_request(ctx, {"query": tags, "quiet": True, **request})


def cli(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> CliResult:
    """``ckx ARGS`` as a real process (stdin closed) with ``CKX_HOME=home``, started in
    ``cwd`` (default: a folder beside the home: MLCFlow's scripts run in the current one)."""
    if cwd is None:
        cwd = home.parent / f"{home.name}-cwd"
        cwd.mkdir(exist_ok=True)
    p = ckx_process(home, *args, env=env, cwd=cwd, timeout=timeout)
    return CliResult(p.returncode, p.stdout, p.stderr)


def no_network_env(closed_url: str) -> dict[str, str]:
    """Proxies at a closed local port: anything a script fetches fails at once, whether or
    not the machine has internet."""
    return {
        k: closed_url
        for k in (
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "all_proxy",
        )
    } | {
        "no_proxy": "",
        "NO_PROXY": "",
        "GIT_TERMINAL_PROMPT": "0",
    }
