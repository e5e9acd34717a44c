"""The ``docker`` automation: CK's docker entries and the base images of ``--docker``.

Thin: the work is :mod:`ckx.containers` (``--docker`` on ``ckx run``/``ckx benchmark`` is
there too, called by the ``script`` and ``program`` automations). docs/containers.md.
"""

from __future__ import annotations

from typing import Any


def build(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx build docker:NAME [--tag=...]``: the entry's image, built offline (or reused)."""
    from ckx.containers.entries import build as build_entry

    return build_entry(ctx, i)


def run(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx run docker:NAME``: the entry's image with the host's experiment repo mounted."""
    from ckx.containers.entries import run as run_entry

    return run_entry(ctx, i)


def bootstrap(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx bootstrap docker``: a base image from the OS's packages (debootstrap)."""
    from ckx.containers.base import bootstrap as make_base

    return make_base(ctx, i)


def prune(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx prune docker [--images] [--volumes [--all]]``: remove what ckx made in Docker."""
    from ckx.containers.docker import check_daemon, list_ids, run_docker

    check_daemon()
    removed: dict[str, list[str]] = {"containers": list_ids("ps", stopped=True)}
    if removed["containers"]:
        run_docker(["rm", *removed["containers"]], check=False)
    if i.get("images"):  # an image a container still uses stays
        removed["images"] = [x for x in list_ids("images") if _rmi(run_docker, x)]
    if i.get("volumes"):
        home = None if i.get("all") else str(ctx.home)
        removed["volumes"] = list_ids("volume", home=home)
        if removed["volumes"]:
            run_docker(["volume", "rm", "-f", *removed["volumes"]], check=False)
    for kind, ids in removed.items():
        ctx.ui.print(f"removed {len(ids)} {kind}")
    return {"return": 0, "removed": removed}


def _rmi(run_docker, image_id: str) -> bool:
    return run_docker(["rmi", image_id], check=False).returncode == 0
