"""MLCFlow's env conventions, where they differ from ckx's (:mod:`ckx.engine.envs`).

* **Local keys** (:data:`LOCAL_KEYS`): what a script never passes to its deps (its own
  version request, ``MLC_TMP_*``, ``MLC_GIT_*``, its input/output flags, ...), unless a dep
  asks for them back with ``force_env_keys`` or ``reuse_version``.
* **Conditions** (:func:`condition_holds`): a wanted ``yes``/``on``/``true``/``1`` is met by
  *any* value that is set and not false (``MLC_INPUT: /data`` meets ``[yes]``), a wanted
  ``no`` by an unset, empty or false value; other wanted values compare lower-cased. A value
  still holding an unresolved ``<<<KEY>>>`` counts as unset.
* **Placeholders** (:func:`substitute`): ``<<<KEY>>>`` in a value is replaced by ``env[KEY]``
  when it is set.
* **Export** (:func:`export_env`): ``new_env_keys`` entries are fnmatch patterns over the
  whole env, or ``<<<KEY>>>``: the key named by the value of ``KEY``.
* **Input flags** (:func:`input_flags_env`): ``--input``, ``--output``, ``--outdirname``,
  ``--name``, ``--extra_cache_tags``, ... become ``MLC_<FLAG>``; ``--path``/``--folder``
  become ``MLC_TMP_PATH``/``MLC_TMP_FOLDER``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatch
from typing import Any

LOCAL_KEYS = (
    "MLC_VERSION",
    "MLC_VERSION_MIN",
    "MLC_VERSION_MAX",
    "MLC_VERSION_MAX_USABLE",
    "MLC_DETECTED_VERSION",
    "MLC_INPUT",
    "MLC_OUTPUT",
    "MLC_OUTBASENAME",
    "MLC_OUTDIRNAME",
    "MLC_SEARCH_FOLDER_PATH",
    "MLC_NAME",
    "MLC_EXTRA_CACHE_TAGS",
    "MLC_TMP_*",
    "MLC_GIT_*",
    "MLC_RENEW_CACHE_ENTRY",
)

#: Variables taken from the user's environment into the env when the env lacks them.
HOST_ENV_KEYS = (
    "USER",
    "HOME",
    "GH_TOKEN",
    "ftp_proxy",
    "FTP_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "socks_proxy",
    "SOCKS_PROXY",
)

#: Request flags MLCFlow turns into ``MLC_TMP_<FLAG>`` and ``MLC_<FLAG>``.
TMP_FLAGS = ("path", "folder")
FLAGS = (
    "input",
    "output",
    "outdirname",
    "outbasename",
    "search_folder_path",
    "name",
    "extra_cache_tags",
    "skip_compile",
    "skip_run",
    "skip_sudo",
    "accept_license",
    "skip_system_deps",
    "git_ssh",
    "gh_token",
    "hf_token",
    "verify_ssl",
)

_PLACEHOLDER = re.compile(r"<<<(.*?)>>>")
_TRUE = ("yes", "on", "true", "1")
_FALSE = ("no", "off", "false", "0")


def matches(key: str, patterns: Iterable[str]) -> bool:
    """MLCFlow matches keys with ``fnmatch`` (case-insensitive on Windows, as it is there)."""
    return any(fnmatch(key, p) if ("*" in p or "?" in p) else key == p for p in patterns)


def is_false(value: Any) -> bool:
    return str(value).lower() in _FALSE


def has_placeholder(value: Any) -> bool:
    return bool(_PLACEHOLDER.search(str(value)))


def condition_holds(cond: Any, env: Mapping[str, Any], *, any_of: bool = False) -> bool:
    """``enable_if_env`` (all) or ``enable_if_any_env`` (any): see the module doc."""
    if not isinstance(cond, Mapping):
        return not any_of  # MLCFlow warns and ignores a condition that is not a mapping
    results = (_one(env, k, v) for k, v in cond.items())
    return any(results) if any_of else all(results)


def _one(env: Mapping[str, Any], key: str, wanted: Any) -> bool:
    want = [str(w).lower() for w in (wanted if isinstance(wanted, list) else [wanted])]
    if key not in env:
        return bool(set(want) & {*_FALSE, ""})
    value = str(env[key]).lower().strip()
    unset = is_false(value) or value == "" or has_placeholder(value)
    if set(want) & set(_TRUE):
        return not unset
    if set(want) & set(_FALSE):
        return unset
    return value in want


def dep_skipped(dep: Mapping[str, Any], env: Mapping[str, Any]) -> bool:
    """MLCFlow's ``is_dep_tobe_skipped``: ``skip_if_fake_run``, ``enable_if_env`` (all),
    ``enable_if_any_env`` (any), ``skip_if_env`` (all), ``skip_if_any_env`` (any)."""
    if dep.get("skip_if_fake_run") and env.get("MLC_TMP_FAKE_RUN") == "yes":
        return True
    if "enable_if_env" in dep and not condition_holds(dep["enable_if_env"], env):
        return True
    if "enable_if_any_env" in dep and not condition_holds(
        dep["enable_if_any_env"], env, any_of=True
    ):
        return True
    if "skip_if_env" in dep and condition_holds(dep["skip_if_env"], env):
        return True
    return "skip_if_any_env" in dep and condition_holds(dep["skip_if_any_env"], env, any_of=True)


def compare_dotted(a: str, b: str, minor_skip_okay: bool = False) -> int:
    """MLCFlow's version comparison: dotted parts by their leading digits (0 when none, so
    ``master`` is 0); with ``minor_skip_okay`` only as many parts as ``b`` has (``9`` equals
    ``9.1``)."""

    def parts(v: str) -> list[int]:
        return [int(m.group(1)) if (m := re.match(r"(\d+)", p)) else 0 for p in str(v).split(".")]

    x, y = parts(a), parts(b)
    n = len(y) if minor_skip_okay else max(len(x), len(y))
    for k in range(n):
        u = x[k] if k < len(x) else 0
        w = y[k] if k < len(y) else 0
        if u != w:
            return 1 if u > w else -1
    return 0


def substitute(env: dict[str, Any], extra: Mapping[str, Any] | None = None) -> None:
    """Replace ``<<<KEY>>>`` in every value of ``env`` (in place) with ``env[KEY]`` (or
    ``extra[KEY]``) where that is set; unknown placeholders stay."""
    extra = extra or {}
    for key, value in list(env.items()):
        if isinstance(value, bool) or not has_placeholder(value):
            continue
        for name in _PLACEHOLDER.findall(str(value)):
            source = env if name in env else extra if name in extra else None
            if source is None:
                continue
            if isinstance(value, str):
                value = value.replace(f"<<<{name}>>>", str(source[name]))
            elif isinstance(value, list):
                value = [
                    v.replace(f"<<<{name}>>>", str(source[name])) if isinstance(v, str) else v
                    for v in value
                ]
        env[key] = value


def substitute_text(text: str, env: Mapping[str, Any]) -> str:
    """``<<<KEY>>>`` in ``text`` replaced by set env values (dep tags, cache tags)."""
    return _PLACEHOLDER.sub(lambda m: str(env.get(m.group(1), m.group(0))), text)


def merge_into(env: dict[str, Any], new: Mapping[str, Any]) -> None:
    """MLCFlow's merge of a dep's exports or a script's outputs: dicts recursively, lists
    appended without duplicates, other values replaced."""
    from ckx.compat.mlc.utils import merge_dicts

    merge_dicts({"dict1": env, "dict2": dict(new), "append_lists": True, "append_unique": True})


def export_env(env: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The ``new_env`` of a script (``detect_state_diff``): see the module doc."""
    out: dict[str, Any] = {}
    for k in keys:
        if "*" in k or "?" in k:
            out.update((kk, env[kk]) for kk in env if fnmatch(kk, k))
        elif k in env:
            out[k] = env[k]
        elif "<<<" in k:
            for name in _PLACEHOLDER.findall(k):
                target = env.get(name)
                if isinstance(target, str) and target in env:
                    out[target] = env[target]
    return out


