"""The OpenAPI 3.1 description of ``ckx serve`` (``GET /openapi.json``), kept as data."""

from __future__ import annotations

from typing import Any

_RESULT = {
    "type": "object",
    "description": "The dict of ckx.access: return 0 plus the action's keys, or an error",
    "properties": {
        "return": {"type": "integer", "description": "0, or the CLI's exit code"},
        "error": {"type": "string"},
        "hint": {"type": "string"},
    },
    "required": ["return"],
    "additionalProperties": True,
}
_REQUEST = {
    "type": "object",
    "description": "The request dict of ckx.access (docs/cli.md); 'home', 'out' and keys "
    "starting with '_' are refused",
    "properties": {
        "action": {"type": "string"},
        "automation": {"type": "string"},
        "entry": {"type": "string"},
        "repo": {"type": "string"},
        "cid": {"type": "string"},
        "tags": {"type": "string"},
        "quiet": {"type": "boolean"},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["action"],
    "additionalProperties": True,
}
_JOB = {
    "type": "object",
    "properties": {
        "job": {"type": "string"},
        "status": {"enum": ["queued", "running", "done", "failed", "cancelled"]},
        "request": _REQUEST,
        "created": {"type": "string"},
        "started": {"type": ["string", "null"]},
        "finished": {"type": ["string", "null"]},
        "run_s": {"type": "number"},
        "return": {"type": "integer"},
        "error": {"type": "string"},
        "result": _RESULT,
        "log": {"type": "string", "description": "the last 64 KiB of the log"},
        "log_bytes": {"type": "integer"},
    },
}
_ERRORS = {
    "400": "bad request (not JSON, no action, refused key) or a ckx UsageError",
    "401": "missing or wrong token",
    "403": "an action that needs the token on a server without one; a cross-site request",
    "404": "unknown entry, automation, action, job or file (ckx NotFoundError)",
    "409": "ckx ConflictError; a job that is not running cannot be cancelled",
    "413": "request body over the limit (--max_body)",
    "415": "POST body not sent as application/json",
    "422": "meta, resolution, run or archive error (codes 4, 5, 6, 10)",
    "500": "generic error (code 1), a missing extra on the server (11), a worker crash",
    "502": "a download failed or its checksum is wrong (codes 7, 8)",
    "503": "a lock was busy (code 9, Retry-After set); interrupted",
}


def _json(schema: dict[str, Any], desc: str) -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: dict[str, Any], *, body: bool = False, params=()) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**ok}}
    for code, desc in _ERRORS.items():
        op["responses"].setdefault(code, _json(_RESULT, desc))
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _REQUEST}},
        }
    if params:
        op["parameters"] = [
            {"name": n, "in": where, "required": where == "path", "schema": {"type": "string"}}
            for n, where in params
        ]
    return op


_FILE = {"200": {"description": "the file, or a JSON listing of a folder"}}
_NEW_JOB = {
    "type": "object",
    "properties": {
        "job": {"type": "string"},
        "status": {"type": "string"},
        "url": {"type": "string"},
    },
}
_LOG = {"200": {"description": "the log", "content": {"text/plain": {}, "text/event-stream": {}}}}


def _job_paths() -> dict[str, Any]:
    job = [("job", "path")]
    jobs_list = {"type": "object", "properties": {"list": {"type": "array", "items": _JOB}}}
    return {
        "/jobs": {
            "post": _op(
                "Run an action in the background, in its own process",
                {"202": _json(_NEW_JOB, "the new job")},
                body=True,
            ),
            "get": _op("Every job's record, newest first", {"200": _json(jobs_list, "the jobs")}),
        },
        "/jobs/{job}": {
            "get": _op(
                "A job's status, timings, result and log so far",
                {"200": _json(_JOB, "the job")},
                params=job,
            ),
            "delete": _op(
                "Cancel a queued or running job (its process group is killed)",
                {"200": _json(_JOB, "the cancelled job")},
                params=job,
            ),
        },
        "/jobs/{job}/log": {
            "get": _op(
                "The job's log, streamed until it ends (text/plain, or server-sent events "
                "with Accept: text/event-stream)",
                _LOG,
                params=[*job, ("offset", "query"), ("follow", "query")],
            ),
        },
    }


def _other_paths() -> dict[str, Any]:
    return {
        "/access": {
            "post": _op(
                "Run one action (ckx.access) and return its dict",
                {"200": _json(_RESULT, "the result")},
                body=True,
            )
        },
        "/": {
            "get": _op(
                "The experiments dashboard (redirects to /dashboard/SIGNATURE/)",
                {"307": {"description": "to the current dashboard"}},
            )
        },
        "/dashboard/{sig}/{path}": {
            "get": _op("A file of the dashboard", _FILE, params=[("sig", "path"), ("path", "path")])
        },
        "/experiments": {
            "get": _op("The recorded experiments", {"200": _json(_RESULT, "the experiments")})
        },
        "/experiments/{name}/{path}": {
            "get": _op(
                "A recorded file, or a folder listing, of experiment [REPO:]NAME",
                _FILE,
                params=[("name", "path"), ("path", "path")],
            )
        },
        "/health": {
            "get": _op(
                "Version, home, workers, running jobs", {"200": _json(_RESULT, "the server")}
            )
        },
        "/openapi.json": {"get": _op("This document", {"200": {"description": "OpenAPI 3.1"}})},
    }


def spec() -> dict[str, Any]:
    """The whole document."""
    from ckx.core.version import __version__

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ckx serve",
            "version": __version__,
            "description": "Every ckx action over HTTP (docs/service.md). With a token, every "
            "request needs the header Authorization: Bearer TOKEN.",
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}, {}],
        "paths": {**_other_paths(), **_job_paths()},
    }
