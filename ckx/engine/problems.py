"""Planning errors as data, rendered to text in one place.

The planner raises :class:`PlanError` (a :class:`~ckx.core.errors.ResolutionError`) carrying
what went wrong as fields: ``kind``, ``chain`` (the aliases from the root to where it
happened; for a variation problem ``details["where"]`` names the entry and its chain), ``cycle`` (for a dependency cycle, the chain that closes it), ``causes`` (the
version constraints involved, each with the chain of who asked) and ``details``. The
message and hint a user reads are made from these fields by :func:`render`, the only place
that words them; callers that want to show or check a conflict differently read the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ckx.core.errors import ResolutionError


class Cause(Protocol):
    """One requirement behind a problem: a version constraint and who asked for it."""

    chain: tuple[str, ...]

    def describe(self) -> str: ...


class PlanError(ResolutionError):
    """A plan that cannot be made. ``kind`` is one of :data:`KINDS`."""

    def __init__(
        self,
        kind: str,
        *,
        chain: Sequence[str] = (),
        cycle: Sequence[str] = (),
        causes: Sequence[Cause] = (),
        **details: Any,
    ) -> None:
        self.kind = kind
        self.chain = tuple(chain)
        self.cycle = tuple(cycle)
        self.causes = tuple(causes)
        self.details = details
        message, hint = render(self)
        super().__init__(message, hint=hint)


def _path(chain: Sequence[str]) -> str:
    return " → ".join(chain)


def _cycle(e: PlanError) -> tuple[str, str | None]:
    return (
        "dependency cycle: " + _path(e.cycle),
        "one of these scripts must stop depending on the other (check deps, variations "
        "and the scripts their hooks run)",
    )


def _depth(e: PlanError) -> tuple[str, str | None]:
    head = _path(e.chain[:5])
    return f"dependency chain deeper than {e.details['limit']}: {head} → …", None


def _conflict(e: PlanError) -> tuple[str, str | None]:
    target = e.details.get("target") or "?"
    lines = [f"  {_path(c.chain)} requires {c.describe()}" for c in e.causes]
    return (
        f"version conflict for {target}:\n" + "\n".join(lines),
        "relax one of the constraints (e.g. --adr.NAME.version_min=...) or pin one version",
    )


def _bad_version(e: PlanError) -> tuple[str, str | None]:
    asked = _path(e.causes[0].chain) if e.causes else "?"
    return f"bad version '{e.details['text']}' asked by {asked}: {e.details['why']}", None


def _no_version(e: PlanError) -> tuple[str, str | None]:
    return (
        f"{e.details['alias']} ({_path(e.chain)}): none of its versions "
        f"({', '.join(e.details['declared'])}) fits {e.details['wanted']}",
        "change the version constraint or add the version to the entry's 'versions'",
    )


def _no_match(e: PlanError) -> tuple[str, str | None]:
    d = e.details
    who = f" (needed by {_path(e.chain)})" if e.chain else ""
    target = f"'{d['name']}' with tags '{d['query']}'" if d.get("name") else f"tags '{d['query']}'"
    return (
        f"no {' or '.join(d['kinds'])} entry matches {target}{who}",
        f"list candidates with: ckx find script --tags={','.join(d['tags'])}"
        " (and ckx find package --tags=...)",
    )


def _pin_gone(e: PlanError) -> tuple[str, str | None]:
    pin = e.details["pin"]
    return (
        f"the lock file pins {pin.get('alias')} ({pin.get('uid')}) at {pin.get('path')}, "
        f"but no such entry matches '{e.details['query']}' any more",
        "restore that entry, or plan again without --lock and write a new lock",
    )


def _lock_graph(e: PlanError) -> tuple[str, str | None]:
    d = e.details
    return (
        f"the lock file has no node at {d['path']} ({d['cid']}): the graph changed",
        "plan again without --lock and write a new lock",
    )


def _lock_changed(e: PlanError) -> tuple[str, str | None]:
    d = e.details
    return (
        f"{d['cid']} changed since the lock was written ({d['what']} differ"
        f"{'s' if d['what'] == 'its meta' else ''})",
        "restore the entry, or write a new lock",
    )


def _unsettled(e: PlanError) -> tuple[str, str | None]:
    return (
        f"version constraints did not settle after {e.details['rounds']} rounds "
        f"(still changing: {', '.join(e.details['groups'])})",
        "pin the versions of these scripts with --adr.NAME.version=...",
    )


def _variation(e: PlanError) -> tuple[str, str | None]:
    d = e.details
    name, where = d.get("name"), d["where"]
    known = "declared variations: " + (
        ", ".join(f"_{k}" for k in d.get("declared", ())) or "(none)"
    )
    if e.kind == "variation-unknown":
        from ckx.core.suggest import did_you_mean

        return f"{where}: no variation '_{name}'" + did_you_mean(str(name), d["declared"]), known
    if e.kind == "variation-needs-value":
        return f"{where}: variation '_{name}' needs a value: '_{name}.VALUE'", known
    if e.kind == "variation-not-dynamic":
        return (
            f"{where}: '_{name}.{d['value']}' asks for a dynamic variation '{name}.#', "
            "which is not declared",
            known,
        )
    if e.kind == "variation-forbidden":
        return f"{where}: variation '_{name}' is both selected and forbidden", None
    if e.kind == "variation-group":
        a, b = d["names"]
        return (
            f"{where}: variations '_{a}' and '_{b}' are both selected but belong to the same "
            f"group '{d['group']}'",
            "select one variation per group",
        )
    if e.kind == "variation-combination":
        shown = ", ".join(f"_{p}" for p in d["names"])
        return f"{where}: the variations {shown} cannot be combined", None
    if e.kind == "variation-not-valid":
        picked = ",".join(f"_{n}" for n in d["names"]) or "none"
        shown = "; ".join(",".join(f"_{p}" for p in v) for v in d["valid"])
        return (
            f"{where}: the variations {picked} are not one of the valid combinations",
            f"select all of one of: {shown}",
        )
    if e.kind == "variation-default":
        return (
            f"{where}: default variation '_{name}' of group '{d['group']}' is not declared",
            None,
        )
    return f"{where}: variation bases and defaults do not settle (a base cycle?)", None


_RENDER: dict[str, Callable[[PlanError], tuple[str, str | None]]] = {
    "cycle": _cycle,
    "depth": _depth,
    "conflict": _conflict,
    "bad-version": _bad_version,
    "no-version": _no_version,
    "no-match": _no_match,
    "pin-gone": _pin_gone,
    "unsettled": _unsettled,
    "lock-graph": _lock_graph,
    "lock-changed": _lock_changed,
    **dict.fromkeys(
        (
            "variation-unknown",
            "variation-needs-value",
            "variation-not-dynamic",
            "variation-forbidden",
            "variation-group",
            "variation-combination",
            "variation-not-valid",
            "variation-default",
            "variation-unsettled",
        ),
        _variation,
    ),
}

#: The kinds of :class:`PlanError`.
KINDS = tuple(_RENDER)


def render(e: PlanError) -> tuple[str, str | None]:
    """The message and hint of ``e`` (the one place planning errors are worded)."""
    return _RENDER[e.kind](e)
