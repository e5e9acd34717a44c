"""The ``experiment`` automation: read, compare, plot, share and replay benchmark results.

``ckx benchmark program:NAME --record`` (the kernel service :mod:`ckx.experiments.benchmark`,
sweeps in :mod:`ckx.experiments.sweep`) runs a program N times and records the repetitions
into an experiment entry; the layout and the statistics are in :mod:`ckx.experiments.records` and
:mod:`ckx.experiments.stats`, the HTML report and charts in :mod:`ckx.experiments.dashboard`, archives in
:mod:`ckx.experiments.repozip`. The generic ``find``/``ls``/``rm``/``load`` work on experiments as on any
entry. See docs/experiments.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ckx.core.errors import NotFoundError, ResolutionError, UsageError
from ckx.experiments.benchmark import names as _names
from ckx.experiments.records import tell_redacted
from ckx.experiments.replaysafe import safe_replay

# --- reading ------------------------------------------------------------------------------


def _experiments(ctx, i: dict[str, Any], *, need: bool = True):
    """The experiment entries named by the CID (a pattern works), ``--tags`` and extra args."""
    from ckx.core.cid import parse_cid

    names = [(i.get("entry"), i.get("repo"))] if i.get("entry") or not i.get("args") else []
    for a in i.get("args") or []:
        c = parse_cid(str(a)) if ":" in str(a) else None
        names.append((c.entry, c.repo) if c else (str(a), None))
    out, seen = [], set()
    for name, repo in names:
        hits = ctx.search("experiment", i.get("query"), repo=repo, name=name)
        if not hits and name and not any(ch in name for ch in "*?["):
            raise ctx.not_found("experiment", name, repo=repo)
        for e in hits:
            if e.uid not in seen:
                seen.add(e.uid)
                out.append(e)
    if not out and need:
        raise NotFoundError("no experiments match", hint="list them with: ckx ls experiment")
    return out


def _points(e):
    from ckx.experiments.records import load_points

    return load_points(e.path)


def _out(i: dict[str, Any]) -> str | None:
    """``--out`` on the command line; ``output`` through ``ckx.access`` (where ``out`` picks the output mode)."""
    v = i.get("output") or i.get("out")
    return None if v in (None, "", True) else str(v)


def _stat(i: dict[str, Any]) -> str:
    return str(i.get("stat") or "mean")


def show(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Print each matching experiment's points as a table (keys as rows, points as columns)."""
    from ckx.experiments import records as ex

    stat = _stat(i)
    columns = _names(i.get("columns"))
    out = []
    for e in _experiments(ctx, i):
        points = ex.sort_points(_points(e), i.get("sort_by"), stat)
        nrep = sum(len(p.repetitions) for p in points)
        head = (
            f"experiment {e.cid}  tags: {','.join(e.tags) or '-'}  "
            f"{len(points)} point(s), {nrep} repetition(s)"
        )
        if points:
            table = ex.points_table(
                points, stat=stat, only_changed=bool(i.get("only_changed")), columns=columns
            )
            if i.get("csv"):
                ctx.ui.print(
                    ex.raw_table(
                        points, stat=stat, only_changed=bool(i.get("only_changed")), columns=columns
                    )
                    .csv()
                    .rstrip()
                )
            else:
                ctx.ui.print(f"## {head}\n" if i.get("md") else head)
                ctx.ui.print(table.markdown() if i.get("md") else table.text())
                for line in _sweep_lines(e, points, stat):
                    ctx.ui.print(line)
                ctx.ui.print()
        else:
            ctx.ui.print(head)
        out.append(
            {
                "experiment": e.to_dict(),
                "path": str(e.path),
                "points": [{"id": p.id, **p.data} for p in points],
                "table": {"header": table.header, "rows": table.rows} if points else None,
                "sweeps": _sweeps(e),
            }
        )
    return {"experiments": out}


def _sweeps(e) -> list[dict[str, Any]]:
    from ckx.experiments.sweep import load_sweeps

    return load_sweeps(e.path)


