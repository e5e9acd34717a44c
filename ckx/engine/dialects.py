"""Content dialects: how the runner talks to one kind of content.

ckx runs its own scripts and, through ``ckx/compat/``, MLCFlow's. Their plan is the same (meta
vocabulary, deps, variations, versions, cache); what differs is the contract between the
engine and the files of an entry. A :class:`Dialect`, chosen per entry (by its repo), decides:

* the hook spec its ``customize.py`` is checked against, and how it is loaded (:meth:`load_hooks`);
* the ``i`` a hook gets (:meth:`hook_input`, from a :class:`HookCall`) and the folder a hook
  runs in (:meth:`hook_cwd`: ckx leaves the process where it is, MLCFlow enters the run folder);
* the prefix of the engine's variables (``CKX_`` -> ``CKX_VERSION``, ``CKX_TMP_*``, ...) and
  the ones set before a script runs (:meth:`engine_env`);
* which run script a folder's entry runs (:meth:`script_file`) and with what (:meth:`command`);
* how a script reports back (:meth:`prepare_outputs` before it runs, :meth:`collect_outputs`
  after: ckx reads ``$CKX_OUTPUT_ENV_FILE`` and ``$CKX_OUTPUT_STATE_FILE``).

The runner never looks at a file name or a variable prefix itself. A new dialect is an object
with these methods (no subclassing needed); the dialects a call serves are on its Context
(:attr:`ckx.core.context.Context.dialects`, made once per Context by the door that made it),
and each one's :meth:`~Dialect.claims` says which repos it serves. Only :data:`CKX` is built
in.

Content whose meaning differs from ckx's beyond files and names (MLCFlow's, served by
``ckx/compat/``) also decides, through the members :class:`DialectDefaults` gives every
other dialect:

* ``rank`` and :meth:`~Dialect.preference`: the order among several matching entries (ckx's
  content first, then by each dialect's own order: MLCFlow's lowest ``sort`` first);
* :meth:`~Dialect.plan_dep` and :meth:`~Dialect.dep_enabled`: what a dep declaration means
  (fields ckx does not have, how a condition on the env reads);
* :meth:`~Dialect.check_plan`: a check of the whole plan before anything runs;
* ``predicts_conditions``: a dep decided when reached whose condition is false on the env
  known at plan time is not planned until it is reached and holds (MLCFlow's post deps on
  Windows, installers behind ``MLC_REQUIRE_INSTALL``); ckx plans them all;
* ``variation_env_wins``: the chosen variations' ``env`` is applied again after the inputs
  (MLCFlow's order; ckx's own content lets an input win);
* :meth:`~Dialect.run_folder`: where a node that is not cached runs (MLCFlow's: the current
  folder; ckx's own: a fresh folder under ``CKX_HOME/state/work``);
* ``lifecycle``: when not None, the steps of a node between its env and its exports (hooks,
  deps, run script) are the dialect's, given a :class:`ckx.engine.runner.NodeOps`; it
  returns ``(version, exported env, exported state)``. The runner keeps the plan, the
  cache, the locks, revisions, nested runs and the reporter.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from ckx.core.entries import Entry
from ckx.core.errors import MetaError, RunError
from ckx.engine import envs

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.hooks import HookCall
    from ckx.engine.hookspec import Customize, HookSpecs


class Dialect(Protocol):
    """The contract between the runner and one kind of content (see the module doc)."""

    #: a short name (``ckx``, ``mlcflow``), shown in messages
    name: str
    #: prefix of the engine's variables (``CKX_``)
    prefix: str

    @property
    def hooks(self) -> HookSpecs:
        """The hooks a ``customize.py`` of this dialect may define (a class attribute will do)."""
        ...

    def claims(self, repo: Any) -> bool:
        """Does this dialect serve the entries of ``repo`` (a :class:`ckx.core.repos.Repo`)?"""
        ...

    def load_hooks(self, folder: Path) -> Customize | None:
        """The checked hooks of the entry in ``folder`` (None: it has none)."""
        ...

    def hook_input(self, call: HookCall) -> Any:
        """The ``i`` passed to a hook."""
        ...

    def hook_cwd(self, call: HookCall) -> Path | None:
        """The folder a hook runs in (None: where the process is)."""
        ...

    def engine_env(self, call: HookCall, cwd: str) -> dict[str, str]:
        """Variables the engine sets for a node before its hooks and script run."""
        ...

    def script_file(self, folder: Path) -> Path | None:
        """The run script of the entry in ``folder`` for this machine (None: it has none)."""
        ...

    def command(self, script: Path) -> list[str]:
        """The argv that runs ``script``."""
        ...

    def prepare_outputs(self, work: Path, env: dict[str, Any]) -> None:
        """Before the script runs: make the report-back files known (and empty)."""
        ...

    def collect_outputs(
        self, work: Path, env: dict[str, Any], state: dict[str, Any], script: Path
    ) -> str | None:
        """After the script ran: merge what it reported into ``env``/``state``; return the
        version it reported, if any."""
        ...

    #: the dialect's place among several matching entries (ckx's own: 0, first)
    rank: int
    #: deferred deps false at plan time are planned only when reached (see the module doc)
    predicts_conditions: bool
    #: the chosen variations' ``env`` wins over inputs (MLCFlow's order; ckx: inputs win)
    variation_env_wins: bool

    @property
    def lifecycle(self) -> Any:
        """The node's steps, when the dialect runs them itself (see the module doc), else
        None."""
        ...

    def preference(self, entry: Entry) -> tuple | None:
        """Sort key among this dialect's candidates (None: ckx's priority order)."""
        ...

    def plan_dep(self, dep: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
        """A dep declaration (``add_deps``/``adr`` merged in) as the planner should read it;
        ``parent``: the fields of the node planned (meta, selection, static_env, version...)."""
        ...

    def dep_enabled(self, dep: dict[str, Any], env: dict[str, Any]) -> bool:
        """Do the dep's conditions hold in ``env``?"""
        ...

    def check_plan(self, plan: Any, request: dict[str, Any]) -> None:
        """Refuse a plan before anything runs (raise a CkxError); most dialects accept all."""
        ...

    def run_folder(self, cwd: str) -> Path | None:
        """Where a node that is not cached runs when no ``--outdirname`` is given: None for
        a fresh folder under ``CKX_HOME/state/work`` (ckx's own), or a folder the dialect's
        content expects (MLCFlow's scripts: the current one)."""
        ...


