"""The planner's view of the world: script entries from the index, results from the cache."""

from __future__ import annotations

from typing import Any

from ckx.core.entries import Entry
from ckx.core.query import Query
from ckx.engine.cache import CacheRecord, CacheStore
from ckx.engine.planner import Provider


class CacheFlags:
    """``--new`` (do not reuse, add an entry), ``--renew`` (replace the entries of the key),
    ``--skip_cache`` (neither reuse nor record). They apply to the requested script only."""

    __slots__ = ("new", "renew", "skip_cache")

    def __init__(self, new: bool = False, renew: bool = False, skip_cache: bool = False) -> None:
        self.new = new
        self.renew = renew
        self.skip_cache = skip_cache

    def reuse(self, node) -> bool:
        return not (node.path == "root" and (self.new or self.renew or self.skip_cache))


def cache_store(ctx) -> CacheStore:
    """The cache of a context: the ``cache`` folder of the local repo."""
    repo = ctx.registry.get("local")
    return CacheStore(repo.folder_for("cache"))


def entries_changed(ctx) -> None:
    """Tell an already loaded index that entries were written (cache, env), so a later search
    in this process sees them. (The index re-checks freshness once per instance.)"""
    index = ctx.__dict__.get("index")
    if index is not None:
        index.invalidate()


class RepoProvider(Provider):
    """A :class:`ckx.engine.planner.Provider` over a :class:`ckx.core.context.Context`."""

    def __init__(
        self,
        ctx,
        *,
        automation: str | tuple[str, ...] = ("script", "package"),
        flags: CacheFlags | None = None,
    ) -> None:
        self.ctx = ctx
        #: the kinds of entries that are nodes: scripts and packages (programs at the root)
        self.automations = (automation,) if isinstance(automation, str) else tuple(automation)
        self.flags = flags or CacheFlags()
        self._store: CacheStore | None = None
        self._searches: dict[tuple[str, str | None], list[Entry]] = {}

    @property
    def store(self) -> CacheStore:
        if self._store is None:
            self._store = cache_store(self.ctx)
        return self._store

    def find_matches(self, query: Query, name: str | None = None) -> list[Entry]:
        memo = (str(query), name)
        if memo not in self._searches:
            hits: list[Entry] = []
            for automation in self.automations:
                hits += self.ctx.search(automation, query, name=name)
            self._searches[memo] = hits
        return list(self._searches[memo])

    def find_root_matches(self, query: Query, name: str | None = None) -> list[Entry]:
        """The root of a request is searched among its own kind only (the first of
        ``automations``): ``ckx install package`` never picks a script."""
        return self.ctx.search(self.automations[0], query, name=name)

    def not_found(self, name: str, chain: tuple[str, ...]):
        """The error for an unknown name: did-you-mean, or why the entry is invalid."""
        kind = self.automations[0] if not chain else self.automations[-1]
        for automation in self.automations:
            if any(
                p.path.rstrip("/").endswith("/" + name)
                for p in self.ctx.index.problems(None, automation)
            ):
                kind = automation
        return self.ctx.not_found(kind, name)

    def choose(self, title: str, options: list[str], default: int) -> int:
        return self.ctx.ui.choose(title, options, default)

    def cache_lookup(self, node) -> CacheRecord | None:
        if not self.flags.reuse(node):
            return None
        found = self.store.valid(node.cache_key)
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        found.sort(key=_newest_first)
        k = self.choose(
            f"{len(found)} cached results of {node.title()}",
            [r.describe() for r in found],
            0,
        )
        return found[k]


def _newest_first(rec: CacheRecord) -> tuple:
    from ckx.core.errors import CkxError
    from ckx.core.versions import parse_version

    v: Any = None
    if rec.version:
        try:
            v = parse_version(rec.version)
        except CkxError:
            v = None
    # newest version first, then the most recently made
    return (0 if v is not None else 1, _Rev(v), -float(rec.meta.get("created", 0)))


class _Rev:
    def __init__(self, v) -> None:
        self.v = v

    def __lt__(self, other: _Rev) -> bool:
        return self.v is not None and other.v is not None and self.v > other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rev) and self.v == other.v
