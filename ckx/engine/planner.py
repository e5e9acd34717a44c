"""The planner: query -> entry -> variations -> version -> deps, for the whole graph, before
anything runs.

The planner knows nothing of repositories, caches, files or terminals: a
:class:`~ckx.engine.protocols.Provider` answers its questions, a
:class:`~ckx.engine.protocols.Chooser` picks among several candidates, and a
:class:`~ckx.engine.protocols.Reporter` is told what it does (resolvelib's split). It never
prints or prompts. The result is an immutable
:class:`~ckx.engine.model.Plan`; errors are :class:`~ckx.engine.problems.PlanError` data.

Rules written down here because users depend on them:

* **Ambiguity.** Several entries match a query: they are ordered by the provider's preference
  (declared priority, meta ``sort`` or ``priority``, higher first; then newest version; then
  alias), and the chooser picks one (a prompt when interactive, else the first, saying so).
  A choice is remembered for the rest of the plan.
* **Cycles.** An entry with the same variations appearing twice on one path is a cycle,
  reported as ``a → b → a`` (through nested runs too: ``a → b → (nested) a``).
* **Versions.** Within one plan, one entry with one set of variations has one version: the
  constraints of every place that asks for it (``version``, ``version_min``,
  ``version_max``, from deps, ``--adr`` and the request) must hold together. They are
  collected per (entry, variations) group during the walk (a node sees the constraints of
  the nodes of its group planned before it); after the walk, the nodes of a group that
  missed some are settled: copied with the group's constraints when their version and
  joint constraint do not change, else only their subtree is planned again. A conflict is
  reported as the list of who asked for what. With ``versions`` declared, the version is
  ``version`` if given, else ``default_version`` if it fits, else the newest that fits;
  without, the constraints travel to the script (``CKX_VERSION*``) and are checked against
  what it reports.
* **Conditions.** ``enable_if_env``/``skip_if_env`` (and the ``_any`` forms) and
  ``update_tags_from_env`` are evaluated at plan time on the node's static env (inherited
  static env, request env, ``default_env``, ``env``, variation and version env, inputs) —
  unless a key they read may be produced while running: a key matching the ``new_env_keys``
  of a node planned before (it runs earlier; for the subtrees of a node's ``prehook_deps``,
  ``posthook_deps`` and ``post_deps``, the node's own keys too), or any key for
  ``prehook_deps``, ``posthook_deps`` and ``post_deps`` (the node's ``preprocess`` runs
  before them). Such a
  dep is *deferred*: it is planned (so ``--plan`` shows it) but decided when reached; if its
  tags then differ, it is planned again then (:meth:`Planner.revise`); a planning error of a
  deferred dep is raised only if the dep is actually needed (a bad ``customize.py`` always).
* **Cached nodes.** A node with a valid cache entry is not expanded: its deps do not run and
  the exported env comes from the entry. The ``deps`` after it inherit that env at plan time
  too, so their ``cache_key_env`` keys are what the runner will compute.
* **Hooks.** The ``customize.py`` of every node that will run is loaded and checked against
  its dialect's hook spec while planning, so a bad hook stops the plan before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ckx.core.entries import Entry
from ckx.core.errors import CkxError
from ckx.core.query import Query, Variation, parse
from ckx.core.vocabulary import RESERVED  # the keys the engine reads: not script inputs
from ckx.engine import envs
from ckx.engine.cache import CacheRecord, cache_key
from ckx.engine.model import (
    Constraint,
    Edge,
    Lookup,
    Node,
    Origin,
    Plan,
    combine,
    detects_when_run,
    is_cacheable,
    replace_nodes,
)
from ckx.engine.variations import Selection, merge_adr, merge_meta, select

if TYPE_CHECKING:
    from ckx.engine.problems import PlanError
    from ckx.engine.protocols import Chooser, Provider, Reporter

MAX_DEPTH = 64
#: Settling rounds before giving up (each round plans only the subtrees that disagree).
MAX_ROUNDS = 64

Group = tuple[str, tuple[str, ...]]


def _error(kind: str, **fields: Any) -> PlanError:
    """A planning error (its module is imported only when one happens)."""
    from ckx.engine.problems import PlanError

    return PlanError(kind, **fields)


# -- requests: the dict of ``ckx run script ...`` as planner arguments -----------------------
_VERSION_KEYS = ("version", "version_min", "version_max", "version_max_usable")


def query_of(request: dict[str, Any]) -> Query:
    """The tag query of a request (``query`` or ``tags``; text or a parsed Query)."""
    q = request.get("query")
    if q is None:
        q = request.get("tags")
    if isinstance(q, Query):
        return q
    return parse(q)


def plan_args(request: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :meth:`ckx.engine.planner.Planner.plan` for ``request``."""
    return {
        "query": query_of(request),
        "name": request.get("entry"),
        "env": dict(request.get("env") or {}),
        "adr": request.get("adr") or {},
        # (--outdirname is an engine option the runner reads from the root's inputs: its folder)
        "inputs": {k: v for k, v in request.items() if k not in RESERVED},
        "constraint": {
            k: str(request[k]) for k in _VERSION_KEYS if request.get(k) not in (None, "", True)
        },
    }


