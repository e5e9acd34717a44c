"""The MLCFlow dialect: how the engine plans an entry of an MLCFlow repository.

Served by :func:`ckx.compat.served` (only when such a repository is registered). Plan
policy: MLCFlow's candidate order (lowest ``sort`` first, then path), its dep fields
(:func:`ckx.compat.deps.plan_dep`), its conditions (:mod:`ckx.compat.envrules`), ``MLC_``
engine variables, a refusal of inputs no node of the graph reads
(:mod:`ckx.compat.hookreads`). Its lifecycle, MLCFlow's steps of a node with deps run by
the engine as MLCFlow passes them env, is :class:`ckx.compat.runtime.MlcLifecycle`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core.errors import UsageError
from ckx.engine.dialects import DialectDefaults

if TYPE_CHECKING:
    from ckx.compat.runtime import MlcLifecycle

# The MLCFlow modules are imported where they are used: a fully cached run of an MLCFlow
# script needs this class (the planner asks it for the order of candidates) and no more.


class MlcDialect(DialectDefaults):
    """See the module doc. One per Context (its lifecycle keeps the hook imports of a run)."""

    name = "mlcflow"
    prefix = "MLC_"
    predicts_conditions = True
    variation_env_wins = True  # mlcr s,_v --x=1: the variation's env beats --x (and --env)

    def __init__(self) -> None:
        self._claims: dict[str, bool] = {}  # repo path -> an MLCFlow repository?

    @cached_property
    def lifecycle(self) -> MlcLifecycle:
        # made (and its module imported) when a node is first planned to run, not before
        from ckx.compat.runtime import MlcLifecycle

        return MlcLifecycle()

    def claims(self, repo: Any) -> bool:
        key = str(getattr(repo, "path", ""))
        if key not in self._claims:
            from ckx.compat.mlcrepos import is_mlcflow_repo

            self._claims[key] = is_mlcflow_repo(repo)
        return self._claims[key]

    # -- plan ------------------------------------------------------------------------------
    def preference(self, entry: Any) -> tuple:
        try:
            sort = float(entry.meta.get("sort", 0) or 0)
        except (TypeError, ValueError):
            sort = 0.0
        return (1, sort, str(entry.path))  # after ckx's own content (rank 0)

    def plan_dep(self, dep: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
        from ckx.compat import deps
        from ckx.engine.model import combine

        return deps.plan_dep(
            dep,
            variations=parent["selection"].names,
            variation_meta=parent["meta"].get("variations") or {},
            env=_with_host(parent["static_env"]),
            version=parent["version"],
            constraints=combine(parent["constraints"]),
        )

    def dep_enabled(self, dep: Mapping[str, Any], env: Mapping[str, Any]) -> bool:
        from ckx.compat.envrules import dep_skipped

        return not dep_skipped(dict(dep), _with_host(dict(env)))

    def check_plan(self, plan: Any, request: dict[str, Any]) -> None:
        """Refuse an input that no node of the graph can read (MLCFlow ignores it)."""
        from ckx.compat.hookreads import unreadable
        from ckx.core.vocabulary import RESERVED

        bad = unreadable(request, plan.nodes, RESERVED)
        if bad:
            raise _unknown_input(bad[0], plan)


def _with_host(env: dict[str, Any]) -> dict[str, Any]:
    """``env`` as a script will see it: MLCFlow puts ``os_info``'s variables
    (``MLC_HOST_OS_TYPE``, ``MLC_HOST_PLATFORM_FLAVOR``) into every script's env, so plan-time
    conditions on them are decided right."""
    from ckx.engine.osinfo import host_env

    return {**env, **host_env()}


def _unknown_input(key: str, plan: Any) -> UsageError:
    from ckx.compat.hookreads import ENGINE_INPUTS, reads_of
    from ckx.core.suggest import did_you_mean

    known: set[str] = set(ENGINE_INPUTS)
    for n in plan.nodes:
        known |= set((n.meta.get("input_mapping") or {}).keys())
        known |= set(reads_of(Path(n.entry.path) / "customize.py").keys)
    root = plan.root.entry.alias
    return UsageError(
        f"unknown input --{key}: no script of the graph of {root} reads it"
        + did_you_mean(key, sorted(known)),
        hint=f"the inputs {root} maps: "
        + ", ".join(f"--{k}" for k in sorted(plan.root.meta.get("input_mapping") or {})[:40]),
    )
