"""The ``mlc`` module that MLCFlow hooks import (``from mlc import utils``, ``import mlc``).

ckx's own, not MLCFlow's: it is served under the name ``mlc`` only while a hook of an MLCFlow
script runs (see :mod:`ckx.compat.imports`), so an installed ``mlcflow`` is neither needed nor
touched (importing the real one creates ``~/MLC`` and a log file in the current folder).

``mlc.access(i)`` is the engine's: inside a run it maps MLCFlow requests (``run``, ``search``,
``find``, ``rm`` of scripts, caches and repos) onto ckx and nested runs, see
:class:`ckx.compat.automation.ActionObject`.
"""

from __future__ import annotations

from typing import Any

from ckx.compat.mlc import utils

#: The MLCFlow version whose behaviour ckx matches (scripts compare ``min_mlc_version``).
__version__ = "1.3.8"


def access(i: dict[str, Any]) -> dict[str, Any]:
    """MLCFlow's API, served by the run in progress (see ckx.compat.automation)."""
    from ckx.compat.automation import current_action_object

    return current_action_object().access(i)


__all__ = ["access", "utils", "__version__"]
