"""``ckx serve``: every ckx action over HTTP (docs/service.md).

    ckx serve [--host=127.0.0.1] [--port=8000] [--token=T | --token-file=F]
              [--workers=N] [--max_jobs=N] [--max_body=BYTES]

Safe by default: it listens on 127.0.0.1 only, refuses any other address unless a token is
set, and refuses actions that delete or write outside CKX_HOME when it has no token. The
token also comes from ``CKX_SERVE_TOKEN``. Starlette and uvicorn (the ``serve``
extra) are imported here only, when the server starts.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Any

from ckx.core.context import Context
from ckx.core.errors import UsageError, missing_extra

OPTIONS = {
    "host": "address to listen on (default 127.0.0.1; others need a token)",
    "port": "TCP port (default 8000; 0 picks a free one, printed at start)",
    "token": "the bearer token every request must send (prefer --token-file)",
    "token_file": "a file holding the token (first line)",
    "workers": "worker processes for /access (default: the number of CPUs, 2 to 8)",
    "max_jobs": "jobs that run at once; the others wait as queued (default 1)",
    "max_body": "largest request body in bytes (default 1048576)",
}
#: Keys every request carries besides the options (filled by the CLI and api.normalize).
_BASE_KEYS = {"action", "automation", "entry", "repo", "query", "quiet"}
MIN_TOKEN_LEN = 16


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _int(i: dict[str, Any], key: str, default: int, lo: int) -> int:
    value = i.get(key)
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{key} must be a whole number, got '{value}'") from None
    if n < lo:
        raise UsageError(f"--{key} must be at least {lo}, got {n}")
    return n


def read_token(i: dict[str, Any], environ: dict[str, str]) -> bytes | None:
    """The token from --token, --token-file or CKX_SERVE_TOKEN (at most one of the options)."""
    if i.get("token") not in (None, "") and i.get("token_file") not in (None, ""):
        raise UsageError("give --token or --token-file, not both")
    if i.get("token_file") not in (None, ""):
        path = Path(str(i["token_file"])).expanduser()
        try:
            token = (
                path.read_text(encoding="utf-8").splitlines()[0].strip()
                if path.stat().st_size
                else ""
            )
        except OSError as e:
            raise UsageError(f"cannot read --token-file {path}: {e.strerror}") from None
        where = f"--token-file {path}"
    elif i.get("token") not in (None, ""):
        token, where = str(i["token"]), "--token"
    elif environ.get("CKX_SERVE_TOKEN"):
        token, where = environ["CKX_SERVE_TOKEN"].strip(), "CKX_SERVE_TOKEN"
    else:
        return None
    if i.get("token") is True or len(token) < MIN_TOKEN_LEN or any(c.isspace() for c in token):
        raise UsageError(
            f"the token from {where} must be at least {MIN_TOKEN_LEN} characters without spaces",
            hint='make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"',
        )
    return token.encode("utf-8")


def _check_options(i: dict[str, Any]) -> None:
    unknown = sorted(k for k in i if k not in OPTIONS and k not in _BASE_KEYS and i[k] is not None)
    if unknown:
        from ckx.core.suggest import did_you_mean

        raise UsageError(
            f"ckx serve has no option --{unknown[0]}" + did_you_mean(unknown[0], list(OPTIONS)),
            hint="options: " + ", ".join(f"--{k}" for k in OPTIONS),
        )


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), IPv4 or IPv6."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise UsageError(f"cannot resolve --host={host}: {e}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)  # connections wait in the backlog until the workers are up
    except OSError as e:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {e.strerror}",
            hint="pick another --port (0 takes any free one)",
        ) from None
    sock.set_inheritable(False)
    return sock


def _imports():
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise missing_extra(e.name or "uvicorn", "serve", "ckx serve") from None
    return uvicorn


def serve_action(ctx: Context, i: dict[str, Any]) -> dict[str, Any]:
    """Serve every ckx action over HTTP until Ctrl-C or SIGTERM (docs/service.md).

    --host=127.0.0.1   address to listen on (any other needs a token)
    --port=8000        TCP port (0: a free one, printed at start)
    --token-file=F     the bearer token every request must send, from a file
    --token=T          the token itself (visible in ps; CKX_SERVE_TOKEN works too)
    --workers=N        worker processes for /access (default: the CPUs, 2 to 8)
    --max-jobs=N       jobs that run at once; later ones wait as queued (default 1)
    --max-body=BYTES   largest request body (default 1048576)
    Without a token: 127.0.0.1 only, and no action that deletes or writes outside CKX_HOME.
    """
    _check_options(i)
    host = str(i.get("host") or "127.0.0.1")
    port = _int(i, "port", 8000, 0)
    token = read_token(i, ctx.environ)
    if token is None and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without a token: anyone who reaches it could run ckx",
            hint="pass --token-file=FILE (or set CKX_SERVE_TOKEN), or keep --host=127.0.0.1",
        )
    uvicorn = _imports()
    from ckx.app.service import Settings

    settings = Settings(
        home=ctx.home,
        token=token,
        max_body=_int(i, "max_body", 1 << 20, 1),
        workers=_int(i, "workers", min(8, max(2, os.cpu_count() or 2)), 1),
        max_jobs=_int(i, "max_jobs", 1, 1),
    )
    sock = _bind(host, port)
    url = f"http://{f'[{host}]' if ':' in host else host}:{sock.getsockname()[1]}"
    try:
        _run(uvicorn, ctx, settings, sock, url)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: the normal way to stop
        pass
    finally:
        sock.close()
    print("ckx serve: stopped", file=sys.stderr, flush=True)
    return {"url": url}


def _run(uvicorn, ctx: Context, settings, sock: socket.socket, url: str) -> None:
    """The workers, the jobs and the app on ``sock``, until uvicorn stops."""
    from ckx.app.jobs import JobManager
    from ckx.app.service import WorkerPool, make_app

    def ready(recovered: list[str]) -> None:
        for job_id in recovered:
            ctx.ui.warn(f"job {job_id} was left unfinished by a previous server: marked failed")
        print(
            f"ckx serve: listening on {url} (CKX_HOME={settings.home}, {settings.workers} "
            f"workers, token: {'yes' if settings.token else 'no'}); Ctrl-C stops\n"
            f"  dashboard: {url}/"
            + ("?token=TOKEN (once, in a browser)" if settings.token else ""),
            file=sys.stderr,
            flush=True,
        )

    pool = WorkerPool(settings.home, settings.workers)
    jobs = JobManager(settings.home, max_running=settings.max_jobs)
    config = uvicorn.Config(
        make_app(settings, pool, jobs, on_ready=ready),
        log_level="warning",
        access_log=False,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=3,
    )
    uvicorn.Server(config).run(sockets=[sock])
