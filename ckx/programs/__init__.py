"""The programs layer: running a program entry once and identifying the model a run uses.

:mod:`~ckx.programs.run` turns ``ckx run program:NAME --cmd_key=KEY`` into one engine request
and reads the characteristics the program wrote; :mod:`~ckx.programs.identify` tells which
model a model file is from its ONNX interface; :mod:`~ckx.programs.register` registers your own
model file as a package whose tags say what it is. ``ckx benchmark``, sweeps, ``replay`` and
the ``program``, ``experiment`` and ``package`` automations call this layer (so the
automations never import each other). It may import ``ckx.core``, ``ckx.artifacts``, ``ckx.engine`` and
``ckx.compat``; ``ckx.experiments`` and ``ckx.app`` sit above it.
"""

from __future__ import annotations

from ckx.programs.identify import identify_model
from ckx.programs.run import (
    CHARACTERISTICS_ENV,
    build_request,
    choose_cmd_key,
    find_program,
    group_inputs,
    read_characteristics,
    run_once,
    target,
    variation_groups,
)

__all__ = [
    "CHARACTERISTICS_ENV",
    "build_request",
    "choose_cmd_key",
    "find_program",
    "group_inputs",
    "identify_model",
    "read_characteristics",
    "run_once",
    "target",
    "variation_groups",
]
