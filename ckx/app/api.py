"""The one entry point: ``access(request: dict) -> dict``, the same for the CLI and Python.

A request names an ``action`` and usually an ``automation`` (and ``entry``/``repo`` or a
``cid`` such as ``local:experiment:ssd-*``), plus any inputs. CK's names are accepted too
(``module_uoa``, ``data_uoa``, ``repo_uoa``). The answer is ``{"return": 0, ...}`` or, on
failure, ``{"return": <exit code>, "error": <message>, "hint": ...}``.

Actions are dispatched from the one command table, ``ckx.core.commands``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ckx.core.automations import Automation, known_actions, load_automation
from ckx.core.cid import parse_cid
from ckx.core.commands import Command, command, default_automation
from ckx.core.context import Context
from ckx.core.errors import CkxError, NotFoundError, UsageError
from ckx.core.query import parse
from ckx.core.ui import UI
from ckx.core.vocabulary import check_repo_name, check_request


def open_context(
    home: Any = None, *, ui: UI | None = None, debug: bool = False, **kwargs: Any
) -> Context:
    """The Context of one call from outside (the CLI, ``ckx.access``, a ``ckx serve`` job or
    worker): the one place where the content dialects are activated, so every kind of run
    (script, program, package, benchmark, service job) serves MLCFlow content alike, and each
    Context has its own (a long-lived worker never carries one home's into another)."""
    return Context(home, ui=ui, debug=debug, dialects=_served, **kwargs)


def _served(ctx: Context) -> Any:
    if not any(r.kind == "user" for r in ctx.registry.repos):
        return ()  # foreign content comes from a registered repo: compat is not even imported
    from ckx.compat import served  # only when a command asks for the dialects

    return served(ctx)


def access(request: dict) -> dict:
    """Run ``request``; never raises a CkxError (it becomes an error dict)."""
    if not isinstance(request, dict):
        return UsageError(f"a request is a dict, not {type(request).__name__}").to_dict()
    req = dict(request)
    try:
        check_request(req)
        ui = UI(mode=str(req.pop("out", "none") or "none"), quiet=bool(req.get("quiet")))
        ctx = open_context(req.pop("home", None), ui=ui)
        return dispatch(ctx, req)
    except CkxError as e:
        return e.to_dict()
    except OSError as e:  # read-only or full CKX_HOME, a file where a folder must be ...
        from ckx.core.errors import storage_error

        return storage_error(e).to_dict()
    except Exception as e:  # noqa: BLE001 - the API answers with a dict, even for a bug
        return {
            "return": 1,
            "error": f"internal error: {type(e).__name__}: {str(e)[:300]}",
            "hint": "this is a bug in ckx: please report it with the request "
            "(the CLI with --debug prints the traceback)",
        }


def normalize(ctx: Context, req: dict) -> dict:
    """Fill ``automation``, ``entry``, ``repo`` and ``query`` from CID/tags/CK-style keys."""
    i = dict(req)
    if "module_uoa" in i and "automation" not in i:
        i["automation"] = i.pop("module_uoa")
    if "data_uoa" in i and "entry" not in i:
        i["entry"] = i.pop("data_uoa")
    if "repo_uoa" in i and "repo" not in i:
        i["repo"] = i.pop("repo_uoa")
    cid = i.pop("cid", None) or i.pop("artifact", None)
    if cid:
        c = parse_cid(str(cid))
        if ":" not in str(cid) and default_automation(str(i.get("action"))):
            i["_bare_word"] = str(cid)  # `ckx run app`: an automation, or else a tag (MLCFlow)
        i["automation"] = c.automation
        if c.entry is not None:
            i["entry"] = c.entry
        if c.repo is not None:
            check_repo_name(c.repo, "repo")  # (the request's own repo keys are checked at the door)
            i["repo"] = c.repo
    tags = i.get("tags")
    if isinstance(i.get("query"), str) or i.get("query") is None:
        terms = []
        if tags not in (None, ""):
            terms.append(tags if isinstance(tags, str) else ",".join(map(str, tags)))
        if isinstance(i.get("query"), str):
            terms.append(i["query"])
        i["query"] = parse(",".join(terms)) if terms else None
    return i


def run(ctx: Context, req: dict) -> dict:
    """Check and dispatch a request on an existing context; raises CkxError."""
    check_request(req)
    return dispatch(ctx, req)


def dispatch(ctx: Context, req: dict) -> dict:
    """Dispatch a request that :func:`ckx.core.vocabulary.check_request` has checked."""
    action = req.get("action")
    if not action or not isinstance(action, str):
        raise UsageError("no action given", hint="try: ckx help")
    i = normalize(ctx, req)
    cmd = command(action)
    if not i.get("automation") and cmd and cmd.standalone:
        fn = implementation(action)
    else:
        fn = _automation_function(ctx, action, i, cmd)
    out: Any = fn(ctx, i)
    if out is None:
        out = {}
    if not isinstance(out, dict):
        out = {"result": out}
    out.setdefault("return", 0)
    if ctx.ui.warnings:
        out.setdefault("warnings", list(ctx.ui.warnings))
    return out


def _automation_function(ctx: Context, action: str, i: dict, cmd: Command | None) -> Callable:
    """The function of ``action`` (whose row of the command table is ``cmd``) for the
    request's automation (its default one when none is named); fills ``i["automation"]``."""
    automation = i.get("automation")
    default = cmd.automation if cmd else None
    if not automation:
        if not default:
            from ckx.core.suggest import did_you_mean  # the error path only: not at start-up

            acts = known_actions(ctx)
            if action not in acts:
                raise NotFoundError(
                    f"unknown action '{action}'" + did_you_mean(action, acts),
                    hint="list actions with: ckx help",
                )
            raise UsageError(
                f"'{action}' needs an automation, e.g. ckx {action} script:NAME",
                hint=f"see: ckx {action} --help",
            )
        automation = i["automation"] = default
    bare = i.pop("_bare_word", None)
    # the action's own automation is never a tag, entries or not (`ckx detect soft`: a view)
    if bare and default and bare != default and bare not in ctx.index.automations():
        extra = parse(bare)
        i["query"] = extra if i.get("query") is None else i["query"].merged(extra)
        automation = i["automation"] = default
    auto = load_automation(ctx, automation)
    fn = function_for(auto, action)
    if fn is None and cmd and cmd.standalone:
        fn = implementation(action)
    if fn is None:
        from ckx.core.suggest import did_you_mean  # the error path only: not at start-up

        raise NotFoundError(
            f"automation '{automation}' has no action '{action}'"
            + did_you_mean(action, auto.all_actions()),
            hint=f"list its actions with: ckx help {automation}",
        )
    return fn


def function_for(auto: Automation, action: str) -> Callable | None:
    """What runs ``action`` of ``auto``: the automation module's own function, else the
    kernel's generic one from the command table, else None."""
    fn = auto.function(action)
    if fn is None:
        cmd = command(action)
        if cmd is not None and cmd.name != action:  # an alias (list) names the action (ls)
            fn = auto.function(cmd.name)  # that the automation may implement itself
        if fn is None and cmd is not None and cmd.generic:
            fn = implementation(action)
    return fn


def implementation(action: str) -> Callable:
    """The kernel function of a table action, imported on first use (``"module:function"``)."""
    cmd = command(action)
    if cmd is None or cmd.impl is None:
        raise NotFoundError(f"the kernel has no implementation of action '{action}'")
    mod, _, name = cmd.impl.partition(":")
    return getattr(importlib.import_module(mod), name)
