"""Variations: from the ``_v`` terms of a query to the meta overlays of one entry.

The rule (MLCFlow's, written down):

1. Every requested ``_name`` must be a declared variation (``name``) or, with a value
   (``_name.value``), a dynamic one (``name.#``). A declared static name that contains a dot
   (``v0.5``, ``bert-99.9``) wins over the dynamic reading, as in MLCFlow; otherwise the
   text is split at its first dot. A variation with ``alias: other`` stands for ``other``.
2. ``base: [..]`` of a selected variation selects those too (recursively), and its
   ``default_variations: {group: name}`` sets the default of other groups.
3. Two selected variations of one ``group`` are an error naming both.
4. A group with no selected variation gets its default: the script-level
   ``default_variations``, then the variation's ``default_variations`` overrides, then the
   variation marked ``default: true`` — unless the query forbids it (``-_name``).
   Steps 2–4 repeat until nothing changes.
5. ``invalid_variation_combinations: [[a, b], ..]`` are refused; with
   ``valid_variation_combinations`` the selection must include all of one of them (MLCFlow).
6. Overlays are applied in declaration order of the single variations, then the combined
   keys ``a,b`` (all parts selected) in order of their number of parts; in a dynamic
   variation's block every ``#`` is replaced by its value.

The normalised variations (sorted, ``name`` or ``name.value``) are part of the cache key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ckx.core.query import Query
from ckx.engine.envs import substitute_hash

if TYPE_CHECKING:
    from ckx.engine.problems import PlanError

#: Fields that merge as dicts; lists of deps append; the rest replace.
_DICT_FIELDS = ("env", "default_env", "state", "const", "const_state", "input_mapping")
_DEP_FIELDS = ("deps", "prehook_deps", "posthook_deps", "post_deps")
_LIST_FIELDS = (
    "new_env_keys",
    "new_state_keys",
    "local_env_keys",
    "update_meta_if_env",
    *_DEP_FIELDS,
)
_ADR_FIELDS = {
    "add_deps_recursive": "add_deps_recursive",
    "adr": "add_deps_recursive",
    "add_deps": "add_deps",
    "ad": "add_deps",
}
_REPLACE_FIELDS = (
    "cache",
    "cache_expiration",
    "default_version",
    "versions",
    "detect",
    "env_prefix",
    "download",
    "python_package",
    "script_name",
)


class Selection:
    """The variations chosen for one entry and the meta they produce: ``names`` normalised
    (sorted, ``name`` or ``name.value``), ``values`` of dynamic ones, ``meta`` with overlays,
    ``env`` what the chosen variations' own ``env`` blocks set (in the order applied)."""

    __slots__ = ("names", "values", "meta", "warnings", "env", "text")

    def __init__(
        self,
        names: tuple[str, ...],
        values: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
        env: dict[str, Any] | None = None,
    ) -> None:
        self.names = names
        self.values = values or {}
        self.meta = meta or {}
        self.warnings = warnings or []
        self.env = env or {}
        #: the names as a query's variations (``_a,_b.x``)
        self.text = ",".join(f"_{n}" for n in names)


