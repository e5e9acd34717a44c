"""Meta validation: a base schema for every entry plus a JSON Schema per automation.

An automation declares the schema of its entries in its own meta (``entry_schema``), so a user
repo that adds an automation brings its schema with it. Problems are reported as
``<file>: field '<path>': <problem>``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ckx.core.errors import MetaError
from ckx.core.metafile import find_meta_file, load_meta

BASE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["alias", "uid", "tags"],
    "properties": {
        "alias": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.@+\-]*$"},
        "uid": {"type": "string", "pattern": r"^[0-9a-f]{16}$"},
        "automation_alias": {"type": "string"},
        "automation_uid": {"type": "string"},
        "tags": {
            "type": "array",
            "items": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9.\-_+]*$"},
        },
        "name": {"type": "string"},
    },
}


def _field_path(err) -> str:
    parts: list[str] = []
    for p in err.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p)))
    return "".join(parts) or "(top level)"


def _message(err) -> str:
    if err.validator == "pattern":
        return f"{err.instance!r} does not match the pattern {err.validator_value!r}"
    if err.validator == "required":
        return err.message.replace(" is a required property", " is required")
    return err.message


@lru_cache(maxsize=64)
def _validator(schema_json: str):
    import json

    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


@lru_cache(maxsize=64)
def _fast_validator(schema_json: str):
    """A compiled validator (fastjsonschema: ~40x faster than jsonschema), or None when the
    schema uses something it does not support."""
    import json

    try:
        import fastjsonschema

        return fastjsonschema.compile(json.loads(schema_json))
    except Exception:  # noqa: BLE001 - unsupported keyword, or not installed: use jsonschema
        return None


def is_valid(meta: dict, schema: dict) -> bool:
    """The fast yes/no; the messages come from :func:`iter_problems` (jsonschema)."""
    import json

    fast = _fast_validator(json.dumps(schema, sort_keys=True))
    if fast is None:
        return not iter_problems(meta, "", schema)
    try:
        fast(meta)
        return True
    except Exception:  # noqa: BLE001 - JsonSchemaValueException or a definition problem
        return False


def iter_problems(meta: dict, meta_file: Path | str, schema: dict) -> list[str]:
    """Every schema problem of ``meta`` as '<file>: field '<path>': <problem>' strings."""
    import json

    v = _validator(json.dumps(schema, sort_keys=True))
    out = []
    for err in sorted(v.iter_errors(meta), key=lambda e: list(map(str, e.absolute_path))):
        out.append(f"{meta_file}: field '{_field_path(err)}': {_message(err)}")
    return out


def entry_schema(automation: str, registry) -> dict | None:
    """The ``entry_schema`` an automation declares in its meta, or None."""
    for repo in registry.repos:
        d = repo.folder_for("automation") / automation
        f = find_meta_file(d) if d.is_dir() else None
        if f:
            try:
                return load_meta(f).get("entry_schema")
            except MetaError:
                return None
    return None


_LOOKUP = object()


_ALIAS_RE = None
_TAG_RE = None


def base_problems(meta: dict, meta_file: Path | str) -> list[str]:
    """The checks of :data:`BASE_SCHEMA`, hand-written: the index runs them on every changed
    meta and jsonschema costs ~10x more for these few fields. Messages match jsonschema's."""
    import re

    global _ALIAS_RE, _TAG_RE
    if _ALIAS_RE is None:
        props = BASE_SCHEMA["properties"]
        _ALIAS_RE = re.compile(props["alias"]["pattern"])
        _TAG_RE = re.compile(props["tags"]["items"]["pattern"])
    out = []
    for key in ("alias", "uid", "tags"):
        if key not in meta:
            out.append(f"{meta_file}: field '(top level)': '{key}' is required")
    for key in ("alias", "uid", "automation_alias", "automation_uid", "name"):
        v = meta.get(key)
        if key in meta and not isinstance(v, str):
            out.append(f"{meta_file}: field '{key}': {v!r} is not of type 'string'")
    alias, uid = meta.get("alias"), meta.get("uid")
    if isinstance(alias, str) and not _ALIAS_RE.match(alias):
        out.append(
            f"{meta_file}: field 'alias': {alias!r} does not match the pattern {BASE_SCHEMA['properties']['alias']['pattern']!r}"
        )
    if isinstance(uid, str) and not (len(uid) == 16 and all(c in "0123456789abcdef" for c in uid)):
        out.append(
            f"{meta_file}: field 'uid': {uid!r} does not match the pattern {BASE_SCHEMA['properties']['uid']['pattern']!r}"
        )
    tags = meta.get("tags")
    if "tags" in meta and not isinstance(tags, list):
        out.append(f"{meta_file}: field 'tags': {tags!r} is not of type 'array'")
    elif isinstance(tags, list):
        for k, t in enumerate(tags):
            if not isinstance(t, str):
                out.append(f"{meta_file}: field 'tags[{k}]': {t!r} is not of type 'string'")
            elif not _TAG_RE.match(t) or not _TAG_RE.fullmatch(t):
                out.append(
                    f"{meta_file}: field 'tags[{k}]': {t!r} does not match the pattern {BASE_SCHEMA['properties']['tags']['items']['pattern']!r}"
                )
    return out


