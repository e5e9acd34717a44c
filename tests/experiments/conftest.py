"""Fixtures for the experiment tests: a tiny synthetic program in its own repo.

The program ``synth`` writes a characteristics JSON (``score`` = ``--value`` plus a jitter,
a nested latency, a label, a path that is per-run noise) and an ``out.txt`` into its run
folder, in a few milliseconds, so recording, statistics and sharing are tested without
od-bench.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SYNTH_META = """\
alias: synth
uid: 5a17e5a17e5a17e0
automation_alias: program
tags: [program, synth]
cache: false
characteristics_file: chars.json
run_cmds:
  fast: {desc: "a fast run", env: {SYNTH_MODE: fast}}
  slow: {desc: "a slower run", env: {SYNTH_MODE: slow}}
input_mapping:
  value: SYNTH_VALUE
  sleep: SYNTH_SLEEP
default_env:
  SYNTH_VALUE: "10"
  SYNTH_SLEEP: "0"
new_env_keys: [CKX_RUN_DIR]
"""

SYNTH_RUN = """\
#!/usr/bin/env bash
set -euo pipefail
sleep "${SYNTH_SLEEP}"
# the jitter makes repetitions differ, as real measurements do
jitter=$(( (RANDOM % 5) ))
score=$(( SYNTH_VALUE + jitter ))
factor=1
[ "$SYNTH_MODE" = slow ] && factor=2
cat > "$CKX_RUN_DIR/chars.json" <<JSON
{"score": $score, "mode": "$SYNTH_MODE", "latency_ns": {"p50": $(( 1000000 * factor + jitter ))},
 "valid": true, "output_dir": "$CKX_RUN_DIR"}
JSON
echo "run of $SYNTH_MODE with score $score" > "$CKX_RUN_DIR/out.txt"
"""


def make_synth_repo(root: Path) -> Path:
    """A repo folder with the ``synth`` program; returns the folder."""
    (root / "program" / "synth").mkdir(parents=True)
    (root / "repo.yaml").write_text("alias: t\nuid: 7e57e57e57e57e50\n")
    (root / "program" / "synth" / "meta.yaml").write_text(SYNTH_META)
    run = root / "program" / "synth" / "run.sh"
    run.write_text(textwrap.dedent(SYNTH_RUN))
    run.chmod(0o755)
    return root


@pytest.fixture
def synth(tmp_path, ckx_home) -> Path:
    """Register the synthetic program's repo as ``t`` in this test's CKX_HOME; its folder."""
    import ckx

    root = make_synth_repo(tmp_path / "synth-repo")
    out = ckx.access({"action": "add", "automation": "repo", "entry": "t", "path": str(root)})
    assert out["return"] == 0, out
    return root


def bench(name: str, *, cmd_key: str = "fast", reps: int = 2, **extra) -> dict:
    """Record ``reps`` repetitions of ``synth`` into experiment ``name`` through the Python API."""
    import ckx

    req = {
        "action": "benchmark",
        "automation": "program",
        "entry": "synth",
        "cmd_key": cmd_key,
        "repetitions": reps,
        "record": True,
        "record_uoa": name,
        "quiet": True,
        **extra,
    }
    out = ckx.access(req)
    assert out["return"] == 0, out
    return out
