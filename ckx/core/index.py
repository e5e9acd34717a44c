"""The entry index: derived data in ``CKX_HOME/index.sqlite``, never stale, rarely rebuilt.

Freshness (every command that reads the index):

1. For each repo, the index keeps a *watch list* — the repo root, its automation folders,
   every meta file, and entry folders that have no meta yet — and a signature of their
   ``(mtime_ns, size, inode)``. Stat-ing the watch list and comparing one signature costs
   about 2 µs per entry, so 10,000 entries are checked in ~20 ms.
2. If the signature differs, the repo is *rescanned*: one ``scandir`` walk compares each meta
   file's stat with the stored one and re-parses only files that changed; deleted entries go.
3. A file modified within :data:`RACY_NS` of a scan may be modified again without its mtime
   changing ("racy" files, as git calls them): such files are re-read on the next check until
   they have aged.

Writers take an exclusive lock (``index.lock``) and re-check freshness inside it, so parallel
commands do the work once; readers use SQLite's WAL mode and never block.
"""

from __future__ import annotations

import json
import marshal
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ckx.core.entries import Entry
from ckx.core.errors import MetaError
from ckx.core.metafile import META_NAMES, load_meta
from ckx.core.query import Query
from ckx.core.repos import Registry, Repo

#: Files changed less than this long before a scan are re-checked (by content) afterwards:
#: a second edit within one timestamp tick (a jiffy, ~4 ms, on Linux file systems) would
#: otherwise keep the same (mtime, size, inode). Coarser file systems (FAT: 2 s) need more.
RACY_NS = 100_000_000
# 8: metas are stored as tolerate() normalised them; 9: bounded metas and duplicate keys
# (docs/security.md)
SCHEMA_VERSION = 9

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries(
  id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL, automation TEXT NOT NULL, alias TEXT NOT NULL, uid TEXT NOT NULL,
  path TEXT NOT NULL, meta_file TEXT NOT NULL, st TEXT NOT NULL,
  tags TEXT NOT NULL, variations TEXT NOT NULL, meta_json TEXT NOT NULL,
  UNIQUE(repo, path));
