"""The ``program`` automation: CK's programs with ``run_cmds`` (cmd_keys), run by the engine.

A program entry is a script entry plus ``run_cmds: {KEY: {desc, env, variations}}``. Running
``ckx run program:NAME --cmd_key=KEY`` plans the program as the root node (its deps are
scripts and packages, resolved like any script's) with the cmd_key's env and variations
applied, runs it in a fresh folder (or ``--outdirname``), and prints what the program reports
in its ``characteristics_file``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ckx.core.errors import NotFoundError, UsageError


def _program(ctx, i: dict[str, Any]):
    if i.get("entry"):
        return ctx.load("program", i["entry"], repo=i.get("repo"))
    q = i.get("query")
    hits = ctx.search("program", q) if q is not None and not q.is_empty() else []
    if not hits:
        names = [e.alias for e in ctx.search("program", None)]
        raise UsageError(
            "which program? e.g. ckx run program:od-bench --cmd_key=...",
            hint="programs: " + (", ".join(names) or "(none)"),
        )
    k = ctx.ui.choose(f"{len(hits)} programs match", [e.cid for e in hits], default=0)
    return hits[k]


def target(ctx, i: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The program to run and the request for it: an ``alias_of`` entry (CK's program names,
    e.g. ``mlperf-inference-bench-object-detection-onnx-cpu``) runs its target with its
    ``defaults`` under the user's inputs; ``input_aliases`` (MLCFlow's ``--framework``) become
    the inputs they stand for."""
    entry = _program(ctx, i)
    target_name = entry.meta.get("alias_of")
    if target_name:
        defaults = {k: v for k, v in (entry.meta.get("defaults") or {}).items() if k not in i}
        if defaults:
            shown = " ".join(f"--{k}={v}" for k, v in defaults.items())
            ctx.ui.note(f"program:{entry.alias} is program:{target_name} {shown}")
        entry = ctx.load("program", str(target_name))
        i = {**defaults, **i}
    return entry, _unalias(entry, i)


def _unalias(entry, i: dict[str, Any]) -> dict[str, Any]:
    out = dict(i)
    for alias, name in (entry.meta.get("input_aliases") or {}).items():
        if alias not in out:
            continue
        value = out.pop(alias)
        if name in out and str(out[name]) != str(value):
            raise UsageError(
                f"--{alias}={value} and --{name}={out[name]} disagree (--{alias} is --{name})",
                hint=f"give one of them (program:{entry.alias})",
            )
        out[name] = value
    return out


def choose_cmd_key(ctx, entry, key: str | None) -> str:
    """The cmd_key: given, or picked from CK's numbered menu (interactive only)."""
    cmds = entry.meta.get("run_cmds") or {}
    keys = list(cmds)
    if key:
        if key not in cmds:
            from ckx.core.suggest import did_you_mean

            raise NotFoundError(
                f"program '{entry.alias}' has no cmd_key '{key}'" + did_you_mean(key, keys),
                hint="cmd_keys: " + ", ".join(keys),
            )
        return key
    labels = [f"{k}" + (f"  - {cmds[k]['desc']}" if cmds[k].get("desc") else "") for k in keys]
    k = ctx.ui.choose(
        f"{entry.alias}: select a command (--cmd_key)",
        labels,
        default=None,
        what=f"pass one with --cmd_key, e.g. ckx run program:{entry.alias} --cmd_key={keys[0]}",
    )
    return keys[k]


def build_request(ctx, i: dict[str, Any], entry, key: str) -> dict[str, Any]:
    """The engine request for one run of ``entry`` with cmd_key ``key``."""
    from ckx.core.query import Query, parse

    cmd = entry.meta["run_cmds"][key]
    query = i.get("query") or Query()
    if cmd.get("variations"):
        query = parse(cmd["variations"]).merged(query)
    chosen = group_inputs(entry, i)
    chosen.update(identify_model(ctx, entry, i, chosen, query))
    for value in chosen.values():
        query = query.merged(parse(f"_{value}"))
    env = {**{k: str(v) for k, v in (cmd.get("env") or {}).items()}, **(i.get("env") or {})}
    env["CKX_CMD_KEY"] = key
    return {
        **i,
        "automation": "program",
        "entry": entry.uid,
        "query": query,
        "env": env,
        "cmd_key": key,
    }


