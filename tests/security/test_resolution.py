"""Findings 2, 3 and 4: a uid is no identity to steal, a replay never runs a recorded path,
and built-in entries are read-only for every generic action."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from .conftest import GET_PYTHON3_UID, access, experiment_meta, make_zip

ROOT = Path(__file__).resolve().parents[2]


def _user_repo(tmp_path: Path, scripts: dict[str, tuple[str, list[str], str]]) -> Path:
    """A registered repo ``mine`` with scripts alias -> (uid, tags, run.sh body)."""
    repo = tmp_path / "mine"
    (repo / "script").mkdir(parents=True)
    (repo / "repo.yaml").write_text("alias: mine\nuid: '00000000000000c1'\n")
    for alias, (uid, tags, body) in scripts.items():
        d = repo / "script" / alias
        d.mkdir()
        (d / "meta.yaml").write_text(
            f"alias: {alias}\nuid: '{uid}'\nautomation_alias: script\ntags: {json.dumps(tags)}\n"
            "cache: true\nnew_env_keys: [CKX_PYTHON_*, +PATH]\n"
            # get-python3's own key fields, so that only the provider tells the keys apart
            "default_to_current_python: CKX_PYTHON_BIN_WITH_PATH\n"
            "cache_key_env: [CKX_PYTHON_BIN_WITH_PATH]\n"
        )
        (d / "run.sh").write_text("#!/bin/sh\n" + body)
        (d / "run.sh").chmod(0o755)
    assert access(action="add", automation="repo", entry="mine", path=str(repo))["return"] == 0
    return repo


def test_a_script_reusing_a_builtin_uid_never_shares_its_cache(tmp_path, ckx_home):
    marker = tmp_path / "pwned"
    body = (
        f'touch {marker}\necho "CKX_PYTHON_BIN_WITH_PATH=/tmp/evil/python3" >> '
        '"$CKX_OUTPUT_ENV_FILE"\n'
    )
    _user_repo(tmp_path, {"lookalike": (GET_PYTHON3_UID, ["lookalike"], body)})
    mine = access(action="run", automation="script", query="lookalike")
    assert mine["return"] == 0 and marker.exists(), mine  # the user's own script may run ...
    marker.unlink()
    real = access(action="run", automation="script", query="get,python3")
    assert real["return"] == 0, real  # ... but its result is not get-python3's
    assert real["status"] != "cached" and "/tmp/evil" not in json.dumps(real["env"])
    assert not marker.exists()


def test_a_uid_clash_among_candidates_is_an_error_naming_both(tmp_path, ckx_home, cli):
    marker = tmp_path / "pwned"
    repo = _user_repo(
        tmp_path,
        {"get-python3": (GET_PYTHON3_UID, ["get", "python3"], f"touch {marker}\n")},
    )
    r = cli("run", "get,python3", "--quiet")
    assert r.code == 5, r  # ResolutionError
    assert f"uid {GET_PYTHON3_UID} is claimed by two entries" in r.err
    assert str(ROOT / "scripts" / "get-python3") in r.err and str(repo) in r.err
    assert not marker.exists()
    lint = cli("lint")
    assert lint.code == 4 and "duplicate uid" in lint.out  # listing still works, to fix it
    assert cli("rm", "mine:script:get-python3", "--force").code == 0
    assert cli("run", "get,python3", "--quiet").code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("mv", "script:*", "script:*"),
        ("mv", "script:get-python3", "local:script:gp3"),
        ("ren", "script:get-python3", "gp3"),
        ("ren", "script:detect-os", "*"),
        ("rm", "script:get-python3", "--force"),
        ("update", "script:get-python3", "--meta.name=x"),
        ("add", "builtin:script:new-one"),
        ("cp", "script:get-python3", "builtin:script:gp3"),
    ],
)
def test_builtin_entries_are_read_only(cli, args):
    before = _builtin_state()
    r = cli(*args)
    assert r.code == 2, r
    assert "read-only" in r.err or "pattern" in r.err or "not a valid entry name" in r.err, r
    assert "Traceback" not in r.err
    assert _builtin_state() == before


def test_target_names_are_names_not_patterns(cli, tmp_path):
    assert cli("add", "script:mine", "--tags=mine").code == 0
    for bad in ("*", "a?b", "x[1]", "../up", "a/b"):
        r = cli("ren", "script:mine", bad)
        assert r.code == 2 and "not a valid entry name" in r.err, (bad, r)
    r = cli("cp", "script:mine", "local:script:*")
    assert r.code == 2 and "not a valid entry name" in r.err
    r = cli("cp", "script:get-python3", "local:script:my-python3")  # copying out is fine
    assert r.code == 0, r


def _builtin_state() -> list[tuple[str, int]]:
    return sorted(
        (p.relative_to(ROOT).as_posix(), p.stat().st_mtime_ns)
        for folder in ("scripts", "packages", "programs", "automation")
        for p in (ROOT / folder).rglob("*")
        if "__pycache__" not in p.parts
    )


def test_replay_of_an_imported_experiment_never_runs_a_recorded_path(
    tmp_path, ckx_home, synth, cli
):
    """The recorded env points at a program shipped inside the archive's experiment."""
    rec = access(
        action="benchmark", automation="program", entry="synth", cmd_key="fast",
        record=True, record_uoa="mine", repetitions=1,
    )  # fmt: skip
    assert rec["return"] == 0, rec
    exp = ckx_home / "repos" / "local" / "experiment" / "mine"
    point_dir = next((exp / "points").iterdir())
    point = json.loads((point_dir / "point.json").read_text())
    marker = tmp_path / "pwned"
    # what an attacker ships: the same point, its env naming a program inside the experiment
    shipped = f"experiment/evil/points/{point_dir.name}/files/python3"
    where = ckx_home / "repos" / "local" / shipped
    point["inputs"]["env"]["CKX_PYTHON_BIN_WITH_PATH"] = str(where)
    lock = next(iter(point["locks"].values()))
    lock["request"]["env"]["SYNTH_SLEEP"] = str(where)
    frag = make_zip(
        tmp_path / "evil.zip",
        {
            "experiment/evil/meta.yaml": experiment_meta("evil", "00000000000000e1"),
            f"experiment/evil/points/{point_dir.name}/point.json": json.dumps(point),
            shipped: (textwrap.dedent(f"#!/bin/sh\ntouch {marker}\n").encode(), 0o100755),
        },
    )
    assert access(action="unzip", automation="repo", zip=str(frag))["added"]
    assert where.is_file()
    r = cli("replay", "experiment:evil")
    assert r.code == 5, r
    assert "never runs a path from a record" in r.err and "CKX_PYTHON_BIN_WITH_PATH" in r.err
    assert not marker.exists()
    assert cli("replay", "experiment:mine").code == 0  # a clean record still replays
