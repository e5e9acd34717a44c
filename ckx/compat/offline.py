"""MLCFlow scripts and the network: mirrors for what they fetch, and clear failures.

MLCFlow scripts fetch inside their run scripts (``git clone`` in ``get-git-repo``,
``wget``/``curl`` in ``download-file``, ``pip install``), out of ckx's downloader's sight.
ckx therefore

* **serves mirrors** (:func:`use_mirrors`): before a script runs, a git URL
  (``MLC_GIT_URL``) or a file URL (``MLC_DOWNLOAD_URL``, ``MLC_PACKAGE_URL``) that a
  ``CKX_MIRROR`` directory holds a copy of is replaced by that copy: a clone at
  ``<mirror>/<host>/<path>`` or ``<mirror>/<name>`` (``.git`` optional) becomes
  ``MLC_GIT_URL``; a file ``<mirror>/<filename>`` becomes ``MLC_DOWNLOAD_LOCAL_FILE_PATH``
  (``download-file``'s ``--local_path``). Each replacement is reported.
* **explains failures** (:func:`script_failure`): a run script that fails on the network
  (``Could not resolve host``, ``Network is unreachable``, ...) gives an error naming what it
  tried to fetch (the URL, and the env key that holds it) and how to supply it offline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ckx.core.errors import CkxError, DownloadError, RunError

if TYPE_CHECKING:
    from ckx.compat.nodeview import MlcNodeView

_NETWORK_RE = (
    r"could not resolve host|temporary failure in name resolution|name or service not known|"
    r"network is unreachable|no route to host|failed to establish a new connection|"
    r"connection (refused|timed out|reset)|unable to resolve host address|"
    r"max retries exceeded|urlopen error|getaddrinfo failed|failed to connect to|"
    r"could not connect to|unable to access 'https?://|no matching distribution found"
)
_URL = re.compile(r"(?:https?|ftp)://[^\s'\"<>]+|git@[\w.-]+:[\w./-]+")
GIT_KEYS = ("MLC_GIT_URL",)
FILE_KEYS = ("MLC_DOWNLOAD_URL", "MLC_PACKAGE_URL", "MLC_DOWNLOAD_URL1")


def mirror_dirs(environ: Mapping[str, str]) -> list[Path]:
    """The directory mirrors of ``CKX_MIRROR`` (URL mirrors serve ckx's own downloads)."""
    from ckx.artifacts.mirror import mirrors_from_env

    return [Path(m) for m in mirrors_from_env(environ) if not m.lower().startswith("http")]


def use_mirrors(env: dict[str, Any], environ: Mapping[str, str], say: Any) -> None:
    """Point the node's git and file URLs at mirror copies (see the module doc)."""
    dirs = mirror_dirs(environ)
    if not dirs:
        return
    for key in GIT_KEYS:
        url = str(env.get(key) or "")
        copy = _git_copy(url, dirs) if _is_remote(url) else None
        if copy is not None:
            env[key] = str(copy)
            say(f"  mirror: {key}={url} -> {copy}")
    for key in FILE_KEYS:
        url = str(env.get(key) or "")
        name = os.path.basename(urlparse(url).path) if _is_remote(url) else ""
        hit = next((d / name for d in dirs if name and (d / name).is_file()), None)
        if hit is not None and not env.get("MLC_DOWNLOAD_LOCAL_FILE_PATH"):
            env["MLC_DOWNLOAD_LOCAL_FILE_PATH"] = str(hit)
            say(f"  mirror: {key}={url} -> {hit}")


def mirror_file(url: str, environ: Mapping[str, str]) -> Path | None:
    """The copy of ``url``'s file in a ``CKX_MIRROR`` directory (``<mirror>/<filename>``)."""
    name = os.path.basename(urlparse(url).path) if _is_remote(url) else ""
    return next((d / name for d in mirror_dirs(environ) if name and (d / name).is_file()), None)


def mirrored_download(original: Any) -> Any:
    """MLCFlow's ``utils.download_file``, served from a mirror when one holds the file."""

    def download_file(i: dict[str, Any]) -> dict[str, Any]:
        import shutil

        hit = mirror_file(str(i.get("url") or ""), os.environ)
        if hit is None:
            return original(i)
        name = i.get("filename") or hit.name
        dest = Path(i.get("path") or os.getcwd()) / name
        shutil.copyfile(hit, dest)
        print(f"mirror: {i['url']} -> {hit}")
        return {"return": 0, "filename": name, "path": str(dest), "size": dest.stat().st_size}

    download_file.__doc__ = original.__doc__
    return download_file


def hook_failure(node: MlcNodeView, where: str, text: str) -> CkxError | None:
    """A hook that failed on the network (a download in ``preprocess``): what it fetched and
    how to supply it offline; None when ``text`` is not about the network."""
    if not re.search(_NETWORK_RE, text, re.IGNORECASE):
        return None
    urls = [u.rstrip(".,;:)/'\"") for u in _URL.findall(text)]
    pool = re.search(r"host='([^']+)'.*?url: (/\S+)", text)  # requests' connection errors
    url = urls[0] if urls else (f"https://{pool.group(1)}{pool.group(2)}" if pool else "")
    return DownloadError(
        f"{node.node.entry.alias} needs the network (in {node.where()}): {where} tried to "
        f"fetch {url or 'a file'} and failed: {text.strip().splitlines()[0][:400]}",
        hint=_offline_hint("", url, "hook download"),
    )


def _is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "ftp://", "git@", "ssh://"))


