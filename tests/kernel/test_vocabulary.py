"""One request vocabulary (ckx/core/vocabulary.py): the lists of request keys other modules
read are views of its table, each key has one row with known roles and a type."""

from __future__ import annotations

import ast
from pathlib import Path

from ckx.core import vocabulary as v

ROOT = Path(__file__).resolve().parents[2]


def test_the_lists_of_request_keys_are_views_of_the_one_table():
    from ckx.compat import access, envrules
    from ckx.compat import hookreads as inputs
    from ckx.engine import inputcheck as engine_inputs
    from ckx.engine import planner
    from ckx.experiments import records

    assert planner.RESERVED is v.RESERVED and engine_inputs.KERNEL_OPTIONS is v.ACCEPTED
    # read by ckx and handed to the script too (MLCFlow's get-dataset-coco takes --home)
    assert v.ACCEPTED - v.RESERVED == {"outdirname", "home"}
    assert engine_inputs.DETECT_OPTIONS is v.DETECT_OPTIONS
    assert inputs.ENGINE_INPUTS >= v.MLCFLOW_INPUTS
    assert access.ENGINE_KEYS is v.MLCFLOW_REQUEST
    assert set(access._CKX_OPTIONS) == v.MLCFLOW_OPTIONS
    assert records.BENCH_ONLY is v.BENCH_ONLY and records.BENCH_KEYS is v.BENCH_KEYS
    # MLCFlow's flags (what envrules turns into MLC_* env) are rows of the table
    assert set(envrules.FLAGS) | set(envrules.TMP_FLAGS) <= v.MLCFLOW_INPUTS


def test_each_key_has_one_row_known_roles_and_a_known_type():
    names = [k.name for k in v.KEYS]
    assert len(names) == len(set(names)), "a key declared twice"
    for k in v.KEYS:
        assert k.roles and k.roles <= set(v.ROLES), k
        assert k.type in v.TYPES, k
    # what ckx fills itself is never offered as a "did you mean"
    assert not v.SUGGESTED & v.with_role("address", "plumbing")
    assert {"version_min", "env", "adr", "quiet", "cmd_key"} <= v.SUGGESTED
    # the CLI's own options stay with the CLI; the rest of the options of every command
    assert v.CLI_ONLY == {"json", "debug"}
    # a benchmark option is never handed to the program, and is no configuration of a point
    assert v.BENCH_ONLY <= v.BENCH_KEYS and not v.BENCH_ONLY & v.ACCEPTED - {
        "tags",
        "help",
        "force",
    }
    assert {"version_min", "adr"} & v.BENCH_KEYS == set()  # they change what is measured


