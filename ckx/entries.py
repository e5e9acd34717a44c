"""Entries: folders with a meta file, addressed by CIDs ``[repo:]automation[:entry]``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def new_uid() -> str:
    """A fresh 16-hex uid, as CK/CM/MLCFlow use."""
    import secrets

    return secrets.token_hex(8)


def is_uid(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


@dataclass
class Entry:
    """One entry as the index knows it. ``meta`` is parsed lazily from the index copy."""

    repo: str
    automation: str
    alias: str
    uid: str
    path: Path
    meta_file: Path
    tags: tuple[str, ...] = ()
    _meta_json: str | None = field(default=None, repr=False)
    _meta: dict | None = field(default=None, repr=False)

    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            if self._meta_json is not None:
                self._meta = json.loads(self._meta_json)
            else:
                from ckx.metafile import load_meta

                self._meta = load_meta(self.meta_file)
        return self._meta

    @property
    def cid(self) -> str:
        return f"{self.repo}:{self.automation}:{self.alias}"

    def to_dict(self) -> dict:
        return {
            "cid": self.cid,
            "repo": self.repo,
            "automation": self.automation,
            "alias": self.alias,
            "uid": self.uid,
            "path": str(self.path),
            "tags": list(self.tags),
        }
