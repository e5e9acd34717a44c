"""MLCFlow scripts run as MLCFlow runs them: hooks, run scripts, versions, deps, nested runs.

Each test builds a small MLCFlow repository (root meta.yaml, script/<alias>/ with meta.yaml,
customize.py, run*.sh) and runs it through the engine, as `ckx run` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ckx.core.errors import CkxError, ResolutionError, RunError, UsageError

from .conftest import run

APP_HOOKS = """
from mlc import utils
from utils import is_true
import os


def predeps(i):
    i['env']['ORDER'] = 'predeps'
    return {'return': 0}


def preprocess(i):
    env = i['env']
    env['ORDER'] += ',preprocess'
    env['HOOK_CWD'] = os.getcwd()
    env['SEEN_DEP'] = env.get('DEP_ONE_OUT', '')
    env['KEYS_OK'] = 'yes' if is_true('on') and i['os_info']['bat_ext'] == '.sh' else 'no'
    env['IN_MODEL'] = i['input'].get('model', '')
    env['IN_ADR'] = ','.join(sorted(i['input'].get('adr', {})))
    r = i['automation'].run_native_script(
        {'run_script_input': i['run_script_input'], 'env': env, 'script_name': 'extra'})
    if r['return'] > 0:
        return r
    return {'return': 0}


def postprocess(i):
    env = i['env']
    env['ORDER'] += ',postprocess'
    r = i['automation'].parse_version({'match_text': r'app version ([\\d.]+)',
                                       'group_number': 1, 'env_key': 'APP_VERSION',
                                       'which_env': env})
    if r['return'] > 0:
        return r
    return {'return': 0, 'version': r['version']}
