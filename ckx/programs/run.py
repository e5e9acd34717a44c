"""Running a program once: the kernel service behind ``ckx run program``, ``benchmark``,
sweeps and ``replay`` (the ``program`` and ``experiment`` automations both call it, so
neither imports the other).

A program entry is a script entry plus ``run_cmds: {KEY: {desc, env, variations}}`` and,
optionally, ``characteristics_file``. A run plans the program as the root node with the
cmd_key's env and variations applied and runs it in a fresh folder (``CKX_RUN_DIR``).

**The characteristics convention.** When the meta names a ``characteristics_file``, ckx sets
``CKX_CHARACTERISTICS_FILE`` to that name for the run; the program writes one JSON object to
``$CKX_RUN_DIR/$CKX_CHARACTERISTICS_FILE`` (its working folder is ``CKX_RUN_DIR``, so the
relative name works as it is), and that object is the run's characteristics. A run that
succeeds without writing it is an error: a benchmark never records an empty result.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core.errors import NotFoundError, RunError, UsageError
from ckx.programs.identify import identify_model

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.entries import Entry

#: The variable that tells a program where to write its characteristics (relative to its run folder).
CHARACTERISTICS_ENV = "CKX_CHARACTERISTICS_FILE"


def find_program(ctx: Context, i: dict[str, Any]) -> Entry:
    """The program named by the request (``entry``), or picked among those its tags match."""
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


def target(ctx: Context, i: dict[str, Any]) -> tuple[Entry, dict[str, Any]]:
    """The program to run and the request for it: an ``alias_of`` entry (CK's program names,
    e.g. ``mlperf-inference-bench-object-detection-onnx-cpu``) runs its target with its
    ``defaults`` under the user's inputs; ``input_aliases`` (MLCFlow's ``--framework``) become
    the inputs they stand for."""
    entry = find_program(ctx, i)
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


def choose_cmd_key(ctx: Context, entry: Entry, key: str | None) -> str:
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


def variation_groups(entry: Entry) -> dict[str, list[str]]:
    """The program's variation groups: ``{"model": ["ssd-shapes", ...], "backend": [...]}``."""
    groups: dict[str, list[str]] = {}
    for name, v in (entry.meta.get("variations") or {}).items():
        if isinstance(v, dict) and v.get("group"):
            groups.setdefault(str(v["group"]), []).append(name)
    return groups


def group_inputs(entry: Entry, i: dict[str, Any]) -> dict[str, str]:
    """Inputs named after a variation group select a variation: ``--model=ssd-resnet34`` is
    ``_ssd-resnet34`` when the program has a ``model`` group."""
    out = {}
    for group, names in variation_groups(entry).items():
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


def build_request(ctx: Context, i: dict[str, Any], entry: Entry, key: str) -> dict[str, Any]:
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
    if entry.meta.get("characteristics_file"):
        env[CHARACTERISTICS_ENV] = str(entry.meta["characteristics_file"])
    return {
        **i,
        "automation": "program",
        "entry": entry.uid,
        "query": query,
        "env": env,
        "cmd_key": key,
    }


def read_characteristics(entry: Entry, run_dir: str | None) -> dict[str, Any]:
    """What the run wrote to its characteristics file (``{}`` when the program declares none)."""
    name = entry.meta.get("characteristics_file")
    if not name:
        return {}
    path = Path(run_dir or ".") / str(name)
    if not run_dir or not path.is_file():
        raise RunError(
            f"program '{entry.alias}' wrote no characteristics: {path} is missing",
            hint=f"the program must write a JSON object to ${CHARACTERISTICS_ENV} "
            "(relative to its run folder); see docs/experiments.md",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise RunError(f"program '{entry.alias}' wrote a malformed {path}: {e}") from None
    if not isinstance(data, dict):
        raise RunError(f"program '{entry.alias}': {path} holds no JSON object")
    return data


def run_once(ctx: Context, i: dict[str, Any], entry: Entry, key: str) -> dict[str, Any]:
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
    chars = read_characteristics(entry, run_dir)
    chars.setdefault("run_time_s", round(elapsed, 3))
    out.update(run_dir=run_dir, characteristics=chars, cmd_key=key, program=entry.cid)
    return out