class DialectDefaults:
    """The members a dialect may leave as ckx's (subclass it, or define them yourself)."""

    rank = 1
    lifecycle: Any = None
    predicts_conditions = False
    variation_env_wins = False

    def preference(self, entry: Entry) -> tuple | None:
        return None

    def plan_dep(self, dep: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
        return dep

    def dep_enabled(self, dep: dict[str, Any], env: dict[str, Any]) -> bool:
        return envs.dep_enabled(dep, env)

    def check_plan(self, plan: Any, request: dict[str, Any]) -> None:
        return None

    def run_folder(self, cwd: str) -> Path | None:
        return None


def is_current_folder(folder: Path | str) -> bool:
    """Is ``folder`` the one the process runs in (where :meth:`Dialect.run_folder` may put a
    node: ckx then writes there only what the content writes)?"""
    return os.path.realpath(folder) == os.path.realpath(os.getcwd())


OUTPUT_STATE_FILE = "ckx-output.json"


class CkxDialect(DialectDefaults):
    """ckx's own content: ``CKX_`` variables, ``run-<os>.sh``/``run.sh``/``run.bat``,
    ``$CKX_OUTPUT_ENV_FILE``/``$CKX_OUTPUT_STATE_FILE``, hooks get a
    :class:`~ckx.engine.hooks.HookInput` and run where the process is."""

    name = "ckx"
    prefix = "CKX_"
    rank = 0

    def check_plan(self, plan: Any, request: dict[str, Any]) -> None:
        """Strict inputs (:mod:`ckx.engine.inputcheck`): an unused ``--key`` fails first."""
        from ckx.engine.inputcheck import check_inputs

        check_inputs(plan, request)

    @property
    def hooks(self) -> HookSpecs:
        # imported when a hook is loaded: the fully cached path never needs the hook spec
        from ckx.engine.hookspec import CKX_HOOKS

        return CKX_HOOKS

    def claims(self, repo: Any) -> bool:
        return True  # the default for every repo no other dialect claims

    def load_hooks(self, folder: Path) -> Customize | None:
        path = os.path.join(folder, "customize.py")
        if not os.path.isfile(path):  # most entries have none: no Path, no hook spec import
            return None
        from ckx.engine.hookspec import load_customize

        return load_customize(Path(path), self.hooks)

    def hook_input(self, call: HookCall) -> Any:
        from ckx.engine.hooks import HookInput  # run time only: a dataclass costs at start-up

        return HookInput.from_call(call)

    def hook_cwd(self, call: HookCall) -> Path | None:
        return None

    def engine_env(self, call: HookCall, cwd: str) -> dict[str, str]:
        return {
            "CKX_TMP_CURRENT_SCRIPT_PATH": str(call.script_path),
            "CKX_TMP_CURRENT_PATH": cwd,
            "CKX_RUN_DIR": str(call.run_path),
        }

    def script_file(self, folder: Path) -> Path | None:
        if os.name == "nt":
            names = ["run.bat"]
        else:
            plat = "darwin" if sys.platform == "darwin" else "linux"
            names = [f"run-{plat}.sh", "run.sh"]
        for n in names:
            if (folder / n).is_file():
                return folder / n
        return None

    def command(self, script: Path) -> list[str]:
        return ["cmd", "/c", str(script)] if script.suffix == ".bat" else ["bash", str(script)]

    def prepare_outputs(self, work: Path, env: dict[str, Any]) -> None:
        out_env, out_state = work / envs.OUTPUT_ENV_FILE, work / OUTPUT_STATE_FILE
        for f in (out_env, out_state):
            f.unlink(missing_ok=True)
        env["CKX_OUTPUT_ENV_FILE"] = str(out_env)
        env["CKX_OUTPUT_STATE_FILE"] = str(out_state)

    def collect_outputs(
        self, work: Path, env: dict[str, Any], state: dict[str, Any], script: Path
    ) -> str | None:
        produced = envs.read_output_env(work / envs.OUTPUT_ENV_FILE)
        version = produced.pop("CKX_DETECTED_VERSION", None)
        envs.set_all(env, produced)
        out_state = work / OUTPUT_STATE_FILE
        if out_state.is_file():
            try:
                state.update(json.loads(out_state.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, TypeError, ValueError) as e:
                raise RunError(f"{out_state}: not a JSON object written by {script}: {e}") from None
        for k in ("CKX_OUTPUT_ENV_FILE", "CKX_OUTPUT_STATE_FILE"):
            env.pop(k, None)
        return version


#: ckx's dialect (the default).
CKX: Dialect = CkxDialect()


def dialect_for(ctx: Context, repo: Any) -> Dialect:
    """The dialect of the entries of ``repo`` (None or a repo no dialect of ``ctx.dialects``
    claims: ckx's)."""
    if repo is not None:
        for d in ctx.dialects:
            if d.claims(repo):
                return cast("Dialect", d)
    return CKX


def hook_problems(ctx: Context, entry: Entry) -> list[str]:
    """What is wrong with the ``customize.py`` of ``entry`` under its dialect's hook spec (an
    import error, a hook with the wrong signature, ...): ``ckx lint`` reports these."""
    if not (entry.path / "customize.py").is_file():
        return []
    dialect = dialect_for(ctx, ctx.registry.get(entry.repo)) if ctx.dialects else CKX
    try:
        dialect.load_hooks(entry.path)
    except MetaError as e:
        return [e.message]
    return []
