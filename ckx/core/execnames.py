"""Names whose values say what to run: executables, interpreters, commands, search paths.

Two places take such a value only from someone trusted (see docs/security.md):

* ``ckx serve`` without a token refuses a request input with such a name (it refuses ``env``
  and ``adr`` whole), so a client of an open server can run registered entries, never a
  program of its choosing;
* ``ckx replay`` never takes such a value from a record (an imported ``ckr.zip`` could name
  any file of this machine): the replay uses what this machine resolves today, unless the
  command line names one.

The rule reads the name, never the value: ``CKX_PYTHON_BIN_WITH_PATH``, ``MLC_RUN_CMD``,
``PATH``, ``LD_PRELOAD``, ``PYTHONSTARTUP``, ``BASH_ENV`` and ``custom-path`` (a variation
that names an interpreter) all match; ``CKX_ODBENCH_MODEL_PATH`` is a data path
(:func:`names_location` covers those too, for the server).
"""

from __future__ import annotations

import re

#: Whole names that run something or say where programs and libraries are looked up.
_NAMES = frozenset(
    {
        "PATH",
        "ENV",
        "BASH_ENV",
        "SHELL",
        "CC",
        "CXX",
        "FC",
        "LD",
        "CLASSPATH",
        "PERL5LIB",
        "PERLLIB",
        "RUBYLIB",
        "NODE_OPTIONS",
        "JAVA_TOOL_OPTIONS",
        "PROMPT_COMMAND",
    }
)
#: Name prefixes of the loader's and the interpreters' own variables.
_PREFIXES = ("LD_", "DYLD_", "PYTHON", "BASH_FUNC", "GCONV_", "GIT_")
#: Words (between ``_``, ``-`` or ``.``) that name a thing to run.
_WORDS = frozenset(
    {
        "BIN",
        "BINS",
        "BINARY",
        "BINDIR",
        "EXE",
        "EXEC",
        "EXECUTABLE",
        "INTERPRETER",
        "PYTHON",
        "PYTHON3",
        "CMD",
        "CMDS",
        "COMMAND",
        "COMMANDS",
        "SHELL",
        "COMPILER",
        "LAUNCHER",
        "WRAPPER",
        "PRELOAD",
        "RUNNER",
        "VENV",
    }
)
#: ckx's own keys that the words would catch but name nothing to run.
_NOT = frozenset({"CMD_KEY", "CKX_CMD_KEY"})
#: Words of a name that points at a file or folder (for the server: outside CKX_HOME).
_PLACES = frozenset({"PATH", "PATHS", "DIR", "DIRS", "DIRNAME", "FOLDER", "ROOT", "PREFIX"})
_SPLIT = re.compile(r"[_.\-]+")


def _words(name: str) -> list[str]:
    return [w for w in _SPLIT.split(name) if w]


def names_executable(name: object) -> bool:
    """Does ``name`` (an env key, an input, a variation's name) hold a program to run, an
    interpreter, a command line or a search path for programs and libraries?"""
    up = str(name).upper()
    if up in _NOT:
        return False
    if up in _NAMES or up.startswith(_PREFIXES):
        return True
    # PYTHONPATH, CPATH, MANPATH, LIBRARY_PATH, *_SEARCH_PATH: where things are looked up
    if (up.endswith("PATH") and not up.endswith("_PATH")) or up.endswith(
        ("LIBRARY_PATH", "INCLUDE_PATH", "SEARCH_PATH", "SEARCH_DIRS", "_PATHS")
    ):
        return True
    return any(w in _WORDS for w in _words(up))


def names_location(name: object) -> bool:
    """Does ``name`` point at a file or folder (``model_path``, ``search_dirs``, ``path``)?"""
    return any(w in _PLACES for w in _words(str(name).upper()))
