"""The command-line :class:`~ckx.engine.protocols.Reporter`: engine events as ``ctx.ui`` lines.

A reporter only observes (choices are the chooser's, beside the provider:
:class:`ckx.engine.provider.UiChooser`).

* a chosen variation's ``warning``, and an input a variation's env overrides, once each;
* progress: ``  run: a → b`` when a node starts, ``  cached: x (path)`` once per cache entry
  (not with ``--quiet``), and the scripts' own output on stderr, with ``--quiet`` too (as in
  CK and MLCFlow, ``--quiet`` means "ask nothing, say less", not "hide what the run prints";
  ``--json`` keeps stdout for the result);
* revisions made while running: ``  revised: ...`` lines, also kept in :attr:`revisions`
  (``run_request`` returns them, ``Plan.with_revisions`` records them).

The other planning events (rejected, conflict, done) print nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ckx.core.entries import Entry
from ckx.core.query import Query
from ckx.core.ui import UI

if TYPE_CHECKING:
    from ckx.engine.cache import CacheRecord
    from ckx.engine.model import Constraint, Node


class CliReporter:
    """Reports to ``ui`` (a :class:`ckx.core.ui.UI`)."""

    def __init__(self, ui: UI) -> None:
        self.ui = ui
        self.revisions: list[str] = []
        self._shown_cached: set[str] = set()
        self._warned: set[str] = set()
        self._echo = ui.mode != "none"  # the command line; the Python API collects nothing
        self._progress = self._echo and not ui.quiet  # run:/cached: lines (ui.info's rule)

    def planned(self, node: Node) -> None:
        if node.selection.warnings or node.layers.late:
            self._warn_once(node)

    def _warn_once(self, node: Node) -> None:
        """What a chosen variation says (its ``warning``), and an input that a variation's
        env overrides (MLCFlow's order), once per node and text."""
        texts = [f"{node.title()}: {w}" for w in node.selection.warnings]
        late, given = node.layers.late, node.layers.inputs
        texts += [
            f"{node.title()}: the input for {k} ({given[k]!r}) is overridden by the variation's "
            f"{k}={late[k]!r} (MLCFlow's order, docs/mlcflow.md)"
            for k in sorted(set(late) & set(given))
            if late[k] != given[k]
        ]
        for text in texts:
            if text not in self._warned:
                self._warned.add(text)
                self.ui.warn(text)

    def rejected(self, entry: Entry, query: Query, reason: str) -> None:
        pass

    def conflict(self, title: str, causes: Sequence[Constraint]) -> None:
        pass

    def revised(self, node: Node, reason: str) -> None:
        note = f"{' → '.join(node.chain)}: {reason}"
        self.revisions.append(note)
        self.ui.info(f"  revised: {note}")

    def started(self, node: Node) -> None:
        if self._progress:
            self.ui.info(f"  run: {' → '.join(node.chain)}")

    def cached(self, node: Node, record: CacheRecord) -> None:
        if (
            self._progress and record.uid not in self._shown_cached
        ):  # a shared dep (get-python3) is said once
            self._shown_cached.add(record.uid)
            self.ui.info(f"  cached: {node.title()} ({record.path})")

    def output(self, node: Node, line: str) -> None:
        if self._echo:
            self.ui.stderr.write(line)

    def done(self, node: Node, status: str) -> None:
        pass
