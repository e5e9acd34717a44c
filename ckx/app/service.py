"""The HTTP face of ``ckx.access``: a Starlette application (imported only by ``ckx serve``).

Endpoints (see docs/service.md and ``GET /openapi.json``)::

    POST   /access              the request dict of ckx.access -> its result dict
    POST   /jobs                run a request in the background -> {"job": ID}
    GET    /jobs                every job's record, newest first
    GET    /jobs/ID             status, timings, result (when finished), log so far
    GET    /jobs/ID/log         the log, streamed while the job runs (text or SSE)
    DELETE /jobs/ID             cancel
    GET    /                    the experiments dashboard (redirects to /dashboard/SIG/)
    GET    /experiments[/NAME/PATH]   recorded experiments and their files
    GET    /health, /openapi.json

Every ``/access`` request runs in one of the server's worker processes (like one ``ckx``
command each), every job in a process of its own, so the server process only moves bytes.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from ckx.app import workers
from ckx.app.jobs import JobManager
from ckx.core.commands import COMMANDS, command
from ckx.core.errors import CkxError, UsageError
from ckx.core.suggest import did_you_mean

#: HTTP status of a result dict, by its ``return`` (the exit-code table of the CLI).
STATUS_OF_RETURN = {
    0: 200,
    1: 500,  # a generic failure: most likely a bug
    2: 400,  # UsageError, QueryError: bad input
    3: 404,  # NotFoundError
    4: 422,  # MetaError: the request is fine, an entry's meta is not
    5: 422,  # ResolutionError: no match, cycle, version conflict
    6: 422,  # RunError: a script or program failed
    7: 502,  # DownloadError: an upstream server failed
    8: 502,  # ChecksumError: upstream bytes are wrong
    9: 503,  # LockTimeout: busy, retry later (Retry-After is set)
    10: 422,  # ArchiveError: a corrupt or unsafe archive
    11: 500,  # MissingDependencyError: the server lacks an extra
    12: 409,  # ConflictError: something would be overwritten
    130: 503,  # interrupted
}
#: Without a token a server runs only what reads, or runs entries already registered while
#: writing only under CKX_HOME. The kernel's table (ckx.core.commands) says which of its
#: actions only read; these are the automations' own actions that only read ...
READ_ACTIONS = frozenset({"show", "points", "cmd_keys", "artifacts", "where", "plan"})
#: ... and the actions that run registered entries (their keys that write elsewhere,
#: WRITING_KEYS, are refused apart). Everything else, an action nobody declared included,
#: needs the token: rm, mv, ren, cp, add, update (they delete entries or write into repos,
#: whose code run would execute), pull, unzip, zip, plot, dashboard, prefetch, create, activate.
RUN_ACTIONS = frozenset({"run", "benchmark", "install", "detect", "replay", "test"})
#: Request keys that make an otherwise harmless action write outside CKX_HOME: also token-only.
WRITING_KEYS = {
    "save_lock": "writes a lock file where it points",
    "outdirname": "runs the script in (and writes into) that folder",
    "output": "writes a file where it points",
    "to": "writes files into that folder",
    "record_repo": "records into a repo other than local",
    "executor": "runs the sweep's points elsewhere (a Ray cluster)",
    "ray_address": "sends the sweep's points to a Ray cluster",
}
#: The values of those keys that stay inside CKX_HOME.
_HARMLESS = {"record_repo": ("local",), "executor": ("local",)}
#: Request keys that could make a run start a program of the client's choosing (an
#: interpreter in ``env``, a dep's ``env`` in ``adr``): refused whole without a token, as are
#: inputs whose names name executables, interpreters, commands or places
#: (:mod:`ckx.core.execnames`), on their own, in a sweep or as a variation's value.
EXEC_KEYS = {
    "env": "sets the environment of the scripts it runs (it could name any program to run)",
    "adr": "changes the deps' env, tags and versions (it could name any program to run)",
    "add_deps_recursive": "changes the deps' env, tags and versions (as 'adr')",
    "state": "sets the state the scripts read",
    "lock": "pins the plan to a lock file outside CKX_HOME",
    "unparsed": "passes arguments to the program's command line",
}
#: Request keys a client may not send: the server's home is fixed, the answer is always JSON.
REFUSED_KEYS = {
    "home": "the server's CKX_HOME is fixed when it starts",
    "out": "the output mode: the server always answers with the result dict",
}
JSON_TYPE = "application/json"
#: The deepest nesting of a request body (a meta allows 100 too: CKX_META_MAX_DEPTH).
MAX_DEPTH = 64
#: The largest ``?offset=`` of a log (bytes): 2**62, far beyond any log, within a file offset.
MAX_OFFSET = 1 << 62
_TOO_DEEP = object()


def http_status(code: int) -> int:
    """The HTTP status for a result's ``return`` code (500 for codes not in the table)."""
    return STATUS_OF_RETURN.get(code, 500)


