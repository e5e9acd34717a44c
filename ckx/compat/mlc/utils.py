"""``mlc.utils`` as MLCFlow hooks use it: small file, text and dict helpers returning
MLCFlow's result dicts (``{'return': 0, ...}`` or ``{'return': 1, 'error': ...}``).

ckx's own implementation of the functions ``customize.py`` files and the repository's
``automation/utils.py`` (which does ``from mlc.utils import *``) call, with the same
arguments and results as MLCFlow 1.3.8. No ``__all__``: a star import also brings the
standard modules imported here (``os``, ``json``, ...), which ``automation/utils.py`` relies
on without importing them itself.
"""

from __future__ import annotations

import json
import logging
import os
import platform  # noqa: F401 - star-exported, as MLCFlow's module does
import re
import shutil
import subprocess
import sys
import uuid
from typing import Any

logger = logging.getLogger("mlc")


def _fail(error: str, **extra: Any) -> dict[str, Any]:
    return {"return": 1, "error": error, **extra}


# -- files ---------------------------------------------------------------------------------
def generate_temp_file(i: dict[str, Any]) -> dict[str, Any]:
    """A new file ``<prefix><uuid><suffix>`` in the current folder holding ``string``."""
    name = f"{i.get('prefix', '')}{uuid.uuid4().hex}{i.get('suffix', '')}"
    try:
        with open(name, "w") as f:
            f.write(i.get("string", ""))
    except OSError as e:
        return _fail(str(e))
    return {"return": 0, "file_name": name}


def load_txt(
    file_name: str,
    check_if_exists: bool = False,
    split: bool = False,
    match_text: str | None = None,
    fail_if_no_match: str | None = None,
    remove_after_read: bool = False,
) -> dict[str, Any]:
    """Read a text file: ``string`` (and ``list`` of lines with ``split``); with
    ``match_text`` the first regex ``match`` (an error ``fail_if_no_match`` when none)."""
    if check_if_exists and not os.path.isfile(file_name):
        return _fail(f"File '{file_name}' does not exist.")
    try:
        with open(file_name) as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return _fail(str(e))
    found = re.search(match_text, text) if match_text else None
    if match_text and found is None and fail_if_no_match:
        return _fail(fail_if_no_match)
    if remove_after_read:
        os.remove(file_name)
    out: dict[str, Any] = {"return": 0, "string": text}
    if split:
        out["list"] = text.splitlines()
    if found:
        out["match"] = found
    return out


def save_txt(file_name: str, string: str) -> dict[str, Any]:
    try:
        with open(file_name, "w") as f:
            f.write(string)
    except OSError as e:
        return _fail(str(e))
    return {"return": 0, "error": ""}


def load_json(file_name: str, encoding: str | None = None) -> dict[str, Any]:
    """``{'return': 0, 'meta': <the JSON value>}``."""
    try:
        with open(file_name, encoding=encoding) as f:
            return {"return": 0, "meta": json.load(f)}
    except FileNotFoundError:
        return _fail(f"File '{file_name}' not found.")
    except json.JSONDecodeError:
        return _fail(f"Error decoding JSON in file '{file_name}'.")
    except OSError as e:
        return _fail(f"An unexpected error occurred: {e}")


def save_json(file_name: str, meta: Any) -> dict[str, Any]:
    try:
        with open(file_name, "w") as f:
            json.dump(meta, f, indent=4)
    except (OSError, TypeError, ValueError) as e:
        return _fail(str(e))
    return {"return": 0, "error": ""}


def read_json(filepath: str) -> Any:
    """The JSON value of a file, or None (logged) when it cannot be read."""
    r = load_json(filepath)
    if r["return"]:
        logger.info(f"Error reading JSON file {filepath}: {r['error']}")
        return None
    return r["meta"]


def read_yaml(filepath: str) -> Any:
    """The YAML value of a file, or None (logged) when it cannot be read."""
    import yaml

    try:
        with open(filepath) as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        logger.info(f"Error reading YAML file {filepath}: {e}")
        return None


def save_yaml(file_name: str, meta: Any, sort_keys: bool = True) -> dict[str, Any]:
    import yaml

    try:
        with open(file_name, "w") as f:
            yaml.dump(meta, f, default_flow_style=False, sort_keys=sort_keys)
    except (OSError, yaml.YAMLError) as e:
        return _fail(str(e))
    return {"return": 0, "error": ""}


