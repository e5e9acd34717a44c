"""Where sweep points run. An executor takes the payloads of the points to run and calls
``on_start(n)`` when point ``n`` starts and ``on_done(n, answer)`` (in the sweep's thread)
when it ends; the sweep records each answer as it comes. See :mod:`ckx.experiments.worker`
for payloads and answers.

* :class:`LocalExecutor` — ``--executor=local`` (the default). ``--jobs=1`` runs the points
  one after another in this process; ``--jobs=N`` runs N at once, each in its own process
  (``python -m ckx.experiments.worker``) sharing this machine's ``CKX_HOME`` and its locks.
* ``--executor=ray`` — :mod:`ckx.experiments.ray_executor` (imported only then).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.experiments.worker import error_answer, execute

if TYPE_CHECKING:
    from ckx.core.context import Context

OnStart = Callable[[int], None]
OnDone = Callable[[int, dict[str, Any]], None]


class LocalExecutor:
    """Points on this machine: in this process (``jobs=1``) or ``jobs`` child processes."""

    name = "local"

    def __init__(self, ctx: Context, jobs: int = 1) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "local, one point at a time" if self.jobs == 1 else f"local, {self.jobs} processes"

    def run(self, payloads: list[dict[str, Any]], on_start: OnStart, on_done: OnDone) -> None:
        if self.jobs == 1:
            where = {"executor": "local", "node_id": None, "hostname": socket.gethostname()}
            for p in payloads:
                on_start(p["n"])
                on_done(p["n"], execute(self.ctx, p, where))
            return
        with tempfile.TemporaryDirectory(prefix="ckx-sweep-") as tmp:
            try:
                self._pool(payloads, Path(tmp), on_start, on_done)
            except BaseException:
                self._stop_children()  # Ctrl-C: the points in flight are not recorded
                raise

    def _pool(self, payloads, tmp: Path, on_start: OnStart, on_done: OnDone) -> None:
        todo = list(payloads)
        running: dict[Future, int] = {}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            while todo or running:
                while todo and len(running) < self.jobs:
                    p = todo.pop(0)
                    on_start(p["n"])
                    running[pool.submit(self._child, p, tmp)] = p["n"]
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for f in finished:
                    on_done(running.pop(f), f.result())

    def _child(self, payload: dict[str, Any], tmp: Path) -> dict[str, Any]:
        """Run one point in a child process; its answer, or a ``lost`` error if it died."""
        n = payload["n"]
        pfile, rfile, log = tmp / f"p{n}.json", tmp / f"r{n}.json", tmp / f"p{n}.log"
        pfile.write_text(json.dumps(payload), encoding="utf-8")
        env = dict(self.ctx.environ, CKX_HOME=str(self.ctx.home))
        cmd = [sys.executable, "-m", "ckx.experiments.worker", str(pfile), str(rfile)]
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # its own group: stopping it stops its run.sh too
            )  # fmt: skip
            with self._lock:
                self._children[proc.pid] = proc
            code = proc.wait()
            with self._lock:
                self._children.pop(proc.pid, None)
        if rfile.is_file():
            return json.loads(rfile.read_text(encoding="utf-8"))
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:].strip()
        ans = error_answer("lost", f"the point's process (pid {proc.pid}) {how}: {tail}")
        ans["where"] = {"executor": "local", "node_id": None, "hostname": socket.gethostname()}
        return ans

    def _stop_children(self) -> None:
        with self._lock:
            procs = list(self._children.values())
        for p in procs:
            _signal_group(p, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(p, getattr(signal, "SIGKILL", signal.SIGTERM))


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    """Signal the process group made for child ``p`` (only ``p`` where there are no groups)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(p.pid, sig)
        else:
            p.terminate()
    except (ProcessLookupError, PermissionError):
        pass
