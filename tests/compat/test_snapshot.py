"""MLCFlow's own script repository (mlcommons/mlperf-automations), unmodified, under ckx.

Over a temp copy of ../shared/data/mlperf-automations (skipped when absent). Nothing here
depends on the snapshot's commit: counts come from the copy itself, and the recorded MLCFlow
outputs (fixtures/mlcflow-1.3.8, made by record_mlcflow.py) are compared only on the machine
they were recorded on (the live comparison runs MLCFlow itself when it is installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.compat.conftest import cli, no_network_env
from tests.compat.machine import fingerprint
from tests.compat.record_mlcflow import COMMANDS
from tests.conftest import shared_data_root
from tests.helpers.httpserver import closed_port_url

SNAPSHOT = shared_data_root() / "mlperf-automations"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mlcflow-1.3.8"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (SNAPSHOT / "script").is_dir(), reason=f"no snapshot at {SNAPSHOT}"),
]


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    """(home, repo copy): the snapshot copied and registered as repo 'mlc' in its own home."""
    base = tmp_path_factory.mktemp("mlc-snapshot")
    repo = base / "mlperf-automations"
    shutil.copytree(SNAPSHOT, repo, symlinks=True)
    home = base / "home"
    r = cli(home, "add", "repo:mlc", f"--path={repo}")
    assert r.code == 0, r
    return home, repo


def _ctx(home: Path):
    from ckx.app.api import open_context
    from ckx.core.ui import UI

    return open_context(home, ui=UI(mode="none", interactive=False, quiet=True))


def _scripts(repo: Path) -> list[str]:
    return sorted(
        d.name
        for d in (repo / "script").iterdir()
        if (d / "meta.yaml").is_file() or (d / "meta.json").is_file()
    )


def test_every_script_of_the_snapshot_is_indexed(snap):
    home, repo = snap
    ctx = _ctx(home)
    indexed = sorted(e.path.name for e in ctx.search("script", None, repo="mlc"))
    assert indexed == _scripts(repo)
    assert ctx.index.problems("mlc") == []  # tolerated forms are lint warnings, not skips
    ctx.index.close()


@pytest.mark.slow
def test_plan_succeeds_for_at_least_95_percent_of_the_scripts(snap):
    from ckx.core.errors import CkxError
    from ckx.engine import run_request

    home, repo = snap
    ctx = _ctx(home)
    failed = {}
    names = _scripts(repo)
    for alias in names:
        try:
            run_request(ctx, {"entry": alias, "query": "", "repo": "mlc", "plan": True})
        except CkxError as e:  # anything else (a crash) fails the test
            failed[alias] = e.message.splitlines()[0]
    ctx.index.close()
    share = 1 - len(failed) / len(names)
    print(
        f"planned {len(names) - len(failed)}/{len(names)}; failed: {json.dumps(failed, indent=1)}"
    )
    assert share >= 0.95, failed


def _compare_keys(name: str, home: Path) -> tuple[dict, dict]:
    args = COMMANDS[name]
    r = cli(home, "run", *args, "--quiet", "--json", timeout=600)
    assert r.code == 0, r
    return json.loads(r.out), {}


@pytest.mark.parametrize(
    "name",
    [
        "detect-os",
        pytest.param("detect-cpu", marks=pytest.mark.slow),
        pytest.param("get-python3", marks=pytest.mark.slow),
        pytest.param("get-cmake", marks=pytest.mark.slow),
        pytest.param("get-sys-utils-min", marks=pytest.mark.slow),
        pytest.param("get-generic-python-lib-numpy", marks=pytest.mark.slow),
        pytest.param("run-python", marks=pytest.mark.slow),
    ],
)
def test_scripts_export_the_mlc_keys_mlcflow_exports(snap, name):
    """Against what MLCFlow 1.3.8 exported on this machine (the recorded fixture)."""
    home, _ = snap
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())
    if fixture["machine"] != fingerprint():
        pytest.skip(
            f"{name}: recorded on another machine ({fixture['machine']}); see the live test"
        )
    out, _ = _compare_keys(name, home)
    want = fixture["result"]
    assert sorted(out["new_env"]) == sorted(want["new_env"])
    assert sorted(out["new_state"]) == sorted(want["new_state"])
    if name == "run-python":
        assert out.get("env") == {}  # it exports nothing, as in MLCFlow
    for k, v in want["new_env"].items():  # same machine: same values, except where the
        if k.startswith("MLC_HOST_") or k.endswith(("_VERSION", "_BIN_WITH_PATH")):  # hook
            assert out["new_env"][k] == v, k  # reads the host


def _mlcflow_bin() -> Path | None:
    given = os.environ.get("CKX_MLCFLOW_BIN")
    if given:
        return Path(given)
    local = Path(__file__).resolve().parents[2] / ".venv-mlcflow" / "bin"  # .ci/run makes it
    if (local / "mlcr").exists():
        return local
    found = shutil.which("mlcr")
    return Path(found).parent if found else None


@pytest.mark.slow
def test_scripts_export_what_a_live_mlcflow_exports_here(snap):
    """Run MLCFlow 1.3.8 itself (``CKX_MLCFLOW_BIN``, ``.venv-mlcflow/bin`` or ``mlcr`` on PATH)."""
    from tests.compat.record_mlcflow import result_json

    mlc = _mlcflow_bin()
    if mlc is None or not (mlc / "mlcr").exists():
        pytest.skip("MLCFlow is not installed (set CKX_MLCFLOW_BIN to a venv's bin/)")
    home, repo = snap
    scratch = Path(tempfile.mkdtemp(prefix="mlcflow-live-"))
    env = {**os.environ, "HOME": str(scratch)}
    subprocess.run(
        [str(mlc / "mlc"), "add", "repo", str(repo)],
        env=env,
        cwd=scratch,
        check=True,
        capture_output=True,
    )
    try:
        for name, args in COMMANDS.items():
            p = subprocess.run(
                [str(mlc / "mlcr"), *args, "--quiet", "-j"],
                env=env,
                cwd=scratch,
                capture_output=True,
                text=True,
            )
            assert p.returncode == 0, p.stderr[-2000:]
            theirs = result_json(p.stderr)
            ours, _ = _compare_keys(name, home)
            assert sorted(ours["new_env"]) == sorted(theirs["new_env"]), name
            assert sorted(ours["new_state"]) == sorted(theirs["new_state"]), name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


SEED = [
    "run",
    "run-abtf-inference,reference,_v0.5,_find-performance",
    "--model=ssd",
    "--device=cpu",
    "--implementation=reference",
    "--framework=onnxruntime",
    "--scenario=SingleStream",
    "--quiet",
]


def _offline_failure(home: Path, args: list[str], tmp: Path) -> str:
    r = cli(home, *args, env=no_network_env(closed_port_url("/")), cwd=tmp)
    assert r.code == 7, r  # a DownloadError: what it fetched, and how to give it offline
    assert "Traceback" not in r.err
    assert "get-git-repo needs the network" in r.err
    assert "https://github.com/mlcommons/mlperf_automotive" in r.err and "MLC_GIT_URL" in r.err
    assert "CKX_MIRROR" in r.err and "--env.MLC_GIT_URL=" in r.err
    return r.err


def test_the_seed_command_plans_then_runs_until_it_needs_the_network(snap, tmp_path):
    home, _ = snap
    plan = cli(home, *SEED, "--plan", env=no_network_env(closed_port_url("/")))
    assert plan.code == 0, plan
    assert plan.out.startswith("run-mlperf-automotive-app _find-performance,_v0.5")
    assert "(mlc:script:get-mlperf-automotive-src)" in plan.out
    assert "builtin:" not in plan.out  # ckx's own detect-os/get-python3 stepped aside
    err = _offline_failure(home, SEED, tmp_path)
    assert "run-mlperf-automotive-app(_find-performance,_v0.5) → get-mlperf-automotive-src" in err
    cache = home / "repos" / "local" / "cache"
    assert not [
        d
        for d in cache.iterdir()
        if d.is_dir() and not (d / "meta.json").exists() and not d.name.startswith(".")
    ]


def test_the_cognata_accuracy_command_fails_the_same_clear_way(snap, tmp_path):
    home, _ = snap
    res = tmp_path / "results"
    res.mkdir()
    args = ["run", "process,mlperf,accuracy,_cognata_ssd", f"--result_dir={res}", "--quiet"]
    err = _offline_failure(home, args, tmp_path)
    assert "process-mlperf-accuracy(_cognata_ssd" in err
    typo = cli(home, "run", "process,mlperf,accuracy,_cognata_ssd", "--result_dri=x", "--quiet")
    assert typo.code == 2 and "did you mean 'result_dir'" in typo.err


def test_the_repo_prefix_and_mlcflow_order_choose_the_entry(snap):
    home, _ = snap
    r = cli(home, "run", "mlc:script:get-python3", "--plan", "--quiet")
    assert r.code == 0 and "(mlc:script:get-python3)" in r.out.splitlines()[0], r
    r = cli(home, "run", "get,compiler", "--plan", "--quiet")
    # MLCFlow sorts by (sort, path) and takes the first without a terminal; ckx says so
    assert r.code == 0 and r.out.startswith("get-llvm"), r
    assert "5 entries match 'get,compiler'" in r.err and "chose 0) mlc:script:get-llvm" in r.err


@pytest.mark.slow
def test_run_python_runs_a_file_of_the_current_folder_as_in_mlcflow(snap, tmp_path):
    """``mlcr run,python --command=my.py`` runs ``my.py`` of the folder it was started in and
    leaves there only what the program wrote (MLCFlow's protocol files are cleaned up)."""
    home, _ = snap
    here = tmp_path / "here"
    here.mkdir()
    (here / "my.py").write_text("print('from my.py'); open('made.txt', 'w').write('x')\n")
    r = cli(home, "run", "run,python", "--command=my.py", "--quiet", cwd=here)
    assert r.code == 0, r
    assert "from my.py" in r.err  # the script's output shows, --quiet or not
    assert sorted(p.name for p in here.iterdir()) == ["made.txt", "my.py"]