"""


@pytest.fixture
def app(mini):
    mini.script(
        "dep-one",
        {"tags": ["dep", "one"], "cache": True, "new_env_keys": ["DEP_ONE_*"]},
        {"run.sh": 'echo "DEP_ONE_OUT=from-dep" > tmp-run-env.out\n'},
    )
    mini.script(
        "app",
        {
            "tags": ["app", "demo"],
            "deps": [{"tags": "dep,one", "names": "first"}],
            "env": {"OUT_NAME": "DYN_KEY", "MLC_HOST_OS_FLAVOR": "ckxtest"},
            "input_mapping": {"model": "MLC_MODEL"},
            "new_env_keys": [
                "ORDER",
                "FROM_RUN",
                "APP_*",
                "EXTRA_RAN",
                "SEEN_DEP",
                "HOOK_CWD",
                "KEYS_OK",
                "IN_MODEL",
                "IN_ADR",
                "MLC_MODEL",
                "<<<OUT_NAME>>>",
                "MLC_DETECTED*",
            ],
        },
        {
            "customize.py": APP_HOOKS,
            "run.sh": "exit 3\n",  # MLCFlow picks run-<flavor>.sh over run.sh
            "run-ckxtest.sh": 'echo "app version 1.2.3" > tmp-ver.out\n'
            'echo "FROM_RUN=$ORDER" > tmp-run-env.out\necho "DYN_KEY=dyn" >> tmp-run-env.out\n',
            "extra.sh": 'echo "EXTRA_RAN=yes" > tmp-run-env.out\n',
        },
    )
    return mini


def test_a_script_runs_its_hooks_scripts_and_protocol_as_mlcflow_does(ctx, app, tmp_path):
    out = run(ctx, "app,demo", model="ssd", adr={"first": {"env": {"DEP_ONE_X": "1"}}})
    env = out["env"]
    assert env["ORDER"] == "predeps,preprocess,postprocess"  # predeps before the deps
    assert env["FROM_RUN"] == "predeps,preprocess"  # tmp-run-env.out of run-<flavor>.sh
    assert env["EXTRA_RAN"] == "yes"  # run_native_script ran extra.sh
    assert out["version"] == "1.2.3" and env["APP_VERSION"] == "1.2.3"  # parse_version
    assert env["SEEN_DEP"] == "from-dep"  # the dep's export reached the preprocess hook
    assert env["DYN_KEY"] == "dyn"  # new_env_keys: <<<OUT_NAME>>>
    assert env["KEYS_OK"] == "yes" and env["IN_MODEL"] == "ssd" and env["MLC_MODEL"] == "ssd"
    assert env["IN_ADR"] == "first"  # --adr reaches i['input'] of the requested script
    assert "MLC_DETECTED_VERSION" in env  # exported only because new_env_keys asks
    hook_cwd = Path(env["HOOK_CWD"])  # as MLCFlow: not cached, so in the current folder,
    assert hook_cwd == Path.cwd() and not (hook_cwd / "tmp-run.sh").exists()  # left clean
    assert not list(Path.cwd().glob("tmp-*")) and not list(Path.cwd().glob("*.log"))
    run(ctx, "app,demo", model="ssd", dirty=True)  # --dirty keeps the protocol files
    assert 'export MLC_MODEL="ssd"' in (Path.cwd() / "tmp-run.sh").read_text()


def test_mlcflow_engine_variables_reach_hooks_and_scripts(ctx, mini):
    mini.script(
        "vars",
        {
            "new_env_keys": ["SEEN_*"],
            "default_env": {"X": "<<<MLC_TMP_CURRENT_SCRIPT_PATH>>>/x"},
            "input_mapping": {"data": "SEEN_DATA"},
            "input_description": {"data": {"is_path": True}},
        },
        {
            "customize.py": "def preprocess(i):\n"
            "    e = i['env']\n"
            "    e['SEEN_QUIET'] = e.get('MLC_QUIET', '')\n"
            "    e['SEEN_OS'] = e.get('MLC_HOST_OS_TYPE', '')\n"
            "    e['SEEN_SPACES'] = repr(i['recursion_spaces'])\n"
            "    e['SEEN_X'] = e['X']\n"
            "    return {'return': 0}\n",
            "run.sh": 'echo "SEEN_SCRIPT=$MLC_TMP_CURRENT_SCRIPT_PATH" > tmp-run-env.out\n'
            'echo "SEEN_WORK=$MLC_TMP_CURRENT_SCRIPT_WORK_PATH" >> tmp-run-env.out\n'
            'echo "SEEN_USER=$MLC_USER_RUN_DIR" >> tmp-run-env.out\n',
        },
    )
    env = run(ctx, "vars", data="rel/dir")["env"]
    script = mini.root / "script" / "vars"
    assert env["SEEN_DATA"] == os.path.join(os.getcwd(), "rel", "dir")  # is_path: absolute
    assert env["SEEN_SCRIPT"] == str(script) and env["SEEN_X"] == f"{script}/x"
    assert env["SEEN_QUIET"] == "yes" and env["SEEN_OS"] in ("linux", "darwin", "windows")
    assert env["SEEN_USER"] == os.getcwd() and Path(env["SEEN_WORK"]).is_dir()
    assert env["SEEN_SPACES"] == "''"


FINDER = """
import os

def preprocess(i):
    env = i['env']
    r = i['automation'].find_artifact({'file_name': 'fakecc', 'env': env, 'os_info': i['os_info'],
                                       'detect_version': True, 'env_path_key': 'FAKE_BIN',
                                       'run_script_input': i['run_script_input'],
                                       'recursion_spaces': i['recursion_spaces']})
    if r['return'] > 0:
        return r
    return {'return': 0}


def detect_version(i):
    r = i['automation'].parse_version({'match_text': r'fakecc ([\\d.]+)', 'group_number': 1,
                                       'env_key': 'FAKE_VERSION', 'which_env': i['env']})
    if r['return'] > 0:
        return r
    return {'return': 0, 'version': r['version']}


def postprocess(i):
    return detect_version(i)
