"""Issue 20, the service: secrets never written by jobs, a server without a token never runs a
program its client names, and hostile bodies and offsets are clear 400s, never a dropped
connection or a 500."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from service.conftest import TOKEN, start_server

from .conftest import access

SECRET_META = """\
alias: secret-echo
uid: 5ec7e75ec7e75ec0
automation_alias: program
tags: [program, secret-echo]
cache: false
characteristics_file: chars.json
run_cmds:
  check: {desc: "says whether it got the secrets"}
new_env_keys: [CKX_RUN_DIR]
"""
SECRET_RUN = """\
#!/usr/bin/env bash
ok=false
[ "${MY_PASSWORD:-}" = "pw-4567-secret" ] && ok=true
echo "{\\"token_len\\": ${#API_TOKEN}, \\"password_ok\\": $ok}" > "$CKX_RUN_DIR/chars.json"
"""
API_TOKEN = "tok-0123456789-very-secret"


def _raw(url: str, method: str, path: str, body: bytes | None = None, headers=None):
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _secret_repo(root: Path) -> Path:
    d = root / "program" / "secret-echo"
    d.mkdir(parents=True)
    (root / "repo.yaml").write_text("alias: sec\nuid: 5ec5ec5ec5ec5ec0\n")
    (d / "meta.yaml").write_text(SECRET_META)
    (d / "run.sh").write_text(SECRET_RUN)
    (d / "run.sh").chmod(0o755)
    return root


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """A server without a token (loopback only)."""
    s = start_server(tmp_path_factory.mktemp("open-home"))
    yield s
    s.stop()


def test_a_job_keeps_its_secrets_in_memory_only(tmp_path, ckx_home):
    repo = _secret_repo(tmp_path / "sec-repo")
    assert access(action="add", automation="repo", entry="sec", path=str(repo))["return"] == 0
    tok = tmp_path / "token.txt"
    tok.write_text(TOKEN + "\n")
    s = start_server(ckx_home, f"--token-file={tok}")
    try:
        req = {
            "action": "run",
            "automation": "program",
            "entry": "secret-echo",
            "cmd_key": "check",
            "env": {"API_TOKEN": API_TOKEN, "MY_PASSWORD": "pw-4567-secret"},
            "quiet": True,
        }
        with s.client(TOKEN) as c:
            job = c.submit(req)
            done = c.wait(job, timeout=120)
            listed = c.jobs()
    finally:
        s.stop()
    assert done["status"] == "done", done
    # the job got both values ...
    chars = done["result"]["characteristics"]
    assert chars["token_len"] == len(API_TOKEN) and chars["password_ok"] is True, chars
    # ... and neither was written nor answered
    answers = json.dumps(done) + json.dumps(listed)
    assert API_TOKEN not in answers and "pw-4567-secret" not in answers
    assert done["request"]["env"] == {"API_TOKEN": "<redacted>", "MY_PASSWORD": "<redacted>"}
    for f in (ckx_home / "jobs" / job).iterdir():
        text = f.read_text(errors="replace")
        assert API_TOKEN not in text and "pw-4567-secret" not in text, f.name


def _fake_python(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    prog = tmp_path / "anything"
    prog.write_text(f'#!/bin/sh\ntouch "{marker}"\necho "Python 3.11.7"\n')
    prog.chmod(0o755)
    return prog, marker


ODBENCH = {
    "action": "run",
    "automation": "program",
    "entry": "od-bench",
    "cmd_key": "performance-singlestream",
    "count": "8",  # before the fix it ran: keep that short
    "time": "1",
}


@pytest.mark.parametrize(
    "extra, why",
    [
        ({"env": {"CKX_PYTHON_BIN_WITH_PATH": "{prog}"}}, "'env' sets the environment"),
        ({"adr": {"python": {"env": {"CKX_PYTHON_BIN_WITH_PATH": "{prog}"}}}}, "'adr' changes"),
        ({"env": {"HARMLESS": "1"}}, "'env' sets the environment"),  # no env at all
        ({"python_bin_with_path": "{prog}"}, "'python_bin_with_path' names a program"),
        ({"model_path": "{prog}"}, "'model_path' names a program"),
        ({"sweep": {"env": {"LD_PRELOAD": "{prog}"}}}, "'sweep.env.LD_PRELOAD' sets"),
        ({"sweep": {"threads": "1,2"}, "LD_PRELOAD": "{prog}"}, "'LD_PRELOAD' names"),
    ],
)
def test_a_server_without_a_token_runs_no_program_its_client_names(
    open_server, tmp_path, extra, why
):
    prog, marker = _fake_python(tmp_path)
    req = json.loads(json.dumps({**ODBENCH, **extra}).replace("{prog}", str(prog)))
    if "sweep" in req:
        req["action"] = "benchmark"
    with open_server.client() as c:
        out = c.access(req)
        assert c.last_status == 403, out
    assert why in out["error"] and "no token" in out["error"], out
    assert "--token-file" in out["hint"]
    assert not marker.exists()


def test_a_variation_naming_an_interpreter_needs_the_token(open_server, tmp_path):
    prog, marker = _fake_python(tmp_path)
    with open_server.client() as c:
        out = c.access(
            {"action": "run", "automation": "script", "tags": f"get,python3,_custom-path.{prog}"}
        )
        assert c.last_status == 403, out
        assert "the variation '_custom-path." in out["error"]
        listed = ["get", "python3", f"_custom-path.{prog}"]  # tags as a list
        out = c.access({"action": "run", "automation": "script", "tags": listed})
        assert c.last_status == 403 and "the variation '_custom-path." in out["error"], out
        ok = c.access(
            {"action": "run", "automation": "script", "tags": "get,python3", "quiet": True}
        )
        assert c.last_status == 200, ok  # registered entries still run, as they resolve here
    assert not marker.exists()


def test_a_log_offset_too_large_for_a_file_is_400(open_server):
    with open_server.client() as c:
        job = c.submit({"action": "version"})
        c.wait(job, timeout=60)
    for offset in ("999999999999999999999", "1" * 4000, "%C2%B2", "-1", "1e3"):
        status, body = _raw(open_server.url, "GET", f"/jobs/{job}/log?offset={offset}&follow=0")
        assert status == 400, (offset, status, body)
        assert "offset must be a byte count" in json.loads(body)["error"]
    status, body = _raw(open_server.url, "GET", f"/jobs/{job}/log?offset=3&follow=0")
    assert status == 200
    assert "Traceback" not in open_server.stderr


@pytest.mark.parametrize("depth", [100_000, 200])
def test_a_body_nested_too_deep_is_400(open_server, depth):
    body = '{"action": "search", "automation": "script", "x": ' + "[" * depth + "]" * depth + "}"
    status, answer = _raw(
        open_server.url, "POST", "/access", body.encode(), {"Content-Type": "application/json"}
    )
    assert status == 400, (status, answer[:300])
    assert "nested deeper than" in json.loads(answer)["error"]
    status, answer = _raw(
        open_server.url, "POST", "/jobs", body.encode(), {"Content-Type": "application/json"}
    )
    assert status == 400, (status, answer[:300])
    assert "RecursionError" not in open_server.stderr


def test_the_python_api_still_takes_env(tmp_path, ckx_home):
    """The rule is the server's: ckx.access in your own process may set any env."""
    prog, marker = _fake_python(tmp_path)
    out = access(
        action="run",
        automation="script",
        tags="get,python3",
        env={"CKX_PYTHON_BIN_WITH_PATH": str(prog)},
    )
    assert marker.exists(), out  # your own choice of interpreter is honoured