def _sweep_lines(e, points, stat: str) -> list[str]:
    """For an experiment with several points: each sweep's status, and the best point of the
    headline metrics (by the swept values when there are any)."""
    from ckx.experiments import sweepview as sv
    from ckx.experiments.records import fmt

    if len(points) < 2:
        return sv.status_lines(e.path)
    keys = sv.swept_keys(e.path, points)
    lines = sv.status_lines(e.path)
    for k in ("samples_per_second", "latency_ns.p90", "mAP"):
        b = sv.best(points, k, stat)
        if b is not None:
            lines.append(
                f"best {k} ({stat}): {fmt(b.values(stat).get(k))} at {sv.label(b, keys)} "
                f"(point {b.id[:8]})"
            )
    return lines


def points(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """List the points of the matching experiments."""
    rows = []
    for e in _experiments(ctx, i):
        for p in _points(e):
            rows.append(
                {
                    "experiment": e.cid,
                    "point": p.id,
                    "repetitions": len(p.repetitions),
                    "cmd_key": p.inputs.get("cmd_key"),
                    "updated": p.data.get("updated"),
                }
            )
            ctx.ui.print(
                f"{e.cid}  {p.id}  {len(p.repetitions):>3} rep  {p.inputs.get('cmd_key')}  "
                f"{p.data.get('updated')}"
            )
    return {"points": rows}


def compare(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Metrics of the points of several experiments side by side; ratios to the first one."""
    from ckx.experiments import records as ex
    from ckx.experiments import sweepview as sv

    cols, swept = [], False
    exps = _experiments(ctx, i)
    for e in exps:
        pts = _points(e)
        if i.get("point"):
            pts = [p for p in pts if p.id.startswith(str(i["point"]))]
        keys = sv.swept_keys(e.path, pts) if len(pts) > 1 else []
        for p in pts:
            if keys:  # a sweep: its points by their swept values
                name, swept = sv.label(p, keys), True
                cols.append((name if len(exps) == 1 else f"{e.alias}@{name}", p))
            else:
                cols.append((e.alias if len(pts) == 1 else f"{e.alias}@{p.id[:6]}", p))
    if len(cols) < 2:
        raise UsageError(
            "compare needs at least two recorded points",
            hint="e.g. ckx compare experiment:A experiment:B (or one experiment with several points)",
        )
    diffs, metrics = ex.compare_table(cols, _stat(i), only_changed=bool(i.get("only_changed")))
    metrics = sv.mark_best(metrics, [p for _, p in cols], [lab for lab, _ in cols], _stat(i))
    if swept:
        metrics, diffs = sv.number_columns(metrics, len(cols)), sv.number_columns(diffs, len(cols))
    if i.get("md"):
        ctx.ui.print(metrics.markdown())
    elif i.get("csv"):
        ctx.ui.print(metrics.csv().rstrip())
    else:
        ctx.ui.print(metrics.text())
    ctx.ui.print()
    if diffs.rows:
        ctx.ui.print("inputs that differ:")
        ctx.ui.print(diffs.markdown() if i.get("md") else diffs.text())
    else:
        ctx.ui.print("inputs that differ: none (same configuration)")
    return {
        "columns": [label for label, _ in cols],
        "metrics": {"header": metrics.header, "rows": metrics.rows},
        "inputs_differ": {"header": diffs.header, "rows": diffs.rows},
    }


def plot(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """A PNG chart of ``--y`` (one or more keys) against ``--x`` over the matching experiments' points."""
    from ckx.experiments.dashboard import plot_points

    ys = _names(
        ctx.require(
            i.get("y"), "--y=KEY", "ckx plot experiment:NAME --x=cmd_key --y=latency_ns.p50"
        )
    )
    exps = _experiments(ctx, i)
    if not any(_points(e) for e in exps):
        raise NotFoundError("the matching experiments have no recorded points")
    x, series = _plot_series(ctx, i, exps)
    out = Path(str(_out(i) or f"plot-{exps[0].alias}.png")).expanduser()
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {out}")
    info = plot_points(
        series,
        x=str(x),
        ys=ys,
        out=out,
        stat=_stat(i),
        title=str(i.get("title") or ""),
        highlight_best=True,
    )
    ctx.ui.print(f"wrote {out.resolve()}")
    return {"path": str(out.resolve()), **info}


def _plot_series(ctx, i: dict[str, Any], exps) -> tuple[str, list]:
    """(x key, series): a sweep draws against a swept key (``--x``, else the first numeric
    one), one series per combination of its other swept keys; otherwise one per experiment."""
    from ckx.experiments import sweepview as sv
    from ckx.experiments.records import resolve_key

    everything = [p for e in exps for p in _points(e)]
    keys = {e.alias: sv.swept_keys(e.path, _points(e)) for e in exps}
    x = i.get("x")
    if x in (None, "", True):
        x = next((sv.pick_x(_points(e), keys[e.alias]) for e in exps if keys[e.alias]), None)
    x = ctx.require(x, "--x=KEY", "ckx plot experiment:NAME --x=cmd_key --y=samples_per_second")
    xk = resolve_key(everything, str(x), _stat(i))
    series = []
    for e in exps:
        name = e.alias if len(exps) > 1 else ""
        if xk in keys[e.alias]:
            series += sv.series(name, _points(e), xk, keys[e.alias])
        else:
            series.append((e.alias, _points(e)))
    return xk, series


def dashboard(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Write a static HTML report of every experiment; ``--serve`` also serves it on 127.0.0.1."""
    from ckx.experiments.dashboard import build, serve

    out = Path(str(_out(i) or ctx.home / "dashboard")).expanduser().resolve()
    exps = ctx.search("experiment", i.get("query"), repo=i.get("repo"), name=i.get("entry"))
    info = build(out, [(e, _points(e)) for e in exps])
    tell_redacted(ctx.ui, info["redacted"], "hidden in the dashboard")
    ctx.ui.print(
        f"dashboard: file://{info['index']}  ({len(exps)} experiment(s), {info['plots']} plot(s))"
    )
    if i.get("serve"):
        serve(
            out, host=str(i.get("host") or "127.0.0.1"), port=int(i.get("port") or 8000), ui=ctx.ui
        )
    return info


def zip(ctx, i: dict[str, Any]) -> dict[str, Any]:  # noqa: A001  (the CK verb)
    """Write the matching experiments to a repo-fragment archive (``ckr.zip`` by default)."""
    from ckx.experiments.repozip import zip_entries

    exps = _experiments(ctx, i)
    out = Path(str(_out(i) or i.get("zip") or "ckr.zip")).expanduser()
    info = zip_entries(exps, out, source=None)
    tell_redacted(ctx.ui, info["redacted"], "redacted in the archive")
    ctx.ui.print(
        f"wrote {out.resolve()}: {len(exps)} entr{'y' if len(exps) == 1 else 'ies'}, {info['files']} files"
    )
    return info


# --- replay -------------------------------------------------------------------------------


def _check_artifacts(ctx, lock: dict[str, Any], where: str) -> None:
    """Refuse when an entry of the recorded plan is gone or its meta/scripts changed since."""
    from ckx.engine.lockfile import _file_digests, meta_digest

    for n in lock.get("nodes") or []:
        hits = [e for e in ctx.search(None, None, name=n.get("uid")) if e.uid == n.get("uid")]
        if not hits:
            raise ResolutionError(
                f"cannot replay {where}: {n.get('cid')} (uid {n.get('uid')}) no longer exists",
                hint="restore that entry (e.g. ckx pull repo ...) or record a new point",
            )
        e = hits[0]
        if n.get("meta_sha256") and n["meta_sha256"] != meta_digest(e.meta):
            raise ResolutionError(
                f"cannot replay {where}: {e.cid} changed since it was recorded "
                f"(meta sha256 {meta_digest(e.meta)[:12]}, recorded {n['meta_sha256'][:12]})",
                hint=f"restore {e.meta_file}, or record a new point with ckx benchmark",
            )
        if n.get("files") is not None and n["files"] != _file_digests(e.path):
            now = _file_digests(e.path)
            changed = sorted(
                f for f in set(now) | set(n["files"]) if now.get(f) != n["files"].get(f)
            )
            raise ResolutionError(
                f"cannot replay {where}: {e.cid} changed since it was recorded "
                f"({', '.join(changed)} differ)",
                hint="restore those files, or record a new point with ckx benchmark",
            )


def _plan_differences(old: dict[str, Any], new: dict[str, Any] | None) -> list[str]:
    if not new:
        return []
    want = {n["path"]: n for n in old.get("nodes") or []}
    out = []
    for n in new.get("nodes") or []:
        o = want.get(n["path"])
        if o is None:
            continue  # the recorded plan stopped at a cached parent; the entries under it are checked below
        for k in ("uid", "variations", "version"):
            if o.get(k) != n.get(k):
                out.append(f"{n['path']} ({n.get('cid')}): {k} {o.get(k)!r} -> {n.get(k)!r}")
    return out


def replay(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Re-run a recorded point with its recorded plan; print new vs recorded; ``--record`` adds it."""
    from ckx.experiments import records as ex

    exps = _experiments(ctx, i)
    if len(exps) > 1:
        raise UsageError("replay one experiment at a time: " + ", ".join(e.cid for e in exps))
    e = exps[0]
    point = ex.find_point(_points(e), i.get("point"), e.cid)
    where = f"point {point.id} of {e.cid}"
    lock = point.latest_lock()
    if lock is None:
        raise NotFoundError(f"{where} has no recorded plan (lock) to replay")
    _check_artifacts(ctx, lock, where)
    out = _rerun(ctx, e, point, lock, i)
    diffs = _plan_differences(lock, out.get("lock"))
    for d in diffs:
        ctx.ui.warn(f"the plan differs from the recorded one: {d}")
    chars = out.get("characteristics") or {}
    rows = _replay_rows(point, chars, _stat(i))
    ctx.ui.print(f"replayed {where}")
    ctx.ui.print(rows.text())
    result: dict[str, Any] = {
        "experiment": e.cid,
        "point": point.id,
        "characteristics": chars,
        "plan_differences": diffs,
        "table": {"header": rows.header, "rows": rows.rows},
    }
    if i.get("record"):
        result["recorded_point"] = _record_replay(ctx, e, point, out)
    return result


def _rerun(ctx, e, point, lock: dict[str, Any], i: dict[str, Any]) -> dict[str, Any]:
    """Run the point's configuration again, pinned to its recorded plan ``lock``; recorded
    paths are data, never run (:func:`ckx.experiments.replaysafe.safe_replay`)."""
    import json
    import tempfile

    from ckx.core.query import parse
    from ckx.programs import run_once

    inp = point.inputs
    program = ctx.load("program", inp.get("program_uid") or inp["program"])
    given = {k: v for k, v in i.items() if k in (inp.get("inputs") or {})}  # redacted ones
    env, program_inputs, lock = safe_replay(ctx, e, inp, lock, i.get("env"), given)
    req = {
        **program_inputs,
        "env": env,
        "query": parse(",".join(inp.get("variations") or [])) if inp.get("variations") else None,
        "want_lock": True,
        "quiet": i.get("quiet"),
    }
    with tempfile.TemporaryDirectory(prefix="ckx-replay-") as tmp:
        lf = Path(tmp) / "ckx.lock"
        lf.write_text(json.dumps(lock), encoding="utf-8")
        # the engine refuses (ResolutionError) a graph that no longer matches the lock
        return run_once(ctx, {**req, "lock": str(lf)}, program, inp["cmd_key"])


def _record_replay(ctx, e, point, out: dict[str, Any]) -> str:
    """Record a replay as a repetition (of the same point, or of this machine's point)."""
    from ckx.experiments import records as ex
    from ckx.experiments.benchmark import where_local

    rec = ex.record_repetition(
        e.path,
        name=e.alias,
        tags=[],
        inputs=point.inputs,
        platform=ex.platform_info(),
        repetition={
            "characteristics": out.get("characteristics") or {},
            "run_dir": out.get("run_dir"),
            "status": out.get("status"),
            "where": where_local(),
            "replay": True,
        },
        lock=out.get("lock"),
        files={},
    )
    ctx.index.invalidate()
    where_now = (
        "the same point" if rec.point == point.id else f"point {rec.point} (another machine)"
    )
    ctx.ui.print(f"recorded as repetition {rec.repetition} of {where_now}")
    return rec.point


def _replay_rows(point, chars: dict[str, Any], stat: str):
    from ckx.experiments.records import Table, cell, fmt, is_noise_key
    from ckx.experiments.stats import flatten, is_number

    new = flatten(chars)
    rows = []
    for k, s in point.statistics.items():
        if is_noise_key(k):
            continue
        v = new.get(k)
        old = s.get(stat) if "values" not in s else None
        ratio = f"{v / old:.3f}x" if is_number(v) and is_number(old) and old != 0 else ""
        rows.append([k, cell(point, k, stat), fmt(v), ratio])
    return Table(header=["key", f"recorded ({stat})", "new", "new/recorded"], rows=rows)
