"""The ``program`` automation: CK's programs with ``run_cmds`` (cmd_keys), run by the engine.

A program entry is a script entry plus ``run_cmds: {KEY: {desc, env, variations}}``. Running
``ckx run program:NAME --cmd_key=KEY`` plans the program as the root node (its deps are
scripts and packages, resolved like any script's) with the cmd_key's env and variations
applied, runs it in a fresh folder (or ``--outdirname``), and prints what the program reports
in its ``characteristics_file``. Running a program is the kernel service
:mod:`ckx.programs`, shared with ``benchmark``, sweeps and the experiment
automation (so the automations never import each other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ckx.core.errors import UsageError
from ckx.programs import (  # noqa: F401  (re-exported: the program API of old)
    build_request,
    choose_cmd_key,
    find_program,
    group_inputs,
    run_once,
    target,
)


def run(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Run a program with a cmd_key; print its summary and the folder of its output files."""
    if _in_container(i):  # --docker: plan here, run the same request with ckx in a container
        from ckx.containers.launch import run_in_container

        return run_in_container(ctx, i, "run")
    entry, i = target(ctx, i)
    key = choose_cmd_key(ctx, entry, i.get("cmd_key"))
    out = run_once(ctx, i, entry, key)
    if "plan_text" in out:  # --plan: printed by the engine, nothing ran
        return out
    summary = (out.get("characteristics") or {}).get("summary_text")
    if summary:
        ctx.ui.print(summary.rstrip())
    if out.get("run_dir"):
        ctx.ui.print(f"output files: {out['run_dir']}")
    return out


def _in_container(i: dict[str, Any]) -> bool:
    from ckx.containers.keys import truthy

    return i.get("docker") is not None and truthy(i["docker"])


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
    """Run N repetitions and print statistics; ``--record`` an experiment point; ``--sweep.KEY=…``
    runs a sweep (see :mod:`ckx.experiments.benchmark` and :mod:`ckx.experiments.sweep`)."""
    if _in_container(i):
        from ckx.containers.launch import run_in_container

        return run_in_container(ctx, i, "benchmark")
    entry, i = target(ctx, i)
    if i.get("sweep") is not None or i.get("sweep_exclude") is not None:
        from ckx.experiments.sweep import run_sweep

        return run_sweep(ctx, i, entry)
    from ckx.experiments.benchmark import benchmark as run_benchmark

    return run_benchmark(ctx, i, entry)


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
        if "," in name:  # a combined variation (`a,b`) applies when both are chosen
            continue
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
        (
            "--docker [--docker_*]",
            "run it in a container built offline from the plan (docs/containers.md)",
        ),
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
