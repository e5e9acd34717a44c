"""What the worker processes of ``ckx serve`` run: one request at a time each, exactly as a
CLI process would (its own Context, index connection and locks), so N parallel requests
behave like N ``ckx`` commands. The server process itself never imports the engine.

Every function returns plain data (a JSON body as bytes, or a small dict); a CkxError
becomes its error dict, never an exception across the process boundary.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any


def _stop(signum: int, frame: Any) -> None:
    # SystemExit unwinds a running action through its clean-up (temp folders, locks) like
    # Ctrl-C does, and ends an idle worker quietly.
    raise SystemExit(0)


def init_worker(home: str) -> None:
    """Pool initializer: this worker serves ``home``; Ctrl-C is the server's to handle, and
    SIGTERM (the server stopping) unwinds whatever runs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    os.environ["CKX_HOME"] = home
    from ckx.app.api import access

    access({"action": "search", "automation": "automation"})  # warm imports and index


def serve_forever(conn, home: str) -> None:
    """A worker's life: read ``(function, args)`` from the pipe, answer ``("ok", value)`` or
    ``("error", text)``, one at a time, until the pipe closes or SIGTERM."""
    import traceback

    init_worker(home)
    conn.send("ready")
    while True:
        try:
            fn, args = conn.recv()
        except EOFError:  # the server is gone
            return
        try:
            reply = ("ok", fn(*args))
        except SystemExit:
            conn.send(("error", "the server is stopping; the request was interrupted"))
            raise
        except Exception as e:  # a bug: the server answers 500, the traceback goes to stderr
            traceback.print_exc()
            reply = ("error", f"{type(e).__name__}: {e}")
        conn.send(reply)


def access_json(request: dict[str, Any]) -> tuple[int, bytes]:
    """``ckx.access(request)`` as (its return code, its dict as JSON bytes)."""
    from ckx.app.api import access

    out = access(request)
    return int(out.get("return", 0) or 0), json.dumps(out, default=str).encode("utf-8")


def _context():
    from ckx.app.api import open_context
    from ckx.core.ui import UI

    return open_context(ui=UI(mode="none", interactive=False))


def _signature(entries) -> str:
    """Changes whenever an experiment is added, removed, renamed or gets a point or a
    repetition (recording rewrites the meta and the point's ``point.json``)."""
    from ckx.core.metafile import find_meta_file

    parts: list[Any] = []
    for e in entries:
        meta = find_meta_file(e.path)
        st = meta.stat() if meta else None
        parts.append((str(e.path), st and (st.st_mtime_ns, st.st_size)))
        for p in sorted((e.path / "points").glob("*/point.json")):
            pst = p.stat()
            parts.append((p.parent.name, pst.st_mtime_ns, pst.st_size))
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def dashboard(root: str) -> dict[str, Any]:
    """The current dashboard folder ``root/<signature>`` (the same HTML as ``ckx
    dashboard``), built if the experiments changed since the last one; older ones pruned."""
    from ckx.core.errors import CkxError
    from ckx.core.locks import path_lock
    from ckx.experiments.dashboard import build
    from ckx.experiments.records import load_points

    try:
        ctx = _context()
        exps = ctx.search("experiment")
        sig = _signature(exps)
        out = Path(root) / sig
        if not (out / "index.html").is_file():
            with path_lock(out, timeout=300, what="build the served dashboard"):
                if not (out / "index.html").is_file():
                    build(out, [(e, load_points(e.path)) for e in exps])
            _prune(Path(root), keep=sig)
        return {"return": 0, "signature": sig, "path": str(out), "experiments": len(exps)}
    except CkxError as e:
        return e.to_dict()


def _prune(root: Path, keep: str, spare: int = 2) -> None:
    """Remove older dashboards, sparing the ``spare`` newest (a page being read keeps its
    images for a while)."""
    import shutil

    from ckx.experiments.dashboard import MARKER

    olds = [d for d in root.iterdir() if d.name != keep and (d / MARKER).is_file()]
    olds.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for d in olds[spare:]:
        shutil.rmtree(d, ignore_errors=True)
        for f in (d.with_name(d.name + ".lock"), d.with_name(d.name + ".lock.holder")):
            f.unlink(missing_ok=True)


def experiments() -> dict[str, Any]:
    """The recorded experiments (every repo), for ``GET /experiments``."""
    from ckx.core.errors import CkxError

    try:
        hits = _context().search("experiment")
    except CkxError as e:
        return e.to_dict()
    return {
        "return": 0,
        "list": [
            {
                "cid": e.cid,
                "repo": e.repo,
                "alias": e.alias,
                "uid": e.uid,
                "tags": list(e.tags),
                "url": f"/experiments/{e.repo}:{e.alias}/",
            }
            for e in hits
        ],
    }


def experiment_file(name: str, rel: str) -> dict[str, Any]:
    """A file (``{"file": path}``) or folder listing (``{"list": [...]}``) inside experiment
    ``[repo:]name``. Nothing outside the entry's folder is reachable, links included."""
    from ckx.core.errors import CkxError, NotFoundError, UsageError

    try:
        repo, _, alias = name.rpartition(":")
        if not alias or any(c in alias for c in "*?["):
            raise UsageError(f"'{name}' is not an experiment name (no wildcards here)")
        if any(part in ("..", ".") for part in rel.split("/")) or rel.startswith("/"):
            raise UsageError(f"'{rel}': paths with '.' or '..' parts are refused")
        entry = _context().load("experiment", alias, repo=repo or None)
        root = os.path.realpath(entry.path)
        target = os.path.normpath(os.path.join(root, rel))
        if os.path.realpath(target) != target:
            raise NotFoundError(
                f"'{rel}' in experiment {entry.cid} is a link; links are not served"
            )
        if os.path.isdir(target):
            return {"return": 0, "cid": entry.cid, "list": _listing(Path(target))}
        if os.path.isfile(target):
            return {"return": 0, "file": target}
        raise NotFoundError(f"experiment {entry.cid} has no file '{rel}'")
    except CkxError as e:
        return e.to_dict()


def _listing(folder: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(folder.iterdir()):
        if p.is_symlink():
            continue  # links are never served, so never listed
        kind = "dir" if p.is_dir() else "file"
        out.append(
            {
                "name": p.name + ("/" if kind == "dir" else ""),
                "type": kind,
                "size": p.stat().st_size,
            }
        )
    return out
