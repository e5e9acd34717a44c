"""The seed workflow end to end on od-bench's embedded default (SSD on shapes-coco):
benchmark --record, show, compare, plot, zip, unzip into a fresh CKX_HOME, show again."""

from __future__ import annotations

import json
import zipfile

EXTRA = "--count 16 --time 1"


def test_odbench_record_show_compare_plot_zip_unzip(cli, tmp_path, ckx_home):
    r = cli(
        "benchmark",
        "program:od-bench",
        "--cmd_key=performance-singlestream",
        f"--env.EXTRA_OPS={EXTRA}",
        "--repetitions=2",
        "--record",
        "--record_uoa=ss",
        "--tags=mlperf-v1.0,inference,object-detection,onnx,cpu",
        "--print_files=mlperf_log_summary.txt,results.json",
        "--quiet",
        timeout=600,
    )
    assert r.code == 0, r
    assert "recorded 2 repetition(s) into local:experiment:ss" in r.out
    assert "samples_per_second" in r.out and "latency_ns.p90" in r.out  # the statistics table

    point = json.loads(
        next((ckx_home / "repos/local/experiment/ss/points").glob("*/point.json")).read_text()
    )
    assert len(point["repetitions"]) == 2
    for k, rep in enumerate(point["repetitions"], 1):
        ch = rep["characteristics"]
        assert ch["scenario"] == "SingleStream" and ch["mode"] == "PerformanceOnly"
        assert (
            ch["samples_per_second"] > 0 and ch["latency_ns"]["p90"] >= ch["latency_ns"]["p50"] > 0
        )
        assert sorted(rep["files"]) == ["mlperf_log_summary.txt", "results.json"]
        summary = (
            ckx_home
            / f"repos/local/experiment/ss/points/{point['id']}/files/r{k:04d}/mlperf_log_summary.txt"
        )
        assert "MLPerf Results Summary" in summary.read_text()
    assert {
        n["alias"] for n in point["locks"][point["repetitions"][0]["lock_sha256"]]["nodes"]
    } >= {"od-bench"}
    assert (
        point["platform"]["cpu_cores"] >= 1 and point["statistics"]["samples_per_second"]["n"] == 2
    )

    r2 = cli(
        "benchmark",
        "program:od-bench",
        "--cmd_key=performance-offline",
        f"--env.EXTRA_OPS={EXTRA}",
        "--record",
        "--record_uoa=off",
        "--tags=mlperf-v1.0,cpu",
        "--quiet",
        "--skip_print_stats",
        timeout=600,
    )
    assert r2.code == 0, r2

    show = cli("show", "experiment:ss")
    assert (
        show.code == 0 and "performance-singlestream" in show.out and "latency_ns.p50" in show.out
    )
    assert cli("find", "experiment", "--tags=inference,onnx").out.strip().endswith("/experiment/ss")

    cmp = cli("compare", "experiment:ss", "experiment:off")
    assert cmp.code == 0, cmp
    assert "off/ss" in cmp.out and "cmd_key" in cmp.out.split("inputs that differ")[1]

    png = tmp_path / "latency.png"
    p = cli(
        "plot",
        "experiment:ss",
        "--x=cmd_key",
        "--y=latency_ns.p50,latency_ns.p90,latency_ns.p99",
        f"--out={png}",
    )
    assert p.code == 0 and png.stat().st_size > 5000

    work = tmp_path / "share"
    work.mkdir()
    assert cli("zip", "experiment:*", cwd=work).code == 0
    with zipfile.ZipFile(work / "ckr.zip") as zf:
        assert {e["alias"] for e in json.loads(zf.read("ckr.json"))["entries"]} == {"ss", "off"}

    fresh = {"CKX_HOME": str(tmp_path / "fresh-home")}
    assert cli("add", "repo:my-cool-experiments", "--quiet", env=fresh).code == 0
    u = cli("unzip", "repo:my-cool-experiments", "--zip=ckr.zip", cwd=work, env=fresh)
    assert u.code == 0 and "added my-cool-experiments:experiment:ss" in u.out, u
    there = cli("show", "experiment:ss", env=fresh)
    assert there.code == 0
    # the same table: only the header line names the repo
    assert there.out.splitlines()[1:] == show.out.splitlines()[1:]
    assert there.out.splitlines()[0].startswith("experiment my-cool-experiments:experiment:ss")