class Outer:
    """Where a nested plan is asked from: the ``chain`` of the node whose hook asks, the
    ``ancestors`` (entry uid, variations) being run above it (a cycle check), and ``via``,
    the dialect of that node (its own content serves the nested root first)."""

    __slots__ = ("chain", "ancestors", "via")

    def __init__(self, chain: tuple[str, ...], ancestors: tuple[Group, ...], via: str = "") -> None:
        self.chain = chain
        self.ancestors = ancestors
        self.via = via


class _Walk:
    """The state of one walk: ``produced`` keys of the nodes planned so far."""

    __slots__ = ("produced",)

    def __init__(self, produced: tuple[str, ...] = ()) -> None:
        self.produced: list[str] = list(produced)


def _as_query(tags: Any) -> Query:
    if isinstance(tags, Query):
        return tags
    return parse(tags if tags is not None else "")


def _exported(known: dict[str, Any], edge: Edge) -> dict[str, Any]:
    """``known`` after ``edge``: a ``deps`` entry planned as cached exports its recorded env
    to the deps after it (as the runner sets it), so their cache keys (``cache_key_env``)
    are predicted right; what a dep that will run exports is known only when it has run."""
    node = edge.node
    if edge.kind != "deps" or edge.deferred or node is None or node.cached is None:
        return known
    out = dict(known)
    envs.set_all(out, node.cached.env)
    return out


def node_key(node: Node, env: dict[str, Any]) -> str:
    """The cache key of ``node`` when its env is ``env`` (``cache_key_env`` keys read from it)."""
    return _key(node.entry, node.selection, node.meta, node.version, node.joint(), node.origin, env)


def _key(
    entry: Entry,
    selection: Selection,
    meta: dict[str, Any],
    version: str | None,
    joint: dict[str, str | None],
    origin: Origin,
    env: dict[str, Any],
) -> str:
    return cache_key(
        script=entry.uid,
        provider=(entry.repo, str(entry.path)),  # a copy claiming the uid is another result
        variations=selection.names,
        version=version,
        constraints=joint,
        request_env=origin.request_env,
        inputs=envs.mapped_inputs(meta, origin.inputs),
        # a package registered from a local copy (--path=DIR) is its own result
        path=origin.inputs.get("path") if entry.automation == "package" else None,
        key_env=envs.key_env(meta, env),
    )


