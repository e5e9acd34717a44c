"""The Docker Engine, through its command line: checks, images, builds, runs and clean-up.

Every failure a user can meet is a :class:`~ckx.core.errors.CkxError` with a hint: Docker not
installed, the daemon not running, the socket not ours, a base image that is not here, a build
step that failed (named by its Dockerfile line), a container killed or out of memory. Builds use
Docker's classic builder (``DOCKER_BUILDKIT=0``: no buildx component needed, and its
``Step N/M`` lines name the failing instruction) with ``--force-rm``; containers are made
without ``--rm``, inspected when they end (out of memory?) and then removed, also after a
failure or Ctrl-C, so no container ckx made is left behind. What ckx makes is labelled:
images ``org.ckx.image=1``, containers ``org.ckx.container=1`` (a container inherits its
image's labels, so a user's own ``docker run`` of a ckx image is not ckx's), volumes
``org.ckx.volume=1``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from ckx.core.errors import MissingDependencyError, NotFoundError, RunError

#: The labels of what ckx makes: images, the containers it runs, its cache volumes.
LABEL = "org.ckx.image"
CONTAINER_LABEL = "org.ckx.container"
VOLUME_LABEL = "org.ckx.volume"
#: How long ``docker version`` may take before the daemon counts as not answering.
CHECK_TIMEOUT = 30


def docker_exe() -> str:
    """The ``docker`` command, or a clear error saying how to install it."""
    exe = shutil.which("docker")
    if exe is None:
        raise MissingDependencyError(
            "Docker is not installed: there is no `docker` command on PATH",
            hint="install Docker Engine (Debian/Ubuntu: apt-get install docker.io), start it "
            "(systemctl start docker, or dockerd &), then run the command again",
        )
    return exe


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["DOCKER_BUILDKIT"] = "0"  # the classic builder: no buildx needed, Step N/M lines
    env.setdefault("DOCKER_CLI_HINTS", "false")
    return env


def daemon_error(text: str) -> RunError | None:
    """The clear error for what the docker command said when it could not reach the daemon."""
    low = text.lower()
    if "permission denied" in low and ("docker.sock" in low or "daemon socket" in low):
        return RunError(
            "permission denied on the Docker daemon's socket: this user may not use Docker",
            hint="add yourself to the docker group (sudo usermod -aG docker $USER, then log in "
            "again), or run as a user who may; rootless Docker works too (DOCKER_HOST)",
        )
    if "cannot connect to the docker daemon" in low or "is the docker daemon running" in low:
        return RunError(
            "the Docker daemon is not running (" + text.strip().splitlines()[-1][:200] + ")",
            hint="start it: sudo systemctl start docker, or sudo dockerd > /tmp/dockerd.log 2>&1 &"
            " (then run the command again)",
        )
    return None


def run_docker(
    args: Sequence[str], *, timeout: float | None = 120, check: bool = True
) -> subprocess.CompletedProcess:
    """``docker ARGS``, captured; a daemon problem or (with ``check``) a failure is an error."""
    exe = docker_exe()
    try:
        p = subprocess.run(
            [exe, *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=_env(),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RunError(
            f"docker {' '.join(args[:2])} did not answer within {timeout:.0f} s",
            hint="is the Docker daemon stuck? see its log (journalctl -u docker, or dockerd's)",
        ) from None
    if p.returncode != 0:
        err = daemon_error(p.stderr)
        if err is not None:
            raise err
        if check:
            raise RunError(
                f"docker {' '.join(args[:2])} failed: {p.stderr.strip()[-500:]}",
                hint="see: docker " + " ".join(args[:2]) + " --help",
            )
    return p


def check_daemon() -> str:
    """The daemon's version; the clear error when Docker is missing or not usable."""
    p = run_docker(["version", "--format", "{{.Server.Version}}"], timeout=CHECK_TIMEOUT)
    return p.stdout.strip()


def inspect_image(ref: str) -> dict[str, Any] | None:
    """``docker image inspect`` of ``ref``, or None when there is no such image here."""
    p = run_docker(["image", "inspect", ref], check=False)
    if p.returncode != 0:
        return None
    data = json.loads(p.stdout or "[]")
    return data[0] if data else None


