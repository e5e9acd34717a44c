"""Sweeps: one benchmark over the cartesian product of input values, recorded as one experiment.

    ckx benchmark program:od-bench --cmd_key=performance-offline \\
        --sweep.max_batchsize=1,2,4 --sweep.threads=1:8:x2 --repetitions=3 \\
        --record --record_uoa=NAME [--jobs=2 | --executor=ray] [--plan] [--resume]

A swept key is anything a single ``benchmark`` takes as one configuration: a program input
(``threads``, ``max_batchsize``, ``count``), a variation group (``model``, ``backend``),
``cmd_key``, or ``env.NAME``. Values are text, as the command line passes them: ``a,b,c``;
``A:B`` / ``A:B:S`` (A to B, step S, B included when hit); ``A:B:xK`` (A, A*K, ... up to B);
each comma item may be a range. In ``@sweep.yaml`` a key's value may be a list, and
``sweep_exclude`` lists partial configurations to leave out (``{model: ssd-resnet34,
max_batchsize: [4, 8]}``); on the command line ``--sweep_exclude="k=v|v2,k2=v;k=v"``.

Each configuration is one *point*, keyed exactly as a single ``benchmark`` of that
configuration keys it (:func:`ckx.experiments.records.run_inputs`), so separate runs and
sweeps land on the same points. A point's repetitions are run whole by an executor
(:mod:`ckx.experiments.executors`) and recorded whole by the driver; a failed point is noted
as failed with its error in ``sweeps/<id>.json`` beside the points and does not stop the
sweep; ``--resume`` runs only the configurations that have no point with enough repetitions.
"""

from __future__ import annotations

import copy
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ckx.core.errors import NotFoundError, RunError, UsageError

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.entries import Entry
    from ckx.experiments.benchmark import Target

#: LoadGen scenarios whose result is a latency: points running side by side would skew it.
LATENCY_SCENARIOS = ("SingleStream", "MultiStream", "Server")
SWEEP_LAYOUT = 1
MAX_CONFIGURATIONS = 10000
_RANGE = re.compile(r"^(-?\d+):(-?\d+)(?::(x?)(\d+))?$")


@dataclass
class Axis:
    """One swept key and its values (text, in the order given)."""

    key: str
    values: list[str]


@dataclass
class Config:
    """One configuration of a sweep: its swept values and the request of its point."""

    n: int
    values: dict[str, str]
    cmd_key: str
    run_i: dict[str, Any] = field(repr=False)
    inputs: dict[str, Any] = field(repr=False)
    digest: str = ""
    scenario: str | None = None

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values.items())


