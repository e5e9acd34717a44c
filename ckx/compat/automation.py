"""``i['automation']``: the object MLCFlow hooks call back into (196 scripts use it).

:class:`MlcAutomation` is ckx's own implementation of what hooks use of MLCFlow's
``ScriptAutomation``: ``logger``, ``parse_version``, ``find_artifact`` (with version detection
per candidate), ``find_file_in_paths``, ``run_native_script``, ``detect_version_using_script``,
``update_deps``, ``get_default_path_list``, ``find_file_deep``, ``find_file_back``,
``clean_some_tmp_files``, ``_available_variations``, ``os_info``, and ``action_object`` /
``cache_action`` (:class:`ActionObject`), whose ``access`` maps MLCFlow requests onto ckx:

==========================================  ===============================================
MLCFlow request                              ckx
==========================================  ===============================================
``run`` script (tags, env, input, adr, ...)  a nested run (same cache, locks, reporter; a
                                             cycle is a chain error); the result's
                                             ``new_env``/``new_state`` are also merged into
                                             the ``env``/``state`` passed, as MLCFlow does
``run`` with ``fake_run``                    a plan only; ``new_state.print_deps`` lists its
                                             direct deps as ``mlcr ...`` lines
``search``/``find`` script, cache, repo      index/cache/registry searches; ``list`` of
                                             objects with ``path`` and ``meta``
``rm`` cache (tags)                          ``ckx rm cache`` of the matching entries
anything else (``docker``, ``pull``, ...)    ``{'return': 1, 'error': ...}`` saying so
==========================================  ===============================================

Results are MLCFlow's dicts (``{'return': 0, ...}``); a ckx error inside becomes
``{'return': N, 'error': ...}`` for the hook, and if the hook passes it on the engine reports
the original error (with its hint), see :meth:`MlcAutomation.failure_of`.
"""

from __future__ import annotations

import copy
import glob
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ckx.compat import runscript
from ckx.core.errors import CkxError, RunError

if TYPE_CHECKING:
    from ckx.compat.nodeview import MlcNodeView

SCRIPT_AUTOMATION = {"alias": "script", "uid": "5b4e0237da074764"}
_serving: list[MlcAutomation] = []


@contextmanager
def serving(automation: MlcAutomation | None) -> Iterator[None]:
    """``mlc.access`` and the ``mlc`` logger answer for ``automation`` inside the block."""
    if automation is None:
        yield
        return
    _serving.append(automation)
    try:
        yield
    finally:
        _serving.pop()


def current_action_object() -> ActionObject:
    if not _serving:
        raise RunError(
            "mlc.access() was called outside a hook of an MLCFlow script run by ckx",
            hint="run the script with: ckx run <tags>",
        )
    return _serving[-1].action_object


class _ToEngine(logging.Handler):
    """Hooks' log lines go to the user through the node being served."""

    def emit(self, record: logging.LogRecord) -> None:
        if not _serving:
            return
        text = record.getMessage()
        ops = _serving[-1].node.ops
        if record.levelno >= logging.WARNING:
            ops.ctx.ui.warn(text.strip())
        elif record.levelno >= logging.INFO:
            ops.info(text)


def _logger() -> logging.Logger:
    log = logging.getLogger("ckx.compat.mlc")
    if not log.handlers:
        log.addHandler(_ToEngine())
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


