"""The one signature rule for functions ckx calls in content (hooks, automation actions):
the fast code-object path agrees with inspect on every kind of callable."""

from __future__ import annotations

import functools
import inspect

import pytest

from ckx.core.pyfile import signature_problem


def _by_inspect(fn, n):
    params = list(inspect.signature(fn).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    kw_required = [p for p in params if p.kind == p.KEYWORD_ONLY and p.default is p.empty]
    return len(positional) >= n and len(required) <= n and not kw_required


class _Hooks:
    def preprocess(self, i):
        return i

    def two(self, i, extra):
        return i


def _decorated(fn):
    @functools.wraps(fn)
    def inner(*a, **k):
        return fn(*a, **k)

    return inner


@_decorated
def _wrapped(i, extra):
    return i


CASES = {
    "exact": lambda i, extra: None,
    "too few": lambda i: None,
    "extra required": lambda i, extra, more: None,
    "extra defaulted": lambda i, extra, more=1: None,
    "all defaulted": lambda i=1, extra=2: None,
    "varargs only": lambda *args: None,
    "kw-only required": lambda i, extra, *, k: None,
    "kw-only defaulted": lambda i, extra, *, k=1: None,
    "kwargs": lambda i, extra, **kw: None,
    "positional-only": eval("lambda i, extra, /: None"),
    "bound method": _Hooks().two,
    "bound method, one": _Hooks().preprocess,
    "partial": functools.partial(lambda a, i, extra: None, 1),
    "wrapped": _wrapped,
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("n", [1, 2])
def test_the_fast_path_agrees_with_inspect(name, n):
    fn = CASES[name]
    problem = signature_problem(fn, n)
    assert (problem is None) == _by_inspect(fn, n), (name, n, problem)
    if problem is not None:
        assert problem.startswith("it takes (")  # the words still come from inspect
