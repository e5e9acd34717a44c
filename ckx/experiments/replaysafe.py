"""What a replay may take from a recorded point: data, never code or paths from the record.

A recorded point (perhaps from someone else's ``ckr.zip``) holds the env and inputs of the run
and the lock of its plan. ``ckx replay`` re-plans that on this machine: the lock pins entries by
uid and the engine checks their metas and scripts, so only entries found here run. What the
record cannot be trusted with is a *path*: an env value such as ``CKX_PYTHON_BIN_WITH_PATH``
pointing at a file shipped inside the experiment would make the replay run the archive's
program. :func:`safe_replay` refuses any recorded value that resolves into an experiment folder
(of any repo) or into an untrusted repo, and fills values that were redacted when recorded
from the replay's ``--env`` or the environment, or says which are missing.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from ckx.core.errors import ResolutionError, UsageError


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
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """(the env to run with, the program's inputs, the lock to replay): the recorded ones,
    checked, with redacted env values filled from ``given_env`` (the replay's ``--env``) or
    this environment, and redacted inputs from ``given_inputs`` (the replay's ``--KEY=``)."""
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
    return {**env, **given}, program_inputs, lock


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
