"""Broken entries: one clear message (file, field, problem), skipped, everything else works."""

import pytest

from ckx.core.repos import Repo
from tests.conftest import write_entry


@pytest.fixture
def repo(ctx, tmp_path):
    root = tmp_path / "r"
    (root / "script").mkdir(parents=True)
    ctx.registry.add(Repo(alias="r", uid="00000000000000aa", path=root))
    write_entry(root / "script", "good", "000000000000000a", ["x"])
    return root


def test_malformed_yaml_is_skipped_with_a_located_warning(ctx, repo):
    bad = repo / "script" / "broken"
    bad.mkdir()
    (bad / "meta.yaml").write_text("alias: broken\ntags: [x\nuid: 0000000000000001\n")
    found = ctx.search("script", "x")
    assert [e.alias for e in found] == ["good"]
    warnings = [w for w in ctx.ui.warnings if "broken" in w]
    assert (
        warnings and "invalid YAML at line" in warnings[0] and str(bad / "meta.yaml") in warnings[0]
    )


def test_schema_violation_names_file_field_and_problem(ctx, repo):
    write_entry(repo / "script", "badtags", "000000000000000b", ["ok", "has space"])
    write_entry(repo / "script", "baduid", "XYZ", ["x"])
    ctx.search("script", "x")
    msgs = [p.message for p in ctx.index.problems()]
    tagmsg = next(m for m in msgs if "badtags" in m)
    assert "field 'tags[1]'" in tagmsg and "'has space' does not match" in tagmsg
    uidmsg = next(m for m in msgs if "baduid" in m)
    assert "field 'uid'" in uidmsg


def test_loading_an_invalid_entry_by_name_explains_why(ctx, repo):
    write_entry(repo / "script", "baduid", "XYZ", ["x"])
    from ckx.core.errors import NotFoundError

    with pytest.raises(NotFoundError, match="exists but is invalid: .*field 'uid'"):
        ctx.load("script", "baduid")


def test_fixing_the_file_brings_the_entry_back(ctx, repo):
    d = write_entry(repo / "script", "fixme", "000000000000000c", ["x"], automation="script")
    (d / "meta.yaml").write_text("alias: fixme\nuid: 000000000000000c\ntags: [x\n")
    assert [e.alias for e in ctx.search("script", "x")] == ["good"]
    ctx.index.invalidate()
    (d / "meta.yaml").write_text("alias: fixme\nuid: 000000000000000c\ntags: [x]\n")
    assert [e.alias for e in ctx.search("script", "x")] == ["fixme", "good"]
    assert ctx.index.problems() == []


def test_lint_reports_every_problem_and_duplicates_with_both_paths(cli, tmp_path):
    root = tmp_path / "r2"
    write_entry(root / "script", "one", "00000000000000d1", ["x"])
    write_entry(root / "script", "two", "00000000000000d1", ["x"])  # same uid
    write_entry(
        root / "script", "three", "00000000000000d3", ["x"], automation="package"
    )  # wrong folder
    (root / "script" / "four").mkdir()
    (root / "script" / "four" / "meta.json").write_text("{not json")
    assert cli("add", "repo:r2", f"--path={root}").code == 0
    r = cli("lint")
    assert r.code == 4, r
    assert "duplicate uid 00000000000000d1" in r.out
    assert (
        str(root / "script" / "one" / "meta.yaml") in r.out
        and str(root / "script" / "two" / "meta.yaml") in r.out
    )
    assert "field 'automation_alias': is 'package' but the entry is in the 'script' folder" in r.out
    assert "invalid JSON at line 1" in r.out
    clean = cli("lint", "automation")
    assert clean.code == 0, clean


def test_unknown_names_get_suggestions(cli):
    r = cli("load", "automation:rpeo")
    assert r.code == 3 and "did you mean 'repo'" in r.err
    r = cli("ls", "automaton")
    assert r.code == 3 and "unknown automation 'automaton'; did you mean 'automation'" in r.err
    r = cli("serch", "repo")
    assert r.code == 3 and "did you mean 'search'" in r.err
    r = cli("pul", "repo")
    assert r.code == 3 and "has no action 'pul'; did you mean 'pull'" in r.err


@pytest.mark.parametrize(
    "meta",
    [
        {"alias": "a b", "uid": "XYZ", "tags": ["ok", "has space", 3]},
        {"tags": "a"},
        {"alias": 1, "uid": "0123456789abcdef", "tags": []},
        {"alias": "ok", "uid": "0123456789abcdeF", "tags": ["-x", "y z"]},
        {
            "alias": "ok",
            "uid": "0123456789abcdef",
            "tags": ["x"],
            "name": 3,
            "automation_alias": [],
        },
    ],
)
def test_fast_base_checks_say_exactly_what_jsonschema_says(meta):
    from ckx.core.schema import BASE_SCHEMA, base_problems, iter_problems

    assert sorted(base_problems(meta, "f")) == sorted(iter_problems(meta, "f", BASE_SCHEMA))


def test_a_tag_with_a_trailing_newline_is_refused():
    # Python's `$` matches before a final newline (jsonschema inherits that); ckx does not
    from ckx.core.schema import base_problems

    assert base_problems({"alias": "a", "uid": "0123456789abcdef", "tags": ["y\n"]}, "f")


def test_fast_and_full_validators_agree_on_script_metas(ctx):
    """The index checks with fastjsonschema and reports with jsonschema: they must agree."""
    import copy

    from ckx.core.schema import entry_schema, is_valid, iter_problems

    schema = entry_schema("script", ctx.registry)
    good = ctx.load("script", "get-python3").meta
    bads = []
    for field, value in [
        ("deps", [{"tags": 3}]),
        ("cache", "maybe-not-a-bool-or-str"),
        ("variations", []),
        ("new_env_keys", "CKX_X"),
        ("input_mapping", {"a": ["x"]}),
    ]:
        m = copy.deepcopy(good)
        m[field] = value
        bads.append(m)
    assert is_valid(good, schema) and not iter_problems(good, "f", schema)
    for m in bads:
        assert is_valid(m, schema) == (not iter_problems(m, "f", schema))
