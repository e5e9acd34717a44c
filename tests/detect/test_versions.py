"""Version parsing, ordering and MLCFlow-style constraints (ckx.core.versions)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version as PepVersion

from ckx.core.errors import UsageError
from ckx.core.versions import (
    compare,
    describe_constraint,
    newest,
    parse_version,
    satisfies,
    validate_constraint,
    version_tags,
)

# (older, newer): each pair must compare as -1 one way and +1 the other.
ORDERED = [
    ("1.1.1", "1.1.1d"),  # OpenSSL letter releases come after the bare release …
    ("1.1.1d", "1.1.1w"),
    ("1.1.1a", "1.1.1"),  # … except a, b, c: PEP 440 reads them as pre-releases (documented)
    ("1.1.1c", "1.1.1"),
    ("1.1.1w", "1.1.1.post1"),  # a label sorts before any post-release
    ("1.1.1w", "1.1.2"),
    ("3.25.1", "3.25.1-debian"),
    ("3.25.1-debian", "3.25.2"),
    ("12.2.0", "12.2.0 (Debian 12.2.0-14)"),
    ("12.2.0 (Debian 12.2.0-13)", "12.2.0 (Debian 12.2.0-14)"),
    ("2.39.5", "2.39.5.windows.1"),
    ("2.39.5.windows.1", "2.39.5.windows.2"),
    ("2.39.5.windows.2", "2.40.0"),
    ("1.0rc1", "1.0"),
    ("1.0.dev0", "1.0a1"),
    ("1.60.1-DEV", "1.60.1"),  # PEP 440 reads -DEV as a dev release
    ("3.9.18", "3.10.0"),  # numeric, not lexical
    ("2.5.1", "2.5.1+cpu"),
    ("1!0.1", "1!0.2"),
    ("9999", "1!0.1"),  # epochs win
]

EQUAL = [
    ("3.11", "3.11.0"),
    ("v1.2", "1.2"),
    ("1.1.1w", "1.1.1+w"),  # the loose rule is ordered as release+label
    ("2.39.5.windows.1", "2.39.5+windows.1"),
    ("go1.21.5", "1.21.5"),
]


@pytest.mark.parametrize(("older", "newer"), ORDERED)
def test_versions_are_ordered(older: str, newer: str) -> None:
    assert compare(older, newer) == -1
    assert compare(newer, older) == 1
    assert parse_version(older) < parse_version(newer)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_versions_compare_and_hash_equal(a: str, b: str) -> None:
    assert compare(a, b) == 0
    assert parse_version(a) == parse_version(b)
    assert hash(parse_version(a)) == hash(parse_version(b))
    assert parse_version(a).text == a  # the original text survives


def test_which_rule_parsed_it() -> None:
    assert parse_version("3.11.7").pep440
    assert not parse_version("1.1.1w").pep440
    assert parse_version("12.2.0 (Debian 12.2.0-14)").release == (12, 2, 0)
    assert parse_version("2.39.5.windows.1").release == (2, 39, 5)


@pytest.mark.parametrize("text", ["", "   ", "-", "not installed", "_x"])
def test_text_without_digits_that_is_no_name_is_not_a_version(text: str) -> None:
    with pytest.raises(UsageError, match="not a version"):
        parse_version(text)


@pytest.mark.parametrize("name", ["master", "main", "custom", "dev", "latest", "dev-clean"])
def test_named_versions_match_only_their_own_name(name: str) -> None:
    v = parse_version(name)
    assert v.named and v.release == () and str(v) == name
    assert satisfies(name, version=name)
    assert not satisfies(name, version="main" if name != "main" else "master")
    assert not satisfies(name, version="1.0")
    assert not satisfies("1.0", version=name)
    assert compare(name, name) == 0 and hash(parse_version(name)) == hash(parse_version(name))


def test_named_versions_sort_below_numbers_as_mlcflow_reads_them() -> None:
    # MLCFlow compares 'master' as 0: it passes a version_max and fails a version_min
    assert compare("master", "0.0.1") < 0 and compare("3.11", "master") > 0
    assert satisfies("master", version_max="2.0")
    assert not satisfies("master", version_min="1.0")
    assert newest(["master", "1.2", "1.10"]) == "1.10"
    assert version_tags("master") == []


def test_a_named_bound_is_refused() -> None:
    with pytest.raises(UsageError, match="version_min 'master' is a named version"):
        satisfies("3.11.7", version_min="master")
    with pytest.raises(UsageError, match="version_max 'main' is a named version"):
        validate_constraint(version_max="main")


def test_non_string_is_rejected() -> None:
    with pytest.raises(UsageError, match="must be a string"):
        parse_version(3.10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("found", "constraints", "ok"),
    [
        ("3.11.7", {}, True),
        ("3.11.7", {"version": "3.11.7"}, True),
        ("3.11.0", {"version": "3.11"}, True),
        ("3.11.7", {"version": "3.11"}, False),  # exact means exact, not a prefix
        ("3.8", {"version_min": "3.8"}, True),  # bounds are inclusive
        ("3.7.17", {"version_min": "3.8"}, False),
        ("3.12", {"version_max": "3.12"}, True),
        ("3.12.4", {"version_max": "3.12"}, False),  # 3.12.4 > 3.12 as versions
        ("3.10.2", {"version_min": "3.8", "version_max": "3.12"}, True),
        ("3.13.0", {"version_min": "3.8", "version_max": "3.12"}, False),
        ("1.1.1w", {"version_min": "1.1.1"}, True),
        ("1.1.1w", {"version_max": "1.1.1"}, False),
        ("3.11.7", {"version": "", "version_min": "", "version_max": ""}, True),  # unset
        ("3.13.0", {"version_max_usable": "3.12.4"}, True),  # never rejects
    ],
)
def test_satisfies_follows_mlcflow(found: str, constraints: dict, ok: bool) -> None:
    assert satisfies(found, **constraints) is ok


def test_satisfies_rejects_a_garbage_bound() -> None:
    with pytest.raises(UsageError):
        satisfies("3.11.7", version_min="any")


def test_validate_constraint() -> None:
    validate_constraint(version_min="3.8", version_max="3.12", version_max_usable="3.12")
    with pytest.raises(UsageError, match="version_min 3.12 is newer than version_max 3.8"):
        validate_constraint(version_min="3.12", version_max="3.8", where="dep python")
    with pytest.raises(UsageError, match=r"^dep python: version 3.7 is outside the range >=3.8"):
        validate_constraint(version="3.7", version_min="3.8", where="dep python")
    with pytest.raises(UsageError, match="version_max_usable 3.13 is outside"):
        validate_constraint(version_max="3.12", version_max_usable="3.13")


@pytest.mark.parametrize(
    ("constraints", "text"),
    [
        ({}, "any version"),
        ({"version": "3.11.7"}, "==3.11.7"),
        ({"version_min": "3.8", "version_max": "3.12"}, ">=3.8,<=3.12"),
        ({"version_min": "3.8", "version_max": ""}, ">=3.8"),
        ({"version_max": "3.12", "version_max_usable": "3.12.4"}, "<=3.12 (install 3.12.4)"),
    ],
)
def test_describe_constraint(constraints: dict, text: str) -> None:
    assert describe_constraint(**constraints) == text


def test_newest() -> None:
    assert newest(["3.8", "3.11.10", "3.11.7", "3.9"]) == "3.11.10"
    assert newest(["1.1.1", "1.1.1w", "1.1.1k", "1.1.1a"]) == "1.1.1w"
    assert newest(["3.11", "3.11.0"]) == "3.11"  # the first of equals wins
    with pytest.raises(UsageError):
        newest([])


def test_version_tags() -> None:
    assert version_tags("3.11.7") == ["v3", "v3.11", "v3.11.7"]
    assert version_tags("1.1.1w") == ["v1", "v1.1", "v1.1.1"]
    assert version_tags("2.5.1+cpu") == ["v2", "v2.5", "v2.5.1"]


# ------------------------------------------------------------------ properties

_num = st.integers(min_value=0, max_value=30)
_local_seg = st.one_of(_num.map(str), st.text("abcxyz", min_size=1, max_size=3))


@st.composite
def pep440(draw: st.DrawFn) -> str:
    """Random PEP 440 strings covering epoch, release, pre, post, dev and local parts."""
    text = ""
    if draw(st.booleans()) and draw(st.booleans()):
        text += f"{draw(st.integers(0, 2))}!"
    text += ".".join(str(n) for n in draw(st.lists(_num, min_size=1, max_size=4)))
    if draw(st.booleans()):
        text += draw(st.sampled_from(["a", "b", "rc"])) + str(draw(_num))
    if draw(st.booleans()):
        text += f".post{draw(_num)}"
    if draw(st.booleans()):
        text += f".dev{draw(_num)}"
    if draw(st.booleans()):
        text += "+" + ".".join(draw(st.lists(_local_seg, min_size=1, max_size=3)))
    return text


# Loose tool versions: digits, letters and separators, with at least one digit.
loose = st.text("0123456789abwxz.-+ ()", min_size=1, max_size=12).filter(
    lambda s: any(c.isdigit() for c in s)
)
any_version = st.one_of(pep440(), loose)


@settings(max_examples=300, deadline=None)
@given(pep440(), pep440())
def test_pep440_order_matches_packaging(a: str, b: str) -> None:
    pa, pb = PepVersion(a), PepVersion(b)
    assert compare(a, b) == (pa > pb) - (pa < pb)
    if pa == pb:
        assert hash(parse_version(a)) == hash(parse_version(b))


@settings(max_examples=300, deadline=None)
@given(any_version, any_version, any_version)
def test_mixed_order_is_a_total_order(a: str, b: str, c: str) -> None:
    assert compare(a, a) == 0
    assert compare(a, b) == -compare(b, a)  # antisymmetric
    if compare(a, b) <= 0 and compare(b, c) <= 0:
        assert compare(a, c) <= 0  # transitive
    if compare(a, b) == 0:
        assert hash(parse_version(a)) == hash(parse_version(b))


@settings(max_examples=100, deadline=None)
@given(st.lists(any_version, min_size=1, max_size=8))
def test_newest_is_not_older_than_any(versions: list[str]) -> None:
    best = newest(versions)
    assert best in versions
    assert all(compare(best, v) >= 0 for v in versions)