class Refused(Exception):
    """A request refused before it reaches ckx: an HTTP status and a CkxError."""

    def __init__(self, status: int, error: CkxError, headers: dict[str, str] | None = None):
        super().__init__(error.message)
        self.status, self.error, self.headers = status, error, headers or {}


def error_response(status: int, error: CkxError, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=status, headers=headers)


def result_response(code: int, body: bytes) -> Response:
    headers = {"Retry-After": "5"} if code == 9 else None
    return Response(body, status_code=http_status(code), media_type=JSON_TYPE, headers=headers)


@dataclass(frozen=True)
class Settings:
    """What one server was started with."""

    home: Path
    token: bytes | None = None
    max_body: int = 1 << 20
    workers: int = 2
    max_jobs: int = 1

    @property
    def dashboard_root(self) -> Path:
        return self.home / "state" / "serve" / "dashboard"


# --- requests ---------------------------------------------------------------------------
def validate(req: Any, *, has_token: bool) -> dict[str, Any]:
    """Check a request dict as it arrives over HTTP; raises Refused (400 or 403)."""
    if not isinstance(req, dict):
        raise Refused(
            400, UsageError("the body must be a JSON object: the request dict of ckx.access")
        )
    action = req.get("action")
    if not isinstance(action, str) or not action:
        raise Refused(
            400,
            UsageError(
                "'action' must be a non-empty string",
                hint='e.g. {"action": "search", "automation": "script", "tags": "get,python3"}',
            ),
        )
    bad = [k for k in req if k in REFUSED_KEYS or k.startswith("_")]
    if bad:
        why = "; ".join(f"'{k}': {REFUSED_KEYS.get(k, 'internal keys start with _')}" for k in bad)
        raise Refused(400, UsageError(f"these keys cannot be sent to the server: {why}"))
    blocking = {"dashboard": "serve", "activate": "shell"}  # action -> the key that blocks
    if action == "serve" or (action in blocking and req.get(blocking[action])):
        raise Refused(
            400,
            UsageError(
                f"'{action}' would block a worker of this server (it serves or opens a shell)",
                hint="the dashboard is served at GET / of this server",
            ),
        )
    if not has_token:
        _check_unprivileged(action, req)
    return req


def open_without_token(action: str) -> bool:
    """May a server without a token run ``action`` (given no key of WRITING_KEYS)?"""
    cmd = command(action)
    return (cmd is not None and cmd.read_only) or action in READ_ACTIONS or action in RUN_ACTIONS