class MlcAutomation:
    """What ``i['automation']`` offers (see the module doc), for one node being run."""

    __version__ = "1.3.8"
    tmp_file_ver = runscript.VER_FILE
    tmp_file_run_env = runscript.RUN_ENV
    tmp_file_run_state = runscript.RUN_STATE
    file_with_cached_state = "mlc-cached-state.json"
    meta = SCRIPT_AUTOMATION

    def __init__(self, node: MlcNodeView) -> None:
        self.node = node
        self.logger = _logger()
        self.os_info = node.os_info
        self.recursion_spaces = node.spaces
        self.action_object = ActionObject(self)
        self.cache_action = self.action_object
        self.errors: list[CkxError] = []

    # -- results -----------------------------------------------------------------------------
    def failure_of(self, out: dict[str, Any], where: str) -> CkxError:
        """The error for a hook that returned ``out`` with ``return > 0``: the ckx error that
        produced its message when it came from us (a nested run), else a RunError."""
        text = str(out.get("error") or f"return code {out.get('return')}")
        for e in reversed(self.errors):
            if e.message and e.message in text:
                return e
        return RunError(f"{where} failed: {text}")

    def as_result(self, e: CkxError, code: int = 1) -> dict[str, Any]:
        """MLCFlow's result dict for the ckx error ``e`` (kept for :meth:`failure_of`)."""
        self.errors.append(e)
        return {"return": code, "error": e.message}

    # -- versions --------------------------------------------------------------------------
    def parse_version(self, i: dict[str, Any]) -> dict[str, Any]:
        """Regex ``match_text`` over ``file_name`` (``tmp-ver.out``): group ``group_number``
        (joined with ``group_number_extra``) becomes ``which_env[env_key]`` and
        ``MLC_DETECTED_VERSION``."""
        from ckx.compat.mlc.utils import load_txt

        r = load_txt(
            i.get("file_name") or runscript.VER_FILE,
            check_if_exists=True,
            split=True,
            match_text=i["match_text"],
            fail_if_no_match="version was not detected",
        )
        if r["return"]:
            return r
        m, group = r["match"], int(i["group_number"])
        if not m.lastindex or m.lastindex < group:
            return {
                "return": 1,
                "error": "Invalid version detection group number. Version was not detected. "
                f"Last index of match = {m.lastindex}. Given group number = {group}",
            }
        version = m.group(group)
        extra = i.get("group_number_extra")
        if extra and m.lastindex >= extra:
            version += f"{i.get('group_join_string', '-')}{m.group(extra)}"
        i["which_env"][i["env_key"]] = version
        i["which_env"]["MLC_DETECTED_VERSION"] = version
        return {"return": 0, "version": version, "string": r["string"]}

    def detect_version_using_script(self, i: dict[str, Any]) -> dict[str, Any]:
        """Run the node's script and ``detect_version(i)``; the version if it meets the
        env's ``MLC_VERSION*`` constraints, else return 16 -- also when the script or the
        hook fails (nothing installed yet: ``get-generic-python-lib`` then installs), as in
        MLCFlow."""
        env = i.get("env", {})
        try:
            version = self.node.script_and_post("detect_version", env=env)
        except CkxError:
            version = None
        if version and not _outside(version, env):
            return {"return": 0, "detected_version": version}
        return {"return": 16, "error": "version was not detected"}

    def run_native_script(self, i: dict[str, Any]) -> dict[str, Any]:
        """Run another script of this entry (``script_name``: ``install`` ->
        ``install.sh``) with ``env``, and ``detect_version(i)`` after it with
        ``detect_version: True``."""
        rsi = i.get("run_script_input") or self.node.run_script_input
        env = i.get("env") or self.node.env
        saved = (rsi.get("env"), copy.deepcopy(rsi.get("state")), rsi.get("script_name"))
        rsi["script_name"], rsi["env"] = i["script_name"], env
        post = "detect_version" if i.get("detect_version") else ""
        try:
            version = self.node.script_and_post(post, script_name=i["script_name"], env=env)
        except CkxError as e:
            return self.as_result(e, 16 if "not found" in e.message else 2)
        finally:
            rsi["env"], rsi["state"], rsi["script_name"] = saved
        out: dict[str, Any] = {"return": 0, "env_tmp": copy.deepcopy(env)}
        if version:
            out["version"] = version
        return out

    # -- finding files -----------------------------------------------------------------------
    def get_default_path_list(self, i: dict[str, Any]) -> list[str]:
        key = i.get("default_path_env_key", "")
        if not key:
            return []
        return os.environ.get(key, "").split(i["os_info"]["env_separator"])

    def find_artifact(self, i: dict[str, Any]) -> dict[str, Any]:
        """Find ``file_name`` in ``MLC_TMP_PATH`` (``--path``), ``MLC_SEARCH_FOLDER_PATH`` and
        the folders of ``default_path_env_key`` (``PATH``); with ``detect_version`` run the
        script per candidate and keep those within the env's version constraints; set
        ``env[env_path_key]`` and ``+<default_path_env_key>`` (when outside the defaults).
        Return 16 when nothing is found."""
        env = i["env"]
        paths = self._search_paths(i)
        if isinstance(paths, dict):
            return paths
        file_name, path_list, defaults = paths
        rsi = i.get("run_script_input") or {}
        state = copy.deepcopy(rsi.get("state"))
        r = self.find_file_in_paths(
            {
                **{k: i[k] for k in ("detect_version", "env_path_key", "hook") if k in i},
                "paths": path_list,
                "file_name": file_name,
                "select": True,
                "select_default": env.get("MLC_QUIET", "") == "yes",
                "env": copy.deepcopy(env),
                "run_script_input": rsi,
            }
        )
        if state is not None:
            rsi["state"] = state
        if r["return"]:
            return r
        if not r["found_files"]:
            return {"return": 16, "error": f"{file_name} not found"}
        found = r["found_files"][0]
        where = os.path.dirname(found)
        self._add_paths(env, where, defaults, i)
        self.logger.info(f"{self.recursion_spaces}    # Found artifact in {found}")
        if i.get("env_path_key"):
            env[i["env_path_key"]] = found
        return {
            "return": 0,
            "found_path": where,
            "found_file_path": found,
            "found_file_name": os.path.basename(found),
            "default_path_list": defaults,
        }

    def _search_paths(self, i: dict[str, Any]) -> Any:
        env, sep = i["env"], i["os_info"]["env_separator"]
        file_name = i["file_name"]
        path = env.get("MLC_TMP_PATH", "")
        if path and env.get("MLC_TMP_PATH_IGNORE_NON_EXISTANT", "") != "yes":
            for p in path.split(sep):
                if p.strip() and not os.path.isdir(p):
                    return {"return": 1, "error": f"path {p} doesn't exist"}
        forced_given = bool(path) and bool(i.get("force_given_path"))
        forced = str(env.get("MLC_INPUT", "")).strip()
        if forced:
            if not os.path.isfile(forced):
                return {"return": 1, "error": f"file {forced} doesn't exist"}
            file_name, path = os.path.basename(forced), os.path.dirname(forced)
        defaults = [] if forced_given else self.get_default_path_list(i)
        priority = [] if forced_given else _priority_folders(env)
        listed = (priority + defaults) if not path else (path.split(sep) + priority)
        dirs = list(dict.fromkeys(os.path.dirname(os.path.join(p, file_name)) for p in listed))
        return file_name, dirs, defaults

    def _add_paths(self, env: dict, where: str, defaults: list[str], i: dict[str, Any]) -> None:
        key = i.get("default_path_env_key", "")
        if where in defaults or not key:
            return
        paths = env.get("+" + key, [])
        if where not in paths:
            paths.insert(0, where)
            env["+" + key] = paths
        for extra, env_key in (i.get("extra_paths") or {}).items():
            p = os.path.normpath(os.path.join(where, "..", extra))
            if os.path.exists(p):
                env.setdefault(env_key, []).append(p)

    def find_file_in_paths(self, i: dict[str, Any]) -> dict[str, Any]:
        """Files named ``file_name`` (also with version suffixes: ``python3.11``) or matching
        ``file_name_re`` in ``paths``; with ``select``, version detection and one choice."""
        pattern = i.get("file_name_re") or i.get("file_name") or ""
        if not pattern:
            raise RunError("find_artifact: file_name or file_name_re not given")
        found = _files_in(i["paths"], pattern, bool(i.get("file_name_re")), i.get("hook"))
        if isinstance(found, dict):
            return found
        if i.get("select"):
            if i.get("detect_version"):
                found = self._with_good_version(found, i)
                if isinstance(found, dict):
                    return found
            if len(found) > 1:
                k = 0 if i.get("select_default") else self._choose(found)
                self.logger.info(f"{self.recursion_spaces}  Selected {k}: {found[k]}")
                found = [found[k]]
        return {"return": 0, "found_files": found}

    def _choose(self, found: list[str]) -> int:
        title = f"{len(found)} candidates found for {self.node.where()}"
        return self.node.ops.choose(title, found, 0)

    def _with_good_version(self, found: list[str], i: dict[str, Any]) -> Any:
        env, key = i.get("env", {}), i["env_path_key"]
        good = []
        for f in found:
            self.logger.info(f"{self.recursion_spaces}    * {f}")
            cand = {**env, key: f}
            try:
                version = self.node.script_and_post("detect_version", env=cand)
            except CkxError as e:
                if "failed with exit code" in e.message or "Native run script" in e.message:
                    continue  # MLCFlow skips a candidate whose script fails (return 2)
                return self.as_result(e)
            if version and version != "-1" and not _outside(version, env):
                good.append(f)
            elif version:
                self.logger.info(
                    f"{self.recursion_spaces}    SKIPPED due to version constraints ..."
                )
        return good

    def find_file_deep(self, i: dict[str, Any]) -> dict[str, Any]:
        """Folders under ``paths`` (recursively) that hold ``file_name``, filtered by
        ``restrict_paths`` substrings."""
        out: list[str] = []
        for p in i["paths"]:
            if not os.path.isdir(p):
                continue
            for f in os.listdir(p):
                full = os.path.join(p, f)
                if os.path.isdir(full):
                    out += self.find_file_deep({"paths": [full], "file_name": i["file_name"]})[
                        "found_paths"
                    ]
                elif f == i["file_name"]:
                    out.append(p)
                    break
        restrict = i.get("restrict_paths") or []
        if out and restrict:
            out = [p for p in out if any(r in p for r in restrict)]
        return {"return": 0, "found_paths": out}

    def find_file_back(self, i: dict[str, Any]) -> dict[str, Any]:
        """The nearest folder at or above ``path`` holding the file ``file_name`` ('' if none)."""
        path = i["path"]
        while path:
            if os.path.isfile(os.path.join(path, i["file_name"])):
                break
            up = os.path.dirname(path)
            path = "" if up == path else up
        return {"return": 0, "found_path": path}

    # -- deps and misc -------------------------------------------------------------------------
    def update_deps(self, i: dict[str, Any]) -> dict[str, Any]:
        """Merge ``update_deps`` (by dep ``names``) into the dep list ``deps``, in place; the
        engine plans a changed dep again when it is reached."""
        from ckx.compat.deps import update_deps

        update_deps(i["deps"], i["update_deps"], i.get("env", {}))
        return {"return": 0}

    def clean_some_tmp_files(self, i: dict[str, Any]) -> dict[str, Any]:
        work = (i.get("env") or {}).get("MLC_TMP_CURRENT_SCRIPT_WORK_PATH", "")
        if work and os.path.isdir(work):
            for f in ("tmp-run.bat", "tmp-state.json"):
                p = os.path.join(work, f)
                if os.path.isfile(p):
                    os.remove(p)
        return {"return": 0}

    def _available_variations(self, i: dict[str, Any]) -> dict[str, Any]:
        meta = i["meta"]
        names = " ".join(sorted("_" + v for v in (meta.get("variations") or {})))
        return {
            "return": 1,
            "error": f'python package variation is not defined in "{meta.get("alias")}". '
            f"Available: {names}",
        }


