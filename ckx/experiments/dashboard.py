"""Looking at experiments: PNG charts (matplotlib, imported only here and only when drawing) and a
static HTML dashboard that opens from ``file://`` without a server.

The dashboard folder is self-contained: ``index.html``, ``plots/*.png`` and ``files/`` (copies
of the files recorded with ``--print_files``), so it can be copied or zipped as it is. It is
built in a temp folder and swapped in, so a reader never sees half of it.
"""

from __future__ import annotations

import html
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ckx.core.errors import ConflictError, UsageError, missing_extra
from ckx.experiments.records import points_table, resolve_key
from ckx.experiments.stats import is_number

MARKER = ".ckx-dashboard"


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise missing_extra("matplotlib", "plot", "plots") from None
    matplotlib.use("Agg")  # no display: render to files only
    import matplotlib.pyplot as plt

    return plt


def _scale(keys: list[str]) -> tuple[float, str]:
    """Nanosecond keys are drawn in milliseconds."""
    if keys and all(k.endswith("_ns") or "_ns." in k for k in keys):
        return 1e-6, " (ms)"
    return 1.0, ""


def plot_points(
    series: list[tuple[str, list]],
    *,
    x: str,
    ys: list[str],
    out: Path | str,
    stat: str = "mean",
    title: str = "",
    highlight_best: bool = False,
) -> dict[str, Any]:
    """Draw ``ys`` against ``x`` for each (label, points) series into the PNG ``out``.

    A numeric ``x`` gives lines with min-max error bars; any other ``x`` gives grouped bars
    (one bar per series and y key) with the same error bars. ``highlight_best`` marks the
    best point of each y key that has a direction (a star; see ``sweepview.direction``).
    """
    everything = [p for _, pts in series for p in pts]
    if not everything:
        raise UsageError("nothing to plot: no recorded points")
    xk = resolve_key(everything, x, stat)
    yks = [resolve_key(everything, y, stat) for y in ys]
    factor, unit = _scale(yks)
    numeric_x = all(is_number(_number(p.values(stat).get(xk))) for p in everything)
    best = _best_points(everything, yks, stat) if highlight_best else {}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        if numeric_x:
            _lines(ax, series, xk, yks, stat, factor, best)
            _x_ticks(ax, sorted({float(_number(p.values(stat).get(xk))) for p in everything}))
        else:
            _bars(ax, series, xk, yks, stat, factor, best)
        ax.set_xlabel(xk)
        ax.set_ylabel(", ".join(yks) + unit if len(yks) == 1 else f"value{unit}")
        ax.set_title(title or f"{', '.join(yks)} by {xk}")
        ax.grid(True, axis="y", alpha=0.3)
        if len(series) * len(yks) > 1:
            ax.legend(fontsize="small")
        fig.tight_layout()
        from ckx.core import atomic

        with atomic.replacing(out) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return {
        "x": xk,
        "y": yks,
        "points": len(everything),
        "series": len(series),
        "best": {k: p.id for k, p in best.items()},
    }


def _legend(label: str, yk: str, nseries: int, nys: int) -> str:
    """A series' legend: its label when there are several series, the y key when several."""
    parts = [label] if nseries > 1 or nys == 1 else []
    return " ".join(t for t in (*parts, yk if nys > 1 else "") if t)


def _x_ticks(ax, xs: list[float]) -> None:
    """Ticks at the swept values; a log2 axis for a range that doubles (1:64:x2)."""
    if len(xs) >= 3 and xs[0] > 0 and xs[-1] / xs[0] >= 8:
        ax.set_xscale("log", base=2)
    if len(xs) <= 16:
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{x:g}" for x in xs])


