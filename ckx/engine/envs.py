"""Env rules of the engine: composition, export filters, ``+PATH`` lists, the output file.

This is the one module that composes a node's env: the planner turns a node's meta, request
env, inputs and version into :class:`EnvLayers` once, and :func:`compose` applies them to an
inherited env (the planner to predict the node's static env, the runner to the env the node
really inherits when it is reached). No other module knows the order below.

An engine env is a ``dict``. Plain keys hold strings. A key starting with ``+`` (``+PATH``,
``+LD_LIBRARY_PATH``) holds a *list* of directories that is prepended to the variable of the
same name when the env reaches a process (MLCFlow's convention).

A node's env is composed from what it inherits, in this order (later wins unless noted)::

    inherited env (minus local keys: CKX_VERSION*, CKX_TMP_*, the meta's local_env_keys)
    -> request env (dep ``env`` block, ``--adr.NAME.env``, ``--env.K=V`` of the top request)
    -> ``default_env`` of the entry, variations, version overlay (only keys still unset)
    -> ``env`` of the entry, then variations, then the version overlay
    -> ``input_mapping`` values (CLI inputs win over everything)
    -> for a dialect whose variations win over inputs (MLCFlow's): the chosen variations'
       own ``env`` blocks, again
    -> ``default_to_current_python``: that key set, if still unset, to the python of the ckx venv
   named by ``CKX_VENV``, else of the activated venv, else the one running ckx
-> CKX_VERSION, CKX_VERSION_MIN, CKX_VERSION_MAX (the node's planned constraints)

(``CKX_`` is the prefix of ckx's own content; a content dialect may use another one, see
:mod:`ckx.engine.dialects`.)

After the node ran, only keys matching ``new_env_keys`` (fnmatch wildcards; ``+PATH`` names
the list) are exported to the parent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ckx.core.errors import RunError

#: Keys never passed from a node to its deps: they describe the node itself.
LOCAL_KEYS = (
    "CKX_VERSION",
    "CKX_VERSION_MIN",
    "CKX_VERSION_MAX",
    "CKX_VERSION_MAX_USABLE",
    "CKX_TMP_*",
)

#: The version variables of a node (``CKX_VERSION`` ...), after the dialect's prefix.
VERSION_FIELDS = ("version", "version_min", "version_max", "version_max_usable")

_TRUE = {"yes", "true", "on", "1"}
_FALSE = {"no", "false", "off", "0", ""}


def matches(key: str, patterns: Iterable[str]) -> bool:
    """Does ``key`` match one of the fnmatch ``patterns`` (case-sensitive)?"""
    return any(fnmatchcase(key, p) for p in patterns)


def key_env(meta: Mapping[str, Any], env: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``env`` keys matching the meta's ``cache_key_env`` patterns (what a
    cache key reads of the env)."""
    pats = list(meta.get("cache_key_env") or [])
    if not pats:
        return {}
    return {k: v for k, v in env.items() if any(fnmatchcase(k, p) for p in pats)}


def local_keys(prefix: str = "CKX_") -> tuple[str, ...]:
    """The local keys of a dialect whose engine variables start with ``prefix`` (ckx's own
    are always local too)."""
    if prefix == "CKX_":
        return LOCAL_KEYS
    return (*LOCAL_KEYS, *(prefix + k.removeprefix("CKX_") for k in LOCAL_KEYS))


