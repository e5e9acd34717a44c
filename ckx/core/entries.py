"""Entries: folders with a meta file, addressed by CIDs ``[repo:]automation[:entry]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ckx.core.metafile import load_meta


def new_uid() -> str:
    """A fresh 16-hex uid, as CK/CM/MLCFlow use."""
    import secrets

    return secrets.token_hex(8)


def is_uid(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


class Entry:
    """One entry as the index knows it. ``meta`` is parsed lazily from the index copy."""

    __slots__ = (
        "repo",
        "automation",
        "alias",
        "uid",
        "path",
        "meta_file",
        "tags",
        "cid",
        "_meta_json",
        "_meta",
    )

    def __init__(
        self,
        repo: str,
        automation: str,
        alias: str,
        uid: str,
        path: Path,
        meta_file: Path,
        tags: tuple[str, ...] = (),
        _meta_json: str | None = None,
        _meta: dict | None = None,
    ) -> None:
        self.repo = repo
        self.automation = automation
        self.alias = alias
        self.uid = uid
        self.path = path
        self.meta_file = meta_file
        self.tags = tags
        #: ``repo:automation:alias``
        self.cid = f"{repo}:{automation}:{alias}"
        self._meta_json = _meta_json
        self._meta = _meta

    def __repr__(self) -> str:
        return f"Entry({self.cid}, {self.path})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and (self.repo, self.automation, self.path) == (
            other.repo,
            other.automation,
            other.path,
        )

    def __hash__(self) -> int:
        return hash((self.repo, self.automation, str(self.path)))

    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            if self._meta_json is not None:
                self._meta = json.loads(self._meta_json)
            else:
                self._meta = load_meta(self.meta_file)
        return self._meta

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