@dataclass
class Sweep:
    """The expanded sweep: axes, exclusions and the configurations left."""

    entry: Entry
    axes: list[Axis]
    exclude: list[dict[str, list[str]]]
    configs: list[Config]
    excluded: int

    @property
    def id(self) -> str:
        from ckx.experiments.records import canonical_digest

        return canonical_digest(sorted(c.digest for c in self.configs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "program": self.entry.alias,
            "program_uid": self.entry.uid,
            "axes": {a.key: a.values for a in self.axes},
            "exclude": self.exclude,
        }


# --- the values of a swept key ---------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value).strip()
    raise UsageError(f"a sweep value must be text or a number, got {value!r}")


def _range(key: str, m: re.Match) -> list[str]:
    a, b = int(m.group(1)), int(m.group(2))
    times, step = m.group(3) == "x", int(m.group(4) or 1)
    where = f"--sweep.{key}={m.group(0)}"
    if b < a:
        raise UsageError(f"{where}: the range ends before it starts", hint="write A:B with A <= B")
    if times and (step < 2 or a < 1):
        raise UsageError(f"{where}: a range A:B:xK needs A >= 1 and K >= 2")
    if step < 1:
        raise UsageError(f"{where}: the step must be at least 1")
    out: list[str] = []
    v = a
    while v <= b and len(out) <= MAX_CONFIGURATIONS:
        out.append(str(v))
        v = v * step if times else v + step
    return out


def parse_values(key: str, spec: Any) -> list[str]:
    """The values of ``--sweep.KEY=SPEC`` (or a list from a file), in order, without repeats."""
    if spec in (None, True, "") or spec == []:
        raise UsageError(f"--sweep.{key} has no values", hint=f"e.g. --sweep.{key}=1,2,4")
    out: list[str] = []
    items = spec if isinstance(spec, list) else [x for x in _text(spec).split(",")]
    for item in items:
        text = _text(item)
        m = _RANGE.match(text) if not isinstance(spec, list) else None
        for v in _range(key, m) if m else [text]:
            if v == "":
                raise UsageError(f"--sweep.{key}: an empty value in {spec!r}")
            if v in out:
                raise UsageError(f"--sweep.{key}: the value {v} is given twice")
            out.append(v)
    return out


def _flatten(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"env": {"X": "1,2"}}`` -> ``{"env.X": "1,2"}`` (nested keys come from --sweep.env.X)."""
    out: dict[str, Any] = {}
    for k, v in spec.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def sweepable_keys(entry: Entry) -> list[str]:
    """What a sweep of ``entry`` may vary (besides ``env.NAME``)."""
    from ckx.programs import variation_groups

    return ["cmd_key", *variation_groups(entry), *(entry.meta.get("input_mapping") or {})]


def _check_key(entry: Entry, key: str, i: dict[str, Any]) -> None:
    allowed = sweepable_keys(entry)
    if key.startswith("env.") and len(key) > 4:
        if key[4:] in (i.get("env") or {}):
            raise UsageError(f"{key} is both fixed (--{key}=...) and swept (--sweep.{key}=...)")
        return
    if key not in allowed:
        from ckx.core.suggest import did_you_mean

        raise NotFoundError(
            f"program '{entry.alias}' has no input '{key}' to sweep" + did_you_mean(key, allowed),
            hint="sweepable: " + ", ".join(allowed) + ", env.NAME",
        )
    if i.get(key) not in (None, ""):
        raise UsageError(f"{key} is both fixed (--{key}=...) and swept (--sweep.{key}=...)")


def parse_axes(entry: Entry, i: dict[str, Any]) -> list[Axis]:
    """The swept keys of the request, checked against what the program takes."""
    spec = i.get("sweep")
    if not isinstance(spec, dict) or not spec:
        raise UsageError(
            "--sweep needs at least one key: --sweep.KEY=VALUES",
            hint="e.g. --sweep.threads=1,2,4 (or sweep: {threads: [1, 2, 4]} in @sweep.yaml)",
        )
    axes = []
    for key, values in _flatten(spec).items():
        _check_key(entry, key, i)
        axes.append(Axis(key, parse_values(key, values)))
    return axes


def parse_exclusions(spec: Any, axes: list[Axis]) -> list[dict[str, list[str]]]:
    """``sweep_exclude``: a list of ``{key: value or [values]}`` or ``"k=v|v2,k2=v;k=v"``."""
    if spec in (None, "", []):
        return []
    if isinstance(spec, str):
        rules: list[Any] = []
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            pairs = [c.split("=", 1) for c in part.split(",")]
            if any(len(p) != 2 for p in pairs):
                raise UsageError(
                    f"--sweep_exclude: '{part}' is not KEY=VALUE[,KEY=VALUE]",
                    hint='e.g. --sweep_exclude="model=ssd-resnet34,max_batchsize=4|8;threads=1"',
                )
            rules.append({k.strip(): v.split("|") for k, v in pairs})
    else:
        rules = spec if isinstance(spec, list) else [spec]
    swept = {a.key: a.values for a in axes}
    out = []
    for rule in rules:
        if not isinstance(rule, dict) or not rule:
            raise UsageError(f"sweep_exclude: {rule!r} is not a mapping of swept keys to values")
        norm = {}
        for k, v in _flatten(rule).items():
            if k not in swept:
                raise UsageError(
                    f"sweep_exclude names '{k}', which is not swept",
                    hint="swept: " + ", ".join(swept),
                )
            norm[k] = [_text(x) for x in (v if isinstance(v, list) else [v])]
        out.append(norm)
    return out


# --- configurations ------------------------------------------------------------------------------


def config_digest(inputs: dict[str, Any]) -> str:
    """The identity of a configuration without the machine (a point id also has the machine)."""
    from ckx.experiments.records import canonical_digest

    return canonical_digest({k: v for k, v in inputs.items() if k != "program"})


def _scenario(entry: Entry, key: str, run_i: dict[str, Any]) -> str | None:
    """The LoadGen scenario a configuration runs (request env, mapped input, cmd_key env)."""
    name = "CKX_LOADGEN_SCENARIO"
    if (run_i.get("env") or {}).get(name):
        return str(run_i["env"][name])
    for inp, env_key in (entry.meta.get("input_mapping") or {}).items():
        if env_key == name and run_i.get(inp) not in (None, ""):
            return str(run_i[inp])
    value = ((entry.meta.get("run_cmds") or {}).get(key, {}).get("env") or {}).get(name)
    return None if value is None else str(value)


def _config(ctx: Context, entry: Entry, base: dict[str, Any], values: dict[str, str], n: int):
    from ckx import programs
    from ckx.experiments.records import run_inputs

    run_i = copy.deepcopy({k: v for k, v in base.items() if k != "query"})
    run_i["query"] = base.get("query")
    for k, v in values.items():
        if k.startswith("env."):
            run_i["env"] = {**(run_i.get("env") or {}), k[4:]: v}
        else:
            run_i[k] = v
    key = programs.choose_cmd_key(ctx, entry, run_i.get("cmd_key"))
    run_i["cmd_key"] = key
    programs.group_inputs(entry, run_i)  # an unknown --model value fails before anything runs
    inputs = run_inputs(entry, key, run_i)
    return Config(
        n=n,
        values=values,
        cmd_key=key,
        run_i=run_i,
        inputs=inputs,
        digest=config_digest(inputs),
        scenario=_scenario(entry, key, run_i),
    )


def expand(ctx: Context, i: dict[str, Any], entry: Entry) -> Sweep:
    """Every configuration of the sweep in ``i`` (checked, exclusions applied, numbered from 1)."""
    from ckx.experiments.benchmark import BENCH_ONLY, split_query

    axes = parse_axes(entry, i)
    exclude = parse_exclusions(i.get("sweep_exclude"), axes)
    total = 1
    for a in axes:
        total *= len(a.values)
    if total > MAX_CONFIGURATIONS:
        raise UsageError(f"the sweep has {total} configurations (at most {MAX_CONFIGURATIONS})")
    _, prog_query = split_query(i.get("query"))
    base = {k: v for k, v in i.items() if k not in BENCH_ONLY}
    base["query"] = prog_query
    if "cmd_key" not in {a.key for a in axes}:
        base["cmd_key"] = _base_cmd_key(ctx, entry, i)
    configs: list[Config] = []
    excluded, used = 0, [0] * len(exclude)
    for combo in itertools.product(*(a.values for a in axes)):
        values = dict(zip((a.key for a in axes), combo, strict=True))
        hit = [k for k, r in enumerate(exclude) if all(values[x] in vs for x, vs in r.items())]
        for k in hit:
            used[k] += 1
        if hit:
            excluded += 1
            continue
        configs.append(_config(ctx, entry, base, values, len(configs) + 1))
    for k, n in enumerate(used):
        if n == 0:
            ctx.ui.warn(f"sweep_exclude {exclude[k]} excludes no configuration")
    if not configs:
        raise UsageError("the exclusions leave no configuration to run")
    return Sweep(entry, axes, exclude, configs, excluded)


def _base_cmd_key(ctx: Context, entry: Entry, i: dict[str, Any]) -> str:
    from ckx.programs import choose_cmd_key

    return choose_cmd_key(ctx, entry, i.get("cmd_key"))


# --- what is recorded already ------------------------------------------------------------------


@dataclass
class Status:
    """Where one configuration stands: ``missing``, ``incomplete`` (fewer repetitions than
    asked), ``running``, ``done`` or ``failed``."""

    status: str = "missing"
    point: str | None = None
    repetitions: int = 0
    where: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    seconds: float | None = None
    time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def sweep_file(exp_dir, sweep_id: str):
    """Where a sweep's configurations and their status live: ``<experiment>/sweeps/<id>.json``."""
    return exp_dir / "sweeps" / f"{sweep_id}.json"


def load_sweeps(exp_dir) -> list[dict[str, Any]]:
    """Every sweep document recorded in the experiment at ``exp_dir``, oldest first."""
    import json
    from pathlib import Path

    base = Path(exp_dir) / "sweeps"
    docs = []
    for f in sorted(base.glob("*.json")) if base.is_dir() else []:
        docs.append(json.loads(f.read_text(encoding="utf-8")))
    return sorted(docs, key=lambda d: d.get("created") or "")


def recorded_status(target: Target | None, sweep: Sweep, reps: int) -> dict[int, Status]:
    """Each configuration's status from the points already recorded (any machine) and the
    sweep's previous document (failures)."""
    import json

    from ckx.experiments.records import load_points

    out = {c.n: Status() for c in sweep.configs}
    if target is None or not target.exp_dir.is_dir():
        return out
    have: dict[str, tuple[str, int]] = {}
    for p in load_points(target.exp_dir):
        d = config_digest(p.inputs)
        if len(p.repetitions) >= have.get(d, ("", -1))[1]:
            have[d] = (p.id, len(p.repetitions))
    f = sweep_file(target.exp_dir, sweep.id)
    before = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}
    prev = {c.get("config"): c for c in before.get("configurations") or []}
    for c in sweep.configs:
        st, old = out[c.n], prev.get(c.digest) or {}
        st.point, st.repetitions = have.get(c.digest, (None, 0))
        st.attempts = int(old.get("attempts") or 0)
        if st.repetitions >= reps:
            st.status, st.where = "done", old.get("where")
        elif old.get("status") == "failed":
            st.status, st.error, st.where = "failed", old.get("error"), old.get("where")
        elif st.repetitions:
            st.status = "incomplete"
    return out


