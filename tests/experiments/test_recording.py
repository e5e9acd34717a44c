"""benchmark --record with the synthetic program: points, repetitions, files, reading back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ckx
from ckx.experiments.records import (
    load_points,
    machine_of,
    platform_info,
    point_id,
    record_repetition,
)

from .conftest import bench


def _exp_dir(ckx_home: Path, name: str) -> Path:
    return ckx_home / "repos" / "local" / "experiment" / name


def test_same_configuration_adds_repetitions_to_the_same_point(synth, ckx_home):
    a = bench("e", reps=2, value="20")
    b = bench("e", reps=1, value="20")
    assert a["point"] == b["point"] and b["point_repetitions"] == 3
    points = load_points(_exp_dir(ckx_home, "e"))
    assert len(points) == 1 and len(points[0].repetitions) == 3
    assert [r["n"] for r in points[0].repetitions] == [1, 2, 3]
    scores = [r["characteristics"]["score"] for r in points[0].repetitions]
    assert all(20 <= s <= 24 for s in scores)
    st = points[0].statistics["score"]
    assert st["n"] == 3 and st["min"] == min(scores) and st["max"] == max(scores)
    assert "output_dir" not in points[0].statistics  # per-run noise stays out of the statistics


def test_another_configuration_is_another_point(synth, ckx_home):
    p1 = bench("e", value="20")["point"]
    p2 = bench("e", value="30")["point"]
    p3 = bench("e", cmd_key="slow", value="20")["point"]
    p4 = bench("e", value="20", env={"EXTRA": "1"})["point"]
    assert len({p1, p2, p3, p4}) == 4
    meta = ckx.access({"action": "load", "automation": "experiment", "entry": "e"})["meta"]
    assert meta["ckx_experiment"] == 1 and "repetitions" not in meta  # the points count them
    shown = ckx.access({"action": "show", "automation": "experiment", "entry": "e", "quiet": True})
    assert sum(len(p["repetitions"]) for p in shown["experiments"][0]["points"]) == 8


def test_point_id_is_stable_and_ignores_key_order():
    m = {"os": "Linux", "cpu_model": "x", "cpu_cores": 2, "arch": "x86_64", "accelerators": []}
    a = {
        "program_uid": "u",
        "cmd_key": "k",
        "env": {"A": "1", "B": "2"},
        "inputs": {},
        "variations": [],
    }
    b = {
        "variations": [],
        "inputs": {},
        "env": {"B": "2", "A": "1"},
        "cmd_key": "k",
        "program_uid": "u",
    }
    assert point_id(a, m) == point_id(b, m)
    assert len(point_id(a, m)) == 16 and int(point_id(a, m), 16) >= 0
    assert point_id(a, m) != point_id({**a, "cmd_key": "j"}, m)
    assert point_id(a, m) != point_id(a, {**m, "cpu_cores": 4})  # another machine, another point
    assert point_id({**a, "program": "renamed"}, m) == point_id(
        a, m
    )  # the uid counts, not the alias


def test_platform_info_is_cheap_and_complete():
    p = platform_info()
    for key in ("os", "cpu_model", "cpu_cores", "memory_bytes", "python", "accelerators"):
        assert key in p
    assert p["cpu_cores"] >= 1 and p["python"].count(".") == 2
    assert set(machine_of(p)) == {"os", "arch", "cpu_model", "cpu_cores", "accelerators"}
    code = (
        "import sys; from ckx.experiments.records import platform_info; platform_info(); "
        "heavy = {'numpy', 'torch', 'onnxruntime', 'cv2', 'matplotlib', 'yaml'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_print_files_are_copied_per_repetition(synth, ckx_home):
    out = bench("files", reps=2, print_files="out.txt,missing.txt")
    assert any("missing.txt" in w for w in out["warnings"])
    p = load_points(_exp_dir(ckx_home, "files"))[0]
    for k, rep in enumerate(p.repetitions, 1):
        assert rep["files"] == ["out.txt"]
        kept = p.path / "files" / f"r{k:04d}" / "out.txt"
        assert kept.read_text().startswith("run of fast with score ")
        assert kept.read_text() == (Path(rep["run_dir"]) / "out.txt").read_text()


def test_print_files_refuses_paths_outside_the_run_folder(synth):
    out = ckx.access(
        {
            "action": "benchmark",
            "automation": "program",
            "entry": "synth",
            "cmd_key": "fast",
            "record": True,
            "record_uoa": "x",
            "print_files": "../etc/passwd",
            "quiet": True,
        }
    )
    assert out["return"] == 2 and "print_files" in out["error"]


def test_without_record_nothing_is_written(synth, ckx_home):
    out = ckx.access(
        {
            "action": "benchmark",
            "automation": "program",
            "entry": "synth",
            "cmd_key": "fast",
            "repetitions": 3,
            "quiet": True,
        }
    )
    assert out["return"] == 0 and out["statistics"]["score"]["n"] == 3
    assert "experiment" not in out
    assert not (ckx_home / "repos" / "local" / "experiment").exists()


def test_generated_name_is_readable_and_printed(synth, cli):
    r = cli(
        "benchmark", "program:synth", "--cmd_key=fast", "--record", "--quiet", "--skip_print_stats"
    )
    assert r.code == 0, r
    name = r.out.split("experiment name: ")[1].split()[0]
    assert name.startswith("synth-fast-20")
    assert cli("find", f"experiment:{name}").out.strip().endswith(f"/experiment/{name}")


def test_tags_label_the_experiment_and_variations_go_to_the_program(synth, ckx_home):
    bench("tagged", tags="mlperf-v1.0,inference,cpu")
    hits = ckx.access({"action": "search", "automation": "experiment", "tags": "inference,cpu"})[
        "list"
    ]
    assert [h["alias"] for h in hits] == ["tagged"]


def test_record_into_another_repo(synth, ckx_home, tmp_path):
    assert (
        ckx.access({"action": "add", "automation": "repo", "entry": "mine", "quiet": True})[
            "return"
        ]
        == 0
    )
    out = bench("elsewhere", record_repo="mine")
    assert out["experiment"] == "mine:experiment:elsewhere"
    assert (ckx_home / "repos" / "mine" / "experiment" / "elsewhere" / "meta.yaml").is_file()


def test_show_table_csv_md_json(synth, cli):
    bench("s", value="20")
    bench("s", value="40")
    t = cli("show", "experiment:s")
    assert t.code == 0 and "2 point(s), 4 repetition(s)" in t.out
    assert "inputs.value" in t.out and "score" in t.out and "latency_ns.p50" in t.out
    csv = cli(
        "show", "experiment:s", "--csv", "--sort-by=-score", "--columns=inputs.value,score"
    ).out.splitlines()
    assert csv[0] == "point,inputs.value,score"
    assert [row.split(",")[1] for row in csv[1:]] == ["40", "20"]
    md = cli("show", "experiment:s", "--md", "--only-changed").out
    assert "| key |" in md and "| inputs.value | 20 | 40 |" in md.replace("  ", " ")
    assert "| mode |" not in md and "| valid |" not in md  # the same in both points: hidden
    js = cli("show", "experiment:s", "--json").json()
    pts = js["experiments"][0]["points"]
    assert len(pts) == 2 and all(len(p["repetitions"]) == 2 for p in pts)


def test_sort_by_unknown_key_suggests(synth, cli):
    bench("s")
    r = cli("show", "experiment:s", "--sort-by=scor")
    assert r.code == 3 and "did you mean 'score'" in r.err


def test_unknown_experiment_names_get_did_you_mean(synth, cli):
    bench("resnet-offline")
    for args in (
        ("show", "experiment:resnet-ofline"),
        ("replay", "experiment:resnet-ofline"),
        ("compare", "experiment:resnet-ofline", "experiment:resnet-offline"),
        ("find", "experiment:resnet-ofline"),
        ("rm", "experiment:resnet-ofline", "--force"),
    ):
        r = cli(*args)
        assert r.code == 3, (args, r)
        assert "did you mean 'resnet-offline'" in r.err, (args, r)


def test_ls_find_rm(synth, cli, ckx_home):
    bench("a-1")
    bench("a-2")
    bench("b-1")
    assert cli("ls", "experiment:a-*").out.split() == [
        "local:experiment:a-1",
        "local:experiment:a-2",
    ]
    assert cli("find", "experiment:b-1").out.strip() == str(_exp_dir(ckx_home, "b-1"))
    refused = cli("rm", "experiment:a-*")
    assert refused.code == 2 and "without confirmation" in refused.err
    assert cli("rm", "experiment:a-*", "--force").code == 0
    assert cli("ls", "experiment").out.split() == ["local:experiment:b-1"]


def test_compare_shows_ratios_and_differing_inputs(synth, cli):
    bench("c1", value="100", reps=1)
    bench("c2", value="200", reps=1)
    r = cli("compare", "experiment:c1", "experiment:c2")
    assert r.code == 0, r
    score = next(line for line in r.out.splitlines() if line.startswith("score"))
    v1, v2, ratio = score.split()[1], score.split()[2], score.split()[3]
    assert ratio == f"{int(v2) / int(v1):.3f}x"
    assert "inputs that differ" in r.out and "inputs.value" in r.out.split("inputs that differ")[1]
    one = cli("compare", "experiment:c1")
    assert one.code == 2 and "at least two" in one.err


def test_plot_writes_a_png(synth, cli, tmp_path):
    bench("p", value="10")
    bench("p", value="50")
    bench("p", value="30")
    out = tmp_path / "chart.png"
    r = cli("plot", "experiment:p", "--x=inputs.value", "--y=score", f"--out={out}")
    assert r.code == 0, r
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    bars = tmp_path / "bars.png"
    assert (
        cli("plot", "experiment:p", "--x=point", "--y=score,latency_ns.p50", f"--out={bars}").code
        == 0
    )
    assert bars.stat().st_size > 5000
    bad = cli("plot", "experiment:p", "--x=inputs.value", "--y=scroe", f"--out={out}")
    assert bad.code == 3 and "did you mean 'score'" in bad.err


def test_replay_reruns_and_refuses_when_a_script_changed(synth, cli):
    bench("r", value="20", reps=1)
    ok = cli("replay", "experiment:r")
    assert ok.code == 0, ok
    assert "replayed point" in ok.out and "score" in ok.out
    run = synth / "program" / "synth" / "run.sh"
    run.write_text(run.read_text() + "\n# changed\n")
    bad = cli("replay", "experiment:r")
    assert bad.code == 5, bad
    assert "synth changed since it was recorded" in bad.err and "run.sh" in bad.err


def test_replay_record_adds_a_repetition(synth, ckx_home):
    bench("rr", value="20", reps=1)
    out = ckx.access(
        {
            "action": "replay",
            "automation": "experiment",
            "entry": "rr",
            "record": True,
            "quiet": True,
        }
    )
    assert out["return"] == 0, out
    p = load_points(_exp_dir(ckx_home, "rr"))[0]
    assert (
        out["recorded_point"] == p.id
        and len(p.repetitions) == 2
        and p.repetitions[1]["replay"] is True
    )


_WORKER = """
import sys
from ckx.experiments.records import record_repetition, platform_info
from pathlib import Path
exp, tag = Path(sys.argv[1]), sys.argv[2]
inputs = {"program": "p", "program_uid": "u", "cmd_key": "k", "variations": [], "env": {}, "inputs": {}}
plat = platform_info()
for k in range(int(sys.argv[3])):
    record_repetition(exp, name=exp.name, tags=[tag], inputs=inputs, platform=plat,
                      repetition={"characteristics": {"x": k, "who": tag}}, lock=None, files={})