def _outside(version: str, env: dict[str, Any]) -> bool:
    """MLCFlow's ``check_version_constraints`` (its dotted comparison; an exact version
    may be shorter: ``9`` accepts ``9.1``)."""
    from ckx.compat.envrules import compare_dotted as cmp

    want, lo, hi = (
        str(env.get(k, "") or "") for k in ("MLC_VERSION", "MLC_VERSION_MIN", "MLC_VERSION_MAX")
    )
    return bool(
        (want and cmp(version, want, True) != 0)
        or (lo and cmp(version, lo) < 0)
        or (hi and cmp(version, hi) > 0)
    )


def _priority_folders(env: dict[str, Any]) -> list[str]:
    top = str(env.get("MLC_SEARCH_FOLDER_PATH", "")).strip()
    if not top or not os.path.isdir(top):
        return []
    depth = int(env.get("MLC_TMP_FOLDER_MAX_DEPTH", "4"))
    out = [top]
    for root, dirs, _files in os.walk(top):
        if root[len(top) :].count(os.sep) >= depth:
            dirs[:] = []
        if root not in out:
            out.append(root)
    return out


_SUFFIXES = (
    "",
    ".[0-9]",
    ".[0-9][0-9]",
    "-[0-9]",
    "-[0-9][0-9]",
    "[0-9]",
    "[0-9][0-9]",
    "[0-9].[0-9]",
    "[0-9][0-9].[0-9]",
    "[0-9][0-9].[0-9][0-9]",
)


