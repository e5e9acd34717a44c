"""The tag-query grammar: what users type in --tags and deps."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckx.core.errors import CkxError, QueryError
from ckx.core.query import Query, Variation, parse


def test_plain_negative_and_variation_terms():
    q = parse("get,ml-model,ssd,-tf,_onnx,_bs.8,-_fp16")
    assert q.tags == ("get", "ml-model", "ssd")
    assert q.not_tags == ("tf",)
    assert q.variations == (Variation("onnx"), Variation("bs", "8"))
    assert q.not_variations == ("fp16",)


def test_ck_style_tags_with_dots_and_versions():
    q = parse("model,side.300,mlperf-v1.0,opset-8")
    assert q.tags == ("model", "side.300", "mlperf-v1.0", "opset-8")


def test_dynamic_variation_value_may_hold_paths():
    q = parse("get,dataset,_path./data/coco 2017/val")
    assert q.variations == (Variation("path", "/data/coco 2017/val"),)


def test_whitespace_around_terms_is_ignored_and_list_input_works():
    assert parse(" get , python3 ") == parse("get,python3") == parse(["get", "python3"])


def test_empty_query_matches_everything():
    q = parse("")
    assert q.is_empty() and q.matches_tags(["anything"])
    assert parse(None) == Query()


def test_matching_requires_all_and_excludes_negatives():
    q = parse("a,b,-c")
    assert q.matches_tags(["a", "b", "x"])
    assert not q.matches_tags(["a"])
    assert not q.matches_tags(["a", "b", "c"])


def test_canonical_string_round_trips():
    q = parse("a,-b,_v,_d.x,-_w")
    assert parse(str(q)) == q


@pytest.mark.parametrize(
    "text,pos,fragment",
    [
        ("get,,python", 5, "expected a tag"),
        ("get,python,", 11, "trailing ','"),
        ("get,py thon", 8, "expected ',' or the end"),
        ("get,!x", 5, "expected a tag"),
        ("_", 2, "variation name"),
        ("_d.", 4, "expected a value"),
    ],
)
def test_errors_point_at_the_offending_character(text, pos, fragment):
    with pytest.raises(QueryError) as e:
        parse(text)
    msg = e.value.message
    assert fragment in msg
    assert f"position {pos}" in msg
    lines = msg.splitlines()
    assert lines[1].strip() == text.strip() or lines[1] == "  " + text
    assert lines[2].index("^") - 2 == pos - 1


def test_dotted_variations_are_name_and_value_until_an_entry_decides():
    # _v0.5 may be MLCFlow's static variation 'v0.5' or the dynamic 'v0.#' with value 5
    q = parse("run-abtf-inference,_v0.5,_bert-99.9,-_x.y")
    assert [(v.name, v.value) for v in q.variations] == [("v0", "5"), ("bert-99", "9")]
    assert q.not_variations == ("x.y",)
    assert parse(str(q)) == q


def test_contradictions_are_errors():
    with pytest.raises(QueryError, match="both required and forbidden"):
        parse("a,-a")
    with pytest.raises(QueryError, match="both selected and forbidden"):
        parse("_v,-_v")
    with pytest.raises(QueryError, match="given twice"):
        parse("_v.1,_v.2")


def test_merged_keeps_other_variation_values():
    q = parse("a,_bs.1").merged(parse("b,_bs.8"))
    assert q.tags == ("a", "b") and q.variations == (Variation("bs", "8"),)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_string_parses_or_raises_only_a_ckx_error(text):
    try:
        q = parse(text)
    except CkxError:
        return
    # whatever parsed must survive a round trip through its canonical form
    assert parse(str(q)) == q


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"\A[a-z0-9][a-z0-9.\-]{0,8}\Z"), min_size=1, max_size=6))
def test_generated_tag_lists_parse_to_themselves(tags):
    q = parse(",".join(tags))
    assert q.tags == tuple(dict.fromkeys(tags))