CREATE INDEX IF NOT EXISTS entries_auto ON entries(automation, alias);
CREATE INDEX IF NOT EXISTS entries_uid ON entries(uid);
CREATE TABLE IF NOT EXISTS tags(entry_id INTEGER NOT NULL, tag TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag, entry_id);
CREATE INDEX IF NOT EXISTS tags_entry ON tags(entry_id);
CREATE TABLE IF NOT EXISTS snaps(repo TEXT PRIMARY KEY, root TEXT NOT NULL, watch BLOB NOT NULL,
  sig TEXT NOT NULL, racy BLOB NOT NULL, pos INTEGER NOT NULL, stats BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS problems(repo TEXT NOT NULL, automation TEXT NOT NULL, path TEXT NOT NULL,
  message TEXT NOT NULL, st TEXT NOT NULL);
"""


class Problem:
    """An entry the index skipped, with the reason (file, field, problem)."""

    __slots__ = ("repo", "automation", "path", "message", "st")

    def __init__(self, repo: str, automation: str, path: str, message: str, st: str = "") -> None:
        self.repo, self.automation, self.path, self.message, self.st = (
            repo,
            automation,
            path,
            message,
            st,
        )

    def __repr__(self) -> str:
        return f"Problem({self.path!r}: {self.message!r})"

    def __reduce__(self):  # picklable for the parallel parse workers
        return (Problem, (self.repo, self.automation, self.path, self.message, self.st))


def _stat3(p: str) -> tuple[int, int, int]:
    try:
        s = os.stat(p)
        return (s.st_mtime_ns, s.st_size, s.st_ino)
    except OSError:
        return (-1, -1, -1)


def _sig_of(stats: list[tuple[int, int, int]]) -> str:
    # canonical bytes (marshal is not: its output depends on object identity and refcounts)
    from array import array
    from itertools import chain

    from ckx.core.digest import short_hex

    return short_hex(array("q", chain.from_iterable(stats)).tobytes(), 16)


def _st(s: os.stat_result) -> str:
    return f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}"


class Index:
    """Search entries across the registry's repos; see the module docstring for freshness."""

    def __init__(self, home: Path, registry: Registry, warn=None) -> None:
        self.home = Path(home)
        self.registry = registry
        self.db_path = self.home / "index.sqlite"
        self.lock_path = self.home / "index.lock"
        self.warn = warn or (lambda msg: None)
        self._db: sqlite3.Connection | None = None
        self._fresh = False
        self._order: dict[str, int] = {}  # repo alias -> position (set by each refresh)
        self.schemas: dict[str, dict | None] = {}  # automation -> entry_schema, per command

    # -- connection ----------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as e:
                self._recover(e)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            from ckx.core.errors import storage_error

            raise storage_error(e, "CKX_HOME") from None
        if not os.access(self.home, os.W_OK):
            self._private_copy()
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            ver = db.execute("PRAGMA user_version").fetchone()[0]
            wal = db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            if ver != SCHEMA_VERSION or not wal:
                # first use (or an older layout): set up under the index lock, because switching
                # to WAL needs the database to itself ("database is locked" when several
                # processes start on a new CKX_HOME at once); WAL then persists in the file
                with _exclusive(self.lock_path):
                    db.execute("PRAGMA journal_mode=WAL")
                    ver = db.execute("PRAGMA user_version").fetchone()[0]
                    if ver != SCHEMA_VERSION:
                        for t in ("entries", "tags", "snaps", "problems"):
                            db.execute(f"DROP TABLE IF EXISTS {t}")
                        db.executescript(_SCHEMA)
                        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            db.close()
            raise
        return db

    def _private_copy(self) -> None:
        """A read-only CKX_HOME (a shared, mounted or packaged one): searches still work, on a
        copy of its index in a private temporary folder that this process refreshes and
        removes at exit. Nothing is written to CKX_HOME."""
        import atexit
        import shutil
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="ckx-index-"))
        atexit.register(shutil.rmtree, tmp, True)
        for suffix in ("", "-wal"):
            src = Path(f"{self.db_path}{suffix}")
            if src.is_file():
                shutil.copyfile(src, tmp / f"index.sqlite{suffix}")
        self.warn(
            f"CKX_HOME {self.home} is read-only: this command searches a private copy of its "
            "index (nothing is written there; commands that build or record will fail)"
        )
        self.db_path, self.lock_path = tmp / "index.sqlite", tmp / "index.lock"

    def _recover(self, exc: sqlite3.DatabaseError) -> None:
        """The index is derived data: a corrupt or truncated file is deleted and rebuilt (with a
        warning); a file that cannot be written (read-only or full disk) is a StorageError."""
        from ckx.core.errors import StorageError

        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            from ckx.core.errors import LockTimeout

            raise LockTimeout(
                f"the index {self.db_path} stayed locked by another ckx process: {exc}",
                hint="wait for the other ckx command to finish, then run this one again",
            ) from None
        if isinstance(exc, sqlite3.OperationalError):
            why = str(exc)
            if not os.access(self.home, os.W_OK):
                why = f"CKX_HOME {self.home} is read-only ({exc})"
            elif "full" in why:
                why = f"the disk holding CKX_HOME {self.home} is full ({exc})"
            raise StorageError(
                f"cannot write the index {self.db_path}: {why}",
                hint="CKX_HOME must be a writable folder with free space "
                "(point CKX_HOME elsewhere, or free some space)",
            ) from None
        self.close()
        with _exclusive(self.lock_path):
            for suffix in ("", "-wal", "-shm", "-journal"):
                try:
                    os.unlink(f"{self.db_path}{suffix}")
                except FileNotFoundError:
                    pass
        self._fresh = False
        self.warn(f"the index {self.db_path} was unreadable ({exc}); rebuilt it from the repos")

    def _guarded(self, fn, *args, **kwargs):
        """Run a query; a corrupt index is rebuilt once and the query run again."""
        try:
            return fn(*args, **kwargs)
        except sqlite3.DatabaseError as e:
            self._recover(e)
            return fn(*args, **kwargs)

    def invalidate(self) -> None:
        """Entries were written by this process: re-check freshness on the next query.

        Freshness is checked once per command (per Index instance), not per query, so a
        command that writes entries and then searches calls this in between."""
        self._fresh = False

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- freshness -----------------------------------------------------------------------
    def _stale_repos(
        self, repos: list[Repo] | None = None
    ) -> list[tuple[int, Repo, list[int] | None]]:
        """Repos (of ``repos``, default: the registry's) that changed: (position, repo,
        indices of changed watch paths), where the indices are None when the repo must be
        walked again (new repo, root moved, racy)."""
        repos = self.registry.repos if repos is None else repos
        rows = self.db.execute("SELECT repo, root, watch, sig, racy, pos, stats FROM snaps")
        snaps = {r[0]: r for r in rows}
        stale: list[tuple[int, Repo, list[int] | None]] = []
        for pos, repo in enumerate(repos):
            row = snaps.get(repo.alias)
            if row is None or row[1] != str(repo.path) or row[5] != pos:
                stale.append((pos, repo, None))
                continue
            watch = marshal.loads(row[2])
            cur = list(map(_stat3, watch))
            if _sig_of(cur) != row[3]:
                old = marshal.loads(row[6])
                stale.append(
                    (
                        pos,
                        repo,
                        [k for k, (a, b) in enumerate(zip(cur, old, strict=True)) if a != b],
                    )
                )
            elif not _racy_unchanged(marshal.loads(row[4])):
                stale.append((pos, repo, None))
        return stale

    def _gone_repos(self, repos: list[Repo] | None = None) -> list[str]:
        known = {r.alias for r in (self.registry.repos if repos is None else repos)}
        return [r[0] for r in self.db.execute("SELECT repo FROM snaps") if r[0] not in known]

    def _refresh(self, force: bool = False) -> int:
        """Bring the index up to date; return the number of meta files (re)parsed."""
        if self._fresh and not force:
            return 0
        repos = self.registry.repos
        self._order = {r.alias: i for i, r in enumerate(repos)}  # the order of search hits
        stale = [(k, r, None) for k, r in enumerate(repos)] if force else self._stale_repos(repos)
        gone = self._gone_repos(repos)
        parsed = 0
        if stale or gone:
            with _exclusive(self.lock_path) as lock:
                if not force and lock.waited:  # another process may have done it meanwhile
                    stale = self._stale_repos(repos)
                    gone = self._gone_repos(repos)
                for alias in gone:
                    self._drop_repo(alias)
                for pos, repo, changed in stale:
                    done = None if force or changed is None else self._update_files(repo, changed)
                    parsed += self._rescan(pos, repo, force) if done is None else done
        self._fresh = True
        return parsed

    def _drop_repo(self, alias: str) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "DELETE FROM tags WHERE entry_id IN (SELECT id FROM entries WHERE repo=?)", (alias,)
            )
            db.execute("DELETE FROM entries WHERE repo=?", (alias,))
            db.execute("DELETE FROM snaps WHERE repo=?", (alias,))
            db.execute("DELETE FROM problems WHERE repo=?", (alias,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _update_files(self, repo: Repo, changed: list[int]) -> int | None:
        """Re-parse just the changed meta files when nothing else changed (no folder gained
        or lost an entry); None when the repo must be walked again."""
        db = self.db
        row = db.execute(
            "SELECT watch, stats, racy FROM snaps WHERE repo=?", (repo.alias,)
        ).fetchone()
        watch, stats = marshal.loads(row[0]), marshal.loads(row[1])
        # (a changed meta of a broken entry is not here: the walk below handles that case)
        known = {
            r[0]: (r[1], r[2])
            for r in db.execute(
                "SELECT meta_file, path, automation FROM entries WHERE repo=?", (repo.alias,)
            )
        }
        start_ns = time.time_ns()
        jobs = []
        for k in changed:
            meta = watch[k]
            hit = known.get(meta)
            if hit is None or os.path.basename(meta) not in META_NAMES:
                return None  # a folder changed: entries may have come or gone
            try:
                s = os.stat(meta)
            except OSError:
                return None  # the meta file went away
            stats[k] = (s.st_mtime_ns, s.st_size, s.st_ino)
            jobs.append((repo.alias, hit[1], hit[0], meta, _st(s), strict_keys(repo)))
        schemas = {a: entry_schema_cached(self, a) for a in {j[1] for j in jobs}}
        rows = _parse_all(jobs, schemas)
        racy = [(p, d) for p, d in marshal.loads(row[2]) if p not in {j[3] for j in jobs}]
        racy += [
            (j[3], _digest(j[3])) for j in jobs if stats[watch.index(j[3])][0] >= start_ns - RACY_NS
        ]
        db.execute("BEGIN IMMEDIATE")
        try:
            self._store_rows(
                repo, rows, {j[2]: eid for j in jobs for eid in [_entry_id(db, repo.alias, j[2])]}
            )
            db.execute(
                "UPDATE snaps SET stats=?, sig=?, racy=? WHERE repo=?",
                (marshal.dumps(stats), _sig_of(stats), marshal.dumps(racy), repo.alias),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(jobs)

    def _store_rows(self, repo: Repo, rows: list, old_ids: dict[str, int | None]) -> None:
        """Replace the rows of re-parsed entries (inside a transaction)."""
        db = self.db
        for row, problem in rows:
            path = problem.path if problem else row[4]
            eid = old_ids.get(path)
            if eid is not None:
                db.execute("DELETE FROM tags WHERE entry_id=?", (eid,))
                db.execute("DELETE FROM entries WHERE id=?", (eid,))
            db.execute("DELETE FROM problems WHERE repo=? AND path=?", (repo.alias, path))
            if problem:
                db.execute(
                    "INSERT INTO problems VALUES (?,?,?,?,?)",
                    (repo.alias, problem.automation, path, problem.message, problem.st),
                )
                self.warn(f"skipped entry: {problem.message}")
                continue
            cur = db.execute(
                "INSERT INTO entries(repo, automation, alias, uid, path, meta_file, st, tags, variations, meta_json)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                row[:7] + (",".join(row[7]), ",".join(row[8]), row[9]),
            )
            db.executemany("INSERT INTO tags VALUES (?,?)", [(cur.lastrowid, t) for t in row[7]])

    def _walk(self, repo: Repo, start_ns: int):
        """Every entry as (automation, dir, meta file, stat), the watch list with the stats of
        its paths, and the racy meta files."""
        watch: list[str] = [str(repo.path)]
        stats: list[tuple[int, int, int]] = [_stat3(str(repo.path))]
        found: list[tuple[str, str, str, os.stat_result]] = []
        racy: list[str] = []
        for automation, folder in repo.automation_folders():
            fs = _stat3(str(folder))
            if fs[0] < 0:
                continue
            watch.append(str(folder))
            stats.append(fs)
            with os.scandir(folder) as it:
                dirs = sorted(d.path for d in it if d.is_dir() and not d.name.startswith("."))
            for d in dirs:
                hit = _meta_in(d)
                if hit is None:
                    watch.append(d)  # a meta may appear here later
                    stats.append(_stat3(d))
                    continue
                meta, s = hit
                watch.append(meta)
                stats.append((s.st_mtime_ns, s.st_size, s.st_ino))
                found.append((automation, d, meta, s))
                if s.st_mtime_ns >= start_ns - RACY_NS:
                    racy.append(meta)
        return found, watch, stats, racy

    def _rescan(self, pos: int, repo: Repo, force: bool) -> int:
        """Walk one repo, re-parse changed metas, and store the new watch list."""
        start_ns = time.time_ns()
        db = self.db
        old = {
            r[0]: (r[1], r[2])
            for r in db.execute("SELECT path, st, id FROM entries WHERE repo=?", (repo.alias,))
        }
        snap = db.execute("SELECT racy FROM snaps WHERE repo=?", (repo.alias,)).fetchone()
        was_racy = dict(marshal.loads(snap[0])) if snap else {}
        if repo.kind != "builtin":  # what a killed unzip left (its root changed: we are here)
            from ckx.core.leftovers import sweep_staging

            sweep_staging(repo.path, "unzip")
        found, watch, stats, racy = self._walk(repo, start_ns)
        problem_st = dict(
            db.execute("SELECT path, st FROM problems WHERE repo=?", (repo.alias,)).fetchall()
        )
        problem_paths = set(problem_st)
        jobs = []
        for automation, d, meta, s in found:
            prev = old.get(d) or ((problem_st[d], None) if d in problem_st else None)
            racy_changed = meta in was_racy and _digest(meta) != was_racy[meta]
            if force or prev is None or prev[0] != _st(s) or racy_changed:
                jobs.append((repo.alias, automation, d, meta, _st(s), strict_keys(repo)))
        schemas = {a: entry_schema_cached(self, a) for a in {j[1] for j in jobs}}
        rows = _parse_all(jobs, schemas)
        seen = {d for _, d, _, _ in found}
        db.execute("BEGIN IMMEDIATE")
        try:
            for path, (_, eid) in old.items():
                if path not in seen:
                    db.execute("DELETE FROM tags WHERE entry_id=?", (eid,))
                    db.execute("DELETE FROM entries WHERE id=?", (eid,))
            for path in problem_paths - seen:
                db.execute("DELETE FROM problems WHERE repo=? AND path=?", (repo.alias, path))
            self._store_rows(repo, rows, {p: v[1] for p, v in old.items()})
            racy_digests = [(p, _digest(p)) for p in racy]
            db.execute(
                "INSERT OR REPLACE INTO snaps VALUES (?,?,?,?,?,?,?)",
                (
                    repo.alias,
                    str(repo.path),
                    marshal.dumps(watch),
                    _sig_of(stats),
                    marshal.dumps(racy_digests),
                    pos,
                    marshal.dumps(stats),
                ),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(jobs)

    # -- queries (each rebuilds a corrupt index once and tries again) ---------------------
    def refresh(self, force: bool = False) -> int:
        """Bring the index up to date; return the number of meta files (re)parsed."""
        return self._guarded(self._refresh, force)

    def search(
        self,
        automation: str | tuple[str, ...] | None = None,
        query: Query | None = None,
        *,
        repo: str | None = None,
        name: str | None = None,
        unique_uids: bool = False,
    ) -> list[Entry]:
        """Entries of ``automation`` (or of several: those of the first, then the next...)
        matching ``query``; ``name`` is an alias/uid glob.

        ``unique_uids``: a hit whose uid another entry at another path claims too (among the
        hits, or anywhere: a search by one name or in one repo sees only one of them) is a
        ResolutionError naming both; a resolver never picks an entry whose identity is
        contested."""
        hits = self._guarded(self._search, automation, query, repo=repo, name=name)
        if unique_uids:
            check_unique_uids(hits, self._twins)
            for uid in dict.fromkeys(e.uid for e in hits if e.uid):
                claims = self._guarded(self._search, None, None, name=uid)
                check_unique_uids(
                    [*[e for e in hits if e.uid == uid], *[e for e in claims if e.uid == uid]],
                    self._twins,
                )
        return hits

    def _twins(self, a: Entry, b: Entry) -> bool:
        """A built-in entry and its twin in a foreign repo registered as it is (ckx's
        ``get-python3`` carries the uid of MLCFlow's): the engine's provider chooses between
        those by dialect, so their shared uid is by design, not a claim."""
        repos = [self.registry.find(e.repo) for e in (a, b)]
        kinds = {r.kind for r in repos if r is not None}
        return "builtin" in kinds and any(
            r is not None and r.kind == "user" and not strict_keys(r) for r in repos
        )

    def problems(self, repo: str | None = None, automation: str | None = None) -> list[Problem]:
        return self._guarded(self._problems, repo, automation)

    def names(self, automation: str | None = None) -> list[str]:
        """All aliases (of one automation), for 'did you mean'."""
        return self._guarded(self._names, automation)

    def automations(self) -> list[str]:
        """Every automation name that has entries (valid or not) in some repo."""
        return self._guarded(self._automations)

    def count(self) -> int:
        return self._guarded(self._count)

    def _search(
        self,
        automation: str | tuple[str, ...] | None = None,
        query: Query | None = None,
        *,
        repo: str | None = None,
        name: str | None = None,
    ) -> list[Entry]:
        """Entries of ``automation`` matching ``query``; ``name`` is an alias/uid glob."""
        self._refresh()
        sql = "SELECT e.repo, e.automation, e.alias, e.uid, e.path, e.meta_file, e.tags, e.variations, e.meta_json FROM entries e"
        where, args = _conditions(automation, query, repo, name)
        if where:
            sql += " WHERE " + " AND ".join(where)
        kinds = {a: k for k, a in enumerate(automation)} if isinstance(automation, tuple) else {}
        rows = self.db.execute(sql, args).fetchall()
        order = self._order
        out = []
        for r in rows:
            if query is not None and query.variations and not _has_variations(r[7], query):
                continue
            out.append(
                Entry(
                    repo=r[0],
                    automation=r[1],
                    alias=r[2],
                    uid=r[3],
                    path=Path(r[4]),
                    meta_file=Path(r[5]),
                    tags=tuple(r[6].split(",")) if r[6] else (),
                    _meta_json=r[8],
                )
            )
        out.sort(
            key=lambda e: (
                kinds.get(e.automation, 0),
                order.get(e.repo, 1 << 30),
                e.automation,
                e.alias,
            )
        )
        return out

    def _problems(self, repo: str | None = None, automation: str | None = None) -> list[Problem]:
        self._refresh()
        rows = self.db.execute(
            "SELECT repo, automation, path, message, st FROM problems ORDER BY path"
        ).fetchall()
        return [
            Problem(*r)
            for r in rows
            if (not repo or r[0] == repo) and (not automation or r[1] == automation)
        ]

    def _names(self, automation: str | None = None) -> list[str]:
        """All aliases (of one automation), for 'did you mean'."""
        self._refresh()
        if automation:
            return [
                r[0]
                for r in self.db.execute(
                    "SELECT alias FROM entries WHERE automation=?", (automation,)
                )
            ]
        return [r[0] for r in self.db.execute("SELECT alias FROM entries")]

    def _automations(self) -> list[str]:
        """Every automation name that has entries (valid or not) in some repo."""
        self._refresh()
        sql = (
            "SELECT DISTINCT automation FROM entries UNION SELECT DISTINCT automation FROM problems"
        )
        return sorted(r[0] for r in self.db.execute(sql))

    def _count(self) -> int:
        self._refresh()
        return self.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


def _conditions(
    automation: str | tuple[str, ...] | None,
    query: Query | None,
    repo: str | None,
    name: str | None,
) -> tuple[list[str], list]:
    """The SQL conditions (and their arguments) of a search."""
    where: list[str] = []
    args: list = []
    if isinstance(automation, tuple):
        where.append(f"e.automation IN ({','.join('?' * len(automation))})")
        args += list(automation)
    elif automation and automation != "*":
        if any(c in automation for c in "*?["):
            where.append("e.automation GLOB ?")
        else:
            where.append("e.automation = ?")
        args.append(automation)
    if repo and repo != "*":
        where.append("e.repo GLOB ?")
        args.append(repo)
    if name and name != "*":
        if any(c in name for c in "*?["):
            where.append("(e.alias GLOB ? OR e.uid GLOB ?)")
        else:
            where.append("(e.alias = ? OR e.uid = ?)")
        args += [name, name]
    if query is not None:
        for t in query.tags:
            where.append("e.id IN (SELECT entry_id FROM tags WHERE tag = ?)")
            args.append(t)
        for t in query.not_tags:
            where.append("e.id NOT IN (SELECT entry_id FROM tags WHERE tag = ?)")
            args.append(t)
    return where, args


def check_unique_uids(hits: list[Entry], twins=None) -> None:
    """ResolutionError when two entries at different paths share a uid (unless ``twins(a, b)``
    says the pair shares it by design)."""
    seen: dict[str, Entry] = {}
    for e in hits:
        other = seen.get(e.uid) if e.uid else None
        if other is not None and other.path != e.path and not (twins and twins(other, e)):
            from ckx.core.errors import ResolutionError

            raise ResolutionError(
                f"uid {e.uid} is claimed by two entries: {other.cid} ({other.path}) and "
                f"{e.cid} ({e.path}); ckx will not choose between them",
                hint="give one of them a new uid (ckx cp makes a copy with a fresh uid) or "
                "remove it; `ckx lint` lists every duplicate",
            )
        seen.setdefault(e.uid, e)


def strict_keys(repo: Repo) -> bool:
    """Duplicate keys are errors in ckx's repos; a foreign repo registered as it is (MLCFlow's
    root ``meta.yaml``, CM's ``cmr.yaml``, CK's ``.ckr.json``) keeps YAML's last-one-wins, as
    the tools it was written for do (17 of the 324 scripts of mlperf-automations rely on it);
    ``ckx lint`` still reports each duplicate."""
    if repo.kind in ("builtin", "local") or (repo.path / "repo.yaml").is_file():
        return True
    return not any(
        (repo.path / f).is_file() for f in ("meta.yaml", "meta.json", "cmr.yaml", ".ckr.json")
    )


def _entry_id(db, repo: str, path: str) -> int | None:
    r = db.execute("SELECT id FROM entries WHERE repo=? AND path=?", (repo, path)).fetchone()
    return r[0] if r else None


def _digest(path: str) -> str:
    import hashlib

    try:
        with open(path, "rb") as f:
            return hashlib.sha1(f.read()).hexdigest()
    except OSError:
        return ""


def _racy_unchanged(racy: list) -> bool:
    """Racy files (changed close to the last scan) are compared by content."""
    return all(_digest(p) == d for p, d in racy)


def entry_schema_cached(index: Index, automation: str):
    if automation not in index.schemas:
        from ckx.core.schema import entry_schema  # only when metas changed: not at start-up

        index.schemas[automation] = entry_schema(automation, index.registry)
    return index.schemas[automation]


#: Below this many changed metas, parsing stays in-process (a pool costs ~50 ms to start).
PARALLEL_MIN = 400


def _parse_all(jobs: list[tuple], schemas: dict) -> list:
    workers = min(os.cpu_count() or 1, 8)
    if len(jobs) < PARALLEL_MIN or workers < 2 or not _single_threaded():
        # forking a process that runs other threads can deadlock the children (a lock held
        # at fork time); a library caller's threads are not ours to reason about
        return [_parse_job(j, schemas) for j in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    mp = multiprocessing.get_context("fork")
    chunk = max(64, len(jobs) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp) as ex:
        return list(ex.map(_parse_job, jobs, [schemas] * len(jobs), chunksize=chunk))


def _single_threaded() -> bool:
    """True when this process runs one OS thread and can fork safely (Linux: /proc)."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _parse_job(job: tuple, schemas: dict):
    """Parse and validate one meta: (row, None) or (None, Problem)."""
    # only when metas changed: not at start-up
    from ckx.core.schema import check_entry_meta, tolerate

    repo, automation, path, meta_file, st, strict = job
    try:
        meta = load_meta(Path(meta_file), strict_keys=strict)
        tolerate(meta)  # loose forms MLCFlow accepts, read as it reads them; `ckx lint` notes them
        check_entry_meta(meta, meta_file, automation, schema=schemas.get(automation))
    except MetaError as e:
        return None, Problem(repo, automation, path, e.message, st)
    tags = [str(t) for t in (meta.get("tags") or [])]
    variations = [str(v) for v in (meta.get("variations") or {})]
    alias = str(meta.get("alias") or os.path.basename(path))
    row = (
        repo,
        automation,
        alias,
        str(meta.get("uid") or ""),
        path,
        meta_file,
        st,
        tags,
        variations,
        json.dumps(meta, default=str),
    )
    return row, None


def _meta_in(entry_dir: str) -> tuple[str, os.stat_result] | None:
    import stat

    for name in META_NAMES:
        p = entry_dir + os.sep + name
        try:
            s = os.stat(p)
        except OSError:
            continue
        if stat.S_ISREG(s.st_mode):
            return p, s
    return None


def _has_variations(declared: str, query: Query) -> bool:
    names = set(declared.split(",")) if declared else set()
    for v in query.variations:
        if v.value is None and v.name not in names:
            # a plain name may also be part of a combined "a,b" key or a group default; the
            # engine checks those; here we only require that the entry knows the name at all
            if not any(v.name in k.split(",") for k in names):
                return False
        if v.value is not None and not ({f"{v.name}.#", f"{v.name}.{v.value}"} & names):
            return False  # neither the dynamic name.# nor a static dotted name (_v0.5)
    return True


class _exclusive:
    """An exclusive cross-process lock on a file (flock on POSIX, filelock elsewhere)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._fl: Any = None  # a filelock.FileLock where there is no fcntl (Windows)
        self.waited = True  # whether another process may have held it before us

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows
            from filelock import FileLock

            self._fl = FileLock(str(self.path))
            self._fl.acquire(timeout=120)
            return self
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.waited = False
        except BlockingIOError:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        if self._fl is not None:
            self._fl.release()
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
