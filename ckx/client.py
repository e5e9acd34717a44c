"""A small client for ``ckx serve``: the same dicts as ``ckx.access``, over HTTP.

    from ckx.client import Client

    c = Client("http://127.0.0.1:8000", token=None)
    c.access({"action": "search", "automation": "script", "tags": "get,python3"})
    job = c.submit({"action": "run", "automation": "program", "entry": "od-bench",
                    "cmd_key": "accuracy-offline", "quiet": True})
    for text in c.log(job):            # the log, streamed while the job runs
        print(text, end="")
    c.wait(job)["result"]["characteristics"]["mAP"]

Like ``ckx.access``, every answer of the server is returned as its dict (``{"return": 0,
...}`` or ``{"return": code, "error": ..., "hint": ...}``), whatever the HTTP status; the
status of the last call is ``Client.last_status``. Only a server that cannot be reached (or
that answers something other than JSON) raises ``OSError``. Standard library only, imported
when first used: importing this module costs nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

#: Seconds after which a kept-alive connection is not reused (uvicorn closes them after 5).
IDLE_S = 2.0


class Client:
    """One server at ``url``; ``token`` is sent as ``Authorization: Bearer``. One connection
    is kept alive between calls (not thread-safe: use one Client per thread)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 600.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self._parts = parts
        self.token = token
        self.timeout = timeout
        self.last_status: int | None = None
        self._conn: Any = None
        self._last_used = 0.0

    # -- the API ---------------------------------------------------------------------------
    def access(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /access``: run one action, return its dict."""
        return self._json("POST", "/access", request)

    def submit(self, request: dict[str, Any]) -> str:
        """``POST /jobs``: run an action in the background; its job id. Raises ``RuntimeError``
        with the server's error when the job is refused."""
        out = self._json("POST", "/jobs", request)
        if out.get("return") or "job" not in out:
            raise RuntimeError(f"job refused ({self.last_status}): {out.get('error', out)}")
        return str(out["job"])

    def job(self, job_id: str) -> dict[str, Any]:
        """``GET /jobs/ID``: status, timings, result (when finished), log so far."""
        return self._json("GET", f"/jobs/{quote(job_id)}")

    def jobs(self) -> list[dict[str, Any]]:
        """``GET /jobs``: every job's record, newest first."""
        return list(self._json("GET", "/jobs").get("list", []))

    def cancel(self, job_id: str) -> dict[str, Any]:
        """``DELETE /jobs/ID``: cancel a queued or running job; its final record."""
        return self._json("DELETE", f"/jobs/{quote(job_id)}")

    def wait(self, job_id: str, timeout: float = 3600.0, poll: float = 0.2) -> dict[str, Any]:
        """Poll until the job is done, failed or cancelled; its final description."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.job(job_id)
            if out.get("status") in ("done", "failed", "cancelled") or out.get("return"):
                return out
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {out.get('status')} after {timeout:g} s")
            time.sleep(poll)

    def log(self, job_id: str, offset: int = 0, follow: bool = True) -> Iterator[str]:
        """``GET /jobs/ID/log``: the log as text pieces, as they are written, until the job
        ends (``follow=False``: only what is there now)."""
        import codecs

        path = f"/jobs/{quote(job_id)}/log?offset={int(offset)}&follow={int(follow)}"
        conn = self._new_connection()  # a stream of its own: the kept connection stays free
        try:
            conn.request("GET", path, headers=self._headers())
            resp = conn.getresponse()
            self.last_status = resp.status
            if resp.status != 200:
                raise RuntimeError(f"log of job {job_id} ({resp.status}): {resp.read()[:500]!r}")
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            while chunk := resp.read1(1 << 16):
                text = decoder.decode(chunk)
                if text:
                    yield text
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, bytes, str]:
        """Any ``GET``: (status, body, content type); for files of /experiments and the like."""
        status, body, ctype = self._request("GET", path, None)
        return status, body, ctype

    # -- plumbing --------------------------------------------------------------------------
    def _headers(self, body: bool = False) -> dict[str, str]:
        h = {"Accept": "application/json"}
        if body:
            h["Content-Type"] = "application/json"
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def _new_connection(self):
        import http.client

        p = self._parts
        cls = http.client.HTTPSConnection if p.scheme == "https" else http.client.HTTPConnection
        return cls(p.hostname or "", p.port, timeout=self.timeout)  # (checked in __init__)

    def _request(self, method: str, path: str, payload: Any) -> tuple[int, bytes, str]:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        # A request is never sent twice (it may not be idempotent), so an idle kept-alive
        # connection, which the server closes after a few seconds, is replaced beforehand.
        if self._conn is not None and time.monotonic() - self._last_used > IDLE_S:
            self.close()
        if self._conn is None:
            self._conn = self._new_connection()
        try:
            self._conn.request(
                method,
                self._parts.path.rstrip("/") + path,
                body=data,
                headers=self._headers(data is not None),
            )
            resp = self._conn.getresponse()
            body = resp.read()
        except BaseException:
            self.close()
            raise
        self._last_used = time.monotonic()
        self.last_status = resp.status
        return resp.status, body, resp.getheader("Content-Type", "")

    def _json(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        status, body, ctype = self._request(method, path, payload)
        try:
            out = json.loads(body)
        except ValueError:
            raise OSError(f"{method} {path}: HTTP {status}, not JSON: {body[:200]!r}") from None
        if not isinstance(out, dict):
            raise OSError(f"{method} {path}: HTTP {status}, not a JSON object")
        return out

    def close(self) -> None:
        """Close the kept connection (a later call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
