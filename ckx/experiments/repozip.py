"""Repo fragments: entries zipped with their files (``ckr.zip``), and merged back safely.

An archive is a fragment of a repo, the layout CK's ``ck zip`` used::

    ckr.json                        {"ckx_repo_fragment": 1, "created", "source": {alias, uid},
                                     "entries": [{"automation", "alias", "uid", "path", "files"}]}
    <automation>/<alias>/meta.yaml  each entry's folder as it is in its repo
    <automation>/<alias>/...

Top-level folders are automation names (not a repo's custom folder names), so a fragment
merges into any repo. :func:`unzip_into` extracts with :func:`ckx.artifacts.archive.extract` (absolute
paths, ``..`` components, special files and links leaving the archive are refused before
anything is written) into a temp folder inside the target repo, refuses links that leave
their own entry, then moves each entry into place with one rename: an entry appears whole
or not at all, and nothing is written outside the target repo.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ckx.core import atomic
from ckx.core.errors import ArchiveError, NotFoundError, UsageError

FRAGMENT_VERSION = 1
DESC_FILE = "ckr.json"
_SKIP_DIRS = frozenset({"__pycache__", ".git"})


def _entry_files(root: Path) -> list[Path]:
    """Files of an entry folder, sorted; temp and lock files, caches and symlinks left out."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIP_DIRS
            and not d.startswith(".tmp-")
            and not os.path.islink(os.path.join(dirpath, d))
        )
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_symlink() or f.endswith((".lock", ".lock.holder", ".tmp")):
                continue
            out.append(p)
    return out