# -- dicts, text, versions -------------------------------------------------------------------
def merge_dicts(params: dict[str, Any], in_place: bool = True) -> dict[str, Any]:
    """Merge ``dict2`` into ``dict1`` (in place by default), recursively for dicts; lists are
    replaced, or concatenated with ``append_lists`` (keeping first occurrences with
    ``append_unique``)."""
    d1 = params.get("dict1", {})
    d2 = params.get("dict2", {})
    if d1 == d2:
        return {"return": 0, "merged": d1, "dict1": d1}
    out = d1 if in_place else dict(d1)
    for key, value in d2.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merge_dicts({**params, "dict1": old, "dict2": value}, in_place)
        elif isinstance(old, list) and isinstance(value, list) and params.get("append_lists"):
            out[key] = _unique(old + value) if params.get("append_unique") else old + value
        else:
            out[key] = value
    return {"return": 0, "merged": out, "dict1": out}


def _unique(items: list) -> list:
    seen: set = set()
    out = []
    for item in items:
        try:
            mark: Any = frozenset(item.items()) if isinstance(item, dict) else item
            hash(mark)
        except TypeError:
            mark = id(item)
        if mark not in seen:
            seen.add(mark)
            out.append(item)
    return out


def compare_versions(current_version: str, min_version: str) -> int:
    """-1, 0 or 1 as ``current_version`` is older than, equal to or newer than ``min_version``
    (PEP 440 ordering); ValueError for a text that is not a version."""
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(current_version), Version(min_version)
    except InvalidVersion as e:
        raise ValueError(f"Invalid version format: {e}") from None
    return (a > b) - (a < b)


def convert_env_to_dict(env_text: str) -> dict[str, Any]:
    """``KEY=VALUE`` lines to a dict (both sides stripped; other lines ignored)."""
    out: dict[str, str] = {}
    for line in env_text.splitlines():
        line = line.strip()
        if line and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return {"return": 0, "dict": out}


def convert_tags_to_list(tags_string: Any) -> dict[str, Any]:
    if not isinstance(tags_string, str):
        return _fail("Input must be a string.")
    return {"return": 0, "tags": [t.strip() for t in tags_string.split(",") if t.strip()]}


def convert_args_to_dictionary(inp: list[str]) -> dict[str, Any]:
    """MLCFlow's CLI rules: ``--k=v``, ``--a.b.c=v`` (nested), ``--k,=a,b`` (a list),
    ``--flag`` (True), ``-xy`` (x and y True)."""
    args: dict[str, Any] = {}
    for item in inp:
        if "=" in item:
            key, value = item.split("=", 1)
            key = key.strip("-")
            if key.endswith(","):
                args[key[:-1]] = value.split(",")
            elif "." in key:
                *parents, last = key.split(".")
                cur = args
                for p in parents:
                    if not isinstance(cur.get(p), dict):
                        cur[p] = {}
                    cur = cur[p]
                cur[last] = value
            else:
                args[key] = value
        elif item.startswith("--"):
            args[item.strip("-")] = True
        elif item.startswith("-"):
            args.update(dict.fromkeys(item.lstrip("-"), True))
    return {"return": 0, "args_dict": args}


def sub_input(i: Any, keys: Any, reverse: bool = False) -> dict[str, Any]:
    if not isinstance(i, dict):
        return _fail("Input is not a dictionary.")
    if not isinstance(keys, list):
        return _fail("Keys must be a list.")
    result = {k: i.get(k) for k in keys if k in i}
    if reverse:
        result = dict(reversed(list(result.items())))
    return {"return": 0, "result": result}


def is_uid(name: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-fA-F]{16}", name))


def is_valid_url(url: str) -> bool:
    return (
        re.match(
            r"^(https?|ftp)://(\S+:\S+@)?([a-zA-Z0-9.-]+)(:\d{2,5})?(/\S*)?$", url, re.IGNORECASE
        )
        is not None
    )


def assemble_object(alias: str | None, uid: str | None) -> str:
    """``alias, uid`` (either part may be empty)."""
    return ", ".join(p for p in (alias or "", uid or "") if p)


def get_new_uid() -> dict[str, Any]:
    return {"return": 0, "uid": uuid.uuid4().hex[:16]}


# -- printing --------------------------------------------------------------------------------
def print_formatted_json(
    data: Any, sort_keys: bool = True, begin_spaces: int | None = None
) -> None:
    _print_indented(json.dumps(data, indent=4, sort_keys=sort_keys, default=str), begin_spaces)


def print_formatted_yaml(
    data: Any, sort_keys: bool = True, begin_spaces: int | None = None
) -> None:
    import yaml

    text = yaml.dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)
    _print_indented(text, begin_spaces)