# --- executors and the latency rule -----------------------------------------------------------


def make_executor(ctx: Context, i: dict[str, Any], sweep: Sweep):
    """The executor ``i`` asks for, after the checks that keep measurements honest."""
    from ckx.experiments.benchmark import positive_int

    name = str(i.get("executor") or "local")
    if name not in ("local", "ray"):
        raise UsageError(f"unknown --executor={name}", hint="--executor=local (default) or ray")
    if name == "ray":
        if i.get("jobs") is not None:
            raise UsageError(
                "--jobs applies to --executor=local",
                hint="on Ray the cluster's free resources decide; size points with --ray_resources",
            )
        return _ray_executor(ctx, i, sweep)
    for opt in ("ray_address", "ray_resources", "ray_retries"):
        if i.get(opt) is not None:
            raise UsageError(f"--{opt} applies to --executor=ray")
    jobs = positive_int(i.get("jobs", 1), "jobs")
    latency = _latency_points(sweep)
    if jobs > 1 and latency and not i.get("force"):
        raise UsageError(
            f"--jobs={jobs} would run {latency[0].scenario} points side by side on this machine: "
            "their latencies would measure the contention between points, not the system "
            f"(points {', '.join(str(c.n) for c in latency)})",
            hint="run latency scenarios with --jobs=1, or add --force to accept skewed latencies",
        )
    from ckx.experiments.executors import LocalExecutor

    return LocalExecutor(ctx, jobs)


