"""MLCFlow's --docker_* inputs on a small ckx script (detect-os): image name and tag, rebuild,
detached, OS-named bases. Real Docker (slow); the images share the od-bench image's layers."""

from __future__ import annotations

import json
import time

import pytest

from tests.containers.conftest import ckx_containers, docker, run

pytestmark = pytest.mark.slow

DETECT = ["run", "detect-os", "--docker", "--quiet"]


def test_image_name_tag_and_rebuild(base, ckx_home):
    ref = "ckx-test-named:t1"
    try:
        r = run(
            ckx_home,
            *DETECT,
            "--json",
            "--docker_image_name=ckx-test-named",
            "--docker_image_tag=t1",
        )
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads(r.stdout)["env"]["CKX_HOST_OS_TYPE"] == "linux"
        labels = json.loads(docker("image", "inspect", ref).stdout)[0]["Config"]["Labels"]
        assert labels["org.ckx.base"] == base and len(labels["org.ckx.digest"]) == 64
        again = run(
            ckx_home, *DETECT, "--docker_image_name=ckx-test-named", "--docker_image_tag=t1"
        )
        assert "up to date (same digest), reused" in again.stderr
        rebuilt = run(
            ckx_home,
            *DETECT,
            "--docker_image_name=ckx-test-named",
            "--docker_image_tag=t1",
            "--docker_rebuild",
        )
        assert rebuilt.returncode == 0 and f"building image {ref}" in rebuilt.stderr
    finally:
        docker("rmi", "-f", ref)


def test_detached_starts_and_the_container_removes_itself(base, ckx_home):
    r = run(ckx_home, *DETECT, "--docker_dt", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    name = json.loads(r.stdout)["container"]
    deadline = time.monotonic() + 120
    while (
        name in docker("ps", "-a", "--format", "{{.Names}}").stdout and time.monotonic() < deadline
    ):
        time.sleep(1)
    assert not ckx_containers(), "a detached container removes itself when it ends"


def test_os_and_version_name_the_base(docker_ok, ckx_home):
    if docker("image", "inspect", "ubuntu:24.04").returncode == 0:
        pytest.skip("ubuntu:24.04 is on this machine: nothing to refuse")
    r = run(ckx_home, *DETECT, "--docker_os=ubuntu", "--docker_os_version=24.04", timeout=120)
    assert r.returncode == 3
    assert "base image 'ubuntu:24.04' is not on this machine" in r.stderr
