"""The ``program`` automation: CK's programs with ``run_cmds`` (cmd_keys), run by the engine.

A program entry is a script entry plus ``run_cmds: {KEY: {desc, env, variations}}``. Running
``ckx run program:NAME --cmd_key=KEY`` plans the program as the root node (its deps are
scripts and packages, resolved like any script's) with the cmd_key's env and variations
applied, runs it in a fresh folder, and prints what the program reports in its
``characteristics_file``. Running a program is the kernel service
:mod:`ckx.experiments.programs`, shared with ``benchmark`` and the experiment automation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ckx.core.errors import UsageError
from ckx.experiments.programs import (  # noqa: F401  (re-exported: the program API of old)
    build_request,
    choose_cmd_key,
    find_program,
    group_inputs,
    run_once,
)

_program = find_program


def run(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Run a program with a cmd_key; print its summary and the folder of its output files."""
    entry = _program(ctx, i)
    key = choose_cmd_key(ctx, entry, i.get("cmd_key"))
    out = run_once(ctx, i, entry, key)
    if "plan_text" in out:
        ctx.ui.print(out["plan_text"])
        return out
    summary = (out.get("characteristics") or {}).get("summary_text")
    if summary:
        ctx.ui.print(summary.rstrip())
    if out.get("run_dir"):
        ctx.ui.print(f"output files: {out['run_dir']}")
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
    entry = _program(ctx, i)
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
    entry = _program(ctx, i)
    cmds = entry.meta.get("run_cmds") or {}
    for k, v in cmds.items():
        ctx.ui.print(f"{k:<28} {v.get('desc', '')}")
    return {"cmd_keys": list(cmds)}


def benchmark(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Run N repetitions and print statistics; ``--record`` an experiment point; ``--sweep.KEY=…``
    runs a sweep (see :mod:`ckx.experiments.benchmark` and :mod:`ckx.experiments.sweep`)."""
    entry = _program(ctx, i)
    if i.get("sweep") is not None or i.get("sweep_exclude") is not None:
        from ckx.experiments.sweep import run_sweep

        return run_sweep(ctx, i, entry)
    from ckx.experiments.benchmark import benchmark as run_benchmark

    return run_benchmark(ctx, i, entry)
