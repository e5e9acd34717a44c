"""The planner: query -> entry -> variations -> version -> deps, for the whole graph, before
anything runs.

The planner knows nothing of repositories or caches: a :class:`Provider` answers its
questions (resolvelib's split). The result is a :class:`Plan`, a tree of :class:`Node` in run
order, which the runner executes and ``--plan`` prints.

Rules written down here because users depend on them:

* **Ambiguity.** Several entries match a query: they are ordered by declared priority
  (meta ``sort`` or ``priority``, higher first), then newest version (the newest key of
  ``versions``, else ``default_version``), then alias; the provider's ``choose`` prompts when
  interactive and otherwise takes the first and says so. A choice is remembered for the rest
  of the plan.
* **Cycles.** An entry with the same variations appearing twice on one path is a cycle,
  reported as ``a → b → a``.
* **Versions.** Within one plan, one entry with one set of variations has one version: the
  constraints of every place that asks for it (``version``, ``version_min``,
  ``version_max``, from deps, ``--adr`` and the request) must hold together. A conflict is
  reported as the list of who asked for what. With ``versions`` declared, the version is
  ``version`` if given, else ``default_version`` if it fits, else the newest that fits;
  without, the constraints travel to the script (``CKX_VERSION*``) and are checked against
  what it reports.
* **Conditions.** ``enable_if_env``/``skip_if_env`` (and the ``_any`` forms) and
  ``update_tags_from_env`` are evaluated at plan time on the node's static env (inherited
  static env, request env, ``default_env``, ``env``, variation and version env, inputs) —
  unless a key they read may be produced while running: a key matching the ``new_env_keys``
  of a node planned before (it runs earlier), or any key for ``prehook_deps``,
  ``posthook_deps`` and ``post_deps`` (the node's ``preprocess`` runs before them). Such a
  dep is *deferred*: it is planned (so ``--plan`` shows it) but decided when reached; if its
  tags then differ, it is planned again at that moment; a planning error of a deferred dep
  is raised only if the dep is actually needed.
* **Cached nodes.** A node with a valid cache entry is not expanded: its deps do not run and
  the exported env comes from the entry.
"""

from __future__ import annotations

import json
from typing import Any

from ckx.core.entries import Entry
from ckx.core.errors import CkxError, ResolutionError
from ckx.core.query import Query, Variation, parse
from ckx.engine import envs
from ckx.engine.variations import Selection, merge_adr, merge_meta, select

DEP_KINDS = ("deps", "prehook_deps", "posthook_deps", "post_deps")
_VERSION_FIELDS = ("version", "version_min", "version_max", "version_max_usable")
MAX_DEPTH = 64


class Constraint:
    """A version constraint and the chain of who asked for it (immutable, hashable).

    A plain class, not a dataclass: class creation is paid by every command (~1.5 ms each).
    """

    __slots__ = ("version", "version_min", "version_max", "version_max_usable", "chain")

    def __init__(
        self,
        version: str | None = None,
        version_min: str | None = None,
        version_max: str | None = None,
        version_max_usable: str | None = None,
        chain: tuple[str, ...] = (),
    ) -> None:
        self.version = version
        self.version_min = version_min
        self.version_max = version_max
        self.version_max_usable = version_max_usable
        self.chain = tuple(chain)

    def _key(self) -> tuple:
        return (
            self.version,
            self.version_min,
            self.version_max,
            self.version_max_usable,
            self.chain,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constraint) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Constraint({self.describe()} by {' → '.join(self.chain)})"

    def is_empty(self) -> bool:
        return not any((self.version, self.version_min, self.version_max, self.version_max_usable))

    def describe(self) -> str:
        from ckx.core.versions import describe_constraint

        return describe_constraint(
            version=self.version, version_min=self.version_min, version_max=self.version_max
        )

    def fields(self) -> dict[str, str | None]:
        return {k: getattr(self, k) for k in _VERSION_FIELDS}