def without_local(env: Mapping[str, Any], extra_local: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of ``env`` without the keys that must not flow into deps."""
    patterns = (*LOCAL_KEYS, *extra_local)
    return {k: _copy(v) for k, v in env.items() if not matches(k, patterns)}


class EnvLayers:
    """What one node adds to the env it inherits, fixed when the node is planned.

    ``local``: patterns dropped from the inherited env; ``request``: the env set for the node
    (dep ``env``, ``--adr.NAME.env``, ``--env``); ``defaults``/``overrides``: ``default_env`` and
    ``env`` of the meta (variation and version overlays applied); ``inputs``: ``input_mapping``
    values; ``late``: the chosen variations' own ``env``, applied again after the inputs (for
    a dialect whose variations win over inputs, else empty); ``current_python``: the
    ``default_to_current_python`` key; ``version``: the version variables. Not changed once
    made (read by planner and runner alike).
    """

    __slots__ = (
        "local",
        "request",
        "defaults",
        "overrides",
        "inputs",
        "current_python",
        "version",
        "late",
    )
    local: tuple[str, ...]
    request: Mapping[str, Any]
    defaults: Mapping[str, Any]
    overrides: Mapping[str, Any]
    inputs: Mapping[str, Any]
    current_python: str | None
    version: Mapping[str, str]
    late: Mapping[str, Any]

    def __init__(
        self,
        local: tuple[str, ...] = LOCAL_KEYS,
        request: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        current_python: str | None = None,
        version: Mapping[str, str] | None = None,
        late: Mapping[str, Any] | None = None,
    ) -> None:
        # kept as given (no copies): the planner passes dicts nobody changes afterwards
        self.local = tuple(local)
        self.request = request or {}
        self.defaults = defaults or {}
        self.overrides = overrides or {}
        self.inputs = inputs or {}
        self.current_python = current_python
        self.version = version or {}
        self.late = late or {}


def layers_for(
    meta: Mapping[str, Any],
    request_env: Mapping[str, Any],
    inputs: Mapping[str, Any],
    version: str | None,
    constraints: Mapping[str, str | None],
    prefix: str = "CKX_",
    late: Mapping[str, Any] | None = None,
) -> EnvLayers:
    """The :class:`EnvLayers` of a node with ``meta`` (overlays applied), its request env and
    inputs, its chosen ``version`` and joint version ``constraints``."""
    ver: dict[str, str] = {}
    if version:
        ver[f"{prefix}VERSION"] = version
    for k in VERSION_FIELDS[1:]:
        if constraints.get(k):
            ver[f"{prefix}{k.upper()}"] = str(constraints[k])
    local = local_keys(prefix)
    if meta.get("local_env_keys"):
        local = (*local, *meta["local_env_keys"])
    return EnvLayers(
        local,
        request_env,
        meta.get("default_env") or {},
        meta.get("env") or {},
        mapped_inputs(meta, inputs) if inputs else {},
        meta.get("default_to_current_python") or None,
        ver,
        late,
    )


def compose(inherited: Mapping[str, Any], layers: EnvLayers) -> dict[str, Any]:
    """The env a node starts with: ``layers`` over ``inherited`` (the order in the module doc)."""
    env = {k: _copy(v) for k, v in inherited.items() if not matches(k, layers.local)}
    set_all(env, layers.request)
    set_defaults(env, layers.defaults)
    set_all(env, layers.overrides)
    set_all(env, layers.inputs)
    set_all(env, layers.late)
    if layers.current_python and not env.get(layers.current_python):
        env[layers.current_python] = _current_python(env)
    env.update(layers.version)
    return env


def _current_python(env: Mapping[str, Any]) -> str:
    """The active ckx venv's python (``CKX_VENV``, ``VIRTUAL_ENV``), else the one running ckx
    (:func:`ckx.artifacts.venvs.current_python`). Without a venv in sight the answer is
    ``sys.executable`` and the venv module (~20 ms of imports) stays out of a cached run."""
    if not (env.get("CKX_VENV") or os.environ.get("CKX_VENV") or os.environ.get("VIRTUAL_ENV")):
        return sys.executable
    from ckx.artifacts.venvs import current_python

    return current_python(env)


def mapped_inputs(meta: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``input_mapping``: request input ``key`` -> env key."""
    out = {}
    for key, env_key in (meta.get("input_mapping") or {}).items():
        if key in inputs and inputs[key] is not None:
            out[str(env_key)] = normalise_value(inputs[key])
    return out


def _copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else v


