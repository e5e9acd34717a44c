"""The plan is immutable while it runs; what is learnt while running goes through one revise
step that is reported; versions settle without planning the whole tree again."""

from __future__ import annotations

import pytest

from ckx.engine import make_plan, make_planner, run_request
from ckx.engine.planner import Planner
from ckx.engine.runner import Runner

from .conftest import write_script
from .memory import MemoryProvider, TraceReporter


def _deferred_variation(script_repo):
    """app: probe says which variation of lib is wanted; lib's dep is decided when reached."""
    write_script(
        script_repo,
        "app",
        {
            "deps": [{"tags": "probe"}, {"tags": "lib", "update_tags_from_env": ["WANT"]}],
            "new_env_keys": ["WANT"],
        },
    )
    write_script(
        script_repo,
        "probe",
        {"new_env_keys": ["WANT"]},
        {"run.sh": 'echo "WANT=_v2" >> "$CKX_OUTPUT_ENV_FILE"\n'},
    )
    write_script(
        script_repo,
        "lib",
        {
            "variations": {
                "v1": {"group": "v", "default": True, "env": {"LIB": "one"}},
                "v2": {"group": "v", "env": {"LIB": "two"}},
            },
            "new_env_keys": ["LIB"],
        },
    )


def test_the_runner_never_writes_into_the_plan_and_reports_its_revision(ectx, script_repo):
    _deferred_variation(script_repo)
    request = {"query": "app"}
    planner, provider = make_planner(ectx, request)
    plan = make_plan(ectx, request, planner)
    before = plan.to_dict()
    assert "(decided when reached) lib _v1  [run]" in plan.render()
    with pytest.raises(AttributeError, match="part of a plan and cannot change"):
        plan.root.cached = None  # type: ignore[misc]
    runner = Runner(ectx, planner, provider)
    result = runner.run(plan)
    assert result.env == {"WANT": "_v2"}
    assert plan.to_dict() == before, "the runner changed the plan"
    ran = runner.ran_plan()
    assert "lib _v2  [run]" in ran.render()
    assert "revised: app → lib(_v2): deps[1] decided when reached: its tags are 'lib,_v2' now" in (
        ran.render()
    )


def test_revisions_are_in_the_result_and_the_log(ectx, script_repo):
    _deferred_variation(script_repo)
    write_script(
        script_repo,
        "top",
        {
            "deps": [{"tags": "app"}, {"tags": "lib", "update_tags_from_env": ["WANT"]}],
            "new_env_keys": ["LIB"],
        },
    )
    out = run_request(ectx, {"query": "top", "want_lock": True})
    assert out["env"] == {"LIB": "two"}
    assert any("decided when reached" in r for r in out["revisions"])
    assert [n["variations"] for n in out["lock"]["nodes"] if n["alias"] == "lib"] == [
        ["v2"],
        ["v2"],
    ]


def test_cache_key_env_from_a_dep_revises_the_node_and_keys_its_cache(ectx, script_repo, tmp_path):
    log = tmp_path / "log"
    write_script(
        script_repo,
        "app",
        {"deps": [{"tags": "gen"}, {"tags": "cons"}], "new_env_keys": ["OUT"]},
    )
    write_script(
        script_repo,
        "gen",
        {"new_env_keys": ["DATA"]},
        {"run.sh": 'echo "DATA=$INPUT" >> "$CKX_OUTPUT_ENV_FILE"\n'},
    )
    write_script(
        script_repo,
        "cons",
        {"cache": True, "cache_key_env": ["DATA"], "new_env_keys": ["OUT"]},
        {"run.sh": f'echo "cons $DATA" >> "{log}"\necho "OUT=$DATA" >> "$CKX_OUTPUT_ENV_FILE"\n'},
    )
    runs = [run_request(ectx, {"query": "app", "env": {"INPUT": v}}) for v in ("a", "a", "b")]
    assert [r["env"]["OUT"] for r in runs] == ["a", "a", "b"]
    assert log.read_text().splitlines() == ["cons a", "cons b"]
    assert all("cache_key_env" in r["revisions"][0] for r in runs)


