"""POST /access answers exactly what ckx.access answers, under load and disconnects too."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from experiments.conftest import make_synth_repo

import ckx

from .conftest import start_server


def _plain(out: dict) -> dict:
    """A result as it travels as JSON (paths and the like become strings)."""
    return json.loads(json.dumps(out, default=str))


def test_search_over_http_equals_ckx_access(served, same_home):
    req = {"action": "search", "automation": "script", "tags": "get,python3"}
    with served.client() as c:
        got = c.access(req)
        assert c.last_status == 200
    assert got == _plain(ckx.access(req))
    assert [e["alias"] for e in got["list"]] == ["get-python3"]


def test_cached_run_over_http_equals_ckx_access(served, same_home):
    req = {"action": "run", "automation": "script", "tags": "get,python3", "quiet": True}
    first = ckx.access(req)
    assert first["return"] == 0, first
    with served.client() as c:
        got = c.access(req)
    assert got["status"] == "cached" and got == _plain(ckx.access(req))


def test_show_experiment_over_http_equals_ckx_access(served, same_home, tmp_path):
    repo = make_synth_repo(tmp_path / "synth-repo")
    assert (
        ckx.access({"action": "add", "automation": "repo", "entry": "t", "path": str(repo)})[
            "return"
        ]
        == 0
    )
    rec = ckx.access(
        {
            "action": "benchmark",
            "automation": "program",
            "entry": "synth",
            "cmd_key": "fast",
            "repetitions": 2,
            "record": True,
            "record_uoa": "shown",
            "quiet": True,
        }
    )
    assert rec["return"] == 0, rec
    req = {"action": "show", "automation": "experiment", "entry": "shown"}
    with served.client() as c:
        got = c.access(req)
    assert got["return"] == 0 and got == _plain(ckx.access(req))
    assert "score" in json.dumps(got)


def test_errors_keep_the_ckx_shape_with_mapped_status(served):
    with served.client() as c:
        out = c.access({"action": "load", "automation": "script", "entry": "no-such-script"})
        assert c.last_status == 404 and out["return"] == 3 and "no-such-script" in out["error"]
        out = c.access({"action": "search", "automation": "script", "tags": "get,,python"})
        assert c.last_status == 400 and out["return"] == 2 and "position" in out["error"]
        out = c.access(
            {"action": "run", "automation": "script", "tags": "get,python3", "verison": "3"}
        )
        assert c.last_status == 400 and "did you mean 'version'" in out["error"]  # strict
        out = c.access({"action": "serch", "automation": "script"})  # no token: not open
        assert c.last_status == 403 and "did you mean 'search'?" in out["error"]


def test_32_concurrent_requests_all_succeed(served, same_home):
    ckx.access({"action": "run", "automation": "script", "tags": "get,python3", "quiet": True})
    reqs = [
        {"action": "search", "automation": "script", "tags": "get,python3"},
        {"action": "run", "automation": "script", "tags": "get,python3", "quiet": True},
        {"action": "ls", "automation": "repo"},
        {"action": "show", "automation": "cache"},
    ]

    def one(k: int) -> tuple[int, dict]:
        with served.client() as c:
            out = c.access(reqs[k % len(reqs)])
            return c.last_status or 0, out

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(one, range(32)))
    assert [s for s, _ in answers] == [200] * 32, answers
    assert all(out["return"] == 0 for _, out in answers)
    for k, (_, out) in enumerate(answers):  # the same request gets the same answer
        assert out == answers[k % len(reqs)][1]


def test_a_client_that_disconnects_leaves_nothing_half_made(served, same_home, tmp_path):
    """The request runs to its end in its worker; its experiment is recorded whole."""
    repo = make_synth_repo(tmp_path / "synth-repo")
    # one copy of synth at a time: two entries claiming one uid are refused at resolution
    ckx.access({"action": "rm", "automation": "repo", "entry": "t", "force": True})
    ckx.access({"action": "add", "automation": "repo", "entry": "t2", "path": str(repo)})
    body = json.dumps(
        {
            "action": "benchmark",
            "automation": "program",
            "entry": "synth",
            "cmd_key": "fast",
            "env": {"SYNTH_SLEEP": "1"},
            "record": True,
            "record_uoa": "gone",
            "quiet": True,
        }
    ).encode()
    u = urlsplit(served.url)
    with socket.create_connection((u.hostname, u.port)) as s:
        s.sendall(
            b"POST /access HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.3)  # the request is in a worker now; hang up without reading
    exp = same_home / "repos" / "local" / "experiment" / "gone"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(exp.glob("points/*/point.json")):
        time.sleep(0.2)
    point = json.loads(next(exp.glob("points/*/point.json")).read_text())
    assert len(point["repetitions"]) == 1
    leftovers = [p for p in exp.parent.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_concurrent_first_runs_take_the_same_locks_as_cli_processes(tmp_path):
    """16 requests that all need the same uncached script: it runs once, all succeed."""
    home = tmp_path / "home"
    home.mkdir()
    s = start_server(home, "--workers=4")
    req = {"action": "run", "automation": "script", "tags": "get,python3", "quiet": True}
    try:

        def one(_: int) -> dict:
            with s.client() as c:
                return c.access(req)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(16)))
        with s.client() as c:
            caches = c.access({"action": "show", "automation": "cache", "tags": "get,python3"})
    finally:
        s.stop()
    assert all(a["return"] == 0 for a in answers), answers
    assert len({a["cache_uid"] for a in answers}) == 1
    assert len(caches["list"]) == 1 and caches["list"][0]["valid"]
    assert [a["status"] for a in answers].count("ran") == 1
