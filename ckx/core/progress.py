"""A tiny byte progress bar on stderr (bytes done, rate, ETA), with no dependency.

The bar draws only when its stream is a terminal and ``quiet`` is false, so logs, CI output
and piped stderr never fill with carriage returns. Producers (downloads, copies) talk to any
object with the :class:`ProgressSink` methods; :class:`Progress` is the terminal one.
``done`` is always the absolute byte count, so a download that restarts from zero or resumes
from the middle just reports the new position.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


class ProgressSink(Protocol):
    """What a producer of bytes calls; every method must be cheap and must not raise."""

    def start(self, label: str, total: int | None, done: int = 0) -> None:
        """A new transfer named ``label`` of ``total`` bytes (None: unknown) begins at ``done``."""

    def update(self, done: int) -> None:
        """``done`` bytes of the current transfer are now written."""

    def finish(self) -> None:
        """The current transfer ended (successfully or not)."""


def human_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'``: binary units, one decimal above bytes."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """``75`` → ``'1:15'``, ``3700`` → ``'1:01:40'``."""
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_line(label: str, done: int, total: int | None, rate: float, width: int = 80) -> str:
    """One status line: label, bytes done / total, percent, rate and ETA, cut to ``width``."""
    parts = [label]
    if total:
        pct = min(100.0, 100.0 * done / total)
        parts.append(f"{human_bytes(done)} / {human_bytes(total)} {pct:5.1f}%")
    else:
        parts.append(human_bytes(done))
    if rate > 0:
        parts.append(f"{human_bytes(rate)}/s")
        if total and total > done:
            parts.append(f"ETA {human_duration((total - done) / rate)}")
    line = "  ".join(parts)
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


class Progress:
    """A :class:`ProgressSink` drawing one self-overwriting line on a terminal stream.

    Silent (every call is a no-op) when ``quiet`` is true or the stream is not a TTY.
    Redraws at most every ``min_interval`` seconds to keep the cost per chunk negligible.
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        quiet: bool = False,
        min_interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and _isatty(self._stream)
        self._min_interval = min_interval
        self._clock = clock
        self._label = ""
        self._total: int | None = None
        self._start_done = 0
        self._done = 0
        self._t0 = 0.0
        self._last_draw = float("-inf")
        self._started = False

    def start(self, label: str, total: int | None, done: int = 0) -> None:
        """Begin a transfer; ``done`` > 0 for a resumed one (its bytes do not count in the rate)."""
        self._label, self._total, self._started = label, total, True
        self._start_done = self._done = done
        self._t0 = self._clock()
        self._last_draw = float("-inf")
        self._draw(force=True)

    def update(self, done: int) -> None:
        """Record the absolute byte count; redraw if enough time has passed."""
        if done < self._done:  # the transfer restarted from zero: the rate starts over too
            self._start_done, self._t0 = done, self._clock()
        self._done = done
        self._draw(force=False)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        if not self.enabled or not self._started:
            return
        self._started = False
        self._draw(force=True)
        self._stream.write("\n")
        self._stream.flush()

    def rate(self) -> float:
        """Bytes per second since the transfer (re)started, 0.0 before any time has passed."""
        elapsed = self._clock() - self._t0
        return (self._done - self._start_done) / elapsed if elapsed > 0 else 0.0

    def _draw(self, *, force: bool) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if not force and now - self._last_draw < self._min_interval:
            return
        self._last_draw = now
        width = _terminal_width()
        line = render_line(self._label, self._done, self._total, self.rate(), width - 1)
        self._stream.write("\r" + line.ljust(width - 1))
        self._stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or unusual streams are not terminals
        return False


def _terminal_width() -> int:
    import shutil

    return max(20, shutil.get_terminal_size((80, 24)).columns)
