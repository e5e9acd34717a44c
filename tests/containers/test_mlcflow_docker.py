"""``--docker`` on MLCFlow content: MLCFlow's repository, its ``docker:`` meta, the seed command.

The container runs ckx (not mlcflow) on a copy of the registered repos baked into the image;
what a run exports comes back as natively. Real Docker and real builds (slow).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.compat.conftest import MiniRepo, no_network_env
from tests.containers.conftest import BASE, MLC_SNAPSHOT, run, uid_owned
from tests.helpers.httpserver import closed_port_url

pytestmark = pytest.mark.slow

SEED = [
    "run",
    "run-abtf-inference,reference,_v0.5,_full",
    "--model=ssd",
    "--quiet",
    "--env.MLC_USE_DATASET_FROM_HOST=yes",
    "--env.MLC_USE_MODEL_FROM_HOST=yes",
    "--device=cpu",
    "--implementation=reference",
    "--framework=onnxruntime",
    "--scenario=SingleStream",
]


@pytest.fixture
def mlc_home(tmp_path, ckx_home):
    """(home, a folder to run in): MLCFlow's repository copied and registered."""
    if not (MLC_SNAPSHOT / "script").is_dir():
        pytest.skip(f"no MLCFlow repository at {MLC_SNAPSHOT}")
    repo = tmp_path / "mlperf-automations"
    shutil.copytree(MLC_SNAPSHOT, repo, symlinks=True)
    r = run(ckx_home, "add", "repo:mlperf-automations", f"--path={repo}", timeout=120)
    assert r.returncode == 0, r.stderr
    here = tmp_path / "work"
    here.mkdir()
    return ckx_home, here


@pytest.mark.realdata
def test_detect_cpu_exports_the_same_keys_inside(base, mlc_home):
    home, here = mlc_home
    native = run(home, "run", "detect,cpu", "--quiet", "--json", cwd=here, timeout=300)
    inside = run(home, "run", "detect,cpu", "--quiet", "--json", "--docker", cwd=here)
    assert native.returncode == 0 and inside.returncode == 0, inside.stderr[-3000:]
    keys = {k for k in json.loads(native.stdout)["new_env"] if k.startswith("MLC_")}
    got = json.loads(inside.stdout)
    assert got["return"] == 0
    assert {k for k in got["new_env"] if k.startswith("MLC_")} == keys and keys
    assert (
        got["new_env"]["MLC_HOST_CPU_ARCHITECTURE"]
        == json.loads(native.stdout)["new_env"]["MLC_HOST_CPU_ARCHITECTURE"]
    )


@pytest.mark.realdata
def test_the_seed_command_runs_inside_until_it_needs_the_network(base, mlc_home):
    home, here = mlc_home
    closed = closed_port_url("/")
    net = no_network_env(closed)
    native = run(home, *SEED, cwd=here, env=net, timeout=600)
    # the build reaches Debian and PyPI; the run inside gets the same closed proxies
    off = " ".join(f"-e {k}={v}" for k, v in net.items())
    inside = run(home, *SEED, "--docker", f"--docker_extra_run_args={off}", cwd=here)
    assert native.returncode != 0
    assert inside.returncode == native.returncode, inside.stderr[-3000:]
    first = [ln for ln in native.stderr.splitlines() if ln.startswith("ckx error:")][0]
    assert "needs the network" in first
    assert first.split("):")[0] in inside.stderr, "the same clear message as natively"
    assert "hint: to run offline, supply a clone of" in inside.stderr
    assert "does not serve the MLCFlow request 'docker'" not in inside.stderr


HOST_DATA = """\
#!/bin/bash
mkdir -p "$MLC_TMP_CURRENT_SCRIPT_PATH/data"
echo hello-from-host > "$MLC_TMP_CURRENT_SCRIPT_PATH/data/token.txt"
echo "MY_DATA=$MLC_TMP_CURRENT_SCRIPT_PATH/data" > tmp-run-env.out
"""
READ_DATA = """\
#!/bin/bash
set -e
echo "MLC_GREETING=$(cat "$MY_DATA/token.txt")" > tmp-run-env.out
echo "MLC_INSIDE_UID=$(id -u)" >> tmp-run-env.out
echo "MLC_STATE_DOCKER=$MLC_RUN_STATE_DOCKER" >> tmp-run-env.out
touch written-inside.txt
"""


