"""Hooks checked at plan time, nested runs from hooks, and the one hook spec."""

from __future__ import annotations

import pytest

from ckx.core.context import Context
from ckx.core.errors import MetaError, ResolutionError
from ckx.core.repos import Repo
from ckx.engine import dialects as dialect_module
from ckx.engine import run_request
from ckx.engine.hookspec import CKX_HOOKS, load_customize
from ckx.engine.lifecycle import CkxLifecycle

from .conftest import REPO_UID, write_script

BAD_HOOK = "def postprocess(i, extra):\n    return {}\n"


def test_a_bad_hook_is_refused_by_plan_lint_and_run_before_its_dep_runs(
    cli, ckx_home, script_repo, tmp_path
):
    marker = tmp_path / "marker"
    write_script(script_repo, "dep-marker", {}, {"run.sh": f'touch "{marker}"\n'})
    write_script(script_repo, "app", {"deps": [{"tags": "dep-marker"}]}, {"customize.py": BAD_HOOK})
    Context(ckx_home).registry.add(Repo(alias="t", uid=REPO_UID, path=script_repo))
    bad = f"{script_repo / 'script' / 'app' / 'customize.py'}: hook 'postprocess' must take"
    for args in (("run", "app", "--plan"), ("lint", "script"), ("run", "app")):
        r = cli(*args)
        assert r.code == 4, (args, r)
        assert bad in r.out + r.err, (args, r)
        assert "it takes (i, extra)" in r.out + r.err, (args, r)
    assert not marker.exists(), "the dep ran although the plan had a bad hook"


def test_a_bad_hook_of_a_dep_decided_when_reached_is_refused_too(ectx, script_repo):
    write_script(
        script_repo, "app", {"prehook_deps": [{"tags": "opt", "enable_if_env": {"X": "yes"}}]}
    )
    write_script(script_repo, "opt", {}, {"customize.py": BAD_HOOK})
    with pytest.raises(MetaError, match="hook 'postprocess' must take exactly one argument"):
        run_request(ectx, {"query": "app", "plan": True})


def test_both_names_of_the_version_hook_is_an_error_and_the_alias_works(ectx, script_repo):
    both = "def detect_version(i):\n    return '1'\n\ndef determine_version(i):\n    return '2'\n"
    alias = "def determine_version(i):\n    return {'version': '4.2'}\n"
    write_script(script_repo, "both", {}, {"customize.py": both})
    write_script(script_repo, "aliased", {}, {"customize.py": alias})
    with pytest.raises(MetaError, match="defines both 'detect_version' and 'determine_version'"):
        run_request(ectx, {"query": "both", "plan": True})
    assert run_request(ectx, {"query": "aliased"})["version"] == "4.2"


def test_a_hook_returning_an_undeclared_key_names_file_hook_and_key(ectx, script_repo):
    write_script(
        script_repo,
        "typo",
        {},
        {"customize.py": "def preprocess(i):\n    return {'skipp': True}\n"},
    )
    with pytest.raises(MetaError) as err:
        run_request(ectx, {"query": "typo"})
    assert "customize.py: preprocess() of t:script:typo returned the unknown key 'skipp'" in (
        err.value.message
    )
    assert "preprocess may return: error, return, skip, version" in (err.value.hint or "")


NESTED_HOOK = """
def preprocess(i):
    out = i.run_script("tool", env={"TOOL_FLAVOR": "big"})
    i.env["APP_TOOL"] = out["env"]["TOOL_BIN"]
    i.env["APP_TOOL_STATUS"] = out["status"]
"""


def test_a_hook_runs_another_script_and_uses_its_env(ectx, script_repo, tmp_path):
    log = tmp_path / "log"
    write_script(
        script_repo,
        "tool",
        {"cache": True, "new_env_keys": ["TOOL_*"]},
        {
            "run.sh": f'echo tool >> "{log}"\n'
            'echo "TOOL_BIN=$PWD/tool-$TOOL_FLAVOR" >> "$CKX_OUTPUT_ENV_FILE"\n'
        },
    )
    write_script(script_repo, "app", {"new_env_keys": ["APP_*"]}, {"customize.py": NESTED_HOOK})
    first = run_request(ectx, {"query": "app"})
    assert first["env"]["APP_TOOL"].endswith("/tool-big")
    assert first["env"]["APP_TOOL_STATUS"] == "ran"
    again = run_request(ectx, {"query": "app"})  # the nested run shares the cache
    assert again["env"]["APP_TOOL"] == first["env"]["APP_TOOL"]
    assert again["env"]["APP_TOOL_STATUS"] == "cached"
    assert log.read_text().split() == ["tool"]


def test_a_cycle_through_a_nested_run_is_reported_as_a_chain(ectx, script_repo):
    runs_a = "def preprocess(i):\n    i.run_script('a')\n"
    write_script(script_repo, "a", {"deps": [{"tags": "b"}]})
    write_script(script_repo, "b", {}, {"customize.py": runs_a})
    with pytest.raises(ResolutionError) as err:
        run_request(ectx, {"query": "a"})
    assert err.value.cycle == ("a", "b", "(nested) a")
    assert "dependency cycle: a → b → (nested) a" in err.value.message