def _number(v: Any) -> Any:
    """Swept inputs are text (``"4"``); drawn along x they are numbers."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _best_points(points, yks: list[str], stat: str) -> dict[str, Any]:
    from ckx.experiments.sweepview import best

    out = {}
    for yk in yks:
        b = best(points, yk, stat)
        if b is not None:
            out[yk] = b
    return out


def _star(ax, x: Any, y: float | None) -> None:
    if y is None:
        return
    ax.plot([x], [y], marker="*", markersize=16, color="gold", markeredgecolor="black", zorder=5)


def _yerr(p, k: str, stat: str, factor: float) -> tuple[float | None, float, float]:
    s = p.stat_of(k) or {}
    v = p.values(stat).get(k)
    if not is_number(v):
        return None, 0.0, 0.0
    lo = (v - s["min"]) * factor if is_number(s.get("min")) else 0.0
    hi = (s["max"] - v) * factor if is_number(s.get("max")) else 0.0
    return v * factor, max(lo, 0.0), max(hi, 0.0)


def _lines(ax, series, xk: str, yks: list[str], stat: str, factor: float, best=None) -> None:
    for label, pts in series:
        for yk in yks:
            rows = sorted(
                (_number(p.values(stat)[xk]), *_yerr(p, yk, stat, factor))
                for p in pts
                if _yerr(p, yk, stat, factor)[0] is not None
            )
            b = (best or {}).get(yk)
            if b is not None and b in pts:
                _star(ax, _number(b.values(stat)[xk]), _yerr(b, yk, stat, factor)[0])
            if not rows:
                continue
            xs, vs, lo, hi = zip(*rows, strict=True)
            name = _legend(label, yk, len(series), len(yks))
            ax.errorbar(xs, vs, yerr=[lo, hi], marker="o", capsize=3, label=name)


def _bars(ax, series, xk: str, yks: list[str], stat: str, factor: float, best=None) -> None:
    cats: list[str] = []
    for _, pts in series:
        for p in pts:
            c = str(p.values(stat).get(xk))
            if c not in cats:
                cats.append(c)
    groups = [(label, yk, pts) for label, pts in series for yk in yks]
    width = 0.8 / max(len(groups), 1)
    for g, (label, yk, pts) in enumerate(groups):
        vals, lo, hi = [0.0] * len(cats), [0.0] * len(cats), [0.0] * len(cats)
        for p in pts:
            v, a, b = _yerr(p, yk, stat, factor)
            if v is not None:
                at = cats.index(str(p.values(stat).get(xk)))
                vals[at], lo[at], hi[at] = v, a, b
        xs = [c + (g - (len(groups) - 1) / 2) * width for c in range(len(cats))]
        top = (best or {}).get(yk)
        if top is not None and top in pts:
            at = cats.index(str(top.values(stat).get(xk)))
            _star(ax, xs[at], vals[at] + hi[at])
        name = _legend(label, yk, len(series), len(yks))
        ax.bar(xs, vals, width=width, yerr=[lo, hi], capsize=3, label=name)
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels(
        cats, rotation=15 if max(map(len, cats), default=0) > 12 else 0, fontsize="small"
    )


# --- the HTML report -------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}.muted{color:#777;font-size:.85em}
"""

