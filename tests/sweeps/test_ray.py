"""Sweeps on a real Ray cluster: a head node and a worker node started by the test on
127.0.0.1 (``ray start``), each with its own CKX_HOME as separate machines would have.

Skipped when the ``ray`` extra is not installed (CI installs it: the ``test`` extra includes it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sweeps.conftest import experiment_points, register, sweep, sweep_doc

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

ODBENCH_OPS = "--count 16 --time 1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, sweepy_repo):
    from tests.sweeps.raycluster import LocalRayCluster

    homes = [tmp_path_factory.mktemp("ray-head-home"), tmp_path_factory.mktemp("ray-worker-home")]
    for h in homes:
        register(h, sweepy_repo)  # a worker knows the repos its own CKX_HOME knows
    c = LocalRayCluster(homes, num_cpus=1)
    try:
        c.start()
        yield c
    finally:
        c.stop()
    assert c.processes() == [], "the test cluster left processes behind"


def _ckx(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, CKX_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "ckx", *args], env=env, cwd=ROOT, capture_output=True,
        text=True, stdin=subprocess.DEVNULL, timeout=timeout,
    )  # fmt: skip


def test_a_ray_sweep_records_the_same_configurations_as_a_local_sweep(cluster, ckx_home):
    common = (
        "benchmark", "program:od-bench", "--cmd_key=performance-offline",
        "--sweep.threads=1,2", "--sweep.max_batchsize=1,2", f"--env.EXTRA_OPS={ODBENCH_OPS}",
        "--record", "--quiet",
    )  # fmt: skip
    on_ray = _ckx(ckx_home, *common, "--record_uoa=on-ray", "--executor=ray",
                  f"--ray_address={cluster.address}")  # fmt: skip
    assert on_ray.returncode == 0, on_ray.stderr + on_ray.stdout
    assert "[4/4]" in on_ray.stdout and "4 point(s) recorded" in on_ray.stdout
    local = _ckx(ckx_home, *common, "--record_uoa=local")
    assert local.returncode == 0, local.stderr

    ray_pts, local_pts = experiment_points(ckx_home, "on-ray"), experiment_points(ckx_home, "local")
    assert len(ray_pts) == len(local_pts) == 4
    assert {p["id"] for p in ray_pts} == {p["id"] for p in local_pts}  # same machine: same ids
    assert sorted(p["inputs"]["inputs"].items() for p in ray_pts) == sorted(
        p["inputs"]["inputs"].items() for p in local_pts
    )
    homes = {str(h) for h in cluster.homes}
    nodes = set()
    for p in ray_pts:
        (rep,) = p["repetitions"]
        where = rep["where"]
        assert where["executor"] == "ray" and len(where["node_id"]) == 56 and where["hostname"]
        nodes.add(where["node_id"])
        # it ran with the worker's own CKX_HOME, not the driver's
        assert any(rep["run_dir"].startswith(h) for h in homes), rep["run_dir"]
        assert rep["characteristics"]["samples_per_second"] > 0
        assert p["platform"]["cpu_model"] and p["machine"] == local_pts[0]["machine"]
    assert 1 <= len(nodes) <= 2
    doc = sweep_doc(ckx_home, "on-ray")
    assert doc["executor"] == "ray" and [c["status"] for c in doc["configurations"]] == ["done"] * 4


def _kill_one_running_point(cluster, deadline: float) -> int:
    """SIGKILL the Ray worker process of a point while it runs; its pid."""
    while time.time() < deadline:
        for pid, _, cmd in cluster.processes():
            if cmd.startswith("ray::ray_point"):
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.1)
    raise AssertionError("no point was seen running")


def _run_killing_one_point(cluster, home, args) -> tuple[subprocess.Popen, str, str]:
    """``ckx ARGS`` as a process while one of its running points is killed on the cluster."""
    env = dict(os.environ, CKX_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ckx", *args], env=env, cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _kill_one_running_point(cluster, time.time() + 120)
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    return proc, out, err


def test_a_killed_worker_leaves_the_experiment_consistent_and_resume_completes_it(
    cluster, sweepy, ckx_home
):
    args = (
        "benchmark", "program:sweepy", "--cmd_key=fast", "--sweep.value=1,2,3,4",
        "--env.SWEEPY_SLEEP=2", "--executor=ray", f"--ray_address={cluster.address}",
        "--ray_retries=0", "--record", "--record_uoa=killed", "--quiet",
    )  # fmt: skip
    proc, out, err = _run_killing_one_point(cluster, ckx_home, args)
    assert proc.returncode == 6, out + err
    assert "1 of 4 sweep point(s) failed" in err and "was lost (WorkerCrashedError" in err
    doc = sweep_doc(ckx_home, "killed")
    (lost,) = [c for c in doc["configurations"] if c["status"] == "failed"]
    assert lost["error"]["kind"] == "lost" and "point" not in lost
    points = experiment_points(ckx_home, "killed")
    assert len(points) == 3 and all(len(p["repetitions"]) == 1 for p in points)
    assert lost["values"]["value"] not in {p["inputs"]["inputs"]["value"] for p in points}

    again = _ckx(ckx_home, *args, "--resume")
    assert again.returncode == 0, again.stderr
    assert "1 to run" in again.stdout and "3 already recorded" in again.stdout
    points = experiment_points(ckx_home, "killed")
    assert sorted(p["inputs"]["inputs"]["value"] for p in points) == ["1", "2", "3", "4"]
    assert all(len(p["repetitions"]) == 1 for p in points)
    assert [c["status"] for c in sweep_doc(ckx_home, "killed")["configurations"]] == ["done"] * 4


def test_a_lost_worker_is_retried_by_ray(cluster, sweepy, ckx_home):
    args = (
        "benchmark", "program:sweepy", "--cmd_key=slow", "--sweep.value=5,6",
        "--env.SWEEPY_SLEEP=2", "--executor=ray", f"--ray_address={cluster.address}",
        "--ray_retries=1", "--record", "--record_uoa=retried", "--quiet",
    )  # fmt: skip
    proc, out, err = _run_killing_one_point(cluster, ckx_home, args)
    assert proc.returncode == 0, out + err
    points = experiment_points(ckx_home, "retried")
    assert len(points) == 2 and all(len(p["repetitions"]) == 1 for p in points)


def test_a_failing_point_on_ray_is_recorded_as_failed(cluster, sweepy, ckx_home):
    out = sweep(
        "cmd_key=fast", "sweep.value=7,x", executor="ray", ray_address=cluster.address,
        record=True, record_uoa="failing", print_files="out.txt",
    )  # fmt: skip
    assert out["return"] == 6, out
    doc = sweep_doc(ckx_home, "failing")
    ok, bad = doc["configurations"]
    assert ok["status"] == "done" and ok["where"]["executor"] == "ray"
    assert bad["status"] == "failed" and bad["error"]["kind"] == "error"
    assert "value and size must be whole numbers" in bad["error"]["message"]
    assert bad["where"]["node_id"]  # a failed point names the node it failed on
    (point,) = experiment_points(ckx_home, "failing")
    # the worker sent the point's --print_files back with its answer (no shared folder)
    kept = ckx_home / "repos/local/experiment/failing/points" / point["id"] / "files/r0001/out.txt"
    assert kept.read_text() == "sweepy value 7 size 1\n"
    assert not point["repetitions"][0]["run_dir"].startswith(str(ckx_home))
