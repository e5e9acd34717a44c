"""The benchmark service: run a program N times, print statistics, record an experiment point.

``ckx benchmark program:NAME`` (the program automation) calls :func:`benchmark`; a sweep
(``--sweep.KEY=...``) is handed to :mod:`ckx.experiments.sweep`, whose points run through
:func:`run_point` and are recorded by :func:`record_point`, so a sweep point is exactly the
point a single ``benchmark`` of that configuration records (same inputs, same id).
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core.errors import UsageError
from ckx.experiments.records import BENCH_ONLY

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.entries import Entry
    from ckx.experiments.records import Recorded, Table


def split_query(query):
    """(experiment tags, the program's query): plain tags label the experiment, ``_v`` terms go to the program."""
    from ckx.core.query import Query

    if query is None:
        return [], None
    prog = Query(variations=query.variations, not_variations=query.not_variations)
    return list(query.tags), (None if prog.is_empty() else prog)


def positive_int(value: Any, what: str) -> int:
    """``value`` as a whole number of at least 1, or a UsageError naming ``--what``."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{what} must be a whole number, got {value!r}") from None
    if n < 1:
        raise UsageError(f"--{what} must be at least 1, got {n}")
    return n


def names(value: Any) -> list[str]:
    """A comma-separated option (or a list) as a list of non-empty names."""
    if value in (None, "", True, False):
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(x).strip() for x in items if str(x).strip()]


def kept_files(ctx: Context, run_dir: str | None, wanted: list[str]) -> dict[str, Path]:
    """The ``--print_files`` that exist in ``run_dir`` (a warning for each missing one)."""
    from ckx.artifacts.archive import safe_member_path

    out: dict[str, Path] = {}
    for name in wanted:
        try:
            rel = safe_member_path(name)
        except ValueError as e:
            raise UsageError(
                f"--print_files: '{name}' is not a relative path inside the run folder ({e})"
            ) from None
        f = Path(run_dir) / rel if run_dir and rel else None
        if not rel or f is None or not f.is_file():
            ctx.ui.warn(f"--print_files: {name} was not written by this run (looked in {run_dir})")
            continue
        out[rel] = f
    return out


def stats_table(stats: dict[str, dict[str, Any]]) -> Table:
    """The statistics printed after a benchmark (one row per characteristic)."""
    from ckx.experiments.records import Table, fmt, is_noise_key

    rows = []
    for k, s in stats.items():
        if is_noise_key(k):
            continue
        if "values" in s:
            rows.append([k, str(s["n"]), "", "", "|".join(map(str, s["values"])), "", "", ""])
            continue
        rp = s.get("range_percent")
        rows.append(
            [k, str(s["n"]), *(fmt(s[x]) for x in ("min", "max", "mean", "median", "stdev"))]
            + ["-" if rp is None else f"{rp:.2f}"]
        )
    return Table(header=["key", "n", "min", "max", "mean", "median", "stdev", "range%"], rows=rows)


@dataclass
class Target:
    """Where ``--record`` writes: the experiment folder, its name and tags."""

    repo_alias: str
    name: str
    exp_dir: Path
    tags: list[str]

    @property
    def cid(self) -> str:
        return f"{self.repo_alias}:experiment:{self.name}"


def record_target(ctx: Context, i: dict[str, Any], entry: Entry, key: str, tags: list[str]):
    """The experiment ``--record`` writes into (its name checked; a default name printed)."""
    from ckx.experiments import records as ex

    repo = ctx.registry.get(str(i.get("record_repo") or "local"))
    name = str(i.get("record_uoa") or ex.default_name(entry.alias, key))
    if any(c in name for c in "*?[/\\:") or name.startswith("."):
        raise UsageError(f"bad experiment name '{name}'", hint="use letters, digits, '-', '_', '.'")
    if not i.get("record_uoa"):
        ctx.ui.print(f"experiment name: {name}")
    return Target(repo.alias, name, repo.folder_for("experiment") / name, tags)


def where_local() -> dict[str, Any]:
    """Where a run happened when ckx ran it on this machine."""
    return {"executor": "local", "node_id": None, "hostname": socket.gethostname()}


def benchmark(ctx: Context, i: dict[str, Any], entry: Entry) -> dict[str, Any]:
    """Run ``entry`` ``--repetitions`` times; print statistics; ``--record`` them.

    (A request with ``sweep`` is a sweep: :func:`ckx.experiments.sweep.run_sweep`.)
    """
    from ckx import programs

    for opt in ("executor", "jobs", "resume", "ray_address", "ray_resources", "ray_retries"):
        if i.get(opt) is not None:
            raise UsageError(
                f"--{opt} applies to sweeps only",
                hint="add --sweep.KEY=V1,V2 or drop --" + opt,
            )
    key = programs.choose_cmd_key(ctx, entry, i.get("cmd_key"))
    reps = positive_int(i.get("repetitions", 1), "repetitions")
    tags, prog_query = split_query(i.get("query"))
    tags += [t for t in names(i.get("record_tags")) if t not in tags]
    run_i = {k: v for k, v in i.items() if k not in BENCH_ONLY}
    run_i["query"] = prog_query
    target = record_target(ctx, i, entry, key, tags) if i.get("record") else None
    return _repeat(ctx, i, entry, key, run_i, reps, target)


def _repeat(ctx, i, entry, key, run_i, reps, target: Target | None) -> dict[str, Any]:
    """The repetition loop of one configuration, each repetition recorded as soon as it ends."""
    from ckx import programs
    from ckx.experiments import records as ex
    from ckx.experiments.stats import summarize_records

    inputs = ex.run_inputs(entry, key, run_i)
    platform = ex.platform_info() if target else None
    files = names(i.get("print_files"))
    results, recorded = [], None
    for k in range(1, reps + 1):
        out = programs.run_once(ctx, {**run_i, "want_lock": target is not None}, entry, key)
        if "plan_text" in out:  # --plan: printed by the engine, nothing ran
            return out
        chars = out.get("characteristics") or {}
        results.append(chars)
        if not i.get("skip_print_timers"):
            ctx.ui.print(
                f"repetition {k}/{reps}: {chars.get('run_time_s', '?')} s  ({out.get('run_dir')})"
            )
        kept = kept_files(ctx, out.get("run_dir"), files)
        for rel, path in kept.items():
            ctx.ui.print(f"--- {rel} (repetition {k}) ---")
            ctx.ui.print(path.read_text(encoding="utf-8", errors="replace").rstrip())
        if target is not None:
            recorded = ex.record_repetition(
                target.exp_dir,
                name=target.name,
                tags=target.tags,
                inputs=inputs,
                platform=platform or {},
                repetition=_repetition(out, where_local()),
                lock=out.get("lock"),
                files=kept,
            )
            ctx.index.invalidate()
    stats = {k: v for k, v in summarize_records(results).items() if not ex.is_noise_key(k)}
    if not i.get("skip_print_stats"):
        ctx.ui.print(stats_table(stats).text())
    result: dict[str, Any] = {
        "cmd_key": key,
        "program": entry.cid,
        "inputs": inputs,
        "statistics": stats,
        "repetitions": results,
    }
    if recorded is not None and target is not None:
        _report_recorded(ctx, result, target, recorded, reps)
    return result


def _repetition(out: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    return {
        "characteristics": out.get("characteristics") or {},
        "run_dir": out.get("run_dir"),
        "status": out.get("status"),
        "where": where,
    }


def _report_recorded(ctx, result: dict[str, Any], target: Target, rec: Recorded, reps: int) -> None:
    ctx.ui.print(
        f"recorded {reps} repetition(s) into {target.cid}, point {rec.point} "
        f"(now {rec.repetition} repetition(s)) at {rec.path}"
    )
    result.update(
        experiment=target.cid, path=str(rec.path), point=rec.point, point_repetitions=rec.repetition
    )
    from ckx.experiments.records import tell_redacted

    tell_redacted(ctx.ui, rec.redacted, "not recorded")


# --- one point, run whole and recorded whole (sweeps) ---------------------------------------


@dataclass
class PointResult:
    """The repetitions of one point, as a worker sends them back (JSON-able with :meth:`to_dict`).

    ``files`` holds, per repetition, the kept ``--print_files`` as ``{name: base64 bytes}`` so
    the result travels as one small message; nothing else of the run folder is shipped.
    """

    platform: dict[str, Any]
    where: dict[str, Any]
    repetitions: list[dict[str, Any]] = field(default_factory=list)
    locks: list[dict[str, Any] | None] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "where": self.where,
            "repetitions": self.repetitions,
            "locks": self.locks,
            "files": self.files,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PointResult:
        return cls(
            platform=d["platform"],
            where=d["where"],
            repetitions=list(d.get("repetitions") or []),
            locks=list(d.get("locks") or []),
            files=list(d.get("files") or []),
        )


def run_point(
    ctx: Context,
    run_i: dict[str, Any],
    entry: Entry,
    key: str,
    *,
    repetitions: int,
    print_files: list[str],
    where: dict[str, Any],
) -> PointResult:
    """Run one configuration ``repetitions`` times without recording; raise on the first failure."""
    from ckx import programs
    from ckx.experiments import records as ex

    res = PointResult(platform=ex.platform_info(), where=where)
    for _ in range(repetitions):
        out = programs.run_once(ctx, {**run_i, "want_lock": True}, entry, key)
        res.repetitions.append(_repetition(out, where))
        res.locks.append(out.get("lock"))
        kept = kept_files(ctx, out.get("run_dir"), print_files)
        res.files.append(
            {rel: base64.b64encode(p.read_bytes()).decode() for rel, p in kept.items()}
        )
    return res


def record_point(
    target: Target,
    inputs: dict[str, Any],
    result: PointResult,
    also: Callable[[str, int], None] | None = None,
) -> Recorded:
    """Record every repetition of ``result`` into the point of ``inputs``, in one locked update
    (``also(point_id, repetitions)`` runs inside that lock)."""
    import shutil
    import tempfile

    from ckx.experiments import records as ex

    stage = Path(tempfile.mkdtemp(prefix="ckx-point-"))
    try:
        files: list[dict[str, Path]] = []
        for k, blobs in enumerate(result.files):
            kept: dict[str, Path] = {}
            for rel, b64 in blobs.items():
                dst = stage / f"r{k}" / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(base64.b64decode(b64))
                kept[rel] = dst
            files.append(kept)
        while len(files) < len(result.repetitions):
            files.append({})
        return ex.record_repetitions(
            target.exp_dir,
            name=target.name,
            tags=target.tags,
            inputs=inputs,
            platform=result.platform,
            repetitions=list(zip(result.repetitions, result.locks, files, strict=True)),
            also=also,
        )
    finally:
        shutil.rmtree(stage, ignore_errors=True)
