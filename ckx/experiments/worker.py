"""One sweep point, run wherever an executor put it: in the sweep's own process, in a child
process (``python -m ckx.experiments.worker PAYLOAD.json RESULT.json``), or in a Ray task.

The *payload* is a small JSON object: the program (uid), the cmd_key, the request of that
configuration, the number of repetitions and the ``--print_files``. The answer is
``{"ok": true, "result": PointResult}`` or ``{"ok": false, "error": {...}}``; a point that
fails is an answer, not an exception, so one bad configuration never stops a sweep. The
worker uses the ``CKX_HOME`` of the machine it runs on (its cache, its ``CKX_MIRROR``):
large artefacts never travel with the point.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core import atomic
from ckx.core.errors import CkxError

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.entries import Entry


def payload_for(
    entry: Entry,
    key: str,
    run_i: dict[str, Any],
    *,
    n: int,
    repetitions: int,
    print_files: list[str],
) -> dict[str, Any]:
    """The JSON-able description of configuration ``n`` (the query travels as its text)."""
    req = {k: v for k, v in run_i.items() if k not in ("query", "entry", "repo", "cid")}
    q = run_i.get("query")
    return {
        "n": n,
        "program_uid": entry.uid,
        "program": entry.alias,
        "cmd_key": key,
        "request": req,
        "query": str(q) if q is not None and not q.is_empty() else None,
        "repetitions": repetitions,
        "print_files": print_files,
    }


def error_answer(kind: str, message: str, hint: str | None = None, code: int = 1) -> dict[str, Any]:
    """A failed point: ``kind`` is ``error`` (the run failed), ``lost`` (its worker died) or
    ``crash`` (an unexpected exception in ckx)."""
    return {
        "ok": False,
        "error": {"kind": kind, "message": message, "hint": hint, "code": code},
    }


def execute(ctx: Context, payload: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    """Run the point of ``payload`` on ``ctx``; the answer (never raises for a failed point)."""
    import time

    from ckx.core.query import parse
    from ckx.experiments.benchmark import run_point

    start = time.time()
    try:
        entry = ctx.load("program", payload["program_uid"])
        run_i = dict(payload["request"])
        run_i["query"] = parse(payload["query"]) if payload.get("query") else None
        res = run_point(
            ctx,
            run_i,
            entry,
            payload["cmd_key"],
            repetitions=int(payload["repetitions"]),
            print_files=list(payload.get("print_files") or []),
            where=where,
        )
    except CkxError as e:
        ans = error_answer("error", e.message, e.hint, e.exit_code)
    except Exception as e:  # a bug must fail this point only, with what it was
        ans = error_answer("crash", f"{type(e).__name__}: {e}", "run with --debug and report it")
    else:
        return {"ok": True, "result": res.to_dict(), "seconds": round(time.time() - start, 3)}
    ans.update(where=where, seconds=round(time.time() - start, 3))
    return ans


def execute_here(payload: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    """:func:`execute` in a fresh context of this machine (its ``CKX_HOME``), quietly. This
    process is a door of its own (a sweep point's child): it serves the content dialects
    as ``ckx.app.api.open_context`` does."""
    from ckx.compat import served
    from ckx.core.context import Context
    from ckx.core.ui import UI

    ctx = Context(ui=UI(mode="none", quiet=True, interactive=False), dialects=served)
    try:
        return execute(ctx, payload, where)
    finally:
        if "index" in ctx.__dict__:
            ctx.index.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m ckx.experiments.worker PAYLOAD.json RESULT.json``: the local child process."""
    import socket

    args = sys.argv[1:] if argv is None else argv
    payload = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    where = {
        "executor": "local",
        "node_id": None,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }
    answer = execute_here(payload, where)
    atomic.write_text(args[1], json.dumps(answer))  # the driver sees a whole answer or none
    return 0


if __name__ == "__main__":
    sys.exit(main())
