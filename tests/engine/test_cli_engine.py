"""The engine through the real `ckx` command line (a subprocess, no terminal)."""

from __future__ import annotations

from ckx.core.context import Context
from ckx.core.repos import Repo

from .conftest import REPO_UID, write_script


def test_cli_plan_adr_and_failure(cli, ckx_home, script_repo):
    write_script(
        script_repo, "app", {"deps": [{"tags": "lib", "names": ["lib"]}], "new_env_keys": ["LIB_*"]}
    )
    write_script(
        script_repo,
        "lib",
        {"versions": {"1.0": {}, "2.0": {}}, "new_env_keys": ["LIB_*"]},
        {
            "run.sh": 'echo "LIB_V=$CKX_VERSION" >> "$CKX_OUTPUT_ENV_FILE"\n[ "$FAIL" = yes ] && exit 3\ntrue\n'
        },
    )
    Context(ckx_home).registry.add(Repo(alias="t", uid=REPO_UID, path=script_repo))
    r = cli("run", "script", "--tags=app", "--adr.lib.version_max=1.5", "--plan")
    assert r.code == 0, r.err
    assert "lib v1.0 (version_max=1.5)  [run]" in r.out
    r = cli("run", "script:app", "--adr.lib.version_max=1.5", "--json", "--quiet")
    assert r.code == 0 and r.json()["env"] == {"LIB_V": "1.0"}
    r = cli("run", "script:app", "--env.FAIL=yes", "--quiet")
    assert r.code == 6
    assert "run.sh of t:script:lib failed with exit code 3 (in app → lib)" in r.err
    assert "rerun just this step: ckx run script:lib --version=2.0 --env.FAIL=yes" in r.err


def test_quiet_asks_nothing_and_says_less_but_the_script_s_output_shows(cli, ckx_home, script_repo):
    """As in CK and MLCFlow (whose users always pass --quiet): what a script prints reaches
    the user on stderr; ckx's own progress lines do not; --json keeps stdout for the result."""
    write_script(script_repo, "hello", {}, {"run.sh": "echo hello-from-the-script\n"})
    Context(ckx_home).registry.add(Repo(alias="t", uid=REPO_UID, path=script_repo))
    r = cli("run", "script:hello", "--quiet")
    assert r.code == 0, r.err
    assert "hello-from-the-script" in r.err and "run:" not in r.err
    r = cli("run", "script:hello")
    assert "hello-from-the-script" in r.err and "  run: hello" in r.err
    r = cli("run", "script:hello", "--quiet", "--json")
    assert r.json()["return"] == 0 and "hello-from-the-script" in r.err
