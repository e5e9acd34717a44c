"""Fetch artefacts into the object store: mirrors first, retries, resume, checksums, one lock.

:func:`fetch` tries each mirror (``CKX_MIRROR``, see :mod:`ckx.artifacts.mirror`) and then each origin
URL in order. HTTP(S) goes through requests with urllib3's ``Retry`` (connect errors, 429 and
5xx, exponential backoff, ``Retry-After`` honoured up to a cap). A body that breaks off is
resumed with ``Range: bytes=N-`` and ``If-Range`` (the ETag or Last-Modified of the first
answer); a server that ignores the range and answers 200 is restarted cleanly from zero.
Bytes are hashed while they are written to a ``.part`` file in the store's ``tmp/``; only a
file whose size, sha256 and md5 match what is expected is renamed into the store. A failed
download leaves nothing behind except after Ctrl-C, when the ``.part`` file is kept and the
next fetch of the same URL resumes it.

An artefact with no published sha256 is checked against ``known_hashes`` (a JSON file): the
first download records its sha256 there with its source, with a warning, and later downloads
must match it. A hash learned from a mirror is provisional: other mirrors must match it, but
the origin's file is never refused for it (the origin's hash replaces it).

Time is bounded: a whole fetch stops after ``CKX_DOWNLOAD_DEADLINE`` seconds, and a body that
delivers fewer than ``CKX_DOWNLOAD_STALL_BYTES`` in ``CKX_DOWNLOAD_STALL_S`` seconds is a stall
(the connection is dropped and resumed; when every try stalls the source fails). Either way
the ``.part`` file is kept and the next fetch resumes it.
A per-artefact lock (:func:`ckx.core.locks.path_lock`) makes concurrent fetches of the same
artefact download it once; the others wait and then find it in the store.

``requests`` is imported only when an HTTP source is actually tried.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from ckx.artifacts.cas import CHUNK, ObjectStore, check_sha256
from ckx.core import atomic
from ckx.core.errors import ChecksumError, DownloadError, UsageError
from ckx.core.locks import path_lock
from ckx.core.progress import ProgressSink

log = logging.getLogger("ckx.artifacts.download")

RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Time limits of a fetch (docs/security.md); the environment variable of each name overrides it.
TIME_LIMITS = {
    "CKX_DOWNLOAD_DEADLINE": 6 * 3600.0,  # seconds for one whole fetch, all sources together
    "CKX_DOWNLOAD_STALL_S": 60.0,  # a window of this many seconds ...
    "CKX_DOWNLOAD_STALL_BYTES": 1024.0,  # ... that brings fewer bytes than this is a stall
}


def time_limit(name: str) -> float:
    raw = os.environ.get(name)
    if raw:
        try:
            return max(float(raw), 0.001)
        except ValueError:
            pass
    return TIME_LIMITS[name]


RETRY_AFTER_CAP_S = 60.0  # never let one server's Retry-After stall a run for longer
OFFLINE_HINT = (
    "no network, or the host is unreachable. On an offline machine point CKX_MIRROR at a "
    "directory or http(s) base URL filled by `ckx prefetch` on a connected machine "
    "(several entries separated by the OS path separator)"
)


@dataclass
class Artifact:
    """A file to fetch: where from, and what it must look like."""

    filename: str
    urls: list[str] = field(default_factory=list)
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    name: str | None = None  # a display name; defaults to the file name

    @property
    def label(self) -> str:
        """How messages and the progress bar call this artefact."""
        return self.name or self.filename

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Artifact:
        """Build from a package meta ``download`` block (``url`` or ``urls``, ``filename``,
        ``size``, ``sha256``, ``md5``); the file name defaults to the first URL's last part."""
        urls = meta.get("urls") or ([meta["url"]] if meta.get("url") else [])
        if isinstance(urls, str):
            urls = [urls]
        filename = meta.get("filename") or (_basename(urls[0]) if urls else "")
        if not filename:
            raise UsageError("download meta needs 'filename' or at least one URL")
        return cls(
            filename=filename,
            urls=list(urls),
            size=meta.get("size"),
            sha256=meta.get("sha256"),
            md5=meta.get("md5"),
            name=meta.get("name"),
        )


