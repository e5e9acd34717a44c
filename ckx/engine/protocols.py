"""The planner's partners (resolvelib's split): a :class:`Provider` that answers questions
about the world, a :class:`Chooser` beside it that picks where several candidates remain, and
a :class:`Reporter` that is told what happens and only observes.

The planner knows nothing of repositories, files or terminals: it asks the provider for
candidates, their order, their dependencies, cached results and their dialect, the chooser
which of several entries or cached results to take, and it tells the reporter what it
planned, rejected and revised. The runner tells the same reporter what runs, and a node's
lifecycle asks the same chooser (several installations found). :class:`ckx.engine.provider.
RepoProvider` is the provider over the index and the cache, :class:`ckx.engine.provider.
UiChooser` the chooser that prompts on a terminal, :class:`ckx.engine.reporter.CliReporter`
the reporter that turns events into ``ctx.ui`` lines. Tests plan against an in-memory
provider (``tests/engine/memory.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ckx.core.entries import Entry
from ckx.core.errors import CkxError
from ckx.core.query import Query

if TYPE_CHECKING:
    from ckx.engine.cache import CacheRecord
    from ckx.engine.model import Constraint, Lookup, Node, Plan
    from ckx.engine.nodeops import Lifecycle


class Provider(Protocol):
    """What the planner asks the world."""

    #: the kinds of entries that are nodes, the root's first (``("script", "package")``)
    kinds: tuple[str, ...]

    def find_candidates(
        self, query: Query, name: str | None, *, root: bool, via: str = ""
    ) -> list[Entry]:
        """Entries matching ``query`` (and alias/uid ``name``); ``root``: for the requested
        entry itself (``ckx install package`` searches packages only); ``via``: the dialect
        name of the node asking (its own dialect's content is preferred)."""
        ...

    def preference(self, entry: Entry) -> tuple:
        """Sort key among several candidates of one query: the first is preferred."""
        ...

    def dependencies(self, meta: dict[str, Any]) -> Sequence[tuple[str, dict[str, Any]]]:
        """The deps an entry with ``meta`` (overlays applied) declares: ``(kind, dep)`` pairs,
        kinds in run order (``deps``, ``prehook_deps``, ``posthook_deps``, ``post_deps``)."""
        ...

    def satisfied_by(self, look: Lookup) -> Sequence[CacheRecord]:
        """Valid cached results for a node (its entry, cache key, tree path, variations,
        constraints, inputs), preferred first (empty: it must run; the root with ``--new``
        is never satisfied)."""
        ...

    def dialect(self, entry: Entry) -> Dialect:
        """How the runner talks to ``entry``'s files (and how its hooks are checked)."""
        ...

    def missing(self, name: str, chain: tuple[str, ...]) -> CkxError | None:
        """The error for an entry ``name`` that matches nothing (did-you-mean, or why the
        entry is invalid), or None for the planner's own no-match error."""
        ...


class Dialect(Protocol):
    """How the engine plans one kind of content, and its lifecycle (see
    :mod:`ckx.engine.dialects`): plan policy plus ``lifecycle``, ten members."""

    #: a short name (``ckx``, ``mlcflow``), shown in messages
    name: str
    #: prefix of the engine's variables (``CKX_``)
    prefix: str
    #: deferred deps false at plan time are planned only when reached (see :mod:`ckx.engine.dialects`)
    predicts_conditions: bool
    #: the chosen variations' ``env`` wins over inputs (MLCFlow's order; ckx: inputs win)
    variation_env_wins: bool

    @property
    def lifecycle(self) -> Lifecycle:
        """The node's steps once it runs (see :class:`ckx.engine.nodeops.Lifecycle`)."""
        ...

    def claims(self, repo: Any) -> bool:
        """Does this dialect serve the entries of ``repo`` (a :class:`ckx.core.repos.Repo`)?"""
        ...

    def preference(self, entry: Entry) -> tuple:
        """Sort key among several matching entries: the first is preferred (ckx's content
        sorts before every other dialect's)."""
        ...

    def plan_dep(self, dep: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
        """A dep declaration (``add_deps``/``adr`` merged in) as the planner should read it;
        ``parent``: the fields of the node planned (meta, selection, static_env, version...)."""
        ...

    def dep_enabled(self, dep: dict[str, Any], env: dict[str, Any]) -> bool:
        """Do the dep's conditions hold in ``env``?"""
        ...

    def check_plan(self, plan: Plan, request: dict[str, Any]) -> None:
        """Refuse a plan before anything runs (raise a CkxError); most dialects accept all."""
        ...


class Chooser(Protocol):
    """Picks one of several candidates, cached results or installations."""

    def choose(self, title: str, options: list[str], default: int) -> int:
        """Return the index of the option taken: a prompt when interactive, else
        ``default`` and a note saying so."""
        ...


class Reporter(Protocol):
    """What the planner and runner tell the outside world (a reporter only observes)."""

    def planned(self, node: Node) -> None:
        """A node was planned (or planned again)."""

    def rejected(self, entry: Entry, query: Query, reason: str) -> None:
        """A candidate of ``query`` was dropped (a lock pin, a variation it lacks, ...)."""

    def conflict(self, title: str, causes: Sequence[Constraint]) -> None:
        """Nodes of one (entry, variations) group disagreed; they are planned again with
        ``causes`` together."""

    def revised(self, node: Node, reason: str) -> None:
        """While running, ``node`` was planned again (``reason`` says why)."""

    def started(self, node: Node) -> None:
        """``node`` starts running."""

    def cached(self, node: Node, record: CacheRecord) -> None:
        """``node`` is reused from the cache entry ``record``."""

    def output(self, node: Node, line: str) -> None:
        """A line its script printed."""

    def done(self, node: Node, status: str) -> None:
        """``node`` finished (``ran``, ``cached``)."""


class Defaults:
    """The reporter that says nothing and the chooser that takes the default of every
    choice (a planner made without them)."""

    def planned(self, node: Node) -> None:
        pass

    def rejected(self, entry: Entry, query: Query, reason: str) -> None:
        pass

    def choose(self, title: str, options: list[str], default: int) -> int:
        return default

    def conflict(self, title: str, causes: Sequence[Constraint]) -> None:
        pass

    def revised(self, node: Node, reason: str) -> None:
        pass

    def started(self, node: Node) -> None:
        pass

    def cached(self, node: Node, record: CacheRecord) -> None:
        pass

    def output(self, node: Node, line: str) -> None:
        pass

    def done(self, node: Node, status: str) -> None:
        pass