"""


def test_concurrent_recorders_lose_nothing(tmp_path):
    exp = tmp_path / "experiment" / "race"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(exp), tag, "15"])
        for tag in ("a", "b", "c")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    points = load_points(exp)
    assert len(points) == 1
    reps = points[0].repetitions
    assert len(reps) == 45 and [r["n"] for r in reps] == list(range(1, 46))
    assert sorted(r["characteristics"]["who"] for r in reps) == ["a"] * 15 + ["b"] * 15 + ["c"] * 15
    assert points[0].statistics["x"]["n"] == 45


def test_concurrent_benchmarks_from_two_processes(synth, ckx_home):
    cmd = [
        sys.executable,
        "-m",
        "ckx",
        "benchmark",
        "program:synth",
        "--cmd_key=fast",
        "--repetitions=4",
        "--record",
        "--record_uoa=shared",
        "--quiet",
        "--skip_print_stats",
        "--env.SYNTH_SLEEP=0.05",
    ]
    procs = [
        subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    points = load_points(_exp_dir(ckx_home, "shared"))
    assert len(points) == 1 and len(points[0].repetitions) == 8


def test_record_repetition_writes_readable_json(tmp_path):
    exp = tmp_path / "experiment" / "plain"
    plat = platform_info()
    inputs = {
        "program": "p",
        "program_uid": "u",
        "cmd_key": "k",
        "variations": [],
        "env": {},
        "inputs": {},
    }
    lock = {
        "ckx_lock": 1,
        "created": "t1",
        "request": {},
        "nodes": [{"path": "root", "uid": "u", "status": "run"}],
    }
    r = record_repetition(
        exp,
        name="plain",
        tags=["t"],
        inputs=inputs,
        platform=plat,
        repetition={"characteristics": {"qps": 5, "lat": {"p50": 2}}},
        lock=lock,
        files={},
    )
    lock2 = {**lock, "created": "t2", "nodes": [{"path": "root", "uid": "u", "status": "cached"}]}
    record_repetition(
        exp,
        name="plain",
        tags=["t"],
        inputs=inputs,
        platform=plat,
        repetition={"characteristics": {"qps": 7, "lat": {"p50": 4}}},
        lock=lock2,
        files={},
    )
    data = json.loads((exp / "points" / r.point / "point.json").read_text())
    assert data["ckx_experiment_point"] == 1 and data["id"] == r.point
    assert len(data["locks"]) == 1  # same plan: when it was made and what was cached do not count
    assert data["statistics"]["qps"]["mean"] == 6 and data["statistics"]["lat.p50"]["max"] == 4
    flat = json.loads((exp / "points" / r.point / "flat.json").read_text())
    assert flat["##characteristics#qps#mean"] == 6 and flat["##characteristics#lat#p50#all"] == [
        2,
        4,
    ]
    assert flat["##repeats"] == 2 and flat["##inputs#cmd_key"] == "k"
    assert not list(exp.rglob("*.tmp")) and not list(exp.rglob(".tmp-*"))
