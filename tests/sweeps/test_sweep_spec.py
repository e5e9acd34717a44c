"""What a sweep's values and exclusions mean (the grammar of --sweep.KEY and sweep_exclude)."""

from __future__ import annotations

import pytest

from ckx.core.errors import UsageError
from ckx.experiments.sweep import Axis, parse_exclusions, parse_values


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ("1,2,4", ["1", "2", "4"]),
        ("1:8:x2", ["1", "2", "4", "8"]),  # multiplicative, the end included when hit
        ("1:8:2", ["1", "3", "5", "7"]),  # additive
        ("1:3", ["1", "2", "3"]),
        ("1:3,8,16", ["1", "2", "3", "8", "16"]),  # a range is one comma item among others
        ("ssd-mobilenet,ssd-resnet34", ["ssd-mobilenet", "ssd-resnet34"]),
        ("host:port", ["host:port"]),  # only whole numbers make a range
        ([1, 2, "4"], ["1", "2", "4"]),  # a list from @sweep.yaml: text, as the CLI passes it
        (["1:4"], ["1:4"]),  # items of a list are taken as they are
        (4, ["4"]),
    ],
)
def test_sweep_values(spec, values):
    assert parse_values("k", spec) == values


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("8:1", "ends before it starts"),
        ("1:8:x1", "needs A >= 1 and K >= 2"),
        ("0:8:x2", "needs A >= 1 and K >= 2"),
        ("1:8:0", "step must be at least 1"),
        ("1,2,1", "given twice"),
        ("1:3,2", "given twice"),
        ("1,,2", "empty value"),
        ("", "has no values"),
        (True, "has no values"),
    ],
)
def test_bad_sweep_values_are_refused_naming_the_option(spec, message):
    with pytest.raises(UsageError, match=message) as e:
        parse_values("threads", spec)
    assert "--sweep.threads" in e.value.message


def test_exclusions_from_the_command_line_and_from_a_file_mean_the_same():
    axes = [Axis("model", ["a", "b"]), Axis("threads", ["1", "2", "4"])]
    text = parse_exclusions("model=b,threads=2|4;threads=1", axes)
    data = parse_exclusions([{"model": "b", "threads": [2, 4]}, {"threads": 1}], axes)
    assert text == data == [{"model": ["b"], "threads": ["2", "4"]}, {"threads": ["1"]}]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("batch=1", "names 'batch', which is not swept"),
        ("threads", "is not KEY=VALUE"),
        (["threads=1"], "is not a mapping"),
    ],
)
def test_bad_exclusions_are_refused(spec, message):
    with pytest.raises(UsageError, match=message):
        parse_exclusions(spec, [Axis("threads", ["1", "2"])])
