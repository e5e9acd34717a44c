"""``ckx help``, ``ckx help AUTOMATION`` and ``ckx ACTION --help``.

The generic actions and their descriptions come from the command table
(``ckx.core.commands``); an automation's own actions from its meta.
"""

from __future__ import annotations

from ckx.app.api import function_for, implementation
from ckx.core.automations import Automation, all_automations, known_actions, load_automation
from ckx.core.commands import COMMANDS, OPTIONS, command, generic_descriptions
from ckx.core.context import Context
from ckx.core.errors import NotFoundError
from ckx.core.suggest import did_you_mean
from ckx.core.version import __version__

USAGE = """usage: ckx ACTION [AUTOMATION[:ENTRY] | TAGS] [--key=value ...] [--env.KEY=VALUE] [@input.yaml]
       ckx help [AUTOMATION]      ckx ACTION --help      ckx --version

common options: {options}
examples:
  ckx search script --tags=get,python3        ckx run get,python3
  ckx ls repo                                 ckx add repo:mine --path=DIR
  ckx run program:od-bench --cmd_key=accuracy-offline --quiet
""".format(options="  ".join(f"--{o.name} ({o.desc})" for o in OPTIONS))


def _automations(ctx: Context) -> list[Automation]:
    return sorted(all_automations(ctx), key=lambda a: a.alias)


def cli_help(ctx: Context, req: dict) -> int:
    """Print the help a command line asked for; returns the exit code."""
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
    ctx.ui.print("generic actions: " + ", ".join(sorted(generic_descriptions())))
    own = sorted(c.name for c in COMMANDS if c.standalone and not c.generic)
    ctx.ui.print("actions of ckx itself: " + ", ".join(own))
    short = sorted(f"{c.name} ({c.automation})" for c in COMMANDS if c.automation)
    ctx.ui.print("actions whose automation may be left out: " + ", ".join(short))
    ctx.ui.print("more: ckx help AUTOMATION, ckx ACTION --help, docs/cli.md")
    return 0


def _automation_help(ctx: Context, name: str) -> int:
    auto = load_automation(ctx, name)
    ctx.ui.print(f"{auto.alias}: {auto.desc}")
    if auto.entry:
        ctx.ui.print(f"  defined in {auto.entry.path}")
    ctx.ui.print("actions:")
    for act, desc in sorted(auto.all_actions().items()):
        own = "" if act in auto.actions else "  (generic)"
        ctx.ui.print(f"  {act:<12} {desc}{own}")
    return 0


def _action_help(ctx: Context, action: str, cid: str | None) -> int:
    acts = known_actions(ctx)
    if action not in acts:
        raise NotFoundError(
            f"unknown action '{action}'" + did_you_mean(action, acts),
            hint="list actions with: ckx help",
        )
    if cid:
        auto = load_automation(
            ctx, cid.split(":")[-2] if cid.count(":") == 2 else cid.split(":")[0]
        )
        entry_help = getattr(auto.module, "entry_help", None) if ":" in cid else None
        if entry_help is not None:  # `ckx run program:od-bench --help`: the entry's own help
            entry_help(ctx, {"entry": cid.split(":")[-1], "help": True})
            return 0
        own_help = getattr(auto.module, "action_help", None) if ":" not in cid else None
        if own_help is not None and action in auto.actions:  # `ckx run program --help`
            return int(own_help(ctx, action) or 0)
        desc = auto.all_actions().get(action)
        ctx.ui.print(f"ckx {action} {auto.alias}: {desc or '(not available)'}")
        doc = getattr(function_for(auto, action), "__doc__", None)
        if doc:
            ctx.ui.print(doc.strip())
        return 0
    ctx.ui.print(f"ckx {action}:")
    cmd = command(action)
    if cmd is not None and cmd.generic:
        ctx.ui.print(f"  (every automation) {cmd.desc}")
    elif cmd is not None and cmd.standalone:  # help, version, serve
        ctx.ui.print(f"  {cmd.desc}")
        # the options, if any: the implementation's docstring after its first paragraph
        details = (getattr(implementation(action), "__doc__", None) or "").split("\n\n", 1)
        if len(details) == 2:
            ctx.ui.print(details[1].rstrip())
    for auto in _automations(ctx):
        if action in auto.actions:
            ctx.ui.print(f"  {auto.alias:<12} {auto.actions[action]}")
    return 0


def help_action(ctx: Context, i: dict) -> dict:
    """API form of help: the automations and their actions as data."""
    return {a.alias: {"desc": a.desc, "actions": a.all_actions()} for a in _automations(ctx)}


def version_action(ctx: Context, i: dict) -> dict:
    """The version of ckx."""
    ctx.ui.print(f"ckx {__version__}")
    return {"version": __version__}