def _git_copy(url: str, dirs: list[Path]) -> Path | None:
    if url.startswith("git@"):
        host, _, path = url[4:].partition(":")
    else:
        u = urlparse(url)
        host, path = u.hostname or "", u.path
    path = path.strip("/").removesuffix(".git")
    name = path.rsplit("/", 1)[-1]
    for d in dirs:
        for cand in (d / host / path, d / path, d / name):
            for c in (cand, cand.with_name(cand.name + ".git")):
                if c.is_dir() and ((c / ".git").exists() or (c / "HEAD").is_file()):
                    return c
    return None


def script_failure(
    node: MlcNodeView, script: Path, rc: int, tail: list[str], log: Path, env: Mapping[str, Any]
) -> CkxError:
    """The error for a run script that exited with ``rc``: a network diagnosis when its
    output says so, else MLCFlow's "native run script failed" with the output's tail."""
    shown = "\n".join(tail)
    where = node.where()
    log = keep_log(node, log)
    network = re.compile(_NETWORK_RE, re.IGNORECASE)
    net = next((line for line in tail if network.search(line)), None)
    if net is not None:
        return _network_error(node, script, net, tail, env, log)
    return RunError(
        f"{script.name} of {node.node.entry.cid} failed with exit code {rc} (in {where})\n"
        f"--- last lines of its output ({log}) ---\n{shown}",
        hint=f"its whole output is in {log}; rerun with --debug for the steps before it",
    )


def keep_log(node: MlcNodeView, log: Path) -> Path:
    """A copy of a failed script's log that outlives its working folder (a cache entry
    being built is removed when its script fails): ``CKX_HOME/state/logs/``."""
    import shutil
    import time

    try:
        dest = node.ops.ctx.state_dir("logs") / (
            f"{node.node.entry.alias}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}.log"
        )
        shutil.copyfile(log, dest)
    except OSError:
        return log
    return dest


def _network_error(
    node: MlcNodeView, script: Path, line: str, tail: list[str], env: Mapping[str, Any], log: Path
) -> CkxError:
    urls = [u.rstrip(".,;:)/'") for t in tail for u in _URL.findall(t)]
    key, url = _source_of(urls, env)
    what = (
        "git clone" if key in GIT_KEYS or (url and "git" in " ".join(tail).lower()) else "download"
    )
    fetched = f"{what} of {url}" if url else "a download"
    if key:
        fetched += f" (from {key})"
    return DownloadError(
        f"{node.node.entry.alias} needs the network (in {node.where()}): {script.name} tried "
        f"{fetched} and failed: {line.strip()}\n--- its output: {log} ---",
        hint=_offline_hint(key, url, what),
    )


def _source_of(urls: list[str], env: Mapping[str, Any]) -> tuple[str, str]:
    """The env key holding the URL the script tried (the first URL it printed that an env
    value holds), else ("", the first URL)."""
    for u in urls:
        for k, v in env.items():
            if (
                isinstance(v, str)
                and v.rstrip("/")
                and v.rstrip("/").removesuffix(".git") == u.removesuffix(".git")
            ):
                return k, v
    for k in (*GIT_KEYS, *FILE_KEYS):
        if env.get(k):
            return k, str(env[k])
    return "", urls[0] if urls else ""


def _offline_hint(key: str, url: str, what: str) -> str:
    name = os.path.basename(urlparse(url).path.rstrip("/")).removesuffix(".git") if url else "it"
    if what == "git clone":
        return (
            f"to run offline, supply a clone of {url or 'the repository'}: a mirror folder "
            f"(CKX_MIRROR=/mirror holding /mirror/{name}, a `git clone` of it), or point "
            f"the script at one: --env.{key or 'MLC_GIT_URL'}=/path/to/{name}"
        )
    mirror = f"to run offline, supply the file: a mirror folder (CKX_MIRROR=/mirror holding /mirror/{name})"
    if what == "hook download":  # utils.download_file in a hook: only the mirror reaches it
        return mirror + "; a tool the script can detect instead is given with --path=DIR"
    return (
        f"{mirror}, or a local copy: --env.MLC_DOWNLOAD_LOCAL_FILE_PATH=/path/to/{name}"
        " (download-file's --local_path); an installed tool can be given with --path=DIR"
    )
