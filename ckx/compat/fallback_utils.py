"""``utils`` for an MLCFlow repository that has no ``automation/utils.py`` of its own.

Newer mlperf-automations releases may drop that file (its own history calls it frozen);
hooks still write ``from utils import is_true``. This module serves the functions hooks use
most, with MLCFlow's meanings, plus everything of ``mlc.utils`` (as the repository's file
does with ``from mlc.utils import *``).
"""

from __future__ import annotations

from typing import Any

from ckx.compat.mlc.utils import *  # noqa: F403 - the repository's utils re-exports mlc.utils


def is_true(val: Any) -> bool:
    return str(val).lower() in ("1", "true", "on", "yes")


def is_false(val: Any) -> bool:
    return str(val).lower() in ("0", "false", "off", "no")


def compare_versions(i: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
    """MLCFlow's dotted comparison (see :func:`ckx.compat.envrules.compare_dotted`)."""
    from ckx.compat.envrules import compare_dotted

    skip = bool(i.get("version_minor_skip_okay"))
    return {"return": 0, "comparison": compare_dotted(i["version1"], i["version2"], skip)}


def get_host_os_info(i: dict[str, Any] | None = None) -> dict[str, Any]:
    from ckx.engine.osinfo import os_info

    info = os_info()
    if (i or {}).get("bits"):
        info["bits"] = str(i["bits"])  # type: ignore[index]
    return {"return": 0, "info": info}
