"""Reading and writing entry meta files (YAML or JSON), atomically and with clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ckx.core.errors import MetaError

#: File names that hold an entry's meta, in order of preference. ``_cm.*`` are CM's names.
META_NAMES = ("meta.yaml", "meta.yml", "meta.json", "_cm.yaml", "_cm.json")


def find_meta_file(entry_dir: Path) -> Path | None:
    """The meta file of an entry folder, or None when it has none."""
    for name in META_NAMES:
        p = entry_dir / name
        if p.is_file():
            return p
    return None


#: Limits of one meta file (see docs/security.md); each can be changed with the env var of
#: the same name. A meta beyond them is one clear MetaError and its entry is skipped.
META_LIMITS = {
    "CKX_META_MAX_BYTES": 4 * 1024 * 1024,  # the largest MLCFlow meta is ~68 kB
    "CKX_META_MAX_NODES": 200_000,  # values after YAML aliases are expanded (largest: ~2,500)
    "CKX_META_MAX_DEPTH": 100,  # nesting of mappings and lists (largest: 9)
}


def meta_limit(name: str) -> int:
    """The limit ``name`` of :data:`META_LIMITS`, from the environment when set there."""
    return env_limit(name, META_LIMITS)


def env_limit(name: str, defaults: dict[str, int]) -> int:
    """A positive limit: ``$name`` when it is set to an integer, else ``defaults[name]``."""
    raw = os.environ.get(name)
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            pass
    return defaults[name]


def _yaml():
    import yaml  # noqa: PLC0415  (lazy: only when a YAML file is actually parsed)

    return yaml


_LOADER = None


def _loader():
    """libyaml's safe loader (pure Python when libyaml is missing) that refuses duplicate keys."""
    global _LOADER
    if _LOADER is None:
        yaml = _yaml()
        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class StrictLoader(base):  # type: ignore[misc,valid-type]
            def construct_mapping(self, node, deep=False):
                _check_duplicate_keys(yaml, node)
                return super().construct_mapping(node, deep=deep)

        _LOADER = StrictLoader
    return _LOADER


def _check_duplicate_keys(yaml, node) -> None:
    """YAML silently keeps the last of two equal keys; a meta with both is a mistake."""
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[tuple[str, str], object] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        ident = (key.tag, key.value)
        if ident in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key.value}'", key.start_mark
            )
        seen[ident] = key


def _no_duplicate_pairs(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"duplicate key '{k}'")
            seen.add(k)
    return out


def check_bounds(data: Any, path: Path | str, max_nodes: int | None = None) -> None:
    """Refuse data with more values or deeper nesting than the limits (counting every use of a
    YAML alias, so a "billion laughs" meta stops after :data:`META_LIMITS` values, not 10⁹)."""
    max_nodes = max_nodes or meta_limit("CKX_META_MAX_NODES")
    max_depth = meta_limit("CKX_META_MAX_DEPTH")
    count = 0
    todo: list[tuple[Any, int]] = [(data, 1)]
    while todo:
        item, depth = todo.pop()
        count += 1
        if count > max_nodes:
            raise MetaError(
                f"{path}: more than {max_nodes} values (YAML aliases count each time they are "
                "used); not read",
                hint="raise CKX_META_MAX_NODES if this meta is genuine",
            )
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise MetaError(
                    f"{path}: nested deeper than {max_depth} levels; not read",
                    hint="raise CKX_META_MAX_DEPTH if this meta is genuine",
                )
            values = item.values() if isinstance(item, dict) else item
            todo.extend((v, depth + 1) for v in values)


def load_text(text: str, path: Path | str, *, strict_keys: bool = True) -> Any:
    """Parse YAML or JSON text (chosen by the file name), raising MetaError with the location.

    Duplicate keys, more than the limits of :data:`META_LIMITS`, integers too long to convert
    and nesting deeper than Python can follow are MetaErrors too: a hostile meta costs one
    message, never the command. ``strict_keys=False`` lets the last of duplicate keys win, as
    YAML and MLCFlow do (for foreign repos registered as they are)."""
    path = Path(path)
    max_bytes = meta_limit("CKX_META_MAX_BYTES")
    if len(text) > max_bytes:
        raise MetaError(
            f"{path}: {len(text)} characters, more than the limit of {max_bytes}; not read",
            hint="raise CKX_META_MAX_BYTES if this meta is genuine",
        )
    try:
        data = _parse(text, path, strict_keys)
    except RecursionError:
        raise MetaError(f"{path}: nested too deeply to read") from None
    except ValueError as e:  # an integer beyond Python's digit limit, a duplicate JSON key
        text = str(e).splitlines()[0]
        if "integer string conversion" in text:
            text = "a number with too many digits to read (" + text.split(": ", 1)[-1] + ")"
            text = text.split("; use ", 1)[0] + ")" if "; use " in text else text
        raise MetaError(f"{path}: {text}") from None
    check_bounds(data, path)
    return data


def _parse(text: str, path: Path, strict_keys: bool) -> Any:
    if path.suffix == ".json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_pairs if strict_keys else None)
        except json.JSONDecodeError as e:
            raise MetaError(
                f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
            ) from None
    yaml = _yaml()
    try:
        loader = _loader() if strict_keys else getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise MetaError(f"{path}: invalid YAML{where}: {problem}") from None


def load_meta(path: Path, *, strict_keys: bool = True) -> dict:
    """Load a meta file; it must hold a mapping."""
    max_bytes = meta_limit("CKX_META_MAX_BYTES")
    try:
        with open(path, "rb") as f:  # never more than the limit in memory
            raw = f.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise MetaError(
                f"{path}: larger than the limit of {max_bytes} bytes; not read",
                hint="raise CKX_META_MAX_BYTES if this meta is genuine",
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise MetaError(f"{path}: meta file not found") from None
    except OSError as e:
        raise MetaError(f"{path}: cannot read the meta file: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise MetaError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    data = load_text(text, path, strict_keys=strict_keys)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MetaError(
            f"{path}: the meta must be a mapping of fields, found {type(data).__name__}"
        )
    return data


def dump_text(data: Any, path: Path | str) -> str:
    if Path(path).suffix == ".json":
        return json.dumps(data, indent=2, sort_keys=False) + "\n"
    yaml = _yaml()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)


def save_meta(path: Path, data: dict) -> None:
    from ckx.core import atomic

    atomic.write_text(path, dump_text(data, path))
