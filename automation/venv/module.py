"""The ``venv`` automation: ``ckx create|activate|ls|rm venv[:NAME]``. Thin over :mod:`ckx.artifacts.venvs`."""

from __future__ import annotations

import os
from typing import Any

from ckx.core.errors import UsageError


def _name(ctx, i: dict[str, Any]) -> str:
    return ctx.require(i.get("entry"), "the venv name", "ckx create venv:mlperf --template=mlperf-inference")


def _list(value: Any) -> list[str]:
    if value in (None, "", True):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def create(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Create ``venv:NAME`` (python -m venv + pip install of the template), atomically."""
    from ckx.artifacts.venvs import create_venv, pins_from, pip_args_from

    name = _name(ctx, i)
    template = i.get("template") if isinstance(i.get("template"), str) else None
    ctx.ui.info(f"creating venv '{name}'" + (f" from template {template}" if template else ""))
    info = create_venv(
        ctx.home, name, template=template, requirements=_list(i.get("requirements")),
        python=i.get("python") if isinstance(i.get("python"), str) else None,
        pins=pins_from(ctx.environ, ctx.home), pip_args=pip_args_from(ctx.environ),
        force=bool(i.get("force")), system_site_packages=bool(i.get("system_site_packages")),
        report=ctx.ui.info,
    )
    ctx.ui.print(f"created venv '{name}' (Python {info.python_version}) at {info.path}")
    ctx.ui.print(f"activate it with: ckx activate venv:{name}   select it for packages with: --env.CKX_VENV={name}")
    return {"return": 0, **info.to_dict()}


def activate(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Print ``source .../bin/activate``; ``--shell`` starts ``$SHELL`` inside the venv."""
    from ckx.artifacts.venvs import activate_command, activated_environ, load_venv

    info = load_venv(ctx.home, _name(ctx, i))
    shell = i.get("shell")
    if shell:
        import subprocess

        program = shell if isinstance(shell, str) else ctx.environ.get("SHELL") or "/bin/sh"
        ctx.ui.info(f"starting {program} in venv '{info.name}' (exit to leave)")
        rc = subprocess.call([program], env=activated_environ(info.path, ctx.environ))
        return {"return": 0, "shell_exit_code": rc, "path": str(info.path)}
    line = activate_command(info.path, ctx.environ.get("SHELL"))
    ctx.ui.print(line)
    return {"return": 0, "command": line, "path": str(info.path)}


def ls(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """List the ckx venvs (``venv:PATTERN`` filters by name)."""
    import fnmatch

    from ckx.artifacts.venvs import list_venvs

    pattern = i.get("entry") or "*"
    found = [v for v in list_venvs(ctx.home) if fnmatch.fnmatchcase(v.name, pattern)]
    for v in found:
        ctx.ui.print(f"{v.name:20} Python {v.python_version:8} {v.template or '-':24} {v.path}")
    if not found:
        ctx.ui.print("no ckx venvs" + ("" if pattern == "*" else f" matching '{pattern}'")
                     + " (create one with: ckx create venv:NAME --template=mlperf-inference)")
    return {"return": 0, "list": [v.to_dict() for v in found]}


def rm(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Remove ``venv:NAME`` or ``venv:*``; asks first unless ``--force`` or ``--quiet``."""
    import fnmatch

    from ckx.artifacts.venvs import list_venvs, remove_venvs

    pattern = ctx.require(i.get("entry"), "which venv to remove", "ckx rm venv:NAME  or  ckx rm venv:*")
    names = [v.name for v in list_venvs(ctx.home) if fnmatch.fnmatchcase(v.name, pattern)]
    if not names:
        ctx.ui.print(f"no ckx venv matches '{pattern}'")
        return {"return": 0, "removed": []}
    if not (i.get("force") or i.get("f") or ctx.quiet):
        if not ctx.ui.interactive:
            raise UsageError(f"refusing to remove {len(names)} venv(s) without confirmation: {', '.join(names)}",
                             hint="add --force (or --quiet) to remove without asking")
        if not ctx.ui.confirm(f"Remove venv(s) {', '.join(names)}?"):
            return {"return": 0, "removed": []}
    removed = [n for n in remove_venvs(ctx.home, pattern) if n in names]
    for n in removed:
        ctx.ui.print(f"removed venv '{n}'")
    return {"return": 0, "removed": removed, "root": os.fspath(ctx.home / "venvs")}
