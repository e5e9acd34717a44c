"""An in-memory world for the planner: entries from a dict, hooks compiled from source text,
a set of aliases whose results are cached, and a reporter that keeps a trace.

It implements :class:`ckx.engine.protocols.Provider` without an index, a cache folder or a
file: the planner must not need more than the protocol gives it.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ckx.core.entries import Entry
from ckx.core.errors import CkxError, MetaError
from ckx.core.query import Query
from ckx.engine.dialects import CKX, priority
from ckx.engine.hookspec import CKX_HOOKS, Customize
from ckx.engine.model import DEP_KINDS


def uid_of(alias: str) -> str:
    return hashlib.sha256(alias.encode()).hexdigest()[:16]


class MemoryRecord:
    """A cached result as the planner sees one."""

    def __init__(self, alias: str) -> None:
        self.uid = uid_of(alias + "-cache")
        self.path = Path("/mem/cache") / self.uid
        self.env: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.version: str | None = None

    def describe(self) -> str:
        return f"{self.uid} (in memory)"

    def problems(self) -> list[str]:
        return []


class MemoryDialect:
    """ckx's dialect, except that ``customize.py`` comes from the entry's ``files`` text."""

    name = "memory"
    prefix = "CKX_"
    hooks = CKX_HOOKS

    def __init__(self, files: dict[str, dict[str, str]]) -> None:
        self.files = files  # entry folder -> file name -> text

    def load_hooks(self, folder: Path) -> Customize | None:
        source = self.files.get(str(folder), {}).get("customize.py")
        if source is None:
            return None
        path = folder / "customize.py"
        module = types.ModuleType("memory_customize")
        try:
            exec(compile(source, str(path), "exec"), module.__dict__)
        except Exception as exc:
            raise MetaError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
        return Customize(path, self.hooks.implementations(module, path), self.hooks)

    @property
    def lifecycle(self) -> MemoryDialect:
        return self  # what the planner asks of a lifecycle: load_hooks

    def __getattr__(self, name: str) -> Any:
        return getattr(CKX, name)  # the run-time half is never reached by the planner


class MemoryProvider:
    """A :class:`~ckx.engine.protocols.Provider` over ``entries`` (alias -> meta, with an
    optional ``files`` block); ``cached``: aliases whose results the world already has."""

    kinds = ("script", "package")

    def __init__(self, entries: dict[str, dict], cached: Sequence[str] = ()) -> None:
        self.entries: list[Entry] = []
        files: dict[str, dict[str, str]] = {}
        for alias, spec in entries.items():
            spec = dict(spec or {})
            folder = Path("/mem/script") / alias
            files[str(folder)] = spec.pop("files", None) or {}
            meta = {"alias": alias, "uid": uid_of(alias), "automation_alias": "script"}
            meta = {**meta, "tags": [alias], **spec}
            self.entries.append(
                Entry(
                    repo="t",
                    automation="script",
                    alias=alias,
                    uid=meta["uid"],
                    path=folder,
                    meta_file=folder / "meta.json",
                    tags=tuple(meta["tags"]),
                    _meta=meta,
                )
            )
        self.cached = set(cached)
        self._dialect = MemoryDialect(files)

    def find_candidates(
        self, query: Query, name: str | None, *, root: bool, via: str = ""
    ) -> list[Entry]:
        out = []
        for e in self.entries:
            if name and name not in (e.alias, e.uid):
                continue
            if not query.matches_tags(e.tags):
                continue
            declared = e.meta.get("variations") or {}
            names = {p for k in declared for p in k.split(",")}
            if any(
                (v.name if v.value is None else f"{v.name}.#") not in names
                for v in query.variations
            ):
                continue
            out.append(e)
        return sorted(out, key=lambda e: e.alias)

    def preference(self, entry: Entry) -> tuple:
        return priority(entry)

    def dependencies(self, meta: dict[str, Any]) -> Sequence[tuple[str, dict[str, Any]]]:
        return [(kind, dep) for kind in DEP_KINDS for dep in (meta.get(kind) or [])]

    def satisfied_by(self, look: Any) -> Sequence[Any]:
        return [MemoryRecord(look.entry.alias)] if look.entry.alias in self.cached else []

    def dialect(self, entry: Entry) -> Any:
        return self._dialect

    def missing(self, name: str, chain: tuple[str, ...]) -> CkxError | None:
        return None


class TraceReporter:
    """A :class:`~ckx.engine.protocols.Reporter` that keeps every event as a line (shown when
    a test fails) and, as the planner's :class:`~ckx.engine.protocols.Chooser` too, takes the
    first of every choice, noting it as the CLI does."""

    def __init__(self) -> None:
        self.trace: list[str] = []
        self.notes: list[str] = []

    def planned(self, node: Any) -> None:
        self.trace.append(f"planned {' → '.join(node.chain)} [{node.status}] v{node.version}")

    def rejected(self, entry: Entry, query: Query, reason: str) -> None:
        self.trace.append(f"rejected {entry.cid} for '{query}': {reason}")

    def choose(self, title: str, options: list[str], default: int) -> int:
        self.notes.append(f"{title}; chose {default}) {options[default]}")
        self.trace.append(f"chose {options[default]} ({title})")
        return default

    def conflict(self, title: str, causes: Sequence[Any]) -> None:
        asks = "; ".join(f"{' → '.join(c.chain)} {c.describe()}" for c in causes)
        self.trace.append(f"conflict {title}: {asks}")

    def revised(self, node: Any, reason: str) -> None:
        self.trace.append(f"revised {' → '.join(node.chain)}: {reason}")

    def started(self, node: Any) -> None:
        self.trace.append(f"started {node.title()}")

    def cached(self, node: Any, record: Any) -> None:
        self.trace.append(f"cached {node.title()}")

    def output(self, node: Any, line: str) -> None:
        pass

    def done(self, node: Any, status: str) -> None:
        self.trace.append(f"done {node.title()} {status}")