def _check_unprivileged(action: str, req: dict[str, Any]) -> None:
    """What a server without a token refuses (403): deleting, writing outside CKX_HOME."""
    if not open_without_token(action):
        cmd = command(action)
        if cmd is not None and cmd.outside_home:
            what = f"'{action}' deletes, or writes outside CKX_HOME"
        else:
            opened = sorted(READ_ACTIONS | RUN_ACTIONS | {c.name for c in COMMANDS if c.read_only})
            what = (
                f"'{action}' is not one of the actions open without a token (they read, or run "
                f"registered entries inside CKX_HOME){did_you_mean(action, opened)}"
            )
    else:
        keys = [
            k for k in WRITING_KEYS if req.get(k) not in (None, "", False, *_HARMLESS.get(k, ()))
        ]
        if keys:
            what = f"'{keys[0]}' {WRITING_KEYS[keys[0]]} (outside CKX_HOME)"
        else:
            named = _names_a_program(req)
            if named is None:
                return
            what = named
    raise Refused(
        403,
        UsageError(
            f"{what}: this server has no token, so it refuses such requests",
            hint="restart it with --token-file=FILE and send the header Authorization: Bearer TOKEN",
        ),
    )


def _names_a_program(req: dict[str, Any]) -> str | None:
    """Why a request without a token could start a program of the client's choosing: an
    ``env``/``adr``-like key, or an input (on its own, swept, or as a variation's value) whose
    name names an executable, an interpreter, a command or a place; None when it cannot."""
    from ckx.core.execnames import names_executable, names_location

    for k, why in EXEC_KEYS.items():
        if req.get(k) not in (None, "", {}, []):
            return f"'{k}' {why}"
    named = [(k, f"'{k}'") for k in req if isinstance(k, str) and k not in ("cmd_key",)]
    sweep = req.get("sweep")
    if isinstance(sweep, dict):
        named += [(p, f"'sweep.{p}'") for p in _paths(sweep)]
    named += [(v, f"the variation '_{v}.…'") for v in _valued_variations(req)]
    for name, shown in named:
        top = name.split(".", 1)[0]
        if top in EXEC_KEYS and shown.startswith("'sweep."):
            return f"{shown} {EXEC_KEYS[top]}"
        if any(names_executable(w) or names_location(w) for w in name.split(".")):
            return (
                f"{shown} names a program, an interpreter, a command or a file/folder "
                "(such inputs could make a run start a program of the client's choosing)"
            )
    return None


def _paths(d: dict[str, Any], depth: int = 0) -> list[str]:
    """The dotted key paths of a nested dict (``{"env": {"X": 1}}`` -> ``["env.X"]``)."""
    out = []
    for k, v in d.items():
        if isinstance(v, dict) and v and depth < 8:
            out += [f"{k}.{p}" for p in _paths(v, depth + 1)]
        else:
            out.append(str(k))
    return out


def _valued_variations(req: dict[str, Any]) -> list[str]:
    """The names of the variations with a value (``_custom-path./x``) in the request's query."""
    from ckx.core.errors import QueryError
    from ckx.core.query import parse

    out = []
    for key in ("tags", "query"):
        text = req.get(key)
        if isinstance(text, list):  # tags may come as a list of texts
            text = ",".join(str(t) for t in text)
        if isinstance(text, str):
            try:
                out += [v.name for v in parse(text).variations if v.value is not None]
            except QueryError:
                pass  # the action itself answers with the located error
    return out


async def read_request(request: Request, settings: Settings) -> dict[str, Any]:
    """The JSON body of a POST, size-limited (413) and validated (400/403/415)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != JSON_TYPE:
        raise Refused(
            415,
            UsageError(
                f"the body must be sent as {JSON_TYPE}, not '{ctype or 'none'}'",
                hint="curl: --json '{...}' or -H 'Content-Type: application/json'",
            ),
        )
    limit = settings.max_body
    too_big = Refused(
        413,
        UsageError(
            f"the request body is larger than {limit} bytes",
            hint="start the server with a larger --max-body, or send a smaller request",
        ),
    )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    try:
        req = json.loads(body)
    except ValueError as e:
        raise Refused(400, UsageError(f"the body is not valid JSON: {e}")) from None
    except RecursionError:
        req = _TOO_DEEP  # nested deeper than the parser goes: refused just below
    if req is _TOO_DEEP or _deeper_than(req, MAX_DEPTH):
        raise Refused(
            400,
            UsageError(
                f"the body is nested deeper than {MAX_DEPTH} levels; no request of ckx needs that",
                hint="send the request dict of ckx.access (docs/service.md)",
            ),
        )
    return validate(req, has_token=settings.token is not None)


def _deeper_than(value: Any, limit: int) -> bool:
    """Is ``value`` nested deeper than ``limit`` (lists and objects)? Iterative: a hostile
    body cannot make the check itself recurse."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > limit:
                return True
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


