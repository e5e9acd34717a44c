"""The one command table: every action the kernel itself knows, declared once.

``ckx.app.api`` dispatches from it, ``ckx.app.help`` and ``ckx.app.cli`` read it, and
``ckx.core.automations`` sees which actions every automation has without importing the app
layer. A row says what implements the action (``"module:function"``, imported only when the
action runs, as pip's ``commands_dict``), the automation it applies to when none is named
(MLCFlow's ``mlc run get,python3``), a one-line description, and what it may touch.

The actions an automation adds (``ckx pull repo``, ``ckx zip experiment``) are declared in that
automation's ``meta.yaml`` with their descriptions; this table holds the kernel's share: the
generic actions, the actions that need no automation, and the shorthands with a default
automation.
"""

from __future__ import annotations

from typing import Literal

from ckx.core.vocabulary import KEYS

#: Where an action may write or delete: nowhere, only under ``CKX_HOME``, or anywhere (a repo
#: registered from any folder, ``--out=DIR``, ``--to=DIR``, ``--path=DIR``). Refreshing the
#: index (derived data under ``CKX_HOME``) is not counted: every command may do it.
Reach = Literal["none", "home", "anywhere"]


class Command:
    """One action of the table. (A plain class: a NamedTuple or a dataclass would cost
    milliseconds of start-up, for typing's annotation checks or the import of inspect.)"""

    __slots__ = (
        "name",
        "desc",
        "impl",
        "generic",
        "standalone",
        "automation",
        "aliases",
        "tags_first",
        "writes",
        "deletes",
        "runs_code",
    )

    def __init__(
        self,
        name: str,
        desc: str,
        impl: str | None = None,
        *,
        generic: bool = False,
        standalone: bool = False,
        automation: str | None = None,
        aliases: tuple[str, ...] = (),
        tags_first: bool = False,
        writes: Reach = "none",
        deletes: Reach = "none",
        runs_code: bool = False,
    ) -> None:
        self.name = name
        self.desc = desc
        #: ``"module:function"`` taking ``(ctx, i)``; None when only automations implement it
        self.impl = impl
        #: every automation has it (an automation's module may still override it)
        self.generic = generic
        #: runs with no automation named (``ckx help``, ``ckx lint``)
        self.standalone = standalone
        #: the automation it applies to when none is named (``ckx run TAGS`` -> ``script``)
        self.automation = automation
        self.aliases = aliases
        #: a first argument starting with ``_`` or ``-`` is a tag query (``ckx run _cuda``)
        self.tags_first = tags_first
        self.writes = writes
        self.deletes = deletes
        #: runs entries' code (``run.sh``, ``customize.py``, programs, detected executables),
        #: which may do anything the user may
        self.runs_code = runs_code

    def __repr__(self) -> str:
        return f"Command({self.name!r})"

    @property
    def outside_home(self) -> bool:
        """May it write or delete outside ``CKX_HOME`` (or run code that may)?"""
        return self.runs_code or "anywhere" in (self.writes, self.deletes)

    @property
    def read_only(self) -> bool:
        return not self.runs_code and self.writes == "none" and self.deletes == "none"


_GENERIC = "ckx.app.generic"

