"""ckx-managed Python virtual environments and Python library packages.

Venvs live in ``CKX_HOME/venvs/<name>``. :func:`create_venv` builds one in a temp folder next
to it (``python -m venv``, then ``pip install`` of the template's requirements), rewrites the
temp path in its scripts to the final one, writes ``ckx-venv.json`` and only then renames it
into place: a venv either is complete or does not exist.

Python library packages (``lib,python-package,NAME``) are :mod:`ckx.artifacts.pythonlibs`: they
pip-install through :func:`pip_install` here, into a venv only (:func:`is_venv_python`).

Pins: ``CKX_PIP_PINS`` (comma-separated requirement specs, e.g. ``torch==2.13.0``) and the
``pip_pins`` list of ``CKX_HOME/config.yaml`` are passed to every ckx pip install as a
constraints file. None by default. ``CKX_PIP_EXTRA_ARGS`` adds pip options (``--no-index
--find-links DIR`` for offline installs).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ckx.artifacts.prepare import read_config
from ckx.core.context import default_home
from ckx.core.errors import ConflictError, NotFoundError, RunError, UsageError
from ckx.core.locks import path_lock
from ckx.core.suggest import did_you_mean

MARKER = "ckx-venv.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: What od-bench needs in a venv (torch is left out: pick it with its pin).
_MLPERF = [
    "numpy",
    "onnx",
    "onnxruntime",
    "mlcommons-loadgen",
    "pycocotools",
    "opencv-python-headless",
    "matplotlib",
]
#: What ``--template`` installs into a new venv.
TEMPLATES: dict[str, list[str]] = {
    "empty": [],
    "mlperf-inference": _MLPERF,
    # CK's template of the MLPerf object-detection tutorial (ck create venv:... --template=
    # mlperf-inference-dev): what od-bench needs plus the tutorial's absl and cython
    "mlperf-inference-dev": [*_MLPERF, "absl-py", "Cython"],
    "mlperf-inference-torch": [*_MLPERF, "torch"],
}
PIP_TIMEOUT_S = 3600.0


@dataclass
class VenvInfo:
    """A ckx venv as recorded in its ``ckx-venv.json``."""

    name: str
    path: Path
    python: Path
    python_version: str
    template: str | None
    requirements: list[str]
    created: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "python": str(self.python),
            "python_version": self.python_version,
            "template": self.template,
            "requirements": self.requirements,
            "created": self.created,
        }


# --- locations ---------------------------------------------------------------------------


def venvs_root(home: Path | str) -> Path:
    """The folder holding every ckx venv."""
    return Path(home) / "venvs"


def venv_dir(home: Path | str, name: str) -> Path:
    """Where the venv ``name`` lives (UsageError for a name that is not a plain word)."""
    if not NAME_RE.match(name or ""):
        raise UsageError(f"bad venv name {name!r}", hint="use letters, digits, '.', '_' and '-'")
    return venvs_root(home) / name


def venv_python(path: Path) -> Path:
    """The interpreter of the venv at ``path``."""
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def is_venv_python(python: Path | str) -> bool:
    """True when ``python`` belongs to a virtual environment (has a ``pyvenv.cfg`` above it)."""
    p = Path(python)
    return (p.parent.parent / "pyvenv.cfg").is_file() or (p.parent / "pyvenv.cfg").is_file()


# --- create / list / remove ----------------------------------------------------------------------


def create_venv(
    home: Path | str,
    name: str,
    *,
    template: str | None = None,
    requirements: Sequence[str] = (),
    python: str | None = None,
    pins: Sequence[str] = (),
    pip_args: Sequence[str] = (),
    force: bool = False,
    system_site_packages: bool = False,
    report: Callable[[str], None] | None = None,
) -> VenvInfo:
    """Create the venv ``name`` atomically and install ``template`` + ``requirements`` into it.

    ConflictError when it exists (unless ``force``: the new one replaces it once complete);
    UsageError for an unknown template; RunError (with pip's last lines) when an install fails,
    in which case nothing is left behind.
    """
    final = venv_dir(home, name)
    reqs = _template(template) + list(requirements)
    root = venvs_root(home)
    root.mkdir(parents=True, exist_ok=True)
    with path_lock(root / ".locks" / name, timeout=PIP_TIMEOUT_S, what=f"create venv {name}"):
        if final.exists() and not force:
            raise ConflictError(
                f"venv '{name}' already exists at {final}",
                hint=f"use it, remove it with `ckx rm venv:{name}`, or add --force",
            )
        tmp = root / f".{name}.tmp-{os.urandom(4).hex()}"
        try:
            _make(tmp, name, python or sys.executable, system_site_packages)
            if reqs:
                pip_install(venv_python(tmp), reqs, pins=pins, extra_args=pip_args, report=report)
            _rewrite_prefix(tmp, final)
            _add_ck_names(tmp)
            info = _write_marker(tmp, final, name, template, reqs)
            _swap_in(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return info


def _template(template: str | None) -> list[str]:
    if template is None:
        return []
    if template not in TEMPLATES:
        raise UsageError(
            f"unknown venv template {template!r}", hint="choose one of: " + ", ".join(TEMPLATES)
        )
    return list(TEMPLATES[template])


def _interpreter(python: str) -> str:
    """``python`` as a path or a name on PATH; NotFoundError when there is no such program."""
    found = shutil.which(python) if os.sep not in python else None
    path = found or python
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise NotFoundError(
            f"no Python interpreter at {python!r} (not an executable file"
            + ("" if os.sep in python else " and not on PATH")
            + ")",
            hint="pass --python=PATH of an installed interpreter, or leave it out to use "
            f"the one running ckx ({sys.executable})",
        )
    return path


def _make(tmp: Path, name: str, python: str, system_site_packages: bool) -> None:
    python = _interpreter(python)
    site = ["--system-site-packages"] if system_site_packages else []
    cmd = [
        python,
        "-m",
        "venv",
        "--prompt",
        name,
        *site,
        str(tmp),
    ]  # the prompt is not the temp name
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600
        )
    except OSError as e:  # not a program after all (a script without a shebang, say)
        raise RunError(f"cannot run {python}: {e.strerror or e}") from None
    if proc.returncode != 0:
        raise RunError(
            f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {_tail(proc.stdout + proc.stderr)}",
            hint="on Debian/Ubuntu: apt-get install python3-venv",
        )


def _rewrite_prefix(tmp: Path, final: Path) -> None:
    """Make the scripts of a venv built at ``tmp`` refer to ``final`` (shebangs, activate)."""
    old, new = str(tmp).encode(), str(final).encode()
    candidates = [tmp / "pyvenv.cfg"]
    bindir = venv_python(tmp).parent
    candidates += [p for p in bindir.iterdir() if p.is_file() and not p.is_symlink()]
    for path in candidates:
        data = path.read_bytes()
        if old in data:
            mode = path.stat().st_mode
            path.write_bytes(data.replace(old, new))
            os.chmod(path, mode)


def _add_ck_names(tmp: Path) -> None:
    """Make ``bin/activate`` (bash, zsh, sh) export ``CK_VENV_PYTHON_BIN`` as CK's ck-venv
    did (the tutorial's ``--full_path=${CK_VENV_PYTHON_BIN}``), and ``deactivate`` unset it."""
    path = venv_python(tmp).parent / "activate"
    if os.name == "nt" or not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    if "deactivate () {" not in text or "CK_VENV_PYTHON_BIN" in text:
        return
    text = text.replace("deactivate () {", "deactivate () {\n    unset CK_VENV_PYTHON_BIN", 1)
    text += (
        "\n# ckx: CK's name for this venv's interpreter (ck-venv exported it too)\n"
        'CK_VENV_PYTHON_BIN="$VIRTUAL_ENV/bin/python"\nexport CK_VENV_PYTHON_BIN\n'
    )
    path.write_text(text, encoding="utf-8")


def _write_marker(
    tmp: Path, final: Path, name: str, template: str | None, reqs: list[str]
) -> VenvInfo:
    version = subprocess.run(
        [str(venv_python(tmp)), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    info = VenvInfo(name, final, venv_python(final), version, template, reqs, time.time())
    (tmp / MARKER).write_text(json.dumps(info.to_dict(), indent=1), encoding="utf-8")
    return info


def _swap_in(tmp: Path, final: Path) -> None:
    old = None
    if final.exists():  # --force: move the old one aside first, drop it after the swap
        old = final.with_name(f".{final.name}.old-{os.urandom(4).hex()}")
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def list_venvs(home: Path | str) -> list[VenvInfo]:
    """Every complete ckx venv, by name."""
    root = venvs_root(home)
    out = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if d.name.startswith(".") or not (d / MARKER).is_file():
            continue
        out.append(load_venv(home, d.name))
    return out


def load_venv(home: Path | str, name: str) -> VenvInfo:
    """The venv ``name`` (NotFoundError with the create command when there is none)."""
    path = venv_dir(home, name)
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        names = [v.name for v in list_venvs(home)] if venvs_root(home).is_dir() else []
        raise NotFoundError(
            f"no ckx venv named '{name}'" + did_you_mean(name, names),
            hint=f"create it with: ckx create venv:{name}",
        ) from None
    return VenvInfo(
        name,
        path,
        venv_python(path),
        data.get("python_version", ""),
        data.get("template"),
        list(data.get("requirements") or []),
        float(data.get("created") or 0),
    )


def remove_venvs(home: Path | str, pattern: str) -> list[str]:
    """Remove the venvs whose name matches ``pattern`` (``*`` wildcards); return their names.

    Each is first renamed to a hidden folder (so it disappears at once), then deleted.
    Leftovers of interrupted creations are swept too.
    """
    root = venvs_root(home)
    if not root.is_dir():
        return []
    removed = []
    for d in sorted(root.iterdir()):
        if d.name.startswith("."):
            if ".tmp-" in d.name or ".old-" in d.name:
                shutil.rmtree(d, ignore_errors=True)
            continue
        if fnmatch.fnmatchcase(d.name, pattern):
            trash = root / f".{d.name}.old-{os.urandom(4).hex()}"
            os.rename(d, trash)
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(d.name)
    return removed


# --- activation ----------------------------------------------------------------------------------


def activate_command(path: Path, shell: str | None = None) -> str:
    """The line that activates the venv at ``path`` in ``shell`` (bash, zsh, sh, fish, csh, cmd,
    powershell; default from ``$SHELL``)."""
    kind = Path(shell or os.environ.get("SHELL") or "bash").name.lower()
    if os.name == "nt" or kind in ("cmd", "cmd.exe"):
        return str(path / "Scripts" / "activate.bat")
    if kind in ("powershell", "pwsh"):
        return f"& {path / 'Scripts' / 'Activate.ps1'}"
    script = {"fish": "activate.fish", "csh": "activate.csh", "tcsh": "activate.csh"}.get(
        kind, "activate"
    )
    return f"source {shlex.quote(str(path / 'bin' / script))}"


def activated_environ(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` as the venv's activate script would leave it (for ``--shell``)."""
    env = dict(environ)
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(path)
    env["PATH"] = str(venv_python(path).parent) + os.pathsep + env.get("PATH", "")
    return env


# --- pip -----------------------------------------------------------------------------------------


def pins_from(environ: Mapping[str, str], home: Path | str | None = None) -> list[str]:
    """The pins in force: ``CKX_PIP_PINS`` entries, then config ``pip_pins``."""
    pins = [p.strip() for p in environ.get("CKX_PIP_PINS", "").split(",") if p.strip()]
    if home is not None:
        pins += [str(p) for p in read_config(Path(home)).get("pip_pins") or []]
    return pins


def pip_args_from(environ: Mapping[str, str]) -> list[str]:
    """Extra pip options from ``CKX_PIP_EXTRA_ARGS`` (shell-split)."""
    return shlex.split(environ.get("CKX_PIP_EXTRA_ARGS", ""))


def pip_install(
    python: Path | str,
    requirements: Sequence[str],
    *,
    pins: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    report: Callable[[str], None] | None = None,
) -> str:
    """``python -m pip install`` the requirements with the pins as constraints; return pip's
    output. Progress goes to ``report`` (default: stderr): pip's Collecting/Downloading/
    Installing lines as they come and, when pip is silent, the elapsed time every
    :data:`HEARTBEAT_S` seconds. RunError naming the requirements, with pip's last lines, on
    failure."""
    import tempfile

    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    cmd += list(extra_args)
    say = report or _stderr_line
    with tempfile.TemporaryDirectory(prefix="ckx-pip-") as tmp:
        if pins:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
            cmd += ["-c", str(constraints)]
        cmd += list(requirements)
        what = f"pip install {' '.join(requirements)}"
        say(f"  {what} (into {python})")
        start = time.time()
        rc, out = _stream(cmd, environ, lambda line: _pip_progress(say, line, start), say, what)
    if rc != 0:
        pinned = f" (pins: {', '.join(pins)})" if pins else ""
        raise RunError(
            f"pip could not install {' '.join(requirements)}{pinned} into {python}:\n{_tail(out)}",
            hint="check the version constraints and pins (CKX_PIP_PINS); offline, point pip at "
            "local wheels with CKX_PIP_EXTRA_ARGS='--no-index --find-links DIR'",
        )
    say(f"  {what}: done in {time.time() - start:.1f} s")
    return out


HEARTBEAT_S = 10.0
_PIP_STEPS = ("Collecting", "Downloading", "Building", "Installing", "Successfully", "ERROR")


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _pip_progress(say: Callable[[str], None], line: str, start: float) -> None:
    text = line.strip()
    if text.startswith(_PIP_STEPS):
        say(f"    [{time.time() - start:5.1f} s] {text[:160]}")


def _stream(
    cmd: list[str],
    environ: Mapping[str, str] | None,
    on_line: Callable[[str], None],
    say: Callable[[str], None],
    what: str,
) -> tuple[int, str]:
    """Run ``cmd``; feed each output line to ``on_line``; while it is silent, say how long it
    has been running every :data:`HEARTBEAT_S` s. Returns (exit code, whole output)."""
    import queue
    import threading

    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=dict(environ) if environ is not None else None,
    )
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for x in proc.stdout or ():
            lines.put(x)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out: list[str] = []
    start = last = time.time()
    try:
        while reader.is_alive() or not lines.empty():
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if time.time() - last >= HEARTBEAT_S:
                    last = time.time()
                    say(f"    ... {what}: still running, {last - start:.0f} s")
                if time.time() - start > PIP_TIMEOUT_S:
                    raise RunError(f"{what} took more than {PIP_TIMEOUT_S:.0f} s") from None
                continue
            out.append(line)
            on_line(line)
            last = time.time()
        return proc.wait(), "".join(out)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the interpreter of scripts and programs ------------------------------------------------------


def current_python(env: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str:
    """The interpreter programs and scripts run with when none was chosen: the ckx venv named
    by ``CKX_VENV`` (``--env.CKX_VENV=NAME`` or the environment), else the activated virtual
    environment (``VIRTUAL_ENV``, what ``ckx activate venv:NAME`` sets), else the Python
    running ckx. The same order as :func:`ckx.artifacts.pythonlibs.select_python` for library
    packages, so what ``ckx install package`` put into a venv is what a program run in it
    imports."""
    environ = os.environ if environ is None else environ
    name = env.get("CKX_VENV") or environ.get("CKX_VENV")
    if name:
        return str(load_venv(default_home(environ), str(name)).python)
    active = environ.get("VIRTUAL_ENV")
    if active and venv_python(Path(active)).exists():
        return str(venv_python(Path(active)))
    return sys.executable


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