def problems_of(
    meta: dict, meta_file: Path | str, automation: str, registry=None, schema=_LOOKUP
) -> list[str]:
    """All problems: base schema, automation schema, and alias/automation consistency.

    ``schema`` is the automation's entry schema when the caller already has it (or None);
    otherwise it is looked up through ``registry``.
    """
    out = base_problems(meta, meta_file)
    declared = meta.get("automation_alias")
    if isinstance(declared, str) and declared != automation:
        out.append(
            f"{meta_file}: field 'automation_alias': is '{declared}' but the entry is in the "
            f"'{automation}' folder"
        )
    if schema is _LOOKUP:
        schema = entry_schema(automation, registry) if registry is not None else None
    if schema and not is_valid(meta, schema):
        out += iter_problems(meta, meta_file, schema)
    return out


def check_entry_meta(
    meta: dict, meta_file: Path | str, automation: str, registry=None, schema=_LOOKUP
) -> None:
    """Raise MetaError with the first problem (the index skips such entries)."""
    problems = problems_of(meta, meta_file, automation, registry, schema)
    if problems:
        more = f" (and {len(problems) - 1} more; see: ckx lint)" if len(problems) > 1 else ""
        raise MetaError(problems[0] + more)


# -- tolerance: what MLCFlow accepts is read, normalised, and noted ----------------------

_DEP_KINDS = ("deps", "prehook_deps", "posthook_deps", "post_deps")
_MAP_FIELDS = ("env", "default_env", "const", "state", "input_mapping", "default_variations")
_ADR_FIELDS = ("add_deps_recursive", "adr", "add_deps", "ad")


def tolerate(meta: dict) -> list[str]:
    """Normalise, in place, the loose forms MLCFlow accepts in script metas; return one note
    per change (``ckx lint`` shows them as warnings; the entry stays usable).

    * a dep's ``names`` given as one string (``names: llvm-install``) becomes a list, split
      on spaces and commas (MLCFlow tests ``name in names``, a substring test on a string);
    * an empty (``null``) ``env``/``default_env``/``const``/``state``/``input_mapping``/
      ``default_variations``, deps list or variation becomes empty;
    * an ``adr``/``add_deps`` value that is not a mapping (a mis-indented ``KEY: value``) is
      dropped: MLCFlow fails with an AttributeError when such a variation is selected.
    """
    notes: list[str] = []
    _tolerate_block(meta, "", notes)
    for group in ("variations", "versions"):
        blocks = meta.get(group)
        if not isinstance(blocks, dict):
            continue
        for name, block in blocks.items():
            if block is None:
                blocks[name] = {}
            elif isinstance(block, dict):
                _tolerate_block(block, f"{group}.{name}.", notes)
    return notes


def _tolerate_block(block: dict, where: str, notes: list[str]) -> None:
    for key in _MAP_FIELDS:
        if key in block and block[key] is None:
            block[key] = {}
            notes.append(f"field '{where}{key}' is empty: read as {{}}")
    for kind in _DEP_KINDS:
        if kind in block and block[kind] is None:
            block[kind] = []
            notes.append(f"field '{where}{kind}' is empty: read as []")
        for k, dep in enumerate(block.get(kind) or []):
            if isinstance(dep, dict):
                _tolerate_dep(dep, f"{where}{kind}[{k}].", notes)
    for key in _ADR_FIELDS:
        adr = block.get(key)
        if adr is None and key in block:
            block[key] = {}
            continue
        if not isinstance(adr, dict):
            continue
        for name in list(adr):
            if adr[name] is None:
                adr[name] = {}
            elif not isinstance(adr[name], dict):
                notes.append(
                    f"field '{where}{key}.{name}': {adr[name]!r} is not a mapping of dep fields:"
                    " ignored (a mis-indented line? MLCFlow fails when this is applied)"
                )
                del adr[name]
            else:
                _tolerate_dep(adr[name], f"{where}{key}.{name}.", notes)


def _tolerate_dep(dep: dict, where: str, notes: list[str]) -> None:
    names = dep.get("names")
    if isinstance(names, str):
        dep["names"] = [n for n in names.replace(",", " ").split() if n]
        notes.append(f"field '{where}names' is a string: read as the list {dep['names']}")
    if "env" in dep and dep["env"] is None:
        dep["env"] = {}
        notes.append(f"field '{where}env' is empty: read as {{}}")
