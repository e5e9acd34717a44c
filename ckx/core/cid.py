"""CIDs: ``[repo:]automation[:entry]`` names for entries, with ``*``/``?`` wildcards.

As in CK: one part names an automation, two parts ``automation:entry``, three parts
``repo:automation:entry``. Each part may be an alias, a 16-hex uid or a glob.
"""

from __future__ import annotations

import re

from ckx.core.errors import QueryError

_PART = re.compile(r"^[A-Za-z0-9_.@+\-*?\[\]]+$")


class CID:
    """A parsed CID (immutable)."""

    __slots__ = ("automation", "entry", "repo")
    automation: str
    entry: str | None
    repo: str | None

    def __init__(self, automation: str, entry: str | None = None, repo: str | None = None) -> None:
        object.__setattr__(self, "automation", automation)
        object.__setattr__(self, "entry", entry)
        object.__setattr__(self, "repo", repo)

    def __setattr__(self, key, value):
        raise AttributeError("CID is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CID) and (self.automation, self.entry, self.repo) == (
            other.automation,
            other.entry,
            other.repo,
        )

    def __hash__(self) -> int:
        return hash((self.automation, self.entry, self.repo))

    def __repr__(self) -> str:
        return f"CID({self.automation!r}, {self.entry!r}, {self.repo!r})"

    def __str__(self) -> str:
        s = self.automation + (f":{self.entry}" if self.entry is not None else "")
        return f"{self.repo}:{s}" if self.repo else s

    @property
    def has_wildcards(self) -> bool:
        return any(c in (self.entry or "") + (self.repo or "") for c in "*?[")


def parse_cid(text: str) -> CID:
    """Parse a CID; errors point at the bad part."""
    if not isinstance(text, str) or not text:
        raise QueryError(
            "empty CID", hint="a CID is [repo:]automation[:entry], e.g. script:get-python3"
        )
    parts = text.split(":")
    if len(parts) > 3:
        raise QueryError(
            f"bad CID '{text}': at most three parts (repo:automation:entry), found {len(parts)}",
            hint="e.g. local:experiment:my-run",
        )
    for k, p in enumerate(parts):
        if not _PART.match(p):
            col = sum(len(x) + 1 for x in parts[:k])
            raise QueryError(
                f"bad CID part '{p}' at position {col + 1}\n  {text}\n  {' ' * col}^",
                hint="parts use letters, digits, '-', '_', '.', '@' and the wildcards * ?",
            )
    if len(parts) == 1:
        return CID(parts[0])
    if len(parts) == 2:
        return CID(parts[0], parts[1])
    return CID(parts[1], parts[2], parts[0])