class Planner:
    """Builds :class:`Plan` objects, asking a :class:`Provider` (and its :class:`Chooser`
    where several candidates remain), telling a :class:`Reporter`.

    ``pins`` (from ``--lock``) fix the entry, variations and version at tree paths."""

    def __init__(
        self,
        provider: Provider,
        reporter: Reporter | None = None,
        *,
        chooser: Chooser | None = None,
        pins: dict[str, dict] | None = None,
    ) -> None:
        self.provider = provider
        if reporter is None or chooser is None:
            from ckx.engine.protocols import Defaults

            reporter = reporter or Defaults()
            chooser = chooser or Defaults()
        self.reporter: Reporter = reporter
        self.chooser: Chooser = chooser
        self.pins = pins or {}
        self._remembered: dict[str, str] = {}
        self._seeds: dict[Group, tuple[Constraint, ...]] = {}
        self._seen: dict[Group, int] = {}  # nodes planned per group (settling is needed only
        self._next_id = 0  # when a group has several)

    def without_pins(self) -> Planner:
        """A planner for nested runs: same provider, reporter and remembered choices, no pins
        (a lock file pins the paths of the outer plan only)."""
        other = Planner(self.provider, self.reporter, chooser=self.chooser)
        other._remembered = self._remembered
        return other

    # -- public ----------------------------------------------------------------------------
    def plan(
        self,
        query: Query | str | None,
        *,
        name: str | None = None,
        env: dict[str, Any] | None = None,
        adr: dict[str, dict] | None = None,
        inputs: dict[str, Any] | None = None,
        constraint: dict[str, str] | None = None,
        outer: Outer | None = None,
    ) -> Plan:
        """Resolve the whole graph for ``query`` (and/or entry ``name``); ``outer``: this is a
        nested run asked by a hook of a node being run."""
        q = _as_query(query)
        request = {
            "query": str(q),
            "name": name,
            "env": dict(env or {}),
            "adr": dict(adr or {}),
            "inputs": dict(inputs or {}),
            "constraint": dict(constraint or {}),
        }
        self._seeds = {}
        self._seen = {}
        self._next_id = 0
        origin = Origin(
            query=q,
            name=name,
            path="root",
            chain=outer.chain if outer else (),
            inherited={},
            request_env=dict(env or {}),
            adr=dict(adr or {}),
            inputs=dict(inputs or {}),
            own=Constraint.of(constraint or {}, ()),
            ancestors=outer.ancestors if outer else (),
            produced=(),
            nested=outer is not None,
            via=outer.via if outer else "",
        )
        root = self._settle(self._node(origin, _Walk()), origin)
        return Plan(root, request, groups=dict(self._seeds))

    def plan_request(self, request: dict[str, Any], outer: Outer | None = None) -> Plan:
        """:meth:`plan` for a request dict (the keys of ``ckx run script``: :func:`plan_args`)."""
        return self.plan(**plan_args(request), outer=outer)

    def revise(
        self,
        plan: Plan,
        origin: Origin,
        env: dict[str, Any],
        reason: str,
        query: Query | None = None,
    ) -> Node:
        """The one way a plan changes while it runs: plan the node of ``origin`` again with the
        env it really inherits (and, for a deferred dep, the ``query`` its tags give now),
        under the version constraints ``plan`` settled on; tell the reporter why."""
        self._seeds = dict(plan.groups)
        changes: dict[str, Any] = {"inherited": dict(env)}
        if query is not None:
            changes["query"] = query
        node = self._node(origin.but(**changes), _Walk(origin.produced))
        self.reporter.revised(node, reason)
        return node

    # -- one node --------------------------------------------------------------------------
    def _node(self, origin: Origin, walk: _Walk) -> Node:
        entry, selection, chain, group, pin = self._identify(origin)
        cons = self._constraints(origin, chain, group, pin)
        joint = combine(cons)
        meta = selection.meta
        version = self._choose_version(entry, meta, joint, chain)
        if version and str(version) in (meta.get("versions") or {}):
            meta = merge_meta(meta, meta["versions"][str(version)] or {})
        dialect = self.provider.dialect(entry)
        late = selection.env if dialect.variation_env_wins else None
        layers = envs.layers_for(
            meta, origin.request_env, origin.inputs, version, joint, dialect.prefix, late
        )
        static_env = envs.compose(origin.inherited, layers)
        key, cached = None, None
        if is_cacheable(entry, meta):
            key = _key(entry, selection, meta, version, joint, origin, static_env)
            cached = self._cached(entry, key, selection, joint, origin)
        nid = self._new_id()  # ids in run order: a node is numbered before its deps
        adr = merge_adr(meta.get("add_deps_recursive") or {}, origin.adr)
        hooks, status, edges = None, "cached", cast("tuple[Edge, ...]", ())
        if cached is None:
            hooks = dialect.lifecycle.load_hooks(entry.path)  # checked now, before it runs
            status = "detect" if detects_when_run(meta) else "run"
            above = (*origin.ancestors, group)
            own = (dialect, selection, version, cons)
            edges = self._expand(origin.path, chain, meta, adr, static_env, walk, above, own)
        walk.produced += meta.get("new_env_keys") or ()
        if cons:
            self._seeds[group] = tuple(dict.fromkeys((*self._seeds.get(group, ()), *cons)))
        self._seen[group] = self._seen.get(group, 0) + 1
        node = Node(
            id=nid,
            path=origin.path,
            entry=entry,
            query=origin.query,
            chain=chain,
            selection=selection,
            meta=meta,
            request_env=origin.request_env,
            inputs=origin.inputs,
            constraints=cons,
            version=version,
            layers=layers,
            static_env=static_env,
            adr=adr,
            edges=edges,
            cache_key=key,
            cached=cached,
            status=status,
            hooks=hooks,
            origin=origin,
        )
        self.reporter.planned(node)
        return node

    def _identify(self, origin: Origin) -> tuple[Entry, Selection, tuple[str, ...], Group, dict]:
        """Entry, variations, chain and group of the node of ``origin``; cycle and depth check."""
        pin = {} if origin.nested else (self.pins.get(origin.path) or {})
        query = origin.query
        if pin:
            query = Query(
                tags=query.tags,
                not_tags=query.not_tags,
                variations=tuple(_pinned_variations(pin)),
                not_variations=(),
            )
        entry = self._pick(
            query, origin.name, origin.chain, pin, root=origin.path == "root", via=origin.via
        )
        selection = select(
            entry.meta, query, lambda: f"{entry.cid} ({' → '.join((*origin.chain, entry.alias))})"
        )
        label = entry.alias + (f"({selection.text})" if selection.names else "")
        if origin.nested and origin.path == "root":
            label = "(nested) " + label
        chain = (*origin.chain, label)
        group = (entry.uid, selection.names)
        if group in origin.ancestors:
            raise _error("cycle", cycle=chain, chain=chain)
        if len(chain) > MAX_DEPTH:
            raise _error("depth", chain=chain, limit=MAX_DEPTH)
        return entry, selection, chain, group, pin

    def _constraints(
        self, origin: Origin, chain: tuple[str, ...], group: Group, pin: dict
    ) -> tuple[Constraint, ...]:
        """The node's own constraints (asked by ``chain``), its lock pin, and every one the
        nodes of its group planned before it were asked."""
        seeds = self._seeds.get(group, ())
        if not origin.own and not pin.get("version"):
            return seeds  # most nodes: nothing asked here
        cons = [Constraint(**c.fields(), chain=chain) for c in origin.own]
        if pin.get("version"):
            cons.append(Constraint(version=str(pin["version"]), chain=("ckx.lock", *chain)))
        return tuple(dict.fromkeys((*cons, *seeds)))

    def _cached(
        self, entry: Entry, key: str, selection: Selection, joint: dict, origin: Origin
    ) -> Any:
        """The cache record the node reuses (the reporter picks among several), or None."""
        look = Lookup(
            entry, key, origin.path, selection.names, joint, origin.inputs, origin.request_env
        )
        found = self.provider.satisfied_by(look)
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        k = self.chooser.choose(
            f"{len(found)} cached results of {look.title()}", [_describe(r) for r in found], 0
        )
        return found[k]

    # -- deps ------------------------------------------------------------------------------
    def _expand(
        self,
        path: str,
        chain: tuple[str, ...],
        meta: dict[str, Any],
        adr: dict[str, dict],
        env: dict[str, Any],
        walk: _Walk,
        ancestors: tuple[Group, ...],
        own: tuple,
    ) -> tuple[Edge, ...]:
        """The edges of the node at ``path`` (its deps planned, skipped or deferred); ``own``:
        the node's dialect, selection, version and constraints (its dialect reads its deps
        with them)."""
        dialect, selection, version, cons = own
        parent = _parent(selection, meta, env, version, cons)
        edges: list[Edge] = []
        counts: dict[str, int] = {}
        known = env  # what a dep inherits: the env, plus what cached deps before it export
        for kind, raw in self.provider.dependencies(meta):
            k = counts[kind] = counts.get(kind, -1) + 1
            if kind != "deps" and not counts.get("_own"):
                # prehook/posthook/post deps run after the node's hooks: what it exports may
                # be set by then, so their subtrees decide conditions on it when reached
                counts["_own"] = 1
                walk.produced += meta.get("new_env_keys") or ()
            dep = dialect.plan_dep(merged_dep(meta, adr, raw), parent)
            where = (f"{path}/{kind}.{k}", chain, adr, ancestors)
            edge = self._edge(kind, k, dep, env, walk, where, dialect, known)
            edges.append(edge)
            known = _exported(known, edge)
        return tuple(edges)

    def _edge(
        self,
        kind: str,
        k: int,
        dep: dict[str, Any],
        env: dict[str, Any],
        walk: _Walk,
        where: tuple,
        dialect: Any,
        known: dict[str, Any],
    ) -> Edge:
        """Dep ``k`` of ``kind``: skipped, deferred (planned or, for a dialect that predicts
        conditions, not yet), or planned; ``known``: the env it inherits as far as it is
        known now (``env`` and what the cached deps before it export)."""
        path, chain, adr, ancestors = where
        reads = envs.condition_keys(dep)
        deferred = bool(reads) and (
            kind != "deps" or any(envs.matches(r, walk.produced) for r in reads)
        )
        skipped = not deferred and not dialect.dep_enabled(dep, env)
        query = _as_query(dep.get("tags"))
        extra = envs.tags_from_env(dep, env) if not skipped else None
        if extra:
            query = query.merged(_as_query(extra))
        origin = Origin(  # positional: one per dep, keep it cheap
            query,
            None,
            path,
            chain,
            known,
            dict(dep.get("env") or {}),
            adr,  # not copied: nothing changes it (merge_adr makes new dicts)
            {},
            Constraint.of(dep, ()) if any(k in dep for k in _VERSION_KEYS) else (),
            ancestors,
            tuple(walk.produced),
            False,
            dialect.name,
        )
        if skipped:  # kept with its origin: a dialect deciding at run time may need it
            return Edge(kind, k, dep, query=query, skipped=True, origin=origin)
        if deferred and dialect.predicts_conditions and not dialect.dep_enabled(dep, env):
            # false on what is known now: planned when reached, if it holds by then
            return Edge(kind, k, dep, query=query, deferred=True, origin=origin)
        child, error = None, None
        try:
            child = self._node(origin, walk)
        except CkxError as e:
            from ckx.engine.hookspec import HookError

            if not deferred or isinstance(e, HookError):
                raise  # a broken customize.py is refused whether or not the dep is needed
            error = e  # raised at run time only if the dep is needed
        return Edge(
            kind, k, dep, query=query, deferred=deferred, node=child, error=error, origin=origin
        )

    def read_dep(self, node: Node, raw: dict[str, Any]) -> dict[str, Any]:
        """The dep declaration ``raw`` of the planned ``node`` as this planner reads it
        (:func:`merged_dep`, then its dialect's ``plan_dep``): for a dep list a hook changed
        while the node runs."""
        parent = _parent(node.selection, node.meta, node.static_env, node.version, node.constraints)
        dialect = self.provider.dialect(node.entry)
        return dialect.plan_dep(merged_dep(node.meta, node.adr, raw), parent)

    # -- candidates and versions -------------------------------------------------------------
    def _pick(
        self,
        query: Query,
        name: str | None,
        chain: tuple[str, ...],
        pin: dict,
        *,
        root: bool,
        via: str = "",
    ) -> Entry:
        hits = self.provider.find_candidates(query, name, root=root, via=via)
        if pin:
            for e in hits:
                if e.uid != pin.get("uid"):
                    self.reporter.rejected(e, query, f"the lock file pins {pin.get('uid')}")
            hits = [e for e in hits if e.uid == pin.get("uid")]
            if not hits:
                raise _error("pin-gone", chain=chain, pin=pin, query=str(query))
        if not hits and query.variations:
            # tell "unknown variation" apart from "unknown script"
            plain = self.provider.find_candidates(
                Query(tags=query.tags, not_tags=query.not_tags), name, root=root, via=via
            )
            for e in plain:
                select(e.meta, query, f"{e.cid} ({' → '.join((*chain, e.alias))})")
        if not hits and name and not query.variations:
            missing = self.provider.missing(name, chain)
            if missing is not None:
                raise missing
        if not hits:
            raise _error(
                "no-match",
                chain=chain,
                query=str(query),
                name=name,
                kinds=self.provider.kinds,
                tags=query.tags,
            )
        if len(hits) == 1:
            return hits[0]
        return self._choose_among(sorted(hits, key=self.provider.preference), query, name, chain)

    def _choose_among(
        self, hits: list[Entry], query: Query, name: str | None, chain: tuple[str, ...]
    ) -> Entry:
        memo = f"{query}|{name}"
        for e in hits:
            if e.uid == self._remembered.get(memo):
                return e
        options = [f"{e.cid} ({e.path})" for e in hits]
        who = f" for {' → '.join(chain)}" if chain else ""
        k = self.chooser.choose(f"{len(hits)} entries match '{query}'{who}", options, 0)
        for e in hits[:k] + hits[k + 1 :]:
            self.reporter.rejected(e, query, f"{hits[k].cid} was chosen")
        self._remembered[memo] = hits[k].uid
        return hits[k]

    def _choose_version(
        self, entry: Entry, meta: dict, joint: dict, chain: tuple[str, ...]
    ) -> str | None:
        declared = [str(v) for v in (meta.get("versions") or {})]
        default = str(meta["default_version"]) if meta.get("default_version") else None
        if not declared and not default and not joint.get("version"):
            return None  # nothing to choose from: the script reports its version when run
        from ckx.core.versions import newest, satisfies

        bounds = {k: joint.get(k) for k in ("version", "version_min", "version_max")}
        if joint.get("version"):
            if declared and joint["version"] not in declared:
                same = [v for v in declared if satisfies(v, version=joint["version"])]
                if same:
                    return same[0]
            return joint["version"]
        if default and satisfies(default, **bounds):
            return default
        fits = [v for v in declared if satisfies(v, **bounds)]
        if fits:
            return newest(fits)
        if declared:
            raise _error(
                "no-version",
                chain=chain,
                alias=entry.alias,
                declared=declared,
                wanted=Constraint(
                    version=bounds["version"],
                    version_min=bounds["version_min"],
                    version_max=bounds["version_max"],
                ).describe(),
            )
        return None

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- one version per (entry, variations) ---------------------------------------------------
    def _settle(self, root: Node, origin: Origin) -> Node:
        """Give every node of a group the group's constraints (see *Versions*): nodes planned
        before a constraint of their group was seen are copied or have their subtree planned
        again, until nothing changes."""
        if all(n == 1 for n in self._seen.values()):
            return root  # every (entry, variations) once: nothing to settle
        changed = False
        for _ in range(MAX_ROUNDS):
            stale = self._stale(root)
            if not stale:
                return _renumber(root) if changed else root
            changed = True
            root = self._replan(root, stale, origin)
        groups = sorted({n.title() for n in self._stale(root).values()})
        raise _error("unsettled", rounds=MAX_ROUNDS, groups=groups)

    def _stale(self, root: Node) -> dict[str, Node]:
        """Nodes whose constraints miss some of their group's (by path); raises a conflict."""
        groups: dict[Group, list[Node]] = {}
        for n in root.walk():
            groups.setdefault(n.group, []).append(n)
        stale: dict[str, Node] = {}
        for group, nodes in groups.items():
            if len(nodes) < 2:
                continue
            allc = tuple(dict.fromkeys(c for n in nodes for c in n.constraints))
            combine(allc)  # a conflict, with both chains
            versions = {n.version for n in nodes}
            todo = [n for n in nodes if set(n.constraints) != set(allc) or len(versions) > 1]
            if todo:
                self._seeds[group] = tuple(dict.fromkeys((*self._seeds.get(group, ()), *allc)))
                self.reporter.conflict(nodes[0].title(), allc)
                stale.update((n.path, n) for n in todo)
        return stale

    def _replan(self, root: Node, stale: dict[str, Node], origin: Origin) -> Node:
        """``root`` with its ``stale`` nodes settled; the whole tree is planned again only when a
        settled subtree produces other env keys (deps decided later may depend on them)."""
        new: dict[str, Node] = {}
        for path in sorted(stale):
            if any(path.startswith(p + "/") for p in new):
                continue  # inside a subtree planned again already
            node = stale[path]
            cons = tuple(dict.fromkeys((*node.constraints, *self._seeds[node.group])))
            joint = combine(cons)
            version = self._choose_version(node.entry, node.selection.meta, joint, node.chain)
            if joint == node.joint() and version == node.version:
                new[path] = node.but(constraints=cons)  # same version, same env: a copy will do
                continue
            walk = _Walk(node.origin.produced)
            new[path] = self._node(node.origin, walk)
            if set(walk.produced) != set(node.origin.produced) | _produced(node):
                return self._node(origin, _Walk())
        return replace_nodes(root, new)