class Edge:
    """A dep of a node: its (merged) declaration and the node it resolved to.

    ``deferred``: its condition is decided when reached; ``skipped``: a static condition is
    false; ``error``: the planning error of a deferred dep (raised only if it is needed).
    """

    __slots__ = ("kind", "index", "dep", "query", "deferred", "skipped", "node", "error")

    def __init__(self, kind: str, index: int, dep: dict[str, Any]) -> None:
        self.kind = kind
        self.index = index
        self.dep = dep
        self.query: Query | None = None
        self.deferred = False
        self.skipped = False
        self.node: Node | None = None
        self.error: CkxError | None = None

    def label(self) -> str:
        return f"{self.kind}[{self.index}]"


class Node:
    """One script to run (or reuse from the cache), with everything the runner needs.

    ``path`` is the node's position in the tree (``root/deps.0/prehook_deps.1``, stable for
    ``--lock``); ``chain`` the aliases from the root; ``meta`` the entry meta with variation
    and version overlays; ``request_env`` the env set explicitly for it; ``static_env`` its
    env as known at plan time; ``status`` run | cached | detect.
    """

    __slots__ = (
        "id",
        "path",
        "entry",
        "query",
        "chain",
        "selection",
        "meta",
        "request_env",
        "inputs",
        "constraints",
        "version",
        "static_env",
        "adr",
        "edges",
        "cache_key",
        "cached",
        "status",
    )

    def __init__(
        self,
        id: int,
        path: str,
        entry: Entry,
        query: Query,
        chain: tuple[str, ...],
        selection: Selection,
        meta: dict[str, Any],
        request_env: dict[str, Any],
        inputs: dict[str, Any],
        constraints: tuple[Constraint, ...] = (),
        version: str | None = None,
    ) -> None:
        self.id = id
        self.path = path
        self.entry = entry
        self.query = query
        self.chain = chain
        self.selection = selection
        self.meta = meta
        self.request_env = request_env
        self.inputs = inputs
        self.constraints = constraints
        self.version = version
        self.static_env: dict[str, Any] = {}
        self.adr: dict[str, dict] = {}
        self.edges: list[Edge] = []
        self.cache_key: str | None = None
        self.cached: Any = None
        self.status = "run"

    def __repr__(self) -> str:
        return f"Node({self.path}: {self.title()} [{self.status}])"

    @property
    def cacheable(self) -> bool:
        # packages are installed once and reused unless their meta says otherwise (CK)
        default = self.entry.automation == "package"
        return envs.normalise_value(self.meta.get("cache", default)) == "yes"

    @property
    def variations(self) -> tuple[str, ...]:
        return self.selection.names

    @property
    def group(self) -> tuple[str, tuple[str, ...]]:
        return (self.entry.uid, self.selection.names)

    def joint(self) -> dict[str, str | None]:
        """The node's constraints combined (they are known to be consistent)."""
        return combine(self.constraints)

    def title(self) -> str:
        v = f" {self.selection.text}" if self.selection.names else ""
        return f"{self.entry.alias}{v}"

    def walk(self):
        """This node and every planned node below it, in run order."""
        yield self
        for e in self.edges:
            if e.node is not None:
                yield from e.node.walk()


class Provider:
    """What the planner asks the world (the interface; duck-typed, no need to subclass).
    See :class:`ckx.engine.provider.RepoProvider` for the one backed by repos and the cache."""

    def find_matches(self, query: Query, name: str | None = None) -> list[Entry]:
        """Entries (scripts) matching ``query`` (and alias/uid ``name``)."""
        raise NotImplementedError

    def choose(self, title: str, options: list[str], default: int) -> int:
        """Pick one of several candidates (prompt or documented default)."""
        raise NotImplementedError

    def cache_lookup(self, node: Node) -> Any:
        """A valid cache record for ``node`` (``node.cache_key`` is set) or None."""
        raise NotImplementedError


class Plan:
    """The resolved graph: a tree of nodes in run order, and the request it answers."""

    __slots__ = ("root", "request")

    def __init__(self, root: Node, request: dict[str, Any] | None = None) -> None:
        self.root = root
        self.request = request or {}

    @property
    def nodes(self) -> list[Node]:
        return list(self.root.walk())

    def to_lock(self) -> dict[str, Any]:
        """The versioned lock document (see :mod:`ckx.engine.lockfile`)."""
        from ckx.engine.lockfile import plan_to_lock

        return plan_to_lock(self)

    def to_dict(self) -> dict[str, Any]:
        return {"request": self.request, "root": _node_dict(self.root)}

    def render(self) -> str:
        """The human tree that ``--plan`` prints."""
        lines: list[str] = []
        _render(self.root, "", "", lines)
        return "\n".join(lines)


