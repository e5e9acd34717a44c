"""The cache of script results: entries of automation ``cache`` in the local repo.

Layout::

    CKX_HOME/repos/local/cache/<uid>/meta.json   the entry (written last, atomically)
    CKX_HOME/repos/local/cache/<uid>/...         what run.sh made (its working folder)
    CKX_HOME/repos/local/cache/.locks/<key>.lock one cross-process lock per cache key

``uid`` is 16 hex: the first 8 of the key, then 8 random, so the entries of a key are found
with one ``scandir`` and no index, YAML or lock on the fully cached path.

Atomicity. A script runs in the final folder (absolute paths baked into what it builds — a
venv's scripts, rpaths — stay right), with a build record ``.ckx-build.json`` in it. The
entry exists only once ``meta.json`` is renamed into place, the last step: a folder without
``meta.json`` is not an entry for the index, for lookups or for ``ckx show cache``. A crash or
Ctrl-C therefore leaves no half-made entry; the leftover folder is swept by the next build
once its builder process is gone. Removal renames the folder to ``.trash-<uid>`` first.

Concurrency. A miss takes the key's lock, looks again, and only then builds: N processes
asking for the same node do the work once and all get the result.

Key. ``sha256`` over the script uid, the providing repo and entry folder, normalised variations, version and version
constraints, and the inputs that matter: the env set explicitly for the node (dep ``env``,
``--adr.NAME.env``, ``--env`` of the request), ``input_mapping`` inputs, and the values of
incoming env keys matching the meta's ``cache_key_env`` patterns.

Validity on reuse: every path recorded at creation still exists, and ``expires`` (from
``cache_expiration``: seconds or ``30m``/``12h``/``7d``) has not passed.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ckx.core import atomic
from ckx.core.errors import UsageError

BUILD_RECORD = ".ckx-build.json"
META_FILE = "meta.json"
_TAG_BAD = re.compile(r"[^A-Za-z0-9.\-_+]+")


class CacheRecord:
    """A complete cache entry: its ``uid``, folder and ``meta.json`` content, and from that
    content its ``key`` and what it exports (``env``, ``state``, ``version``)."""

    __slots__ = ("uid", "path", "meta", "key", "env", "state", "version")

    def __init__(self, uid: str, path: Path, meta: dict[str, Any]) -> None:
        self.uid = uid
        self.path = path
        self.meta = meta
        self.key: str = meta.get("key", "")
        self.env: dict[str, Any] = meta.get("new_env") or {}
        self.state: dict[str, Any] = meta.get("new_state") or {}
        self.version: str | None = meta.get("version")

    def __repr__(self) -> str:
        return f"CacheRecord({self.uid}, {self.path})"

    def problems(self, now: float | None = None) -> list[str]:
        """Why this entry can no longer be used (empty: valid)."""
        out = []
        exp = self.meta.get("expires")
        if exp and (now or time.time()) > float(exp):
            out.append(f"expired at {time.strftime('%Y-%m-%d %H:%M', time.localtime(float(exp)))}")
        for p in self.meta.get("paths") or []:
            if not os.path.exists(p):
                out.append(f"recorded path {p} is gone")
        if self.meta.get("has_downloads"):
            from ckx.artifacts.prepare import MANIFEST, check_prepared

            if not (self.path / MANIFEST).is_file():
                out.append(f"its downloads are not recorded ({self.path / MANIFEST} is missing)")
            out += check_prepared(self.path)
        return out

    def describe(self) -> str:
        v = f" v{self.version}" if self.version else ""
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.meta.get("created", 0)))
        reg = self.registered()
        return f"{self.meta.get('alias', self.uid)}{v} (made {made}, {self.path})" + (
            f" [registered copy {reg}]" if reg else ""
        )

    def registered(self) -> str | None:
        """The folder or file this entry registered with ``--path`` points at (else None)."""
        from ckx.artifacts.prepare import MANIFEST

        try:
            data = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data.get("registered") or None if isinstance(data, dict) else None


def parse_expiration(value: Any) -> float | None:
    """``cache_expiration`` in seconds: a number (seconds) or ``30s``/``30m``/``12h``/``7d``."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
    if not m:
        raise UsageError(f"bad cache_expiration {value!r}", hint="use seconds or 30m, 12h, 7d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def cache_key(
    *,
    script: str,
    variations: tuple[str, ...],
    version: str | None,
    constraints: dict[str, str | None],
    request_env: dict[str, Any],
    inputs: dict[str, Any],
    path: str | None,
    key_env: dict[str, Any],
    provider: tuple[str, str] | None = None,
) -> str:
    """The key of a planned node (see the module doc): its ``script`` uid and ``provider``
    (the repo and entry folder that provide it), ``variations``,
    ``version`` and joint version ``constraints``, its ``request_env``, its ``input_mapping``
    ``inputs``, the local copy ``path`` of a package registered with ``--path``, and the
    ``cache_key_env`` values of its env (:func:`key_env`)."""
    doc = {
        "script": script,
        # the uid alone is a claim any repo can make: the providing repo and folder are who it is
        "provider": list(provider) if provider else None,
        "variations": list(variations),
        "version": version,
        "constraints": constraints,
        "env": request_env,
        "inputs": inputs,
        "path": path,
        "key_env": key_env,
    }
    return _sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def cache_tags(
    script_tags: list[str], variations: list[str], version: str | None, script_uid: str
) -> list[str]:
    """Tags of a cache entry: the script's, its variations, ``version-X``, ``script-<uid>``."""
    tags = list(script_tags)
    for v in variations:
        t = _TAG_BAD.sub("-", v).strip("-.+_")
        if t and t[0].isalnum():
            tags.append(t)
    if version:
        t = _TAG_BAD.sub("-", f"version-{version}")
        tags.append(t)
    tags.append(f"script-{script_uid}")
    return list(dict.fromkeys(tags))