def _latency_points(sweep: Sweep) -> list[Config]:
    return [c for c in sweep.configs if c.scenario in LATENCY_SCENARIOS]


def _ray_executor(ctx: Context, i: dict[str, Any], sweep: Sweep):
    from ckx.experiments.ray_executor import RayExecutor

    retries = i.get("ray_retries", 1)
    try:
        retries = int(retries)
    except (TypeError, ValueError):
        raise UsageError(f"--ray_retries must be a whole number, got {retries!r}") from None
    if retries < 0:
        raise UsageError("--ray_retries must be 0 or more")
    ex = RayExecutor(i.get("ray_address"), i.get("ray_resources"), retries)
    latency = _latency_points(sweep)
    if latency and i.get("ray_resources") is None and not i.get("force"):
        ctx.ui.warn(
            f"{latency[0].scenario} points may share a Ray node (each reserves 1 CPU): their "
            "latencies would measure the contention; give each point a whole node with "
            "--ray_resources=CPU=<cores per node> (docs/scale-out.md)"
        )
    return ex


# --- running ---------------------------------------------------------------------------------


class SweepRun:
    """The driver's state while points run: statuses, the sweep document, progress lines."""

    def __init__(self, ctx: Context, sweep: Sweep, target: Target | None, reps: int, i, executor):
        from ckx.experiments.benchmark import names

        self.ctx = ctx
        self.sweep = sweep
        self.target = target
        self.reps = reps
        self.executor = executor
        self.resume = bool(i.get("resume"))
        self.print_files = names(i.get("print_files"))
        self.status = recorded_status(target, sweep, reps)
        self.by_n = {c.n: c for c in sweep.configs}
        self.results: dict[int, Any] = {}  # n -> PointResult (kept for the summary)
        self.started: dict[int, float] = {}
        self.todo: list[Config] = []
        self.created = _now()
        self.redacted: set[str] = set()  # secret-looking keys the points did not record

    def select(self) -> list[Config]:
        """The configurations to run: all, or with ``--resume`` those not done."""
        self.todo = [
            c for c in self.sweep.configs if not self.resume or self.status[c.n].status != "done"
        ]
        return self.todo

    def payloads(self) -> list[dict[str, Any]]:
        from ckx.experiments.worker import payload_for

        out = []
        for c in self.todo:
            have = self.status[c.n].repetitions if self.resume else 0
            out.append(
                payload_for(
                    self.sweep.entry,
                    c.cmd_key,
                    c.run_i,
                    n=c.n,
                    repetitions=max(1, self.reps - have),
                    print_files=self.print_files,
                )
            )
        return out

    def on_start(self, n: int) -> None:
        self.started[n] = time.time()
        st = self.status[n]
        st.status, st.attempts = "running", st.attempts + 1

    def on_done(self, n: int, answer: dict[str, Any]) -> None:
        cfg, st = self.by_n[n], self.status[n]
        # the point's own run time when the worker measured it (not its time in a queue)
        st.seconds = answer.get("seconds") or round(
            time.time() - self.started.get(n, time.time()), 3
        )
        st.time = _now()
        if answer.get("ok"):
            self._done(cfg, st, answer["result"])
        else:
            st.status, st.error = "failed", answer.get("error")
            st.where = answer.get("where")
            self._save()
        self.ctx.ui.print(self.progress_line(cfg, st))

    def _done(self, cfg: Config, st: Status, result: dict[str, Any]) -> None:
        from ckx.experiments.benchmark import PointResult, record_point

        res = PointResult.from_dict(result)
        st.status, st.error, st.where = "done", None, res.where
        self.results[cfg.n] = res
        if self.target is None:
            return

        def note(pid: str, reps: int) -> None:  # inside the experiment's lock, with the point
            st.point, st.repetitions = pid, reps
            self._write_doc()

        self.redacted.update(record_point(self.target, cfg.inputs, res, also=note).redacted)
        self.ctx.index.invalidate()

    # -- the sweep document ---------------------------------------------------------------------
    def doc(self) -> dict[str, Any]:
        configs = []
        for c in self.sweep.configs:
            st = self.status[c.n].to_dict()
            if st.get("status") == "running":
                st["status"] = "missing"  # a reader after a crash sees it as not run
            configs.append(
                {"n": c.n, "values": c.values, "cmd_key": c.cmd_key, "config": c.digest, **st}
            )
        return {
            "ckx_sweep": SWEEP_LAYOUT,
            "id": self.sweep.id,
            "created": self.created,
            "updated": _now(),
            **self.sweep.to_dict(),
            "repetitions": self.reps,
            "executor": self.executor.name,
            "configurations": configs,
        }

    def _write_doc(self) -> None:
        """Write the sweep document (the caller holds the experiment's lock)."""
        import json

        from ckx.core import atomic

        assert self.target is not None
        f = sweep_file(self.target.exp_dir, self.sweep.id)
        if f.is_file():
            self.created = json.loads(f.read_text(encoding="utf-8")).get("created") or self.created
        f.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(f, json.dumps(self.doc(), indent=1, default=str) + "\n")

    def _save(self) -> None:
        from ckx.experiments.records import ensure_experiment, experiment_lock

        if self.target is None:
            return
        t = self.target
        with experiment_lock(t.exp_dir, f"record sweep {self.sweep.id} into {t.name}"):
            ensure_experiment(t.exp_dir, t.name, t.tags, self.sweep.entry.alias)
            self._write_doc()
        self.ctx.index.invalidate()

    # -- progress -------------------------------------------------------------------------------
    def progress_line(self, cfg: Config, st: Status) -> str:
        todo = {c.n for c in self.todo}
        done = sum(1 for n in todo if self.status[n].status == "done")
        failed = sum(1 for n in todo if self.status[n].status == "failed")
        left = len(todo) - done - failed
        secs = [
            self.status[n].seconds or 0.0
            for n in todo
            if self.status[n].status in ("done", "failed")
        ]
        slots = max(1, getattr(self.executor, "jobs", getattr(self.executor, "slots", 1)))
        eta = sum(secs) / len(secs) * left / min(slots, left) if secs and left else 0.0
        where = (st.where or {}).get("hostname") or "?"
        if (st.where or {}).get("node_id"):
            where = f"{where} node {str(st.where['node_id'])[:8]}"  # type: ignore[index]
        what = "done  " if st.status == "done" else "FAILED"
        tail = f" · ~{_duration(eta)} left" if left else ""
        msg = f": {str(st.error.get('message')).splitlines()[0]}" if st.error else ""
        return (
            f"[{done + failed}/{len(todo)}] {what} #{cfg.n} {cfg.label()}  {st.seconds:.1f} s on "
            f"{where}{msg} · done {done}, failed {failed}, remaining {left}{tail}"
        )