def _files_in(paths: list[str], pattern: str, is_re: bool, hook: Any) -> Any:
    found: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            continue
        if is_re:
            cands = [os.path.join(path, f) for f in os.listdir(path) if re.match(pattern, f)]
        else:
            cands = [f for s in _SUFFIXES for f in glob.glob(os.path.join(path, pattern) + s)]
        for f in cands:
            if os.path.isdir(f) or any(_same(f, g) for g in found):
                continue
            if hook is not None:
                r = hook({"file": f})
                if r["return"]:
                    return r
                if r["skip"]:
                    continue
            found.append(f)
    return found


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class ActionObject:
    """``i['automation'].action_object`` (and ``mlc.access``): see the module doc."""

    def __init__(self, automation: MlcAutomation) -> None:
        self.automation = automation
        self.logger = automation.logger

    @property
    def local_cache_path(self) -> str:
        return str(self.automation.node.ops.ctx.home / "repos" / "local" / "cache")

    @property
    def repos_path(self) -> str:
        return str(self.automation.node.ops.ctx.home / "repos")

    def access(self, i: dict[str, Any]) -> dict[str, Any]:
        from ckx.compat import access as mapping

        try:
            return mapping.access(self.automation.node, i)
        except CkxError as e:
            return self.automation.as_result(e, int(getattr(e, "exit_code", 1) or 1))