class Build:
    """A cache entry being made: the folder exists, ``meta.json`` does not yet."""

    __slots__ = ("uid", "path", "key", "started")

    def __init__(self, uid: str, path: Path, key: str) -> None:
        self.uid = uid
        self.path = path
        self.key = key
        self.started = time.time()


class CacheStore:
    """Cache entries under ``root`` (the ``cache`` folder of the local repo)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # -- reading ---------------------------------------------------------------------------
    def records(self, key: str | None = None) -> list[CacheRecord]:
        """Complete entries (of one key), valid or not, newest first."""
        out = []
        try:
            it = os.scandir(self.root)
        except FileNotFoundError:
            return []
        with it:
            for d in it:
                if d.name.startswith(".") or (key and not d.name.startswith(key[:8])):
                    continue
                rec = self.read(Path(d.path))
                if rec and (key is None or rec.key == key):
                    out.append(rec)
        out.sort(key=lambda r: r.meta.get("created", 0), reverse=True)
        return out

    def read(self, path: Path) -> CacheRecord | None:
        try:
            meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None
        return CacheRecord(uid=path.name, path=path, meta=meta)

    def valid(self, key: str) -> list[CacheRecord]:
        """Usable entries of ``key``, newest first."""
        return [r for r in self.records(key) if not r.problems()]

    # -- writing ---------------------------------------------------------------------------
    @contextmanager
    def locked(self, key: str, what: str = "", timeout: float = 24 * 3600) -> Iterator[None]:
        """Hold the key's cross-process lock (waits for another builder of the same key)."""
        from ckx.core.locks import path_lock

        with path_lock(self.root / ".locks" / key[:32], timeout=timeout, what=what):
            yield

    def begin(self, key: str) -> Build:
        """Create the folder of a new entry (not an entry until :meth:`commit`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.sweep()
        while True:
            uid = key[:8] + os.urandom(4).hex()
            path = self.root / uid
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        build = Build(uid=uid, path=path, key=key)
        rec = {"pid": os.getpid(), "host": _host(), "started": build.started, "key": key}
        (path / BUILD_RECORD).write_text(json.dumps(rec), encoding="utf-8")
        return build

    def commit(self, build: Build, meta: dict[str, Any]) -> CacheRecord:
        """Write ``meta.json`` atomically: from now on the entry exists."""
        meta = {**meta, "uid": build.uid, "key": build.key, "automation_alias": "cache"}
        atomic.write_text(build.path / META_FILE, json.dumps(meta, indent=1, default=str))
        (build.path / BUILD_RECORD).unlink(missing_ok=True)
        return CacheRecord(uid=build.uid, path=build.path, meta=meta)

    def abort(self, build: Build) -> None:
        """Drop a failed build."""
        self._remove_dir(build.path)

    def remove(self, rec: CacheRecord) -> None:
        """Delete an entry: it disappears at once (rename), the bytes go after."""
        self._remove_dir(rec.path)

    def _remove_dir(self, path: Path) -> None:
        trash = path.with_name(f".trash-{path.name}-{os.urandom(3).hex()}")
        try:
            os.replace(path, trash)
        except FileNotFoundError:
            return
        import shutil  # not on the cached path

        shutil.rmtree(trash, ignore_errors=True)

    def sweep(self) -> list[str]:
        """Remove leftovers of crashed builds and removals; return their names."""
        from ckx.core.locks import pid_alive

        removed: list[str] = []
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return removed
        for d in entries:
            if not d.is_dir(follow_symlinks=False):
                continue
            if d.name.startswith(".trash-"):
                import shutil

                shutil.rmtree(d.path, ignore_errors=True)
                removed.append(d.name)
                continue
            if d.name.startswith(".") or os.path.exists(os.path.join(d.path, META_FILE)):
                continue
            try:
                rec = json.loads(Path(d.path, BUILD_RECORD).read_text(encoding="utf-8"))
                dead = rec.get("host") == _host() and not pid_alive(int(rec.get("pid", 0)))
            except (OSError, ValueError):
                # no build record: made by something else, or a crash before it was written
                dead = time.time() - d.stat().st_mtime > 3600
            if dead:
                self._remove_dir(Path(d.path))
                removed.append(d.name)
        return removed


def _sha256(data: bytes) -> Any:
    # hashlib pulls in OpenSSL (~2 ms); the builtin sha256 is enough for short keys
    try:
        from _sha2 import sha256  # Python >= 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # Python <= 3.11
        except ImportError:
            from hashlib import sha256
    return sha256(data)


def _host() -> str:
    import socket

    return socket.gethostname()