# --- authentication, origin checks ---------------------------------------------------------
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


_COOKIE = "ckx_dashboard"


def _is_browsing(scope) -> bool:
    """A read of the dashboard (the only thing the cookie is good for)."""
    path = scope["path"]
    return scope["method"] in ("GET", "HEAD") and (
        path in ("/", "/favicon.ico") or path.startswith("/dashboard/")
    )


def _cookie_of(headers: dict[bytes, bytes]) -> bytes:
    from http.cookies import CookieError, SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get(b"cookie", b"").decode("latin-1"))
    except CookieError:
        return b""
    morsel = jar.get(_COOKIE)
    return morsel.value.encode() if morsel is not None else b""


class Guard:
    """ASGI middleware: the bearer token (constant-time compare) when one is set; without a
    token, the Host must be a loopback name (a web page cannot reach the server through DNS
    rebinding); a cross-site ``Origin`` is always refused (no cross-site requests at all)."""

    def __init__(self, app, token: bytes | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            login = self.login(scope, headers)
            if login is not None:
                await login(scope, receive, send)
                return
            refused = self.check(headers, browsing=_is_browsing(scope))
            if refused is not None:
                await error_response(refused.status, refused.error, refused.headers)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)

    def cookie(self) -> bytes:
        """The dashboard cookie's value: derived from the token (the token itself is never
        sent back), good only for reading the dashboard."""
        assert self.token is not None
        return hmac.new(self.token, b"ckx dashboard", "sha256").hexdigest().encode()

    def login(self, scope, headers: dict[bytes, bytes]) -> Response | None:
        """``GET /?token=TOKEN`` (what a browser can do): the right token sets the dashboard
        cookie and redirects to ``/`` (the token leaves the address bar); a wrong one is 401."""
        if self.token is None or scope["method"] != "GET" or scope["path"] != "/":
            return None
        from urllib.parse import parse_qs

        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if not given:
            return None
        if not hmac.compare_digest(given[0].encode("latin-1", "replace"), self.token):
            return error_response(
                401,
                UsageError(
                    "wrong token in ?token=",
                    hint="open /?token=TOKEN with the token given to ckx serve",
                ),
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            _COOKIE, self.cookie().decode(), httponly=True, samesite="strict", path="/"
        )
        return response

    def check(self, headers: dict[bytes, bytes], *, browsing: bool = False) -> Refused | None:
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1").split("://", 1)[-1] != host:
            return Refused(
                403, UsageError(f"cross-site request from {origin.decode('latin-1')} refused")
            )
        if self.token is None:
            if host.rsplit(":", 1)[0] not in _LOOPBACK_HOSTS:
                return Refused(
                    403,
                    UsageError(
                        f"Host '{host}' is not a loopback name; this server has no token and answers only 127.0.0.1, localhost or [::1]"
                    ),
                )
            return None
        if browsing and hmac.compare_digest(_cookie_of(headers), self.cookie()):
            return None  # the dashboard, read with the cookie that /?token= set
        scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() != b"bearer" or not given:
            why = "missing token"
        elif not hmac.compare_digest(given.strip(), self.token):
            why = "wrong token"
        else:
            return None
        return Refused(
            401,
            UsageError(
                f"{why}: this server needs the header Authorization: Bearer TOKEN",
                hint="the token is the one given to ckx serve (--token or --token-file); "
                "in a browser, open /?token=TOKEN once for the dashboard",
            ),
            {"WWW-Authenticate": 'Bearer realm="ckx"'},
        )


