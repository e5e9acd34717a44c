"""Safe by default: loopback only without a token, the token checked on every request,
writes outside CKX_HOME only with a token, size limits, no cross-site or rebinding access."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from experiments.test_dashboard import _chromium, _console_errors, needs_chromium

from .conftest import ROOT, TOKEN, start_server


def _serve(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ckx", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def _raw(url: str, method: str, path: str, body: bytes | None = None, headers=None):
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    finally:
        conn.close()


JSON = {"Content-Type": "application/json"}


def test_a_non_loopback_bind_without_a_token_refuses_to_start():
    r = _serve("--host=0.0.0.0", "--port=0")
    assert r.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in r.stderr
    assert "--token-file" in r.stderr


def test_a_short_token_and_two_token_sources_are_refused(tmp_path):
    r = _serve("--token=short", "--port=0")
    assert r.returncode == 2 and "at least 16 characters" in r.stderr
    f = tmp_path / "tok"
    f.write_text(TOKEN + "\n")
    r = _serve(f"--token={TOKEN}", f"--token-file={f}", "--port=0")
    assert r.returncode == 2 and "not both" in r.stderr
    r = _serve("--port=0", "--wrokers=2")
    assert r.returncode == 2 and "no option --wrokers" in r.stderr and "workers" in r.stderr


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    home = tmp_path_factory.mktemp("guarded-home")
    tok = home / "token.txt"
    tok.write_text(TOKEN + "\n")
    s = start_server(home, f"--token-file={tok}", "--max_body=2048")
    yield s
    s.stop()


def test_missing_or_wrong_token_is_401(guarded):
    req = {"action": "search", "automation": "script"}
    for token, why in ((None, "missing token"), ("x" * 30, "wrong token")):
        with guarded.client(token) as c:
            out = c.access(req)
            assert c.last_status == 401 and why in out["error"], out
    status, _, headers = _raw(guarded.url, "GET", "/health")
    assert status == 401 and headers.get("www-authenticate", "").startswith("Bearer")
    with guarded.client(TOKEN) as c:
        assert c.access(req)["return"] == 0 and c.last_status == 200
        assert c.get("/health")[0] == 200
        out = c.access({"action": "frobnicate"})  # with the token, ckx itself answers
        assert c.last_status == 404 and "unknown action 'frobnicate'" in out["error"]


def test_a_browser_opens_the_dashboard_once_with_the_token_in_the_address(guarded):
    """/?token=TOKEN sets an HttpOnly cookie and drops the token from the address; the cookie
    reads the dashboard and nothing else."""
    assert _raw(guarded.url, "GET", "/")[0] == 401
    status, _, headers = _raw(guarded.url, "GET", "/?token=" + "x" * 30)
    assert status == 401 and "set-cookie" not in headers
    status, _, headers = _raw(guarded.url, "GET", f"/?token={TOKEN}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and TOKEN not in cookie
    jar = {"Cookie": cookie.split(";", 1)[0]}
    status, _, headers = _raw(guarded.url, "GET", "/", headers=jar)
    assert status == 307 and headers["location"].startswith("/dashboard/")
    status, body, _ = _raw(guarded.url, "GET", headers["location"], headers=jar)
    assert status == 200 and b"<html" in body.lower()
    req = json.dumps({"action": "search", "automation": "script"}).encode()
    assert _raw(guarded.url, "POST", "/access", req, {**jar, **JSON})[0] == 401
    assert _raw(guarded.url, "GET", "/health", headers=jar)[0] == 401
    forged = {"Cookie": "ckx_dashboard=" + "0" * 64}
    assert _raw(guarded.url, "GET", "/", headers=forged)[0] == 401


@needs_chromium
def test_the_dashboard_of_a_server_with_a_token_loads_in_headless_chromium(guarded, tmp_path):
    r = _chromium(f"{guarded.url}/?token={TOKEN}", tmp_path / "profile", "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "<h1>ckx experiments</h1>" in r.stdout, r.stdout[-2000:]
    assert _console_errors(r.stderr) == []


def test_with_the_token_writes_are_allowed(guarded, tmp_path):
    with guarded.client(TOKEN) as c:
        out = c.access({"action": "add", "automation": "script", "entry": "mine", "tags": "a,b"})
        assert out["return"] == 0, out
        out = c.access({"action": "rm", "automation": "script", "entry": "mine", "force": True})
        assert out["return"] == 0, out


def test_writes_need_a_token_even_on_loopback(served):
    with served.client() as c:
        for action in ("rm", "mv", "ren", "cp", "unzip", "pull", "add", "update", "zip", "plot"):
            out = c.access({"action": action, "automation": "script", "entry": "x"})
            assert c.last_status == 403, (action, out)
            assert "this server has no token" in out["error"] and "--token-file" in out["hint"]
        assert c.access({"action": "search", "automation": "script"})["return"] == 0
        for key in ("save_lock", "outdirname", "record_repo", "executor"):
            out = c.access({"action": "run", "automation": "script", "tags": "x", key: "/tmp/y"})
            assert c.last_status == 403 and f"'{key}'" in out["error"], out


def test_oversized_bodies_are_413(guarded):
    auth = {"Authorization": f"Bearer {TOKEN}", **JSON}
    big = json.dumps({"action": "search", "automation": "script", "pad": "x" * 4000}).encode()
    status, body, _ = _raw(guarded.url, "POST", "/access", big, auth)
    assert status == 413 and "larger than 2048 bytes" in json.loads(body)["error"]
    chunks = iter([big[:1500], big[1500:]])  # no Content-Length: counted while reading
    status, body, _ = _raw(guarded.url, "POST", "/access", chunks, auth)
    assert status == 413
    status, _, _ = _raw(guarded.url, "POST", "/jobs", big, auth)  # jobs are limited the same way
    assert status == 413


@pytest.mark.parametrize(
    "body, headers, status, text",
    [
        (b"{not json", JSON, 400, "not valid JSON"),
        (b"[1, 2]", JSON, 400, "must be a JSON object"),
        (b'{"automation": "script"}', JSON, 400, "'action' must be a non-empty string"),
        (b'{"action": "search", "home": "/tmp/x"}', JSON, 400, "CKX_HOME is fixed"),
        (b'{"action": "search", "out": "con"}', JSON, 400, "'out'"),
        (b'{"action": "search", "_bare_word": "x"}', JSON, 400, "internal keys"),
        (b'{"action": "serve"}', JSON, 400, "would block"),
        (b'{"action": "search"}', {"Content-Type": "text/plain"}, 415, "application/json"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_error(served, body, headers, status, text):
    got, raw, _ = _raw(served.url, "POST", "/access", body, headers)
    out = json.loads(raw)
    assert got == status and text in out["error"] and out["return"] == 2, out


def test_cross_site_and_rebinding_requests_are_refused(served):
    body = b'{"action": "search", "automation": "script"}'
    evil = {**JSON, "Origin": "http://evil.example"}
    status, raw, _ = _raw(served.url, "POST", "/access", body, evil)
    assert status == 403 and "cross-site" in json.loads(raw)["error"]
    rebound = {**JSON, "Host": "evil.example:8000"}
    status, raw, _ = _raw(served.url, "POST", "/access", body, rebound)
    assert status == 403 and "not a loopback name" in json.loads(raw)["error"]
