"""What a replay may take from a recorded point: data, never code or paths from the record.

A recorded point (perhaps from someone else's ``ckr.zip``) holds the env and inputs of the run
and the lock of its plan. ``ckx replay`` re-plans that on this machine: the lock pins entries by
uid and the engine checks their metas and scripts, so only entries found here run. What the
record cannot be trusted with is what to *run*:

* :func:`safe_replay` refuses any recorded value that resolves into an experiment folder (of
  any repo) or into an untrusted repo (a file the archive shipped);
* it never takes a value whose name says it is a program, an interpreter, a command or a
  search path (``CKX_PYTHON_BIN_WITH_PATH``, ``PATH``, ``LD_PRELOAD``, a ``_custom-path.X``
  variation: :mod:`ckx.core.execnames`) from the record, wherever it points: the replay uses
  what this machine resolves today and says which, unless the replay's own command line
  names one (``--env.CKX_PYTHON_BIN_WITH_PATH=...``);
* it fills values that were redacted when recorded from the replay's ``--env`` or the
  environment, or says which are missing.

:func:`gone_results` says which recorded results (an interpreter, a venv, a package) are no
longer on this machine; an interpreter whose recorded result is gone is resolved again here
(its recorded version is not pinned), and :func:`tools_used` says which one the replay ran.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

from ckx.core.errors import ResolutionError, UsageError
from ckx.core.execnames import names_executable, names_location


def data_roots(ctx, entry_path: Path) -> list[str]:
    """Folders whose files are recorded data: the experiment itself, every repo's experiment
    folder, and every untrusted repo."""
    roots = {os.path.realpath(entry_path)}
    for repo in [*ctx.registry.repos, *ctx.registry.untrusted]:
        roots.add(os.path.realpath(repo.folder_for("experiment")))
        if repo.kind == "untrusted":
            roots.add(os.path.realpath(repo.path))
    return sorted(roots)


def _strings(value: Any, where: str, depth: int = 0):
    """(where, text) of every string in ``value``."""
    if depth > 32:
        return
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from _strings(v, f"{where}[{k}]", depth + 1)


def _inside(text: str, roots: list[str]) -> str | None:
    """The first part of ``text`` (a path, or a PATH-like list) that resolves under a root."""
    for part in text.split(os.pathsep):
        part = part.strip()
        if not part or (os.sep not in part and "/" not in part):
            continue
        try:
            real = os.path.realpath(os.path.expanduser(part))
        except (OSError, ValueError):
            continue
        if any(real == r or real.startswith(r + os.sep) for r in roots):
            return part
    return None


def check_no_recorded_paths(ctx, entry, recorded: dict[str, Any]) -> None:
    """ResolutionError when a recorded value points into recorded data (see module doc)."""
    roots = data_roots(ctx, entry.path)
    bad = []
    for where, text in _strings(recorded, "record"):
        hit = _inside(text, roots)
        if hit is not None:
            bad.append(f"{where.removeprefix('record.')}={hit}")
    if bad:
        raise ResolutionError(
            f"cannot replay {entry.cid}: recorded values point into recorded data, and a replay "
            f"never runs a path from a record: {', '.join(bad[:5])}"
            + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""),
            hint="record the point again on this machine, or replay it with "
            "--env.KEY=VALUE naming tools installed here",
        )


def safe_replay(
    ctx,
    entry,
    inputs: dict[str, Any],
    lock: dict[str, Any],
    given_env: Any,
    given_inputs: dict[str, Any] | None = None,
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any], list[Any]]:
    """(the env to run with, the program's inputs, the lock to replay, the program's
    variations): the recorded ones, checked, without what names a program to run (see the
    module doc), with redacted env values filled from ``given_env`` (the replay's ``--env``)
    or this environment, and redacted inputs from ``given_inputs`` (the replay's ``--KEY=``)."""
    given = {str(k): str(v) for k, v in given_env.items()} if isinstance(given_env, dict) else {}
    given_in = dict(given_inputs or {})
    program_inputs = dict(inputs.get("inputs") or {})
    env = {str(k): str(v) for k, v in (inputs.get("env") or {}).items()}
    lock = copy.deepcopy(lock)
    request: dict[str, Any] = lock["request"] if isinstance(lock.get("request"), dict) else {}
    recorded = {
        "env": {k: v for k, v in env.items() if k not in given},
        "inputs": inputs.get("inputs") or {},
        "lock.env": {k: v for k, v in (request.get("env") or {}).items() if k not in given},
        "lock.adr": request.get("adr") or {},
        "lock.inputs": request.get("inputs") or {},
    }
    check_no_recorded_paths(ctx, entry, recorded)
    variations = list(inputs.get("variations") or [])
    dropped = _drop_programs(env, program_inputs, lock, given, given_in, variations)
    for what in dropped:
        ctx.ui.warn(
            f"replay of {entry.cid}: the record names {what}; a replay never runs a program, "
            "an interpreter or a search path taken from a record: this machine's own is used "
            "(name one on the command line, e.g. --env.KEY=VALUE, to choose it)"
        )
    adr = (request.get("adr") or {}).values()
    envs = [env, request.get("env"), *(b.get("env") for b in adr if isinstance(b, dict))]
    missing = _fill([e for e in envs if isinstance(e, dict)], {**ctx.environ, **given})
    missing_in = _fill([program_inputs, request.get("inputs") or {}], given_in)
    if missing or missing_in:
        names = ", ".join(sorted(missing | missing_in))
        again = [f"--env.{k}=..." for k in sorted(missing)] + [
            f"--{k}=..." for k in sorted(missing_in)
        ]
        raise UsageError(
            f"cannot replay {entry.cid}: {names} looked like secrets and were not recorded",
            hint="pass them again: " + " ".join(again),
        )
    return {**env, **given}, program_inputs, lock, variations


def _fill(mappings: list[dict[str, Any]], given: dict[str, Any]) -> set[str]:
    """Put ``given`` values where values were redacted when recorded; the keys still missing."""
    from ckx.experiments.records import REDACTED

    missing: set[str] = set()
    for d in mappings:
        for k, v in list(d.items()):
            if v == REDACTED:
                if k in given:
                    d[k] = given[k]
                else:
                    missing.add(k)
    return missing


# --- programs named by the record -----------------------------------------------------------


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _drop_keys(d: Any, given: dict[str, Any], where: str, out: list[str], places=False) -> None:
    """Remove from mapping ``d`` the keys naming a program (and, with ``places``, a file or
    folder); those the command line does not give again (``given``) are told in ``out``."""
    if not isinstance(d, dict):
        return
    for k in list(d):
        if names_executable(k) or (places and names_location(k)):
            value = d.pop(k)
            if k not in given:
                out.append(f"{where}{k}={_shown(value)}")


def _drop_variations(names: Any, where: str, out: list[str]) -> list[Any]:
    """``names`` (variations as recorded: ``custom-path./x``) without those whose value names
    a program, an interpreter or a place."""
    if not isinstance(names, list):
        return []
    kept = []
    for v in names:
        name, dot, _ = str(v).lstrip("_").partition(".")
        if dot and (names_executable(name) or names_location(name)):
            out.append(f"the variation _{_shown(v)} of {where}")
        else:
            kept.append(v)
    return kept


#: Fields of an ``adr`` block that are checked on their own (env keys, tags' variations).
_ADR_FIELDS = frozenset({"env", "tags", "names", "version", "version_min", "version_max"})


def _drop_programs(
    env: dict[str, Any],
    inputs: dict[str, Any],
    lock: dict[str, Any],
    given: dict[str, Any],
    given_in: dict[str, Any],
    variations: list[Any],
) -> list[str]:
    """Take out of the point's env, inputs and variations and of its lock (request env,
    inputs, every ``adr`` block, every node's pinned variations) what names a program to
    run; what was taken, for the message."""
    out: list[str] = []
    variations[:] = _drop_variations(variations, "the program", out)
    _drop_keys(env, given, "env ", out)
    _drop_keys(inputs, given_in, "input ", out)
    request: dict[str, Any] = lock["request"] if isinstance(lock.get("request"), dict) else {}
    _drop_keys(request.get("env"), given, "env ", out)
    _drop_keys(request.get("inputs"), given_in, "input ", out)
    for name, block in (request.get("adr") or {}).items():
        if not isinstance(block, dict):
            continue
        _drop_keys(block.get("env"), given, f"adr.{name}.env ", out)
        fields = {k: v for k, v in block.items() if k not in _ADR_FIELDS}
        _drop_keys(fields, {}, f"adr.{name}.", out, places=True)
        for k in set(block) - _ADR_FIELDS - set(fields):
            del block[k]
        tags = block.get("tags")
        if isinstance(tags, str) and _drop_variations(tags.split(","), "", []) != tags.split(","):
            out.append(f"adr.{name}.tags={_shown(block.pop('tags'))}")
    for n in lock.get("nodes") or []:
        if isinstance(n, dict) and n.get("variations"):
            n["variations"] = _drop_variations(n["variations"], str(n.get("cid")), out)
    return sorted(set(out))


# --- recorded results that are gone; the tools a replay used ---------------------------------

_CACHE_UID = re.compile(r"^[0-9a-f]{8,64}$")


def _store(ctx):
    from ckx.engine.provider import cache_store

    return cache_store(ctx)


def _is_tool(ctx, uid: Any) -> bool:
    """Does the entry ``uid`` (here) detect an interpreter or a tool (get-python3 does)?"""
    hits = [e for e in ctx.search(None, None, name=str(uid)) if e.uid == uid]
    if not hits:
        return False
    meta = hits[0].meta or {}
    keys = [(meta.get("detect") or {}).get("env_key"), meta.get("default_to_current_python")]
    keys += list(meta.get("cache_key_env") or [])
    return any(isinstance(k, str) and names_executable(k) for k in keys)


def gone_results(ctx, lock: dict[str, Any]) -> list[str]:
    """What of the recorded plan's cached results (an interpreter, a venv's python, a
    package) is no longer on this machine, one line each. An interpreter or tool whose
    recorded result is gone is resolved again here: its recorded version is unpinned in
    ``lock`` (a copy the replay owns), so the replay uses what this machine has today."""
    store = _store(ctx)
    out = []
    for n in lock.get("nodes") or []:
        uid = n.get("cache_uid") if isinstance(n, dict) else None
        if not isinstance(uid, str):
            continue
        rec = store.read(store.root / uid) if _CACHE_UID.match(uid) else None
        problems = ["it is not on this machine"] if rec is None else rec.problems()
        if not problems:
            continue
        what = f"{n.get('alias')} {n.get('version') or ''}".strip()
        line = f"the recorded {what} (cache {uid[:8]}) is gone: {'; '.join(problems)[:300]}"
        if n.get("version") and _is_tool(ctx, n.get("uid")):
            n["version"] = None
            line += "; the replay uses the one this machine resolves today"
        out.append(line)
    return out


def tools_used(ctx, lock: dict[str, Any] | None) -> list[str]:
    """``KEY=PATH (entry version)`` for each program or interpreter the replayed plan's
    tool entries resolved on this machine (their cached results, newest first)."""
    if not lock:
        return []
    store = _store(ctx)
    records = None
    out = []
    for n in lock.get("nodes") or []:
        if not isinstance(n, dict) or not _is_tool(ctx, n.get("uid")):
            continue
        uid = n.get("cache_uid")
        rec = (
            store.read(store.root / uid) if isinstance(uid, str) and _CACHE_UID.match(uid) else None
        )
        if rec is None:  # detected by this run: its result is the newest of its entry
            records = store.records() if records is None else records
            rec = next((r for r in records if r.meta.get("script_uid") == n.get("uid")), None)
        if rec is None:
            continue
        for k, v in rec.env.items():
            if names_executable(k) and isinstance(v, str) and os.path.isfile(v):
                out.append(f"{k}={v} ({n.get('alias')} {rec.version or ''})".replace(" )", ")"))
    return sorted(set(out))
