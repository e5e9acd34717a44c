"""``ckx help``, ``ckx help AUTOMATION`` and ``ckx ACTION --help``."""

from __future__ import annotations

from ckx.core.errors import NotFoundError

USAGE = """usage: ckx ACTION [AUTOMATION[:ENTRY] | TAGS] [--key=value ...] [--env.KEY=VALUE] [@input.yaml]
       ckx help [AUTOMATION]      ckx ACTION --help      ckx --version

common options: --json (machine output)  --quiet (no prompts, take defaults)  --debug (tracebacks)
examples:
  ckx search script --tags=get,python3        ckx run get,python3
  ckx ls repo                                 ckx add repo:mine --path=DIR
  ckx run program:od-bench --cmd_key=accuracy-offline --quiet
"""


def _automations(ctx):
    from ckx.core.automations import all_automations

    return sorted(all_automations(ctx), key=lambda a: a.alias)


def known_actions(ctx) -> dict[str, list[str]]:
    """action -> automations that implement it (generic actions: '*')."""
    from ckx.app.api import KERNEL_ACTIONS
    from ckx.app.generic import GENERIC_DESC

    out: dict[str, list[str]] = {a: ["*"] for a in GENERIC_DESC}
    for a in KERNEL_ACTIONS:
        out.setdefault(a, ["*"])
    for auto in _automations(ctx):
        for act in auto.actions:
            out.setdefault(act, []).append(auto.alias)
    return out


def cli_help(ctx, req: dict) -> int:
    action = req.get("action")
    if req.get("help") and action and action != "help":
        return _action_help(ctx, action, req.get("cid"))
    target = req.get("cid") or (req.get("args") or [None])[0]
    if target:
        return _automation_help(ctx, target.split(":")[0])
    ctx.ui.print(USAGE)
    ctx.ui.print("automations and their own actions (every automation also has the generic ones):")
    for auto in _automations(ctx):
        acts = ", ".join(sorted(auto.actions)) or "(generic actions only)"
        ctx.ui.print(f"  {auto.alias:<12} {auto.desc}")
        ctx.ui.print(f"  {'':<12}   {acts}")
    from ckx.app.generic import GENERIC_DESC

    ctx.ui.print("generic actions: " + ", ".join(sorted(GENERIC_DESC)))
    ctx.ui.print("more: ckx help AUTOMATION, ckx ACTION --help, docs/cli.md")
    return 0


def _automation_help(ctx, name: str) -> int:
    auto = ctx.automation(name)
    ctx.ui.print(f"{auto.alias}: {auto.desc}")
    if auto.entry:
        ctx.ui.print(f"  defined in {auto.entry.path}")
    ctx.ui.print("actions:")
    for act, desc in sorted(auto.all_actions().items()):
        own = "" if act in auto.actions else "  (generic)"
        ctx.ui.print(f"  {act:<12} {desc}{own}")
    return 0


def _action_help(ctx, action: str, cid: str | None) -> int:
    from ckx.app.generic import GENERIC_DESC

    acts = known_actions(ctx)
    if action not in acts:
        from ckx.core.suggest import did_you_mean

        raise NotFoundError(
            f"unknown action '{action}'" + did_you_mean(action, acts),
            hint="list actions with: ckx help",
        )
    if cid:
        auto = ctx.automation(cid.split(":")[-2] if cid.count(":") == 2 else cid.split(":")[0])
        desc = auto.all_actions().get(action)
        ctx.ui.print(f"ckx {action} {auto.alias}: {desc or '(not available)'}")
        doc = getattr(auto.function(action), "__doc__", None)
        if doc:
            ctx.ui.print(doc.strip())
        return 0
    ctx.ui.print(f"ckx {action}:")
    if action in GENERIC_DESC:
        ctx.ui.print(f"  (every automation) {GENERIC_DESC[action]}")
    elif action == "serve":  # a kernel action with options of its own (docs/service.md)
        from ckx.app.serve import help_text

        ctx.ui.print(help_text())
    for auto in _automations(ctx):
        if action in auto.actions:
            ctx.ui.print(f"  {auto.alias:<12} {auto.actions[action]}")
    return 0


def help_action(ctx, i: dict) -> dict:
    """API form of help: the automations and their actions as data."""
    return {a.alias: {"desc": a.desc, "actions": a.all_actions()} for a in _automations(ctx)}


def version_action(ctx, i: dict) -> dict:
    from ckx import __version__

    ctx.ui.print(f"ckx {__version__}")
    return {"version": __version__}
