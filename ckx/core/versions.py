"""Version parsing, ordering and constraints (MLCFlow ``version*`` semantics).

Two kinds of version text are understood, and both live in ONE total order:

* **PEP 440** (``3.11.7``, ``2.5.1+cpu``, ``1.0rc1``, ``1.60.1-DEV``): parsed with
  ``packaging`` and ordered exactly as ``packaging.version.Version`` orders them.
* **Loose tool versions** that PEP 440 rejects (``1.1.1w``, ``3.25.1-debian``,
  ``12.2.0 (Debian 12.2.0-14)``, ``2.39.5.windows.1``). The loose rule:

  1. lower-case the text and drop everything before its first digit;
  2. split the rest into runs of digits and runs of letters (every other character is a
     separator and is ignored);
  3. the leading digit runs are the *release* (``1.1.1``); the remaining runs are a
     *label* (``w``; ``debian``; ``debian.12.2.0.14``; ``windows.1``);
  4. the version is then ordered as the PEP 440 version ``<release>+<label>``: a label makes
     a version newer than its bare release and older than the next release or any
     post-release (``1.1.1 < 1.1.1d < 1.1.1w < 1.1.1.post1 < 1.1.2``); labels compare
     piecewise, numbers numerically, a number is newer than a word, words alphabetically.

  PEP 440 is always tried first, so text it
  accepts keeps its PEP 440 meaning even where a tool meant otherwise: OpenSSL's ``1.1.1a``,
  ``1.1.1b`` and ``1.1.1c`` are PEP 440 pre-releases (older than ``1.1.1``) and ``-DEV`` is
  a dev release. A detector that needs another reading normalises the text in its
  ``determine_version`` hook.

* **Named versions** (``master``, ``main``, ``custom``, ``dev``, ``latest``, ``dev-clean``):
  a word of letters, ``-``, ``_``, ``.`` or ``+`` with no digit, as MLCFlow scripts declare
  them in ``versions:``/``default_version``. A named version equals only the same name
  (case-sensitive, as MLCFlow looks it up in ``versions``) and sorts below every numeric
  version (MLCFlow reads a name as ``0``), so ``master`` passes a ``version_max`` and fails a
  ``version_min``. Bounds themselves (``version_min``, ``version_max``) must be numeric.

  Other text without any digit (``""``, ``-``, ``not installed``) is not a version.

Trailing zeros of the release do not count (``3.11 == 3.11.0``), as in PEP 440, so equal
versions may have different ``text``; they hash equally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache, total_ordering
from typing import Any, TypeGuard

from ckx.core.errors import UsageError

__all__ = [
    "Version",
    "compare",
    "describe_constraint",
    "is_named_version",
    "newest",
    "parse_version",
    "satisfies",
    "validate_constraint",
    "version_tags",
]

# A loose version is split into digit runs and letter runs; anything else separates them.
_LOOSE_RUN = re.compile(r"\d+|[a-z]+")

# Sort-key building blocks. Every key part is a tuple whose first item is a small int, so
# keys of PEP 440 and loose versions always compare without mixing str and int.
_PRE_DEV_ONLY = (0,)  # 1.0.dev0 sorts before 1.0a0 (PEP 440)
_PRE_NONE = (2,)  # a final release sorts after its pre-releases
_POST_NONE = (0,)
_DEV_NONE = (1,)
_LOCAL_NONE = (0,)


@total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A parsed version: comparable, hashable, with the original ``text``.

    ``pep440`` says which rule parsed it; ``release`` is the numeric release tuple
    (``(3, 11, 7)``); ``key`` is the sort key shared by both rules.
    """

    text: str
    release: tuple[int, ...]
    pep440: bool
    key: tuple = field(repr=False)
    named: bool = False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key == other.key

    def __lt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text


def _trim_release(release: tuple[int, ...]) -> tuple[int, ...]:
    """Drop trailing zeros: ``3.11.0`` and ``3.11`` are the same release (PEP 440)."""
    end = len(release)
    while end > 0 and release[end - 1] == 0:
        end -= 1
    return release[:end]


