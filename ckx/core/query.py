"""Tag queries: the one grammar used by the CLI, ``deps`` and conditions.

Grammar (EBNF)::

    query     = term { "," term } ;
    term      = ws ( tag | "-" tag | "_" variation | "-_" variation ) ws ;
    tag       = tagchar { tagchar | "." | "-" | "_" | "+" } ;
    variation = name [ "." value ] ;
    name      = tagchar { tagchar | "-" | "_" | "+" } ;
    value     = valchar { valchar } ;            (* anything but "," *)
    tagchar   = letter | digit ;
    ws        = { " " | "\\t" } ;

Meaning: every plain ``tag`` must be present on an entry; a ``-tag`` must be absent; ``_v``
selects variation ``v`` of the entry (``_v.x`` the dynamic variation ``v.#`` with value ``x``);
``-_v`` forbids variation ``v`` (even as a default). An empty query matches everything.

A dotted ``_a.b`` is parsed as name ``a`` and value ``b``; whether it names the static
variation ``a.b`` (MLCFlow's ``_v0.5``, ``_bert-99.9``) or the dynamic ``a.#`` with value ``b``
is decided against the entry's declared variations (the static name wins, as in MLCFlow).

Errors are :class:`~ckx.core.errors.QueryError` whose message shows the query with a ``^`` under the
offending character. Nothing else is ever raised for a string input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ckx.core.errors import QueryError

_TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_+]*")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_+]*")
_WS = " \t"


class Variation:
    """A selected variation: ``name`` and, for dynamic ``name.#`` variations, ``value``.
    Immutable and hashable. (Plain classes, not dataclasses, in the kernel's hot path: the
    dataclasses import and class set-up cost ~10 ms of every command's start.)"""

    __slots__ = ("name", "value")
    name: str
    value: str | None

    def __init__(self, name: str, value: str | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", value)

    def __setattr__(self, key, value):
        raise AttributeError(f"Variation is immutable (tried to set {key})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Variation) and (self.name, self.value) == (other.name, other.value)

    def __hash__(self) -> int:
        return hash((self.name, self.value))

    def __repr__(self) -> str:
        return f"Variation(name={self.name!r}, value={self.value!r})"

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}.{self.value}"


class Query:
    """A parsed tag query (immutable, hashable; ``text`` is not compared). Use :func:`parse`."""

    __slots__ = ("tags", "not_tags", "variations", "not_variations", "text")
    tags: tuple[str, ...]
    not_tags: tuple[str, ...]
    variations: tuple[Variation, ...]
    not_variations: tuple[str, ...]
    text: str

    def __init__(
        self,
        tags: tuple[str, ...] = (),
        not_tags: tuple[str, ...] = (),
        variations: tuple[Variation, ...] = (),
        not_variations: tuple[str, ...] = (),
        text: str = "",
    ) -> None:
        for k, v in (
            ("tags", tuple(tags)),
            ("not_tags", tuple(not_tags)),
            ("variations", tuple(variations)),
            ("not_variations", tuple(not_variations)),
            ("text", text),
        ):
            object.__setattr__(self, k, v)

    def __setattr__(self, key, value):
        raise AttributeError(f"Query is immutable (tried to set {key})")

    def _key(self) -> tuple:
        return (self.tags, self.not_tags, self.variations, self.not_variations)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Query(tags={self.tags!r}, not_tags={self.not_tags!r}, variations={self.variations!r}, "
            f"not_variations={self.not_variations!r})"
        )

    def matches_tags(self, entry_tags: Iterable[str]) -> bool:
        """True when all plain tags are in ``entry_tags`` and no negative tag is."""
        have = set(entry_tags)
        return all(t in have for t in self.tags) and not any(t in have for t in self.not_tags)

    def is_empty(self) -> bool:
        return not (self.tags or self.not_tags or self.variations or self.not_variations)

    def variation_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variations)

    def merged(self, other: Query) -> Query:
        """This query plus ``other``'s terms (``other`` wins for a repeated variation name)."""
        names = {v.name for v in other.variations}
        return Query(
            tags=_uniq(self.tags + other.tags),
            not_tags=_uniq(self.not_tags + other.not_tags),
            variations=tuple(v for v in self.variations if v.name not in names) + other.variations,
            not_variations=_uniq(self.not_variations + other.not_variations),
        )

    def __str__(self) -> str:
        parts = list(self.tags)
        parts += [f"-{t}" for t in self.not_tags]
        parts += [f"_{v}" for v in self.variations]
        parts += [f"-_{n}" for n in self.not_variations]
        return ",".join(parts)


def _uniq(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _fail(text: str, pos: int, problem: str) -> QueryError:
    caret = " " * pos + "^"
    return QueryError(
        f"bad tag query: {problem} at position {pos + 1}\n  {text}\n  {caret}",
        hint="a query is comma-separated terms: tag, -tag, _variation, _variation.value, -_variation",
    )


def parse(text: str | Iterable[str] | None) -> Query:
    """Parse a query string (or a list of terms, as found in YAML ``tags:`` lists)."""
    if text is None:
        return Query()
    if not isinstance(text, str):
        items = list(text)
        if not all(isinstance(t, str) for t in items):
            raise QueryError(f"bad tag query: expected strings, got {items!r}")
        text = ",".join(items)
    if text.strip(_WS) == "":
        return Query(text=text)
    terms = _Terms()
    pos = 0
    n = len(text)
    while True:
        pos = _skip_ws(text, pos)
        neg = text.startswith("-", pos)
        if neg:
            pos += 1
        if text.startswith("_", pos):
            pos = _variation_term(text, pos + 1, neg, terms)
        else:
            m = _TAG_RE.match(text, pos)
            if not m:
                what = "a tag" if not neg else "a tag or '_variation' after '-'"
                raise _fail(text, pos, f"expected {what}, found {_describe(text, pos)}")
            (terms.not_tags if neg else terms.tags).append(m.group(0))
            pos = m.end()
        pos = _skip_ws(text, pos)
        if pos >= n:
            break
        if text[pos] != ",":
            raise _fail(text, pos, f"expected ',' or the end, found {_describe(text, pos)}")
        pos += 1
        if _skip_ws(text, pos) >= n:
            raise _fail(text, pos - 1, "a trailing ',' with no term after it")
    return terms.query(text)


class _Terms:
    """The terms of a query as the parser meets them."""

    def __init__(self) -> None:
        self.tags: list[str] = []
        self.not_tags: list[str] = []
        self.variations: dict[str, Variation] = {}
        self.not_variations: list[str] = []

    def query(self, text: str) -> Query:
        both = set(self.tags) & set(self.not_tags)
        if both:
            raise QueryError(
                f"bad tag query '{text}': tag '{sorted(both)[0]}' is both required and forbidden"
            )
        clash = set(self.variations) & set(self.not_variations)
        if clash:
            raise QueryError(
                f"bad tag query '{text}': variation '_{sorted(clash)[0]}' is both selected and forbidden"
            )
        return Query(
            tags=_uniq(tuple(self.tags)),
            not_tags=_uniq(tuple(self.not_tags)),
            variations=tuple(self.variations.values()),
            not_variations=_uniq(tuple(self.not_variations)),
            text=text,
        )


def _variation_term(text: str, pos: int, neg: bool, terms: _Terms) -> int:
    """Read ``name[.value]`` at ``pos`` (just after the ``_``); returns the position after it."""
    m = _NAME_RE.match(text, pos)
    if not m:
        raise _fail(text, pos, "expected a variation name after '_'")
    name = m.group(0)
    pos = m.end()
    value = None
    if text.startswith(".", pos):
        end = text.find(",", pos + 1)
        end = len(text) if end < 0 else end
        value = text[pos + 1 : end].strip(_WS)
        if not value:
            raise _fail(text, pos + 1, f"expected a value after '_{name}.'")
        pos = end
    if neg:
        # a dotted forbidden name is a static dotted variation (-_bert-99.9)
        terms.not_variations.append(name if value is None else f"{name}.{value}")
    else:
        if name in terms.variations and terms.variations[name] != Variation(name, value):
            raise _fail(text, m.start(), f"variation '_{name}' is given twice")
        terms.variations[name] = Variation(name, value)
    return pos


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _describe(text: str, pos: int) -> str:
    if pos >= len(text):
        return "the end"
    return repr(text[pos])
