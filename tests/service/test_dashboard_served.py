"""GET / serves the experiments dashboard (rebuilt when experiments change), and
/experiments/... the recorded files, without ever leaving the experiment's folder."""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import urlsplit

import pytest
from experiments.conftest import bench, make_synth_repo
from experiments.test_dashboard import _chromium, _console_errors, _loaded, needs_chromium

import ckx


@pytest.fixture(scope="module")
def recorded(served, tmp_path_factory):
    """Two experiments of the synth program in the server's home."""
    old = os.environ.get("CKX_HOME")
    os.environ["CKX_HOME"] = str(served.home)
    try:
        repo = make_synth_repo(tmp_path_factory.mktemp("synth") / "repo")
        out = ckx.access({"action": "add", "automation": "repo", "entry": "t", "path": str(repo)})
        assert out["return"] == 0, out
        bench("dash-a", value="20", print_files="out.txt")
        bench("dash-b", value="50", reps=3)
    finally:
        if old is None:
            os.environ.pop("CKX_HOME", None)
        else:
            os.environ["CKX_HOME"] = old
    return served


def _get(url: str, path: str) -> tuple[int, bytes, dict]:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        conn.request("GET", path)  # sent as written: no client-side '..' clean-up
        r = conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def test_the_dashboard_is_served_and_follows_new_experiments(recorded, monkeypatch):
    status, _, headers = _get(recorded.url, "/")
    assert status == 307
    first = headers["location"]
    status, page, _ = _get(recorded.url, first)
    assert status == 200 and b"dash-a" in page and b"dash-b" in page
    assert _get(recorded.url, first + "plots/dash-a-0.png")[0] == 200
    assert _get(recorded.url, first + "../../etc/passwd")[0] == 404
    assert _get(recorded.url, "/")[2]["location"] == first  # unchanged: not rebuilt
    monkeypatch.setenv("CKX_HOME", str(recorded.home))
    bench("dash-c", value="5")
    second = _get(recorded.url, "/")[2]["location"]
    assert second != first and b"dash-c" in _get(recorded.url, second)[1]


def test_recorded_files_are_served_and_nothing_outside(recorded):
    status, body, _ = _get(recorded.url, "/experiments")
    names = [e["alias"] for e in json.loads(body)["list"]]
    assert status == 200 and {"dash-a", "dash-b"} <= set(names)
    status, body, _ = _get(recorded.url, "/experiments/dash-a/points/")
    listing = json.loads(body)["list"]
    assert status == 200 and len(listing) == 1 and listing[0]["type"] == "dir"
    point = listing[0]["name"].rstrip("/")
    path = f"/experiments/local:dash-a/points/{point}/files/r0001/out.txt"
    status, body, headers = _get(recorded.url, path)
    assert status == 200 and body.startswith(b"run of fast")
    assert headers["content-security-policy"] == "sandbox"
    status, body, _ = _get(recorded.url, "/experiments/dash-a/../../../../etc/passwd")
    assert status in (400, 404) and b"root:" not in body
    exp = recorded.home / "repos" / "local" / "experiment" / "dash-a"
    (exp / "escape").symlink_to("/etc/passwd")
    try:
        status, body, _ = _get(recorded.url, "/experiments/dash-a/escape")
        assert status == 404 and b"link" in body and b"root:" not in body
    finally:
        (exp / "escape").unlink()
    assert _get(recorded.url, "/experiments/no-such/meta.yaml")[0] == 404


def test_openapi_lists_every_endpoint(served):
    status, body, _ = _get(served.url, "/openapi.json")
    doc = json.loads(body)
    assert status == 200 and doc["openapi"].startswith("3.")
    assert {"/access", "/jobs", "/jobs/{job}", "/jobs/{job}/log", "/", "/experiments"} <= set(
        doc["paths"]
    )
    assert set(doc["paths"]["/jobs/{job}"]) == {"get", "delete"}


@needs_chromium
def test_the_served_dashboard_loads_in_headless_chromium(recorded, tmp_path):
    r = _chromium(recorded.url + "/", tmp_path / "profile", "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "<h1>ckx experiments</h1>" in r.stdout and "dash-a" in r.stdout
    ok, total = _loaded(r.stdout)
    assert total >= 2 and ok == total
    assert _console_errors(r.stderr) == []