def require_base(ref: str) -> dict[str, Any]:
    """The local base image ``ref``; refused before anything is built when it is not here
    (no registry is asked: ckx builds offline)."""
    found = inspect_image(ref)
    if found is None:
        raise NotFoundError(
            f"base image '{ref}' is not on this machine, and ckx does not pull images",
            hint="make one offline from Debian's packages: ckx bootstrap docker "
            "(then --docker_base_image=ckx/debian:12), or load one: docker load -i FILE.tar / "
            "docker import ROOTFS.tar NAME:TAG; docker pull works where a registry is reachable",
        )
    return found


def list_ids(kind: str, *, stopped: bool = False, home: str | None = None) -> list[str]:
    """Ids of ckx's containers (``ps``; ``stopped``: only those not running), images
    (``images``) or cache volumes (``volume``; ``home``: only that ``CKX_HOME``'s)."""
    if kind == "ps":
        args = ["ps", "-a", "-q", "--filter", f"label={CONTAINER_LABEL}"]
        for status in ("exited", "created", "dead") if stopped else ():
            args += ["--filter", f"status={status}"]
    elif kind == "images":
        args = ["images", "-q", "--filter", f"label={LABEL}"]
    else:
        args = ["volume", "ls", "-q", "--filter", f"label={VOLUME_LABEL}"]
        if home is not None:
            args += ["--filter", f"label=org.ckx.home={home}"]
    return sorted(set(run_docker(args).stdout.split()))


def ensure_volume(name: str, labels: dict[str, str]) -> None:
    """Create the named volume unless it exists (labelled as ckx's)."""
    if run_docker(["volume", "inspect", name], check=False).returncode == 0:
        return
    args = ["volume", "create"]
    for k, v in {VOLUME_LABEL: "1", **labels}.items():
        args += ["--label", f"{k}={v}"]
    run_docker([*args, name])


# --- build --------------------------------------------------------------------------------


class BuildFailed(RunError):
    """A ``docker build`` that failed: the step, its Dockerfile line, the output's tail."""


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_PIP = re.compile(r"^\s*(Collecting|Downloading|Installing collected|Successfully installed)")


def instruction_lines(dockerfile: str) -> list[int]:
    """The 1-based line where each instruction of ``dockerfile`` starts (Docker's steps)."""
    out, cont = [], False
    for n, line in enumerate(dockerfile.splitlines(), start=1):
        text = line.strip()
        if not cont and text and not text.startswith("#"):
            out.append(n)
        if not text.startswith("#") or cont:
            cont = text.endswith("\\")
    return out