def normalise_value(value: Any) -> Any:
    """Env values are strings (``+`` lists stay lists); YAML booleans become yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return [str(x) for x in value]
    if value is None:
        return ""
    return str(value)


def set_all(env: dict[str, Any], values: Mapping[str, Any]) -> None:
    """``env.update(values)``, with ``+KEY`` lists merged instead of replaced."""
    for k, v in values.items():
        v = normalise_value(v)
        if k.startswith("+"):
            append_list(env, k, v if isinstance(v, list) else [v])
        else:
            env[k] = v


def set_defaults(env: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Set only the keys ``env`` does not hold yet (``default_env``)."""
    for k, v in values.items():
        if k not in env:
            env[k] = _copy(normalise_value(v))


def append_list(env: dict[str, Any], key: str, items: Iterable[str]) -> None:
    """Add ``items`` to the ``+KEY`` list ``key``, first occurrence kept."""
    cur = env.get(key)
    cur = list(cur) if isinstance(cur, list) else ([cur] if cur else [])
    for item in items:
        if item and item not in cur:
            cur.append(item)
    env[key] = cur


def export(env: Mapping[str, Any], patterns: Iterable[str]) -> dict[str, Any]:
    """The keys of ``env`` that ``new_env_keys`` ``patterns`` let through to the parent."""
    pats = list(patterns)
    return {k: _copy(v) for k, v in env.items() if matches(k, pats)}


def export_state(state: Mapping[str, Any], patterns: Iterable[str]) -> dict[str, Any]:
    """Top-level ``state`` keys matching ``new_state_keys``."""
    pats = list(patterns)
    return {k: v for k, v in state.items() if matches(k, pats)}


def to_process_env(base: Mapping[str, str], env: Mapping[str, Any]) -> dict[str, str]:
    """The environment of a child process: ``base`` plus ``env``, ``+K`` lists prepended to K."""
    out = dict(base)
    for k, v in env.items():
        if not k.startswith("+"):
            out[k] = "" if v is None else str(v)
    for k, v in env.items():
        if k.startswith("+") and v:
            name = k[1:]
            items = v if isinstance(v, list) else [str(v)]
            old = out.get(name, "")
            out[name] = os.pathsep.join([*items, old] if old else items)
    return out


def substitute_hash(obj: Any, value: str) -> Any:
    """Replace ``#`` by ``value`` in every string of ``obj`` (dynamic ``name.#`` variations)."""
    if isinstance(obj, str):
        return obj.replace("#", value)
    if isinstance(obj, list):
        return [substitute_hash(x, value) for x in obj]
    if isinstance(obj, dict):
        return {k: substitute_hash(v, value) for k, v in obj.items()}
    return obj


def _norm(value: Any) -> str:
    s = str(normalise_value(value)).strip().lower()
    if s in _TRUE:
        return "yes"
    if s in _FALSE:
        return "no"
    return s


def value_matches(actual: Any, wanted: Any) -> bool:
    """One condition: ``actual`` (None when unset) equals one of the ``wanted`` values.

    yes/true/on/1 are the same value, and so are no/false/off/0/empty/unset.
    """
    options = wanted if isinstance(wanted, list) else [wanted]
    a = _norm(actual) if actual is not None else "no"
    return any(_norm(o) == a for o in options)


def condition_holds(
    cond: Mapping[str, Any] | None, env: Mapping[str, Any], *, any_of: bool = False
) -> bool:
    """All (or, with ``any_of``, any) ``KEY: [values]`` pairs of ``cond`` hold in ``env``."""
    if not cond:
        return not any_of  # an empty "any" condition holds nothing
    results = (value_matches(env.get(k), v) for k, v in cond.items())
    return any(results) if any_of else all(results)


CONDITION_FIELDS = ("enable_if_env", "enable_if_any_env", "skip_if_env", "skip_if_any_env")


