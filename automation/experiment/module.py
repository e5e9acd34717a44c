"""The ``experiment`` automation: record, read, compare, plot, share and replay benchmark results.

``ckx benchmark program:NAME --record`` (the program automation delegates to
:func:`benchmark_program`) runs a program N times and records the repetitions into an
experiment entry; the layout and the statistics are in :mod:`ckx.experiments.records` and
:mod:`ckx.experiments.stats`, the HTML report and charts in :mod:`ckx.experiments.dashboard`, archives in
:mod:`ckx.experiments.repozip`. The generic ``find``/``ls``/``rm``/``load`` work on experiments as on any
entry. See docs/experiments.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ckx.core.errors import NotFoundError, ResolutionError, UsageError

#: Options of ``benchmark`` that are not inputs of the program run.
_BENCH_ONLY = (
    "repetitions",
    "record",
    "record_repo",
    "record_uoa",
    "record_tags",
    "print_files",
    "skip_print_timers",
    "skip_print_stats",
    "tags",
    "help",
)


def _program_module(ctx):
    mod = ctx.automation("program").module
    if mod is None:
        raise NotFoundError("the program automation has no module.py")
    return mod


def _split_query(query):
    """(experiment tags, the program's query): plain tags label the experiment, ``_v`` terms go to the program."""
    from ckx.core.query import Query

    if query is None:
        return [], None
    prog = Query(variations=query.variations, not_variations=query.not_variations)
    return list(query.tags), (None if prog.is_empty() else prog)


def _positive_int(value: Any, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{what} must be a whole number, got {value!r}") from None
    if n < 1:
        raise UsageError(f"--{what} must be at least 1, got {n}")
    return n


def _names(value: Any) -> list[str]:
    if value in (None, "", True, False):
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(x).strip() for x in items if str(x).strip()]


def _kept_files(ctx, run_dir: str | None, names: list[str]) -> dict[str, Path]:
    """The ``--print_files`` that exist in ``run_dir`` (a warning for each missing one)."""
    from ckx.artifacts.archive import safe_member_path

    out: dict[str, Path] = {}
    for name in names:
        try:
            rel = safe_member_path(name)
        except ValueError as e:
            raise UsageError(
                f"--print_files: '{name}' is not a relative path inside the run folder ({e})"
            ) from None
        f = Path(run_dir) / rel if run_dir and rel else None
        if f is None or not f.is_file():
            ctx.ui.warn(f"--print_files: {name} was not written by this run (looked in {run_dir})")
            continue
        out[rel] = f
    return out


def _print_file(ctx, rel: str, path: Path, k: int) -> None:
    ctx.ui.print(f"--- {rel} (repetition {k}) ---")
    ctx.ui.print(path.read_text(encoding="utf-8", errors="replace").rstrip())


def _stats_table(stats: dict[str, dict[str, Any]]):
    from ckx.experiments.records import Table, fmt, is_noise_key

    rows = []
    for k, s in stats.items():
        if is_noise_key(k):
            continue
        if "values" in s:
            rows.append([k, str(s["n"]), "", "", "|".join(map(str, s["values"])), "", "", ""])
        else:
            rp = s.get("range_percent")
            rows.append(
                [
                    k,
                    str(s["n"]),
                    fmt(s["min"]),
                    fmt(s["max"]),
                    fmt(s["mean"]),
                    fmt(s["median"]),
                    fmt(s["stdev"]),
                    "-" if rp is None else f"{rp:.2f}",
                ]
            )
    return Table(header=["key", "n", "min", "max", "mean", "median", "stdev", "range%"], rows=rows)


def benchmark_program(ctx, i: dict[str, Any], entry) -> dict[str, Any]:
    """Run ``entry`` (a program) ``--repetitions`` times; print statistics; ``--record`` them."""
    from ckx.experiments import records as ex
    from ckx.experiments.stats import summarize_records

    prog = _program_module(ctx)
    key = prog.choose_cmd_key(ctx, entry, i.get("cmd_key"))
    reps = _positive_int(i.get("repetitions", 1), "repetitions")
    tags, prog_query = _split_query(i.get("query"))
    tags += [t for t in _names(i.get("record_tags")) if t not in tags]
    run_i = {k: v for k, v in i.items() if k not in _BENCH_ONLY}
    run_i["query"] = prog_query
    inputs = ex.run_inputs(entry, key, run_i)
    record = bool(i.get("record"))
    files = _names(i.get("print_files"))
    name = exp_dir = platform = None
    if record:
        repo = ctx.registry.get(str(i.get("record_repo") or "local"))
        name = str(i.get("record_uoa") or ex.default_name(entry.alias, key))
        if any(c in name for c in "*?[/\\:") or name.startswith("."):
            raise UsageError(
                f"bad experiment name '{name}'", hint="use letters, digits, '-', '_', '.'"
            )
        exp_dir = repo.folder_for("experiment") / name
        platform = ex.platform_info()
        if not i.get("record_uoa"):
            ctx.ui.print(f"experiment name: {name}")
    results, recorded = [], None
    for k in range(1, reps + 1):
        out = prog.run_once(ctx, {**run_i, "want_lock": record}, entry, key)
        if "plan_text" in out:
            ctx.ui.print(out["plan_text"])
            return out
        chars = out.get("characteristics") or {}
        results.append(chars)
        if not i.get("skip_print_timers"):
            ctx.ui.print(
                f"repetition {k}/{reps}: {chars.get('run_time_s', '?')} s  ({out.get('run_dir')})"
            )
        kept = _kept_files(ctx, out.get("run_dir"), files)
        for rel, path in kept.items():
            _print_file(ctx, rel, path, k)
        if record:
            recorded = ex.record_repetition(
                exp_dir,
                name=name,
                tags=tags,
                inputs=inputs,
                platform=platform,
                repetition={
                    "characteristics": chars,
                    "run_dir": out.get("run_dir"),
                    "status": out.get("status"),
                },
                lock=out.get("lock"),
                files=kept,
            )
            ctx.index.invalidate()
    stats = {k: v for k, v in summarize_records(results).items() if not ex.is_noise_key(k)}
    if not i.get("skip_print_stats"):
        ctx.ui.print(_stats_table(stats).text())
    result: dict[str, Any] = {
        "cmd_key": key,
        "program": entry.cid,
        "inputs": inputs,
        "statistics": stats,
        "repetitions": results,
    }
    if recorded is not None:
        repo_alias = ctx.registry.get(str(i.get("record_repo") or "local")).alias
        cid = f"{repo_alias}:experiment:{name}"
        ctx.ui.print(
            f"recorded {reps} repetition(s) into {cid}, point {recorded.point} "
            f"(now {recorded.repetition} repetition(s)) at {recorded.path}"
        )
        result.update(
            experiment=cid,
            path=str(recorded.path),
            point=recorded.point,
            point_repetitions=recorded.repetition,
        )
    return result


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
                ctx.ui.print()
        else:
            ctx.ui.print(head)
        out.append(
            {
                "experiment": e.to_dict(),
                "path": str(e.path),
                "points": [{"id": p.id, **p.data} for p in points],
                "table": {"header": table.header, "rows": table.rows} if points else None,
            }
        )
    return {"experiments": out}


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

    cols = []
    for e in _experiments(ctx, i):
        pts = _points(e)
        if i.get("point"):
            pts = [p for p in pts if p.id.startswith(str(i["point"]))]
        for p in pts:
            cols.append((e.alias if len(pts) == 1 else f"{e.alias}@{p.id[:6]}", p))
    if len(cols) < 2:
        raise UsageError(
            "compare needs at least two recorded points",
            hint="e.g. ckx compare experiment:A experiment:B (or one experiment with several points)",
        )
    diffs, metrics = ex.compare_table(cols, _stat(i), only_changed=bool(i.get("only_changed")))
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

    x = ctx.require(
        i.get("x"), "--x=KEY", "ckx plot experiment:NAME --x=cmd_key --y=samples_per_second"
    )
    ys = _names(
        ctx.require(
            i.get("y"), "--y=KEY", "ckx plot experiment:NAME --x=cmd_key --y=latency_ns.p50"
        )
    )
    exps = _experiments(ctx, i)
    series = [(e.alias, _points(e)) for e in exps]
    if not any(p for _, p in series):
        raise NotFoundError("the matching experiments have no recorded points")
    out = Path(str(_out(i) or f"plot-{exps[0].alias}.png")).expanduser()
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {out}")
    info = plot_points(
        series, x=str(x), ys=ys, out=out, stat=_stat(i), title=str(i.get("title") or "")
    )
    ctx.ui.print(f"wrote {out.resolve()}")
    return {"path": str(out.resolve()), **info}


def dashboard(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Write a static HTML report of every experiment; ``--serve`` also serves it on 127.0.0.1."""
    from ckx.experiments.dashboard import build, serve

    out = Path(str(_out(i) or ctx.home / "dashboard")).expanduser().resolve()
    exps = ctx.search("experiment", i.get("query"), repo=i.get("repo"), name=i.get("entry"))
    info = build(out, [(e, _points(e)) for e in exps])
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
    import json
    import tempfile

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
    inp = point.inputs
    program = ctx.load("program", inp.get("program_uid") or inp["program"])
    from ckx.core.query import parse

    req = {
        **(inp.get("inputs") or {}),
        "env": dict(inp.get("env") or {}),
        "query": parse(",".join(inp.get("variations") or [])) if inp.get("variations") else None,
        "want_lock": True,
        "quiet": i.get("quiet"),
    }
    prog = _program_module(ctx)
    with tempfile.TemporaryDirectory(prefix="ckx-replay-") as tmp:
        lf = Path(tmp) / "ckx.lock"
        lf.write_text(json.dumps(lock), encoding="utf-8")
        # the engine refuses (ResolutionError) a graph that no longer matches the lock
        out = prog.run_once(ctx, {**req, "lock": str(lf)}, program, inp["cmd_key"])
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
        rec = ex.record_repetition(
            e.path,
            name=e.alias,
            tags=[],
            inputs=inp,
            platform=ex.platform_info(),
            repetition={
                "characteristics": chars,
                "run_dir": out.get("run_dir"),
                "status": out.get("status"),
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
        result["recorded_point"] = rec.point
    return result


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