def build(
    context: Path,
    ref: str,
    *,
    labels: dict[str, str],
    log: Path,
    no_cache: bool,
    build_args: dict[str, str],
    progress: Callable[[str], None],
) -> None:
    """``docker build`` of ``context`` (its ``Dockerfile``) as ``ref``: progress (steps, pip)
    through ``progress``, everything into ``log``; a failure names the Dockerfile line."""
    args = [docker_exe(), "build", "--force-rm", "-t", ref, "-f", str(context / "Dockerfile")]
    for k, v in {LABEL: "1", **labels}.items():
        args += ["--label", f"{k}={v}"]
    for k, v in build_args.items():
        args += ["--build-arg", f"{k}={v}"]
    if no_cache:
        args.append("--no-cache")
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: list[str] = []
    step = ""
    with open(log, "w", encoding="utf-8") as f:
        p = subprocess.Popen(
            [*args, str(context)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=_env(),
        )
        try:
            step = _follow(p, f, tail, progress)
        except BaseException:
            p.kill()
            p.wait()
            raise
    if p.returncode != 0:
        raise _build_error(context, step, tail, log)


def _follow(p: subprocess.Popen, f: IO[str], tail: list[str], progress) -> str:
    step = ""
    assert p.stdout is not None
    for line in p.stdout:
        f.write(line)
        f.flush()
        line = line.rstrip("\n")
        tail.append(line)
        del tail[:-25]
        m = _STEP.match(line)
        if m:
            step = line
            progress(f"  step {m.group(1)}/{m.group(2)}: {m.group(3)[:110]}")
        elif _PIP.match(line):
            progress("    " + line.strip()[:120])
    p.wait()
    return step


def _build_error(context: Path, step: str, tail: list[str], log: Path) -> RunError:
    text = "\n".join(tail)
    err = daemon_error(text)
    if err is not None:
        return err
    m = _STEP.match(step)
    where = ""
    if m:
        lines = instruction_lines((context / "Dockerfile").read_text(encoding="utf-8"))
        n = int(m.group(1))
        line = lines[n - 1] if 0 < n <= len(lines) else None
        where = f" at Dockerfile line {line}" if line else ""
        where += f" (step {m.group(1)}/{m.group(2)}: {m.group(3)[:160]})"
    hint = f"the whole build log: {log}; the Dockerfile: {context / 'Dockerfile'}"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        hint = (
            "pip inside could not verify TLS: point PIP_CERT (or REQUESTS_CA_BUNDLE) at this "
            "machine's CA bundle and run again (ckx copies it into the build); " + hint
        )
    last = [t for t in tail if t.strip() and not t.startswith(" ---> ")][-8:]
    return BuildFailed("the image build failed" + where + ":\n" + "\n".join(last), hint=hint)


# --- run ----------------------------------------------------------------------------------


def run_container(
    args: Sequence[str],
    name: str,
    *,
    stdout: IO[str] | int | None,
    stderr: IO[str] | int | None,
    send: str | None = None,
    interrupt_grace: float = 10.0,
) -> dict[str, Any]:
    """``docker run --name NAME ARGS`` attached; returns the container's final state
    (``ExitCode``, ``OOMKilled``). The container is removed whatever happens: at its end,
    after a failure, and after Ctrl-C (which is passed to it once, then it is stopped).

    Without a terminal inside (``-it``), the client runs in a session of its own with
    ``--sig-proxy=false``: Ctrl-C reaches ckx here only, which passes one SIGINT on.
    ``send``: text for the container's stdin (``-i``), closed after it."""
    exe = docker_exe()
    tty = "-it" in args or "-t" in args
    cmd = [exe, "run", "--name", name, "--label", f"{CONTAINER_LABEL}=1"]
    cmd += ([] if tty else ["--sig-proxy=false"]) + (["-i"] if send is not None else [])
    p = subprocess.Popen(
        [*cmd, *args],
        stdin=subprocess.PIPE if send is not None else None,
        stdout=stdout,
        stderr=stderr,
        env=_env(),
        start_new_session=not tty,
    )
    try:
        _send(p, send)
        p.wait()
        return _final_state(name, p.returncode)
    except KeyboardInterrupt:
        _interrupt(exe, name, p, interrupt_grace)
        raise
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        remove_container(name)


def _send(p: subprocess.Popen, text: str | None) -> None:
    if text is None or p.stdin is None:
        return
    try:
        p.stdin.write(text.encode("utf-8"))
    except BrokenPipeError:  # the container ended first: its state says why
        pass
    finally:
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass


def _interrupt(exe: str, name: str, p: subprocess.Popen, grace: float) -> None:
    """Ctrl-C: the container's ckx gets SIGINT (it keeps nothing half-made), then a stop."""
    subprocess.run([exe, "kill", "--signal=INT", name], capture_output=True, env=_env())
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and p.poll() is None:
        try:
            p.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            break
    subprocess.run([exe, "stop", "-t", "2", name], capture_output=True, env=_env())


def _final_state(name: str, client_code: int) -> dict[str, Any]:
    p = run_docker(["inspect", "--format", "{{json .State}}", name], check=False)
    if p.returncode != 0:  # the container was never made: docker run's own failure
        return {"ExitCode": client_code, "created": False, "OOMKilled": False}
    state = json.loads(p.stdout)
    state["created"] = True
    return state


def remove_container(name: str) -> None:
    """Remove the container ``name`` (running or not); no error when it is gone already."""
    exe = shutil.which("docker")
    if exe:
        subprocess.run(
            [exe, "rm", "-f", "-v", name], capture_output=True, env=_env(), stdin=subprocess.DEVNULL
        )


def terminal() -> bool:
    """Are stdin and stdout terminals (may the container get one: -it)?"""
    return sys.stdin.isatty() and sys.stdout.isatty()