def _local_key(segments: Iterable[int | str]) -> tuple:
    # PEP 440: numeric local segments sort after alphanumeric ones.
    parts = tuple((1, s, "") if isinstance(s, int) else (0, 0, s) for s in segments)
    return (1, *parts)


def _pep440_key(v: Any) -> tuple:
    """The sort key of a ``packaging`` Version, built from its public attributes only."""
    pre: tuple
    if v.pre is None and v.post is None and v.dev is not None:
        pre = _PRE_DEV_ONLY
    elif v.pre is None:
        pre = _PRE_NONE
    else:
        pre = (1, v.pre[0], v.pre[1])
    post = _POST_NONE if v.post is None else (1, v.post)
    dev = _DEV_NONE if v.dev is None else (0, v.dev)
    local = _LOCAL_NONE if v.local is None else _local_key(_split_local(v.local))
    return (v.epoch, _trim_release(v.release), pre, post, dev, local)


def _split_local(local: str) -> list[int | str]:
    return [int(s) if s.isdigit() else s for s in re.split(r"[._-]", local)]


def _loose_parse(text: str) -> tuple[tuple[int, ...], tuple]:
    runs = _LOOSE_RUN.findall(text.lower())
    while runs and not runs[0].isdigit():
        runs.pop(0)  # drop a prefix such as "v", "go", "release-"
    if not runs:
        raise UsageError(
            f"'{text}' is not a version: it contains no digits and is not a name such as master",
            hint="give a version such as 3.11.7 (PEP 440), a tool version such as 1.1.1w"
            " or a named version such as master",
        )
    release: list[int] = []
    while runs and runs[0].isdigit():
        release.append(int(runs.pop(0)))
    label = [int(r) if r.isdigit() else r for r in runs]
    local = _local_key(label) if label else _LOCAL_NONE
    key = (0, _trim_release(tuple(release)), _PRE_NONE, _POST_NONE, _DEV_NONE, local)
    return tuple(release), key


_NAMED_RE = re.compile(r"[A-Za-z][A-Za-z_.+\-]*")


def is_named_version(text: str) -> bool:
    """True for a version that is a name (``master``, ``dev-clean``): see the module doc."""
    return bool(_NAMED_RE.fullmatch(text.strip()))


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Version:
    from packaging.version import InvalidVersion
    from packaging.version import Version as PepVersion

    stripped = text.strip()
    if is_named_version(stripped):
        # below every numeric key (whose first item, the epoch, is >= 0); equal by name only
        return Version(text=text, release=(), pep440=False, key=(-1, stripped), named=True)
    try:
        v = PepVersion(stripped)
    except InvalidVersion:
        release, key = _loose_parse(stripped)
        return Version(text=text, release=release, pep440=False, key=key)
    return Version(text=text, release=tuple(v.release), pep440=True, key=_pep440_key(v))


def parse_version(text: str | Version) -> Version:
    """Parse ``text`` as a named version, PEP 440, else with the loose rule (module doc).

    Raises :class:`~ckx.core.errors.UsageError` for text that is neither (no digit, not a name).
    """
    if isinstance(text, Version):
        return text
    if not isinstance(text, str):
        raise UsageError(f"a version must be a string, got {type(text).__name__} {text!r}")
    return _parse_cached(text)


def compare(a: str | Version, b: str | Version) -> int:
    """Return -1, 0 or 1 as version ``a`` is older than, equal to or newer than ``b``."""
    va, vb = parse_version(a), parse_version(b)
    return (va.key > vb.key) - (va.key < vb.key)


def _given(value: str | Version | None) -> TypeGuard[str | Version]:
    return value is not None and str(value).strip() != ""