# --- the worker processes --------------------------------------------------------------------
class _Worker:
    """One worker process and the server's end of its pipe."""

    def __init__(self, home: str) -> None:
        import multiprocessing

        mp = multiprocessing.get_context("spawn")  # nothing of the server's threads is inherited
        self.conn, child = mp.Pipe()
        self.proc = mp.Process(
            target=workers.serve_forever, args=(child, home), name="ckx-serve-worker", daemon=True
        )
        self.proc.start()
        child.close()
        if not self.conn.poll(120) or self.conn.recv() != "ready":
            self.stop()
            raise CkxError("a worker process of ckx serve did not start (see stderr)")

    def stop(self) -> None:
        import signal

        if self.proc.is_alive() and self.proc.pid:
            os.kill(self.proc.pid, signal.SIGTERM)  # a running action unwinds, as on Ctrl-C
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


class WorkerPool:
    """N worker processes that run requests one at a time each; the event loop talks to
    them over pipes (no threads in between). A worker that dies (a crash in native code)
    fails only its own request and is replaced."""

    def __init__(self, home: Path, n: int) -> None:
        if n < 1:
            raise UsageError(f"--workers must be at least 1, got {n}")
        self.home, self.n = str(home), n
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: list[_Worker] = []

    async def start(self) -> None:
        """Start every worker now (each warms its imports and the index), in parallel."""
        self._idle = asyncio.Queue()
        started = await asyncio.gather(
            *(run_in_threadpool(_Worker, self.home) for _ in range(self.n))
        )
        for w in started:
            self._all.append(w)
            self._idle.put_nowait(w)

    async def call(self, fn, *args):
        """``fn(*args)`` in an idle worker (waiting for one if all are busy)."""
        assert self._idle is not None, "WorkerPool.start() first"
        w = await self._idle.get()
        try:
            w.conn.send((fn, args))
            status, value = await self._reply(w)
        except asyncio.CancelledError:
            asyncio.ensure_future(self._drain(w))  # the worker finishes; then it is idle again
            raise
        except (EOFError, OSError):
            await self._replace(w)
            raise Refused(
                500,
                CkxError(
                    "the worker process running this request died (a crash in native code?); "
                    "nothing it was making was kept",
                    hint="see the server's stderr; run the same request with the CLI to reproduce",
                ),
            ) from None
        self._idle.put_nowait(w)
        if status != "ok":
            raise Refused(
                500,
                CkxError(f"internal error in the worker: {value}", hint="see the server's stderr"),
            )
        return value

    @staticmethod
    async def _reply(w: _Worker):
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = w.conn.fileno()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return w.conn.recv()

    async def _drain(self, w: _Worker) -> None:
        try:
            await self._reply(w)
        except (EOFError, OSError):
            await self._replace(w)
            return
        assert self._idle is not None
        self._idle.put_nowait(w)

    async def _replace(self, w: _Worker) -> None:
        await run_in_threadpool(w.stop)
        self._all.remove(w)
        fresh = await run_in_threadpool(_Worker, self.home)
        self._all.append(fresh)
        assert self._idle is not None
        self._idle.put_nowait(fresh)

    def close(self) -> None:
        """Stop the workers; a request still running is interrupted (its clean-up runs)."""
        for w in self._all:
            w.stop()
        self._all.clear()


# --- handlers ----------------------------------------------------------------------------------
def _state(request: Request):
    return request.app.state


def _dict_response(out: dict[str, Any], status: int | None = None) -> JSONResponse:
    code = int(out.get("return", 0) or 0)
    return JSONResponse(out, status_code=status or http_status(code))


async def _jobs_call(fn, *args):
    """Run a JobManager method in a thread; its CkxError becomes the mapped HTTP error."""
    try:
        return await run_in_threadpool(fn, *args)
    except CkxError as e:
        raise Refused(http_status(e.exit_code), e) from None


async def access_endpoint(request: Request) -> Response:
    st = _state(request)
    req = await read_request(request, st.settings)
    code, body = await st.pool.call(workers.access_json, req)
    return result_response(code, body)