def dep_enabled(dep: Mapping[str, Any], env: Mapping[str, Any]) -> bool:
    """The MLCFlow rule: enable_if_env (all) and enable_if_any_env (any) must hold; then
    skip_if_env (all) or skip_if_any_env (any) skips the dep."""
    if dep.get("enable_if_env") and not condition_holds(dep["enable_if_env"], env):
        return False
    if dep.get("enable_if_any_env") and not condition_holds(
        dep["enable_if_any_env"], env, any_of=True
    ):
        return False
    if dep.get("skip_if_env") and condition_holds(dep["skip_if_env"], env):
        return False
    if dep.get("skip_if_any_env") and condition_holds(dep["skip_if_any_env"], env, any_of=True):
        return False
    return True


def condition_keys(dep: Mapping[str, Any]) -> set[str]:
    """Every env key a dep's conditions and tag updates read."""
    keys: set[str] = set()
    for f in CONDITION_FIELDS:
        keys |= set((dep.get(f) or {}).keys())
    keys |= set(dep.get("update_tags_from_env") or [])
    for ks in (dep.get("update_tags_from_env_with_prefix") or {}).values():
        keys |= set(ks or [])
    return keys


def tags_from_env(dep: Mapping[str, Any], env: Mapping[str, Any]) -> list[str]:
    """Extra query terms from ``update_tags_from_env`` (values split on ',') and
    ``update_tags_from_env_with_prefix`` (``prefix + value``)."""
    out: list[str] = []
    for k in dep.get("update_tags_from_env") or []:
        val = env.get(k)
        if val:
            out += [t.strip() for t in str(val).split(",") if t.strip()]
    for prefix, keys in (dep.get("update_tags_from_env_with_prefix") or {}).items():
        for k in keys or []:
            val = env.get(k)
            if val:
                out += [prefix + t.strip() for t in str(val).split(",") if t.strip()]
    return out


OUTPUT_ENV_FILE = "ckx-output.env"


def read_output_env(path: Path) -> dict[str, Any]:
    """Parse the ``KEY=VALUE`` file a run.sh writes to ``$CKX_OUTPUT_ENV_FILE``.

    One assignment per line; the value is the rest of the line, verbatim (no quotes are
    removed, no variables expanded: use ``echo "K=$VALUE" >> "$CKX_OUTPUT_ENV_FILE"``).
    ``+KEY=dir`` appends ``dir`` to the ``+KEY`` list. Blank lines and ``#`` comments are
    ignored. A later line for the same key wins.
    """
    out: dict[str, Any] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("export "):
            s = s[len("export ") :].lstrip()
        key, sep, value = s.partition("=")
        key = key.strip()
        name = key[1:] if key.startswith("+") else key
        if (
            not sep
            or not name
            or not (name[0].isalpha() or name[0] == "_")
            or not name.replace("_", "a").isalnum()
        ):
            raise RunError(
                f"{path}, line {n}: expected KEY=VALUE, found {line!r}",
                hint="write one 'KEY=VALUE' per line to $CKX_OUTPUT_ENV_FILE",
            )
        if key.startswith("+"):
            append_list(out, key, [value])
        else:
            out[key] = value
    return out


def recorded_paths(env: Mapping[str, Any]) -> list[str]:
    """Absolute paths among exported values that exist now (checked again on cache reuse)."""
    out: list[str] = []
    for v in env.values():
        for item in v if isinstance(v, list) else [v]:
            if (
                isinstance(item, str)
                and os.path.isabs(item)
                and "\n" not in item
                and os.path.exists(item)
            ):
                out.append(item)
    return sorted(set(out))


def rewrite_paths(obj: Any, old: str, new: str) -> Any:
    """Replace the build dir ``old`` by the final dir ``new`` in every string of ``obj``."""
    if isinstance(obj, str):
        return obj.replace(old, new)
    if isinstance(obj, list):
        return [rewrite_paths(x, old, new) for x in obj]
    if isinstance(obj, dict):
        return {k: rewrite_paths(v, old, new) for k, v in obj.items()}
    return obj
