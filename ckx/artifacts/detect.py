"""Declarative software detection: the ``detect`` blocks of package entries and scripts.

A package entry (``packages/<alias>/meta.yaml``) describes a piece of software once: how it
is installed and, in a ``detect`` block, how an existing installation is found (see
docs/detection.md; ``ckx detect soft`` is the view of these entries)::

    detect:
      executables: ['^python3(\\.\\d+)?$']   # regexes searched in file names (re.search)
      version_args: ['--version']           # run `<exe> <args>` with a timeout
      version_regex: 'Python\\s+(\\d+\\.\\d+\\.\\d+)'  # group 1 is the version
      env_key: CKX_PYTHON_BIN_WITH_PATH     # env var set to the found path (optional)

or, for a Python distribution::

    detect:
      python_package: [opencv-python-headless, opencv-python]   # candidate dists, in order
      import_name: cv2                                           # checked by importing it

An entry may add ``customize.py`` with a ``detect_version(i)`` hook (alias ``determine_version``)
to compute the version itself; the engine loads and checks that file against its hook spec
(``ckx.engine.hookspec``) and hands the hook over as ``DetectSpec.version_hook``.
Detection never raises for a tool that misbehaves: a crash, a hang (timeout), garbage output
or a broken hook is reported through the ``warn`` callback and the candidate is skipped. Only a
malformed ``detect`` block raises :class:`~ckx.core.errors.MetaError`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ckx.core.errors import MetaError, RunError, UsageError

__all__ = [
    "DEFAULT_PYTHON_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "DetectSpec",
    "Detected",
    "detect",
    "find_executables",
    "load_detector",
    "print_to_stderr",
    "probe_version",
]

DEFAULT_TIMEOUT = 5.0
# Importing a big library (torch) in a fresh interpreter takes seconds on a busy machine.
DEFAULT_PYTHON_TIMEOUT = 60.0

Warn = Callable[[str], None]

_FIELDS = (
    "executables",
    "version_args",
    "version_regex",
    "env_key",
    "python_package",
    "import_name",
)
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMPORT_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def print_to_stderr(message: str) -> None:
    """The default ``warn`` callback: one ``warning:`` line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class Detected:
    """One detected installation.

    ``path`` is the executable (or, for a Python package, the imported module's directory
    or file, else the distribution's location); ``env`` holds the variables a cached env
    entry should export; ``details`` holds extra facts (``dist``, ``python``, ``output`` …).
    """

    path: Path | None
    version: str | None
    env: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DetectSpec:
    """A validated ``detect`` block (build it with :meth:`from_meta`)."""

    where: str
    executables: tuple[re.Pattern[str], ...] = ()
    version_args: tuple[str, ...] = ("--version",)
    version_regex: re.Pattern[str] | None = None
    env_key: str | None = None
    python_package: tuple[str, ...] = ()
    import_name: str | None = None
    env_prefix: str | None = None
    version_hook: Callable[[dict], Any] | None = None
    hook_file: str | None = None
    hook_name: str = "detect_version"

    @property
    def is_python_package(self) -> bool:
        return bool(self.python_package)

    @classmethod
    def from_meta(
        cls,
        meta_detect: Any,
        where: str,
        *,
        env_prefix: str | None = None,
        version_hook: Callable[[dict], Any] | None = None,
        hook_file: str | None = None,
        hook_name: str = "detect_version",
    ) -> DetectSpec:
        """Validate a ``detect`` block; ``where`` names the entry or file in messages.

        ``env_prefix`` (the entry's field) adds ``<prefix>_VERSION`` to detected env;
        ``version_hook`` (checked by the caller, defined in ``hook_file`` as ``hook_name``)
        computes a candidate's version. Raises :class:`~ckx.core.errors.MetaError` naming ``where`` and the field.
        """
        if not isinstance(meta_detect, dict):
            raise _meta_error(where, "detect", f"must be a mapping, got {_kind(meta_detect)}")
        _reject_unknown_fields(meta_detect, where)
        executables = _compile_executables(meta_detect.get("executables"), where)
        python_package = _python_package(meta_detect.get("python_package"), where)
        if bool(executables) == bool(python_package):
            raise _meta_error(
                where,
                "detect",
                "needs exactly one of 'executables' or 'python_package'",
                hint="list executable name regexes, or the Python distribution name(s)",
            )
        if env_prefix is not None and not _ENV_KEY.match(str(env_prefix)):
            raise _meta_error(where, "env_prefix", f"{env_prefix!r} is not an env var name")
        return cls(
            where=where,
            executables=executables,
            version_args=_version_args(meta_detect.get("version_args"), where),
            version_regex=_version_regex(meta_detect.get("version_regex"), where),
            env_key=_optional_name(meta_detect, "env_key", _ENV_KEY, where),
            python_package=python_package,
            import_name=_optional_name(meta_detect, "import_name", _IMPORT_NAME, where),
            env_prefix=env_prefix,
            version_hook=version_hook,
            hook_file=hook_file if version_hook else None,
            hook_name=hook_name,
        )


