"""The one entry point: ``access(request: dict) -> dict``, the same for the CLI and Python.

A request names an ``action`` and usually an ``automation`` (and ``entry``/``repo`` or a
``cid`` such as ``local:experiment:ssd-*``), plus any inputs. CK's names are accepted too
(``module_uoa``, ``data_uoa``, ``repo_uoa``). The answer is ``{"return": 0, ...}`` or, on
failure, ``{"return": <exit code>, "error": <message>, "hint": <what to do>}``.
"""

from __future__ import annotations

from typing import Any

from ckx.core.errors import CkxError, NotFoundError, UsageError

#: Actions that need no automation, and the kernel function that implements them.
KERNEL_ACTIONS = {
    "help": "ckx.app.help:help_action",
    "version": "ckx.app.help:version_action",
    "lint": "ckx.app.generic:lint",
    "serve": "ckx.app.serve:serve_action",
}
#: The automation an action applies to when none is named (MLCFlow's `mlc run get,python3`).
DEFAULT_AUTOMATION = {
    "run": "script",
    "detect": "soft",
    "install": "package",
    "benchmark": "program",
    "prefetch": "package",
    "dashboard": "experiment",
    "replay": "experiment",
    "compare": "experiment",
}


def access(request: dict) -> dict:
    """Run ``request``; never raises a CkxError (it becomes an error dict)."""
    from ckx.core.context import Context
    from ckx.core.ui import UI

    req = dict(request)
    ui = UI(mode=str(req.pop("out", "none") or "none"), quiet=bool(req.get("quiet")))
    try:
        ctx = Context(req.pop("home", None), ui=ui)
        return run(ctx, req)
    except CkxError as e:
        return e.to_dict()


def normalize(ctx, req: dict) -> dict:
    """Fill ``automation``, ``entry``, ``repo`` and ``query`` from CID/tags/CK-style keys."""
    from ckx.core.cid import parse_cid
    from ckx.core.query import parse

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
        if ":" not in str(cid) and i.get("action") in DEFAULT_AUTOMATION:
            i["_bare_word"] = str(cid)  # `ckx run app`: an automation, or else a tag (MLCFlow)
        i["automation"] = c.automation
        if c.entry is not None:
            i["entry"] = c.entry
        if c.repo is not None:
            i["repo"] = c.repo
    tags = i.get("tags")
    if isinstance(i.get("query"), str) or i.get("query") is None:
        terms = []
        if tags not in (None, True, ""):
            terms.append(tags if isinstance(tags, str) else ",".join(map(str, tags)))
        if isinstance(i.get("query"), str):
            terms.append(i["query"])
        i["query"] = parse(",".join(terms)) if terms else None
    return i


def run(ctx, req: dict) -> dict:
    """Dispatch a request on an existing context; raises CkxError."""
    action = req.get("action")
    if not action or not isinstance(action, str):
        raise UsageError("no action given", hint="try: ckx help")
    i = normalize(ctx, req)
    automation = i.get("automation")
    if not automation and action in KERNEL_ACTIONS:
        fn = _kernel_function(action)
    else:
        if not automation:
            automation = DEFAULT_AUTOMATION.get(action)
            if not automation:
                from ckx.app.help import known_actions

                acts = known_actions(ctx)
                if action not in acts:
                    from ckx.core.suggest import did_you_mean

                    raise NotFoundError(
                        f"unknown action '{action}'" + did_you_mean(action, acts),
                        hint="list actions with: ckx help",
                    )
                raise UsageError(
                    f"'{action}' needs an automation, e.g. ckx {action} script:NAME",
                    hint=f"see: ckx {action} --help",
                )
            i["automation"] = automation
        bare = i.pop("_bare_word", None)
        if bare and bare not in ctx.index.automations() and action in DEFAULT_AUTOMATION:
            from ckx.core.query import parse

            extra = parse(bare)
            i["query"] = extra if i.get("query") is None else i["query"].merged(extra)
            automation = i["automation"] = DEFAULT_AUTOMATION[action]
        auto = ctx.automation(automation)
        fn = auto.function(action)
        if fn is None:
            if action in KERNEL_ACTIONS:
                fn = _kernel_function(action)
            else:
                from ckx.core.suggest import did_you_mean

                raise NotFoundError(
                    f"automation '{automation}' has no action '{action}'"
                    + did_you_mean(action, auto.all_actions()),
                    hint=f"list its actions with: ckx help {automation}",
                )
    out: Any = fn(ctx, i)
    if out is None:
        out = {}
    if not isinstance(out, dict):
        out = {"result": out}
    out.setdefault("return", 0)
    if ctx.ui.warnings:
        out.setdefault("warnings", list(ctx.ui.warnings))
    return out


def _kernel_function(action: str):
    import importlib

    mod, _, name = KERNEL_ACTIONS[action].partition(":")
    return getattr(importlib.import_module(mod), name)
