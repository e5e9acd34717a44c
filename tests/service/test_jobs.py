"""Jobs: any action in the background in its own process; status, log, cancel, restarts."""

from __future__ import annotations

import signal
import time

import pytest
from experiments.conftest import make_synth_repo

import ckx
from ckx.core.locks import pid_alive

from .conftest import start_server

ODBENCH = {
    "action": "run",
    "automation": "program",
    "entry": "od-bench",
    "cmd_key": "accuracy-offline",
    "quiet": True,
}


def _synth_job(sleep: str, **extra) -> dict:
    return {
        "action": "run",
        "automation": "program",
        "entry": "synth",
        "cmd_key": "fast",
        "sleep": sleep,
        "quiet": True,
        **extra,
    }


@pytest.fixture
def synth_home(tmp_path, monkeypatch):
    """A home with the synth program registered (as repo ``t``)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CKX_HOME", str(home))
    repo = make_synth_repo(tmp_path / "synth-repo")
    out = ckx.access({"action": "add", "automation": "repo", "entry": "t", "path": str(repo)})
    assert out["return"] == 0, out
    return home


def _wait_for(cond, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_job_runs_queues_and_reports_its_result(synth_home):
    s = start_server(synth_home, "--max_jobs=1")
    try:
        with s.client() as c:
            a = c.submit(_synth_job("1", value="7"))
            b = c.submit(_synth_job("0", value="90"))
            assert c.job(b)["status"] == "queued"  # one slot: b waits for a
            done_b = c.wait(b, timeout=60)
            done_a = c.job(a)
            assert [j["job"] for j in c.jobs()] == [b, a]  # newest first
        assert done_a["status"] == done_b["status"] == "done"
        assert done_b["started_at"] >= done_a["finished_at"] - 0.5
        assert 7 <= done_a["result"]["characteristics"]["score"] <= 11
        assert 90 <= done_b["result"]["characteristics"]["score"] <= 94
        assert done_a["exit_code"] == 0 and done_a["run_s"] >= 1 and done_a["created"]
        job_dir = synth_home / "jobs" / a
        assert {p.name for p in job_dir.iterdir()} >= {
            "job.json",
            "request.json",
            "log.txt",
            "result.json",
        }
    finally:
        s.stop()


def test_the_log_streams_as_server_sent_events(synth_home):
    import http.client
    from urllib.parse import urlsplit

    s = start_server(synth_home)
    try:
        with s.client() as c:
            j = c.submit({**_synth_job("0"), "quiet": False})
        u = urlsplit(s.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        conn.request("GET", f"/jobs/{j}/log", headers={"Accept": "text/event-stream"})
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
        events = r.read().decode()
        conn.close()
        assert "data:   run: synth" in events  # each log line is one data: line
        end = events.rsplit("event: end\ndata: ", 1)[1]
        assert __import__("json").loads(end)["status"] == "done"
    finally:
        s.stop()


def test_a_failing_job_is_failed_with_the_ckx_error(served):
    with served.client() as c:
        j = c.submit({"action": "run", "automation": "program", "entry": "no-such-program"})
        out = c.wait(j, timeout=60)
        assert out["status"] == "failed" and out["exit_code"] == 3 and out["return"] == 0
        assert "no-such-program" in out["reason"] and out["result"]["return"] == 3
        assert "ckx error:" in out["log"]
        assert c.job("20990101-000000-abcdef")["return"] == 3 and c.last_status == 404
        assert c.job("../../etc")["return"] == 3 and c.last_status == 404
        assert c.cancel(j)["return"] == 12 and c.last_status == 409  # finished: nothing to cancel
        with pytest.raises(RuntimeError, match="403"):
            c.submit({"action": "rm", "automation": "cache", "force": True})


def test_a_job_left_running_by_a_killed_server_is_failed_at_the_next_start(synth_home):
    s = start_server(synth_home)
    try:
        with s.client() as c:
            j = c.submit(_synth_job("60"))
            _wait_for(lambda: "sleep" in _children(c.job(j).get("pid")), what="the job's script")
            pid = c.job(j)["pid"]
        workers = _worker_pids(s.proc.pid)
        assert len(workers) == 2
    finally:
        s.stop(signal.SIGKILL)  # no clean-up at all: the job's process group lives on
    assert pid_alive(pid)
    _wait_for(lambda: not any(map(pid_alive, workers)), timeout=10, what="the workers to exit")
    s2 = start_server(synth_home)
    try:
        with s2.client() as c:
            rec = c.job(j)
        assert rec["status"] == "failed" and rec["recovered_from"] == "running"
        assert "the server stopped while the job was running" in rec["reason"]
        _wait_for(lambda: not pid_alive(pid), timeout=10, what="the orphan to be killed")
        assert f"job {j} was left unfinished" in s2.stderr
    finally:
        s2.stop()


def test_stopping_the_server_stops_its_jobs(synth_home):
    s = start_server(synth_home)
    try:
        with s.client() as c:
            j = c.submit(_synth_job("60"))
            _wait_for(lambda: c.job(j)["status"] == "running", what="the job to start")
            pid = c.job(j)["pid"]
    finally:
        code = s.stop(signal.SIGINT)
    assert code == 0
    assert not pid_alive(pid)
    rec = __import__("json").loads((synth_home / "jobs" / j / "job.json").read_text())
    assert rec["status"] == "failed" and "server stopped" in rec["reason"]


def _worker_pids(server_pid: int) -> list[int]:
    """The worker processes of a server (they end when their pipe to the server closes)."""
    import subprocess

    out = subprocess.run(
        ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(server_pid)], capture_output=True, text=True
    ).stdout
    return [
        int(line.split()[0])
        for line in out.splitlines()
        if "spawn_main" in line and "pipe_handle" in line
    ]


def _children(pid) -> str:
    """The command lines of the processes in ``pid``'s process group."""
    import subprocess

    if not pid:
        return ""
    out = subprocess.run(
        ["ps", "-ww", "-o", "args=", "-g", str(pid)], capture_output=True, text=True
    )
    return out.stdout


@pytest.mark.slow
def test_an_odbench_job_finishes_with_its_map(served):
    with served.client() as c:
        j = c.submit(ODBENCH)
        streamed = "".join(c.log(j))  # follows the log until the job ends
        out = c.wait(j, timeout=600)
    assert out["status"] == "done", out
    ch = out["result"]["characteristics"]
    assert ch["mode"] == "AccuracyOnly" and ch["result_valid"] is True
    assert round(ch["mAP"], 3) == 81.321
    assert "mAP=81.321%" in streamed and streamed == out["log"]


@pytest.mark.slow
def test_a_long_benchmark_streams_its_log_and_cancel_kills_it(served):
    long_run = {
        "action": "run",
        "automation": "program",
        "entry": "od-bench",
        "cmd_key": "performance-singlestream",
        "time": "300",
    }
    with served.client() as c:
        j = c.submit(long_run)
        seen = ""
        for text in c.log(j):
            seen += text
            if "INFO:odbench:loaded" in seen:
                break  # output arrived while the benchmark runs
        rec = c.job(j)
        assert rec["status"] == "running" and "run: od-bench" in seen
        pid = rec["pid"]
        assert "odbench" in _children(pid)
        t = time.monotonic()
        out = c.cancel(j)
        assert out["status"] == "cancelled" and c.last_status == 200
        assert time.monotonic() - t < 15
        assert _children(pid).strip() == "" and not pid_alive(pid)
        assert c.job(j)["status"] == "cancelled"
