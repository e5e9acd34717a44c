"""What the container sees of the host: every path at the same place as on the host.

Read-only: the artefacts the plan uses (installed or registered data sets and models: their
cache entries and the folders they point at), files and folders given as inputs
(``--model_path``, ``--dataset_path``, ``--path``, any existing path), the mirrors and the
object store, the CA bundle. Read-write: the run's output folder, the experiment repo a
``--record`` writes to, MLCFlow's current folder, the job folder the result comes back through.
The container's own ckx home is a named volume (its cache survives the container).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.containers.image import HOME
from ckx.core.errors import UsageError

if TYPE_CHECKING:
    from ckx.engine.model import Plan

#: Folders never mounted whole (a value such as --env.TMPDIR=/tmp is not data to bring in).
SYSTEM = frozenset(
    [
        "/",
        "/tmp",
        "/usr",
        "/etc",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/var",
        "/opt",
        "/proc",
        "/sys",
        "/dev",
        "/run",
        "/boot",
        "/home",
        "/root",
        "/srv",
        "/mnt",
        "/media",
        HOME,
    ]
)
#: Inputs that name a folder the run writes (mounted read-write, created when missing).
OUTPUT_KEYS = ("outdirname", "output", "out_dir", "results_dir", "output_dir")


class Mount:
    """A bind mount ``source`` (host) at ``target`` (container), ``rw`` or not, and why."""

    __slots__ = ("source", "target", "rw", "why")

    def __init__(
        self, source: str, target: str | None = None, *, rw: bool = False, why: str = ""
    ) -> None:
        self.source = source
        self.target = target or source
        self.rw = rw
        self.why = why

    def args(self) -> list[str]:
        """The ``docker run`` options of this mount."""
        if ":" not in self.source + self.target:
            return ["-v", f"{self.source}:{self.target}" + ("" if self.rw else ":ro")]
        if "," in self.source + self.target:
            raise UsageError(
                f"cannot mount {self.source}: its path holds both ':' and ','",
                hint="rename the folder, or link it from a plain path",
            )
        spec = f"type=bind,source={self.source},target={self.target}"
        return ["--mount", spec + ("" if self.rw else ",readonly")]

    def line(self) -> str:
        mode = "rw" if self.rw else "ro"
        at = "" if self.target == self.source else f" at {self.target}"
        return f"  {mode} {self.source}{at}" + (f"   ({self.why})" if self.why else "")


class Mounts:
    """The mounts of one run, without duplicates (read-write wins over read-only)."""

    def __init__(self) -> None:
        self.items: dict[str, Mount] = {}

    def add(
        self, source: str | Path, target: str | None = None, *, rw: bool = False, why: str = ""
    ) -> None:
        src = str(Path(source).expanduser().resolve())
        m = Mount(src, target or src, rw=rw, why=why)
        old = self.items.get(m.target)
        if old is None or (rw and not old.rw):
            self.items[m.target] = m

    def sorted(self) -> list[Mount]:
        """Parents before children (a mount inside another is made after it)."""
        return sorted(self.items.values(), key=lambda m: (m.target.count("/"), m.target))

    def args(self) -> list[str]:
        return [a for m in self.sorted() for a in m.args()]

    def covers(self, path: str) -> bool:
        return any(path == t or path.startswith(t.rstrip("/") + "/") for t in self.items)


def artefacts(mounts: Mounts, plan: Plan) -> None:
    """The cache entries of the packages the plan uses that are installed here, at the same
    place and in the container's cache (where its ckx finds them), with the files they
    point at (a copy registered with ``--path``)."""
    for node in plan.nodes:
        rec = node.cached
        if node.entry.automation != "package" or rec is None or rec.problems():
            continue
        what = f"{node.entry.alias}, installed here"
        mounts.add(rec.path, why=what)
        mounts.add(rec.path, f"{HOME}/repos/local/cache/{rec.uid}", why=what)
        for p in rec.meta.get("paths") or []:
            if isinstance(p, str) and os.path.isabs(p) and os.path.exists(p) and p not in SYSTEM:
                if not mounts.covers(p):
                    mounts.add(p, why=f"{node.entry.alias}'s files")


def path_inputs(mounts: Mounts, i: dict[str, Any]) -> dict[str, Any]:
    """Inputs (and ``--env`` values) that name existing files or folders: made absolute and
    mounted read-only; output folders: created and mounted read-write. Returns the request
    with absolute paths."""
    out = dict(i)
    for k, v in i.items():
        if k in OUTPUT_KEYS and isinstance(v, str) and v:
            p = Path(v).expanduser().resolve()
            p.mkdir(parents=True, exist_ok=True)
            out[k] = str(p)
            mounts.add(p, rw=True, why=f"--{k}")
        elif isinstance(v, str):
            out[k] = _maybe_path(mounts, v, f"--{k}")
    env = i.get("env")
    if isinstance(env, dict):
        out["env"] = {
            k: _maybe_path(mounts, v, f"--env.{k}") if isinstance(v, str) else v
            for k, v in env.items()
        }
    return out


def _maybe_path(mounts: Mounts, value: str, why: str) -> str:
    if "/" not in value or "\n" in value or len(value) > 4096:
        return value
    p = Path(value).expanduser()
    if not p.exists():
        return value
    full = str(p.resolve())
    if full in SYSTEM:
        return full
    if not mounts.covers(full):
        mounts.add(full, why=why)
    return full
