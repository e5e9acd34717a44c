"""The ``repo`` automation: register, create, clone, list and remove repositories."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ckx.core.entries import new_uid
from ckx.core.errors import ConflictError, MissingDependencyError, RunError, UsageError
from ckx.core.metafile import save_meta
from ckx.core.repos import Repo, read_repo_description


def _alias_from(i: dict, fallback: str | None = None) -> str:
    alias = i.get("entry") or i.get("alias") or fallback
    if not alias:
        raise UsageError("missing the repo name", hint="e.g. ckx add repo:my-repo --path=DIR")
    return alias


def add(ctx, i: dict) -> dict:
    alias = _alias_from(i)
    path = Path(i["path"]).expanduser().resolve() if i.get("path") else ctx.home / "repos" / alias
    held = ctx.registry.find_any(alias)
    if held is not None and held.kind == "untrusted" and (not i.get("path") or path == held.path):
        repo = ctx.registry.trust(alias)
        ctx.index.invalidate()
        n = len(ctx.search(None, None, repo=alias, unique_uids=False))
        ctx.ui.print(f"trusted repo '{alias}' at {repo.path}: its {n} entries are now used")
        return {"repo": repo.to_dict(), "created": False, "trusted": True}
    if held is not None:
        raise ConflictError(
            f"a repo named '{alias}' is already registered at {held.path}",
            hint=f"pick another name or remove it first: ckx rm repo:{alias}",
        )
    desc = read_repo_description(path) if path.is_dir() else {}
    created = False
    if not desc:
        path.mkdir(parents=True, exist_ok=True)
        desc = {"alias": alias, "uid": new_uid()}
        save_meta(path / "repo.yaml", {"alias": alias, "uid": desc["uid"]})
        created = True
    repo = ctx.registry.add(
        Repo(alias=alias, uid=desc.get("uid") or new_uid(), path=path, folders=desc.get("folders"))
    )
    ctx.ui.print(f"{'created' if created else 'registered'} repo '{alias}' at {path}")
    return {"repo": repo.to_dict(), "created": created}


#: CK repositories whose entries used by the CK MLPerf tutorials ship with ckx (built in).
CK_BUILTIN = {
    "mlcommons@ck-venv": "venv templates (ckx create venv:NAME --template=mlperf-inference-dev)",
    "mlcommons@ck-mlops": "the MLPerf packages and program (tool,cmake,src; mlperf,inference,src,dev; "
    "lib,python-package,...; program:mlperf-inference-bench-object-detection-onnx-cpu)",
    "ctuning@ck-env": "soft detection (compiler.python, compiler.gcc, platform.os, ...)",
}


def pull(ctx, i: dict) -> dict:
    i = _owner_at_name(i, ctx)
    if i.get("builtin"):
        return i
    url = i.get("url")
    if not url:
        if i.get("entry"):
            repo = ctx.registry.get(i["entry"])
            if not repo.url:
                raise UsageError(f"repo '{repo.alias}' was not cloned from a URL; nothing to pull")
            _git(["git", "-C", str(repo.path), "pull", "--ff-only"], repo.url)
            ctx.ui.print(f"updated repo '{repo.alias}' from {repo.url}")
            return {"repo": repo.to_dict(), "updated": True}
        raise UsageError(
            "missing --url", hint="e.g. ckx pull repo --url=https://github.com/org/repo.git"
        )
    url = _checked_url(url)
    name = url.rstrip("/").split("/")[-1]
    name = name[:-4] if name.endswith(".git") else name
    alias = _alias_from(i, name)
    existing = ctx.registry.find(alias)
    if existing:
        if existing.url == url:
            _git(["git", "-C", str(existing.path), "pull", "--ff-only"], url)
            ctx.ui.print(f"updated repo '{alias}'")
            return {"repo": existing.to_dict(), "updated": True}
        raise ConflictError(
            f"a repo named '{alias}' is already registered", hint="pass --alias=OTHER"
        )
    dest = ctx.home / "repos" / alias
    if dest.exists():
        raise ConflictError(f"{dest} already exists", hint="remove it or pass --alias=OTHER")
    tmp = dest.parent / f".tmp-clone-{new_uid()}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["git", "clone", "--quiet"]
    if i.get("branch"):
        cmd += [f"--branch={i['branch']}"]
    try:
        _git(cmd + ["--", url, str(tmp)], url)  # `--`: a URL or path is never an option
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    desc = read_repo_description(dest)
    repo = ctx.registry.add(
        Repo(
            alias=alias,
            uid=desc.get("uid") or new_uid(),
            path=dest,
            url=url,
            folders=desc.get("folders"),
        )
    )
    n = len(ctx.search(None, None, repo=alias))
    ctx.ui.print(f"cloned {url} as repo '{alias}' at {dest} ({n} entries)")
    return {"repo": repo.to_dict(), "entries": n}


def _owner_at_name(i: dict, ctx) -> dict:
    """MLCFlow's ``owner@name`` (an unregistered repo name with ``@``) is its GitHub URL; CK's
    repositories whose content ckx has built in answer that there is nothing to fetch."""
    entry = str(i.get("entry") or "")
    if i.get("url") or "@" not in entry or ctx.registry.find(entry) is not None:
        return i
    if entry in CK_BUILTIN:  # CK's `ck pull repo:mlcommons@ck-mlops`
        ctx.ui.print(
            f"{entry}: not pulled; what ckx needs from it is built in: {CK_BUILTIN[entry]}"
        )
        url = f"https://github.com/{entry.replace('@', '/')}"
        ctx.ui.print(f"  (to register the CK repository itself: ckx pull repo --url={url})")
        return {"return": 0, "builtin": True, "repo": entry}
    url = f"https://github.com/{entry.replace('@', '/', 1)}.git"
    return {**i, "url": url, "alias": i.get("alias") or entry}


def _checked_url(url: object) -> str:
    """``url`` as text; one that git would read as an option (``--upload-pack=...``) is no URL."""
    text = str(url).strip()
    if not text or text.startswith("-"):
        raise UsageError(
            f"--url={text[:80]!r} is not a URL: a repository URL or path never begins with '-'",
            hint="e.g. ckx pull repo --url=https://github.com/org/repo.git (or a local path)",
        )
    return text


def _git(cmd: list[str], url: str) -> None:
    if shutil.which("git") is None:
        raise MissingDependencyError(
            "git is not installed", hint="install git (e.g. apt-get install git)"
        )
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    if p.returncode != 0:
        offline = any(t in p.stderr for t in ("Could not resolve host", "unable to access"))
        raise RunError(
            f"git failed for {url} (exit {p.returncode}): {p.stderr.strip()[-500:]}",
            hint="no network: clone it on a connected machine, copy the folder here and "
            "register it with ckx add repo:NAME --path=DIR (or pass a local --url)"
            if offline
            else None,
        )


def ls(ctx, i: dict) -> dict:
    repos = [*ctx.registry.repos, *ctx.registry.untrusted]
    for r in repos:
        ctx.ui.print(f"{r.alias:<20} {r.kind:<8} {r.path}" + (f"  ({r.url})" if r.url else ""))
    return {"list": [r.to_dict() for r in repos]}


def where(ctx, i: dict) -> dict:
    repo = ctx.registry.get(_alias_from(i, "local"))
    ctx.ui.print(str(repo.path))
    return {"path": str(repo.path)}


def show(ctx, i: dict) -> dict:
    repo = ctx.registry.get(_alias_from(i, "local"))
    counts: dict[str, int] = {}
    for e in ctx.search(None, None, repo=repo.alias):
        counts[e.automation] = counts.get(e.automation, 0) + 1
    ctx.ui.print(f"{repo.alias} ({repo.kind}) uid={repo.uid} at {repo.path}")
    for a, n in sorted(counts.items()):
        ctx.ui.print(f"  {a:<14} {n}")
    return {"repo": repo.to_dict(), "entries": counts}


def rm(ctx, i: dict) -> dict:
    alias = _alias_from(i)
    repo = ctx.registry.find_any(alias) or ctx.registry.get(alias)
    if repo.kind not in ("user", "untrusted"):
        raise UsageError(f"the {repo.kind} repo '{alias}' cannot be removed")
    delete = bool(i.get("delete") or i.get("all"))
    owned = repo.path.resolve().is_relative_to((ctx.home / "repos").resolve())
    if delete and not owned:
        raise UsageError(
            f"{repo.path} is not inside {ctx.home / 'repos'}; ckx only unregisters it",
            hint="run without --delete, then remove the folder yourself",
        )
    if not (i.get("force") or ctx.quiet):
        what = f"unregister repo '{alias}'" + (f" and delete {repo.path}" if delete else "")
        if not ctx.ui.interactive:
            raise UsageError(
                f"refusing to {what} without confirmation", hint="add --force (or --quiet)"
            )
        if not ctx.ui.confirm(f"{what[0].upper()}{what[1:]}?"):
            return {"removed": False}
    ctx.registry.remove(alias)
    if delete:
        shutil.rmtree(repo.path, ignore_errors=True)
    ctx.ui.print(
        f"removed repo '{alias}'"
        + (f" and deleted {repo.path}" if delete else f" (files kept at {repo.path})")
    )
    return {"removed": True, "deleted": delete}


def zip(ctx, i: dict) -> dict:  # noqa: A001  (CK's verb)
    """Write every entry of a repo into a repo-fragment archive (``ckr.zip`` by default)."""
    from ckx.experiments.records import tell_redacted
    from ckx.experiments.repozip import zip_entries

    repo = ctx.registry.get(_alias_from(i))
    entries = ctx.search(None, None, repo=repo.alias)
    target = (
        i.get("output") or i.get("out") or i.get("zip")
    )  # `out` is the output mode in ckx.access
    out = Path(str(target if target not in (None, True) else "ckr.zip")).expanduser()
    info = zip_entries(
        entries,
        out,
        source={"alias": repo.alias, "uid": repo.uid},
        overwrite=bool(i.get("overwrite")),
    )
    tell_redacted(ctx.ui, info["redacted"], "redacted in the archive")
    ctx.ui.print(
        f"wrote {out.resolve()}: {len(entries)} entries of repo '{repo.alias}', {info['files']} files"
    )
    return info


def unzip(ctx, i: dict) -> dict:
    """Merge a repo fragment (``--zip``, default ``ckr.zip``) into a repo (default ``local``)."""
    from ckx.experiments.repozip import unzip_into

    repo = ctx.registry.get(_alias_from(i, "local"))
    archive = Path(str(i.get("zip") or i.get("file") or "ckr.zip")).expanduser()
    report = unzip_into(
        ctx,
        repo,
        archive,
        overwrite=bool(i.get("overwrite")),
        allow_code=bool(i.get("allow_code")),
    )
    for cid in report.added:
        ctx.ui.print(f"added {cid}")
    for what in report.refused:
        ctx.ui.warn(f"refused {what}")
    if report.untrusted_repo:
        ctx.ui.warn(
            f"code entries went into the untrusted repo '{report.untrusted_repo}', which ckx "
            f"does not use: review them, then trust it with: ckx add repo:{report.untrusted_repo}"
        )
    for cid in report.replaced:
        ctx.ui.print(f"replaced {cid}")
    for cid in report.identical:
        ctx.ui.print(f"skipped {cid} (already there, identical)")
    for what in report.ignored:
        ctx.ui.warn(f"ignored {what}")
    for what in report.conflicts:
        ctx.ui.warn(f"conflict: {what}")
    out = {"repo": repo.alias, **report.to_dict()}
    if report.conflicts:
        n = len(report.conflicts)
        out.update(
            {
                "return": 12,
                "error": f"{n} entr{'y' if n == 1 else 'ies'} of {archive} not merged (conflicts)",
                "hint": "rename or remove the existing entries, or unzip into another repo: ckx unzip repo:OTHER",
            }
        )
        ctx.ui.note(f"ckx error: {out['error']}\n  hint: {out['hint']}")
    return out
