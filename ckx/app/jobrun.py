"""The process of one ``ckx serve`` job: ``python -m ckx.app.jobrun JOB_FOLDER``.

Runs the request the server writes on its stdin (``JOB_FOLDER/request.json`` holds it with
secrets redacted; it is read when stdin brings nothing) as the CLI would (human output on stdout,
which the server has pointed at the job's log) and writes the result dict atomically to
``JOB_FOLDER/result.json``. SIGTERM (a cancel) is handled like Ctrl-C, so the action's own
clean-up runs and nothing half-made is kept. Exit status: the result's ``return``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_request(request: dict[str, Any]) -> dict[str, Any]:
    """The action's result dict; every failure becomes an error dict (and a line on stderr)."""
    from ckx.app.api import open_context, run
    from ckx.core.errors import CkxError, Interrupted
    from ckx.core.ui import UI

    ui = UI(mode="con", quiet=bool(request.get("quiet")), interactive=False)
    try:
        return run(open_context(ui=ui), dict(request))
    except CkxError as e:
        err = e
    except KeyboardInterrupt:
        err = Interrupted("interrupted (the job was cancelled); nothing half-made was kept")
    except Exception as e:  # a bug: keep the traceback in the log, the error in the result
        import traceback

        traceback.print_exc()
        err = CkxError(f"internal error: {type(e).__name__}: {e}")
    print(f"ckx error: {err.message}", file=sys.stderr, flush=True)
    if err.hint:
        print(f"  hint: {err.hint}", file=sys.stderr, flush=True)
    return err.to_dict()


def main(argv: list[str]) -> int:
    from ckx.core import atomic

    folder = Path(argv[0])
    signal.signal(signal.SIGTERM, _interrupt)
    sent = sys.stdin.read() if not sys.stdin.closed else ""  # the request, secrets included
    null = os.open(os.devnull, os.O_RDONLY)  # what the job runs reads nothing, as before
    os.dup2(null, 0)
    os.close(null)
    request = json.loads(sent or (folder / "request.json").read_text(encoding="utf-8"))
    out = run_request(request)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the result is written whole or not at all
    from ckx.app.jobs import redacted

    shown = redacted(out)  # a result echoes env: secrets are never written
    atomic.write_text(folder / "result.json", json.dumps(shown, indent=2, default=str) + "\n")
    return int(out.get("return", 0) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
