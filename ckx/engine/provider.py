"""The provider: the planner's view of the world (resolvelib's split). :class:`RepoProvider`
is the :class:`~ckx.engine.protocols.Provider` the engine plans with, over a
:class:`ckx.core.context.Context`: entries from the index, results from the cache, the
dialect of each repo, and what was installed first.

**What was installed is what runs** (CK's rule: a program's dependencies are found among
the registered env entries before any package is installed):

1. **Installed packages first.** When a query matches several package entries and some of
   them are installed (have a valid cache entry), the others are dropped: a program whose dep
   matches both SSD-MobileNet opsets uses the one that is there.
2. **An installed package counts whatever its key.** A package dep with no cache entry of its
   own key reuses a valid cache entry of the same package made with other inputs — a copy
   registered with ``--path=DIR`` (or ``_path.DIR``), or one installed with ``--env``
   settings — as long as the variations other than ``_path`` and the version agree. So
   ``ckx install package --tags=dataset,coco,val --path=/data/coco`` is what
   ``ckx run program:od-bench --model=ssd-mobilenet`` then uses, offline.
3. **``ckx run TAGS`` finds packages too** (the root of a ``run`` is searched among scripts
   and packages; ``ckx install package`` still searches packages only).

``--new``/``--renew``/``--skip_cache`` on the root disable 1 and 2 for the root, like any reuse.

Beside the provider, the :class:`UiChooser`: where several candidates remain (entries,
cached results, installations), the planner and the lifecycles ask it, never the reporter
(which only observes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ckx.core.entries import Entry
from ckx.core.errors import CkxError
from ckx.core.query import Query
from ckx.engine.cache import CacheRecord, CacheStore
from ckx.engine.dialects import CKX, NewestFirst, dialect_for
from ckx.engine.model import DEP_KINDS, Lookup

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.ui import UI
    from ckx.engine.protocols import Dialect


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
        root_kinds: tuple[str, ...] = (),
    ) -> None:
        self.ctx = ctx
        #: the kinds of entries that are nodes: scripts and packages (programs at the root)
        self.kinds = (automation,) if isinstance(automation, str) else tuple(automation)
        #: the kinds the root of the request is searched among (default: the first kind)
        self.root_kinds = root_kinds or self.kinds[:1]
        self.flags = flags or CacheFlags()
        #: the repo the request names (``ckx run mlc:script:get-python3``): the root comes
        #: from it
        self.repo = repo
        self._store: CacheStore | None = None
        self._searches: dict[tuple[str, str | None], list[Entry]] = {}
        self._dialects: dict[str, Dialect] = {}
        self._records: list[CacheRecord] | None = None
        #: where several candidates remain, the planner and the lifecycles ask this
        self.chooser = UiChooser(ctx.ui)

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
        """Matching entries, installed packages first (module doc); see :meth:`choosable` for
        which of them compete."""
        if root:
            # the root is searched among its root kinds only: ckx install package never
            # picks a script
            hits = self.ctx.search(self.root_kinds, query, name=name, repo=self.repo)
            return self._installed_first(self.choosable(hits, via))
        memo = (str(query), name)
        if memo not in self._searches:
            self._searches[memo] = self.ctx.search(self.kinds, query, name=name)
        return self._installed_first(self.choosable(list(self._searches[memo]), via))

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
        return self.dialect(entry).preference(entry)

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
        if found or not self._may_reuse_other_key(look):
            return found
        # another key's entry of the same package: the planner's chooser picks among several
        return [r for r in self.installed_records(look.entry.uid) if _same_artifact(r, look)]

    # -- installed packages first (module doc) ---------------------------------------------
    def installed_records(self, uid: str | None = None) -> list[CacheRecord]:
        """Valid cache entries (of the entry ``uid``), newest first."""
        if self._records is None:
            self._records = [r for r in self.store.records() if not r.problems()]
        return [r for r in self._records if uid is None or r.meta.get("script_uid") == uid]

    def _installed_first(self, hits: list[Entry]) -> list[Entry]:
        if len(hits) < 2:
            return hits
        packages = [e for e in hits if e.automation == "package"]
        if not packages:
            return hits
        have = {r.meta.get("script_uid") for r in self.installed_records()}
        installed = [e for e in packages if e.uid in have]
        if not installed:
            return hits
        return [e for e in hits if e.automation != "package" or e.uid in have]

    def _may_reuse_other_key(self, look: Lookup) -> bool:
        if look.entry.automation != "package" or not self.flags.reuse(look.path):
            return False
        if look.inputs.get("path") or look.request_env.get("CKX_PACKAGE_PATH"):
            return False  # a registration asked for: its own entry
        return not any(v.split(".", 1)[0] == "path" for v in look.variations)

    def dialect(self, entry: Entry) -> Dialect:
        if not self.ctx.dialects:
            return CKX  # nothing else served: no need to read the registry
        if entry.repo not in self._dialects:
            self._dialects[entry.repo] = dialect_for(self.ctx, self.ctx.registry.get(entry.repo))
        return self._dialects[entry.repo]


def _newest_first(rec: CacheRecord) -> tuple:
    from ckx.core.versions import parse_version

    v: Any = None
    if rec.version:
        try:
            v = parse_version(rec.version)
        except CkxError:
            v = None
    # newest version first, then the most recently made
    return (0 if v is not None else 1, NewestFirst(v), -float(rec.meta.get("created", 0)))


def _plain_variations(names) -> list[str]:
    return sorted(v for v in names if v.split(".", 1)[0] != "path")


def _same_artifact(rec: CacheRecord, look: Lookup) -> bool:
    if _plain_variations(rec.meta.get("variations") or []) != _plain_variations(look.variations):
        return False
    joint = {k: v for k, v in look.constraints.items() if k != "version_max_usable" and v}
    if not joint:
        return True
    if not rec.version:
        return False
    from ckx.core.errors import CkxError
    from ckx.core.versions import satisfies

    try:
        return satisfies(rec.version, **joint)
    except CkxError:
        return False


def provider_for(ctx: Context, request: dict[str, Any]) -> RepoProvider:
    """The provider of ``request``: its own kind at the root (scripts and packages for
    ``run``), scripts and packages below, the request's cache flags."""
    root = request.get("automation") or "script"
    kinds = tuple(dict.fromkeys((root, "script", "package")))
    flags = CacheFlags.of(request)
    roots = ("script", "package") if root == "script" else (root,)
    repo = request.get("repo") if isinstance(request.get("repo"), str) else None
    return RepoProvider(ctx, automation=kinds, flags=flags, root_kinds=roots, repo=repo)


class UiChooser:
    """Picks one of several options through ``ui`` (a :class:`ckx.core.ui.UI`): a prompt on
    a terminal, else the default and a note saying so (shown even with ``--quiet``)."""

    def __init__(self, ui: UI) -> None:
        self.ui = ui

    def choose(self, title: str, options: list[str], default: int) -> int:
        return self.ui.choose(title, options, default)
