"""Which repositories are MLCFlow repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The uid of MLCFlow's (and CM's) ``script`` automation, as script metas declare it.
SCRIPT_AUTOMATION_UID = "5b4e0237da074764"


def is_mlcflow_repo(repo: Any) -> bool:
    """Is ``repo`` (a :class:`ckx.core.repos.Repo`) an MLCFlow repository: a root
    ``meta.yaml``/``meta.json`` (MLCFlow's repo description, not ckx's ``repo.yaml``, CM's
    ``cmr.yaml`` or CK's ``.ckr.json``) and a ``script/`` folder?"""
    if repo is None or getattr(repo, "kind", "") == "builtin" or getattr(repo, "folders", None):
        return False
    root = Path(repo.path)
    own = any((root / f).is_file() for f in ("repo.yaml", "cmr.yaml", ".ckr.json"))
    desc = (root / "meta.yaml").is_file() or (root / "meta.json").is_file()
    return desc and not own and (root / "script").is_dir()