def merged_dep(meta: dict, adr: dict, raw: dict) -> dict:
    """A dep with the ``add_deps`` of its parent and the ``add_deps_recursive`` in force
    merged in, for each of its ``names``."""
    dep = dict(raw or {})
    names = [str(n) for n in (dep.get("names") or [])]
    extra: dict[str, Any] = {}
    for source in (meta.get("add_deps") or {}, adr):
        for n in names:
            if n in source:
                extra = merge_adr({"x": extra}, {"x": source[n]})["x"]
    if extra:
        dep = merge_adr({"x": dep}, {"x": extra})["x"]
    return dep


def _parent(
    selection: Selection,
    meta: dict[str, Any],
    static_env: dict[str, Any],
    version: str | None,
    constraints: tuple[Constraint, ...],
) -> dict[str, Any]:
    """The fields of a node that its dialect reads its deps with (``plan_dep``)."""
    return {
        "selection": selection,
        "meta": meta,
        "static_env": static_env,
        "version": version,
        "constraints": constraints,
    }


def _produced(node: Node) -> set[str]:
    return {k for n in node.walk() for k in (n.meta.get("new_env_keys") or [])}


def _renumber(root: Node) -> Node:
    """The tree with ids in run order again (after subtrees were planned again)."""
    counter = iter(range(1, 1 << 30))

    def visit(n: Node) -> Node:
        nid = next(counter)
        edges = tuple(e.but(node=visit(e.node)) if e.node is not None else e for e in n.edges)
        return n.but(id=nid, edges=edges)

    return visit(root)


def _describe(rec: CacheRecord) -> str:
    return rec.describe()


def _pinned_variations(pin: dict) -> list[Variation]:
    out = []
    for v in pin.get("variations") or []:
        name, _, value = str(v).partition(".")
        out.append(Variation(name, value or None))
    return out