async def submit_job(request: Request) -> Response:
    st = _state(request)
    req = await read_request(request, st.settings)
    rec = await _jobs_call(st.jobs.submit, req)
    url = f"/jobs/{rec['job']}"
    body = {"return": 0, "job": rec["job"], "status": rec["status"], "url": url}
    return JSONResponse(body, status_code=202, headers={"Location": url})


async def list_jobs(request: Request) -> Response:
    return JSONResponse({"return": 0, "list": await _jobs_call(_state(request).jobs.records)})


async def get_job(request: Request) -> Response:
    job_id = request.path_params["job"]
    return JSONResponse(await _jobs_call(_state(request).jobs.describe, job_id))


async def cancel_job(request: Request) -> Response:
    rec = await _jobs_call(_state(request).jobs.cancel, request.path_params["job"])
    return JSONResponse({"return": 0, **rec})


async def _tail(path: Path, finished, offset: int, follow: bool):
    """The bytes of ``path`` from ``offset``, and while ``follow`` and not ``finished()``,
    whatever is appended later (polled every 0.1 s)."""
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            done = not follow or await run_in_threadpool(finished)  # checked before reading:
            chunk = f.read(1 << 16)  # the last bytes written before the end are still read
            if chunk:
                yield chunk
            elif done:
                return
            else:
                await asyncio.sleep(0.1)


async def _sse(chunks, end):
    """The log as server-sent events: one ``data:`` line per log line, then ``event: end``."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending = ""
    async for chunk in chunks:
        pending += decoder.decode(chunk)
        lines = pending.split("\n")
        pending = lines.pop()
        if lines:
            yield "".join(f"data: {line}\n" for line in lines) + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield f"data: {pending}\n\n"
    yield f"event: end\ndata: {json.dumps(await run_in_threadpool(end))}\n\n"


async def job_log(request: Request) -> Response:
    jobs: JobManager = _state(request).jobs
    job_id = request.path_params["job"]
    path = await _jobs_call(jobs.log_path, job_id)
    q = request.query_params
    offset = q.get("offset", "0")
    if not re.fullmatch(r"[0-9]{1,19}", offset) or int(offset) > MAX_OFFSET:
        raise Refused(
            400,
            UsageError(
                f"offset must be a byte count from 0 to {MAX_OFFSET}, got '{offset[:40]}'",
                hint="?offset=N resumes the log after N bytes (log_bytes of GET /jobs/ID)",
            ),
        )
    follow = q.get("follow", "1").lower() not in ("0", "false", "no")
    chunks = _tail(path, lambda: jobs.is_final(job_id), int(offset), follow)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if "text/event-stream" in request.headers.get("accept", ""):

        def end() -> dict[str, Any]:
            rec = jobs.record(job_id)
            return {k: rec.get(k) for k in ("job", "status", "exit_code", "reason")}

        return StreamingResponse(_sse(chunks, end), media_type="text/event-stream", headers=headers)
    return StreamingResponse(chunks, media_type="text/plain; charset=utf-8", headers=headers)


_SIGNATURE = re.compile(r"^[0-9a-f]{16}$")


async def dashboard_home(request: Request) -> Response:
    """The current dashboard: rebuilt (in a worker) when the experiments changed, then a
    redirect to its folder, whose relative links (plots/, files/) resolve inside it."""
    st = _state(request)
    out = await st.pool.call(workers.dashboard, str(st.settings.dashboard_root))
    if out.get("return"):
        return _dict_response(out)
    return RedirectResponse(f"/dashboard/{out['signature']}/", status_code=307)


def _inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it is a file reached without '..' and without any link, else None."""
    if any(part in (".", "..") for part in rel.split("/")):
        return None
    target = os.path.normpath(os.path.join(root, rel))
    if not target.startswith(str(root) + os.sep) or os.path.realpath(target) != target:
        return None
    return Path(target) if os.path.isfile(target) else None


