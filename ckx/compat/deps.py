"""MLCFlow's meaning of dep fields, for the planner and the runner.

Plan time (:func:`plan_dep`), on the dep as declared plus ``add_deps``/``adr`` merged in:

* ``inherit_variation_tags: true``: the dep also gets the parent's variations (all of them,
  defaults included), except those of ``skip_inherit_variation_groups`` and those the dep's
  own tags forbid (``-_x``);
* ``update_tags_if_env: {tag: condition}``: ``tag`` is added when the condition holds;
* ``<<<KEY>>>`` in ``tags`` is replaced by the env value of ``KEY`` (when set);
* ``reuse_version: true``: the dep is asked for the parent's version and version bounds;
* ``names`` given as one string is a one-item list (MLCFlow tests ``name in names``).

Run time (:func:`dep_env`): a dep starts from the parent's env without MLCFlow's local keys
(:data:`ckx.compat.envrules.LOCAL_KEYS`), the parent meta's ``local_env_keys`` and values with
unresolved ``<<<KEY>>>``; ``force_env_keys`` patterns and (with ``reuse_version``)
``MLC_VERSION*`` bring such keys back for that dep.

Hooks edit deps through ``i['automation'].update_deps`` (:func:`update_deps`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ckx.compat import envrules


def names_of(dep: Mapping[str, Any]) -> list[str]:
    names = dep.get("names") or []
    if isinstance(names, str):
        return [n for n in names.replace(",", " ").split() if n]
    return [str(n) for n in names]


def plan_dep(
    dep: dict[str, Any],
    *,
    variations: Iterable[str],
    variation_meta: Mapping[str, Any],
    env: Mapping[str, Any],
    version: str | None,
    constraints: Mapping[str, Any],
) -> dict[str, Any]:
    """The dep with MLCFlow's plan-time rules applied (see the module doc); a new dict."""
    out = dict(dep)
    tags = _tags_text(out.get("tags"))
    for tag, cond in (out.get("update_tags_if_env") or {}).items():
        if isinstance(cond, Mapping) and not envrules.dep_skipped(cond, env):
            tags = f"{tags},{tag}" if tags else str(tag)
    if out.get("inherit_variation_tags"):
        inherited = _inherited(tags, variations, variation_meta, out)
        if inherited:
            tags = ",".join(t for t in (tags, inherited) if t)
    out["tags"] = envrules.substitute_text(tags, env)
    if "names" in out:
        out["names"] = names_of(out)
    if out.get("reuse_version"):
        if version and not out.get("version"):
            out["version"] = version
        for k in ("version_min", "version_max", "version_max_usable"):
            if constraints.get(k) and not out.get(k):
                out[k] = constraints[k]
    return out


def _tags_text(tags: Any) -> str:
    if tags is None:
        return ""
    return tags if isinstance(tags, str) else ",".join(str(t) for t in tags)


def _inherited(
    tags: str, variations: Iterable[str], variation_meta: Mapping[str, Any], dep: Mapping[str, Any]
) -> str:
    skip_groups = set(dep.get("skip_inherit_variation_groups") or [])
    skipped: set[str] = set()
    for name, block in variation_meta.items():
        if isinstance(block, Mapping) and block.get("group") in skip_groups:
            skipped.add(name)
    own = [t.strip() for t in tags.split(",")]
    forbidden = {t[2:] for t in own if t.startswith(("-_", "_-"))}
    keep = []
    for v in variations:
        base = v.split(".", 1)[0] + ".#" if "." in v and v not in variation_meta else v
        if v in skipped or base in skipped or v in forbidden:
            continue
        keep.append("_" + v)
    return ",".join(t for t in keep if t not in own)


def dep_env(
    env: Mapping[str, Any], dep: Mapping[str, Any], meta_local: Iterable[str] = ()
) -> dict[str, Any]:
    """The env a dep starts from (see the module doc)."""
    out = envrules.without_local(env, meta_local)
    keep = [str(k) for k in dep.get("force_env_keys") or []]
    if dep.get("reuse_version"):
        keep.append("MLC_VERSION*")
    if keep:
        for k, v in env.items():
            if k not in out and envrules.matches(k, keep):
                out[k] = list(v) if isinstance(v, list) else v
    return out


def update_deps(deps: list[dict], changes: Mapping[str, Any], env: Mapping[str, Any]) -> None:
    """MLCFlow's ``update_deps``: for each name in ``changes`` whose own condition holds,
    merge its fields into every dep of ``deps`` with that name: ``tags`` appended (without
    ``<<<`` ones), dicts merged, lists extended, conditions left alone, others replaced."""
    for name, fields in changes.items():
        if not isinstance(fields, Mapping) or envrules.dep_skipped(fields, env):
            continue
        for dep in deps:
            if name in names_of(dep):
                merge_dep(dep, _filled(dict(fields), env))


def _filled(d: dict[str, Any], env: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in d.items():
        if isinstance(v, dict):
            d[k] = _filled(dict(v), env)
        elif isinstance(v, str):
            d[k] = envrules.substitute_text(v, env)
    return d


def merge_dep(dep: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Merge ``new`` dep fields into ``dep`` in place (MLCFlow's ``update_dep_info``)."""
    from ckx.compat.mlc.utils import merge_dicts

    for key, value in new.items():
        if key == "tags":
            have = [t for t in _tags_text(dep.get("tags")).split(",") if t]
            add = [t for t in _tags_text(value).split(",") if t and "<<<" not in t]
            dep["tags"] = ",".join(have + [t for t in dict.fromkeys(add) if t not in have])
        elif "enable_if_" in key or "skip_if_" in key:
            continue
        elif isinstance(value, dict):
            cur = dep.setdefault(key, {})
            if isinstance(cur, dict):
                merge_dicts(
                    {"dict1": cur, "dict2": value, "append_lists": True, "append_unique": True}
                )
        elif isinstance(value, list):
            cur = dep.setdefault(key, [])
            if isinstance(cur, list):
                cur.extend(value)
        else:
            dep[key] = value
