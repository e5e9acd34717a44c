"""Clear errors, with hints, when Docker cannot be used: not installed, daemon not running,
the socket not ours; unknown ``--docker_*`` options. Real processes, no image is built."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests.conftest import ROOT, ckx_process

ODB = ["run", "program:od-bench", "--cmd_key=accuracy-offline", "--docker", "--quiet"]


def test_no_docker_installed(ckx_home):
    r = ckx_process(ckx_home, *ODB, env={"PATH": "/nonexistent"})
    assert r.returncode == 11, r.stderr
    assert "Docker is not installed: there is no `docker` command on PATH" in r.stderr
    assert "apt-get install docker.io" in r.stderr
    assert "Traceback" not in r.stderr
    b = ckx_process(ckx_home, "bootstrap", "docker", env={"PATH": "/nonexistent"})
    assert b.returncode == 11 and "Docker is not installed" in b.stderr


def test_plan_shows_the_dockerfile_without_docker(ckx_home):
    r = ckx_process(ckx_home, *ODB, "--plan", env={"PATH": "/nonexistent"})
    assert r.returncode == 0, r.stderr
    assert "FROM ckx/debian:12" in r.stdout
    assert "a run would stop here: Docker is not installed" in r.stderr


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker command")
def test_daemon_not_running(ckx_home, tmp_path):
    sock = tmp_path / "no-daemon.sock"
    r = ckx_process(ckx_home, *ODB, env={"DOCKER_HOST": f"unix://{sock}"})
    assert r.returncode == 6, r.stderr
    assert "the Docker daemon is not running" in r.stderr
    assert "systemctl start docker" in r.stderr and "dockerd" in r.stderr


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("docker") is None,
    reason="needs root (to run a user who may not use Docker) and setpriv",
)
def test_socket_permission_denied():
    sock = "/var/run/docker.sock"
    if not os.path.exists(sock) or os.stat(sock).st_mode & 0o006:
        pytest.skip("no docker socket closed to other users here")
    home = tempfile.mkdtemp(prefix="ckx-nobody-")
    os.chmod(home, 0o777)
    try:
        env = {**os.environ, "CKX_HOME": home, "HOME": home}
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        p = subprocess.run(
            [*cmd, sys.executable, "-m", "ckx", *ODB],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert p.returncode == 6, p.stdout + p.stderr
    assert "permission denied on the Docker daemon's socket" in p.stderr
    assert "usermod -aG docker" in p.stderr


def test_unknown_docker_option_is_refused_with_a_suggestion(ckx_home):
    r = ckx_process(ckx_home, *ODB, "--docker_bse_image=x")
    assert r.returncode == 2
    assert "unknown option --docker_bse_image" in r.stderr
    assert "docker_base_image" in r.stderr


def test_every_not_applied_meta_setting_is_a_declared_key():
    from ckx.containers.keys import CK_NAMES, NAMES, NOT_APPLIED
    from ckx.containers.mlcmeta import NOT_APPLIED as META_NOT_APPLIED
    from ckx.core import vocabulary

    assert NAMES == vocabulary.with_role("container") and "docker" in NAMES
    assert NOT_APPLIED <= NAMES and set(CK_NAMES) <= NAMES
    inputs = {k for k in META_NOT_APPLIED if f"docker_{k}" in NAMES}
    assert {"pre_run_cmds", "mlc_repo", "user", "real_run"} <= inputs
    assert {f"docker_{k}" for k in inputs} <= NOT_APPLIED


def test_every_docker_option_is_documented():
    from ckx.containers.keys import NAMES

    text = (ROOT / "docs" / "containers.md").read_text()
    missing = sorted(k for k in NAMES if f"--{k}" not in text)
    assert not missing, f"docs/containers.md does not describe: {missing}"


def test_device_cuda_passes_the_gpus_through(ckx_home):
    """--device=cuda adds --gpus all, as MLCFlow does (shown by --plan: no GPU here to run on)."""
    r = ckx_process(ckx_home, *ODB, "--plan", "--device=cuda", env={"PATH": "/nonexistent"})
    assert r.returncode == 0, r.stderr
    assert " --gpus all " in r.stdout
    cpu = ckx_process(ckx_home, *ODB, "--plan", env={"PATH": "/nonexistent"})
    assert "--gpus" not in cpu.stdout


def test_docker_on_an_action_it_does_not_apply_to_says_so(ckx_home):
    r = ckx_process(ckx_home, "install", "package", "--tags=dataset,coco,val", "--docker", "--plan")
    assert r.returncode == 2
    assert "--docker applies to ckx run and ckx benchmark, not to ckx install" in r.stderr


def test_an_object_store_serves_as_a_mirror(tmp_path):
    """The host's CKX_HOME/objects, mounted read-only in a container, is on its CKX_MIRROR:
    an artefact with a known sha256 comes from there, not from the origin."""
    import hashlib

    from ckx.artifacts.cas import ObjectStore
    from ckx.artifacts.download import Artifact, fetch
    from tests.helpers.httpserver import closed_port_url

    data = b"stored once\n" * 1000
    sha = hashlib.sha256(data).hexdigest()
    host = ObjectStore(tmp_path / "host-objects")
    host.add_bytes(data, expected_sha256=sha)
    offline = Artifact("data.bin", [closed_port_url("/data.bin")], sha256=sha)
    got = fetch(offline, ObjectStore(tmp_path / "container-objects"), mirrors=[str(host.root)])
    assert got.from_mirror and got.path.read_bytes() == data