def _node_dict(n: Node) -> dict[str, Any]:
    return {
        "id": n.id,
        "path": n.path,
        "entry": n.entry.cid,
        "uid": n.entry.uid,
        "variations": list(n.variations),
        "version": n.version,
        "constraints": n.joint(),
        "status": n.status,
        "cache_key": n.cache_key,
        "deps": [
            {
                "kind": e.kind,
                "index": e.index,
                "tags": str(e.query) if e.query else None,
                "deferred": e.deferred,
                "skipped": e.skipped,
                "error": e.error.message if e.error else None,
                "node": _node_dict(e.node) if e.node else None,
            }
            for e in n.edges
        ],
    }


def _render(n: Node, head: str, indent: str, lines: list[str]) -> None:
    ver = f" v{n.version}" if n.version else ""
    c = {k: v for k, v in n.joint().items() if v and k != "version"}
    cons = f" ({', '.join(f'{k}={v}' for k, v in c.items())})" if c else ""
    lines.append(f"{head}{n.title()}{ver}{cons}  [{n.status}]  ({n.entry.cid})")
    for k, e in enumerate(n.edges):
        last = k == len(n.edges) - 1
        branch = indent + ("└─ " if last else "├─ ")
        sub = indent + ("   " if last else "│  ")
        tag = f"{e.kind}: " + ("(decided when reached) " if e.deferred else "")
        if e.skipped:
            lines.append(f"{branch}{tag}{e.query}  [skipped: condition false]")
        elif e.node is None:
            why = f": {e.error.message.splitlines()[0]}" if e.error else ""
            lines.append(f"{branch}{tag}{e.query}  [unresolved{why}]")
        else:
            _render(e.node, branch + tag, sub, lines)


def combine(constraints: tuple[Constraint, ...] | list[Constraint]) -> dict[str, str | None]:
    """Intersect constraints; raise ResolutionError naming who asked for what on a conflict."""
    if not constraints:
        return {
            "version": None,
            "version_min": None,
            "version_max": None,
            "version_max_usable": None,
        }
    from ckx.core.versions import compare, parse_version

    exact: Constraint | None = None
    lo: Constraint | None = None
    hi: Constraint | None = None
    usable: str | None = None
    for c in constraints:
        for text in (c.version, c.version_min, c.version_max):
            if text:
                _parse_or_fail(parse_version, text, c)
        if c.version:
            if exact and compare(str(exact.version), c.version) != 0:
                raise _conflict(exact, c)
            exact = exact or c
        if c.version_min and (lo is None or compare(c.version_min, str(lo.version_min)) > 0):
            lo = c
        if c.version_max and (hi is None or compare(c.version_max, str(hi.version_max)) < 0):
            hi = c
        usable = c.version_max_usable or usable
    if lo and hi and compare(str(lo.version_min), str(hi.version_max)) > 0:
        raise _conflict(lo, hi)
    if exact and lo and compare(str(exact.version), str(lo.version_min)) < 0:
        raise _conflict(lo, exact)
    if exact and hi and compare(str(exact.version), str(hi.version_max)) > 0:
        raise _conflict(exact, hi)
    return {
        "version": exact.version if exact else None,
        "version_min": lo.version_min if lo else None,
        "version_max": hi.version_max if hi else None,
        "version_max_usable": usable,
    }


def _parse_or_fail(parse_version, text: str, c: Constraint) -> None:
    try:
        parse_version(str(text))
    except CkxError as e:
        raise ResolutionError(
            f"bad version '{text}' asked by {' → '.join(c.chain)}: {e.message}"
        ) from None


