"""Repositories: where entries live, and the registry of the repos ckx knows.

A repo is a folder. Its description file says its alias and uid and, optionally, which folder
holds which automation:

- ckx: ``repo.yaml`` (``alias``, ``uid``, ``folders: {script: scripts, ...}``);
- MLCFlow: a root ``meta.yaml`` (``alias``, ``uid``, ...) with entries at ``script/<alias>/``;
- CM: ``cmr.yaml``; CK v1: ``.ckr.json`` (``data_alias``, ``data_uid``).

Without ``folders`` every top-level folder is an automation of the same name, which is exactly
the layout of MLCFlow, CM and CK repos, so they register as they are.

The registry (``CKX_HOME/repos.json``) lists the user's repos; the built-in repo (this project,
described by its ``repos.yaml``) and the ``local`` repo (``CKX_HOME/repos/local``) are implicit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ckx.core import atomic
from ckx.core.errors import ConflictError, MetaError, NotFoundError, UsageError
from ckx.core.metafile import load_meta

#: Folder names that never hold entries.
IGNORED_FOLDERS = frozenset({"tests", "docs", "bench", "ckx", "build", "dist", "node_modules"})

BUILTIN_ALIAS = "builtin"
UNTRUSTED = "untrusted"
LOCAL_ALIAS = "local"
#: Description files of a repo, in order of preference.
REPO_DESC_FILES = ("repo.yaml", "cmr.yaml", "meta.yaml", "meta.json", ".ckr.json")


class Repo:
    """A repository of entries. ``kind``: builtin | local | user | untrusted; ``folders``:
    automation -> folder (relative), or None for "each top-level folder is the automation of
    its name". An *untrusted* repo (code that came in an archive, ``ckx unzip --allow_code``)
    is registered but never indexed or searched until ``ckx add repo:ALIAS`` trusts it."""

    __slots__ = ("alias", "uid", "path", "kind", "url", "folders", "extra")

    def __init__(
        self,
        alias: str,
        uid: str,
        path: Path,
        kind: str = "user",
        url: str | None = None,
        folders: dict[str, str] | None = None,
        extra: dict | None = None,
    ) -> None:
        self.alias = alias
        self.uid = uid
        self.path = Path(path)
        self.kind = kind
        self.url = url
        self.folders = folders
        self.extra = extra if extra is not None else {}

    def __repr__(self) -> str:
        return f"Repo({self.alias!r}, {self.kind}, {str(self.path)!r})"

    def automation_folders(self) -> list[tuple[str, Path]]:
        """(automation alias, folder) pairs of this repo, sorted for a stable walk."""
        if self.folders:
            return [(a, self.path / f) for a, f in sorted(self.folders.items())]
        out = []
        try:
            with os.scandir(self.path) as it:
                for d in it:
                    if d.name.startswith((".", "_")) or d.name in IGNORED_FOLDERS:
                        continue
                    if d.is_dir():
                        out.append((d.name, Path(d.path)))
        except FileNotFoundError:
            return []
        return sorted(out)

    def folder_for(self, automation: str) -> Path:
        """Where new entries of ``automation`` go in this repo."""
        if self.folders and automation in self.folders:
            return self.path / self.folders[automation]
        return self.path / automation

    def to_dict(self) -> dict:
        d: dict[str, object] = {
            "alias": self.alias,
            "uid": self.uid,
            "path": str(self.path),
            "kind": self.kind,
        }
        if self.url:
            d["url"] = self.url
        if self.folders:
            d["folders"] = dict(self.folders)
        if self.kind == UNTRUSTED:
            d["trusted"] = False
        return d


def project_root() -> Path:
    """Where the built-in repo is: ``$CKX_BUILTIN_REPO``; else ``ckx/_builtin`` in a regular
    install (setup.py copies the content there); else the checkout of an editable install."""
    env = os.environ.get("CKX_BUILTIN_REPO")
    if env:
        return Path(env).expanduser().resolve()
    package = Path(__file__).resolve().parents[1]  # ckx/
    packaged = package / "_builtin"
    if (packaged / "repos.yaml").is_file():
        return packaged
    return package.parent


def read_repo_description(path: Path) -> dict:
    """Alias, uid and folders of the repo at ``path`` from whichever description file it has."""
    for name in REPO_DESC_FILES:
        f = path / name
        if not f.is_file():
            continue
        data = load_meta(f) if name != ".ckr.json" else json.loads(f.read_text(encoding="utf-8"))
        if name == ".ckr.json":
            return {"alias": data.get("data_alias"), "uid": data.get("data_uid"), "file": str(f)}
        out = {
            "alias": data.get("alias"),
            "uid": data.get("uid"),
            "folders": data.get("folders"),
            "file": str(f),
        }
        if out["folders"] is not None and not isinstance(out["folders"], dict):
            raise MetaError(f"{f}: field 'folders' must map automation names to folders")
        return out
    return {}


def cached_yaml(path: Path, home: Path) -> dict:
    """Parse a YAML file, keeping a JSON copy keyed by (mtime, size) in ``home`` (YAML costs ~30 ms)."""
    from ckx.core.digest import short_hex

    st = path.stat()
    key = short_hex(str(path).encode(), 8)
    cache = home / "state" / f"yaml-{key}.json"
    sig = [st.st_mtime_ns, st.st_size]
    try:
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("sig") == sig:
            return saved["data"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        pass
    data = load_meta(path)
    try:
        atomic.write_text(cache, json.dumps({"sig": sig, "data": data}))
    except OSError:
        pass  # a read-only home still works, just slower
    return data


class Registry:
    """The repos ckx knows: built-in, local, then the user's in the order they were added."""

    def __init__(self, home: Path, builtin_root: Path | None = None) -> None:
        self.home = Path(home)
        self.file = self.home / "repos.json"
        self.builtin_root = builtin_root or project_root()
        self._repos: list[Repo] | None = None

    # -- reading -------------------------------------------------------------------------
    @property
    def repos(self) -> list[Repo]:
        """The repos entries are searched in: untrusted ones are not among them."""
        if self._repos is None:
            self._repos = [
                *self._builtin(),
                self._local(),
                *(r for r in self._user() if r.kind != UNTRUSTED),
            ]
        return self._repos

    @property
    def untrusted(self) -> list[Repo]:
        """Registered repos that ckx does not use until ``ckx add repo:ALIAS`` trusts them."""
        return [r for r in self._user() if r.kind == UNTRUSTED]

    def _builtin(self) -> list[Repo]:
        f = self.builtin_root / "repos.yaml"
        if not f.is_file():
            return []
        data = cached_yaml(f, self.home)
        out = []
        for r in data.get("repos", []):
            out.append(
                Repo(
                    alias=r["alias"],
                    uid=r.get("uid", ""),
                    path=(self.builtin_root / r.get("path", ".")).resolve(),
                    kind="builtin",
                    folders=r.get("folders"),
                    url=r.get("url"),
                )
            )
        return out

    def _local(self) -> Repo:
        return Repo(
            alias=LOCAL_ALIAS,
            uid="0000000000000001",
            path=self.home / "repos" / "local",
            kind="local",
        )

    def _user(self) -> list[Repo]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except json.JSONDecodeError as e:
            raise MetaError(
                f"{self.file}: the repo registry is not valid JSON (line {e.lineno}): {e.msg}",
                hint="fix or delete the file; the repos themselves are untouched",
            ) from None
        return [
            Repo(
                alias=r["alias"],
                uid=r.get("uid", ""),
                path=Path(r["path"]),
                kind="user" if r.get("trusted", True) is not False else UNTRUSTED,
                url=r.get("url"),
                folders=r.get("folders"),
            )
            for r in data.get("repos", [])
        ]

    def get(self, alias: str) -> Repo:
        for r in self.repos:
            if r.alias == alias or (r.uid and r.uid == alias):
                return r
        held = self.find_any(alias)
        if held is not None:
            raise NotFoundError(
                f"repo '{alias}' at {held.path} is not trusted: ckx does not use its entries",
                hint=f"review what it holds, then trust it with: ckx add repo:{alias} "
                f"(or remove it: ckx rm repo:{alias} --delete)",
            )
        from ckx.core.suggest import did_you_mean  # the error path only: not at start-up

        raise NotFoundError(
            f"unknown repo '{alias}'" + did_you_mean(alias, [r.alias for r in self.repos]),
            hint="list repos with: ckx ls repo",
        )

    def find(self, alias: str) -> Repo | None:
        return next((r for r in self.repos if r.alias == alias), None)

    def find_any(self, alias: str) -> Repo | None:
        """A repo by alias, trusted or not."""
        return self.find(alias) or next((r for r in self.untrusted if r.alias == alias), None)

    # -- writing -------------------------------------------------------------------------
    def _save_user(self, repos: list[Repo]) -> None:
        data = {
            "version": 1,
            "repos": [{k: v for k, v in r.to_dict().items() if k != "kind"} for r in repos],
        }
        atomic.write_text(self.file, json.dumps(data, indent=2) + "\n")
        self._repos = None

    def add(self, repo: Repo, *, trusted: bool = True) -> Repo:
        if not repo.alias or any(c in repo.alias for c in ":*?/\\ ") or repo.alias in (".", ".."):
            raise UsageError(
                f"bad repo alias '{repo.alias}': use letters, digits, '-', '_', '.', '@'"
            )
        if self.find_any(repo.alias):
            raise ConflictError(
                f"a repo named '{repo.alias}' is already registered at "
                f"{self.find_any(repo.alias).path}",  # type: ignore[union-attr]
                hint=f"pick another name or remove it first: ckx rm repo:{repo.alias}",
            )
        repo.kind = "user" if trusted else UNTRUSTED
        self._save_user([*self._user(), repo])
        return repo

    def trust(self, alias: str) -> Repo:
        """Make an untrusted repo one whose entries ckx searches and runs."""
        users = self._user()
        for r in users:
            if r.alias == alias and r.kind == UNTRUSTED:
                r.kind = "user"
                self._save_user(users)
                return r
        raise NotFoundError(f"no untrusted repo named '{alias}'")

    def remove(self, alias: str) -> Repo:
        repo = self.find_any(alias) or self.get(alias)
        if repo.kind not in ("user", UNTRUSTED):
            raise UsageError(f"the {repo.kind} repo '{alias}' cannot be removed")
        self._save_user([r for r in self._user() if r.alias != repo.alias])
        return repo
