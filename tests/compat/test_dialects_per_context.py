"""The content dialects are activated once per Context, at the app door: every kind of run
sees MLCFlow content the same way, and a long-lived process serving several homes (a ``ckx
serve`` worker) keeps each home's dialects to that home."""

from __future__ import annotations

import json

from ckx.core.context import Context
from ckx.core.repos import Repo
from tests.compat.conftest import MiniRepo, cli


def test_a_program_run_serves_mlcflow_content_as_a_script_run_does(ckx_home, tmp_path):
    # an MLCFlow twin of the built-in get-python3: a ckx program's dep keeps ckx's own
    # (its dialect's content first), as a script's does, with no choice to make
    mini = MiniRepo(tmp_path / "mini")
    mini.script("get-python3", {"tags": ["get", "python3", "python"], "cache": True})
    assert cli(ckx_home, "add", "repo:mini", f"--path={mini.root}").code == 0
    r = cli(ckx_home, "run", "program:od-bench", "--cmd_key=accuracy-offline", "--plan")
    assert r.code == 0, r.err
    assert "entries match" not in r.err, r.err
    assert "builtin:script:get-python3" in r.out


CKX_HELLO = 'echo "HELLO=from-ckx" > "$CKX_OUTPUT_ENV_FILE"\n'


def test_a_worker_serving_two_homes_keeps_each_homes_dialects(tmp_path, monkeypatch):
    from ckx.app.workers import access_json

    shared = tmp_path / "repo"  # one folder: an MLCFlow repository, later a ckx one
    mini = MiniRepo(shared)
    mini.script("hello", {"tags": ["hello"]}, {"run.sh": "echo hi\n"})
    home_a, home_b = tmp_path / "home-a", tmp_path / "home-b"
    Context(home_a).registry.add(Repo(alias="p", uid="0000000000000a01", path=shared))
    code, body = access_json({"action": "run", "query": "hello", "plan": True, "home": str(home_a)})
    assert code == 0, body
    assert "(p:script:hello)" in json.loads(body)["plan_text"]

    # the same worker process, the next request: another home, where that folder is now a
    # ckx repository whose script reports through ckx's protocol
    (shared / "meta.yaml").unlink()
    (shared / "repo.yaml").write_text("alias: p\nuid: 0000000000000a01\n")
    hello = shared / "script" / "hello"
    (hello / "meta.yaml").write_text(
        "alias: hello\nuid: 00000000000b0001\ntags: [hello]\nnew_env_keys: [HELLO]\n"
    )
    (hello / "run.sh").write_text(CKX_HELLO)
    Context(home_b).registry.add(Repo(alias="p", uid="0000000000000a01", path=shared))
    code, body = access_json({"action": "run", "query": "hello", "home": str(home_b)})
    out = json.loads(body)
    assert code == 0, out
    assert out["env"] == {"HELLO": "from-ckx"}  # ckx's dialect ran it, not home A's MLCFlow