def satisfies(
    found: str | Version,
    *,
    version: str | None = None,
    version_min: str | None = None,
    version_max: str | None = None,
    version_max_usable: str | None = None,
) -> bool:
    """Does the ``found`` version meet the constraints (MLCFlow semantics)?

    ``version`` asks for an exact version (equal as versions, so ``3.11 == 3.11.0``);
    ``version_min``/``version_max`` are inclusive bounds. ``version_max_usable`` is the
    version MLCFlow installs when only a range is given: it never rejects a found version
    and is accepted so a whole constraint dict can be passed with ``**``. Empty strings
    mean "no constraint", as in MLCFlow's env variables.
    """
    v = parse_version(found)
    _numeric_bound(version_min, "version_min")
    _numeric_bound(version_max, "version_max")
    if _given(version) and compare(v, version) != 0:
        return False
    if _given(version_min) and compare(v, version_min) < 0:
        return False
    if _given(version_max) and compare(v, version_max) > 0:
        return False
    if _given(version_max_usable):
        parse_version(version_max_usable)  # still reject garbage early
    return True


def _numeric_bound(value: str | Version | None, name: str) -> None:
    if _given(value) and parse_version(value).named:
        raise UsageError(
            f"{name} '{value}' is a named version; a bound must be a number such as 3.8",
            hint=f"ask for the named version exactly (version={value}) or give a numeric {name}",
        )


def validate_constraint(
    *,
    version: str | None = None,
    version_min: str | None = None,
    version_max: str | None = None,
    version_max_usable: str | None = None,
    where: str = "",
) -> None:
    """Raise :class:`~ckx.core.errors.UsageError` if the constraints cannot all hold at once.

    Checks that every bound parses, ``version_min <= version_max``, and that an exact
    ``version`` and ``version_max_usable`` lie inside the range. ``where`` names the
    request or meta field for the message.
    """
    raw = {
        "version": version,
        "version_min": version_min,
        "version_max": version_max,
        "version_max_usable": version_max_usable,
    }
    given: dict[str, str] = {k: str(v) for k, v in raw.items() if _given(v)}
    for v in given.values():
        parse_version(v)
    _numeric_bound(given.get("version_min"), "version_min")
    _numeric_bound(given.get("version_max"), "version_max")
    prefix = f"{where}: " if where else ""
    lo, hi = given.get("version_min"), given.get("version_max")
    if lo and hi and compare(lo, hi) > 0:
        raise UsageError(
            f"{prefix}version_min {lo} is newer than version_max {hi}",
            hint="swap the bounds or widen the range",
        )
    for name in ("version", "version_max_usable"):
        value = given.get(name)
        if value and not satisfies(value, version_min=lo, version_max=hi):
            raise UsageError(
                f"{prefix}{name} {value} is outside the range "
                f"{describe_constraint(version_min=lo, version_max=hi)}",
                hint=f"pick a {name} within the range or change the range",
            )


def describe_constraint(
    *,
    version: str | None = None,
    version_min: str | None = None,
    version_max: str | None = None,
    version_max_usable: str | None = None,
) -> str:
    """Render constraints for messages: ``==3.11.7``, ``>=3.8,<=3.12``, or ``any version``."""
    parts = []
    if _given(version):
        parts.append(f"=={version}")
    if _given(version_min):
        parts.append(f">={version_min}")
    if _given(version_max):
        parts.append(f"<={version_max}")
    text = ",".join(parts) if parts else "any version"
    if _given(version_max_usable):
        text += f" (install {version_max_usable})"
    return text


def newest(versions: Iterable[str | Version]) -> str:
    """The text of the newest version; the first one listed wins a tie between equals.

    Raises :class:`~ckx.core.errors.UsageError` for an empty list.
    """
    best: Version | None = None
    for item in versions:
        v = parse_version(item)
        if best is None or v > best:
            best = v
    if best is None:
        raise UsageError("no versions to choose the newest from")
    return best.text


def version_tags(text: str | Version) -> list[str]:
    """CK-style tags for a version: ``3.11.7`` -> ``['v3', 'v3.11', 'v3.11.7']``.

    Only the numeric release is used, so ``1.1.1w`` gives ``['v1', 'v1.1', 'v1.1.1']``.
    """
    release = parse_version(text).release
    return ["v" + ".".join(str(n) for n in release[: i + 1]) for i in range(len(release))]
