"""The run's characteristics for ckx: od-bench's side of ckx's characteristics convention.

Under ckx, ``CKX_CHARACTERISTICS_FILE`` names the JSON file (relative to the run folder
``CKX_RUN_DIR``) whose object ckx records as the run's characteristics (docs/experiments.md).
od-bench writes its summary record there, with what only ckx knows added: ``model`` is the
``--model`` the user chose (``ssd-shapes``, ``ssd-resnet34``, ...; LoadGen's model name stays
as ``loadgen_model``), ``cmd_key``, and the human ``summary_text``. Outside ckx nothing is
written here (``odbench_summary.json`` is the record of a standalone run).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from .summary import format_summary


def characteristics(record: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``record`` (the ``odbench_summary.json`` object) as ckx records it."""
    rec = dict(record)
    rec["loadgen_model"] = record.get("model")
    rec["model"] = environ.get("CKX_ODBENCH_MODEL") or record.get("model")
    rec["summary_text"] = format_summary(rec)
    rec["cmd_key"] = environ.get("CKX_CMD_KEY")
    return rec


def write_characteristics(
    record: dict[str, Any], environ: Mapping[str, str] | None = None
) -> str | None:
    """Write the characteristics file when ckx asked for one; its path (None when not asked)."""
    env = os.environ if environ is None else environ
    name = env.get("CKX_CHARACTERISTICS_FILE")
    if not name:
        return None
    path = os.path.join(env.get("CKX_RUN_DIR") or os.getcwd(), name)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(characteristics(record, env), f, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path