def _now() -> str:
    from ckx.experiments.records import now_iso

    return now_iso()


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


# --- --plan and the summary ------------------------------------------------------------------


def _needs(ctx: Context, sweep: Sweep, cfg: Config) -> str:
    """What the configuration's plan would install or build here (not cached), as text."""
    from ckx.core.errors import CkxError
    from ckx.engine import make_plan
    from ckx.programs import build_request

    try:
        plan = make_plan(ctx, build_request(ctx, cfg.run_i, sweep.entry, cfg.cmd_key))
    except CkxError as e:
        return f"cannot plan: {e.message}"
    now: list[str] = []
    later: list[str] = []
    for node in plan.root.walk():
        for edge in node.edges:
            n = edge.node
            if n is None or edge.skipped or n.status != "run" or not n.cacheable:
                continue
            (later if edge.deferred else now).append(n.title())
    text = ", ".join(dict.fromkeys(now)) or "nothing"
    if later:
        text += " (decided when reached: " + ", ".join(dict.fromkeys(later)) + ")"
    return text


def _config_rows(run: SweepRun, extra: dict[int, list[str]]) -> Any:
    from ckx.experiments.records import Table

    keys = [a.key for a in run.sweep.axes]
    rows = []
    for c in run.sweep.configs:
        st = run.status[c.n]
        state = st.status + (f" ({st.repetitions}/{run.reps} rep)" if st.repetitions else "")
        rows.append(
            [
                str(c.n),
                *(c.values[k] for k in keys),
                state,
                (st.point or "-")[:8],
                *extra.get(c.n, []),
            ]
        )
    return keys, rows, Table


