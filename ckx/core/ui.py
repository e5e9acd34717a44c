"""Talking to the user: output, warnings, prompts that never hang.

Prompts appear only when stdin and stdout are terminals and ``--quiet`` was not given;
otherwise the documented default is taken and a line says what was chosen (or, when there is
no default, the choices are listed in the error).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from ckx.core.errors import UsageError


class UI:
    """Output and prompts for one command. ``mode``: 'con' (human), 'json' or 'none' (API)."""

    def __init__(
        self,
        mode: str = "none",
        quiet: bool = False,
        interactive: bool | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
        inp: TextIO | None = None,
    ) -> None:
        self.mode = mode
        self.quiet = quiet
        self.warnings: list[str] = []  # every warning of this call (the API returns them)
        self._out = out
        self._err = err
        self._in = inp
        if interactive is None:
            interactive = _is_tty(sys.stdin) and _is_tty(sys.stdout)
        self.interactive = bool(interactive) and not quiet and mode == "con"

    @property
    def stdout(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._err or sys.stderr

    def print(self, text: str = "") -> None:
        """Human output (stdout); silent in JSON and API mode."""
        if self.mode == "con":
            print(text, file=self.stdout, flush=True)

    def info(self, text: str) -> None:
        """A progress/status line on stderr; silent in API mode and with --quiet... except choices."""
        if self.mode != "none" and not self.quiet:
            print(text, file=self.stderr, flush=True)

    def note(self, text: str) -> None:
        """A line that is shown even with --quiet (e.g. what default was picked)."""
        if self.mode != "none":
            print(text, file=self.stderr, flush=True)

    def warn(self, text: str) -> None:
        """Warnings always reach stderr except in API mode, where they are collected."""
        self.warnings.append(text)
        if self.mode != "none":
            print(f"warning: {text}", file=self.stderr, flush=True)

    def choose(
        self, title: str, options: Sequence[str], default: int | None = 0, what: str = ""
    ) -> int:
        """Pick one of ``options``: a numbered prompt when interactive, else ``default``.

        With no default and no terminal, raise a UsageError that lists the choices.
        """
        if not options:
            raise ValueError("choose() needs at least one option")
        if len(options) == 1:
            return 0
        listing = "\n".join(f"  {k}) {o}" for k, o in enumerate(options))
        if not self.interactive:
            if default is None:
                raise UsageError(f"{title}; choose one of:\n{listing}", hint=what or None)
            self.note(f"{title}; chose {default}) {options[default]} (non-interactive default)")
            return default
        print(f"{title}:\n{listing}", file=self.stdout, flush=True)
        prompt = "Select a number" + (f" [{default}]" if default is not None else "") + ": "
        while True:
            print(prompt, end="", file=self.stdout, flush=True)
            line = (self._in or sys.stdin).readline()
            if not line:  # EOF: never hang
                if default is None:
                    raise UsageError(f"{title}: no choice made", hint=what or None)
                return default
            line = line.strip()
            if not line and default is not None:
                return default
            if line.isdigit() and 0 <= int(line) < len(options):
                return int(line)
            print(f"please type a number from 0 to {len(options) - 1}", file=self.stdout)

    def confirm(self, question: str, default: bool = False) -> bool:
        """Yes/no: interactive prompt, otherwise ``default``."""
        if not self.interactive:
            return default
        suffix = " [Y/n] " if default else " [y/N] "
        print(question + suffix, end="", file=self.stdout, flush=True)
        line = (self._in or sys.stdin).readline().strip().lower()
        if not line:
            return default
        return line in ("y", "yes")


def _is_tty(stream) -> bool:
    try:
        return bool(stream) and stream.isatty()
    except (AttributeError, ValueError):
        return False