@dataclass
class FetchResult:
    """A fetched, verified artefact: ``path`` is its (read-only) object in the store."""

    path: Path
    sha256: str
    size: int
    source: str  # the URL or mirror path the bytes came from; the object path when cached
    from_mirror: bool
    cached: bool = False  # True when it was already in the store and nothing was fetched
    md5: str | None = None  # computed when the bytes were fetched; None for a cached hit


def fetch(
    artifact: Artifact,
    store: ObjectStore,
    *,
    mirrors: list[str] | None = None,
    progress: ProgressSink | None = None,
    timeout: float = 30.0,
    retries: int = 4,
    known_hashes: Path | str | None = None,
    backoff: float = 0.5,
    lock_timeout: float = 3600.0,
) -> FetchResult:
    """Make ``artifact`` present and verified in ``store``; return where it is and where it came from.

    ``mirrors``: directories and http(s) base URLs tried before the origin URLs.
    ``timeout``: seconds for each connect and each read. ``retries``: retries of connect
    errors (at most 2), of 429/5xx answers, and resumptions of a broken body. ``backoff``:
    base of the exponential wait between retries. ``known_hashes``: the JSON file recording
    the sha256 of artefacts without a published one. ``lock_timeout``: how long to wait for
    another process fetching the same artefact.

    Raises :class:`ChecksumError` when the bytes do not match, :class:`DownloadError` when no
    source delivered them; both name every source tried and nothing is left in the store.
    """
    _validate(artifact, mirrors)
    known = KnownHashes(Path(known_hashes)) if known_hashes else None
    expected = _expected_sha256(artifact, known)
    if expected and store.has(expected):
        return _cached_result(store, expected)
    key = expected or _url_key(artifact)
    lock_path = store.root / "locks" / key
    with path_lock(lock_path, timeout=lock_timeout, what=f"download {artifact.label}"):
        expected = _expected_sha256(artifact, known)  # a process before us may have recorded it
        if expected and store.has(expected):
            return _cached_result(store, expected)
        opts = _Options(progress, timeout, retries, backoff)
        opts.provisional = bool(
            expected
            and artifact.sha256 is None
            and known is not None
            and known.from_mirror(artifact)
        )
        result = _fetch_from_sources(artifact, store, expected, mirrors or [], opts, known)
        if known is not None and artifact.sha256 is None:
            known.record(artifact, result)
        return result


# --- sources -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    kind: str  # "http" or "file"
    location: str  # URL or local path
    from_mirror: bool


@dataclass
class _Options:
    progress: ProgressSink | None
    timeout: float
    retries: int
    backoff: float
    session: Any = None  # one requests.Session per fetch, made on first HTTP use
    provisional: bool = False  # the expected sha256 was learned from a mirror
    deadline_at: float = field(
        default_factory=lambda: time.monotonic() + time_limit("CKX_DOWNLOAD_DEADLINE")
    )
    stall_s: float = field(default_factory=lambda: time_limit("CKX_DOWNLOAD_STALL_S"))
    stall_bytes: float = field(default_factory=lambda: time_limit("CKX_DOWNLOAD_STALL_BYTES"))

    def http(self) -> Any:
        if self.session is None:
            self.session = make_session(retries=self.retries, backoff=self.backoff)
        return self.session


class _SourceFailed(Exception):
    """One source did not deliver; the fetch goes on with the next one."""

    def __init__(
        self,
        text: str,
        *,
        unreachable: bool = False,
        checksum: bool = False,
        keep_part: bool = False,
    ) -> None:
        super().__init__(text)
        self.text, self.unreachable, self.checksum = text, unreachable, checksum
        self.keep_part = keep_part  # a stalled body is resumed by the next fetch