def _conflict(a: Constraint, b: Constraint) -> ResolutionError:
    target = a.chain[-1] if a.chain else "?"
    return ResolutionError(
        f"version conflict for {target}:\n"
        f"  {' → '.join(a.chain)} requires {a.describe()}\n"
        f"  {' → '.join(b.chain)} requires {b.describe()}",
        hint="relax one of the constraints (e.g. --adr.NAME.version_min=...) or pin one version",
    )


def _as_query(tags: Any) -> Query:
    if isinstance(tags, Query):
        return tags
    return parse(tags if tags is not None else "")


def _priority(entry: Entry) -> tuple:
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
    return (-prio, 0 if best is not None else 1, _Neg(best), entry.alias)


class _Neg:
    """Sorts versions newest first inside a key tuple."""

    def __init__(self, v) -> None:
        self.v = v

    def __lt__(self, other: _Neg) -> bool:
        if self.v is None or other.v is None:
            return False
        return self.v > other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Neg) and self.v == other.v


class Planner:
    """Builds a :class:`Plan` from a request, asking a :class:`Provider`."""

    def __init__(self, provider: Provider, *, pins: dict[str, dict] | None = None) -> None:
        self.provider = provider
        self.pins = pins or {}
        self._remembered: dict[str, str] = {}
        self._seeds: dict[tuple, list[Constraint]] = {}
        self._produced: list[str] = []
        self._next_id = 0

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
    ) -> Plan:
        """Resolve the whole graph for ``query`` (and/or entry ``name``)."""
        q = _as_query(query)
        request = {
            "query": str(q),
            "name": name,
            "env": dict(env or {}),
            "adr": dict(adr or {}),
            "inputs": dict(inputs or {}),
            "constraint": dict(constraint or {}),
        }
        for _ in range(10):
            self._produced = []
            self._next_id = 0
            root = self._node(
                q,
                name=name,
                path="root",
                chain=(),
                inherited={},
                request_env=dict(env or {}),
                adr=dict(adr or {}),
                inputs=dict(inputs or {}),
                own=self._constraint(constraint or {}, ()),
                ancestors=(),
            )
            if not self._reseed(root):
                return Plan(root=root, request=request)
        raise ResolutionError("version constraints did not settle after 10 rounds")

    def plan_edge(self, parent: Node, edge: Edge, env: dict[str, Any]) -> Node:
        """(Re)plan one deferred dep at run time, with the env as it is now."""
        dep = edge.dep
        q = _as_query(dep.get("tags")).merged(_as_query(envs.tags_from_env(dep, env)))
        edge.query = q
        return self._child(parent, edge, q, env, ancestors=())

    # -- nodes -----------------------------------------------------------------------------
    def _node(
        self,
        query: Query,
        *,
        name,
        path,
        chain,
        inherited,
        request_env,
        adr,
        inputs,
        own,
        ancestors,
    ) -> Node:
        pin = self.pins.get(path)
        if pin:
            query = Query(
                tags=query.tags,
                not_tags=query.not_tags,
                variations=tuple(_pinned_variations(pin)),
                not_variations=(),
            )
        entry = self._pick(query, name, chain, pin)
        where = f"{entry.cid} ({' → '.join((*chain, entry.alias))})"
        selection = select(entry.meta, query, where)
        chain = (*chain, entry.alias + (f"({selection.text})" if selection.names else ""))
        key = (entry.uid, selection.names)
        if key in ancestors:
            raise ResolutionError(
                "dependency cycle: " + " → ".join(chain),
                hint="one of these scripts must stop depending on the other (check deps and variations)",
            )
        if len(chain) > MAX_DEPTH:
            raise ResolutionError(
                f"dependency chain deeper than {MAX_DEPTH}: " + " → ".join(chain[:5]) + " → …"
            )
        cons = [c for c in own if not c.is_empty()]
        cons = [Constraint(**c.fields(), chain=chain) for c in cons]
        if pin and pin.get("version"):
            cons.append(Constraint(version=str(pin["version"]), chain=("ckx.lock", *chain)))
        cons += self._seeds.get(key, [])
        joint = combine(cons)
        meta = selection.meta
        version = self._choose_version(entry, meta, joint, chain)
        if version and str(version) in (meta.get("versions") or {}):
            meta = merge_meta(meta, meta["versions"][str(version)] or {})
        node = Node(
            id=self._new_id(),
            path=path,
            entry=entry,
            query=query,
            chain=chain,
            selection=selection,
            meta=meta,
            request_env=request_env,
            inputs=inputs,
            constraints=tuple(cons),
            version=version,
        )
        node.static_env = compose_env(inherited, node)
        node.adr = merge_adr(meta.get("add_deps_recursive") or {}, adr)
        if node.cacheable:
            from ckx.engine.cache import cache_key

            node.cache_key = cache_key(node)
            node.cached = self.provider.cache_lookup(node)
        if node.cached is not None:
            node.status = "cached"
            self._produced += list(meta.get("new_env_keys") or [])
            return node
        if meta.get("detect"):
            node.status = "detect"
        self._expand(node, (*ancestors, key))
        self._produced += list(meta.get("new_env_keys") or [])
        return node

    def _expand(self, node: Node, ancestors: tuple) -> None:
        env = dict(node.static_env)
        for kind in DEP_KINDS:
            for k, raw in enumerate(node.meta.get(kind) or []):
                dep = self._merged_dep(node, raw)
                edge = Edge(kind=kind, index=k, dep=dep)
                node.edges.append(edge)
                reads = envs.condition_keys(dep)
                edge.deferred = bool(reads) and (
                    kind != "deps" or any(envs.matches(r, self._produced) for r in reads)
                )
                if not edge.deferred and not envs.dep_enabled(dep, env):
                    edge.skipped = True
                    edge.query = _as_query(dep.get("tags"))
                    continue
                edge.query = _as_query(dep.get("tags")).merged(
                    _as_query(envs.tags_from_env(dep, env))
                )
                try:
                    edge.node = self._child(node, edge, edge.query, env, ancestors)
                except CkxError as e:
                    if not edge.deferred:
                        raise
                    edge.error = e  # raised at run time only if the dep is needed

    def _merged_dep(self, node: Node, raw: dict) -> dict:
        dep = dict(raw or {})
        names = [str(n) for n in (dep.get("names") or [])]
        extra: dict[str, Any] = {}
        for source in (node.meta.get("add_deps") or {}, node.adr):
            for n in names:
                if n in source:
                    extra = merge_adr({"x": extra}, {"x": source[n]})["x"]
        if extra:
            dep = merge_adr({"x": dep}, {"x": extra})["x"]
        return dep

    def _child(self, parent: Node, edge: Edge, query: Query, env: dict, ancestors: tuple) -> Node:
        dep = edge.dep
        return self._node(
            query,
            name=None,
            path=f"{parent.path}/{edge.kind}.{edge.index}",
            chain=parent.chain,
            inherited=env,
            request_env=dict(dep.get("env") or {}),
            adr=dict(parent.adr),
            inputs={},
            own=self._constraint(dep, ()),
            ancestors=ancestors or self._ancestors_of(parent),
        )

    def _ancestors_of(self, node: Node) -> tuple:
        # used for run-time re-planning, where the walk's ancestor list is gone: the chain
        # is enough to catch a cycle through the node itself
        return ((node.entry.uid, node.selection.names),)

    @staticmethod
    def _constraint(fields: dict, chain: tuple[str, ...]) -> tuple[Constraint, ...]:
        vals = {
            k: (str(fields[k]) if fields.get(k) not in (None, "") else None)
            for k in _VERSION_FIELDS
        }
        c = Constraint(**vals, chain=chain)
        return () if c.is_empty() else (c,)

    def _pick(
        self, query: Query, name: str | None, chain: tuple[str, ...], pin: dict | None
    ) -> Entry:
        # a provider may search the root differently (ckx install package: packages only)
        root_finder = getattr(self.provider, "find_root_matches", None) if not chain else None
        hits = root_finder(query, name) if root_finder else self.provider.find_matches(query, name)
        if pin:
            hits = [e for e in hits if e.uid == pin.get("uid")]
            if not hits:
                raise ResolutionError(
                    f"the lock file pins {pin.get('alias')} ({pin.get('uid')}) at {pin.get('path')}, "
                    f"but no such entry matches '{query}' any more",
                    hint="restore that entry, or plan again without --lock and write a new lock",
                )
        if not hits and query.variations:
            # tell "unknown variation" apart from "unknown script"
            plain = self.provider.find_matches(
                Query(tags=query.tags, not_tags=query.not_tags), name
            )
            for e in plain:
                select(e.meta, query, f"{e.cid} ({' → '.join((*chain, e.alias))})")
        if not hits and name and not query.variations and hasattr(self.provider, "not_found"):
            raise self.provider.not_found(name, chain)
        if not hits:
            who = f" (needed by {' → '.join(chain)})" if chain else ""
            target = f"'{name}' with tags '{query}'" if name else f"tags '{query}'"
            kinds = " or ".join(getattr(self.provider, "automations", ("script",)))
            raise ResolutionError(
                f"no {kinds} entry matches {target}{who}",
                hint=f"list candidates with: ckx find script --tags={','.join(query.tags)}"
                f" (and ckx find package --tags=...)",
            )
        if len(hits) == 1:
            return hits[0]
        hits.sort(key=_priority)
        memo = f"{query}|{name}"
        if memo in self._remembered:
            for e in hits:
                if e.uid == self._remembered[memo]:
                    return e
        options = [f"{e.cid} ({e.path})" for e in hits]
        who = f" for {' → '.join(chain)}" if chain else ""
        k = self.provider.choose(f"{len(hits)} entries match '{query}'{who}", options, 0)
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
            raise ResolutionError(
                f"{entry.alias} ({' → '.join(chain)}): none of its versions "
                f"({', '.join(declared)}) fits {Constraint(**bounds).describe()}",  # type: ignore[arg-type]
                hint="change the version constraint or add the version to the entry's 'versions'",
            )
        return None

    def _reseed(self, root: Node) -> bool:
        """Check one version per (entry, variations); seed and return True to plan again."""
        groups: dict[tuple, list[Node]] = {}
        for n in root.walk():
            groups.setdefault(n.group, []).append(n)
        again = False
        for key, nodes in groups.items():
            if len(nodes) < 2:
                continue
            allc = list(dict.fromkeys(c for n in nodes for c in n.constraints))
            combine(allc)  # raises the conflict with both chains
            versions = {n.version for n in nodes}
            if any(set(allc) - set(n.constraints) for n in nodes) or len(versions) > 1:
                if set(allc) != set(self._seeds.get(key, [])):
                    self._seeds[key] = allc
                    again = True
        return again

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id