def print_plan(ctx: Context, run: SweepRun) -> dict[str, Any]:
    """``--plan``: the configurations, the number of runs, what each needs that is not here."""
    todo = run.select()
    needs = {c.n: _needs(ctx, run.sweep, c) for c in todo}
    same = len(set(needs.values())) == 1
    keys, rows, Table = _config_rows(run, {} if same else {n: [v] for n, v in needs.items()})
    runs = sum(p["repetitions"] for p in run.payloads())
    ctx.ui.print(_headline(run, len(todo), runs))
    header = ["#", *keys, "status", "point"] + ([] if same else ["needs (not installed here)"])
    rows = [r + ([] if same or int(r[0]) in needs else ["(done)"]) for r in rows]
    ctx.ui.print(Table(header=header, rows=rows).text())
    if same and needs:
        ctx.ui.print(f"each configuration needs (not installed here): {next(iter(needs.values()))}")
    return {
        "sweep": run.sweep.id,
        "configurations": [
            {"n": c.n, "values": c.values, **run.status[c.n].to_dict()} for c in run.sweep.configs
        ],
        "to_run": [c.n for c in todo],
        "runs": runs,
        "needs": needs,
    }


def _headline(run: SweepRun, n_todo: int, runs: int) -> str:
    s = run.sweep
    excl = f", {s.excluded} excluded" if s.excluded else ""
    skip = len(s.configs) - n_todo
    done = f"; {skip} already recorded (--resume)" if skip else ""
    return (
        f"sweep {s.id[:8]} of {s.entry.alias}: {len(s.configs)} configuration(s){excl} "
        f"x {run.reps} repetition(s); {n_todo} to run = {runs} run(s){done}; "
        f"executor: {run.executor.describe()}"
    )


def _headline_metric(stats: list[dict[str, dict[str, Any]]]) -> str | None:
    keys: dict[str, None] = {}
    for st in stats:
        keys.update((k, None) for k, s in st.items() if "mean" in s and k != "run_time_s")
    for k in ("samples_per_second", "mAP", "latency_ns.p90"):
        if k in keys:
            return k
    return next(iter(keys), None)