async def dashboard_file(request: Request) -> Response:
    sig, rel = request.path_params["sig"], request.path_params["path"] or "index.html"
    root = Path(os.path.realpath(_state(request).settings.dashboard_root / sig))
    target = _inside(root, rel) if _SIGNATURE.match(sig) else None
    if target is None:
        if rel == "index.html":  # an old dashboard, pruned since: the current one
            return RedirectResponse("/", status_code=307)
        raise HTTPException(404)
    return FileResponse(target)


async def experiments_list(request: Request) -> Response:
    return _dict_response(await _state(request).pool.call(workers.experiments))


async def experiment_path(request: Request) -> Response:
    name, rel = request.path_params["name"], request.path_params.get("path", "")
    out = await _state(request).pool.call(workers.experiment_file, name, rel)
    if out.get("return") or "file" not in out:
        return _dict_response(out)
    # recorded files are data: never run as a page of this origin
    headers = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
    return FileResponse(out["file"], headers=headers)


async def health(request: Request) -> Response:
    from ckx.core.version import __version__

    st = _state(request)
    return JSONResponse(
        {
            "return": 0,
            "version": __version__,
            "home": str(st.settings.home),
            "workers": st.settings.workers,
            "max_jobs": st.settings.max_jobs,
            "jobs_running": st.jobs.running(),
            "token": st.settings.token is not None,
        }
    )


async def openapi_endpoint(request: Request) -> Response:
    from ckx.app.openapi import spec

    return JSONResponse(spec())


async def no_favicon(request: Request) -> Response:
    return Response(status_code=204)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return error_response(exc.status, exc.error, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    what = f"{request.method} {request.url.path}"
    code = 3 if exc.status_code == 404 else 2
    text = "no such endpoint or file" if exc.status_code == 404 else exc.detail
    err = CkxError(f"{what}: {text}", hint="the endpoints are listed at GET /openapi.json")
    return JSONResponse(
        {**err.to_dict(), "return": code}, status_code=exc.status_code, headers=exc.headers
    )


async def _internal(request: Request, exc: Exception) -> Response:
    """A bug in the server: still an answer in ckx's shape (the traceback goes to stderr)."""
    err = CkxError(
        f"internal error of ckx serve: {type(exc).__name__}: {exc}", hint="see the server's stderr"
    )
    return error_response(500, err)


ROUTES = [
    Route("/access", access_endpoint, methods=["POST"]),
    Route("/jobs", submit_job, methods=["POST"]),
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{job}", get_job, methods=["GET"]),
    Route("/jobs/{job}", cancel_job, methods=["DELETE"]),
    Route("/jobs/{job}/log", job_log, methods=["GET"]),
    Route("/", dashboard_home, methods=["GET"]),
    Route("/dashboard/{sig}/{path:path}", dashboard_file, methods=["GET"]),
    Route("/experiments", experiments_list, methods=["GET"]),
    Route("/experiments/{name}", experiment_path, methods=["GET"]),
    Route("/experiments/{name}/{path:path}", experiment_path, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/openapi.json", openapi_endpoint, methods=["GET"]),
    Route("/favicon.ico", no_favicon, methods=["GET"]),
]


def make_app(settings: Settings, pool: WorkerPool, jobs: JobManager, on_ready=None):
    """The ASGI application: routes behind the token/origin guard. ``on_ready(recovered)``
    is called once the workers are up and stale jobs are marked (``recovered``: their ids)."""

    @asynccontextmanager
    async def lifespan(app):
        await pool.start()
        recovered = jobs.recover()
        if on_ready is not None:
            on_ready(recovered)
        try:
            yield
        finally:
            await run_in_threadpool(jobs.shutdown)
            await run_in_threadpool(pool.close)

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={Refused: _refused, HTTPException: _http_error, Exception: _internal},
    )
    app.state.settings, app.state.pool, app.state.jobs = settings, pool, jobs
    return Guard(app, settings.token)