@pytest.fixture
def meta_repo(tmp_path, ckx_home):
    """An MLCFlow repo whose script has a ``docker:`` section (deps on the host, mounts)."""
    repo = MiniRepo(tmp_path / "mini-repo")
    repo.script(
        "host-data",
        {"tags": ["host", "data"], "new_env_keys": ["MY_DATA"]},
        {"run.sh": HOST_DATA},
    )
    docker = {
        "os": "ubuntu",
        "os_version": "22.04",
        "deps": [{"tags": "host,data", "enable_if_env": {"MLC_USE_DATASET_FROM_HOST": ["yes"]}}],
        "mounts": ["${{ MY_DATA }}:${{ MY_DATA }}", "${{ NOT_SET_ANYWHERE }}:/nowhere"],
        "pre_run_cmds": ["mlc pull repo"],
        "use_host_user_id": True,
        "default_env": {"MLC_USE_DATASET_FROM_HOST": "yes"},
    }
    repo.script(
        "read-data",
        {
            "tags": ["read", "data"],
            "new_env_keys": ["MLC_GREETING", "MLC_INSIDE_UID", "MLC_STATE_DOCKER"],
            "docker": docker,
            "variations": {"one-cpu": {"docker": {"extra_run_args": "--cpus=1"}}},
        },
        {"run.sh": READ_DATA},
    )
    r = run(ckx_home, "add", "repo:mini", f"--path={repo.root}", timeout=120)
    assert r.returncode == 0, r.stderr
    here = tmp_path / "work"
    here.mkdir()
    return ckx_home, here, repo


def test_docker_meta_section_is_honoured(base, meta_repo):
    home, here, repo = meta_repo
    data = repo.root / "script" / "host-data" / "data"
    refused = run(home, "run", "read,data", "--docker", "--quiet", cwd=here, timeout=300)
    assert refused.returncode == 3, refused.stderr
    assert "base image 'ubuntu:22.04' is not on this machine" in refused.stderr  # meta's os
    plan = run(
        home,
        "run",
        "read,data,_one-cpu",
        "--docker",
        "--plan",
        f"--docker_base_image={BASE}",
        cwd=here,
        timeout=300,
    )
    assert plan.returncode == 0, plan.stderr
    assert "docker deps that would run on the host first: host,data" in plan.stderr
    assert "--cpus=1" in plan.stdout and "/nowhere" not in plan.stdout
    assert not data.exists(), "--plan runs nothing on the host"
    r = run(
        home,
        "run",
        "read,data,_one-cpu",
        "--docker",
        "--quiet",
        "--json",
        f"--docker_base_image={BASE}",
        cwd=here,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    env = json.loads(r.stdout)["new_env"]
    assert env["MLC_GREETING"] == "hello-from-host", "the host dep ran first; its folder mounted"
    assert env["MLC_INSIDE_UID"] == str(Path(here).stat().st_uid), "runs as the caller"
    assert env["MLC_STATE_DOCKER"] == "yes"
    assert r.stderr.count("docker setting pre_run_cmds (mlc pull repo) does not apply") == 1
    assert (here / "written-inside.txt").is_file() and uid_owned(here)


def test_mount_without_a_colon_is_refused(docker_ok, meta_repo):
    home, here, _ = meta_repo
    r = run(
        home,
        "run",
        "read,data",
        "--docker",
        "--plan",
        "--docker_mounts=/just/a/path",
        f"--docker_base_image={BASE}",
        cwd=here,
        timeout=300,
    )
    assert r.returncode == 2
    assert "has no ':' between the host path and the container path" in r.stderr
    assert textwrap.dedent("Traceback") not in r.stderr
