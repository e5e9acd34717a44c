"""MLCFlow's run-script protocol: which script, how it is started, how it reports back.

* **Which** (:func:`choose_script`): ``script_name`` (``run`` by default, or the meta's
  ``script_name``, or what a hook put in ``run_script_input['script_name']``). On POSIX, when
  the folder has any ``<name>-*.sh``, the most specific of ``<name>-<flavor>-<version>-<arch>``,
  ``<name>-<flavor>-<version>``, ``<name>-<flavor>-<arch>``, ``<name>-<flavor>``,
  ``<name>-<flavor_like>-<arch>``, ``<name>-<flavor_like>``, ``<name>-<os type>-<arch>``,
  ``<name>-<os type>``, ``<name>-<arch>`` (``run-ubuntu-22.04.sh``, ``run-linux.sh``) wins
  over ``<name>.sh``; the parts come from ``MLC_HOST_OS_FLAVOR``, ``..._FLAVOR_LIKE``,
  ``..._VERSION``, ``MLC_HOST_OS_TYPE``, ``MLC_HOST_PLATFORM_FLAVOR`` (set by ``detect-os``).
  Windows runs ``<name>.bat``.
* **How** (:func:`write_wrapper`): the working folder gets ``tmp-state.json`` (the state)
  and ``tmp-run.sh``: ``#!/bin/bash``, the state's ``script_prefix`` lines, one
  ``export K="V"`` per env key, then ``. "<script>"``; it runs as ``bash -c ". ./tmp-run.sh"``
  in that folder (a user can rerun it by hand to debug).
* **Back** (:func:`read_outputs`): ``tmp-run-state.json`` (a JSON object) and
  ``tmp-run-env.out`` (``KEY=VALUE`` lines) are merged into the state and env; both are
  removed before the script starts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ckx.compat import envrules
from ckx.core.errors import RunError

TMP_RUN = "tmp-run"
TMP_STATE = "tmp-state.json"
RUN_STATE = "tmp-run-state.json"
RUN_ENV = "tmp-run-env.out"
VER_FILE = "tmp-ver.out"


def choose_script(
    folder: Path, env: Mapping[str, Any], os_info: Mapping[str, Any], name: str = "run"
) -> Path:
    """The script file ``name`` stands for on this host (it may not exist: see the callers)."""
    if os_info["bat_ext"] != ".sh":
        return folder / f"{name}{os_info['bat_ext']}"
    try:
        files = set(os.listdir(folder))
    except OSError:
        return folder / f"{name}.sh"
    if not any(f.startswith(f"{name}-") for f in files):
        return folder / f"{name}.sh"
    flavor = str(env.get("MLC_HOST_OS_FLAVOR", "") or "")
    like = str(env.get("MLC_HOST_OS_FLAVOR_LIKE", "") or "")
    os_type = str(env.get("MLC_HOST_OS_TYPE", "") or "")
    version = str(env.get("MLC_HOST_OS_VERSION", "") or "") if flavor else ""
    arch = str(env.get("MLC_HOST_PLATFORM_FLAVOR", "") or "")
    for parts in (
        (flavor, version, arch),
        (flavor, version),
        (flavor, arch),
        (flavor,),
        (like, arch),
        (like,),
        (os_type, arch),
        (os_type,),
        (arch,),
    ):
        suffix = "-".join(p for p in parts if p)
        candidate = f"{name}-{suffix}.sh" if suffix else f"{name}.sh"
        if candidate in files:
            return folder / candidate
    return folder / f"{name}.sh"


def write_wrapper(
    cwd: Path,
    script: Path,
    env: Mapping[str, Any],
    state: Mapping[str, Any],
    os_info: Mapping[str, Any],
) -> Path:
    """Write ``tmp-state.json`` and the ``tmp-run.sh`` wrapper in ``cwd``; return the wrapper."""
    (cwd / TMP_STATE).write_text(json.dumps(state, indent=2, default=str), encoding="utf-8")
    for f in (RUN_STATE, RUN_ENV):
        (cwd / f).unlink(missing_ok=True)
    lines = list(os_info["start_script"])
    prefix = state.get("script_prefix") or []
    if prefix:
        lines += [*prefix, "\n"]
    lines += envrules.script_lines(env, os_info)
    lines += ["\n", os_info["run_bat"].replace("${bat_file}", f'"{script}"') + "\n"]
    wrapper = cwd / f"{TMP_RUN}{os_info['bat_ext']}"
    text = "\n".join(lines)
    wrapper.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    if os_info.get("set_exec_file"):
        wrapper.chmod(0o755)
    return wrapper


def command(wrapper: Path, os_info: Mapping[str, Any]) -> list[str]:
    """The argv that runs the wrapper in its folder, as MLCFlow's ``os.system`` line does."""
    if os_info["platform"] == "windows":
        return ["cmd", "/c", "call", wrapper.name]
    return ["bash", "-c", f". ./{wrapper.name}"]


def read_outputs(cwd: Path, env: dict[str, Any], state: dict[str, Any], script: Path) -> None:
    """Merge ``tmp-run-state.json`` and ``tmp-run-env.out`` of ``cwd`` into state and env."""
    f = cwd / RUN_STATE
    if f.is_file():
        try:
            got = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise RunError(f"{f}: not JSON (written by {script}): {e}") from None
        if not isinstance(got, dict):
            raise RunError(f"{f}: expected a JSON object (written by {script})")
        envrules.merge_into(state, got)
    f = cwd / RUN_ENV
    if f.is_file():
        from ckx.compat.mlc.utils import convert_env_to_dict

        text = f.read_text(encoding="utf-8", errors="replace")
        envrules.merge_into(env, convert_env_to_dict(text)["dict"])