def _print_indented(text: str, begin_spaces: int | None) -> None:
    if begin_spaces:
        text = "\n".join(" " * begin_spaces + line for line in text.splitlines())
    print(text)


def printd(
    mydict: Any, yaml: bool = True, sort_keys: bool = True, begin_spaces: int | None = None
) -> None:
    (print_formatted_yaml if yaml else print_formatted_json)(mydict, sort_keys, begin_spaces)


def print_env(
    env: Any, yaml: bool = True, sort_keys: bool = True, begin_spaces: int | None = None
) -> None:
    printd(env, yaml=yaml, sort_keys=sort_keys, begin_spaces=begin_spaces)


# -- processes, modules, repos ---------------------------------------------------------------
def run_system_cmd(i: dict[str, Any]) -> dict[str, Any]:
    """Run shell command ``cmd`` in ``path``: ``output``/``error_output`` (stripped)."""
    path, cmd = i.get("path", "."), i.get("cmd", "")
    if not cmd:
        return _fail("No command provided to execute.")
    if not os.path.exists(path):
        return _fail(f"Specified path does not exist: '{path}'")
    p = subprocess.run(cmd, cwd=path, shell=True, capture_output=True, text=True)
    if p.returncode != 0:
        return _fail(
            f"Command execution failed with error code {p.returncode}.",
            error_output=p.stderr.strip(),
        )
    return {"return": 0, "output": p.stdout.strip(), "error_output": p.stderr.strip()}


def load_python_module(params: dict[str, Any]) -> dict[str, Any]:
    """Import ``<path>/<name>.py`` as module ``name`` (registered in ``sys.modules``)."""
    import importlib.util

    name, path = params.get("name"), params.get("path")
    if not name or not path:
        return _fail("Both 'path' and 'name' are required.")
    full = os.path.join(path, name + ".py")
    if not os.path.isfile(full):
        return _fail(f"Error: The file at '{full}' does not exist.")
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        return _fail(f"Error: Could not load the module '{name}' from '{full}'.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - any error in the loaded file is the caller's result
        return _fail(f"Error: Failed to load module '{name}' from '{full}'. Error: {e}")
    sys.modules[name] = module
    return {"return": 0, "code": module, "path": full}


def get_repo_version(repo_path: str) -> dict[str, Any]:
    """``{source, commit, branch, dirty}`` of a git checkout (or its ``git_commit_hash.txt``),
    ``{}`` when unknown."""
    if not repo_path:
        return {}
    if os.path.isdir(os.path.join(repo_path, ".git")):

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", "-C", repo_path, *args], capture_output=True, text=True, check=True
            ).stdout.strip()

        try:
            return {
                "source": "git",
                "commit": git("rev-parse", "HEAD"),
                "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "-uno")),
            }
        except (OSError, subprocess.CalledProcessError):
            pass
    try:
        with open(os.path.join(repo_path, "git_commit_hash.txt")) as f:
            commit = f.read().strip()
    except OSError:
        return {}
    return (
        {"source": "commit_file", "commit": commit, "branch": "", "dirty": False} if commit else {}
    )


def modify_git_url(get_type: str, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A GitHub-style URL as ``ssh`` (``git@host:owner/repo.git``) or with a ``pat`` token."""
    m = re.match(r"^(?:https?://|git@)([^/:]+)[/:]([^/]+)/([^/]+?)(?:\.git)?/?$", url)
    if not m:
        return _fail(f"cannot parse git URL {url}")
    host, owner, repo = m.groups()
    if get_type == "ssh":
        return {"return": 0, "url": f"git@{host}:{owner}/{repo}.git"}
    if get_type == "pat":
        token = (params or {})["token"]
        return {"return": 0, "url": f"https://git:{token}@{host}/{owner}/{repo}"}
    return _fail(f"Unsupported type: {get_type}")


def extract_file(options: dict[str, Any]) -> None:
    """Extract a zip or tar archive into ``<its folder>/extracted``, dropping the first
    ``strip_folders`` path levels (through ckx's safe extraction: no path escapes)."""
    from pathlib import Path

    from ckx.artifacts.archive import extract

    filename = options.get("filename")
    if not filename or not os.path.exists(filename):
        raise FileNotFoundError(f"File not found: {filename}")
    dest = Path(filename).parent / "extracted"
    strip = int(options.get("strip_folders", 0) or 0)
    extract(Path(filename), dest, strip_components=strip)  # refuses a non-empty dest
    print(f"Extraction complete. Files extracted to: {dest}")


# kept importable by star-import, as MLCFlow's module exposes them
_ = (shutil,)