def _fetch_from_sources(
    artifact: Artifact,
    store: ObjectStore,
    expected: str | None,
    mirrors: list[str],
    opts: _Options,
    known: KnownHashes | None,
) -> FetchResult:
    failures: list[_SourceFailed] = []
    try:
        for source in _sources(artifact, mirrors, expected, failures):
            try:
                return _fetch_one(artifact, store, source, expected, opts, known)
            except _SourceFailed as failure:
                log.info("%s", failure.text)
                failures.append(failure)
    finally:
        if opts.session is not None:
            opts.session.close()
    raise _final_error(artifact, expected, failures)


def _sources(
    artifact: Artifact, mirrors: list[str], expected: str | None, failures: list[_SourceFailed]
) -> list[_Source]:
    """Mirrors first (a directory only if it holds the file), then the origin URLs in order."""
    out: list[_Source] = []
    for mirror in mirrors:
        if _is_http(mirror):
            out.append(_Source("http", mirror.rstrip("/") + "/" + quote(artifact.filename), True))
            continue
        found = _find_in_mirror_dir(_local_path(mirror) or Path(mirror), artifact, expected)
        if found is None:
            failures.append(_SourceFailed(f"mirror {mirror}: has no {artifact.filename}"))
        else:
            out.append(_Source("file", str(found), True))
    for url in artifact.urls:
        local = _local_path(url)
        if local is not None:
            out.append(_Source("file", str(local), False))
        elif _is_http(url):
            out.append(_Source("http", url, False))
        else:
            failures.append(
                _SourceFailed(f"{url}: unsupported URL scheme (use http, https or file)")
            )
    return out


def _find_in_mirror_dir(mirror: Path, artifact: Artifact, expected: str | None) -> Path | None:
    candidates = [mirror / "sha256" / expected, mirror / expected] if expected else []
    candidates.append(mirror / artifact.filename)
    return next((c for c in candidates if c.is_file()), None)


def _fetch_one(
    artifact: Artifact,
    store: ObjectStore,
    source: _Source,
    expected: str | None,
    opts: _Options,
    known: KnownHashes | None,
) -> FetchResult:
    if source.kind == "file":
        part, digests, size = _copy_local(Path(source.location), store, artifact, opts)
    else:
        part, digests, size = _download_http(source.location, store, artifact, opts)
    try:
        # a hash learned from a mirror binds the mirrors, never the origin's file
        check = None if opts.provisional and not source.from_mirror else expected
        _verify(artifact, source, check, digests, size, known)
    except _SourceFailed:
        _discard(part)
        raise
    obj = store.commit_temp(part, digests["sha256"])
    log.info("fetched %s from %s", artifact.label, source.location)
    return FetchResult(
        obj, digests["sha256"], size, source.location, source.from_mirror, md5=digests["md5"]
    )


def _verify(
    artifact: Artifact,
    source: _Source,
    expected: str | None,
    digests: dict[str, str],
    size: int,
    known: KnownHashes | None,
) -> None:
    where = source.location
    if artifact.size is not None and size != artifact.size:
        raise _SourceFailed(f"{where}: got {size} bytes, expected {artifact.size}")
    if expected and digests["sha256"] != expected:
        origin = "published" if artifact.sha256 else f"recorded in {known.path if known else '?'}"
        raise _SourceFailed(
            f"{where}: sha256 {digests['sha256']} does not match the {origin} sha256 {expected}",
            checksum=True,
        )
    if artifact.md5 and digests["md5"] != artifact.md5.lower():
        raise _SourceFailed(
            f"{where}: md5 {digests['md5']} does not match the published md5 {artifact.md5}",
            checksum=True,
        )


def _final_error(
    artifact: Artifact, expected: str | None, failures: list[_SourceFailed]
) -> DownloadError:
    tried = "; ".join(f.text for f in failures) or "no source (no URL and no mirror)"
    want = f" (expected sha256 {expected})" if expected else ""
    message = f"could not fetch {artifact.label}{want}: {tried}"
    if any(f.checksum for f in failures):
        return ChecksumError(
            message,
            hint="the source serves different bytes than expected; nothing was stored. If the "
            "file legitimately changed, update its checksum (or its known-hashes entry)",
        )
    if any(f.keep_part for f in failures):
        return DownloadError(
            message,
            hint="the bytes so far are kept: run the same command again to resume "
            "(CKX_DOWNLOAD_STALL_S / CKX_DOWNLOAD_STALL_BYTES set what counts as a stall)",
        )
    if any(f.unreachable for f in failures):
        return DownloadError(message, hint=OFFLINE_HINT)
    return DownloadError(message, hint="check the URLs (and CKX_MIRROR) and try again")


