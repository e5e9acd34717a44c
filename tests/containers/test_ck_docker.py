"""CK's side: ``ckx build docker:NAME --tag=...``, CK's tutorial run line, ``ckx run docker:NAME``,
``ckx ls docker``; and base images with or without Python. Real Docker (slow)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.containers.conftest import BASE, ckx_containers, docker, image_ids, run, uid_owned

ENTRY = "ck-mlperf-inference-v1.0-object-detection-native"
IMAGE = "mlcommons/ck-mlperf-inference-v1"


def test_ls_docker_lists_the_builtin_entry(ckx_home):
    r = run(ckx_home, "ls", "docker", timeout=60)
    assert r.returncode == 0 and f"builtin:docker:{ENTRY}" in r.stdout


@pytest.mark.slow
def test_build_the_tutorial_image_and_run_its_line(base, ckx_home, tmp_path):
    have_ubuntu = docker("image", "inspect", "ubuntu:20.04").returncode == 0
    if not have_ubuntu:  # the tutorial's base is not here: a clear refusal, then another base
        r = run(ckx_home, "build", f"docker:{ENTRY}", "--tag=ubuntu-20.04", timeout=120)
        assert r.returncode == 3 and "base image 'ubuntu:20.04' is not on this machine" in r.stderr
    local = [] if have_ubuntu else [f"--base={BASE}"]
    b = run(ckx_home, "build", f"docker:{ENTRY}", "--tag=ubuntu-20.04", *local)
    assert b.returncode == 0, b.stdout + b.stderr
    assert f"image {IMAGE}:ubuntu-20.04 (also {IMAGE}:latest)" in b.stdout
    before = image_ids()
    again = run(ckx_home, "build", f"docker:{ENTRY}", "--tag=ubuntu-20.04", *local)
    assert "up to date (same digest), reused" in again.stdout and image_ids() == before
    # CK's tutorial, verbatim (ck -> ckx): the experiments land in the host's repo
    assert run(ckx_home, "add", "repo:ck-experiments", "--quiet", timeout=60).returncode == 0
    where = run(ckx_home, "where", "repo:ck-experiments", timeout=60).stdout.strip()
    line = f"docker run --volume {where}:/home/ckuser/ck-experiments -it {IMAGE}"
    if shutil.which("script") is None:
        pytest.skip("no `script` command to give the tutorial's docker run -it a terminal")
    try:
        t = subprocess.run(
            ["script", "-qec", line, "/dev/null"],
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
    finally:  # the tutorial's own container (not ckx's: no --rm in CK's line)
        mine = docker("ps", "-aq", "--filter", f"ancestor={IMAGE}").stdout.split()
        if mine:
            docker("rm", "-f", *mine)
    assert t.returncode == 0, t.stdout[-3000:]
    assert "mAP" in t.stdout and "81.32" in t.stdout
    ls = run(ckx_home, "ls", "experiment", timeout=60)
    assert "ck-experiments:experiment:od-bench-accuracy-offline-" in ls.stdout
    assert uid_owned(Path(where))
    # ckx run docker:NAME does the same (its container is ckx's, and removed)
    r = run(ckx_home, "run", f"docker:{ENTRY}", "--", "ckx", "--version")
    assert r.returncode == 0, r.stderr
    assert "ckx 0." in r.stdout
    assert not ckx_containers()


NO_PYTHON = f"""\
FROM {BASE}
RUN apt-get purge -y --allow-remove-essential 'python3*' 'libpython3*' \\
    && apt-get autoremove -y --purge && ! command -v python3
"""


@pytest.mark.slow
def test_a_base_without_python_gets_it_from_the_os(base, ckx_home):
    ref = "ckx-test/debian-no-python:12"
    if docker("image", "inspect", ref).returncode != 0:
        p = subprocess.run(
            ["docker", "build", "-t", ref, "-"],
            input=NO_PYTHON,
            capture_output=True,
            text=True,
            timeout=900,
            env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        )
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert docker("run", "--rm", ref, "sh", "-c", "command -v python3").returncode != 0
    r = run(
        ckx_home, "run", "detect-os", "--docker", "--quiet", "--json", f"--docker_base_image={ref}"
    )
    assert r.returncode == 0, r.stderr[-3000:]  # ckx ran inside, on the python3 apt installed
    assert json.loads(r.stdout)["env"]["CKX_HOST_OS_TYPE"] == "linux"
