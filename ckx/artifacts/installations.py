"""Env entries: the installations ckx knows of outside its cache (CK's ``env``).

``ckx detect soft`` registers each installation a package entry's ``detect`` block finds, and
``ckx install package`` registers what a package that is not cached (a Python library in an
interpreter, a detect-only tool) found or installed: one entry of automation ``env`` in the
local repo (``repos/local/env/<uid>/meta.json``) per package and path. Its tags are the
package's plus the version's (``v3``, ``v3.11``, ``v3.11.7``); it records the version, the
path and the env the package exports. Registering the same package and path again updates
that entry. Packages that are cached (data sets, models, source builds) are recorded by
their cache entries instead; ``ckx show env`` lists both (docs/detection.md).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

HOW = ("detected", "installed")


def register(
    ctx: Any,
    package: Any,
    *,
    version: str | None,
    path: str | None,
    env: dict[str, Any],
    details: dict[str, Any] | None = None,
    how: str = "detected",
    variations: list[str] | None = None,
) -> dict[str, Any]:
    """Write (or update) the env entry of ``package`` (an Entry) installed at ``path``;
    return its meta."""
    from ckx.core import atomic
    from ckx.core.entries import new_uid

    folder = ctx.registry.get("local").folder_for("env")
    folder.mkdir(parents=True, exist_ok=True)
    soft = package.meta.get("soft_alias")
    uid = _existing(folder, package.uid, soft, path) or new_uid()
    meta = {
        "alias": f"{soft or package.alias}-{uid[:8]}",
        "uid": uid,
        "automation_alias": "env",
        "tags": list(dict.fromkeys([*package.tags, *_version_tags(version)])),
        "package_uid": package.uid,
        "package_alias": package.alias,
        "soft_alias": soft,
        "how": how,
        "variations": list(variations or []),
        "version": version,
        "path": path,
        "env": env,
        "details": {
            k: v for k, v in (details or {}).items() if isinstance(v, (str, int, float, bool))
        },
        "detected": time.time(),
    }
    atomic.write_text(folder / uid / "meta.json", json.dumps(meta, indent=1) + "\n")
    return meta


def _version_tags(version: str | None) -> list[str]:
    from ckx.core.versions import version_tags

    if not version:
        return []
    try:
        return version_tags(version)
    except Exception:  # a version text without digits gives no tags
        return []


def _existing(folder: Any, package_uid: str, soft: str | None, path: str | None) -> str | None:
    """The env entry already registered for this package and path (also one written before
    soft entries became packages: same CK name, ``soft_uid``/``soft_alias`` fields)."""
    try:
        it = os.scandir(folder)
    except FileNotFoundError:
        return None
    with it:
        for d in it:
            if d.name.startswith("."):
                continue
            try:
                with open(os.path.join(d.path, "meta.json"), encoding="utf-8") as f:
                    m = json.load(f)
            except (OSError, ValueError):
                continue
            same = m.get("package_uid", m.get("soft_uid")) == package_uid or (
                soft is not None and m.get("soft_alias") == soft
            )
            if same and m.get("path") == path:
                return d.name
    return None


def installed_path(meta: dict[str, Any], env: dict[str, Any]) -> str | None:
    """Where a package that ran put (or found) its software, from the env it exported: the
    ``detect`` block's ``env_key``, else ``<env_prefix>_PATH``, else the one exported key
    that ends in ``_PATH``."""
    key = (meta.get("detect") or {}).get("env_key")
    if not key and meta.get("env_prefix"):
        key = f"{meta['env_prefix']}_PATH"
    if not key:
        paths = [k for k in env if k.endswith("_PATH") and not k.startswith("+")]
        key = paths[0] if len(paths) == 1 else None
    value = env.get(key) if key else None
    return str(value) if value else None
