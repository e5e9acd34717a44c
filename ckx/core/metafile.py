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


def _yaml():
    import yaml  # noqa: PLC0415  (lazy: only when a YAML file is actually parsed)

    return yaml


def load_text(text: str, path: Path | str) -> Any:
    """Parse YAML or JSON text (chosen by the file name), raising MetaError with the location."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise MetaError(
                f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
            ) from None
    yaml = _yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise MetaError(f"{path}: invalid YAML{where}: {problem}") from None


def load_meta(path: Path) -> dict:
    """Load a meta file; it must hold a mapping."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetaError(f"{path}: meta file not found") from None
    except UnicodeDecodeError as e:
        raise MetaError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    data = load_text(text, path)
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


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and a rename."""
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_meta(path: Path, data: dict) -> None:
    atomic_write_text(path, dump_text(data, path))