def export_state(state: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The ``new_state``: the same rule over the state's top-level keys."""
    return export_env(state, keys)


def without_local(env: Mapping[str, Any], extra_local: Iterable[str] = ()) -> dict[str, Any]:
    """The env a dep gets (before ``force_env_keys``): no local keys, no unresolved
    placeholders. Returns a new dict; lists are copied."""
    local = (*LOCAL_KEYS, *extra_local)
    return {
        k: list(v) if isinstance(v, list) else v
        for k, v in env.items()
        if not matches(k, local) and not has_placeholder(v)
    }


def input_flags_env(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``MLC_TMP_PATH``, ``MLC_INPUT``, ``MLC_OUTDIRNAME`` ... from the request's flags."""
    out: dict[str, Any] = {}
    for key in TMP_FLAGS:
        value = inputs.get(key)
        if isinstance(value, str) and value.strip():
            out[f"MLC_TMP_{key.upper()}"] = value.strip()
    for key in FLAGS:
        value = inputs.get(key)
        value = value.strip() if isinstance(value, str) else value
        if value:
            out[f"MLC_{key.upper()}"] = value
    outdir = out.get("MLC_OUTDIRNAME")
    if isinstance(outdir, str) and not os.path.isabs(outdir):
        out["MLC_OUTDIRNAME"] = os.path.abspath(outdir)
    return out


def script_lines(env: Mapping[str, Any], os_info: Mapping[str, Any]) -> list[str]:
    """``export K="V"`` lines (``set K=V`` on Windows) for every key of ``env``, sorted;
    ``+KEY`` lists are prepended to ``KEY`` (``export PATH="a:b:${PATH}"``)."""
    windows = os_info["platform"] == "windows"
    sep = os_info.get("env_separator", ":")
    quote = os_info.get("env_quote", '"')
    lines = []
    for k in sorted(env):
        value, key = env[k], k
        if windows:
            value = _windows_quoted(value)
        if k.startswith("+"):
            key, this_sep = k[1:], sep
            if key and not key[0].isalnum():  # +;KEY: a custom separator
                this_sep, key = key[0], key[1:]
            items = value if isinstance(value, list) else [value]
            ref = os_info["env_var"].replace("env_var", key)
            value = f"{this_sep.join(str(v) for v in items)}{this_sep}{ref}"
        elif isinstance(value, list):
            value = sep.join(str(v) for v in value)
        escaped = str(value).replace(quote, f"\\{quote}")
        lines.append(os_info["set_env"].replace("${key}", key).replace("${value}", escaped))
    return lines


def _windows_quoted(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        s = str(v)
        if '"' not in s and any(c in s for c in "|&><"):
            s = f'"{s}"'
        out.append(s)
    return out if isinstance(value, list) else out[0]