def group_inputs(entry, i: dict[str, Any]) -> dict[str, str]:
    """Inputs named after a variation group select a variation: ``--model=ssd-resnet34`` is
    ``_ssd-resnet34`` when the program has a ``model`` group."""
    variations = entry.meta.get("variations") or {}
    groups: dict[str, list[str]] = {}
    for name, v in variations.items():
        if isinstance(v, dict) and v.get("group"):
            groups.setdefault(str(v["group"]), []).append(name)
    out = {}
    for group, names in groups.items():
        value = i.get(group)
        if value in (None, True, ""):
            continue
        if str(value) not in names:
            from ckx.core.suggest import did_you_mean

            raise NotFoundError(
                f"program '{entry.alias}' has no {group} '{value}'"
                + did_you_mean(str(value), names),
                hint=f"--{group}= one of: " + ", ".join(names),
            )
        out[group] = str(value)
    return out


def identify_model(ctx, entry, i: dict[str, Any], chosen: dict[str, str], query) -> dict[str, str]:
    """A model file given without the model (``--model_path`` without ``--model``): pick the
    variation whose ``identify`` block matches the file's ONNX interface (input and output
    names, and the producer where one is declared), or fail naming the choices. With both
    given, check that they agree. See the program meta's ``identify`` block (docs/od-bench.md)."""
    spec = entry.meta.get("identify") or {}
    path = i.get(spec.get("input") or "")
    if not spec or path in (None, True, ""):
        return {}
    group = str(spec["group"])
    given = chosen.get(group) or next(
        (v.name for v in query.variations if _group_of(entry, v.name) == group), None
    )
    cands = {
        name: v["identify"]
        for name, v in (entry.meta.get("variations") or {}).items()
        if isinstance(v, dict) and v.get("group") == group and v.get("identify")
    }
    if not Path(str(path)).expanduser().is_file():
        raise UsageError(f"model file not found: {path}", hint=f"check --{spec['input']}")
    from ckx.artifacts.onnxinfo import read_onnx

    try:
        info = read_onnx(Path(str(path)).expanduser())
    except UsageError:
        if given:
            return {}  # not ONNX (a PyTorch file, say): the user named the model, trust it
        raise UsageError(
            f"cannot tell which model {path} is: it is not an ONNX file",
            hint=f"name it: --{group}=" + " | ".join(_group_names(entry, group)),
        ) from None
    fits = [n for n, b in cands.items() if _fits(b, info)]
    specific = [n for n in fits if cands[n].get("producer")] or fits
    return _identified(ctx, entry, spec, group, given, fits, specific, info, cands, chosen)


def _identified(ctx, entry, spec, group, given, fits, specific, info, cands, chosen):
    where = f"--{spec['input']} {info.path}"
    backend_group, backend = spec.get("backend_group"), (spec.get("formats") or {}).get("onnx")
    picked = chosen.get(backend_group) if backend_group else None
    if backend and picked and picked != backend:
        raise UsageError(
            f"{where} is an ONNX model, but --{backend_group}={picked} was asked for",
            hint=f"use --{backend_group}={backend} for ONNX files",
        )
    if given:
        if given not in fits and given in cands:
            what = f"that of {', '.join(specific)}" if specific else "that of no known model"
            raise UsageError(
                f"{where} does not look like --{group}={given}: its interface ({info.describe()}) is {what}",
                hint=f"--{group}={given} expects {_iface(cands[given])}",
            )
        return {}
    if len(specific) != 1:
        listing = "; ".join(f"{n}: {_iface(b)}" for n, b in cands.items())
        why = "matches several models" if specific else "matches no model od-bench knows"
        raise UsageError(
            f"{where} ({info.describe()}) {why}",
            hint=f"name it with --{group}=NAME ({listing})",
        )
    ctx.ui.note(
        f"{where}: identified as --{group}={specific[0]} from its interface ({info.describe()})"
    )
    return {group: specific[0]}


def _fits(block: dict, info) -> bool:
    return (
        list(block.get("onnx_inputs") or []) == info.input_names()
        and list(block.get("onnx_outputs") or []) == info.output_names()
        and (not block.get("producer") or block["producer"] == info.producer)
    )


def _iface(block: dict) -> str:
    prod = f", producer '{block['producer']}'" if block.get("producer") else ""
    return f"inputs {', '.join(block.get('onnx_inputs') or [])} -> {', '.join(block.get('onnx_outputs') or [])}{prod}"


def _group_of(entry, name: str) -> str | None:
    v = (entry.meta.get("variations") or {}).get(name)
    return v.get("group") if isinstance(v, dict) else None


def _group_names(entry, group: str) -> list[str]:
    return [n for n in entry.meta.get("variations") or {} if _group_of(entry, n) == group]


