"""Looking at sweeps: which keys a sweep varied, one series per combination of the other swept
keys, the best point per metric, and the status of every configuration. Used by ``show``,
``compare``, ``plot`` and ``dashboard``; plain data in, plain data out (no matplotlib here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ckx.experiments.records import Point
from ckx.experiments.stats import is_number

#: Name fragments that tell which way a metric is better (checked in this order).
_HIGHER = ("per_second", "qps", "throughput", "map", "accuracy", "good")
_LOWER = ("latency", "_ns", "_ms", "run_time", "_seconds", "_time", "errors", "_s")


def direction(key: str) -> str | None:
    """``max`` when a larger value of ``key`` is better, ``min`` when smaller, else None."""
    k = key.lower()
    if any(f in k for f in _HIGHER):
        return "max"
    if any(f in k for f in _LOWER):
        return "min"
    return None


def _table_key(axis: str) -> str:
    """A swept key as the point tables name it (``threads`` -> ``inputs.threads``)."""
    return axis if axis == "cmd_key" or axis.startswith("env.") else f"inputs.{axis}"


def swept_keys(entry_path: Path | str, points: list[Point]) -> list[str]:
    """The table keys that tell the points apart: the recorded sweeps' axes that vary, else
    every input that differs between the points (separately recorded points work too)."""
    from ckx.experiments.sweep import load_sweeps

    def varies(k: str) -> bool:
        return len({repr(p.input_values().get(k)) for p in points}) > 1

    keys: list[str] = []
    for doc in load_sweeps(entry_path):
        keys += [_table_key(a) for a in doc.get("axes") or {} if _table_key(a) not in keys]
    keys = [k for k in keys if varies(k)]
    if keys or len(points) < 2:
        return keys
    cands = dict.fromkeys(k for p in points for k in p.input_keys())
    return [k for k in cands if not k.startswith(("platform.", "program")) and varies(k)]


def short(key: str) -> str:
    return key[len("inputs.") :] if key.startswith("inputs.") else key


def label(point: Point, keys: list[str]) -> str:
    """``threads=1 max_batchsize=2``: the point by its swept values."""
    vals = point.input_values()
    return " ".join(f"{short(k)}={vals.get(k)}" for k in keys) or point.id[:8]


def pick_x(points: list[Point], keys: list[str]) -> str | None:
    """The swept key to draw along x: the first numeric one, else the first one."""
    for k in keys:
        if all(is_number(_num(p.input_values().get(k))) for p in points):
            return k
    return keys[0] if keys else None


def _num(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def series(
    name: str, points: list[Point], x: str, keys: list[str]
) -> list[tuple[str, list[Point]]]:
    """One series per combination of the swept keys other than ``x`` (``name`` prefixes labels)."""
    others = [k for k in keys if k != x]
    groups: dict[str, list[Point]] = {}
    for p in points:
        groups.setdefault(label(p, others) if others else "", []).append(p)
    return [(" ".join(t for t in (name, g) if t), pts) for g, pts in groups.items()]


def best(points: list[Point], key: str, stat: str = "mean") -> Point | None:
    """The point with the best ``stat`` of ``key`` (None when the key has no direction)."""
    way = direction(key)
    vals: list[tuple[float, Point]] = []
    for p in points:
        v = p.values(stat).get(key)
        if is_number(v):
            vals.append((float(v), p))  # type: ignore[arg-type]
    if way is None or not vals:
        return None
    pick = max if way == "max" else min
    return pick(vals, key=lambda vp: vp[0])[1]


def mark_best(table: Any, points: list[Point], labels: list[str], stat: str) -> Any:
    """Add a ``best`` column to a compare table (rows: metric, one cell per point, ratios)
    and a ``*`` after the best cell of each metric that has a direction."""
    from ckx.experiments.records import Table

    rows = []
    for row in table.rows:
        b = best(points, row[0], stat) if row[0] != "repetitions" else None
        row = list(row)
        if b is not None:
            at = points.index(b)
            row[1 + at] = f"{row[1 + at]} *"
        rows.append([*row, labels[points.index(b)] if b is not None else ""])
    return Table(header=[*table.header, "best (*)"], rows=rows)


def number_columns(table: Any, n: int) -> Any:
    """Long column labels (a sweep's values) numbered: ``(2) threads=2``; the ratio columns
    after the ``n`` value columns become ``(2)/(1)`` instead of repeating both labels."""
    from ckx.experiments.records import Table

    head = list(table.header)
    for k in range(1, n + 1):
        head[k] = f"({k}) {head[k]}"
    for j, k in enumerate(range(n + 1, min(len(head), 2 * n)), start=2):
        head[k] = f"({j})/(1)"
    return Table(header=head, rows=table.rows)


def status_lines(entry_path: Path | str) -> list[str]:
    """What each recorded sweep of the experiment ran: counts, failures with their errors."""
    from ckx.experiments.sweep import load_sweeps

    out: list[str] = []
    damaged: list = []
    docs = load_sweeps(entry_path, damaged.append)
    out += [f"{e.message} ({e.hint})" for e in damaged]
    for doc in docs:
        cfgs = doc.get("configurations") or []
        count: dict[str, int] = {}
        for c in cfgs:
            count[c.get("status", "missing")] = count.get(c.get("status", "missing"), 0) + 1
        axes = ", ".join(f"{k}={','.join(map(str, v))}" for k, v in (doc.get("axes") or {}).items())
        state = ", ".join(f"{n} {s}" for s, n in sorted(count.items()))
        out.append(
            f"sweep {str(doc.get('id'))[:8]} ({axes}): {len(cfgs)} configuration(s): {state}"
        )
        for c in cfgs:
            if c.get("status") == "failed":
                err = str((c.get("error") or {}).get("message") or "").splitlines()
                vals = " ".join(f"{k}={v}" for k, v in (c.get("values") or {}).items())
                out.append(f"  failed #{c.get('n')} {vals}: {err[0] if err else '?'}")
    return out
