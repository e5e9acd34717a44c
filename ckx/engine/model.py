"""The plan as data: version constraints, and the immutable tree of nodes and edges.

A :class:`Plan` is made by the planner and then only read: the runner never writes into a
:class:`Node` or an :class:`Edge` (they refuse attribute assignment). What is learnt while
running (a deferred dep's condition, a ``cache_key_env`` key) makes *new* nodes through
:meth:`ckx.engine.planner.Planner.revise`; :meth:`Plan.with_revisions` gives the plan as it
was run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ckx.core.entries import Entry
from ckx.core.errors import CkxError
from ckx.core.query import Query
from ckx.engine import envs
from ckx.engine.variations import Selection

if TYPE_CHECKING:
    from ckx.engine.cache import CacheRecord
    from ckx.engine.hookspec import Customize
    from ckx.engine.problems import PlanError

DEP_KINDS = ("deps", "prehook_deps", "posthook_deps", "post_deps")
_VERSION_FIELDS = envs.VERSION_FIELDS


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

    @classmethod
    def of(cls, fields: dict[str, Any], chain: tuple[str, ...]) -> tuple[Constraint, ...]:
        """The constraint written in ``fields`` (a dep, ``--adr``, a request), or ()."""
        if all(fields.get(k) in (None, "") for k in _VERSION_FIELDS):
            return ()
        vals = {
            k: (str(fields[k]) if fields.get(k) not in (None, "") else None)
            for k in _VERSION_FIELDS
        }
        c = cls(**vals, chain=chain)
        return () if c.is_empty() else (c,)


_NO_CONSTRAINT: dict[str, str | None] = dict.fromkeys(_VERSION_FIELDS)


def combine(constraints: Sequence[Constraint]) -> dict[str, str | None]:
    """Intersect constraints; a conflict is a :class:`PlanError` naming who asked for what."""
    if not constraints:
        return dict(_NO_CONSTRAINT)
    from ckx.core.versions import compare, parse_version

    exact: Constraint | None = None
    lo: Constraint | None = None
    hi: Constraint | None = None
    usable: str | None = None
    for c in constraints:
        for text in (c.version, c.version_min, c.version_max):
            if text:
                try:
                    parse_version(str(text))
                except CkxError as e:
                    from ckx.engine.problems import PlanError

                    raise PlanError("bad-version", causes=(c,), text=text, why=e.message) from None
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


def _conflict(a: Constraint, b: Constraint) -> PlanError:
    from ckx.engine.problems import PlanError

    target = a.chain[-1] if a.chain else "?"
    return PlanError("conflict", causes=(a, b), chain=a.chain, target=target)


def is_cacheable(entry: Entry, meta: dict[str, Any]) -> bool:
    """Are the results of ``entry`` (with ``meta``) cache entries? Packages are installed once
    and reused unless their meta says otherwise (CK); scripts when ``cache: true``."""
    value = meta.get("cache", entry.automation == "package")
    # what envs.normalise_value makes "yes" of: YAML's true, or the text yes
    return value is True or (isinstance(value, str) and value == "yes")


def detects_when_run(meta: dict[str, Any]) -> bool:
    """Does the engine run ``meta``'s ``detect`` block as a step of the node? Yes for an entry
    that installs nothing (a script such as get-python3, a detect-only package such as
    compiler-gcc). In an entry that installs (a ``download`` or ``python_package`` block) the
    block describes an existing installation, for ``ckx detect`` (which registers what it
    finds) and for the install's own logic (a Python library looks in the interpreter before
    pip), so the engine leaves it alone: ``ckx install package --tags=tool,cmake,src`` builds."""
    return bool(meta.get("detect")) and not (meta.get("download") or meta.get("python_package"))


class Lookup:
    """What a provider is asked to find cached results for (:meth:`Provider.satisfied_by
    <ckx.engine.protocols.Provider.satisfied_by>`): the ``entry``, its cache ``key``, the
    node's tree ``path`` (``--new`` applies to ``root``), its ``variations``, joint version
    ``constraints``, ``inputs`` and ``request_env``."""

    __slots__ = ("entry", "key", "path", "variations", "constraints", "inputs", "request_env")

    def __init__(
        self,
        entry: Entry,
        key: str,
        path: str,
        variations: tuple[str, ...],
        constraints: dict[str, str | None],
        inputs: dict[str, Any],
        request_env: dict[str, Any],
    ) -> None:
        self.entry = entry
        self.key = key
        self.path = path
        self.variations = variations
        self.constraints = constraints
        self.inputs = inputs
        self.request_env = request_env

    def title(self) -> str:
        return self.entry.alias + (
            " " + ",".join(f"_{v}" for v in self.variations) if self.variations else ""
        )


class _Frozen:
    """Attributes are set once, when made; assigning later raises AttributeError.

    How: a frozen class's ``__new__`` fills an instance of its open twin (a subclass with
    no slots of its own and the default ``__setattr__``) by plain assignments, then switches
    the instance's class to the frozen one. Assigning through ``object.__setattr__`` instead
    costs several times more, and a plan makes three of these objects per node.
    """

    __slots__ = ()

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__} is part of a plan and cannot change (tried to set {key}); "
            "ask the planner to revise it"
        )

    # no __init__: everything is set by __new__ (object.__init__ accepts the arguments a
    # class with its own __new__ is called with)

    def _fields(self) -> dict[str, Any]:
        names: tuple[str, ...] = type(self).__slots__
        return {k: getattr(self, k) for k in names}


class Origin:
    """How a node was planned: everything needed to plan it again (a revision, a settled
    version), with the env it inherits replaced by the one known then.

    ``chain`` is the parent's chain (the node's own label is added when it is planned),
    ``ancestors`` the (entry uid, variations) groups above it (a cycle check), ``produced``
    the ``new_env_keys`` of nodes planned before it (which deps are decided when reached),
    ``via`` the dialect name of the node that asks (``""`` for the root): a dep of MLCFlow
    content is looked for among MLCFlow content first (see the provider).

    The planner's bookkeeping, never changed once made (:meth:`but` makes a changed copy);
    not guarded like :class:`Node` because one is made per dep and only the planner reads it.
    """

    __slots__ = (
        "query",
        "name",
        "path",
        "chain",
        "inherited",
        "request_env",
        "adr",
        "inputs",
        "own",
        "ancestors",
        "produced",
        "nested",
        "via",
    )

    def __init__(
        self,
        query: Query,
        name: str | None,
        path: str,
        chain: tuple[str, ...],
        inherited: dict[str, Any],
        request_env: dict[str, Any],
        adr: dict[str, dict],
        inputs: dict[str, Any],
        own: tuple[Constraint, ...],
        ancestors: tuple[tuple[str, tuple[str, ...]], ...],
        produced: tuple[str, ...],
        nested: bool = False,
        via: str = "",
    ) -> None:
        self.query = query
        self.name = name
        self.path = path
        self.chain = chain
        self.inherited = inherited
        self.request_env = request_env
        self.adr = adr
        self.inputs = inputs
        self.own = own
        self.ancestors = ancestors
        self.produced = produced
        self.nested = nested
        self.via = via

    def but(self, **changes: Any) -> Origin:
        """A copy with ``changes``."""
        return Origin(**{**{k: getattr(self, k) for k in self.__slots__}, **changes})


class Edge(_Frozen):
    """A dep of a node: its (merged) declaration and the node it resolved to.

    ``deferred``: its condition is decided when reached; ``skipped``: a static condition is
    false; ``error``: the planning error of a deferred dep (raised only if it is needed);
    ``origin``: how to plan it again when reached (deferred deps).
    """

    __slots__ = ("kind", "index", "dep", "query", "deferred", "skipped", "node", "error", "origin")
    kind: str
    index: int
    dep: dict[str, Any]
    query: Query | None
    deferred: bool
    skipped: bool
    node: Node | None
    error: CkxError | None
    origin: Origin | None

    def __new__(
        cls,
        kind: str,
        index: int,
        dep: dict[str, Any],
        *,
        query: Query | None = None,
        deferred: bool = False,
        skipped: bool = False,
        node: Node | None = None,
        error: CkxError | None = None,
        origin: Origin | None = None,
    ) -> Edge:
        e: Any = object.__new__(_OpenEdge)  # typed Any: its class changes below
        e.kind, e.index, e.dep, e.query = kind, index, dep, query
        e.deferred, e.skipped, e.node, e.error, e.origin = deferred, skipped, node, error, origin
        e.__class__ = Edge
        return e

    def label(self) -> str:
        return f"{self.kind}[{self.index}]"

    def but(self, **changes: Any) -> Edge:
        f = {**self._fields(), **changes}
        return Edge(f.pop("kind"), f.pop("index"), f.pop("dep"), **f)


class _OpenEdge(Edge):
    __slots__ = ()
    __setattr__ = object.__setattr__  # type: ignore[assignment]  # only while Edge.__new__ fills it


class Node(_Frozen):
    """One script to run (or reuse from the cache), with everything the runner needs.

    ``path`` is the node's position in the tree (``root/deps.0/prehook_deps.1``, stable for
    ``--lock``); ``chain`` the aliases from the root; ``meta`` the entry meta with variation
    and version overlays; ``request_env`` the env set explicitly for it; ``layers`` what it
    adds to the env it inherits (:class:`ckx.engine.envs.EnvLayers`); ``static_env`` its env
    as known at plan time; ``cached`` the cache record it reuses; ``hooks`` its checked
    ``customize.py`` (checked by its dialect's lifecycle); ``status`` run | cached | detect;
    ``origin`` how to plan it again. (Its dialect is its repo's: the provider answers.)
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
        "layers",
        "static_env",
        "adr",
        "edges",
        "cache_key",
        "cached",
        "status",
        "hooks",
        "origin",
        "group",
    )
    id: int
    path: str
    entry: Entry
    query: Query
    chain: tuple[str, ...]
    selection: Selection
    meta: dict[str, Any]
    request_env: dict[str, Any]
    inputs: dict[str, Any]
    constraints: tuple[Constraint, ...]
    version: str | None
    layers: envs.EnvLayers
    static_env: dict[str, Any]
    adr: dict[str, dict]
    edges: tuple[Edge, ...]
    cache_key: str | None
    cached: CacheRecord | None
    status: str
    hooks: Customize | None
    origin: Origin
    #: (entry uid, variations): the nodes that share one version in a plan
    group: tuple[str, tuple[str, ...]]

    def __new__(
        cls,
        *,
        id: int,
        path: str,
        entry: Entry,
        query: Query,
        chain: tuple[str, ...],
        selection: Selection,
        meta: dict[str, Any],
        request_env: dict[str, Any],
        inputs: dict[str, Any],
        constraints: tuple[Constraint, ...],
        version: str | None,
        layers: envs.EnvLayers,
        static_env: dict[str, Any],
        adr: dict[str, dict],
        edges: tuple[Edge, ...],
        cache_key: str | None,
        cached: CacheRecord | None,
        status: str,
        hooks: Customize | None,
        origin: Origin,
    ) -> Node:
        n: Any = object.__new__(_OpenNode)  # typed Any: its class changes below
        n.id, n.path, n.entry, n.query, n.chain = id, path, entry, query, chain
        n.selection, n.meta, n.request_env, n.inputs = selection, meta, request_env, inputs
        n.constraints, n.version, n.layers, n.static_env = constraints, version, layers, static_env
        n.adr, n.edges, n.cache_key, n.cached, n.status = adr, edges, cache_key, cached, status
        n.hooks, n.origin = hooks, origin
        n.group = (entry.uid, selection.names)
        n.__class__ = Node
        return n

    def __repr__(self) -> str:
        return f"Node({self.path}: {self.title()} [{self.status}])"

    def but(self, **changes: Any) -> Node:
        """A copy with ``changes`` (the planner's way to settle or revise a node)."""
        fields = self._fields()
        del fields["group"]  # made from the entry and the selection
        return Node(**{**fields, **changes})

    @property
    def cacheable(self) -> bool:
        return is_cacheable(self.entry, self.meta)

    @property
    def variations(self) -> tuple[str, ...]:
        return self.selection.names

    def joint(self) -> dict[str, str | None]:
        """The node's constraints combined (they are known to be consistent)."""
        return combine(self.constraints)

    def title(self) -> str:
        v = f" {self.selection.text}" if self.selection.names else ""
        return f"{self.entry.alias}{v}"

    def walk(self) -> list[Node]:
        """This node and every planned node below it, in run order."""
        out: list[Node] = []
        todo = [self]
        while todo:
            n = todo.pop()
            out.append(n)
            todo.extend(e.node for e in reversed(n.edges) if e.node is not None)
        return out


class _OpenNode(Node):
    __slots__ = ()
    __setattr__ = object.__setattr__  # type: ignore[assignment]  # only while Node.__new__ fills it


class Plan(_Frozen):
    """The resolved graph: a tree of nodes in run order, the request it answers, and the
    version constraints each (entry, variations) group settled on (``groups``, which a
    revision keeps). ``revisions`` are the notes of the revisions made while running
    (see :meth:`with_revisions`)."""

    __slots__ = ("root", "request", "groups", "revisions")
    root: Node
    request: dict[str, Any]
    groups: dict[tuple[str, tuple[str, ...]], tuple[Constraint, ...]]
    revisions: tuple[str, ...]

    def __new__(
        cls,
        root: Node,
        request: dict[str, Any] | None = None,
        groups: dict[tuple[str, tuple[str, ...]], tuple[Constraint, ...]] | None = None,
        revisions: tuple[str, ...] = (),
    ) -> Plan:
        p: Any = object.__new__(_OpenPlan)  # typed Any: its class changes below
        p.root, p.request, p.groups, p.revisions = root, request or {}, groups or {}, revisions
        p.__class__ = Plan
        return p

    @property
    def nodes(self) -> list[Node]:
        return list(self.root.walk())

    def to_lock(self) -> dict[str, Any]:
        """The versioned lock document (see :mod:`ckx.engine.lockfile`)."""
        from ckx.engine.lockfile import plan_to_lock

        return plan_to_lock(self)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"request": self.request, "root": _node_dict(self.root)}
        if self.revisions:
            out["revisions"] = list(self.revisions)
        return out

    def render(self) -> str:
        """The human tree that ``--plan`` prints (and the revisions made while running)."""
        lines: list[str] = []
        _render(self.root, "", "", lines)
        lines += [f"revised: {r}" for r in self.revisions]
        return "\n".join(lines)

    def with_revisions(self, revised: dict[str, Node], notes: Sequence[str]) -> Plan:
        """This plan with the nodes at the paths of ``revised`` replaced (the plan as it was
        run), ``notes`` added to its revisions."""
        if not revised:
            return self
        root = replace_nodes(self.root, revised)
        return Plan(root, self.request, self.groups, (*self.revisions, *notes))


