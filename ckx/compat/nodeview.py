"""What MLCFlow's helpers see of the node being run.

``i['automation']`` (:mod:`ckx.compat.automation`), ``mlc.access`` (:mod:`ckx.compat.access`)
and the failure explanations (:mod:`ckx.compat.offline`) serve one
:class:`ckx.compat.runtime.MlcNode` at a time; this protocol is the part of it they use, so
they need not import the module that calls them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ckx.engine.model import Node
    from ckx.engine.nodeops import NodeOps


class MlcNodeView(Protocol):
    """One MLCFlow script being run (:class:`ckx.compat.runtime.MlcNode`)."""

    #: the engine's interface for this node (context, nested runs, commands, choices)
    ops: NodeOps
    #: the engine's planned node (read only)
    node: Node
    #: the node's live env, MLCFlow's ``os_info``, ``run_script_input`` and indentation
    env: dict[str, Any]
    os_info: dict[str, Any]
    run_script_input: dict[str, Any]
    spaces: str
    work: Path

    def where(self) -> str:
        """The chain from the root to this node, for messages."""
        ...

    def script_and_post(
        self, post: str, script_name: str | None = None, env: dict[str, Any] | None = None
    ) -> str | None:
        """Run a script of the entry and the hook ``post`` after it; the version it gave."""
        ...
