"""Sweeps on this machine: one experiment, one point per configuration (the same point a single
benchmark records), failed points recorded as failed, --resume, --plan, --jobs, and the
views (show, compare, plot, dashboard) that understand sweeps."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

from tests.sweeps.conftest import experiment_points, sweep, sweep_doc


def test_sweep_points_are_the_points_a_single_benchmark_records(sweepy, ckx_home):
    out = sweep(
        "cmd_key=fast", "sweep.value=1:2", "sweep.size=1,3",
        repetitions=2, record=True, record_uoa="grid",
    )  # fmt: skip
    assert out["return"] == 0, out
    assert [c["values"] for c in out["configurations"]] == [
        {"value": "1", "size": "1"}, {"value": "1", "size": "3"},
        {"value": "2", "size": "1"}, {"value": "2", "size": "3"},
    ]  # fmt: skip
    points = experiment_points(ckx_home, "grid")
    assert len(points) == 4 and all(len(p["repetitions"]) == 2 for p in points)
    doc = sweep_doc(ckx_home, "grid")
    assert {(c["point"], c["repetitions"]) for c in doc["configurations"]} == {
        (p["id"], 2) for p in points
    }
    for p in points:
        for rep in p["repetitions"]:
            assert rep["where"]["executor"] == "local" and rep["where"]["hostname"]
        assert p["platform"]["cpu_cores"] >= 1  # the machine description of a local point
    # the same configuration benchmarked on its own lands on the sweep's point
    one = sweep("cmd_key=fast", value="2", size="3", record=True, record_uoa="grid")
    assert one["return"] == 0, one
    n4 = next(c for c in out["configurations"] if c["values"] == {"value": "2", "size": "3"})
    assert one["point"] == n4["point"] and one["point_repetitions"] == 3
    assert len(experiment_points(ckx_home, "grid")) == 4


def test_a_failed_point_does_not_stop_the_sweep_and_resume_runs_only_it(sweepy, ckx_home, tmp_path):
    flag = tmp_path / "fail-now"
    flag.write_text("")
    args = (
        "cmd_key=fast",
        "sweep.value=1,2,3,4",
        f"env.SWEEPY_FAIL_FLAG={flag}",
        "env.SWEEPY_FAIL_IF=3",
    )
    first = sweep(*args, jobs="2", record=True, record_uoa="flaky")
    assert first["return"] == 6, first
    assert "1 of 4 sweep point(s) failed" in first["error"] and "#3 (value=3)" in first["error"]
    assert "--resume" in first["hint"]
    points = experiment_points(ckx_home, "flaky")
    assert sorted(p["inputs"]["inputs"]["value"] for p in points) == ["1", "2", "4"]
    doc = sweep_doc(ckx_home, "flaky")
    assert [c["status"] for c in doc["configurations"]] == ["done", "done", "failed", "done"]
    failed = doc["configurations"][2]
    assert "told to fail for value 3" in failed["error"]["message"] and failed["attempts"] == 1
    assert failed["where"]["executor"] == "local" and "point" not in failed

    flag.unlink()
    again = sweep(
        *args, jobs="2", record=True, record_uoa="flaky", resume=True, print_files="out.txt"
    )
    assert again["return"] == 0, again
    assert again["ran"] == [3] and again["failed"] == []
    points = experiment_points(ckx_home, "flaky")
    assert len(points) == 4 and all(len(p["repetitions"]) == 1 for p in points)
    doc = sweep_doc(ckx_home, "flaky")
    assert [c["status"] for c in doc["configurations"]] == ["done"] * 4
    assert doc["configurations"][2]["attempts"] == 2
    # the child process sent its --print_files back with the point
    p3 = next(p for p in points if p["inputs"]["inputs"]["value"] == "3")
    assert p3["repetitions"][0]["files"] == ["out.txt"]
    kept = ckx_home / "repos/local/experiment/flaky/points" / p3["id"] / "files/r0001/out.txt"
    assert kept.read_text() == "sweepy value 3 size 1\n"
    # nothing left to do: --resume runs nothing and records nothing more
    done = sweep(*args, record=True, record_uoa="flaky", resume=True)
    assert done["return"] == 0 and done["ran"] == []


def test_plan_lists_configurations_runs_and_needs_without_running(cli, sweepy, ckx_home, tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        "sweep:\n  value: [1, 2, 4]\n  cmd_key: [fast, slow]\n"
        "sweep_exclude:\n  - {value: 4, cmd_key: slow}\n"
    )
    r = cli(
        "benchmark", "program:sweepy", f"@{spec}", "--repetitions=3", "--plan",
        "--record", "--record_uoa=planned",
    )  # fmt: skip
    assert r.code == 0, r
    assert "5 configuration(s), 1 excluded x 3 repetition(s); 5 to run = 15 run(s)" in r.out
    lines = r.out.splitlines()
    assert any(line.split()[:4] == ["5", "4", "fast", "missing"] for line in lines), r.out
    assert not any(line.split()[:3] == ["6", "4", "slow"] for line in lines)
    assert "each configuration needs (not installed here): nothing" in r.out
    assert not (ckx_home / "repos/local/experiment/planned").exists()


def test_plan_names_what_is_not_installed_yet(cli, ckx_home):
    r = cli(
        "benchmark", "program:od-bench", "--cmd_key=performance-offline",
        "--sweep.threads=1,2", "--plan",
    )  # fmt: skip
    assert r.code == 0, r
    assert "2 configuration(s) x 1 repetition(s); 2 to run = 2 run(s)" in r.out
    assert "get-dataset-shapes-coco" in r.out  # a fresh CKX_HOME: the data set is to be made


def test_jobs_are_refused_for_latency_scenarios_unless_forced(sweepy):
    out = sweep("cmd_key=latency", "sweep.value=1,2", jobs="2")
    assert out["return"] == 2, out
    assert "SingleStream" in out["error"] and "contention" in out["error"]
    assert "--jobs=1" in out["hint"] and "--force" in out["hint"]
    forced = sweep("cmd_key=latency", "sweep.value=1,2", jobs="2", force=True, plan=True)
    assert forced["return"] == 0, forced
    assert sweep("cmd_key=fast", "sweep.value=1,2", jobs="2", plan=True)["return"] == 0


def test_bad_sweep_requests_are_refused_before_anything_runs(sweepy, ckx_home):
    cases = [
        (("cmd_key=fast", "sweep.valu=1,2"), {}, 3, "has no input 'valu' to sweep; did you mean"),
        (("cmd_key=fast", "sweep.value=1,2"), {"value": "3"}, 2, "both fixed"),
        (("sweep.cmd_key=fast,fastest",), {}, 3, "no cmd_key 'fastest'"),
        (("cmd_key=fast",), {"jobs": "2"}, 2, "--jobs applies to sweeps only"),
        (("cmd_key=fast", "sweep.value=1,2"), {"resume": True, "record": False}, 2, "--resume completes a recorded sweep"),
        (("cmd_key=fast", "sweep.value=1,2"), {"executor": "ray", "jobs": "2"}, 2, "--jobs applies to --executor=local"),
        (("cmd_key=fast", "sweep.value=1,2"), {"executor": "dask"}, 2, "unknown --executor=dask"),
        (("cmd_key=fast", "sweep.value=1,2"), {"ray_resources": "CPU=2"}, 2, "applies to --executor=ray"),
        (("cmd_key=fast", "sweep.value=1,2"), {"sweep_exclude": "value=1;value=2"}, 2, "leave no configuration"),
    ]  # fmt: skip
    for args, extra, code, message in cases:
        out = sweep(*args, **{"record": True, "record_uoa": "never", **extra})
        assert out["return"] == code and message in out["error"], (args, extra, out)
    assert not (ckx_home / "repos/local/experiment/never").exists()


def test_the_ray_executor_without_ray_installed_names_the_extra(sweepy, ckx_home):
    code = (
        "import sys, json; sys.modules['ray'] = None\n"  # as if the extra were not installed
        "import ckx\n"
        "print(json.dumps(ckx.access({'action': 'benchmark', 'automation': 'program',"
        " 'entry': 'sweepy', 'cmd_key': 'fast', 'sweep': {'value': '1,2'},"
        " 'executor': 'ray', 'quiet': True})))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    out = json.loads(p.stdout)
    assert out["return"] == 11, out
    assert f"{shlex.quote(sys.executable)} -m pip install 'ray>=" in out["hint"]


def test_show_compare_plot_and_dashboard_understand_a_sweep(cli, sweepy, ckx_home, tmp_path):
    out = sweep("sweep.cmd_key=fast,slow", "sweep.value=1,2,4,bad", record=True, record_uoa="views")
    assert out["return"] == 6 and out["error"].count("failed") >= 1, out
    show = cli("show", "experiment:views")
    assert show.code == 0, show
    assert "8 configuration(s): 6 done, 2 failed" in show.out
    assert "failed #4 cmd_key=fast value=bad: " in show.out
    assert "best samples_per_second (mean): " in show.out and "at cmd_key=fast value=4" in show.out

    cmp = cli("compare", "experiment:views")
    assert cmp.code == 0, cmp
    head = cmp.out.splitlines()[0]
    assert "(1) cmd_key=fast value=1" in head and "(2)/(1)" in head and "best (*)" in head
    row = next(line for line in cmp.out.splitlines() if line.startswith("samples_per_second"))
    assert row.rstrip().endswith("cmd_key=fast value=4") and row.count(" *") == 1

    png = tmp_path / "sweep.png"
    p = cli("plot", "experiment:views", "--y=samples_per_second", f"--out={png}", "--json")
    assert p.code == 0, p
    info = p.json()
    assert info["x"] == "inputs.value" and info["series"] == 2 and info["points"] == 6
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert info["best"]["samples_per_second"] == next(
        c["point"]
        for c in sweep_doc(ckx_home, "views")["configurations"]
        if c["values"] == {"cmd_key": "fast", "value": "4"}
    )

    d = cli("dashboard", f"--out={tmp_path / 'dash'}")
    assert d.code == 0, d
    page = (tmp_path / "dash" / "index.html").read_text()
    assert "8 configuration(s): 6 done, 2 failed" in page and "by inputs.value" in page
    assert "star: the best point" in page