def zip_entries(
    entries: list, out: Path | str, *, source: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write ``entries`` (``ckx.core.entries.Entry``) into the archive ``out`` (temp file + rename)."""
    out = Path(out)
    if not entries:
        raise NotFoundError("nothing to zip: no entries")
    desc: dict[str, Any] = {
        "ckx_repo_fragment": FRAGMENT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "source": source or {},
        "entries": [],
    }
    nfiles = 0
    hidden: set[str] = set()
    with atomic.replacing(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for e in entries:
                base = f"{e.automation}/{e.alias}"
                files = _entry_files(e.path)
                for f in files:
                    _zip_file(zf, e, f, f"{base}/{f.relative_to(e.path).as_posix()}", hidden)
                nfiles += len(files)
                desc["entries"].append(
                    {
                        "automation": e.automation,
                        "alias": e.alias,
                        "uid": e.uid,
                        "path": base,
                        "files": len(files),
                        "repo": e.repo,
                    }
                )
            zf.writestr(DESC_FILE, json.dumps(desc, indent=1) + "\n")
    return {
        "path": str(out.resolve()),
        "entries": desc["entries"],
        "files": nfiles,
        "redacted": sorted(hidden),
    }


def _zip_file(zf: zipfile.ZipFile, entry, f: Path, name: str, hidden: set[str]) -> None:
    """Add one file; an experiment's point files go in with secret-looking env redacted (an
    archive is for sharing: a point recorded before redaction existed must not leak)."""
    from ckx.experiments.records import FLAT_FILE, POINT_FILE, redacted_point_files

    in_point = entry.automation == "experiment" and f.parent.parent.name == "points"
    if in_point and f.name in (FLAT_FILE, POINT_FILE):
        red = redacted_point_files(f.parent / POINT_FILE)
        if red is not None and red[2]:  # something to hide: both files are written again
            zf.writestr(name, red[0] if f.name == POINT_FILE else red[1])
            hidden.update(red[2])
            return
    zf.write(f, name)


# --- unzip --------------------------------------------------------------------------------


@dataclass
class MergeReport:
    """What :func:`unzip_into` did with each entry of the archive."""

    added: list[str] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # code and cache entries not merged
    untrusted: list[str] = field(default_factory=list)  # code entries put in the untrusted repo
    untrusted_repo: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}


def tree_digest(root: Path) -> str:
    """A digest of the relative paths and contents of the files under ``root``."""
    h = hashlib.sha256()
    for f in _entry_files(root):
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _check_links(archive: Path) -> None:
    """Refuse symlinks that leave their own entry (``<automation>/<alias>/``)."""
    import stat

    from ckx.artifacts.archive import check_link_target, safe_member_path

    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not stat.S_ISLNK((info.external_attr >> 16) & 0xFFFF):
                    continue
                try:
                    name = safe_member_path(info.filename) or ""
                    parts = name.split("/")
                    if len(parts) < 3:
                        raise ValueError("a link outside any entry folder")
                    check_link_target("/".join(parts[2:]), zf.read(info).decode("utf-8", "replace"))
                except ValueError as exc:
                    raise ArchiveError(
                        f"unsafe member {info.filename!r} in archive {archive}: {exc} (links must stay inside "
                        "their entry); nothing was extracted",
                        hint="the archive is corrupt or malicious; get it from a trusted source",
                    ) from None
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"cannot read zip archive {archive}: {exc}") from exc


def _staged_entries(root: Path, report: MergeReport) -> list[tuple[str, str, Path, dict]]:
    """(automation, alias, folder, meta) of each entry folder in the extracted tree."""
    from ckx.core.errors import MetaError
    from ckx.core.metafile import find_meta_file, load_meta

    out = []
    for kind_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if kind_dir.name.startswith((".", "_")):
            report.ignored.append(f"{kind_dir.name}/ (not an automation folder)")
            continue
        if kind_dir.name == "cache":  # whatever they claim: results are made on this machine
            report.refused += [
                f"cache/{d.name} (cache entries are never imported: results are made here)"
                for d in sorted(kind_dir.iterdir())
            ]
            continue
        for d in sorted(p for p in kind_dir.iterdir() if p.is_dir()):
            mf = find_meta_file(d)
            rel = f"{kind_dir.name}/{d.name}"
            if mf is None:
                report.ignored.append(f"{rel} (no meta file)")
                continue
            try:
                meta = load_meta(mf)
            except MetaError as e:
                report.ignored.append(f"{rel} ({e.message})")
                continue
            alias = str(meta.get("alias") or d.name)
            if alias != d.name or alias.startswith(".") or not meta.get("uid"):
                report.ignored.append(
                    f"{rel} (alias '{alias}' / uid '{meta.get('uid')}' do not match the folder)"
                )
                continue
            out.append((kind_dir.name, alias, d, meta))
        for f in (p for p in kind_dir.iterdir() if not p.is_dir()):
            report.ignored.append(f"{kind_dir.name}/{f.name} (a file outside any entry)")
    for f in (p for p in root.iterdir() if not p.is_dir() and p.name != DESC_FILE):
        report.ignored.append(f"{f.name} (not in an automation folder)")
    return out


def unzip_into(
    ctx, repo, archive: Path | str, *, overwrite: bool = False, allow_code: bool = False
) -> MergeReport:
    """Merge the data entries of ``archive`` into ``repo`` (a ``ckx.core.repos.Repo``).

    An archive carries data, not code. Entries of a data kind (an automation whose meta says
    ``data_kind: true``: experiments) are merged. Cache entries are never imported (results
    are made on this machine). Every other kind (scripts, programs, packages, automations,
    soft, env ...) is refused, or with ``allow_code`` put into a separate repo
    ``untrusted-<name>`` that is registered as untrusted: ckx neither indexes nor runs it
    until ``ckx add repo:untrusted-<name>`` says so.

    An entry whose alias is free is added. One that exists with the same uid and the same
    files is skipped as identical; with the same uid and other files it is a conflict unless
    ``overwrite``. The same alias with another uid, or the same uid under another alias, is a
    conflict: that entry is refused and reported, the others are merged.
    """
    from ckx.artifacts.archive import extract

    archive = Path(archive)
    if repo.kind == "builtin":
        raise UsageError(
            f"the repo '{repo.alias}' is part of ckx itself and is read-only",
            hint="unzip into your own repo (the default is 'local')",
        )
    if not archive.is_file():
        raise NotFoundError(
            f"archive not found: {archive}", hint="pass --zip=FILE (default: ckr.zip here)"
        )
    if not zipfile.is_zipfile(archive):
        raise ArchiveError(f"{archive} is not a zip archive")
    _check_links(archive)
    repo.path.mkdir(parents=True, exist_ok=True)
    stage = repo.path / f".tmp-unzip-{os.urandom(4).hex()}"
    report = MergeReport()
    try:
        extract(archive, stage, kind="zip")
        desc = _check_description(stage, archive)
        entries = _staged_entries(stage, report)
        for _, _, folder, _ in entries:
            _check_entry_links(folder, archive)
        code = _merge_data(ctx, repo, entries, overwrite, allow_code, report)
        if code:
            _quarantine(ctx, code, _source_name(desc, archive), overwrite, report)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    ctx.index.invalidate()
    return report


def _merge_data(
    ctx, repo, entries: list, overwrite: bool, allow_code: bool, report: MergeReport
) -> list:
    """Merge the data entries; refuse the others, or return them when code is allowed."""
    code = []
    for kind, alias, folder, meta in entries:
        if is_data_kind(ctx, kind):
            bad = _unreadable_point(folder) if kind == "experiment" else None
            if bad:
                report.ignored.append(f"{kind}/{alias} ({bad})")
                continue
            _merge_one(ctx, repo, kind, alias, folder, meta, overwrite, report)
        elif not allow_code:
            report.refused.append(
                f"{kind}/{alias} ({kind} entries carry code; --allow_code puts them "
                "in a separate untrusted repo)"
            )
        else:
            code.append((kind, alias, folder, meta))
    return code


def _unreadable_point(folder: Path) -> str | None:
    """Why a point file of an experiment cannot be read (hostile or broken), or None."""
    from ckx.core.errors import MetaError
    from ckx.experiments.records import load_points

    try:
        load_points(folder)
    except MetaError as e:
        return e.message
    return None


def is_data_kind(ctx, kind: str) -> bool:
    """True when the automation ``kind`` (from a trusted repo) declares ``data_kind: true``."""
    if any(c in kind for c in "*?["):
        return False
    hits = [e for e in ctx.search("automation", None, name=kind, unique_uids=False)]
    return bool(hits) and hits[0].alias == kind and hits[0].meta.get("data_kind") is True


def _source_name(desc: dict[str, Any], archive: Path) -> str:
    source = desc.get("source") if isinstance(desc.get("source"), dict) else {}
    raw = str((source or {}).get("alias") or archive.stem)
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in raw).strip("-.") or "archive"
    return name[:60]


def _quarantine(ctx, code: list, name: str, overwrite: bool, report: MergeReport) -> None:
    """Put code entries into ``untrusted-<name>`` (registered untrusted: never searched)."""
    from ckx.core.entries import new_uid
    from ckx.core.metafile import save_meta
    from ckx.core.repos import Repo

    target = _untrusted_repo(ctx, name)
    if target is None:
        alias = f"untrusted-{name}"
        k = 2
        while ctx.registry.find_any(alias) or (ctx.home / "repos" / alias).exists():
            alias, k = f"untrusted-{name}-{k}", k + 1
        path = ctx.home / "repos" / alias
        path.mkdir(parents=True)
        uid = new_uid()
        save_meta(path / "repo.yaml", {"alias": alias, "uid": uid})
        target = ctx.registry.add(Repo(alias, uid, path), trusted=False)
    report.untrusted_repo = target.alias
    before = len(report.added)
    for kind, alias, folder, meta in code:
        _merge_one(ctx, target, kind, alias, folder, meta, overwrite, report, plain=True)
    report.untrusted += report.added[before:]
    del report.added[before:]


def _untrusted_repo(ctx, name: str):
    """The untrusted repo an earlier unzip of the same source made, if it is still untrusted."""
    held = ctx.registry.find_any(f"untrusted-{name}")
    return held if held is not None and held.kind == "untrusted" else None


def _check_entry_links(folder: Path, archive: Path) -> None:
    """Refuse links whose real target leaves their entry (chains such as ``a -> .``,
    ``b -> a/..`` pass every check on the link text alone)."""
    root = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                continue
            real = os.path.realpath(p)
            if real != root and not real.startswith(root + os.sep):
                rel = os.path.relpath(p, folder.parent.parent)
                raise ArchiveError(
                    f"unsafe member {rel!r} in archive {archive}: the link resolves outside "
                    "its entry; nothing was merged",
                    hint="the archive is corrupt or malicious; get it from a trusted source",
                )


def _check_description(stage: Path, archive: Path) -> dict[str, Any]:
    from ckx.core.errors import MetaError
    from ckx.core.metafile import load_meta

    f = stage / DESC_FILE
    if not f.is_file():
        return {}  # a plain fragment (e.g. made by hand) is fine
    try:
        desc = load_meta(f)  # bounded like any meta: size, depth, number of values
    except MetaError as e:
        raise ArchiveError(f"{archive}: {DESC_FILE} is not readable: {e.message}") from None
    ver = desc.get("ckx_repo_fragment")
    if isinstance(ver, int) and ver > FRAGMENT_VERSION:
        raise UsageError(
            f"{archive}: fragment format {ver} is newer than this ckx understands ({FRAGMENT_VERSION})",
            hint="upgrade ckx",
        )
    return desc


def _merge_one(
    ctx,
    repo,
    kind: str,
    alias: str,
    folder: Path,
    meta: dict,
    overwrite: bool,
    report: MergeReport,
    *,
    plain: bool = False,
) -> None:
    """Merge one entry; ``plain``: the repo is not indexed (untrusted), look at its folders."""
    cid = f"{repo.alias}:{kind}:{alias}"
    uid = str(meta["uid"])
    same_uid = (
        []
        if plain
        else [
            e
            for e in ctx.search(None, None, repo=repo.alias, name=uid, unique_uids=False)
            if e.uid == uid
        ]
    )
    moved = [e for e in same_uid if e.alias != alias or e.automation != kind]
    if moved:
        report.conflicts.append(
            f"{cid}: uid {uid} is already used by {moved[0].cid} ({moved[0].path})"
        )
        return
    dest = repo.folder_for(kind) / alias
    if dest.exists():
        from ckx.core.metafile import find_meta_file, load_meta

        mf = find_meta_file(dest)
        have = str(load_meta(mf).get("uid")) if mf else None
        if have != uid:
            report.conflicts.append(
                f"{cid}: exists with uid {have}, the archive's has uid {uid} "
                f"(a different entry of the same name); not merged"
            )
            return
        if tree_digest(dest) == tree_digest(folder):
            report.identical.append(cid)
            return
        if not overwrite:
            report.conflicts.append(
                f"{cid}: same uid {uid} but different files; not merged (--overwrite replaces it)"
            )
            return
        trash = dest.parent / f".tmp-replaced-{alias}-{os.urandom(3).hex()}"
        os.rename(dest, trash)
        os.rename(folder, dest)
        shutil.rmtree(trash, ignore_errors=True)
        report.replaced.append(cid)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(folder, dest)
    report.added.append(cid)