def test_the_engine_inputs_module_does_not_import_the_planner():
    """The knot dialects → inputcheck → planner → model → dialects is gone: the keys come from
    core."""
    tree = ast.parse((ROOT / "ckx" / "engine" / "inputcheck.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not {m for m in imported if m.startswith("ckx.engine")}, imported


# -- one check of every request field's type, at the door ---------------------------------------


def test_a_field_of_the_wrong_type_is_a_usage_error_naming_the_field():
    """Issue 20 item 10: these were 'internal error' answers (TypeError, ValueError,
    AttributeError deep in the planner); each is now refused before anything runs."""
    import ckx

    cases = [
        ({"action": "run", "tags": True}, "'tags'"),
        (
            {"action": "benchmark", "entry": "od-bench", "cmd_key": "accuracy-offline", "adr": "x"},
            "'adr'",
        ),
        ({"action": "install", "tags": "lib,python-package,numpy", "adr": {"k": "v"}}, "'adr.k'"),
        (
            {"action": "run", "tags": "get,python3", "adr": {"python": {"tags": True}}},
            "'adr.python.tags'",
        ),
        ({"action": "run", "tags": "get,python3", "env": {"A": {"b": 1}}}, "'env.A'"),
        ({"action": "run", "tags": "get,python3", "env": {1: "x"}}, "'env'"),
        (
            {"action": "run", "entry": "od-bench", "automation": "program", "cmd_key": 5},
            "'cmd_key'",
        ),
        ({"action": "run", "tags": "get,python3", "lock": True}, "'lock'"),
        ({"action": "run", "tags": "get,python3", "version_min": 3.10}, "quote a number"),
        ({"action": "benchmark", "entry": "od-bench", "repetitions": [3]}, "'repetitions'"),
        ({"action": "add", "automation": "script", "entry": "s", "template": {}}, "'template'"),
        ({"action": "ls", "automation": "script", "args": "a"}, "'args'"),
        ({"action": "ls", 1: 2}, "request keys are names"),
    ]
    for req, names in cases:
        out = ckx.access({**req, "plan": True, "quiet": True})
        assert out["return"] == 2, (req, out)
        assert names in out["error"] and not out["error"].startswith("internal"), (req, out)


def test_the_cli_and_the_api_check_through_the_same_door(cli):
    r = cli("ls", "script", "--repo=../../etc")
    assert r.code == 2 and "repo=../../etc: not a repo name" in r.err
    r = cli("run", "get,python3", "--lock", "--plan")
    assert r.code == 2 and "request field 'lock' must be a path" in r.err, r


# -- did you mean: from the vocabulary of the action ---------------------------------------------


def test_did_you_mean_offers_the_option_of_the_action_that_was_meant():
    """Issue 19 item 11: --recrod suggested 'repo', --repetition nothing useful, --verion_min
    three versions."""
    import ckx

    bench = {"action": "benchmark", "automation": "program", "entry": "od-bench"}
    bench.update(cmd_key="accuracy-offline", plan=True, quiet=True)
    out = ckx.access({**bench, "recrod": True})
    assert out["return"] == 2 and out["error"].endswith("did you mean 'record'?"), out
    out = ckx.access({**bench, "repetition": "3"})
    assert out["return"] == 2 and out["error"].endswith("did you mean 'repetitions'?"), out
    out = ckx.access({"action": "run", "query": "get,python3", "verion_min": "3", "plan": True})
    assert out["return"] == 2 and out["error"].endswith("did you mean 'version_min'?"), out
    run = {"action": "run", "automation": "program", "entry": "od-bench"}
    out = ckx.access({**run, "cmd_key": "accuracy-offline", "record": True, "plan": True})
    assert out["return"] == 2 and "--record is an option of ckx benchmark" in out["error"], out


# -- MLCFlow's one-letter flags -------------------------------------------------------------------


def test_mlcflow_short_flags_mean_what_they_mean_there_or_are_refused():
    """Issue 19 item 6: -j was taken as an extra word and ignored; -j is --json, -f --force
    (MLCFlow's rm), -h --help; -v and -s are refused with what to write instead."""
    import pytest

    from ckx.app.cli import parse_argv
    from ckx.core.errors import UsageError

    assert parse_argv(["run", "get,python3", "-j"]) == {
        "action": "run",
        "query": "get,python3",
        "json": True,
    }
    assert parse_argv(["run", "-j", "get,python3"])["json"] is True
    assert parse_argv(["rm", "cache", "--tags=x", "-f"])["force"] is True
    assert parse_argv(["run", "-h"]) == {"action": "run", "help": True}
    assert parse_argv(["run", "-cuda,x"])["query"] == "-cuda,x"  # a tag query still
    for flag, says in (("-v", "--debug"), ("-s", "--quiet"), ("-x", "--key=value"), ("-jf", "-j")):
        with pytest.raises(UsageError) as e:
            parse_argv(["run", "get,python3", flag])
        assert says in f"{e.value.message} {e.value.hint}", (flag, e.value.message, e.value.hint)


def test_minus_j_prints_the_result_as_json_and_minus_f_removes_without_asking(cli):
    import json

    out = json.loads(cli("ls", "repo", "-j").out)
    assert out["return"] == 0 and "repos" in json.dumps(out)
    assert cli("add", "script:my-x").code == 0
    r = cli("rm", "script:my-x")  # stdin is not a terminal: refused without confirmation
    assert r.code == 2 and "--force" in r.err
    r = cli("rm", "script:my-x", "-f")
    assert r.code == 0 and "removed" in r.out, r