"""


def _fake_tools(base: Path) -> Path:
    d = base / "tools"
    for name, version in (("fakecc", "2.1"), ("fakecc-1", "1.0")):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(f"#!/bin/sh\necho fakecc {version}\n")
        (d / name).chmod(0o755)
    return d


def test_find_artifact_detects_versions_per_candidate_and_keeps_those_that_fit(ctx, mini, tmp_path):
    mini.script(
        "get-fakecc",
        {"tags": ["get", "fakecc"], "new_env_keys": ["FAKE_*"], "cache": True},
        {"customize.py": FINDER, "run.sh": '"$FAKE_BIN" > tmp-ver.out\n'},
    )
    tools = _fake_tools(tmp_path)
    out = run(ctx, "get,fakecc", path=str(tools))
    assert out["env"]["FAKE_BIN"] == str(tools / "fakecc") and out["version"] == "2.1"
    old = run(ctx, "get,fakecc", path=str(tools), version_max="1.5", new=True)
    assert old["env"]["FAKE_BIN"] == str(tools / "fakecc-1") and old["version"] == "1.0"
    again = run(ctx, "get,fakecc", path=str(tools))  # cached: nothing runs
    assert again["status"] == "cached" and again["env"] == out["env"]


DETECT_OR_INSTALL = """
def preprocess(i):
    env, automation = i['env'], i['automation']
    r = automation.detect_version_using_script(
        {'env': env, 'run_script_input': i['run_script_input'], 'recursion_spaces': ''})
    if r['return'] > 0:
        if r['return'] != 16:
            return r
        r = automation.run_native_script(
            {'run_script_input': i['run_script_input'], 'env': env, 'script_name': 'install'})
        if r['return'] > 0:
            return r
    return {'return': 0}


def detect_version(i):
    r = i['automation'].parse_version({'match_text': r'lib (\\d+\\.\\d+)', 'group_number': 1,
                                       'env_key': 'FAKELIB_VERSION', 'which_env': i['env']})
    if r['return'] > 0:
        return r
    return {'return': 0, 'version': r['version']}


def postprocess(i):
    return detect_version(i)
"""


def test_a_version_not_detected_is_16_so_the_hook_installs_as_in_mlcflow(ctx, mini, tmp_path):
    """get-generic-python-lib's flow: detect (its run.sh fails: nothing installed), get 16,
    run install.sh, then the run detects what was installed."""
    marker = tmp_path / "installed"
    mini.script(
        "get-fakelib",
        {"tags": ["get", "fakelib"], "new_env_keys": ["FAKELIB_*"]},
        {
            "customize.py": DETECT_OR_INSTALL,
            "run.sh": f'[ -f "{marker}" ] || exit 1\necho "lib 3.4" > tmp-ver.out\n',
            "install.sh": f'touch "{marker}"\n',
        },
    )
    out = run(ctx, "get,fakelib")
    assert marker.exists() and out["env"]["FAKELIB_VERSION"] == "3.4"


def test_const_wins_again_after_each_dep_as_in_mlcflow(ctx, mini):
    mini.script(
        "setter",
        {"tags": ["setter"], "new_env_keys": ["MLC_MODE", "MLC_OTHER"]},
        {
            "run.sh": 'echo "MLC_MODE=from-dep" > tmp-run-env.out\necho "MLC_OTHER=dep" >> tmp-run-env.out\n'
        },
    )
    mini.script(
        "top",
        {
            "tags": ["top"],
            "const": {"MLC_MODE": "const"},
            "deps": [{"tags": "setter"}],
            "new_env_keys": ["MLC_MODE", "MLC_OTHER"],
        },
    )
    env = run(ctx, "top")["env"]
    assert env["MLC_MODE"] == "const" and env["MLC_OTHER"] == "dep"


def test_env_precedence_is_mlcflow_s(ctx, mini):
    """Measured with MLCFlow 1.3.8: --env < the meta's env < an input < a variation's env."""
    mini.script(
        "prec",
        {
            "tags": ["prec"],
            "input_mapping": {"x": "MLC_X", "y": "MLC_Y"},
            "env": {"MLC_Y": "meta-env"},
            "variations": {
                "v": {"env": {"MLC_X": "variation"}},
                "w": {"warning": "this one is downloaded from Zenodo"},
            },
            "new_env_keys": ["MLC_X", "MLC_Y"],
        },
    )
    assert run(ctx, "prec,_v", x="input")["env"]["MLC_X"] == "variation"
    assert any(  # a visible choice, not a silent one
        "the input for MLC_X ('input') is overridden by the variation's MLC_X='variation'" in w
        for w in ctx.ui.warnings
    ), ctx.ui.warnings
    run(ctx, "prec,_w")
    assert "prec _w: this one is downloaded from Zenodo" in ctx.ui.warnings
    assert run(ctx, "prec,_v", env={"MLC_X": "env"})["env"]["MLC_X"] == "variation"
    assert run(ctx, "prec", x="input")["env"]["MLC_X"] == "input"
    assert run(ctx, "prec", y="input")["env"]["MLC_Y"] == "input"
    assert run(ctx, "prec", env={"MLC_Y": "env"})["env"]["MLC_Y"] == "meta-env"


NESTED = """
def preprocess(i):
    env = i['env']
    mlc = i['automation'].action_object
    r = mlc.access({'action': 'run', 'automation': 'script', 'tags': 'dep,one', 'env': env,
                    'quiet': True})
    if r['return'] > 0:
        return r
    env['GOT'] = r['new_env']['DEP_ONE_OUT'] + '/' + env.get('DEP_ONE_OUT', '')
    found = mlc.access({'action': 'search', 'automation': 'script', 'tags': 'dep,one'})
    env['FOUND'] = str(len(found['list']))
    return {'return': 0}
