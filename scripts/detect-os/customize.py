"""detect-os: describe the host in CKX_HOST_* env keys (pure Python: Linux, macOS, Windows)."""

import os
import platform
import sys


def _os_release() -> dict:
    info = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    info[key] = value.strip().strip('"')
    except OSError:
        pass
    return info


def preprocess(i):
    env = i["env"]
    system = platform.system()
    env["CKX_HOST_OS_TYPE"] = {"Linux": "linux", "Darwin": "darwin", "Windows": "windows"}.get(
        system, system.lower()
    )
    env["CKX_HOST_SYSTEM_NAME"] = system
    env["CKX_HOST_OS_KERNEL_VERSION"] = platform.release()
    env["CKX_HOST_PLATFORM_FLAVOR"] = platform.machine()
    env["CKX_HOST_OS_BITS"] = "64" if sys.maxsize > 2**32 else "32"
    env["CKX_HOST_CPU_TOTAL_CORES"] = str(os.cpu_count() or 1)
    rel = _os_release()
    if rel:
        env["CKX_HOST_OS_FLAVOR"] = rel.get("ID", "")
        env["CKX_HOST_OS_FLAVOR_LIKE"] = rel.get("ID_LIKE", "")
        env["CKX_HOST_OS_VERSION"] = rel.get("VERSION_ID", "")
    elif system == "Darwin":
        env["CKX_HOST_OS_FLAVOR"] = "macos"
        env["CKX_HOST_OS_VERSION"] = platform.mac_ver()[0]
    elif system == "Windows":
        env["CKX_HOST_OS_FLAVOR"] = "windows"
        env["CKX_HOST_OS_VERSION"] = platform.version()
    if hasattr(os, "uname"):
        u = os.uname()
        i["state"]["os_uname_machine"] = u.machine
        i["state"]["os_uname_all"] = " ".join(u)
    return {"return": 0}
