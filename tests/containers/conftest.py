"""Fixtures for the container tests: a real Docker Engine, a real base image, real builds.

The tests skip, saying why, only when Docker cannot be used at all (no ``docker`` command, or
no daemon answering); CI (.ci/run) installs docker.io and debootstrap, starts dockerd and
makes the base image once. The base is ``ckx/debian:12`` (``ckx bootstrap docker``); it is
made here when missing. Images are reused across tests (their tags are digests); every test
ends with no container of ckx's left and its cache volume removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ckx_process, shared_data_root

BASE = "ckx/debian:12"
MODEL = shared_data_root() / "models" / "ssd-mobilenet-v1-quant-coco"
COCO = shared_data_root() / "coco2017-val-mini"
MLC_SNAPSHOT = shared_data_root() / "mlperf-automations"


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def docker_problem() -> str | None:
    """Why Docker cannot be used here (None: it can)."""
    if shutil.which("docker") is None:
        return "no docker command (install docker.io: .ci/run does)"
    try:
        p = docker("version", "--format", "{{.Server.Version}}", timeout=30)
    except subprocess.TimeoutExpired:
        return "the Docker daemon does not answer"
    if p.returncode != 0:
        return "the Docker daemon cannot be reached: " + p.stderr.strip()[-200:]
    return None


@pytest.fixture(scope="session")
def docker_ok() -> None:
    reason = docker_problem()
    if reason:
        pytest.skip(f"Docker cannot start here: {reason}")


@pytest.fixture(scope="session")
def base(docker_ok, tmp_path_factory) -> str:
    """The base image (made offline with ckx bootstrap docker when it is not here)."""
    if docker("image", "inspect", BASE).returncode != 0:
        home = tmp_path_factory.mktemp("bootstrap-home")
        p = ckx_process(home, "bootstrap", "docker", "--quiet", timeout=1500)
        assert p.returncode == 0, p.stdout + p.stderr
    return BASE


def ckx_containers() -> list[str]:
    p = docker("ps", "-a", "-q", "--filter", "label=org.ckx.container")
    return p.stdout.split()


def image_ids() -> set[str]:
    return set(docker("images", "-q", "--no-trunc").stdout.split())


@pytest.fixture(autouse=True)
def _nothing_left_behind(request, ckx_home):
    """After each container test: no container of ckx's left; its cache volume removed."""
    yield
    if "docker_ok" not in request.fixturenames or docker_problem():
        return
    left = ckx_containers()
    vols = docker("volume", "ls", "-q", "--filter", f"label=org.ckx.home={ckx_home}").stdout.split()
    if vols:
        docker("volume", "rm", "-f", *vols)
    if left:
        docker("rm", "-f", *left)
    assert not left, f"containers left behind: {left}"


def run(home: Path, *args: str, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    """``ckx ARGS`` as a real process with ``CKX_HOME=home`` (builds may take minutes)."""
    return ckx_process(home, *args, timeout=timeout, **kw)


def odbench(*extra: str) -> list[str]:
    return ["run", "program:od-bench", "--cmd_key=accuracy-offline", "--docker", "--quiet", *extra]


def model_file() -> Path | None:
    found = sorted(MODEL.glob("*.onnx")) if MODEL.is_dir() else []
    return found[0] if found else None


def uid_owned(path: Path) -> bool:
    return all(p.stat().st_uid == os.getuid() for p in [path, *path.rglob("*")])
