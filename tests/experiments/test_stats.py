"""Statistics over repetitions (ckx.experiments.stats)."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ckx.experiments.stats import flatten, is_number, summarize, summarize_records


def test_summary_of_known_values():
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s.n, s.min, s.max, s.mean, s.median) == (4, 1.0, 4.0, 2.5, 2.5)
    assert s.stdev == pytest.approx(statistics.stdev([1, 2, 3, 4]))
    assert s.range_percent == pytest.approx((4 - 1) / 2.5 * 100)


def test_odd_count_median_and_single_value():
    assert summarize([5, 1, 3]).median == 3
    one = summarize([7])
    assert (one.stdev, one.range_percent, one.min, one.max) == (0.0, 0.0, 7.0, 7.0)


def test_zero_mean_has_no_range_percent():
    assert summarize([-1, 1]).range_percent is None


def test_empty_and_non_finite_are_refused():
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize([1.0, math.nan])


def test_bool_is_not_a_number():
    assert not is_number(True) and is_number(3) and is_number(2.5) and not is_number(math.inf)


def test_records_flatten_and_split_numeric_from_categorical():
    recs = [
        {"qps": 10, "lat": {"p50": 1.0, "p90": 2.0}, "valid": True, "scenario": "Offline"},
        {"qps": 12, "lat": {"p50": 3.0, "p90": 4.0}, "valid": False, "scenario": "Offline"},
    ]
    out = summarize_records(recs)
    assert out["qps"]["mean"] == 11 and out["qps"]["n"] == 2
    assert out["lat.p50"]["max"] == 3.0 and out["lat.p90"]["min"] == 2.0
    assert out["valid"] == {"n": 2, "values": [True, False]}
    assert out["scenario"] == {"n": 2, "values": ["Offline"]}


def test_a_key_missing_in_some_repetitions_counts_only_where_present():
    out = summarize_records([{"a": 1}, {"a": 3, "b": 5}, {"b": None}])
    assert out["a"]["n"] == 2 and out["a"]["mean"] == 2
    assert out["b"] == {"n": 2, "values": [5, None]}  # one None makes the key non-numeric


def test_flatten_keeps_lists_and_empty_dicts_as_values():
    assert flatten({"a": {"b": {"c": 1}}, "l": [1, 2], "e": {}}) == {
        "a.b.c": 1,
        "l": [1, 2],
        "e": {},
    }


@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=50))
def test_summary_invariants(xs):
    s = summarize(xs)
    assert s.min <= s.median <= s.max
    assert s.min - 1e-6 * max(1.0, abs(s.min)) <= s.mean <= s.max + 1e-6 * max(1.0, abs(s.max))
    assert s.stdev >= 0
    assert s.median == pytest.approx(statistics.median(xs))
