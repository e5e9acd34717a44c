"""The request keys of ``--docker``, in one table: MLCFlow's ``--docker_*`` inputs and CK's names.

Every key a container run reads is declared here once: its MLCFlow spelling (the request key),
CK's spelling where CK had one, what it does, and whether ckx applies it. ``split`` takes them
out of a request before the request is planned (the container runs the rest), and refuses a
``--docker_*`` key nobody declared, with a suggestion (strict inputs: never silently ignored).

(This is the one place of these keys; when the kernel's shared table of request keys exists,
these rows belong there.)
"""

from __future__ import annotations

from typing import Any

from ckx.core.errors import UsageError


class Key:
    """One request key of a container run."""

    __slots__ = ("name", "ck", "desc", "applied")

    def __init__(self, name: str, desc: str, ck: str = "", applied: bool = True) -> None:
        self.name = name
        #: CK's spelling (``ck build docker``/``ck run docker``), when CK had one
        self.ck = ck
        self.desc = desc
        #: False: accepted because MLCFlow's scripts pass it, said once, never acted on
        self.applied = applied


KEYS: tuple[Key, ...] = (
    Key(
        "docker",
        "run the request inside a container: plan here, build or reuse the image, run ckx inside",
        ck="ck build docker + docker run",
    ),
    Key(
        "docker_base_image",
        "the image to build FROM (default ckx/debian:12, made offline by ckx bootstrap docker)",
        ck="the FROM of Dockerfile.TAG (--tag)",
    ),
    Key("docker_os", "the base's OS when no base image is named (the base is OS:VERSION)"),
    Key("docker_os_version", "the base's OS version (with --docker_os)", ck="--tag=ubuntu-20.04"),
    Key(
        "docker_cache",
        "no: build without Docker's layer cache (docker build --no-cache)",
        ck="--no-cache",
    ),
    Key("docker_rebuild", "build the image again although one with the same digest exists"),
    Key("docker_it", "interactive: a terminal inside (docker run -it; needs one here)", ck="-it"),
    Key("docker_interactive", "the same as --docker_it"),
    Key("docker_dt", "detached: start the container and return (docker run -d --rm)"),
    Key("docker_detached", "the same as --docker_dt"),
    Key(
        "docker_extra_run_args",
        "more docker run options, one string (--docker_extra_run_args='--cpus=2 --memory=4g')",
    ),
    Key(
        "docker_mounts",
        "more mounts HOST:CONTAINER (a list, or comma-separated); ${{ ENV }} is replaced",
    ),
    Key("docker_image_name", "the image's name (default ckx-<entry>)"),
    Key(
        "docker_image_tag", "the image's tag (default: the digest of what goes into it)", ck="--tag"
    ),
    Key("docker_device", "cuda/gpu: pass the GPUs through (docker run --gpus all)"),
    Key("docker_all_gpus", "pass every GPU through (--gpus all)"),
    Key("docker_num_gpus", "pass N GPUs through (--gpus N)"),
    Key("docker_shm_size", "the container's /dev/shm size (--shm-size)"),
    Key("docker_port_maps", "ports to publish, HOST:CONTAINER (a list, or comma-separated)"),
    Key("docker_privileged", "run privileged (--privileged)"),
    Key("docker_extra_sys_deps", "OS packages the image installs with apt-get"),
    Key("docker_use_host_user_id", "no: run as the image's user, not yours (default: yes)"),
    Key("docker_use_host_group_id", "no: run with the image's group, not yours (default: yes)"),
    Key("docker_run_override", "run a script whose meta says docker: run: false"),
    # MLCFlow's inputs that do not apply: accepted (MLCFlow's scripts pass them on) and said once
    Key(
        "docker_pre_run_cmds",
        "commands MLCFlow runs first (mlc pull repo): ckx copies the "
        "registered repos into the image instead and never runs them",
        applied=False,
    ),
    Key(
        "docker_mlc_repo",
        "the repo MLCFlow clones inside: ckx copies the registered repos in and clones nothing",
        applied=False,
    ),
    Key("docker_mlc_repo_branch", "see --docker_mlc_repo", applied=False),
    Key(
        "docker_user", "the user MLCFlow creates: the container runs as your uid/gid", applied=False
    ),
    Key(
        "docker_real_run",
        "MLCFlow's fake build-time run: ckx runs the request once, inside",
        applied=False,
    ),
    Key("docker_fake_run_deps", "see --docker_real_run", applied=False),
    Key(
        "docker_skip_run_cmd", "MLCFlow's build-only mode: use ckx build docker:NAME", applied=False
    ),
    Key(
        "docker_noregenerate",
        "ckx renders the Dockerfile from the plan every time; an unchanged plan reuses the image",
        applied=False,
    ),
)

BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}

#: The settings of MLCFlow's ``docker:`` meta section that ckx reads (the same names
#: without ``docker_``), besides those of :data:`KEYS`.
META_ONLY = (
    "deps",
    "build_deps",
    "mounts",
    "input_mapping",
    "input_paths",
    "default_env",
    "env",
    "run",
    "os",
    "os_version",
    "base_image",
    "image_name",
    "mount_current_dir",
)


def truthy(value: Any) -> bool:
    """MLCFlow's booleans: True, ``yes``, ``on``, ``true``, ``1``."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "on", "true", "1", "y")


def split(i: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(docker keys, the rest)`` of a request; an undeclared ``docker_*`` key is refused."""
    mine = {k: v for k, v in i.items() if k == "docker" or k.startswith("docker_")}
    for k in mine:
        if k not in BY_NAME:
            from ckx.core.suggest import did_you_mean

            raise UsageError(
                f"unknown option --{k}" + did_you_mean(k, list(BY_NAME)),
                hint="the --docker options are listed in docs/containers.md "
                "(ckx help docker lists them too)",
            )
    return mine, {k: v for k, v in i.items() if k not in mine}


def listed(value: Any) -> list[str]:
    """A list option given as a list or as comma-separated text."""
    if value in (None, "", True, False):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]
