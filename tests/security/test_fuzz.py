"""Finding 9 (fuzzed): ``ckx.access`` answers every request with a dict and the CLI parser
raises nothing but CkxError, whatever the text (lone surrogates, NUL, any plane)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ckx
from ckx.app.cli import parse_argv
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
    except CkxError as e:
        e.message.encode("utf-8")
        return
    assert isinstance(req, dict)
    for a in argv:
        a.encode("utf-8")  # anything accepted is valid text