def merge_meta(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overlay`` merged in (a new dict; inputs are not modified)."""
    out = dict(base)
    for k, v in overlay.items():
        if k in _DICT_FIELDS and isinstance(v, dict):
            out[k] = {**(out.get(k) or {}), **v}
        elif k in _LIST_FIELDS and isinstance(v, list):
            out[k] = [*(out.get(k) or []), *v]
        elif k in _ADR_FIELDS and isinstance(v, dict):
            name = _ADR_FIELDS[k]
            out[name] = merge_adr(out.get(name) or {}, v)
        elif k in _REPLACE_FIELDS:
            out[k] = v
    return out


def merge_adr(low: dict[str, dict], high: dict[str, dict]) -> dict[str, dict]:
    """Merge two ``add_deps_recursive`` maps (name -> dep fields); ``high`` wins per field,
    ``tags`` are concatenated and ``env`` dicts merged."""
    out = {k: dict(v) for k, v in low.items()}
    for name, fields in high.items():
        cur = out.setdefault(name, {})
        for k, v in (fields or {}).items():
            if k == "tags" and cur.get("tags"):
                cur["tags"] = f"{_tags_text(cur['tags'])},{_tags_text(v)}"
            elif k == "env" and isinstance(v, dict):
                cur["env"] = {**(cur.get("env") or {}), **v}
            else:
                cur[k] = v
    return out


def _tags_text(tags: Any) -> str:
    return tags if isinstance(tags, str) else ",".join(str(t) for t in tags)


def select(meta: dict[str, Any], query: Query, where: str | Callable[[], str]) -> Selection:
    """Apply the variation rule to ``meta`` for ``query``; ``where`` names the entry (or
    makes the name when needed: most entries have no variations to select)."""
    declared: dict[str, dict] = meta.get("variations") or {}
    if not declared and not query.variations and not query.not_variations:
        return Selection(names=(), meta=dict(meta))
    singles = {k: (v or {}) for k, v in declared.items() if "," not in k}
    chosen: dict[str, str | None] = {}  # name (or "name.#") -> dynamic value
    for v in query.variations:
        key, value = _declared_key(singles, v.name, v.value, where)
        chosen[key] = value
    forbidden = set(query.not_variations)
    bad = forbidden & {k.removesuffix(".#") for k in chosen}
    if bad:
        raise _error("variation-forbidden", where=where, name=sorted(bad)[0])
    _expand(meta, singles, chosen, forbidden, where)
    _check_combinations(meta, chosen, where)
    overlays = _overlays(declared, singles, chosen)
    merged = dict(meta)
    warnings: list[str] = []
    env: dict[str, Any] = {}
    for block in overlays:
        merged = merge_meta(merged, block)
        env.update(block.get("env") or {})
        if block.get("warning"):
            warnings.append(str(block["warning"]))
    names = tuple(sorted(_norm_name(k, val) for k, val in chosen.items()))
    values = {k.removesuffix(".#"): val for k, val in chosen.items() if val is not None}
    return Selection(names=names, values=values, meta=merged, warnings=warnings, env=env)


#: The entry a selection is for, in messages: the text, or a function that makes it (most
#: selections raise nothing, so most names are never made).
Where = str | Callable[[], str]


def _base_of(where: Where, key: str) -> Callable[[], str]:
    return lambda: f"{where() if callable(where) else where} (base of '_{key}')"


def _norm_name(key: str, value: str | None) -> str:
    return f"{key.removesuffix('.#')}.{value}" if value is not None else key


def _declared_key(
    singles: dict[str, dict], name: str, value: str | None, where: Where
) -> tuple[str, str | None]:
    if value is not None:
        if f"{name}.{value}" in singles:  # a static name with a dot (_v0.5)
            return _declared_key(singles, f"{name}.{value}", None, where)
        if f"{name}.#" in singles:
            return f"{name}.#", value
        raise _error("variation-not-dynamic", where=where, name=name, value=value, declared=singles)
    if name not in singles and "." in name:
        # a dotted name given as one string (base, default, alias): static, else dynamic
        head, _, rest = name.partition(".")
        if rest:
            return _declared_key(singles, head, rest, where)
    if name not in singles:
        if f"{name}.#" in singles:
            raise _error("variation-needs-value", where=where, name=name, declared=singles)
        raise _error("variation-unknown", where=where, name=name, declared=singles)
    target = singles[name].get("alias")
    if target:
        return _declared_key(singles, str(target), None, where)
    return name, None


def _error(kind: str, **details: Any) -> PlanError:
    """A variation problem as data (worded by :func:`ckx.engine.problems.render`); ``where``
    is made now if it was passed as a function (the name is made only for an error)."""
    from ckx.engine.problems import PlanError

    if callable(details.get("where")):
        details["where"] = details["where"]()
    if "declared" in details:
        details["declared"] = list(details["declared"])
    return PlanError(kind, **details)


def _expand(
    meta: dict,
    singles: dict[str, dict],
    chosen: dict[str, str | None],
    forbidden: set[str],
    where: Where,
) -> None:
    """Bases, group checks and group defaults, repeated until stable."""
    for _ in range(len(singles) + 2):
        before = dict(chosen)
        for key in list(chosen):
            for b in _as_list(singles.get(key, {}).get("base")):
                bkey, bval = _declared_key(singles, str(b).lstrip("_"), None, _base_of(where, key))
                chosen.setdefault(bkey, bval)
        groups = _groups(singles, chosen, where)
        defaults = dict(meta.get("default_variations") or {})
        for key in chosen:
            defaults.update(singles.get(key, {}).get("default_variations") or {})
        for group, members in _all_groups(singles).items():
            if group in groups:
                continue
            pick = defaults.get(group)
            if pick is None:
                pick = next(
                    (m for m in members if singles[m].get("default") in (True, "yes", "true")), None
                )
            if pick is None:
                continue
            pick = str(pick).lstrip("_")
            if pick in forbidden:
                continue
            if pick not in singles and not (
                "." in pick and pick.partition(".")[0] + ".#" in singles
            ):
                raise _error("variation-default", where=where, name=pick, group=group)
            pkey, pval = _declared_key(singles, pick, None, where)
            chosen[pkey] = pval
        if chosen == before:
            _groups(singles, chosen, where)
            return
    raise _error("variation-unsettled", where=where)


def _groups(
    singles: dict[str, dict], chosen: dict[str, str | None], where: Where
) -> dict[str, str]:
    seen: dict[str, str] = {}
    for key in chosen:
        group = singles.get(key, {}).get("group")
        if group is None:
            continue
        if group in seen and seen[group] != key:
            a, b = sorted((seen[group], key))
            pair = (a.removesuffix(".#"), b.removesuffix(".#"))
            raise _error("variation-group", where=where, names=pair, group=group)
        seen[group] = key
    return seen


def _all_groups(singles: dict[str, dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in singles.items():
        if v.get("group") is not None:
            out.setdefault(str(v["group"]), []).append(k)
    return out


def _check_combinations(meta: dict, chosen: dict[str, str | None], where: Where) -> None:
    names = {k.removesuffix(".#") for k in chosen}
    valid = [
        {str(p).lstrip("_") for p in _as_list(c)}
        for c in meta.get("valid_variation_combinations") or []
    ]
    if valid and not any(v <= names for v in valid):
        raise _error(
            "variation-not-valid",
            where=where,
            names=sorted(names),
            valid=[sorted(v) for v in valid],
        )
    for combo in meta.get("invalid_variation_combinations") or []:
        parts = {str(p).lstrip("_") for p in _as_list(combo)}
        if parts and parts <= names:
            raise _error("variation-combination", where=where, names=sorted(parts))


def _overlays(
    declared: dict[str, dict], singles: dict[str, dict], chosen: dict[str, str | None]
) -> list[dict]:
    blocks: list[dict] = []
    for key in singles:
        if key in chosen:
            block = singles[key]
            val = chosen[key]
            blocks.append(substitute_hash(block, val) if val is not None else block)
    names = set(chosen)
    combined = [k for k in declared if "," in k]
    combined.sort(key=lambda k: k.count(","))  # stable: declaration order within a size
    for key in combined:
        parts = [p.strip().lstrip("_") for p in key.split(",")]
        if all(p in names for p in parts):
            blocks.append(declared[key] or {})
    return blocks


def _as_list(v: Any) -> list:
    if v is None:
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]
    return list(v)
