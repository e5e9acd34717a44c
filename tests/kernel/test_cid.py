import pytest

from ckx.core.cid import CID, parse_cid
from ckx.core.errors import QueryError


@pytest.mark.parametrize(
    "text,expected",
    [
        ("script", CID("script")),
        ("script:get-python3", CID("script", "get-python3")),
        ("local:experiment:ssd-*", CID("experiment", "ssd-*", "local")),
        ("experiment:*", CID("experiment", "*")),
        ("script:0123456789abcdef", CID("script", "0123456789abcdef")),
    ],
)
def test_cid_forms(text, expected):
    c = parse_cid(text)
    assert c == expected
    assert str(c) == text


def test_wildcards_are_detected():
    assert parse_cid("experiment:ssd-?").has_wildcards
    assert not parse_cid("experiment:ssd").has_wildcards


@pytest.mark.parametrize("text", ["", "a:b:c:d", "script:get python", "scr$pt"])
def test_bad_cids_raise_query_errors(text):
    with pytest.raises(QueryError):
        parse_cid(text)
