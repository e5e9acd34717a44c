"""Fuzzed requests and argv: ``ckx.access`` answers every request with a dict, never an
"internal error", and the command line never ends in a traceback.

Two kinds of fuzz: hypothesis over any text (lone surrogates, NUL, any plane), and a seeded
random fuzz built on the request vocabulary (ckx/core/vocabulary.py): realistic requests
(run, install, benchmark with --plan; search, load, add, rm ...) with keys of the table set to
values of their type, odd values of their type and values of other types. The default run is
sized for CI; the ``slow`` runs do 10,000 requests and 10,000 command lines
(``CKX_FUZZ_REQUESTS=N`` sets both sizes).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ckx
from ckx.app.cli import main, parse_argv
from ckx.core import vocabulary
from ckx.core.errors import CkxError

#: Any code point, with lone surrogates (what undecodable argv bytes become) drawn often.
#: (Joined from a list: ``st.text`` over a ``one_of`` of character strategies merges them and
#: drops the surrogates again.)
TEXT = st.lists(
    st.one_of(
        st.characters(),
        st.characters(categories=["Cs"]),
        st.sampled_from(list("abc-_.,:*?/@ \0")),
    ),
    max_size=24,
).map("".join)
#: Actions that only read or refuse without --force: the fuzz never runs a script.
ACTIONS = st.sampled_from(
    ["find", "search", "ls", "load", "lint", "show", "help", "rm", "ren", "update", "points"]
)
WORDS = st.sampled_from(["script", "experiment", "repo", "cache", "get,python3", "*", ":", ""])
FIELD = st.one_of(TEXT, WORDS)


@st.composite
def requests(draw):
    req = {"action": draw(st.one_of(ACTIONS, TEXT))}
    for key in ("automation", "entry", "cid", "tags", "repo", "query"):
        if draw(st.booleans()):
            req[key] = draw(FIELD)
    if draw(st.booleans()):
        req["env"] = draw(st.dictionaries(TEXT, TEXT, max_size=3))
    if draw(st.booleans()):
        req[draw(TEXT)] = draw(st.one_of(TEXT, st.integers(), st.none(), st.booleans()))
    return req


@settings(
    max_examples=int(os.environ.get("CKX_FUZZ_EXAMPLES", "150")),  # more: a longer hunt
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(req=requests())
def test_access_answers_every_request_with_a_dict(req, ckx_home):
    out = ckx.access({**req, "quiet": True})
    assert isinstance(out, dict) and isinstance(out.get("return"), int)
    if out["return"]:
        assert isinstance(out["error"], str) and out["error"]
        assert not out["error"].startswith("internal error"), out  # a bug, not a refusal
        out["error"].encode("utf-8")  # a message a terminal can print


ARG = st.one_of(
    TEXT,
    st.builds(lambda k, v: f"--{k}={v}", TEXT, TEXT),
    st.builds(lambda k: f"--{k}", TEXT),
    st.builds(lambda k: f"@{k}", TEXT),
    st.sampled_from(["--", "@", "-h", "-x", "--env.=x", "--adr..x=1", "--repo=../../etc"]),
)


@settings(max_examples=400, deadline=None)
@given(argv=st.lists(ARG, max_size=6))
def test_the_cli_parser_raises_only_ckx_errors(argv):
    try:
        req = parse_argv(argv)
        vocabulary.check_request(req)  # what the CLI does next, before anything else
    except CkxError as e:
        e.message.encode("utf-8")
        return
    assert isinstance(req, dict)
    for a in argv:
        a.encode("utf-8")  # anything accepted is valid text


# -- the seeded fuzz, built on the request vocabulary -------------------------------------------

#: Realistic requests the fuzz starts from (runs only plan: --plan is forced on them).
BASES = [
    {"action": "run", "automation": "script", "tags": "get,python3"},
    {"action": "run", "query": "get,python3"},
    {"action": "install", "automation": "package", "tags": "lib,python-package,numpy"},
    {"action": "install", "tags": "dataset,coco,val"},
    {
        "action": "benchmark",
        "automation": "program",
        "entry": "od-bench",
        "cmd_key": "accuracy-offline",
    },
    {
        "action": "benchmark",
        "entry": "od-bench",
        "cmd_key": "accuracy-offline",
        "sweep": {"count": "1,2"},
    },
    {"action": "run", "automation": "program", "entry": "od-bench", "cmd_key": "accuracy-offline"},
    {"action": "search", "automation": "script", "tags": "get"},
    {"action": "find", "automation": "script", "entry": "get-python3"},
    {"action": "load", "automation": "script", "entry": "get-python3"},
    {"action": "ls", "automation": "experiment"},
    {"action": "show", "automation": "cache"},
    {"action": "show", "automation": "env"},
    {"action": "show", "automation": "experiment", "entry": "x"},
    {"action": "points", "automation": "experiment", "entry": "x"},
    {"action": "compare", "automation": "experiment", "args": ["a", "b"]},
    {"action": "add", "automation": "script", "entry": "my-s"},
    {"action": "update", "automation": "script", "entry": "my-s", "meta": {"a": 1}},
    {"action": "ren", "automation": "script", "entry": "my-s", "args": ["my-t"]},
    {"action": "rm", "automation": "script", "entry": "my-*", "force": True},
    {"action": "ls", "automation": "repo"},
    {"action": "show", "automation": "repo", "entry": "local"},
    {"action": "setup", "automation": "kernel"},
    {"action": "cmd_keys", "automation": "program", "entry": "od-bench"},
    {"action": "artifacts", "automation": "package", "tags": "dataset,coco,val"},
    {"action": "ls", "automation": "venv"},
    {"action": "help", "automation": "program"},
]
ACTION_WORDS = ["find", "search", "ls", "list", "load", "show", "help", "version", "rm", "delete"]
ACTION_WORDS += ["ren", "cp", "mv", "update", "add", "points", "compare", "cmd_keys", "where", "x"]
#: Keys the fuzz leaves alone: they name places outside CKX_HOME to write to or programs to run
#: (what they refuse is tested on its own), or ask for tracebacks.
UNSAFE = {"home", "out", "to", "zip", "url", "full_path", "python", "path", "token_file", "lock"}
UNSAFE |= {"save_lock", "outdirname", "executor", "ray_address", "print_files", "debug", "output"}
KEYS = sorted(set(vocabulary.BY_NAME) - UNSAFE) + ["model", "backend", "count", "x1", "device"]
#: Values of every type, odd ones included; a key gets one of its type or any of these.
ANY = [True, False, None, -1, 0, 5, 10**30, 1.5, "", "x", "3.8", "*", "_cuda", "-x", "..", "a,b"]
ANY += [[], ["a"], ["a", 1], [["a"]], [{}], {}, {"k": "v"}, {"k": 1}, {"k": [1]}, {"k": {}}]
ANY += [{"python": {"version_min": "3.8"}}, {"python": {"tags": True}}, {"python": "x"}, {1: 2}]
TYPED = {
    "name": ["x", "", "*", "..", "od-bench", "a b", "get-python3", "-x", "x:y", "my-s", "local"],
    "repo": ["local", "builtin", "*", "nope"],
    "query": ["get,python3", "", ",", "_x", "-_y", "a,,b", "_bs.8"],
    "tags": ["get,python3", "", ",", "_x", "-_y", ["a", "b"], ["", ","], []],
    "text": ["", "x", "3.8", "0", "-1", "accuracy-offline", "a,b", "99"],
    "flag": [True, False, "yes", "no", 0, 1, "x", ""],
    "count": [0, -1, 1, 2, "0", "x", "", 10**30, "1e3", "2"],
    "texts": ["", "a,b", ["a", 1], [], [""], "x"],
    "list": [[], ["a"], ["", "x", "-y"]],
    "mapping": [{}, {"a": 1}, {"a": {"b": [1]}}, {"count": [1, 2]}, {"count": "1:3"}],
    "env": [{}, {"A": "1"}, {"A": [1, "b"]}, {"A": None}, {"": "x"}, {"A B": "x"}],
    "deps": [{}, {"python": {}}, {"python": {"tags": "x,y"}}, {"python": {"version_min": "9"}}],
}


def fuzz_value(rnd: random.Random, key: str):
    row = vocabulary.BY_NAME.get(key)
    if row is None or row.type not in TYPED or rnd.random() < 0.35:
        return rnd.choice(ANY)
    return rnd.choice(TYPED[row.type])


def fuzz_request(rnd: random.Random) -> dict:
    if rnd.random() < 0.8:
        req = dict(rnd.choice(BASES))
    else:
        req = {"action": rnd.choice(ACTION_WORDS), "automation": rnd.choice(["script", "x", 1])}
    for _ in range(rnd.randint(1, 3)):
        key = rnd.choice(KEYS + list(req))
        req[key] = fuzz_value(rnd, key)
    if req.get("action") in ("run", "install", "benchmark") or req.get("automation") in (
        "program",
        "script",
        "package",
    ):
        req["plan"] = True  # plan, never run
    if req.get("action") in ("rm", "delete"):
        req["quiet"] = True
    return req


def fuzz_argv(rnd: random.Random) -> list[str]:
    """A command line from a fuzzed request, with stray words, files and one-letter flags."""
    req = fuzz_request(rnd)
    argv = [str(req.pop("action"))] if rnd.random() < 0.95 else []
    if "automation" in req and rnd.random() < 0.7:
        entry = req.pop("entry", None)
        argv.append(f"{req.pop('automation')}" + (f":{entry}" if isinstance(entry, str) else ""))
    for k, v in req.items():
        if isinstance(v, dict):
            argv += [f"--{k}.{kk}={vv}" for kk, vv in v.items()]
        else:
            argv.append(f"--{k}" if v is True else f"--{k}={v}")
    for _ in range(rnd.randint(0, 2)):
        argv.insert(rnd.randint(0, len(argv)), rnd.choice(STRAY))
    if req.get("plan") or argv[:1] in (["run"], ["install"], ["benchmark"]):
        argv.append("--plan")
    return argv


STRAY = ["-j", "-f", "-v", "-s", "-h", "-x", "-jf", "-1", "@bad.json", "@bad.yaml", "@no.json"]
STRAY += ["@", "--", "--=1", "--a b=1", "-_cuda", "-cuda", "x,y", "\udcff", "a\0b", "--env.=1"]
STRAY += ["--adr..x=1", "--tags=\udcfe", "--adr.python=x", "--env.A.B=1", "--tags", "--cmd_key"]


def fuzz_requests(n: int, seed: int, ckx_home, tmp_path, monkeypatch) -> None:
    """``n`` fuzzed requests to ckx.access: each answered with a dict, none an internal error."""
    monkeypatch.chdir(tmp_path)  # what an action writes into the current folder stays here
    rnd, bad = random.Random(seed), []
    for _ in range(n):
        req = fuzz_request(rnd)
        out = ckx.access(dict(req))
        assert isinstance(out, dict) and isinstance(out.get("return"), int), (req, out)
        if out["return"] and out.get("error", "").startswith("internal error"):
            bad.append((req, out["error"]))
    assert not bad, f"{len(bad)} internal errors of {n}, e.g. {bad[:3]}"


def fuzz_command_lines(n: int, seed: int, ckx_home, tmp_path, monkeypatch) -> None:
    """``n`` fuzzed command lines to ckx's main(): an exit code each, never a traceback."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({"adr": "x", "tags": True, "env": {"A": {}}}))
    (tmp_path / "bad.yaml").write_text("cmd_key: [1]\nrepetitions: {a: 1}\n")
    rnd, bad = random.Random(seed), []
    for _ in range(n):
        argv = fuzz_argv(rnd)
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(list(argv))
        except BaseException as e:  # noqa: BLE001 - what escapes main() is a traceback
            bad.append((argv, f"{type(e).__name__}: {e}"))
            continue
        if (
            not isinstance(code, int)
            or "Traceback" in err.getvalue()
            or "internal error" in (err.getvalue() + out.getvalue())
        ):
            bad.append((argv, err.getvalue()[-300:]))
    assert not bad, f"{len(bad)} tracebacks of {n}, e.g. {bad[:3]}"


def _size(default: int) -> int:
    return int(os.environ.get("CKX_FUZZ_REQUESTS", default))


def test_fuzzed_requests_never_answer_an_internal_error(ckx_home, tmp_path, monkeypatch):
    fuzz_requests(_size(800), 20260601, ckx_home, tmp_path, monkeypatch)


def test_fuzzed_command_lines_never_end_in_a_traceback(ckx_home, tmp_path, monkeypatch):
    fuzz_command_lines(_size(1500), 20260602, ckx_home, tmp_path, monkeypatch)


@pytest.mark.slow
def test_ten_thousand_fuzzed_requests(ckx_home, tmp_path, monkeypatch):
    fuzz_requests(_size(10_000), 20260611, ckx_home, tmp_path, monkeypatch)


@pytest.mark.slow
def test_ten_thousand_fuzzed_command_lines(ckx_home, tmp_path, monkeypatch):
    fuzz_command_lines(_size(10_000), 20260612, ckx_home, tmp_path, monkeypatch)
