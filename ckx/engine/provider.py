"""The planner's view of the world: entries from the index, results from the cache, the
dialect of each repo. :class:`RepoProvider` is the :class:`~ckx.engine.protocols.Provider`
over a :class:`ckx.core.context.Context`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ckx.core.entries import Entry
from ckx.core.errors import CkxError
from ckx.core.query import Query
from ckx.engine.cache import CacheRecord, CacheStore
from ckx.engine.dialects import CKX, Dialect, dialect_for
from ckx.engine.model import DEP_KINDS, Lookup

if TYPE_CHECKING:
    from ckx.core.context import Context


class CacheFlags:
    """``--new`` (do not reuse, add an entry), ``--renew`` (replace the entries of the key),
    ``--skip_cache`` (neither reuse nor record). They apply to the requested script only."""

    __slots__ = ("new", "renew", "skip_cache")

    def __init__(self, new: bool = False, renew: bool = False, skip_cache: bool = False) -> None:
        self.new = new
        self.renew = renew
        self.skip_cache = skip_cache

    @classmethod
    def of(cls, request: dict[str, Any]) -> CacheFlags:
        """The flags of a request dict."""
        return cls(
            new=bool(request.get("new")),
            renew=bool(request.get("renew")),
            skip_cache=bool(request.get("skip_cache")),
        )

    def reuse(self, path: str) -> bool:
        """May the node at tree ``path`` reuse a cached result?"""
        return not (path == "root" and (self.new or self.renew or self.skip_cache))


def cache_store(ctx: Context) -> CacheStore:
    """The cache of a context: the ``cache`` folder of the local repo."""
    repo = ctx.registry.get("local")
    return CacheStore(repo.folder_for("cache"))


def entries_changed(ctx: Context) -> None:
    """Tell an already loaded index that entries were written (cache, env), so a later search
    in this process sees them. (The index re-checks freshness once per instance.)"""
    index = ctx.__dict__.get("index")
    if index is not None:
        index.invalidate()


class RepoProvider:
    """A :class:`~ckx.engine.protocols.Provider` over a :class:`ckx.core.context.Context`."""

    def __init__(
        self,
        ctx: Context,
        *,
        automation: str | tuple[str, ...] = ("script", "package"),
        flags: CacheFlags | None = None,
        repo: str | None = None,
    ) -> None:
        self.ctx = ctx
        #: the kinds of entries that are nodes: scripts and packages (programs at the root)
        self.kinds = (automation,) if isinstance(automation, str) else tuple(automation)
        self.flags = flags or CacheFlags()
        #: the repo the request names (``ckx run mlc:script:get-python3``): the root comes
        #: from it
        self.repo = repo
        self._store: CacheStore | None = None
        self._searches: dict[tuple[str, str | None], list[Entry]] = {}
        self._dialects: dict[str, Dialect] = {}

    def with_flags(self, flags: CacheFlags) -> RepoProvider:
        """The same provider (searches, cache) for a request with other cache ``flags`` (a
        nested run)."""
        import copy

        other = copy.copy(self)  # shares the searches, the cache store, the dialects
        other.flags = flags
        other.repo = None  # a nested request names no repo
        return other

    @property
    def store(self) -> CacheStore:
        if self._store is None:
            self._store = cache_store(self.ctx)
        return self._store

    def find_candidates(
        self, query: Query, name: str | None, *, root: bool, via: str = ""
    ) -> list[Entry]:
        """Matching entries; see :meth:`choosable` for which of them compete."""
        if root:
            # the root is searched among its own kind only: ckx install package never picks a script
            own = self.ctx.search(self.kinds[0], query, name=name, repo=self.repo)
            return self.choosable(own, via)
        memo = (str(query), name)
        if memo not in self._searches:
            hits: list[Entry] = []
            for automation in self.kinds:
                hits += self.ctx.search(automation, query, name=name)
            self._searches[memo] = hits
        return self.choosable(list(self._searches[memo]), via)

    def choosable(self, hits: list[Entry], via: str = "") -> list[Entry]:
        """Among entries of several dialects (ckx's and a registered one, e.g. MLCFlow's): a
        dep is served by its own content's dialect when that has candidates (ckx's od-bench
        keeps ckx's ``get-python3``, an MLCFlow script gets MLCFlow's); for the requested
        entry itself, a built-in entry steps aside for another dialect's entry with the same
        alias or uid (``ckx run get,python3`` runs MLCFlow's ``get-python3`` once an MLCFlow
        repository is registered)."""
        if len(hits) < 2 or not self.ctx.dialects:
            return hits
        kinds = {id(e): self.dialect(e) for e in hits}
        if via:
            same = [e for e in hits if kinds[id(e)].name == via]
            return same or hits
        foreign = [e for e in hits if kinds[id(e)] is not CKX]
        if not foreign:
            return hits
        names = {e.alias for e in foreign} | {e.uid for e in foreign}
        repos = {r.alias: r.kind for r in self.ctx.registry.repos}
        return [
            e
            for e in hits
            if kinds[id(e)] is not CKX
            or repos.get(e.repo) != "builtin"
            or not ({e.alias, e.uid} & names)
        ]

    def preference(self, entry: Entry) -> tuple:
        d = self.dialect(entry)
        own = d.preference(entry)
        return (d.rank, *(priority(entry) if own is None else own))

    def dependencies(self, meta: dict[str, Any]) -> Sequence[tuple[str, dict[str, Any]]]:
        return [(kind, dep) for kind in DEP_KINDS for dep in (meta.get(kind) or [])]

    def missing(self, name: str, chain: tuple[str, ...]) -> CkxError | None:
        """An unknown name: did-you-mean, or why the entry is invalid."""
        kind = self.kinds[0] if not chain else self.kinds[-1]
        for automation in self.kinds:
            if any(
                p.path.rstrip("/").endswith("/" + name)
                for p in self.ctx.index.problems(None, automation)
            ):
                kind = automation
        return self.ctx.not_found(kind, name)

    def satisfied_by(self, look: Lookup) -> list[CacheRecord]:
        if not self.flags.reuse(look.path):
            return []
        found = self.store.valid(look.key)
        if len(found) > 1:
            found.sort(key=_newest_first)
        return found

    def dialect(self, entry: Entry) -> Dialect:
        if not self.ctx.dialects:
            return CKX  # nothing else served: no need to read the registry
        if entry.repo not in self._dialects:
            self._dialects[entry.repo] = dialect_for(self.ctx, self.ctx.registry.get(entry.repo))
        return self._dialects[entry.repo]


def priority(entry: Entry) -> tuple:
    """The documented order among several matching entries: declared priority (meta ``sort``
    or ``priority``, higher first), then newest version (the newest key of ``versions``, else
    ``default_version``), then alias."""
    from ckx.core.versions import parse_version

    meta = entry.meta
    try:
        prio = float(meta.get("sort", meta.get("priority", 0)) or 0)
    except (TypeError, ValueError):
        prio = 0.0
    vs = [str(v) for v in (meta.get("versions") or {})]
    if meta.get("default_version"):
        vs.append(str(meta["default_version"]))
    best = None
    for v in vs:
        try:
            pv = parse_version(v)
        except CkxError:
            continue
        best = pv if best is None or pv > best else best
    return (-prio, 0 if best is not None else 1, _Rev(best), entry.alias)


def _newest_first(rec: CacheRecord) -> tuple:
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
    """Sorts versions newest first inside a key tuple (None sorts with anything)."""

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _Rev) -> bool:
        return self.v is not None and other.v is not None and self.v > other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rev) and self.v == other.v
