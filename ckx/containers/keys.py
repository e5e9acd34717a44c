"""The request keys of ``--docker``: MLCFlow's ``--docker_*`` inputs and CK's names.

The keys are rows of the one request vocabulary (``ckx/core/vocabulary.py``, role
``container``: name, type, meaning); this module adds what only containers need: CK's
spelling where CK had one, and which of MLCFlow's inputs ckx accepts but does not apply.
:func:`split` takes them out of a request before the request is planned (the container runs
the rest) and refuses a ``--docker_*`` key nobody declared, with a suggestion (strict inputs:
never silently ignored).
"""

from __future__ import annotations

from typing import Any

from ckx.core import vocabulary
from ckx.core.errors import UsageError

#: ``--docker`` and MLCFlow's ``--docker_*`` (a view of the vocabulary).
NAMES = vocabulary.CONTAINER
#: CK's spelling (``ck build docker``, ``ck run docker``, its Dockerfiles), where CK had one.
CK_NAMES = {
    "docker": "ck build docker + docker run",
    "docker_base_image": "the FROM of Dockerfile.TAG (--tag)",
    "docker_os_version": "--tag=ubuntu-20.04",
    "docker_cache": "--no-cache",
    "docker_it": "-it",
    "docker_mounts": "--volume",
    "docker_image_tag": "--tag",
}
#: MLCFlow's inputs that ckx accepts (MLCFlow's scripts pass them on) but does not apply.
NOT_APPLIED = frozenset(
    {
        "docker_pre_run_cmds",
        "docker_mlc_repo",
        "docker_mlc_repo_branch",
        "docker_user",
        "docker_real_run",
        "docker_fake_run_deps",
        "docker_skip_run_cmd",
        "docker_noregenerate",
    }
)


def desc(name: str) -> str:
    return vocabulary.BY_NAME[name].desc


def truthy(value: Any) -> bool:
    """MLCFlow's booleans: True, ``yes``, ``on``, ``true``, ``1``."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "on", "true", "1", "y")


def split(i: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(docker keys, the rest)`` of a request; an undeclared ``docker_*`` key is refused."""
    mine = {k: v for k, v in i.items() if k == "docker" or k.startswith("docker_")}
    for k in mine:
        if k not in NAMES:
            from ckx.core.suggest import did_you_mean

            raise UsageError(
                f"unknown option --{k}" + did_you_mean(k, sorted(NAMES)),
                hint="the --docker options are listed in docs/containers.md",
            )
    return mine, {k: v for k, v in i.items() if k not in mine}


def listed(value: Any) -> list[str]:
    """A list option given as a list or as comma-separated text."""
    if value in (None, "", True, False):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]
