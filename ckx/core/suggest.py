"""'Did you mean …' suggestions for unknown names."""

from __future__ import annotations

from collections.abc import Iterable

#: A match this much less alike than the best one is not offered (``--recrod``: 'record'
#: alone, not 'repo' too).
MARGIN = 0.1


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    import difflib

    cands = sorted(set(candidates))
    out = difflib.get_close_matches(word, cands, n=n, cutoff=0.6)
    if out:
        score = [difflib.SequenceMatcher(None, word, c).ratio() for c in out]
        out = [c for c, s in zip(out, score, strict=True) if s >= score[0] - MARGIN]
    else:  # substring matches help with long aliases (get-ml-model-… for 'ml-model')
        out = [c for c in cands if word and word in c][:n]
    return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """'' or "; did you mean 'x'?" / "; did you mean one of: 'x', 'y'?"."""
    m = close_matches(word, candidates)
    if not m:
        return ""
    if len(m) == 1:
        return f"; did you mean '{m[0]}'?"
    return "; did you mean one of: " + ", ".join(f"'{x}'" for x in m) + "?"