"""


def test_hooks_run_other_scripts_through_action_object_access(ctx, app):
    app.script("nest", {"new_env_keys": ["GOT", "FOUND"]}, {"customize.py": NESTED})
    env = run(ctx, "nest")["env"]
    # the nested run's new_env, also merged into the env dict the hook passed (as MLCFlow)
    assert env["GOT"] == "from-dep/from-dep" and env["FOUND"] == "1"


def test_a_cycle_through_deps_or_nested_runs_is_a_chain_not_a_crash(ctx, mini):
    mini.script("a", {"deps": [{"tags": "b"}]})
    mini.script("b", {"deps": [{"tags": "a"}]})
    with pytest.raises(ResolutionError, match=r"dependency cycle: a → b → a"):
        run(ctx, "a", plan=True)
    loop = "def preprocess(i):\n    return i['automation'].action_object.access({'action': 'run', 'automation': 'script', 'tags': 'x'})\n"
    mini.script("x", {}, {"customize.py": loop})
    with pytest.raises(ResolutionError, match=r"x → \(nested\) x"):
        run(ctx, "x")


def test_versions_variations_and_dep_fields_mean_what_mlcflow_means(ctx, mini):
    mini.script(
        "tool",
        {
            "tags": ["tool"],
            "new_env_keys": ["TOOL_*"],
            "variations": {
                "v0.5": {"group": "release", "env": {"TOOL_RELEASE": "0.5"}},
                "v1.0": {"group": "release", "default": True, "env": {"TOOL_RELEASE": "1.0"}},
                "lang.#": {"env": {"TOOL_LANG": "#"}},
                "fast": {"env": {"TOOL_FAST": "yes"}},
            },
            "default_version": "master",
            "versions": {
                "master": {"env": {"TOOL_BRANCH": "master"}},
                "r2.0": {"env": {"TOOL_BRANCH": "r2.0"}},
            },
        },
        {"run.sh": 'echo "TOOL_SEEN_VERSION=$MLC_VERSION" > tmp-run-env.out\n'},
    )
    mini.script(
        "user",
        {
            "variations": {"fast": {}, "slow": {}},
            "deps": [
                {
                    "tags": "tool,_lang.<<<WANT_LANG>>>",
                    "inherit_variation_tags": True,
                    "names": "the-tool",
                }
            ],
            "env": {"WANT_LANG": "c++"},
            "new_env_keys": ["TOOL_*"],
        },
    )
    env = run(ctx, "tool,_v0.5,_lang.py")["env"]
    assert (env["TOOL_RELEASE"], env["TOOL_LANG"], env["TOOL_BRANCH"]) == ("0.5", "py", "master")
    assert env["TOOL_SEEN_VERSION"] == "master"  # a named version, as MLCFlow passes it
    env = run(ctx, "user,_fast", adr={"the-tool": {"version": "r2.0"}})["env"]
    assert (env["TOOL_RELEASE"], env["TOOL_LANG"], env["TOOL_FAST"]) == ("1.0", "c++", "yes")
    assert env["TOOL_BRANCH"] == "r2.0"


def test_candidates_follow_mlcflow_order_and_builtins_step_aside(ctx, mini):
    mini.script("cc-high", {"tags": ["get", "cc"], "sort": 500})
    mini.script("cc-low", {"tags": ["get", "cc"], "sort": 100})
    mini.script("detect-os", {"tags": ["detect-os", "detect", "os"], "uid": "863735b7db8c44fc"})
    plan = run(ctx, "get,cc", plan=True)["plan_text"]
    assert plan.startswith("cc-low") and "mini:script:cc-low" in plan
    plan = run(ctx, "detect,os", plan=True)["plan_text"]
    assert "(mini:script:detect-os)" in plan  # not ckx's built-in detect-os
    plan = run(ctx, "", entry="cc-high", repo="mini", plan=True)["plan_text"]
    assert plan.startswith("cc-high")


def test_an_input_no_script_of_the_graph_reads_is_refused_with_a_suggestion(ctx, app):
    app.script(
        "reader",
        {"tags": ["reader"]},
        {
            "customize.py": "def preprocess(i):\n    x = i['input'].get('level')\n    return {'return': 0}\n"
        },
    )
    with pytest.raises(UsageError, match=r"unknown input --modle: .*did you mean 'model'"):
        run(ctx, "app,demo", modle="ssd", plan=True)
    run(ctx, "reader", level="3", plan=True)  # a hook reads it: accepted
    run(ctx, "app,demo", outdirname="out", plan=True)  # an engine flag: accepted
    # ckx's own options are in the vocabulary "did you mean" offers (issue 19 item 11)
    with pytest.raises(
        UsageError, match=r"unknown input --verion_min: .*did you mean 'version_min'\?"
    ):
        run(ctx, "app,demo", verion_min="3", plan=True)


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ("    return {'return': 1, 'error': 'boom'}\n", r"preprocess\(\) of .*failed: boom"),
        (
            "    raise ValueError('bad value')\n",
            r"preprocess\(\) of .* raised ValueError: bad value",
        ),
        ("    import no_such_module_xyz\n", r"needs the Python module 'no_such_module_xyz'"),
    ],
)
def test_a_failing_hook_names_its_file_and_hook(ctx, mini, hook, message):
    mini.script("bad", {}, {"customize.py": "def preprocess(i):\n" + hook})
    with pytest.raises(RunError, match=message) as e:
        run(ctx, "bad")
    assert "script/bad/customize.py" in e.value.message


def test_a_failing_run_script_leaves_no_cache_entry_and_keeps_its_log(ctx, mini):
    mini.script(
        "boom",
        {"cache": True},
        {"run.sh": "echo half-done > partial.txt\necho the-error\nexit 4\n"},
    )
    with pytest.raises(CkxError, match="exit code 4") as e:
        run(ctx, "boom")
    log = Path(e.value.message.split("(")[-1].split(")")[0])
    assert log.is_file() and "the-error" in log.read_text()
    cache = ctx.home / "repos" / "local" / "cache"
    assert not any((d / "partial.txt").exists() for d in cache.iterdir() if d.is_dir())


def test_plan_time_hook_check_reads_customize_without_importing_it(ctx, mini):
    # the import would fail (its deps install it), the signature is checked anyway
    mini.script(
        "later",
        {},
        {"customize.py": "import not_installed_yet\n\ndef preprocess(i, extra):\n    pass\n"},
    )
    with pytest.raises(CkxError, match="hook 'preprocess' must take exactly one argument"):
        run(ctx, "later", plan=True)


def _git_repo(path: Path) -> Path:
    import subprocess

    path.mkdir(parents=True)
    (path / "README").write_text("from the mirror\n")
    for cmd in (["init", "-q", "-b", "master", "."], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run(
            ["git", "-c", "user.email=t@t", "-c", "user.name=t", *cmd], cwd=path, check=True
        )
    return path


def test_what_scripts_fetch_comes_from_a_mirror_when_it_has_a_copy(
    ctx, mini, tmp_path, monkeypatch
):
    (mini.root / "automation").mkdir()
    (mini.root / "automation" / "utils.py").write_text(
        "from mlc.utils import *\n\ndef download_file(i):\n    raise RuntimeError('no network here')\n"
    )
    mirror = tmp_path / "mirror"
    _git_repo(mirror / "tiny")
    (mirror / "model.onnx").write_text("weights")
    mini.script(
        "fetcher",
        {"env": {"MLC_GIT_URL": "https://example.invalid/org/tiny.git"}, "new_env_keys": ["GOT_*"]},
        {
            "customize.py": "from utils import download_file\nimport os\n\ndef preprocess(i):\n"
            "    r = download_file({'url': 'https://example.invalid/files/model.onnx'})\n"
            "    i['env']['GOT_FILE'] = open(r['path']).read()\n    return {'return': 0}\n",
            "run.sh": 'git clone -q "$MLC_GIT_URL" repo && echo "GOT_CLONE=$(cat repo/README)" > tmp-run-env.out\n',
        },
    )
    monkeypatch.setenv("CKX_MIRROR", str(mirror))  # hooks' downloads read the process env,
    monkeypatch.setitem(ctx.environ, "CKX_MIRROR", str(mirror))  # scripts the call's env
    env = run(ctx, "fetcher")["env"]
    assert env == {"GOT_FILE": "weights", "GOT_CLONE": "from the mirror"}


def test_a_fetch_without_network_says_what_and_how_to_supply_it(ctx, mini, monkeypatch):
    from ckx.core.errors import DownloadError
    from tests.compat.conftest import no_network_env
    from tests.helpers.httpserver import closed_port_url

    for k, v in no_network_env(closed_port_url("/")).items():
        monkeypatch.setenv(k, v)
        monkeypatch.setitem(ctx.environ, k, v)  # scripts get the call's environment
    mini.script(
        "cloner",
        {"env": {"MLC_GIT_URL": "https://github.com/example/thing"}},
        {"run.sh": 'git clone "$MLC_GIT_URL" thing\n'},
    )
    with pytest.raises(DownloadError) as e:
        run(ctx, "cloner")
    assert "cloner needs the network" in e.value.message
    assert "git clone of https://github.com/example/thing (from MLC_GIT_URL)" in e.value.message
    assert "CKX_MIRROR=/mirror holding /mirror/thing" in (e.value.hint or "")
    assert "--env.MLC_GIT_URL=/path/to/thing" in (e.value.hint or "")


def test_ckx_content_keeps_ckx_scripts_when_an_mlcflow_twin_exists(ctx, mini, tmp_path):
    """ckx's own scripts read CKX_* names: their deps are not served by MLCFlow's twins."""
    from ckx.core.repos import Repo
    from tests.conftest import write_entry

    mini.script("detect-os", {"tags": ["detect-os", "detect", "os"], "uid": "863735b7db8c44fc"})
    own = tmp_path / "own"
    (own / "script").mkdir(parents=True)
    (own / "repo.yaml").write_text("alias: own\nuid: 00000000000000aa\n")
    write_entry(
        own / "script", "uses-os", "00000000000000ab", ["uses-os"], deps=[{"tags": "detect,os"}]
    )
    ctx.registry.add(Repo(alias="own", uid="00000000000000aa", path=own))
    plan = run(ctx, "uses-os", plan=True)["plan_text"]
    assert "(builtin:script:detect-os)" in plan and "mini:script:detect-os" not in plan
    assert "(mini:script:detect-os)" in run(ctx, "detect,os", plan=True)["plan_text"]