class _OpenPlan(Plan):
    __slots__ = ()
    __setattr__ = object.__setattr__  # type: ignore[assignment]  # only while Plan.__new__ fills it


def replace_nodes(node: Node, new: dict[str, Node]) -> Node:
    """``node``'s tree with the nodes at the paths of ``new`` replaced (ancestors copied)."""
    if node.path in new:  # revised again inside a revised subtree: apply the inner ones too
        rest = {p: n for p, n in new.items() if p != node.path}
        return replace_nodes(new[node.path], rest) if rest else new[node.path]
    if not any(p.startswith(node.path + "/") for p in new):
        return node
    edges = []
    for e in node.edges:
        target = e.origin.path if e.origin is not None else None
        if e.node is not None:
            edges.append(e.but(node=replace_nodes(e.node, new)))
        elif target in new:
            edges.append(e.but(node=new[target], error=None, skipped=False))
        else:
            edges.append(e)
    return node.but(edges=tuple(edges))


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
        elif e.node is None and e.error is None and e.deferred:
            lines.append(f"{branch}{tag}{e.query}  [not planned: condition false now]")
        elif e.node is None:
            why = f": {e.error.message.splitlines()[0]}" if e.error else ""
            lines.append(f"{branch}{tag}{e.query}  [unresolved{why}]")
        else:
            _render(e.node, branch + tag, sub, lines)