def _pinned_variations(pin: dict) -> list[Variation]:
    out = []
    for v in pin.get("variations") or []:
        name, _, value = str(v).partition(".")
        out.append(Variation(name, value or None))
    return out


def compose_env(inherited: dict[str, Any], node: Node) -> dict[str, Any]:
    """The env a node starts with (see :mod:`ckx.engine.envs` for the order)."""
    meta = node.meta
    env = envs.without_local(inherited, meta.get("local_env_keys") or ())
    envs.set_all(env, node.request_env)
    envs.set_defaults(env, meta.get("default_env") or {})
    envs.set_all(env, meta.get("env") or {})
    envs.set_all(env, mapped_inputs(meta, node.inputs))
    current = meta.get("default_to_current_python")
    if current and not env.get(current):
        # the active ckx venv's python (CKX_VENV, VIRTUAL_ENV), else the one running ckx
        from ckx.artifacts.venvs import current_python

        env[current] = current_python(env)
    joint = node.joint()
    if node.version:
        env["CKX_VERSION"] = node.version
    for k in ("version_min", "version_max", "version_max_usable"):
        if joint.get(k):
            env[f"CKX_{k.upper()}"] = joint[k]
    return env


def mapped_inputs(meta: dict, inputs: dict[str, Any]) -> dict[str, Any]:
    """``input_mapping``: request input ``key`` -> env key."""
    out = {}
    for key, env_key in (meta.get("input_mapping") or {}).items():
        if key in inputs and inputs[key] is not None:
            out[str(env_key)] = envs.normalise_value(inputs[key])
    return out


def meta_digest(meta: dict) -> str:
    """sha256 of a meta's canonical JSON (for lock files)."""
    import hashlib

    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()
