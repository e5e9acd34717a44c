"""Python library packages: the ``lib-python-*`` package entries (``lib,python-package,NAME``).

Each entry describes its library once (docs/packages.md, "Python libraries")::

    env_prefix: CKX_PYTHONLIB_NUMPY        # CKX_PYTHONLIB_ + the pip name (the default)
    detect:                                 # how it is found in an interpreter
      python_package: [numpy]               # its distributions, tried in order
      import_name: numpy                    # the module that must import
      env_key: CKX_PYTHONLIB_NUMPY_PATH
    python_package:                         # how it is installed
      name: numpy                           # pip's name for it
      versions: [...]                       # optional: CK's "select a version" menu

Its ``customize.py`` is :func:`python_package_preprocess`: the library is detected in the
selected interpreter (:func:`select_python`: ``CKX_VENV`` (a ckx venv name), else
``CKX_PYTHON_BIN_WITH_PATH`` (get-python3), else the active ``VIRTUAL_ENV``, else the Python
running ckx); when absent, or when no installed version fits the constraints, it is
pip-installed there, only into a virtual environment. With ``CKX_PYTHON_PACKAGE_DETECT_ONLY``
set (what get-generic-python-lib, the MLCFlow-named front of these entries, asks) nothing is
installed: a library that is not there is an error whose hint installs it.

It exports ``<env_prefix>_VERSION``, ``<env_prefix>_PATH`` (the imported package folder or
module file) and ``CKX_VENV_PYTHON``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ckx.artifacts.detect import Detected, DetectSpec, detect, print_to_stderr
from ckx.artifacts.venvs import (
    is_venv_python,
    load_venv,
    pins_from,
    pip_args_from,
    pip_install,
    venv_python,
)
from ckx.core.errors import MetaError, RunError, UsageError
from ckx.core.versions import satisfies

#: Set (to yes) in a package's env: detect the library, never install it.
DETECT_ONLY = "CKX_PYTHON_PACKAGE_DETECT_ONLY"
_TRUE = ("1", "yes", "true", "on")


def env_prefix_for(pip_name: str) -> str:
    """The env prefix of a library named ``pip_name`` on PyPI: ``CKX_PYTHONLIB_`` and the name
    upper-cased, each run of other characters an ``_`` (``opencv-python-headless`` ->
    ``CKX_PYTHONLIB_OPENCV_PYTHON_HEADLESS``; MLCFlow's rule, with ckx's prefix)."""
    return "CKX_PYTHONLIB_" + re.sub(r"[^A-Za-z0-9]+", "_", pip_name).upper().strip("_")


def requirement_for(name: str, constraints: Mapping[str, str | None]) -> str:
    """A pip requirement for ``name`` from ckx version constraints (version, version_min,
    version_max, version_max_usable)."""
    if constraints.get("version"):
        return f"{name}=={constraints['version']}"
    parts = []
    if constraints.get("version_min"):
        parts.append(f">={constraints['version_min']}")
    top = constraints.get("version_max_usable") or constraints.get("version_max")
    if top:
        parts.append(f"<={top}")
    return name + ",".join(parts)


def select_python(env: Mapping[str, Any], environ: Mapping[str, str], home: Path | str) -> Path:
    """The interpreter a Python library package is detected in and installed into."""
    name = env.get("CKX_VENV") or environ.get("CKX_VENV")
    if name:
        return load_venv(home, str(name)).python
    for value in (env.get("CKX_PYTHON_BIN_WITH_PATH"), environ.get("VIRTUAL_ENV")):
        if value:
            p = Path(str(value))
            return venv_python(p) if p.is_dir() else p
    return Path(sys.executable)


@dataclass
class PythonPackage:
    """A library package's description: pip's ``name`` for it (``python_package.name``), the
    distributions that count as it and the module that must import (its ``detect`` block),
    and the ``env_prefix`` of what it exports."""

    name: str
    dists: list[str]
    import_name: str | None
    env_prefix: str

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], where: str) -> PythonPackage:
        """From an entry's meta (variations applied); MetaError naming ``where`` if it is not
        a library package."""
        block = meta.get("python_package")
        if not isinstance(block, dict) or not block.get("name"):
            raise MetaError(
                f"{where}: field 'python_package' must be a mapping with at least 'name'",
                hint="for a library of any name: --tags=lib,python-package,generic,_package.NAME",
            )
        name = str(block["name"])
        found = meta.get("detect") or {}
        dists = found.get("python_package") or [name]
        return cls(
            name,
            [str(d) for d in ([dists] if isinstance(dists, str) else dists)],
            str(found["import_name"]) if found.get("import_name") else None,
            str(meta.get("env_prefix") or env_prefix_for(name)),
        )

    def spec(self, where: str) -> DetectSpec:
        block: dict[str, Any] = {"python_package": self.dists}
        if self.import_name:
            block["import_name"] = self.import_name
        return DetectSpec.from_meta(block, where, env_prefix=self.env_prefix)


def ensure_python_package(
    pkg: PythonPackage,
    *,
    python: Path,
    constraints: Mapping[str, str | None],
    pins: list[str] | tuple[str, ...] = (),
    pip_args: list[str] | tuple[str, ...] = (),
    warn: Callable[[str], None] | None = None,
    where: str = "package",
    install: bool = True,
    request: str = "",
) -> dict[str, Any]:
    """Detect ``pkg`` in ``python``; when absent (or no version fits ``constraints``), pip
    install it there — only into a virtual environment, and only with ``install`` — and
    detect again. ``request`` is the ckx command line that names the package (for hints).

    Returns ``{"version", "path", "installed": bool, "env": {...}}``.
    """
    found = _detect_fit(pkg, python, constraints, warn, where)
    installed = False
    if found is None and not install:
        raise RunError(
            f"{where}: {pkg.name} {_describe(constraints)}is not installed in {python}",
            hint=install_hint(pkg, python, request),
        )
    if found is None:
        if not is_venv_python(python):
            raise RunError(
                f"{where}: {pkg.name} {_describe(constraints)}is not installed in {python}, which is "
                "not a virtual environment, so ckx will not pip-install into it",
                hint=install_hint(pkg, python, request),
            )
        pip_install(
            python, [requirement_for(pkg.name, constraints)], pins=pins, extra_args=pip_args
        )
        installed = True
        found = _detect_fit(pkg, python, constraints, warn, where)
        if found is None:
            raise RunError(
                f"{where}: pip installed {pkg.name} into {python} but it cannot be imported as "
                f"'{pkg.import_name}' or its version does not fit {_describe(constraints)}".rstrip()
            )
    env = dict(found.env)
    if found.path is not None:
        env[f"{pkg.env_prefix}_PATH"] = str(found.path)
    env["CKX_VENV_PYTHON"] = str(python)
    return {"version": found.version, "path": found.path, "installed": installed, "env": env}


def install_hint(pkg: PythonPackage, python: Path, request: str = "") -> str:
    """A command that installs ``pkg`` into ``python``: ckx's (``request``: ``ckx install
    package:ALIAS ...``) for a virtual environment, pip's own (or a venv to create) for a
    system Python, where ckx does not pip-install."""
    if is_venv_python(python) and request:
        return f"install it there: {request} --env.CKX_PYTHON_BIN_WITH_PATH={python}"
    if is_venv_python(python):
        return f"install it there: {python} -m pip install {pkg.name}"
    return (
        f"{python} is a system Python: install it yourself ({python} -m pip install {pkg.name}),"
        " or create a venv with it and select it: ckx create venv:mlperf"
        " --template=mlperf-inference, then --env.CKX_VENV=mlperf"
    )


def detect_package(pkg: PythonPackage, python: Path, constraints: Mapping[str, str | None]):
    """The installation of ``pkg`` in ``python`` that fits ``constraints`` (or None); warnings
    of a misbehaving interpreter are dropped (this is a look, for ``--plan``)."""
    return _detect_fit(pkg, python, constraints, lambda _msg: None, pkg.name)


def _detect_fit(
    pkg: PythonPackage,
    python: Path,
    constraints: Mapping[str, str | None],
    warn: Callable[[str], None] | None,
    where: str,
) -> Detected | None:
    joint = {
        k: v for k, v in constraints.items() if k in ("version", "version_min", "version_max") and v
    }
    for d in detect(pkg.spec(where), python=str(python), warn=warn or print_to_stderr):
        if d.version is None or satisfies(d.version, **joint):
            return d
    return None


def _describe(constraints: Mapping[str, str | None]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in constraints.items() if v)
    return f"({text}) " if text else ""


def detect_only(env: Mapping[str, Any]) -> bool:
    """Does ``env`` ask a library package to detect only (:data:`DETECT_ONLY`)?"""
    return str(env.get(DETECT_ONLY) or "").strip().lower() in _TRUE


def python_package_preprocess(i) -> dict[str, Any]:
    """The ``preprocess`` hook of the ``lib-python-*`` packages (their customize.py imports it)."""
    from ckx.core.context import default_home

    meta = i.meta
    where = str(meta.get("alias") or "lib-python")
    if meta.get("python_package") is None and meta.get("variations", {}).get("package.#"):
        raise UsageError(
            f"{where}: which library? name it: _package.NAME (its pip name)",
            hint="for example: ckx install package --tags=lib,python-package,generic,_package.six",
        )
    pkg = PythonPackage.from_meta(meta, where)
    environ = dict(i.base_environ or os.environ)
    home = Path(i.objects_root).parent if getattr(i, "objects_root", None) else None
    home = home or default_home(environ)
    python = select_python(i.env, environ, home)
    out = ensure_python_package(
        pkg,
        python=python,
        constraints=dict(i.constraints or {}),
        pins=pins_from(environ, home),
        pip_args=pip_args_from(environ),
        where=f"{where} (in {' → '.join(i.chain)})" if len(i.chain) > 1 else where,
        install=not detect_only(i.env),
        request=f"ckx install package:{where}"
        + (f" --tags={','.join('_' + v for v in i.variations)}" if i.variations else ""),
    )
    i.env.update(out["env"])
    return {"return": 0, "version": out["version"]}


def describe_for_plan(
    meta: Mapping[str, Any],
    static_env: Mapping[str, Any],
    environ: Mapping[str, str],
    home: Path,
    constraints: Mapping[str, str | None],
    where: str,
) -> str | None:
    """The ``--plan`` line of a library package node: what is in the interpreter already, or
    what would be pip-installed there (nothing is installed). None for a node that only
    detects (get-generic-python-lib's): it installs nothing, so there is nothing to say before
    it runs, and the plan is not slowed by probing interpreters."""
    if detect_only(static_env):
        return None
    pkg = PythonPackage.from_meta(meta, where)
    python = select_python(static_env, environ, home)
    found = detect_package(pkg, python, constraints)
    want = ", ".join(f"{k}={v}" for k, v in constraints.items() if v)
    if found is not None:
        return f"{pkg.name} {found.version} is installed in {python} (nothing to install)"
    if detect_only(static_env):
        return (
            f"{pkg.name} {want} is not in {python}: the run stops there (detection only)".replace(
                "  ", " "
            )
        )
    if not is_venv_python(python):
        return (
            f"{pkg.name} {want} is not in {python}, a system Python: ckx will not pip-install there"
        )
    return f"pip install {requirement_for(pkg.name, constraints)} into {python}" + (
        " (not installed there)" if not want else ""
    )