def run_once(ctx, i: dict[str, Any], entry, key: str) -> dict[str, Any]:
    """Run the program once; return the engine result plus ``run_dir``, ``characteristics``."""
    from ckx.engine import run_request

    req = build_request(ctx, i, entry, key)
    start = time.time()
    out = run_request(ctx, req)
    if "plan_text" in out:
        return out
    elapsed = time.time() - start
    env = out.get("env") or {}
    run_dir = env.get("CKX_RUN_DIR") or env.get("CKX_PROGRAM_RUN_DIR")
    chars: dict[str, Any] = {}
    cf = entry.meta.get("characteristics_file")
    if cf and run_dir and (Path(run_dir) / cf).is_file():
        chars = json.loads((Path(run_dir) / cf).read_text(encoding="utf-8"))
    chars.setdefault("run_time_s", round(elapsed, 3))
    out.update(run_dir=run_dir, characteristics=chars, cmd_key=key, program=entry.cid)
    return out


def run(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Run a program with a cmd_key; print its summary and the folder of its output files."""
    entry, i = target(ctx, i)
    key = choose_cmd_key(ctx, entry, i.get("cmd_key"))
    if i.get("plan"):
        return show_plan(ctx, build_request(ctx, i, entry, key))
    out = run_once(ctx, i, entry, key)
    summary = (out.get("characteristics") or {}).get("summary_text")
    if summary:
        ctx.ui.print(summary.rstrip())
    if out.get("run_dir"):
        ctx.ui.print(f"output files: {out['run_dir']}")
    return out


def show_plan(ctx, req: dict[str, Any]) -> dict[str, Any]:
    """``--plan``: the graph, then which installed (or registered) artefact each node uses and
    what would be fetched. Nothing runs."""
    from ckx.engine import make_plan, make_planner
    from ckx.engine.inputs import check_inputs
    from ckx.engine.installed import artifact_report

    planner, _ = make_planner(ctx, req)
    plan = make_plan(ctx, req, planner)
    check_inputs(plan, req)
    out: dict[str, Any] = {"return": 0, "plan": plan.to_dict(), "plan_text": plan.render()}
    out["artifacts"] = artifact_report(ctx, plan)
    for line in [out["plan_text"], *out["artifacts"]]:
        ctx.ui.print(line)
    return out


def prefetch(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Fetch every artefact a run of the program needs into ``--to=DIR`` (a mirror folder for
    an offline machine: there, ``CKX_MIRROR=DIR`` makes the same run work)."""
    from ckx.artifacts.prepare import prefetch_plan
    from ckx.engine import make_plan

    to = i.get("to")
    if not isinstance(to, str) or not to:
        raise UsageError(
            "missing --to=DIR (the mirror folder)",
            hint="e.g. ckx prefetch program:od-bench --cmd_key=accuracy-offline --model=ssd-resnet34 --to=/mnt/mirror",
        )
    entry, i = target(ctx, i)
    key = choose_cmd_key(ctx, entry, i.get("cmd_key"))
    plan = make_plan(ctx, build_request(ctx, i, entry, key))
    results = prefetch_plan(ctx, plan, Path(to).expanduser())
    dest = Path(to).expanduser().resolve()
    ctx.ui.print(
        f"{len(results)} file(s) for {entry.alias} {key} in {dest}; offline: export CKX_MIRROR={dest}"
    )
    return {"files": [{"path": str(r.path), "sha256": r.sha256, "size": r.size} for r in results]}


def cmd_keys(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """List a program's cmd_keys with their descriptions."""
    entry, i = target(ctx, i)
    cmds = entry.meta.get("run_cmds") or {}
    for k, v in cmds.items():
        ctx.ui.print(f"{k:<28} {v.get('desc', '')}")
    return {"cmd_keys": list(cmds)}


def benchmark(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Run N repetitions and print statistics (``--record``: see the experiment automation)."""
    from ckx.core.automations import load_module

    exp = ctx.automation("experiment")
    if exp.entry is None:
        raise NotFoundError("the experiment automation is missing")
    mod = load_module(exp.entry.path / "module.py", "ckx_automation_experiment")
    entry, i = target(ctx, i)
    return mod.benchmark_program(ctx, i, entry=entry)


def entry_help(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx run program:NAME --help``: cmd_keys, variations by group, inputs with their meaning
    and defaults (``input_description``, ``input_mapping``, ``default_env``), aliases."""
    entry, _ = target(ctx, {k: v for k, v in i.items() if k != "help"})
    meta = entry.meta
    p = ctx.ui.print
    p(f"program:{entry.alias} - {meta.get('name') or entry.alias}")
    if i.get("entry") and i["entry"] not in (entry.alias, entry.uid):
        p(f"  (program:{i['entry']} runs it with: {_defaults_text(ctx, i['entry'])})")
    p("\ncmd_keys (--cmd_key=KEY; a numbered menu when interactive):")
    for key, cmd in (meta.get("run_cmds") or {}).items():
        p(f"  {key:<26} {cmd.get('desc', '')}")
    p("\nvariations (--tags=_NAME, or --GROUP=NAME):")
    for group, names in _groups(meta).items():
        shown = ", ".join(n + (" (default)" if _is_default(meta, n) else "") for n in names)
        p(f"  {group or '(no group)'}: {shown}")
    p("\ninputs (--KEY=VALUE):")
    for key, line in _input_lines(meta).items():
        p(f"  --{key:<16} {line}")
    aliases = meta.get("input_aliases") or {}
    if aliases:
        p("  aliases: " + ", ".join(f"--{a} = --{t}" for a, t in aliases.items()))
    p(
        "\nalso: --env.KEY=VALUE, --outdirname=DIR, --plan, --quiet, --new; "
        f"ckx benchmark program:{entry.alias} --repetitions=N --record ..."
    )
    return {"return": 0, "cmd_keys": list(meta.get("run_cmds") or {}), "inputs": _input_lines(meta)}


def _defaults_text(ctx, name: str) -> str:
    alias = ctx.load("program", name)
    return " ".join(f"--{k}={v}" for k, v in (alias.meta.get("defaults") or {}).items()) or "-"


def _groups(meta: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, v in (meta.get("variations") or {}).items():
        out.setdefault(str(v.get("group") or "") if isinstance(v, dict) else "", []).append(name)
    return out


def _is_default(meta: dict, name: str) -> bool:
    v = (meta.get("variations") or {}).get(name)
    return isinstance(v, dict) and bool(v.get("default"))


def _input_lines(meta: dict) -> dict[str, str]:
    described = meta.get("input_description") or {}
    mapping = meta.get("input_mapping") or {}
    defaults = meta.get("default_env") or {}
    out = {}
    for key in list(described) + [k for k in mapping if k not in described]:
        d = described.get(key) if isinstance(described.get(key), dict) else {}
        text = str(d.get("desc") or "")
        env_key = mapping.get(key)
        default = d.get("default", defaults.get(env_key) if env_key else None)
        if d.get("choices"):
            text += f" [{' | '.join(map(str, d['choices']))}]"
        if default not in (None, ""):
            text += f" (default: {default})"
        if env_key:
            text += f" -> {env_key}"
        out[str(key)] = text.strip()
    return out


_COMMON = {
    "run": [
        ("--cmd_key=KEY", "which command of the program (a numbered menu when interactive)"),
        ("--env.KEY=VALUE", 'set an env value (CK\'s --env.EXTRA_OPS="--count 100")'),
        ("--outdirname=DIR", "write the output files there (default: a fresh folder)"),
        ("--plan", "print what would run, and which installed artefacts it uses"),
        ("--quiet", "no prompts: take the documented defaults"),
    ],
    "benchmark": [
        ("--repetitions=N", "run N times and print statistics"),
        ("--record", "record the runs as an experiment point"),
        ("--record_repo=REPO", "the repository for the experiment (default: local)"),
        ("--record_uoa=NAME", "the experiment's name"),
        ("--tags=a,b", "tags of the experiment"),
        ("--print_files=a,b", "print these output files after each repetition (and keep them)"),
        ("--skip_print_timers / --skip_print_stats", "print less"),
    ],
}


def action_help(ctx, action: str) -> int:
    """``ckx run program --help``: the options of ``action`` and the programs there are."""
    p = ctx.ui.print
    p(f"ckx {action} program:NAME [options]   (ckx {action} program:NAME --help: its own inputs)")
    rows = _COMMON["run"] + (_COMMON["benchmark"] if action == "benchmark" else [])
    for opt, text in rows:
        p(f"  {opt:<40} {text}")
    p(
        "  --KEY=VALUE                              an input of the program (strict: unknown keys fail)"
    )
    p("programs:")
    for e in sorted(ctx.search("program", None), key=lambda e: e.alias):
        what = f"= program:{e.meta['alias_of']}" if e.meta.get("alias_of") else ""
        keys = len(e.meta.get("run_cmds") or {})
        p(f"  {e.alias:<50} {what or f'{keys} cmd_keys'}")
    return 0