def test_a_cycle_of_two_nested_runs_is_caught_before_anything_of_it_runs(ectx, script_repo):
    write_script(
        script_repo, "x", {}, {"customize.py": "def preprocess(i):\n    i.run_script('y')\n"}
    )
    write_script(
        script_repo, "y", {}, {"customize.py": "def preprocess(i):\n    i.run_script('x')\n"}
    )
    with pytest.raises(ResolutionError, match=r"dependency cycle: x → \(nested\) y → \(nested\) x"):
        run_request(ectx, {"query": "x"})


class ToyLifecycle(CkxLifecycle):
    """ckx's steps with other files and names (as a content dialect may have): TOY_
    variables, go.sh, hooks get a plain dict and run in the run folder, the script reports
    through toy-env.out in its folder."""

    prefix = "TOY_"

    def load_hooks(self, folder):
        return load_customize(folder / "customize.py", CKX_HOOKS)

    def hook_input(self, call):
        return {"env": call.env, "run_dir": str(call.run_path), "nested": call.run_script}

    def hook_cwd(self, call):
        return call.run_path

    def engine_env(self, call, cwd):
        return {"TOY_RUN_DIR": str(call.run_path)}

    def script_file(self, folder):
        return folder / "go.sh" if (folder / "go.sh").is_file() else None

    def command(self, script):
        return ["bash", str(script)]

    def prepare_outputs(self, work, env):
        (work / "toy-env.out").unlink(missing_ok=True)

    def collect_outputs(self, work, env, state, script):
        out = work / "toy-env.out"
        for line in out.read_text().splitlines() if out.is_file() else []:
            k, _, v = line.partition("=")
            env[k] = v
        return None


class ToyDialect(dialect_module.DialectDefaults):
    """A dialect of its own: it claims the repo ``toy`` and runs it with ToyLifecycle."""

    name = "toy"
    prefix = "TOY_"
    lifecycle = ToyLifecycle()

    def claims(self, repo):
        return repo.alias == "toy"


TOY_HOOK = """
import os

def preprocess(i):
    assert os.getcwd() == i["run_dir"], (os.getcwd(), i["run_dir"])
    open("hook-was-here", "w").close()
    i["env"]["TOY_FROM_HOOK"] = "1"
"""


def test_a_registered_dialect_runs_its_content_without_runner_changes(
    monkeypatch, ckx_home, tmp_path
):
    repo = tmp_path / "toyrepo"
    repo.mkdir()
    (repo / "repo.yaml").write_text("alias: toy\nuid: 00000000000000ee\n")
    meta = {"versions": {"1.0": {}}, "default_version": "1.0", "new_env_keys": ["TOY_OUT"]}
    write_script(
        repo,
        "app",
        meta,
        {
            "customize.py": TOY_HOOK,
            "go.sh": 'echo "TOY_OUT=$TOY_FROM_HOOK-$TOY_VERSION-$(ls hook-was-here)" > toy-env.out\n',
            "run.sh": "exit 9\n",  # ckx's run script: never chosen for this dialect
        },
    )
    ctx = Context(ckx_home, dialects=[ToyDialect()])
    ctx.registry.add(Repo(alias="toy", uid="00000000000000ee", path=repo))
    out = run_request(ctx, {"query": "app"})
    assert out["env"] == {"TOY_OUT": "1-1.0-hook-was-here"}
    ctx.index.close()


def test_run_nested_is_a_plain_function_with_a_context_or_a_runner(ectx, script_repo):
    from ckx.engine import make_plan, make_planner
    from ckx.engine.nested import run_nested
    from ckx.engine.runner import Runner

    write_script(script_repo, "tool", {"new_env_keys": ["T"], "env": {"T": "1"}})
    write_script(script_repo, "app", {})
    out = run_nested(ectx, {"query": "tool"})
    assert out == {
        "env": {"T": "1"},
        "state": {},
        "version": None,
        "status": "ran",
        "cache_uid": None,
    }
    planner, provider = make_planner(ectx, {"query": "app"})
    runner = Runner(ectx, planner, provider)
    runner.run(make_plan(ectx, {"query": "app"}, planner))
    with pytest.raises(RuntimeError, match="needs a node being run"):
        run_nested(runner, {"query": "tool"})  # nothing is being run any more
    app = make_plan(ectx, {"query": "app"}, planner).root
    assert run_nested(runner, {"query": "tool"}, parent=app)["env"] == {"T": "1"}


def test_the_dialect_seam_is_plan_policy_plus_a_lifecycle():
    from ckx.engine.nodeops import Lifecycle
    from ckx.engine.protocols import Dialect

    members = {k for k in vars(Dialect) if not k.startswith("_")} | set(Dialect.__annotations__)
    assert "lifecycle" in members and len(members) <= 10, sorted(members)
    assert {k for k in vars(Lifecycle) if not k.startswith("_")} == {
        "load_hooks",
        "run_folder",
        "run",
    }