def _point_stats(run: SweepRun) -> dict[int, dict[str, dict[str, Any]]]:
    """Each configuration's statistics: its recorded point's (all its repetitions), else
    those of this run's answer (a sweep without --record)."""
    from ckx.experiments.records import load_points, statistics_of

    out = {n: statistics_of(r.repetitions) for n, r in run.results.items()}
    if run.target is not None and run.target.exp_dir.is_dir():
        recorded = {p.id: p.statistics for p in load_points(run.target.exp_dir)}
        for n, st in run.status.items():
            if st.point in recorded:
                out[n] = recorded[st.point]  # type: ignore[index]
    return out


def print_summary(ctx: Context, run: SweepRun) -> None:
    """The table of every configuration: status, point, headline metric, where it ran."""
    from ckx.experiments.records import fmt

    stats = _point_stats(run)
    metric = _headline_metric(list(stats.values()))
    extra = {}
    for c in run.sweep.configs:
        value = (stats.get(c.n) or {}).get(metric or "", {}).get("mean")
        cells = [fmt(value) if value is not None else ""] if metric else []
        extra[c.n] = [*cells, _where(run.status[c.n].where)]
    keys, rows, Table = _config_rows(run, extra)
    header = ["#", *keys, "status", "point", *([f"{metric} (mean)"] if metric else []), "where"]
    ctx.ui.print(Table(header=header, rows=rows).text())


def _where(w: dict[str, Any] | None) -> str:
    if not w:
        return ""
    node = f" node {str(w['node_id'])[:8]}" if w.get("node_id") else ""
    return f"{w.get('executor')}{node} {w.get('hostname') or ''}".strip()


def run_sweep(ctx: Context, i: dict[str, Any], entry: Entry) -> dict[str, Any]:
    """Run (or with ``--plan`` only show) the sweep of request ``i`` over program ``entry``."""
    from ckx.experiments.benchmark import names, positive_int, record_target, split_query

    sweep = expand(ctx, i, entry)
    reps = positive_int(i.get("repetitions", 1), "repetitions")
    executor = make_executor(ctx, i, sweep)
    if i.get("resume") and not (i.get("record") and i.get("record_uoa")):
        raise UsageError(
            "--resume completes a recorded sweep: it needs --record and --record_uoa=NAME",
            hint="repeat the sweep's command line with --resume added",
        )
    tags, _ = split_query(i.get("query"))
    tags += [t for t in names(i.get("record_tags")) if t not in tags]
    target = None
    if i.get("record"):
        target = record_target(ctx, i, entry, sweep.configs[0].cmd_key, tags)
    run = SweepRun(ctx, sweep, target, reps, i, executor)
    if i.get("plan"):
        return print_plan(ctx, run)
    todo = run.select()
    if hasattr(executor, "connect"):
        executor.connect()
    payloads = run.payloads()
    ctx.ui.print(_headline(run, len(todo), sum(p["repetitions"] for p in payloads)))
    run._save()
    if payloads:
        executor.run(payloads, run.on_start, run.on_done)
    print_summary(ctx, run)
    return _finish(ctx, run, target)


def _finish(ctx: Context, run: SweepRun, target: Target | None) -> dict[str, Any]:
    failed = [c for c in run.todo if run.status[c.n].status == "failed"]
    where = f" into {target.cid}" if target else ""
    ok = len(run.todo) - len(failed)
    ctx.ui.print(f"sweep {run.sweep.id[:8]}: {ok} point(s) recorded{where}, {len(failed)} failed")
    from ckx.experiments.records import tell_redacted

    tell_redacted(ctx.ui, sorted(run.redacted), "not recorded")
    result = {
        "sweep": run.sweep.id,
        "experiment": target.cid if target else None,
        "path": str(target.exp_dir) if target else None,
        "configurations": [
            {"n": c.n, "values": c.values, "config": c.digest, **run.status[c.n].to_dict()}
            for c in run.sweep.configs
        ],
        "ran": [c.n for c in run.todo],
        "failed": [c.n for c in failed],
        "redacted": sorted(run.redacted),
    }
    if failed:
        first = failed[0]
        err = run.status[first.n].error or {}
        raise RunError(
            f"{len(failed)} of {len(run.todo)} sweep point(s) failed, recorded as failed"
            f"{where}; #{first.n} ({first.label()}): {err.get('message')}",
            hint="fix the cause, then run the same command with --resume "
            "(only missing or failed points run again)",
        )
    return result
