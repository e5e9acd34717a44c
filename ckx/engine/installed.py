"""What was installed is what runs: the provider the engine plans with.

:class:`InstalledFirstProvider` is :class:`~ckx.engine.provider.RepoProvider` plus three
rules (CK's: a program's dependencies are found among the registered env entries before any
package is installed):

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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ckx.core.entries import Entry
from ckx.core.query import Query
from ckx.engine.cache import CacheRecord
from ckx.engine.model import Lookup
from ckx.engine.provider import CacheFlags, RepoProvider

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Node, Plan


class InstalledFirstProvider(RepoProvider):
    """A :class:`RepoProvider` that prefers and reuses installed packages (module doc)."""

    def __init__(self, ctx: Context, *, root_kinds: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(ctx, **kwargs)
        #: the kinds the root of the request is searched among (default: the first kind)
        self.root_kinds = root_kinds or self.kinds[:1]
        self._records: list[CacheRecord] | None = None

    def find_candidates(
        self, query: Query, name: str | None, *, root: bool, via: str = ""
    ) -> list[Entry]:
        if not root:
            return self._installed_first(super().find_candidates(query, name, root=False, via=via))
        hits: list[Entry] = []
        for kind in self.root_kinds:
            hits += self.ctx.search(kind, query, name=name, repo=self.repo)
        return self._installed_first(self.choosable(hits, via))

    def satisfied_by(self, look: Lookup) -> list[CacheRecord]:
        found = super().satisfied_by(look)
        if found or not self._may_reuse_other_key(look):
            return found
        # another key's entry of the same package: the planner's reporter picks among several
        return [r for r in self.installed_records(look.entry.uid) if _same_artifact(r, look)]

    # -- helpers ---------------------------------------------------------------------------
    def installed_records(self, uid: str | None = None) -> list[CacheRecord]:
        """Valid cache entries (of the entry ``uid``), newest first."""
        if self._records is None:
            self._records = [r for r in self.store.records() if not r.problems()]
        return [r for r in self._records if uid is None or r.meta.get("script_uid") == uid]

    def _installed_first(self, hits: list[Entry]) -> list[Entry]:
        packages = [e for e in hits if e.automation == "package"]
        if len(hits) < 2 or not packages:
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


def registered_path(rec: CacheRecord) -> str | None:
    """The folder or file a cache entry registered with ``--path`` points at (else None)."""
    return rec.registered()


# --- --plan: which artefact each node uses ---------------------------------------------------------


def artifact_report(ctx: Context, plan: Plan) -> list[str]:
    """Lines for ``--plan``: per node that installs something, what is already there (an
    installed or registered copy, a library in the interpreter) and what would be fetched,
    from where (mirrors first). Nothing is downloaded or installed."""
    lines: list[str] = []
    seen: set[str] = set()
    for node in plan.nodes:
        key = f"{node.entry.uid}|{node.cache_key}|{node.selection.text}"
        if key in seen:
            continue
        seen.add(key)
        found = _node_lines(ctx, node)
        if found:
            ver = f" v{node.version}" if node.version else ""
            lines += [f"  {node.title()}{ver}:", *(f"    {t}" for t in found)]
    return ["artefacts:", *lines] if lines else []


def _node_lines(ctx: Context, node: Node) -> list[str]:
    rec = node.cached
    if rec is not None:
        reg = registered_path(rec)
        where = f"registered copy {reg}" if reg else str(rec.path)
        return (
            [f"installed: {where} (cache {rec.uid})"] if node.entry.automation == "package" else []
        )
    if node.meta.get("python_package"):
        line = _python_line(ctx, node)
        return [line] if line else []
    if not node.meta.get("download"):
        return []
    from ckx.artifacts.prepare import PATH_ENV, describe_item, parse_download_block

    existing = node.inputs.get("path") or node.static_env.get(PATH_ENV)
    if existing:
        return [f"register the existing copy {existing} (checked, nothing copied)"]
    out = []
    for item in parse_download_block(node.meta, node.static_env, node.entry.alias):
        d = describe_item(ctx, item)
        out.append(d["what"] + (f": already {d['have']}" if d["have"] else ""))
        if not d["have"]:
            out.append("  from: " + " -> ".join(d["sources"]))
    if (node.entry.path / "run.sh").is_file():
        out.append("then its run.sh builds it (the steps are printed as they run)")
    return out


def _python_line(ctx: Context, node: Node) -> str | None:
    from ckx.artifacts.pythonlibs import describe_for_plan

    constraints = {k: v for k, v in node.joint().items() if v}
    return describe_for_plan(
        node.meta, node.static_env, ctx.environ, ctx.home, constraints, node.entry.alias
    )


def provider_for(ctx: Context, request: dict[str, Any]) -> InstalledFirstProvider:
    """The provider of ``request``: its own kind at the root (scripts and packages for
    ``run``), scripts and packages below, the request's cache flags."""
    root = request.get("automation") or "script"
    kinds = tuple(dict.fromkeys((root, "script", "package")))
    flags = CacheFlags.of(request)
    roots = ("script", "package") if root == "script" else (root,)
    repo = request.get("repo") if isinstance(request.get("repo"), str) else None
    return InstalledFirstProvider(ctx, automation=kinds, flags=flags, root_kinds=roots, repo=repo)
