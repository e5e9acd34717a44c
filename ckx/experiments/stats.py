"""Statistics over repetitions: min, max, mean, median, stdev, range %.

``summarize([3.0, 1.0, 2.0])`` gives one :class:`Summary`; ``summarize_records(dicts)`` takes
one characteristics dict per repetition, flattens nested keys with dots
(``{"latency_ns": {"p50": 1}}`` -> ``latency_ns.p50``) and summarises every key that is
numeric in every repetition where it appears. Booleans are not numbers here (``result_valid``
is reported by its values, not averaged). Pure Python: no numpy.

Definitions: ``stdev`` is the sample standard deviation (n - 1 in the denominator; 0.0 for a
single value); ``range_percent`` is ``(max - min) / |mean| * 100`` (None when the mean is 0),
so a 5 % spread between the fastest and the slowest repetition reads as ``5.0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """The statistics of one numeric key over n repetitions."""

    n: int
    min: float
    max: float
    mean: float
    median: float
    stdev: float
    range_percent: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_number(value: Any) -> bool:
    """True for int/float values that are finite numbers (bool is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def summarize(values: Sequence[float]) -> Summary:
    """Statistics of ``values`` (at least one finite number)."""
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("summarize() needs at least one value")
    if not all(math.isfinite(x) for x in xs):
        raise ValueError(f"summarize() needs finite numbers, got {values!r}")
    n = len(xs)
    s = sorted(xs)
    mean = math.fsum(xs) / n
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    stdev = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    spread = s[-1] - s[0]
    range_percent = None if mean == 0 else spread / abs(mean) * 100.0
    return Summary(
        n=n, min=s[0], max=s[-1], mean=mean, median=median, stdev=stdev, range_percent=range_percent
    )


def flatten(data: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested dicts to one level: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name, sep))
        else:
            out[name] = value
    return out


def summarize_records(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per flattened key: the :class:`Summary` as a dict when numeric, else ``{"values": [...]}``.

    A key is numeric when every repetition that has it gives a finite number; otherwise its
    distinct values are listed in first-seen order (``None`` included), with ``n`` the count
    of repetitions that have the key.
    """
    columns: dict[str, list[Any]] = {}
    for rec in records:
        for key, value in flatten(rec).items():
            columns.setdefault(key, []).append(value)
    out: dict[str, dict[str, Any]] = {}
    for key, values in columns.items():
        if all(is_number(v) for v in values):
            out[key] = summarize(values).to_dict()
        else:
            distinct: list[Any] = []
            for v in values:
                if v not in distinct:
                    distinct.append(v)
            out[key] = {"n": len(values), "values": distinct}
    return out
