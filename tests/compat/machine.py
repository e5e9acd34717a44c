"""What makes two machines give MLCFlow scripts the same answers (for recorded fixtures)."""

from __future__ import annotations

import platform
import shutil


def _os_release() -> str:
    try:
        lines = open("/etc/os-release", encoding="utf-8").read().splitlines()
    except OSError:
        return ""
    kv = dict(line.split("=", 1) for line in lines if "=" in line)
    return f"{kv.get('ID', '').strip(chr(34))} {kv.get('VERSION_ID', '').strip(chr(34))}"


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def fingerprint() -> dict[str, str]:
    """OS, kernel, CPU and the tools the recorded scripts detect on PATH."""
    return {
        "os": _os_release(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "python3": shutil.which("python3") or "",
        "cmake": shutil.which("cmake") or "",
    }
