"""``os_info``: what hooks (of ckx's content and of MLCFlow's) know about the host.

The keys are MLCFlow's (``platform``, ``bat_ext``, ``set_env``, ``env_separator``,
``run_local_bat_from_python``, ``start_script``, ``env``, ``bits``, ``python_bits``, ...), with
the same values on the same machine (319 hooks of mlperf-automations read it), plus
``machine`` (``platform.machine()``) and ``python`` (the interpreter running ckx). ckx's
hooks get it as ``i.os_info``, MLCFlow's as ``i['os_info']``, and MLCFlow's run-script
protocol (:mod:`ckx.compat.runscript`) writes its scripts with it. Computed once per process.
"""

from __future__ import annotations

import platform
import struct
import sys
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _base() -> dict[str, Any]:
    system = platform.system().lower()
    if system.startswith("win"):
        return {
            "platform": "windows",
            "bat_ext": ".bat",
            "set_env": "set ${key}=${value}",
            "env_separator": ";",
            "env_quote": "'",
            "env_var": "%env_var%",
            "bat_rem": "rem ${rem}",
            "run_local_bat": "call ${bat_file}",
            "run_local_bat_from_python": "call ${bat_file}",
            "run_bat": "call ${bat_file}",
            "start_script": ["@echo off", ""],
            "env": {"MLC_WINDOWS": "yes"},
        }
    return {
        "platform": "darwin" if system.startswith("darwin") else "linux",
        "bat_ext": ".sh",
        "set_env": 'export ${key}="${value}"',
        "env_separator": ":",
        "env_quote": '"',
        "env_var": "${env_var}",
        "set_exec_file": 'chmod 755 "${file_name}"',
        "bat_rem": "# ${rem}",
        "run_local_bat": ". ./${bat_file}",
        "run_local_bat_from_python": 'bash -c ". ./${bat_file}"',
        "run_bat": ". ${bat_file}",
        "start_script": ["#!/bin/bash", ""],
        "env": {},
    }


def _os_bits(platform_name: str, pointer_bits: str) -> str:
    # MLCFlow asks `getconf LONG_BIT` on POSIX; the C long of the running interpreter is the
    # same number without a subprocess (LP64: 64 on 64-bit Linux and macOS)
    if platform_name == "windows":
        import os

        wow = os.environ.get("ProgramW6432") or os.environ.get("ProgramFiles(x86)")
        return "64" if wow else "32"
    return str(8 * struct.calcsize("l")) if pointer_bits == "64" else pointer_bits


def os_info() -> dict[str, Any]:
    """A fresh copy of the host's ``os_info`` (hooks may modify what they get)."""
    import copy

    info = copy.deepcopy(_base())
    pbits = str(8 * struct.calcsize("P"))
    info["env"]["MLC_HOST_PLATFORM_FLAVOR"] = platform.machine()
    info["env"]["MLC_HOST_OS_TYPE"] = info["platform"]
    info["bits"] = _os_bits(info["platform"], pbits)
    info["python_bits"] = pbits
    info["machine"] = platform.machine()
    info["python"] = sys.executable
    return info


@lru_cache(maxsize=1)
def _host_env() -> tuple[tuple[str, str], ...]:
    return tuple(os_info()["env"].items())


def host_env() -> dict[str, str]:
    """The variables ``os_info`` puts into every script's env (``MLC_HOST_OS_TYPE``, ...)."""
    return dict(_host_env())
