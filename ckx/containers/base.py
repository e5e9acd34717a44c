"""Base images without a registry: ``ckx bootstrap docker`` makes one from the OS's packages.

``debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates``
of Debian (12 "bookworm" by default; 11, 13) or Ubuntu (20.04, 22.04, 24.04; needs Ubuntu's
archive keyring) into a temporary folder, then ``tar | docker import`` as ``ckx/OS:VERSION``
(``ckx/debian:12``, the base ``--docker`` uses when none is named). Only the OS's package
archive is needed (plain HTTP, or ``--mirror=URL``); the folder is removed whatever happens.
debootstrap needs root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.containers import docker
from ckx.core.errors import MissingDependencyError, RunError, UsageError

if TYPE_CHECKING:
    from ckx.core.context import Context

#: (os, version) -> (suite, default mirror, keyring or None for debootstrap's own)
SUITES = {
    ("debian", "11"): ("bullseye", "http://deb.debian.org/debian", None),
    ("debian", "12"): ("bookworm", "http://deb.debian.org/debian", None),
    ("debian", "13"): ("trixie", "http://deb.debian.org/debian", None),
    ("ubuntu", "20.04"): (
        "focal",
        "http://archive.ubuntu.com/ubuntu",
        "ubuntu-archive-keyring.gpg",
    ),
    ("ubuntu", "22.04"): (
        "jammy",
        "http://archive.ubuntu.com/ubuntu",
        "ubuntu-archive-keyring.gpg",
    ),
    ("ubuntu", "24.04"): (
        "noble",
        "http://archive.ubuntu.com/ubuntu",
        "ubuntu-archive-keyring.gpg",
    ),
}
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")


def default_name(os_name: str, version: str) -> str:
    return f"ckx/{os_name}:{version}"


def suite_of(os_name: str, version: str) -> tuple[str, str, str | None]:
    try:
        return SUITES[(os_name, version)]
    except KeyError:
        known = ", ".join(f"--os={o} --os_version={v}" for o, v in SUITES)
        raise UsageError(
            f"no base recipe for {os_name} {version}", hint=f"known: {known}"
        ) from None


def bootstrap(ctx: Context, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx bootstrap docker``: make the base image offline from the OS's packages."""
    os_name = str(i.get("os") or "debian").lower()
    version = str(i.get("os_version") or ("12" if os_name == "debian" else "22.04"))
    suite, mirror, keyring = suite_of(os_name, version)
    name = str(i.get("name") or default_name(os_name, version))
    docker.check_daemon()
    found = docker.inspect_image(name)
    if found and not i.get("force"):
        ctx.ui.print(
            f"base image {name} is already here ({found['Id'][:19]}); --force makes it again"
        )
        return {"return": 0, "image": name, "id": found["Id"], "made": False}
    exe = _debootstrap(keyring)
    packages = [p for p in (*PACKAGES, *_listed(i.get("packages"))) if p]
    folder = ctx.state_dir("docker") / f"rootfs-{os.urandom(4).hex()}"
    log = ctx.state_dir("logs") / f"docker-bootstrap-{suite}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    ctx.ui.note(
        f"making base image {name}: debootstrap {suite} from {i.get('mirror') or mirror} "
        f"(a few minutes; log: {log})"
    )
    start = time.monotonic()
    try:
        cmd = [exe, "--variant=minbase", "--include=" + ",".join(packages)]
        if keyring:
            cmd.append(f"--keyring=/usr/share/keyrings/{keyring}")
        _run_logged(ctx, [*cmd, suite, str(folder), str(i.get("mirror") or mirror)], log)
        _slim(folder)
        image_id = _import(folder, name, os_name, version)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ctx.ui.print(f"made base image {name} ({image_id[:19]}) in {time.monotonic() - start:.0f} s")
    return {"return": 0, "image": name, "id": image_id, "made": True}


def _listed(value: Any) -> list[str]:
    from ckx.containers.keys import listed

    return listed(value)


def _debootstrap(keyring: str | None) -> str:
    exe = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if exe is None:
        raise MissingDependencyError(
            "debootstrap is not installed: it makes the base image from the OS's packages",
            hint="apt-get install debootstrap (or load a base image: docker load -i FILE.tar)",
        )
    if keyring and not Path("/usr/share/keyrings", keyring).is_file():
        raise MissingDependencyError(
            f"/usr/share/keyrings/{keyring} is missing: debootstrap cannot check Ubuntu's archive",
            hint="apt-get install ubuntu-keyring (or make a Debian base: --os=debian)",
        )
    if os.geteuid() != 0:
        raise UsageError(
            "debootstrap needs root to make a base image",
            hint="run it as root: sudo ckx bootstrap docker (the image is then everyone's)",
        )
    return exe


def _run_logged(ctx: Context, cmd: list[str], log: Path) -> None:
    with open(log, "w", encoding="utf-8") as f:
        p = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
            errors="replace",
        )
        assert p.stdout is not None
        try:
            for line in p.stdout:
                f.write(line)
                if line.startswith("I: Retrieving") or line.startswith("I: Configuring"):
                    ctx.ui.info("  " + line.strip())
            p.wait()
        except BaseException:
            p.kill()
            p.wait()
            raise
    if p.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-6:]
        raise RunError(
            f"debootstrap failed (exit {p.returncode}):\n" + "\n".join(tail),
            hint=f"its log: {log}; is the package archive reachable? (--mirror=URL picks another)",
        )


def _slim(folder: Path) -> None:
    """Leave out what an image does not need: downloaded packages and package lists."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        d = folder / sub
        for p in d.glob("*"):
            if p.is_file() and p.name != "lock":
                p.unlink()


def _import(folder: Path, name: str, os_name: str, version: str) -> str:
    exe = docker.docker_exe()
    changes = ["ENV LANG=C.UTF-8", 'CMD ["bash"]']
    args = [exe, "import"]
    for c in changes:
        args += ["--change", c]
    tar = subprocess.Popen(
        ["tar", "-C", str(folder), "--numeric-owner", "-c", "."],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        p = subprocess.run([*args, "-", name], stdin=tar.stdout, capture_output=True, text=True)
    finally:
        if tar.stdout:
            tar.stdout.close()
        tar.wait()
    if p.returncode != 0 or tar.returncode != 0:
        err = docker.daemon_error(p.stderr)
        raise err or RunError(f"docker import of the base failed: {p.stderr.strip()[-400:]}")
    return p.stdout.strip()