# --------------------------------------------------------------------------- validation


def _kind(value: Any) -> str:
    return type(value).__name__


def _meta_error(where: str, field_name: str, problem: str, hint: str | None = None) -> MetaError:
    return MetaError(f"{where}: field '{field_name}' {problem}", hint=hint)


def _reject_unknown_fields(block: dict, where: str) -> None:
    for key in block:
        if key not in _FIELDS:
            from difflib import get_close_matches

            close = get_close_matches(str(key), _FIELDS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(_FIELDS)}"
            raise _meta_error(where, f"detect.{key}", "is not a known field", hint=hint)


def _string_list(value: Any, where: str, field_name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _meta_error(where, field_name, "must be a non-empty string or a list of them")
    return value


def _compile(pattern: str, where: str, field_name: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise _meta_error(
            where,
            field_name,
            f"is not a valid regular expression ({exc}): {pattern!r}",
            hint="fix the regex (Python 're' syntax); in YAML prefer single quotes",
        ) from None


def _compile_executables(value: Any, where: str) -> tuple[re.Pattern[str], ...]:
    patterns = _string_list(value, where, "detect.executables")
    return tuple(_compile(p, where, f"detect.executables[{n}]") for n, p in enumerate(patterns))


def _python_package(value: Any, where: str) -> tuple[str, ...]:
    return tuple(_string_list(value, where, "detect.python_package"))


def _version_args(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ("--version",)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _meta_error(
            where, "detect.version_args", f"must be a list of strings, got {_kind(value)}"
        )
    return tuple(value)


def _version_regex(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _meta_error(where, "detect.version_regex", f"must be a string, got {_kind(value)}")
    pattern = _compile(value, where, "detect.version_regex")
    if pattern.groups < 1:
        raise _meta_error(
            where,
            "detect.version_regex",
            f"has no capturing group: {value!r}",
            hint="put the version in group 1, e.g. 'version\\s+(\\d+(\\.\\d+)+)'",
        )
    return pattern


def _optional_name(block: dict, key: str, rule: re.Pattern[str], where: str) -> str | None:
    value = block.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not rule.match(value):
        raise _meta_error(where, f"detect.{key}", f"is not a valid name: {value!r}")
    return value


# --------------------------------------------------------------------------- hooks


def load_detector(
    entry_dir: str | os.PathLike[str],
    *,
    version_hook: Callable[[dict], Any] | None = None,
    hook_file: str | None = None,
    hook_name: str = "detect_version",
) -> DetectSpec:
    """Build the spec of an entry folder: its ``meta.yaml``/``meta.json`` ``detect``
    block and its ``env_prefix``; ``version_hook`` is its ``customize.py`` hook, loaded and
    checked by the engine (``ckx.engine.hooks.load_detector`` does both)."""
    entry_dir = Path(entry_dir)
    meta_path = _meta_file(entry_dir)
    meta = _read_meta(meta_path)
    if "detect" not in meta:
        raise _meta_error(str(meta_path), "detect", "is missing", hint="add a detect block")
    return DetectSpec.from_meta(
        meta["detect"],
        str(meta_path),
        env_prefix=meta.get("env_prefix"),
        version_hook=version_hook,
        hook_file=hook_file,
        hook_name=hook_name,
    )


def _meta_file(entry_dir: Path) -> Path:
    for name in ("meta.yaml", "meta.json"):
        if (entry_dir / name).is_file():
            return entry_dir / name
    raise MetaError(f"{entry_dir}: no meta.yaml or meta.json", hint="is this an entry folder?")


def _read_meta(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except Exception as exc:
        raise MetaError(f"{path}: cannot be parsed: {exc}") from None
    if not isinstance(data, dict):
        raise MetaError(f"{path}: must hold a mapping at the top level, got {_kind(data)}")
    return data


# --------------------------------------------------------------------------- executables


def _names_to_match(path: Path) -> list[str]:
    names = [path.name]
    if os.name == "nt":  # `python.exe` should match '^python$' too
        exts = os.environ.get("PATHEXT", ".EXE;.BAT;.CMD").lower().split(";")
        if path.suffix.lower() in exts:
            names.append(path.stem)
    return names


def _is_executable_file(path: Path) -> bool:
    try:
        return path.is_file() and os.access(path, os.X_OK)
    except OSError:
        return False


def _search_order(search_dirs: Iterable[str | os.PathLike[str]] | None, path_env: str | None):
    path_env = os.environ.get("PATH", "") if path_env is None else path_env
    dirs = [d for d in path_env.split(os.pathsep) if d]
    dirs += [os.fspath(d) for d in search_dirs or ()]
    return dirs


def _matching_files(directory: str, patterns: Sequence[re.Pattern[str]]) -> list[Path]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:  # missing or unreadable PATH entries are normal
        return []
    found = []
    for name in names:
        path = Path(directory) / name
        if any(p.search(n) for p in patterns for n in _names_to_match(path)):
            found.append(path)
    return found


def find_executables(
    spec: DetectSpec,
    *,
    search_dirs: Iterable[str | os.PathLike[str]] | None = None,
    path_env: str | None = None,
    full_path: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Executable files whose name matches one of ``spec.executables``.

    Searched in ``PATH`` order (``path_env`` overrides ``$PATH``; pass ``""`` to skip it),
    then in ``search_dirs``; within a folder, by name. Files that are not executable are
    skipped; links to an already found real file are dropped (the first name is kept).
    ``full_path`` checks that one file only (its name need not match: the user chose it).
    """
    if full_path is not None:
        given = Path(full_path)
        chosen = _through_shim(given) if _is_executable_file(given) else None
        return [chosen] if chosen is not None else []
    found: list[Path] = []
    seen: set[str] = set()
    for directory in _search_order(search_dirs, path_env):
        for match in _matching_files(directory, spec.executables):
            path = _through_shim(match) if _is_executable_file(match) else None
            real = os.path.normcase(os.path.realpath(path)) if path is not None else None
            if path is not None and real is not None and real not in seen:
                seen.add(real)
                found.append(path)
    return found


# pyenv's shims end with: exec "<PYENV_ROOT>/libexec/pyenv" exec "$program" "$@"
_PYENV_SHIM = re.compile(rb'exec\s+"([^"\n]*/pyenv)"\s+exec\s+"\$program"')


def pyenv_of_shim(path: Path) -> str | None:
    """The ``pyenv`` a pyenv shim runs (None: ``path`` is not a pyenv shim)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    match = _PYENV_SHIM.search(head) if head.startswith(b"#!") else None
    return match.group(1).decode("utf-8", "replace") if match else None


def _through_shim(path: Path) -> Path | None:
    """``path``, or for a pyenv shim the interpreter it runs now (``pyenv which NAME``): a shim
    is not an installation. None when pyenv provides no such command now (a version that
    is installed but not selected): nothing to detect there, and nothing to warn about."""
    pyenv = pyenv_of_shim(path)
    if pyenv is None:
        return path
    try:
        code, out = _run([pyenv, "which", path.name], DEFAULT_TIMEOUT)
    except RunError:
        return None
    lines = [x.strip() for x in out.splitlines() if x.strip()]
    real = Path(lines[-1]) if code == 0 and lines else None
    return real if real is not None and _is_executable_file(real) else None


def _run(cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``cmd``; return (exit code, stdout+stderr). Raises RunError on timeout/OSError.

    The child gets its own process group so a timeout also kills what it spawned (a
    shell script's ``sleep``), and stdin is closed so a prompting tool cannot hang us.
    """
    import subprocess  # here: not on the engine's cached path

    env = dict(os.environ if env is None else env)
    env.update(LC_ALL="C", LANG="C")  # version banners must not be translated
    posix = os.name == "posix"
    try:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=posix,
        )
    except OSError as exc:
        raise RunError(f"cannot run {_show(cmd)}: {exc.strerror or exc}") from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc, posix)
        raise RunError(f"{_show(cmd)} did not finish within {timeout:g} s") from None
    return proc.returncode, out.decode("utf-8", errors="replace")


def _kill(proc: Any, posix: bool) -> None:
    import signal

    try:
        if posix:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass  # already gone
    proc.communicate()


def _show(cmd: Sequence[str]) -> str:
    return " ".join(str(c) for c in cmd)


def _version_from_output(output: str, spec: DetectSpec) -> str | None:
    if spec.version_regex is None:
        return None
    match = spec.version_regex.search(output)
    return match.group(1) if match and match.group(1) else None


def _call_hook(exe: Path, output: str, spec: DetectSpec, timeout: float, warn: Warn) -> str | None:
    def run(args: Sequence[str]) -> str:
        """Run the found executable with ``args``; return its stdout+stderr."""
        return _run([str(exe), *args], timeout)[1]

    i = {"exe": exe, "output": output, "run": run, "where": spec.where}
    assert spec.version_hook is not None
    name = spec.hook_name
    try:
        result = spec.version_hook(i)
    except Exception as exc:  # a broken hook must not stop detection of other tools
        warn(f"{spec.hook_file}: {name} failed for {exe}: {type(exc).__name__}: {exc}")
        return None
    if isinstance(result, dict):  # the hook spec's dict form: {"version": ...}
        result = result.get("version")
    if result is not None and not isinstance(result, str):
        warn(
            f"{spec.hook_file}: {name} must return a str or None "
            f"(or a dict with 'version'), got {_kind(result)}"
        )
        return None
    if not result:
        warn(f"{spec.hook_file}: {name} found no version for {exe}")
        return None
    return result


def probe_version(
    exe: str | os.PathLike[str],
    spec: DetectSpec,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    warn: Warn = print_to_stderr,
) -> str | None:
    """The version of ``exe``: run ``exe *version_args`` and apply the hook or the regex.

    Any failure (cannot run, timeout, no match, hook error) is passed to ``warn`` and gives
    None; this function never raises for a misbehaving tool.
    """
    exe = Path(exe)
    output = ""
    if spec.version_args:
        try:
            code, output = _run([str(exe), *spec.version_args], timeout)
        except RunError as exc:
            warn(f"{spec.where}: {exc}")
            return None
    else:
        code = 0
    if spec.version_hook is not None:
        version = _call_hook(exe, output, spec, timeout, warn)
    else:
        version = _version_from_output(output, spec)
    if version is None and spec.version_hook is None:
        first = output.strip().splitlines()[0][:120] if output.strip() else "(no output)"
        status = f"exit code {code}, " if code else ""
        warn(f"{spec.where}: no version found in the output of {exe} ({status}{first!r})")
    return version


# --------------------------------------------------------------------------- python packages

# Runs inside the probed interpreter; argv: import name ('' for none), then dist names.
# It prints one JSON object so nothing the module prints on import can confuse us.
_PY_PROBE = r"""
import importlib, importlib.metadata as md, json, sys
imp, dists = sys.argv[1], sys.argv[2:]
out = {"dists": [], "module_file": None, "import_error": None}
seen = set()
for name in dists:
    try:
        d = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    where = str(d.locate_file(""))
    if (d.metadata["Name"] or name).lower().replace("_", "-") + where in seen:
        continue  # Cython and cython name one installation
    seen.add((d.metadata["Name"] or name).lower().replace("_", "-") + where)
    out["dists"].append({"name": name, "version": d.version, "location": where})
if imp and out["dists"]:
    try:
        m = importlib.import_module(imp)
        out["module_file"] = getattr(m, "__file__", None)
    except BaseException as e:
        out["import_error"] = "%s: %s" % (type(e).__name__, e)
print("\n@@CKX-PROBE@@" + json.dumps(out))
"""


def _python_cmd(python: str | os.PathLike[str] | Sequence[str] | None) -> list[str]:
    if python is None:
        return [sys.executable]
    if isinstance(python, (str, os.PathLike)):
        return [os.fspath(python)]
    return [os.fspath(p) for p in python]


def _probe_python(
    spec: DetectSpec,
    python: list[str],
    extra_paths: list[str],
    timeout: float,
    warn: Warn,
) -> dict | None:
    env = dict(os.environ)
    if extra_paths:  # search_dirs act as site dirs placed first on the probe's sys.path
        old = env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join(extra_paths + ([old] if old else []))
    cmd = [*python, "-c", _PY_PROBE, spec.import_name or "", *spec.python_package]
    try:
        code, output = _run(cmd, timeout, env=env)
    except RunError as exc:
        warn(f"{spec.where}: probing Python packages failed: {exc}")
        return None
    marker = output.rfind("@@CKX-PROBE@@")
    if code != 0 or marker < 0:
        tail = output.strip().splitlines()[-1:] or ["(no output)"]
        warn(f"{spec.where}: {_show(python)} could not probe packages (exit {code}): {tail[0]}")
        return None
    return json.loads(output[marker + len("@@CKX-PROBE@@") :].splitlines()[0])


def _detect_python_package(
    spec: DetectSpec,
    python: list[str],
    search_dirs: list[str],
    timeout: float,
    warn: Warn,
) -> list[Detected]:
    probe = _probe_python(spec, python, search_dirs, timeout, warn)
    if not probe or not probe["dists"]:
        return []
    if probe["import_error"]:
        warn(
            f"{spec.where}: {', '.join(d['name'] for d in probe['dists'])} installed but "
            f"'import {spec.import_name}' fails: {probe['import_error']}"
        )
        return []
    module_file = probe["module_file"]
    results = []
    for dist in probe["dists"]:
        path = _module_path(module_file) if module_file else Path(dist["location"])
        details = {
            "dist": dist["name"],
            "python": _show(python),
            "location": dist["location"],
            "module_file": module_file,
        }
        results.append(Detected(path, dist["version"], _env(spec, path, dist["version"]), details))
    return results


def _module_path(module_file: str) -> Path:
    path = Path(module_file)
    # A package is named by its folder (.../numpy), a single-file module by its file.
    return path.parent if path.name.startswith("__init__.") else path


# --------------------------------------------------------------------------- detect


def _env(spec: DetectSpec, path: Path | None, version: str | None) -> dict[str, str]:
    env = {}
    if spec.env_key and path is not None:
        env[spec.env_key] = str(path)
    if spec.env_prefix and version:
        env[f"{spec.env_prefix}_VERSION"] = version
    return env


def _wants_version(spec: DetectSpec) -> bool:
    return spec.version_regex is not None or spec.version_hook is not None


def detect(
    spec: DetectSpec,
    *,
    search_dirs: Iterable[str | os.PathLike[str]] | None = None,
    full_path: str | os.PathLike[str] | None = None,
    python: str | os.PathLike[str] | Sequence[str] | None = None,
    timeout: float | None = None,
    warn: Warn = print_to_stderr,
    path_env: str | None = None,
) -> list[Detected]:
    """Find every installation that ``spec`` describes, in search order.

    Executables: see :func:`find_executables` for ``search_dirs``/``path_env``/``full_path``;
    each candidate is probed (``timeout`` seconds, default :data:`DEFAULT_TIMEOUT`); one whose
    version cannot be determined is warned about and left out (when the spec asks for a
    version at all).

    Python packages: ``python`` is the interpreter (a path, or a command prefix such as
    ``[python, "-S"]``; default ``sys.executable``) run once with a probe script;
    ``search_dirs`` are put first on its ``PYTHONPATH``; ``timeout`` defaults to
    :data:`DEFAULT_PYTHON_TIMEOUT`. Each installed candidate distribution gives one result;
    if ``import_name`` is set and the import fails, nothing is returned (with a warning).
    """
    if spec.is_python_package:
        if full_path is not None:
            raise UsageError(
                f"{spec.where}: full_path does not apply to a Python package detector",
                hint="pass python=<interpreter> to probe another environment",
            )
        dirs = [os.fspath(d) for d in search_dirs or ()]
        limit = DEFAULT_PYTHON_TIMEOUT if timeout is None else timeout
        return _detect_python_package(spec, _python_cmd(python), dirs, limit, warn)
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    exes = find_executables(spec, search_dirs=search_dirs, path_env=path_env, full_path=full_path)
    if full_path is not None and not exes:
        shim = pyenv_of_shim(Path(full_path))
        why = f"a pyenv shim for a command pyenv does not provide now ({Path(full_path).name}: see `pyenv versions`)"
        warn(f"{spec.where}: {full_path} is " + (why if shim else "not an executable file"))
    results = []
    for exe in exes:
        version = (
            probe_version(exe, spec, timeout=limit, warn=warn) if _wants_version(spec) else None
        )
        if version is None and _wants_version(spec):
            continue
        results.append(Detected(exe, version, _env(spec, exe, version), {}))
    return results
