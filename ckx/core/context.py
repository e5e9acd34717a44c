"""The context of one ckx call: home, repos, index, output, options. No global state.

Automation actions receive ``(ctx, i)``: ``ctx`` is a :class:`Context`, ``i`` the request dict.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core.entries import Entry
from ckx.core.errors import NotFoundError, UsageError
from ckx.core.query import Query, parse
from ckx.core.repos import Registry
from ckx.core.ui import UI

#: Kinds whose entries become nodes of a plan (and whose results are cached): their searches
#: refuse uid clashes. (Automations are loaded by alias, first repo first, and never cached.)
RESOLVED_KINDS = frozenset({"script", "package", "program"})

if TYPE_CHECKING:
    from ckx.core.index import Index


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """``CKX_HOME``, else the platform's user data dir (``~/.local/share/ckx`` on Linux)."""
    env = os.environ if environ is None else environ
    if env.get("CKX_HOME"):
        return Path(env["CKX_HOME"]).expanduser().resolve()
    if sys.platform.startswith("linux"):  # what platformdirs answers, without its import cost
        base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "ckx"
    import platformdirs

    return Path(platformdirs.user_data_dir("ckx", appauthor=False))


class Context:
    """Everything one call needs, built lazily so a cheap command stays cheap."""

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        ui: UI | None = None,
        environ: Mapping[str, str] | None = None,
        debug: bool = False,
        builtin_root: Path | None = None,
        dialects: Callable[[Context], Sequence[Any]] | Sequence[Any] = (),
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.home = Path(home).resolve() if home else default_home(self.environ)
        if self.home.exists() and not self.home.is_dir():
            from ckx.core.errors import StorageError

            raise StorageError(
                f"CKX_HOME {self.home} is a file, not a folder",
                hint="point CKX_HOME at a folder (it is created when missing), or move the file",
            )
        self.ui = ui or UI()
        self.debug = debug
        self._builtin_root = builtin_root
        self._dialects = dialects

    @property
    def quiet(self) -> bool:
        return self.ui.quiet

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.home, self._builtin_root)

    @cached_property
    def dialects(self) -> tuple[Any, ...]:
        """The content dialects this call serves besides ckx's own (MLCFlow's, when an
        MLCFlow repository is registered), asked in order which one claims a repo (see
        :mod:`ckx.engine.dialects`). Made once per Context, when first asked, by what the
        door that made the Context passed (``ckx.app.api.open_context`` passes
        :func:`ckx.compat.served`); a Context made without it serves ckx's content only."""
        given = self._dialects
        return tuple(given(self) if callable(given) else given)

    @cached_property
    def index(self) -> Index:
        from ckx.core.index import Index  # sqlite3: imported by the commands that search only

        return Index(self.home, self.registry, warn=self.ui.warn)

    # -- repos ---------------------------------------------------------------------------
    def local_repo_path(self) -> Path:
        """The user's ``local`` repo (created on first use)."""
        return _made(self.registry.get("local").path)

    def state_dir(self, *parts: str) -> Path:
        return _made(self.home.joinpath("state", *parts))

    # -- entries -------------------------------------------------------------------------
    def search(
        self,
        automation: str | tuple[str, ...] | None,
        query: Query | str | None = None,
        *,
        repo: str | None = None,
        name: str | None = None,
        unique_uids: bool | None = None,
    ) -> list[Entry]:
        """Entries of ``automation`` whose tags match ``query`` (and alias/uid glob ``name``);
        several automations (a tuple): the hits of the first, then of the next, ...

        Searches that pick candidates (a query or a name) among the kinds that are planned
        (:data:`RESOLVED_KINDS`) refuse two hits that share a uid at different paths (a
        ResolutionError naming both): a copy claiming a built-in's identity must not be
        picked. A built-in entry and its twin in a foreign repo (MLCFlow's) are not a clash:
        the engine's provider chooses by dialect. Listing and managing entries (``ls``,
        ``rm``, ``lint`` ...) pass ``unique_uids=False``."""
        if isinstance(query, str):
            query = parse(query)
        if unique_uids is None:  # a query or a name picks candidates; neither is a listing
            kinds = automation if isinstance(automation, tuple) else (automation,)
            resolved = all(k in RESOLVED_KINDS for k in kinds)
            unique_uids = resolved and (bool(name) or (query is not None and not query.is_empty()))
        return self.index.search(
            automation, query, repo=repo, name=name, unique_uids=bool(unique_uids)
        )

    def load(
        self,
        automation: str,
        name: str,
        *,
        repo: str | None = None,
        unique_uids: bool | None = None,
    ) -> Entry:
        """Exactly one entry by alias or uid; NotFoundError with suggestions otherwise."""
        hits = self.search(automation, None, repo=repo, name=name, unique_uids=unique_uids)
        if not hits:
            raise self.not_found(automation, name, repo=repo)
        if len(hits) > 1:
            where = "\n".join(f"  {e.cid}  ({e.path})" for e in hits)
            first = hits[0]
            self.ui.note(
                f"'{automation}:{name}' exists in several repos; using {first.cid}:\n{where}"
            )
        return hits[0]

    def not_found(self, automation: str, name: str, *, repo: str | None = None) -> NotFoundError:
        bad = [p for p in self.index.problems(repo) if Path(p.path).name == name]
        if bad:
            return NotFoundError(
                f"entry '{automation}:{name}' exists but is invalid: {bad[0].message}",
                hint="fix the meta file; `ckx lint` lists every problem",
            )
        from ckx.core.suggest import did_you_mean  # the error path only: not at start-up

        where = f" in repo '{repo}'" if repo else ""
        named = [
            e
            for e in self.search(automation, None, repo=repo, unique_uids=False)
            if Path(e.path).name == name
        ]
        if named:
            e = named[0]
            return NotFoundError(
                f"no {automation} entry named '{name}'{where}: the entry in the folder "
                f"{e.path} is named '{e.alias}' (its meta's alias differs from its folder name)",
                hint=f"load it as {e.automation}:{e.alias}, or make the alias and the folder "
                "name the same (ckx lint warns of every such entry)",
            )
        return NotFoundError(
            f"no {automation} entry named '{name}'{where}"
            + did_you_mean(name, self.index.names(automation)),
            hint=f"list them with: ckx ls {automation}",
        )

    def require(self, value: Any, what: str, example: str) -> Any:
        if value in (None, "", []):
            raise UsageError(f"missing {what}", hint=f"for example: {example}")
        return value


def _made(p: Path) -> Path:
    """``p``, created when missing; a StorageError (read-only, full, a file in the way) otherwise."""
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from ckx.core.errors import storage_error

        raise storage_error(e, "a folder of CKX_HOME") from None
    return p
