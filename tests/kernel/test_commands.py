"""The one command table (ckx/core/commands.py): what the API dispatches, help lists and the
CLI parses all come from it, and what it declares about each action holds."""

import inspect
import io
import os

from ckx.app.api import implementation, run
from ckx.app.cli import parse_argv
from ckx.app.help import cli_help
from ckx.core.automations import load_automation
from ckx.core.commands import (
    COMMANDS,
    command,
    default_automation,
    generic_descriptions,
    outside_home,
)
from ckx.core.context import Context
from ckx.core.ui import UI


def test_every_kernel_action_names_a_function_taking_ctx_and_i():
    for c in COMMANDS:
        if c.impl is None:
            assert c.automation, f"'{c.name}' has neither an implementation nor an automation"
            continue
        fn = implementation(c.name)
        assert list(inspect.signature(fn).parameters)[:2] == ["ctx", "i"], c.impl
        for alias in c.aliases:
            assert implementation(alias) is fn, f"alias '{alias}' of '{c.name}'"


def test_each_shorthand_goes_to_an_automation_that_declares_the_action(ctx):
    for c in COMMANDS:
        if c.automation:
            assert c.name in load_automation(ctx, c.automation).actions, (c.name, c.automation)
    assert default_automation("run") == "script" and default_automation("ls") is None


def test_an_alias_runs_its_command(ctx):
    run(ctx, {"action": "add", "automation": "repo", "entry": "work"})
    run(ctx, {"action": "add", "cid": "work:automation:widget", "tags": "w"})
    listed = run(ctx, {"action": "list", "automation": "automation", "tags": "w"})["list"]
    assert [e["alias"] for e in listed] == ["widget"]
    assert command("delete") is command("rm") and command("no-such-action") is None


def test_an_alias_reaches_the_automation_s_own_action(cli):
    """``ckx list venv`` is ``ckx ls venv``: the venv automation's own ls, not the generic one."""
    own, alias = cli("ls", "venv"), cli("list", "venv")
    assert own.code == alias.code == 0
    assert alias.out == own.out and "no ckx venvs" in alias.out


def _tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            st = os.stat(os.path.join(d, f))
            out[os.path.join(d, f)] = (st.st_mtime_ns, st.st_size)
    return out


def test_actions_declared_read_only_change_no_entry(ctx, ckx_home):
    run(ctx, {"action": "add", "automation": "repo", "entry": "work"})
    run(ctx, {"action": "add", "cid": "work:automation:widget", "tags": "w"})
    before = _tree(ckx_home / "repos")
    read_only = [c.name for c in COMMANDS if c.read_only and (c.generic or c.standalone)]
    assert {"load", "find", "search", "ls", "lint", "help", "version"} <= set(read_only)
    for action in read_only:
        run(ctx, {"action": action, "cid": "automation:widget", "repo": "work"})
    assert _tree(ckx_home / "repos") == before
    for name in ("rm", "mv"):  # what the serve/trust checks rely on
        assert command(name).deletes == "anywhere" and command(name).outside_home
    assert command("run").runs_code and not command("run").read_only
    assert not outside_home("ls") and outside_home("delete") and outside_home("run")
    assert outside_home("pull"), "an action the table does not declare is assumed to reach out"


def test_help_lists_the_generic_actions_of_the_table(ckx_home):
    out = io.StringIO()
    ctx = Context(ckx_home, ui=UI(mode="con", out=out, interactive=False))
    assert cli_help(ctx, {"action": "help"}) == 0
    text = out.getvalue()
    assert "generic actions: " + ", ".join(sorted(generic_descriptions())) in text
    assert "common options: --json (machine output)  --quiet (no prompts" in text
    assert "actions of ckx itself: help, serve, version" in text  # no automation at all
    assert "run (script)" in text and "benchmark (program)" in text  # the shorthands
    ctx.index.close()


def test_the_cli_reads_which_actions_take_tags_first():
    for c in COMMANDS:
        req = parse_argv([c.name, "_cuda"])
        assert ("query" in req) == c.tags_first, c.name