#: The table, in the order help lists it.
COMMANDS: tuple[Command, ...] = (
    # -- generic: every automation has them (CK's kernel verbs) ---------------------------
    Command(
        "add",
        "Create a new entry (from a template with --template=NAME)",
        f"{_GENERIC}:add",
        generic=True,
        writes="anywhere",
    ),
    Command("load", "Print an entry's meta", f"{_GENERIC}:load", generic=True),
    Command("find", "Print the path of matching entries", f"{_GENERIC}:find", generic=True),
    Command(
        "search",
        "List entries matching --tags (a,b,-c) and/or a name pattern",
        f"{_GENERIC}:search",
        generic=True,
    ),
    Command(
        "ls",
        "List entries (CID wildcards: ckx ls experiment:ssd-*)",
        f"{_GENERIC}:ls",
        generic=True,
        aliases=("list",),
    ),
    Command(
        "rm",
        "Remove entries (asks unless --force or --quiet)",
        f"{_GENERIC}:rm",
        generic=True,
        aliases=("delete",),
        deletes="anywhere",
    ),
    Command(
        "ren",
        "Rename an entry: ckx ren AUTOMATION:OLD NEW",
        f"{_GENERIC}:ren",
        generic=True,
        aliases=("rename",),
        writes="anywhere",
    ),
    Command(
        "cp",
        "Copy an entry (new uid): ckx cp AUTOMATION:SRC [REPO:]AUTOMATION:DST",
        f"{_GENERIC}:cp",
        generic=True,
        aliases=("copy",),
        writes="anywhere",
    ),
    Command(
        "mv",
        "Move an entry to another repo or alias (keeps its uid)",
        f"{_GENERIC}:mv",
        generic=True,
        aliases=("move",),
        writes="anywhere",
        deletes="anywhere",
    ),
    Command(
        "update",
        "Update an entry's meta: --meta.KEY=VALUE or @file.yaml",
        f"{_GENERIC}:update",
        generic=True,
        writes="anywhere",
    ),
    Command(
        "lint",
        "Check metas against their schemas and report every problem",
        f"{_GENERIC}:lint",
        generic=True,
        standalone=True,
    ),
    # -- no automation needed ------------------------------------------------------------
    Command(
        "help", "The automations and their actions", "ckx.app.help:help_action", standalone=True
    ),
    Command("version", "The version of ckx", "ckx.app.help:version_action", standalone=True),
    Command(
        "serve",
        "Serve every action over HTTP: POST /access, /jobs, the dashboard (docs/service.md)",
        "ckx.app.serve:serve_action",
        standalone=True,
        writes="anywhere",  # what its clients ask for, within what a token allows
        deletes="anywhere",
        runs_code=True,
    ),
    # -- shorthands: the action's default automation when none is named ------------------
    Command(
        "run",
        "Plan and run a script by tags",
        automation="script",
        tags_first=True,
        writes="anywhere",
        runs_code=True,
    ),
    Command(
        "detect",
        "Detect installed software and register it as env entries",
        automation="soft",
        tags_first=True,
        writes="home",
        runs_code=True,
    ),
    Command(
        "install",
        "Install a package by tags or name",
        automation="package",
        tags_first=True,
        writes="anywhere",
        runs_code=True,
    ),
    Command(
        "benchmark",
        "Run a program N times, print statistics, record an experiment",
        automation="program",
        writes="anywhere",
        runs_code=True,
    ),
    Command(
        "prefetch",
        "Fetch the files a package or program needs into --to=DIR",
        automation="package",
        writes="anywhere",
        runs_code=True,
    ),
    Command(
        "dashboard",
        "A static HTML report of all experiments (--out=DIR, --serve)",
        automation="experiment",
        writes="anywhere",
    ),
    Command(
        "replay",
        "Re-run a recorded experiment point",
        automation="experiment",
        writes="anywhere",
        runs_code=True,
    ),
    Command("compare", "Metrics of several experiments side by side", automation="experiment"),
)

_BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}
_BY_NAME.update({a: c for c in COMMANDS for a in c.aliases})


def command(action: str) -> Command | None:
    """The row of ``action`` (an alias finds its command), or None for an action the kernel
    does not declare (one an automation adds)."""
    return _BY_NAME.get(action)


def default_automation(action: str) -> str | None:
    """The automation ``action`` applies to when none is named (``run`` -> ``script``)."""
    c = _BY_NAME.get(action)
    return c.automation if c else None


def outside_home(action: str) -> bool:
    """May ``action`` write or delete outside ``CKX_HOME``, or run entries' code? True for an
    action the table does not declare (one an automation adds): what is not known is assumed
    to reach everywhere."""
    c = _BY_NAME.get(action)
    return True if c is None else c.outside_home


def generic_descriptions() -> dict[str, str]:
    """The generic actions (without aliases) and their descriptions."""
    return {c.name: c.desc for c in COMMANDS if c.generic}


def is_generic(action: str) -> bool:
    """Does every automation have ``action`` (aliases included)?"""
    c = _BY_NAME.get(action)
    return bool(c and c.generic)


class Option:
    """A common option of every command line."""

    __slots__ = ("name", "desc", "cli_only")

    def __init__(self, name: str, desc: str, *, cli_only: bool = False) -> None:
        self.name = name
        self.desc = desc
        #: consumed by the CLI itself, never passed on in the request
        self.cli_only = cli_only


#: The options every command line has: the rows of the request vocabulary that the CLI reads
#: itself (``cli``) or every command understands (``common``).
OPTIONS: tuple[Option, ...] = tuple(
    Option(k.name, k.desc, cli_only="cli" in k.roles) for k in KEYS if k.roles & {"cli", "common"}
)
