"""``--docker`` on od-bench: the same run, its result and its records, inside a container.

Real Docker, a real base image (ckx/debian:12), real builds and runs; the image is built once
(its tag is the digest of the plan's recipe) and reused by every test here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.containers.conftest import (
    COCO,
    ckx_containers,
    image_ids,
    model_file,
    odbench,
    run,
    uid_owned,
)

pytestmark = pytest.mark.slow


def test_odbench_runs_inside_and_the_second_run_reuses_the_image(base, ckx_home):
    before = image_ids()
    first = run(ckx_home, *odbench())
    assert first.returncode == 0, first.stdout + first.stderr
    assert "mAP=81.321%" in first.stdout
    assert "running in container ckx-od-bench-" in first.stderr
    out_dir = next(
        line.split(": ", 1)[1]
        for line in first.stdout.splitlines()
        if line.startswith("output files:")
    )
    assert out_dir.startswith(str(ckx_home)), "the output folder is the host's, mounted"
    assert (ckx_home / out_dir).is_dir() and uid_owned(ckx_home / out_dir), "written as the caller"
    made = image_ids() - before
    assert len(made) <= 1
    start = time.monotonic()
    second = run(ckx_home, *odbench())
    took = time.monotonic() - start
    assert second.returncode == 0, second.stdout + second.stderr
    assert "mAP=81.321%" in second.stdout
    assert "up to date (same digest), reused" in second.stderr
    assert image_ids() == before | made, "the second identical run builds no image"
    assert took < 90, f"the second run took {took:.0f} s"
    # the container's ckx cache persisted in its volume: the data set was not made again
    assert "wrote 200 images" not in second.stdout + second.stderr


def test_docker_plan_prints_the_dockerfile_and_builds_nothing(base, ckx_home):
    before = image_ids()
    r = run(ckx_home, *odbench("--plan"), "--docker_image_tag=never-built")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"FROM {base}\n" in r.stdout
    assert "RUN PIP_CERT" in r.stdout or "pip install -c" in r.stdout
    assert "mounts (the same paths inside):" in r.stdout
    assert "command inside: ckx run program:od-bench --cmd_key=accuracy-offline" in r.stdout
    assert "(would be built)" in r.stdout
    assert image_ids() == before
    assert not list((ckx_home / "state" / "work").glob("od-bench-*")), "nothing ran"


def test_json_result_and_exit_code_are_the_native_ones(base, ckx_home):
    r = run(ckx_home, *odbench("--json", "--count=20"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # the container's output went to stderr: stdout is the JSON
    assert out["return"] == 0
    assert out["characteristics"]["count"] == 20
    assert out["run_dir"].startswith(str(ckx_home))
    bad = run(ckx_home, *odbench("--json", "--device=tpu"))
    assert bad.returncode == 2, "refused on the host, before any build, like a native run"
    assert json.loads(bad.stdout)["return"] == 2


@pytest.mark.realdata
def test_real_model_and_coco_mounted_read_only(base, ckx_home):
    model = model_file()
    if model is None or not (COCO / "val2017").is_dir():
        pytest.skip("no real model/data in ../shared/data")
    r = run(ckx_home, *odbench(f"--model_path={model}", f"--dataset_path={COCO}"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "mAP=20.183%" in r.stdout


def test_a_base_that_is_not_here_is_refused_by_name(docker_ok, ckx_home):
    r = run(ckx_home, *odbench("--docker_base_image=ckx/no-such-base:1"))
    assert r.returncode == 3
    assert "base image 'ckx/no-such-base:1' is not on this machine" in r.stderr
    assert "ckx bootstrap docker" in r.stderr and "docker load" in r.stderr
    assert "Traceback" not in r.stderr


def test_benchmark_records_on_the_host(base, ckx_home):
    r = run(
        ckx_home,
        "benchmark",
        "program:od-bench",
        "--cmd_key=accuracy-offline",
        "--count=20",
        "--docker",
        "--quiet",
        "--record",
        "--record_uoa=in-docker",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    exp = ckx_home / "repos" / "local" / "experiment" / "in-docker"
    assert exp.is_dir() and uid_owned(exp)
    show = run(ckx_home, "show", "experiment:in-docker", "--json", timeout=120)
    assert show.returncode == 0, show.stderr
    points = list(exp.glob("points/*/point.json"))
    point = json.loads(points[0].read_text())
    assert point["platform"]["container"]["base"] == base
    assert point["platform"]["container"]["image"].startswith("ckx-od-bench:")


def test_out_of_memory_is_a_clear_error(base, ckx_home):
    r = run(ckx_home, *odbench("--docker_extra_run_args=--memory=48m --memory-swap=48m"))
    assert r.returncode == 6, r.stdout + r.stderr
    assert "ran out of memory and was killed (OOMKilled)" in r.stderr
    assert "--memory=8g" in r.stderr
    assert not ckx_containers()


def test_a_failed_build_step_names_its_dockerfile_line(base, ckx_home):
    r = run(ckx_home, *odbench("--docker_extra_sys_deps=ckx-no-such-package"))
    assert r.returncode == 6, r.stdout + r.stderr
    assert "the image build failed at Dockerfile line" in r.stderr
    assert "apt-get" in r.stderr and "ckx-no-such-package" in r.stderr
    assert "the whole build log:" in r.stderr


def test_ctrl_c_stops_the_container_and_leaves_none(base, ckx_home):
    env = {**os.environ, "CKX_HOME": str(ckx_home)}
    args = ["run", "program:od-bench", "--cmd_key=performance-offline", "--time=120"]
    cmd = [sys.executable, "-m", "ckx", *args, "--docker", "--quiet"]
    p = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not ckx_containers() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.5)
        assert ckx_containers(), "the container started"
        time.sleep(3)
        os.killpg(p.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "interrupted" in err
    assert not ckx_containers()


def test_ctrl_c_during_a_build_leaves_no_container(base, ckx_home, tmp_path):
    before = set(docker_all())
    err = tmp_path / "stderr.txt"
    env = {**os.environ, "CKX_HOME": str(ckx_home)}
    cmd = [sys.executable, "-m", "ckx", "run", "detect-os", "--docker", "--docker_cache=no"]
    with open(err, "w") as f:
        p = subprocess.Popen(
            [*cmd, "--quiet"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=f,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 600
            while "pip install" not in err.read_text() and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(2)  # inside the step: its build container is running
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
    assert p.returncode == 130, err.read_text()[-2000:]
    time.sleep(2)
    assert set(docker_all()) <= before, "the build's intermediate container was removed"


def docker_all() -> list[str]:
    return subprocess.run(
        ["docker", "ps", "-aq"], capture_output=True, text=True, check=True
    ).stdout.split()
