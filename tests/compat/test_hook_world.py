"""What MLCFlow hooks see of the world: imports, os_info, mlc.utils, env and dep rules.

Small, fast tests of ckx/compat's pieces on hand-made content (the snapshot tests are in
test_snapshot.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ckx.compat import deps, envrules, runscript
from ckx.compat.hookreads import reads_of
from ckx.compat.imports import HookImports
from ckx.engine.osinfo import os_info


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "automation").mkdir(parents=True)
    (root / "meta.yaml").write_text("alias: t@repo\nuid: 1234567890abcdef\n")
    (root / "automation" / "utils.py").write_text(
        "from mlc.utils import *\n\ndef is_true(v):\n    return str(v).lower() in ['yes', 'on']\n"
        "\ndef where():\n    return os.getcwd()\n"  # os comes from mlc.utils' star export
    )
    script = root / "script" / "a"
    script.mkdir(parents=True)
    (script / "helper_for_a.py").write_text("VALUE = 42\n")
    return root


def test_hooks_import_mlc_utils_and_script_neighbours_only_while_they_run(tmp_path):
    root = _repo(tmp_path)
    imports = HookImports()
    extra = tmp_path / "added_by_a_hook"
    extra.mkdir()
    (extra / "checker_mod_x.py").write_text("OK = 'yes'\n")
    path_before, had_utils = list(sys.path), "utils" in sys.modules
    with imports.active(root, root / "script" / "a"):
        import helper_for_a  # noqa: F401 - a file next to the script
        import mlc
        from mlc import utils as mlc_utils
        from utils import is_true, where

        assert mlc.__version__ == "1.3.8" and mlc_utils.load_txt
        assert is_true("on") and where()
        sys.path.append(str(extra))  # as get-mlperf-inference-utils' hook does
    assert sys.path == path_before and ("utils" in sys.modules) == had_utils
    assert "mlc" not in sys.modules or "ckx" not in str(sys.modules["mlc"])
    with pytest.raises(ImportError):
        import checker_mod_x  # noqa: F401 - not outside a hook
    with imports.active(root, root / "script" / "a"):
        import checker_mod_x  # noqa: F401,F811 - a later hook of the same run sees it

        assert checker_mod_x.OK == "yes"
    assert "checker_mod_x" not in sys.modules


def test_a_repository_without_automation_utils_gets_ckx_fallback(tmp_path):
    root = tmp_path / "r"
    (root / "script" / "b").mkdir(parents=True)
    with HookImports().active(root, root / "script" / "b"):
        from utils import compare_versions, is_true

        assert is_true("yes") and not is_true("no")
        # MLCFlow's dotted comparison: 'master' reads as 0, 9 == 9.1 with minor_skip_okay
        assert compare_versions({"version1": "master", "version2": "1.0"})["comparison"] == -1
        r = compare_versions({"version1": "9.1", "version2": "9", "version_minor_skip_okay": True})
        assert r["comparison"] == 0


def test_os_info_has_mlcflow_keys():
    info = os_info()
    want = {
        "platform",
        "bat_ext",
        "set_env",
        "env_separator",
        "env_quote",
        "env_var",
        "bat_rem",
        "run_local_bat",
        "run_local_bat_from_python",
        "run_bat",
        "start_script",
        "env",
        "bits",
        "python_bits",
    }
    assert want <= set(info)
    assert info["env"]["MLC_HOST_OS_TYPE"] == info["platform"]
    info["env"]["X"] = "1"
    assert "X" not in os_info()["env"]  # each caller gets its own copy


def test_mlc_utils_results_are_mlcflow_dicts(tmp_path, monkeypatch):
    from ckx.compat.mlc import utils

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp-ver.out").write_text("cmake version 3.25.1\n")
    r = utils.load_txt("tmp-ver.out", check_if_exists=True, match_text=r"version\s*([\d.]+)")
    assert r["return"] == 0 and r["match"].group(1) == "3.25.1"
    assert utils.load_txt("nope", check_if_exists=True)["return"] == 1
    d = {"a": [1], "b": {"x": 1}}
    utils.merge_dicts(
        {
            "dict1": d,
            "dict2": {"a": [1, 2], "b": {"y": 2}},
            "append_lists": True,
            "append_unique": True,
        }
    )
    assert d == {"a": [1, 2], "b": {"x": 1, "y": 2}}
    assert utils.convert_env_to_dict("A=1\n B = x=y \nnoise")["dict"] == {"A": "1", "B": "x=y"}
    args = utils.convert_args_to_dictionary(["--adr.python.version_min=3.8", "--quiet", "--l,=a,b"])
    assert args["args_dict"] == {
        "adr": {"python": {"version_min": "3.8"}},
        "quiet": True,
        "l": ["a", "b"],
    }


@pytest.mark.parametrize(
    ("cond", "env", "holds"),
    [
        ({"X": ["yes"]}, {"X": "/data/set"}, True),  # any set, not-false value meets 'yes'
        ({"X": ["yes"]}, {"X": "off"}, False),
        ({"X": ["yes"]}, {"X": "<<<Y>>>"}, False),  # an unresolved placeholder is unset
        ({"X": ["no"]}, {}, True),
        ({"X": ["no"]}, {"X": ""}, True),
        ({"X": ["cuda", "rocm"]}, {"X": "CUDA"}, True),
        ({"X": "cpu"}, {"X": "cuda"}, False),
    ],
)
def test_conditions_follow_mlcflow(cond, env, holds):
    assert envrules.condition_holds(cond, env) is holds


def test_env_placeholders_export_and_script_lines():
    env = {"A": "x", "B": "<<<A>>>/y", "WHERE": "MLC_OUT", "MLC_OUT": "/o", "+PATH": ["/p"]}
    envrules.substitute(env)
    assert env["B"] == "x/y"
    assert envrules.export_env(env, ["<<<WHERE>>>", "B*"]) == {"MLC_OUT": "/o", "B": "x/y"}
    lines = envrules.script_lines({"+PATH": ["/a", "/b"], "Q": 'say "hi"'}, os_info())
    if os_info()["platform"] != "windows":
        assert lines == ['export PATH="/a:/b:${PATH}"', 'export Q="say \\"hi\\""']
    flags = envrules.input_flags_env({"path": "/usr/bin", "outdirname": "out", "name": "x"})
    assert flags["MLC_TMP_PATH"] == "/usr/bin" and flags["MLC_NAME"] == "x"
    assert Path(flags["MLC_OUTDIRNAME"]).is_absolute()


def test_run_script_variants_by_os(tmp_path):
    for f in ("run.sh", "run-ubuntu.sh", "run-ubuntu-22.04.sh", "run-linux.sh", "install.sh"):
        (tmp_path / f).write_text("")
    info = {**os_info(), "bat_ext": ".sh"}
    env = {
        "MLC_HOST_OS_FLAVOR": "ubuntu",
        "MLC_HOST_OS_VERSION": "22.04",
        "MLC_HOST_OS_TYPE": "linux",
    }
    assert runscript.choose_script(tmp_path, env, info).name == "run-ubuntu-22.04.sh"
    env["MLC_HOST_OS_VERSION"] = "24.04"
    assert runscript.choose_script(tmp_path, env, info).name == "run-ubuntu.sh"
    env["MLC_HOST_OS_FLAVOR"] = "debian"
    # MLCFlow's quirk, kept: an empty FLAVOR_LIKE makes 'run.sh' a candidate before run-linux
    assert runscript.choose_script(tmp_path, env, info).name == "run.sh"
    env["MLC_HOST_OS_FLAVOR_LIKE"] = "rhel"
    assert runscript.choose_script(tmp_path, env, info).name == "run-linux.sh"
    assert runscript.choose_script(tmp_path, {}, info).name == "run.sh"
    assert runscript.choose_script(tmp_path, env, info, "install").name == "install.sh"


def test_dep_fields_mean_what_they_mean_in_mlcflow():
    variations = {
        "shared": {"group": "link"},
        "static": {"group": "link"},
        "lto": {},
        "cuda": {"group": "device"},
    }
    dep = {
        "tags": "install,python,src,-_lto,_v<<<MLC_V>>>",
        "inherit_variation_tags": True,
        "skip_inherit_variation_groups": ["device"],
        "update_tags_if_env": {"_debug": {"MLC_DEBUG": ["yes"]}},
        "reuse_version": True,
        "names": "python-install",
    }
    out = deps.plan_dep(
        dep,
        variations=("cuda", "lto", "shared"),
        variation_meta=variations,
        env={"MLC_V": "3", "MLC_DEBUG": "on"},
        version="3.11.7",
        constraints={"version_min": "3.8"},
    )
    assert out["tags"] == "install,python,src,-_lto,_v3,_debug,_shared"
    assert out["version"] == "3.11.7" and out["version_min"] == "3.8"
    assert out["names"] == ["python-install"]


def test_deps_get_the_env_without_local_keys_unless_forced():
    env = {
        "MLC_GIT_URL": "u",
        "MLC_VERSION": "1",
        "MLC_OUTDIRNAME": "/o",
        "KEEP": "k",
        "P": "<<<X>>>",
    }
    assert deps.dep_env(env, {}) == {"KEEP": "k"}
    forced = deps.dep_env(
        env, {"force_env_keys": ["MLC_GIT_*", "MLC_OUTDIRNAME"], "reuse_version": True}
    )
    assert forced == {"KEEP": "k", "MLC_GIT_URL": "u", "MLC_OUTDIRNAME": "/o", "MLC_VERSION": "1"}


def test_update_deps_merges_by_name():
    declared = [{"tags": "get,git,repo", "names": ["repo"], "env": {"A": "1"}}, {"tags": "x"}]
    deps.update_deps(declared, {"repo": {"tags": "_branch.dev,<<<NOPE>>>", "env": {"B": "2"}}}, {})
    assert declared[0] == {
        "tags": "get,git,repo,_branch.dev",
        "names": ["repo"],
        "env": {"A": "1", "B": "2"},
    }
    assert declared[1] == {"tags": "x"}


def test_hooks_inputs_are_found_by_reading_customize(tmp_path):
    f = tmp_path / "customize.py"
    f.write_text(
        "def preprocess(i):\n"
        "    inp = i['input']\n"
        "    a = inp.get('alpha')\n"
        "    b = i['input']['beta']\n"
        "    if 'gamma' in inp:\n"
        "        pass\n"
        "    for k in inp:\n"
        "        if k.startswith('docker_'):\n"
        "            pass\n"
        "    return {'return': 0}\n"
    )
    r = reads_of(f)
    assert r.keys == {"alpha", "beta", "gamma"} and r.prefixes == ("docker_",)
    assert r.reads("docker_os") and not r.reads("delta")