#: Reports in the page whether every chart loaded (what a person would see as broken images).
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var s = document.getElementById('ckx-status');
  s.textContent = 'images loaded: ' + ok + '/' + imgs.length;
  s.setAttribute('data-images-ok', ok); s.setAttribute('data-images', imgs.length);
});
"""


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _html_table(table) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in table.header)
    body = []
    for r in table.rows:
        cells = []
        for k, v in enumerate(r):
            num = k > 0 and is_number(_num(v.split(" ")[0]))
            cells.append(f'<td class="num">{_esc(v)}</td>' if num else f"<td>{_esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _num(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return None


def _headline_plots(points) -> list[tuple[str, list[str]]]:
    """(title, y keys) of the charts worth drawing for these points."""
    keys = [k for p in points for k, s in p.statistics.items() if "values" not in s]
    have = set(keys)

    def numeric(k: str) -> bool:
        return any(is_number(p.values().get(k)) for p in points)

    out = []
    if "samples_per_second" in have and numeric("samples_per_second"):
        out.append(("Throughput (samples/s)", ["samples_per_second"]))
    lat = [
        k
        for k in ("latency_ns.p50", "latency_ns.p90", "latency_ns.p99")
        if k in have and numeric(k)
    ]
    if lat:
        out.append(("Latency percentiles", lat))
    if "mAP" in have and numeric("mAP"):
        out.append(("Accuracy (mAP)", ["mAP"]))
    if len(out) < 2:  # a program with other figures of merit: chart the first of them too
        used = {k for _, ys in out for k in ys} | {"run_time_s"}
        first = next(
            (
                k
                for k in dict.fromkeys(keys)
                if k not in used and not k.startswith("latency_ns.") and numeric(k)
            ),
            None,
        )
        if first:
            out.append((first, [first]))
    return out


def _x_key(points) -> str:
    """The key that tells the points apart best: cmd_key, else a changed input, else the id."""
    vals = [p.values() for p in points]
    keys = [
        "cmd_key",
        *(k for k in points[0].input_keys() if not k.startswith(("platform.", "program"))),
    ]
    for k in keys:
        if len({repr(v.get(k)) for v in vals}) == len(points):
            return k
    return "point"


def _chart_series(entry, points) -> tuple[str, list]:
    """A sweep is drawn against its first numeric swept key, one series per combination of
    the other swept keys; other experiments against the key that tells their points apart."""
    from ckx.experiments import sweepview as sv

    keys = sv.swept_keys(entry.path, points)
    xk = sv.pick_x(points, keys)
    if xk is None:
        return _x_key(points), [(entry.alias, points)]
    return xk, sv.series("", points, xk, keys)


def _sweep_status(entry) -> list[str]:
    from ckx.experiments.sweepview import status_lines

    return status_lines(entry.path)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _experiment_section(entry, points, root: Path) -> tuple[str, int]:
    anchor = _safe(entry.alias)
    nrep = sum(len(p.repetitions) for p in points)
    parts = [
        f'<h2 id="{_esc(anchor)}">{_esc(entry.alias)}</h2>',
        f'<p class="muted">{_esc(entry.cid)} · tags: {_esc(", ".join(entry.tags) or "-")} · '
        f"{len(points)} point(s), {nrep} repetition(s) · {_esc(entry.meta.get('updated', ''))}</p>",
    ]
    if not points:
        return "\n".join(parts + ["<p>No recorded points.</p>"]), 0
    parts.append(_html_table(points_table(points)))
    parts += [f'<p class="muted">{_esc(line)}</p>' for line in _sweep_status(entry)]
    nplots = 0
    xk, series = _chart_series(entry, points)
    for k, (title, ys) in enumerate(_headline_plots(points)):
        rel = f"plots/{anchor}-{k}.png"
        info = plot_points(
            series,
            x=xk,
            ys=ys,
            out=root / rel,
            title=f"{entry.alias}: {title}",
            highlight_best=True,
        )
        star = "; star: the best point" if info["best"] else ""
        parts.append(
            f'<figure><img src="{_esc(rel)}" alt="{_esc(title)} of {_esc(entry.alias)}">'
            f'<figcaption class="muted">{_esc(title)} by {_esc(xk)}; bars: mean, whiskers: min-max'
            f"{star}</figcaption></figure>"
        )
        nplots += 1
    parts.append(_files_list(entry, points, root, anchor))
    return "\n".join(parts), nplots


def _files_list(entry, points, root: Path, anchor: str) -> str:
    items = []
    for p in points:
        src = p.path / "files"
        dst = root / "files" / anchor / _safe(p.id)
        for f in copy_regular_files(src, dst, inside=entry.path):
            rel = f.relative_to(root).as_posix()
            label = f.relative_to(dst).as_posix()
            items.append(f'<li><a href="{_esc(rel)}">{_esc(p.id[:8])}/{_esc(label)}</a></li>')
    if not items:
        return ""
    return "<h3>Recorded files</h3><ul>" + "".join(items) + "</ul>"


def copy_regular_files(src: Path, dst: Path, *, inside: Path) -> list[Path]:
    """Copy the regular files under ``src`` to ``dst``; return the copies, sorted.

    Links are never followed nor copied (a link may point anywhere: at a private file, or at
    a folder above it, which makes a loop), and nothing is read unless its real path is inside
    ``inside`` (the experiment entry). What the dashboard publishes is what the entry holds."""
    import stat

    root = os.path.realpath(inside)
    real = os.path.realpath(src)
    if os.path.islink(src) or not (real == root or real.startswith(root + os.sep)):
        return []
    if not os.path.isdir(src):
        return []
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(src):  # followlinks=False: links are not entered
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            f = os.path.join(dirpath, name)
            try:
                st = os.lstat(f)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue  # a link, a FIFO, a device: never read
            target = dst / os.path.relpath(f, src)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:  # O_NOFOLLOW: a file swapped for a link since the lstat is not read either
                fd = os.open(f, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                continue
            with os.fdopen(fd, "rb") as fin, open(target, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            out.append(target)
    return out


def build(out: Path | str, experiments: list[tuple[Any, list]]) -> dict[str, Any]:
    """Write the dashboard of ``experiments`` ((entry, points) pairs) into the folder ``out``."""
    out = Path(out)
    if out.exists() and not (out / MARKER).exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConflictError(
            f"{out} exists and is not a ckx dashboard; not overwriting it",
            hint="pass --out=ANOTHER_DIR",
        )
    experiments, hidden = _redacted(experiments)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.urandom(3).hex()}")
    tmp.mkdir()
    try:
        (tmp / "plots").mkdir()
        sections, nplots = [], 0
        for entry, points in experiments:
            text, n = _experiment_section(entry, points, tmp)
            sections.append(text)
            nplots += n
        (tmp / "index.html").write_text(_page(experiments, sections), encoding="utf-8")
        (tmp / MARKER).write_text("made by ckx dashboard\n", encoding="utf-8")
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {
        "path": str(out),
        "index": str(out / "index.html"),
        "experiments": len(experiments),
        "plots": nplots,
        "redacted": hidden,
    }


def _redacted(experiments: list[tuple[Any, list]]) -> tuple[list[tuple[Any, list]], list[str]]:
    """The points with secret-looking env values hidden (a dashboard is made to be shown)."""
    from ckx.experiments.records import Point, redact

    out, hidden = [], set()
    for entry, points in experiments:
        clean = []
        for p in points:
            data, names = redact(p.data)
            hidden.update(names)
            clean.append(Point(id=p.id, path=p.path, data=data))
        out.append((entry, clean))
    return out, sorted(hidden)


def _swap(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.urandom(3).hex()}")
        os.rename(out, old)
    os.rename(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _page(experiments, sections: list[str]) -> str:
    rows = []
    for entry, points in experiments:
        nrep = sum(len(p.repetitions) for p in points)
        rows.append(
            f'<tr><td><a href="#{_esc(_safe(entry.alias))}">{_esc(entry.alias)}</a></td>'
            f"<td>{_esc(entry.repo)}</td><td>{_esc(', '.join(entry.tags))}</td>"
            f'<td class="num">{len(points)}</td><td class="num">{nrep}</td>'
            f"<td>{_esc(entry.meta.get('updated', ''))}</td></tr>"
        )
    summary = (
        "<table><thead><tr><th>experiment</th><th>repo</th><th>tags</th><th>points</th>"
        "<th>repetitions</th><th>updated</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        if rows
        else "<p>No experiments recorded yet: <code>ckx benchmark program:NAME --record</code></p>"
    )
    made = time.strftime("%Y-%m-%d %H:%M:%S %z")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>ckx experiments</title><style>{_CSS}</style></head><body>\n"
        f'<h1>ckx experiments</h1><p class="muted">{len(experiments)} experiment(s) · made {_esc(made)} '
        f'by <code>ckx dashboard</code> · <span id="ckx-status">images: not checked</span></p>\n'
        f"{summary}\n" + "\n".join(sections) + f"\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )


def serve(
    root: Path | str, *, host: str = "127.0.0.1", port: int = 8000, ui=None, ready=None
) -> None:
    """Serve ``root`` over HTTP on ``host:port`` until interrupted (port 0: any free port).

    ``ready(url)`` is called once the socket listens (tests use it); the URL is printed too.
    """
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the stdlib's name)
            if ui is not None:
                ui.info("dashboard: " + format % args)

    handler = functools.partial(Quiet, directory=str(root))
    with ThreadingHTTPServer((host, int(port)), handler) as httpd:
        url = f"http://{host}:{httpd.server_address[1]}/index.html"
        if ui is not None:
            ui.note(f"serving {root} at {url} (Ctrl-C stops)")
        if ready is not None:
            ready(url)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