# --- local copies ------------------------------------------------------------------------


def _copy_local(
    src: Path, store: ObjectStore, artifact: Artifact, opts: _Options
) -> tuple[Path, dict[str, str], int]:
    if not src.is_file():
        raise _SourceFailed(f"{src}: no such file")
    part = store.new_temp(".part")
    writer = _PartWriter(part)
    try:
        _progress_start(opts, artifact, src.stat().st_size, 0)
        with open(src, "rb") as fin:
            while chunk := fin.read(CHUNK):
                writer.write(chunk)
                _progress_update(opts, writer.written)
        writer.close()
    except OSError as exc:
        writer.close()
        _discard(part)
        raise _SourceFailed(f"{src}: cannot read: {exc}") from None
    finally:
        _progress_finish(opts)
    return part, writer.digests(), writer.written


class _PartWriter:
    """Appends to a .part file while keeping its sha256 and md5 up to date."""

    def __init__(self, path: Path, *, resume: bool = False) -> None:
        self.path = path
        self.sha256, self.md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        self.written = 0
        if resume and path.is_file():
            with open(path, "rb") as f:  # prime the hashes with the bytes already there
                while chunk := f.read(CHUNK):
                    self._hash(chunk)
        self._file = open(path, "ab" if resume else "wb")  # noqa: SIM115 - closed in close()

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash(chunk)

    def restart(self) -> None:
        """Throw away everything written (the server sent the whole body again)."""
        self._file.seek(0)
        self._file.truncate()
        self.sha256, self.md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        self.written = 0

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def digests(self) -> dict[str, str]:
        return {"sha256": self.sha256.hexdigest(), "md5": self.md5.hexdigest()}

    def _hash(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.md5.update(chunk)
        self.written += len(chunk)


# --- HTTP --------------------------------------------------------------------------------


def make_session(*, retries: int = 4, backoff: float = 0.5) -> Any:
    """A ``requests.Session`` whose adapters retry connect errors (at most 2 times, so an
    offline machine fails fast) and 429/5xx answers (``retries`` times) with backoff."""
    import requests
    from requests.adapters import HTTPAdapter

    retry = _capped_retry_class()(
        total=retries,
        connect=min(retries, 2),
        read=0,  # a read that breaks off is resumed by our own loop, from where it stopped
        status=retries,
        other=0,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["Accept-Encoding"] = "identity"  # bytes as stored: ranges and hashes match
    session.headers["User-Agent"] = "ckx-download"
    return session


def _capped_retry_class() -> type:
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        def get_retry_after(self, response: Any) -> float | None:  # type: ignore[override]
            value = super().get_retry_after(response)
            return None if value is None else min(value, RETRY_AFTER_CAP_S)

    return CappedRetry


@dataclass
class _Resume:
    """What we know about the body so far: the validator that makes resuming safe."""

    validator: str | None = None
    total: int | None = None


def _download_http(
    url: str, store: ObjectStore, artifact: Artifact, opts: _Options
) -> tuple[Path, dict[str, str], int]:
    part, meta = _part_paths(store, url)
    state = _load_resume(part, meta, url)
    writer = _PartWriter(part, resume=state.validator is not None)
    try:
        _http_loop(url, writer, state, meta, opts, artifact)
        writer.close()
    except _SourceFailed as failure:
        writer.close()
        if not failure.keep_part:
            _discard(part, meta)
        raise
    except BaseException:  # Ctrl-C and friends: keep the .part so the next fetch resumes it
        writer.close()
        raise
    finally:
        _progress_finish(opts)
    meta.unlink(missing_ok=True)
    return part, writer.digests(), writer.written


def _http_loop(
    url: str, writer: _PartWriter, state: _Resume, meta: Path, opts: _Options, artifact: Artifact
) -> None:
    """GET until the body is complete; each broken connection resumes from ``writer.written``."""
    import requests
    import urllib3

    # What a broken connection raises while the body streams (not disk errors: those are fatal).
    drops = (
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        ConnectionError,
        TimeoutError,
    )
    last_error = "no attempt"
    stalls = 0
    for attempt in range(opts.retries + 1):
        if attempt:
            time.sleep(min(opts.backoff * 2 ** (attempt - 1), 10.0))
        _check_deadline(opts, artifact, writer)
        try:
            resp = opts.http().get(
                url, headers=_range_headers(writer, state), stream=True, timeout=opts.timeout
            )
        except _fatal_request_errors() as exc:
            raise _SourceFailed(f"{url}: {_reason(exc)}") from None
        except requests.exceptions.RequestException as exc:
            if _is_unreachable(exc):
                raise _SourceFailed(
                    f"{url}: cannot connect ({_reason(exc)})", unreachable=True
                ) from None
            last_error = _reason(exc)
            continue
        with resp:
            if not _begin_body(url, resp, writer, state, meta):
                continue
            _progress_start(opts, artifact, state.total or artifact.size, writer.written)
            try:
                _read_body(resp, writer, opts, artifact)
            except _Stalled as exc:
                stalls += 1
                last_error = str(exc)
                log.info("%s: %s; resuming", url, last_error)
                continue
            except drops as exc:
                last_error = f"connection broken after {writer.written} bytes ({_reason(exc)})"
                log.info("%s: %s; resuming", url, last_error)
                continue
        if state.total is None or writer.written >= state.total:
            return
        last_error = f"body ended at {writer.written} of {state.total} bytes"
    raise _SourceFailed(
        f"{url}: gave up after {opts.retries + 1} attempts: {last_error}",
        keep_part=stalls > 0 and state.validator is not None,
    )


class _Stalled(Exception):
    """The body brought too few bytes in the stall window."""


def _read_body(resp: Any, writer: _PartWriter, opts: _Options, artifact: Artifact) -> None:
    """Append the body to ``writer`` as bytes arrive (``read1``: whatever is there, so a server
    that drips one byte at a time is measured), watching the stall window and the deadline."""
    window_at, window_from = time.monotonic(), writer.written
    while True:
        chunk = resp.raw.read1(CHUNK, decode_content=False)
        if not chunk:
            return
        writer.write(chunk)
        _progress_update(opts, writer.written)
        now = time.monotonic()
        _check_deadline(opts, artifact, writer, now)
        if now - window_at >= opts.stall_s:
            got = writer.written - window_from
            if got < opts.stall_bytes:
                raise _Stalled(
                    f"stalled: {got} bytes in {now - window_at:.1f} s, fewer than "
                    f"{opts.stall_bytes:g} (CKX_DOWNLOAD_STALL_BYTES in CKX_DOWNLOAD_STALL_S)"
                )
            window_at, window_from = now, writer.written


def _check_deadline(
    opts: _Options, artifact: Artifact, writer: _PartWriter, now: float | None = None
) -> None:
    """DownloadError once the whole fetch has run past its deadline; the .part file stays."""
    if (now or time.monotonic()) <= opts.deadline_at:
        return
    raise DownloadError(
        f"could not fetch {artifact.label}: the download deadline "
        f"({time_limit('CKX_DOWNLOAD_DEADLINE'):g} s, CKX_DOWNLOAD_DEADLINE) passed after "
        f"{writer.written} bytes",
        hint="the bytes so far are kept: run the same command again to resume (or raise "
        "CKX_DOWNLOAD_DEADLINE for a slow link)",
    )


def _fatal_request_errors() -> tuple[type[BaseException], ...]:
    """requests errors that no retry can fix (bad URL, redirect loop)."""
    from requests import exceptions as e

    return (e.InvalidURL, e.InvalidSchema, e.MissingSchema, e.TooManyRedirects)


def _range_headers(writer: _PartWriter, state: _Resume) -> dict[str, str]:
    if writer.written == 0:
        return {}
    headers = {"Range": f"bytes={writer.written}-"}
    if state.validator:
        headers["If-Range"] = state.validator
    return headers


def _begin_body(url: str, resp: Any, writer: _PartWriter, state: _Resume, meta: Path) -> bool:
    """Decide from the status whether the body appends or restarts; False: ask again."""
    status = resp.status_code
    if status == 416:  # the range is past the end: complete already, or the file changed
        if state.total is not None and writer.written == state.total:
            return True
        writer.restart()
        state.validator = None
        return False
    if status >= 400:
        raise _SourceFailed(_status_text(url, resp), unreachable=False)
    if status == 206:
        start, total = _content_range(resp.headers.get("Content-Range", ""))
        if start != writer.written:
            log.info("%s: server resumed at %s, not %d; restarting", url, start, writer.written)
            writer.restart()
            state.validator = None
            return False
        state.total = total
    elif status == 200:
        if writer.written:
            log.info("%s: server ignored the range request; restarting from zero", url)
            writer.restart()
        length = resp.headers.get("Content-Length")
        state.total = int(length) if length and length.isdigit() else None
    else:
        raise _SourceFailed(f"{url}: unexpected HTTP {status}")
    _remember_validator(resp, state, meta, url)
    return True


def _remember_validator(resp: Any, state: _Resume, meta: Path, url: str) -> None:
    etag = resp.headers.get("ETag")
    validator = etag if etag and not etag.startswith("W/") else resp.headers.get("Last-Modified")
    if validator and validator != state.validator:
        state.validator = validator
        atomic.write_text(meta, json.dumps({"url": url, "validator": validator}))


def _content_range(value: str) -> tuple[int | None, int | None]:
    """``'bytes 100-199/200'`` → ``(100, 200)``; unknown parts are None."""
    try:
        unit, rest = value.split(" ", 1)
        span, total = rest.split("/", 1)
        start = int(span.split("-", 1)[0])
        return (start if unit == "bytes" else None), (int(total) if total.isdigit() else None)
    except ValueError:
        return None, None


def _status_text(url: str, resp: Any) -> str:
    reason = f" {resp.reason}" if resp.reason else ""
    retried = " (after retries)" if resp.status_code in RETRY_STATUSES else ""
    return f"{url}: HTTP {resp.status_code}{reason}{retried}"


def _is_unreachable(exc: BaseException) -> bool:
    """True for failures to connect at all (refused, DNS, connect timeout), after urllib3's retries."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:  # the cause hides in MaxRetryError.reason or in exception args
        item = todo.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if isinstance(item, ConnectTimeoutError):  # NewConnectionError, NameResolutionError too
            return True
        todo.extend([getattr(item, "reason", None), item.__cause__, item.__context__, *item.args])
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --- resumable .part files -----------------------------------------------------------------


def _part_paths(store: ObjectStore, url: str) -> tuple[Path, Path]:
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]
    part = store.tmp_dir / f"{key}.part"
    return part, part.with_name(part.name + ".json")


def _load_resume(part: Path, meta: Path, url: str) -> _Resume:
    """Resume a .part left by an interrupted fetch of the same URL, if it has a validator."""
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        if data.get("url") == url and data.get("validator") and part.is_file():
            return _Resume(validator=data["validator"])
    except (OSError, ValueError, AttributeError):
        pass
    _discard(part, meta)
    return _Resume()


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


# --- known hashes ------------------------------------------------------------------------


class KnownHashes:
    """The sha256 recorded at first download for artefacts that publish none (JSON file).

    Format: ``{"version": 1, "files": {"<url>": {"sha256", "size", "md5", "filename",
    "recorded", "source", "from_mirror"}}}``, one entry per origin URL. Written atomically
    under a lock. An entry learned from a mirror is replaced by the origin's hash the first
    time the origin itself delivers the file (a mirror can be wrong; the origin is the truth).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def lookup(self, artifact: Artifact) -> str | None:
        """The recorded sha256 for any of the artefact's URLs, or None."""
        files = self._read().get("files", {})
        for url in artifact.urls:
            entry = files.get(url)
            if isinstance(entry, dict) and entry.get("sha256"):
                return check_sha256(entry["sha256"])
        return None

    def from_mirror(self, artifact: Artifact) -> bool:
        """True when the recorded sha256 of ``artifact`` was learned from a mirror."""
        files = self._read().get("files", {})
        for url in artifact.urls:
            entry = files.get(url)
            if isinstance(entry, dict) and entry.get("sha256"):
                return bool(entry.get("from_mirror"))
        return False

    def record(self, artifact: Artifact, result: FetchResult) -> None:
        """Record ``result`` for every origin URL that has no entry yet, and over an entry
        learned from a mirror when ``result`` came from the origin (warns in both cases)."""
        if result.cached:
            return
        with path_lock(self.path, timeout=60, what="record a known hash"):
            data = self._read()
            files = data.setdefault("files", {})
            new = [
                u
                for u in artifact.urls
                if u not in files
                or (
                    isinstance(files[u], dict)
                    and files[u].get("from_mirror")
                    and not result.from_mirror
                    and files[u].get("sha256") != result.sha256
                )
            ]
            if not new:
                return
            replaced = [u for u in new if u in files]
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            entry = {
                "sha256": result.sha256,
                "size": result.size,
                "md5": result.md5,
                "filename": artifact.filename,
                "recorded": stamp,
                "source": result.source,
                "from_mirror": result.from_mirror,
            }
            for url in new:
                files[url] = entry
            data["version"] = 1
            self._write(data)
        if replaced:
            log.warning(
                "%s: the origin's sha256 %s replaces the one a mirror had served; that mirror "
                "holds a different file",
                artifact.label,
                result.sha256,
            )
            return
        log.warning(
            "%s publishes no checksum: recorded the sha256 %s of this first download in %s; "
            "later downloads must match it",
            artifact.label,
            result.sha256,
            self.path,
        )

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "files": {}}
        except (OSError, ValueError) as exc:
            raise DownloadError(
                f"cannot read the known-hashes file {self.path}: {exc}",
                hint="fix or remove that file",
            ) from None
        return data if isinstance(data, dict) else {"version": 1, "files": {}}

    def _write(self, data: dict[str, Any]) -> None:
        atomic.write_text(self.path, json.dumps(data, indent=1, sort_keys=True))


# --- small helpers -----------------------------------------------------------------------


def _validate(artifact: Artifact, mirrors: list[str] | None) -> None:
    name = artifact.filename
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise UsageError(f"artefact file name {name!r} must be a plain file name")
    if not artifact.urls and not mirrors:
        raise UsageError(f"artefact {artifact.label} has no URL and no mirror is configured")
    if artifact.sha256:
        check_sha256(artifact.sha256)


def _expected_sha256(artifact: Artifact, known: KnownHashes | None) -> str | None:
    if artifact.sha256:
        return check_sha256(artifact.sha256)
    return known.lookup(artifact) if known is not None else None


def _url_key(artifact: Artifact) -> str:
    ident = "\n".join(artifact.urls) or artifact.filename
    return "url-" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:40]


def _cached_result(store: ObjectStore, sha256: str) -> FetchResult:
    path = store.path(sha256)
    return FetchResult(path, sha256, path.stat().st_size, str(path), False, cached=True)


def _is_http(location: str) -> bool:
    return location.lower().startswith(("http://", "https://"))


def _local_path(location: str) -> Path | None:
    """The local path of a ``file://`` URL or a plain path; None for other URLs."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        from urllib.request import url2pathname

        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # plain path, or a Windows drive letter
        return Path(location).expanduser()
    return None


def _basename(url: str) -> str:
    return urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]


def _progress_start(opts: _Options, artifact: Artifact, total: int | None, done: int) -> None:
    if opts.progress is not None:
        opts.progress.start(artifact.label, total, done)


def _progress_update(opts: _Options, done: int) -> None:
    if opts.progress is not None:
        opts.progress.update(done)


def _progress_finish(opts: _Options) -> None:
    if opts.progress is not None:
        opts.progress.finish()
