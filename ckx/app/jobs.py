"""Background jobs of ``ckx serve``: any action in its own process, recorded under CKX_HOME.

Each job is a folder ``CKX_HOME/jobs/<id>/``::

    request.json   the request dict, as the client sent it (validated by the server)
    job.json       the record: status, timings, pid, exit code (written only by the server,
                   atomically)
    log.txt        everything the job's process wrote on stdout and stderr
    result.json    the action's result dict (written atomically by the job's process)

A job's process is ``python -m ckx.app.jobrun <folder>`` in its own session (process group),
so a crash or a long benchmark never touches the server, and cancelling kills the whole tree
(the runner, its scripts and their children). At most ``max_running`` jobs run at once; the
others wait as ``queued``, first come first served. A job that was queued or running when its
server died is marked ``failed`` (and a process it left behind is killed) when a server starts
on the same CKX_HOME again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ckx.core import atomic
from ckx.core.errors import ConflictError, NotFoundError, UsageError

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINAL = frozenset({"done", "failed", "cancelled"})
JOB_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
#: Seconds a cancelled or stopped job gets between SIGTERM and SIGKILL.
GRACE_S = 5.0
#: How much of the log ``GET /jobs/ID`` includes (the whole log streams from ``/jobs/ID/log``).
LOG_TAIL_BYTES = 64 * 1024


def _now() -> tuple[float, str]:
    t = time.time()
    return t, time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Any) -> None:
    atomic.write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def _proc_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class JobManager:
    """The jobs of one server: submit, inspect, cancel; records in ``home/jobs``."""

    def __init__(self, home: Path | str, *, max_running: int = 1, python: str | None = None):
        if max_running < 1:
            raise UsageError(f"--max_jobs must be at least 1, got {max_running}")
        self.home = Path(home)
        self.root = self.home / "jobs"
        self.max_running = max_running
        self.python = python or sys.executable
        self._lock = threading.Lock()
        self._queue: list[str] = []
        self._procs: dict[str, subprocess.Popen] = {}
        self._why_killed: dict[str, tuple[str, str]] = {}  # id -> (status, error)
        self._finished: dict[str, threading.Event] = {}
        self._stopping = False

    # -- records -------------------------------------------------------------------------
    def folder(self, job_id: str) -> Path:
        """The folder of job ``job_id`` (NotFoundError for a malformed or unknown id)."""
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            raise NotFoundError(
                f"no job '{job_id}': job ids look like 20261201-101500-a1b2c3",
                hint="list the jobs with: GET /jobs",
            )
        d = self.root / job_id
        if not (d / "job.json").is_file():
            raise NotFoundError(f"no job '{job_id}' in {self.root}", hint="list them: GET /jobs")
        return d

    def record(self, job_id: str) -> dict[str, Any]:
        """The job's record (status, timings, request, pid, exit code)."""
        rec = _read_json(self.folder(job_id) / "job.json")
        if not isinstance(rec, dict):
            raise NotFoundError(f"the record of job '{job_id}' is unreadable")
        return rec

    def describe(self, job_id: str, *, log_tail: int = LOG_TAIL_BYTES) -> dict[str, Any]:
        """The record plus the result (when finished) and the log so far (its last bytes)."""
        rec = self.record(job_id)
        d = self.folder(job_id)
        out: dict[str, Any] = {"return": 0, **rec}
        if rec.get("status") in FINAL:
            result = _read_json(d / "result.json")
            if result is not None:
                out["result"] = result
        log = d / "log.txt"
        size = log.stat().st_size if log.is_file() else 0
        out["log"] = ""
        if size:
            with open(log, "rb") as f:
                f.seek(max(0, size - log_tail))
                out["log"] = f.read().decode("utf-8", errors="replace")
        out["log_bytes"] = size
        out["log_truncated"] = size > log_tail
        return out

    def log_path(self, job_id: str) -> Path:
        return self.folder(job_id) / "log.txt"

    def records(self) -> list[dict[str, Any]]:
        """Every job's record, newest first."""
        if not self.root.is_dir():
            return []
        out = []
        for d in self.root.iterdir():
            rec = _read_json(d / "job.json") if JOB_ID.match(d.name) else None
            if isinstance(rec, dict):
                out.append(rec)
        out.sort(key=lambda r: (r.get("created_at") or 0, r.get("job")), reverse=True)
        return out

    def is_final(self, job_id: str) -> bool:
        return self.record(job_id).get("status") in FINAL

    def _update(self, job_id: str, **changes: Any) -> dict[str, Any]:
        path = self.root / job_id / "job.json"
        rec = _read_json(path) or {}
        rec.update(changes)
        _write_json(path, rec)
        return rec

    # -- life cycle ----------------------------------------------------------------------
    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """Record a new job for ``request`` and start it when a slot is free; its record."""
        t, iso = _now()
        job_id = time.strftime("%Y%m%d-%H%M%S", time.localtime(t)) + "-" + os.urandom(3).hex()
        d = self.root / job_id
        d.mkdir(parents=True)
        _write_json(d / "request.json", request)
        (d / "log.txt").touch()
        rec = {
            "job": job_id,
            "status": "queued",
            "action": request.get("action"),
            "request": request,
            "created": iso,
            "created_at": t,
            "started": None,
            "finished": None,
            "server_pid": os.getpid(),
        }
        with self._lock:
            if self._stopping:
                raise ConflictError("the server is stopping; no new jobs are accepted")
            _write_json(d / "job.json", rec)
            self._finished[job_id] = threading.Event()
            self._queue.append(job_id)
            self._start_next()
        return self.record(job_id)

    def _start_next(self) -> None:
        """Start queued jobs while slots are free (called with the lock held)."""
        while self._queue and len(self._procs) < self.max_running and not self._stopping:
            job_id = self._queue.pop(0)
            try:
                self._spawn(job_id)
            except OSError as e:  # cannot start a process at all: the job fails, the rest go on
                self._finish(job_id, None, ("failed", f"could not start the job's process: {e}"))

    def _spawn(self, job_id: str) -> None:
        d = self.root / job_id
        env = {**os.environ, "CKX_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        with open(d / "log.txt", "ab") as log:
            proc = subprocess.Popen(
                [self.python, "-m", "ckx.app.jobrun", str(d)],
                cwd=d,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: cancel kills the whole tree
            )
        self._procs[job_id] = proc
        t, iso = _now()
        self._update(job_id, status="running", started=iso, started_at=t, pid=proc.pid)
        threading.Thread(
            target=self._wait, args=(job_id, proc), name=f"job-{job_id}", daemon=True
        ).start()

    def _wait(self, job_id: str, proc: subprocess.Popen) -> None:
        code = proc.wait()
        with self._lock:
            self._procs.pop(job_id, None)
            self._finish(job_id, code, self._why_killed.pop(job_id, None))
            self._start_next()

    def _finish(self, job_id: str, code: int | None, killed: tuple[str, str] | None) -> None:
        """Write the final record: done/failed from the result, or why it was stopped."""
        rec = _read_json(self.root / job_id / "job.json") or {}
        result = _read_json(self.root / job_id / "result.json")
        t, iso = _now()
        final: dict[str, Any] = {"finished": iso, "finished_at": t, "exit_code": code}
        if rec.get("started_at"):
            final["run_s"] = round(t - rec["started_at"], 3)
        if killed is not None and not (code == 0 and isinstance(result, dict)):
            final["status"], final["reason"] = killed  # (a job that beat its kill counts as done)
        elif isinstance(result, dict):
            final["status"] = "done" if not result.get("return") else "failed"
            if result.get("error"):
                final["reason"] = result["error"]
        else:
            how = f"was killed by signal {-code}" if code and code < 0 else f"exited with {code}"
            final["status"] = "failed"
            final["reason"] = f"the job's process {how} without writing a result (see its log)"
        self._update(job_id, **final)
        ev = self._finished.get(job_id)
        if ev is not None:
            ev.set()

    def cancel(self, job_id: str, *, grace: float = GRACE_S) -> dict[str, Any]:
        """Cancel a queued or running job (SIGTERM to its process group, SIGKILL after
        ``grace`` s); returns the final record. A finished job is a ConflictError."""
        rec = self.record(job_id)
        with self._lock:
            if job_id in self._queue:
                self._queue.remove(job_id)
                self._finish(job_id, None, ("cancelled", "cancelled before it started"))
                return self.record(job_id)
            proc = self._procs.get(job_id)
            if proc is None:
                raise ConflictError(
                    f"job {job_id} is not running (status: {rec.get('status')}); nothing to cancel"
                )
            self._why_killed[job_id] = ("cancelled", "cancelled by a client")
        self._stop_process(proc, grace)
        self._finished[job_id].wait(timeout=grace + 10)
        return self.record(job_id)

    @staticmethod
    def _stop_process(proc: subprocess.Popen, grace: float) -> None:
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(proc.pid, signal.SIGKILL)  # what is left of the tree, if anything
        proc.wait()

    def recover(self) -> list[str]:
        """Mark the jobs a dead server left queued or running as failed (killing a process
        such a job left behind); the ids. Jobs of a live server on the same home are kept."""
        from ckx.core.locks import pid_alive

        fixed = []
        for rec in self.records():
            if rec.get("status") in FINAL:
                continue
            server = int(rec.get("server_pid") or 0)
            if server != os.getpid() and pid_alive(server) and "serve" in _proc_cmdline(server):
                continue
            job_id = str(rec["job"])
            pid = int(rec.get("pid") or 0)
            if pid and pid_alive(pid) and job_id in _proc_cmdline(pid):
                _kill_group(pid, signal.SIGKILL)
            was = rec.get("status")
            why = "the server stopped while the job was " + ("running" if pid else "queued")
            self._finish(job_id, None, ("failed", why))
            self._update(job_id, recovered_from=was)
            fixed.append(job_id)
        return fixed

    def shutdown(self, *, grace: float = GRACE_S) -> None:
        """Stop for good: queued jobs fail, running ones are stopped and marked failed."""
        with self._lock:
            self._stopping = True
            for job_id in self._queue:
                self._finish(job_id, None, ("failed", "the server stopped before the job started"))
            self._queue.clear()
            procs = dict(self._procs)
            for job_id in procs:
                self._why_killed[job_id] = (
                    "failed",
                    "the server stopped while the job was running",
                )
        threads = [
            threading.Thread(target=self._stop_process, args=(p, grace)) for p in procs.values()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for job_id in procs:
            self._finished[job_id].wait(timeout=10)

    def running(self) -> int:
        with self._lock:
            return len(self._procs)