def test_a_cached_dep_s_exports_key_the_deps_after_it_at_plan_time(ectx, script_repo, tmp_path):
    """get-python3 then get-generic-python-lib: once both are cached, --plan says so and the
    run revises nothing (the key of the second reads what the first exports)."""
    log = tmp_path / "log"
    write_script(script_repo, "app", {"deps": [{"tags": "gen"}, {"tags": "cons"}]})
    write_script(
        script_repo,
        "gen",
        {"cache": True, "new_env_keys": ["DATA"]},
        {"run.sh": f'echo gen >> "{log}"\necho "DATA=$INPUT" >> "$CKX_OUTPUT_ENV_FILE"\n'},
    )
    write_script(
        script_repo,
        "cons",
        {"cache": True, "cache_key_env": ["DATA"], "new_env_keys": ["OUT"]},
        {"run.sh": f'echo "cons $DATA" >> "{log}"\necho "OUT=$DATA" >> "$CKX_OUTPUT_ENV_FILE"\n'},
    )
    first = run_request(ectx, {"query": "app", "env": {"INPUT": "a"}})
    assert any("cache_key_env" in r for r in first["revisions"])  # gen ran: learnt by running
    request = {"query": "app", "env": {"INPUT": "a"}}
    plan = make_plan(ectx, request, make_planner(ectx, request)[0])
    assert [(n.entry.alias, n.status) for n in plan.nodes] == [
        ("app", "run"),
        ("gen", "cached"),
        ("cons", "cached"),
    ]
    again = run_request(ectx, dict(request))
    assert not again.get("revisions"), again["revisions"]
    assert log.read_text().splitlines() == ["gen", "cons a"]


def test_a_late_version_constraint_replans_only_the_subtree_that_missed_it():
    entries = {
        "app": {"deps": [{"tags": "lib"}, {"tags": "python", "version_max": "3.11"}]},
        "lib": {"deps": [{"tags": "python"}]},
        "python": {
            "versions": {"3.10": {}, "3.11": {}, "3.12": {}},
            "deps": [{"tags": "leaf"}],
        },
        "leaf": {},
    }
    reporter = TraceReporter()
    plan = Planner(MemoryProvider(entries), reporter, chooser=reporter).plan("app")
    assert [(n.entry.alias, n.version) for n in plan.nodes] == [
        ("app", None),
        ("lib", None),
        ("python", "3.11"),
        ("leaf", None),
        ("python", "3.11"),
        ("leaf", None),
    ]
    assert [n.id for n in plan.nodes] == [1, 2, 3, 4, 5, 6]
    planned = [t.split(" [")[0] for t in reporter.trace if t.startswith("planned")]
    # python under lib was planned at 3.12 before app's version_max was seen: only that
    # subtree (python and its leaf) is planned again, app and lib are not
    assert planned.count("planned app") == 1, reporter.trace
    assert planned.count("planned app → lib") == 1, reporter.trace
    assert planned.count("planned app → lib → python") == 2, reporter.trace
    assert planned.count("planned app → lib → python → leaf") == 2, reporter.trace


def test_same_constraints_from_several_places_copy_nodes_instead_of_replanning():
    entries = {
        "app": {"deps": [{"tags": "lib"}, {"tags": "python", "version_min": "3.0"}]},
        "lib": {"deps": [{"tags": "python", "version_min": "3.0"}]},
        "python": {"deps": [{"tags": "leaf"}]},
        "leaf": {},
    }
    reporter = TraceReporter()
    plan = Planner(MemoryProvider(entries), reporter, chooser=reporter).plan("app")
    pythons = [n for n in plan.nodes if n.entry.alias == "python"]
    assert [len(n.constraints) for n in pythons] == [2, 2]
    assert sum(t.startswith("planned") for t in reporter.trace) == 6, reporter.trace  # 6 nodes
