"""Fixtures for the sweep tests: ``sweepy``, a program that runs in milliseconds.

``sweepy`` writes its characteristics to ``$CKX_CHARACTERISTICS_FILE`` (ckx's convention):
``samples_per_second`` grows with ``--value`` and ``--size``, ``latency_ns.p90`` shrinks. It
fails at run time for a value that is not a whole number, and for ``--env.SWEEPY_FAIL_IF=V``
while the file ``--env.SWEEPY_FAIL_FLAG=PATH`` exists (so a test can make a point fail, then
fix it). ``--env.SWEEPY_SLEEP=S`` makes each run last S seconds. Its cmd_key ``latency`` runs
the LoadGen scenario SingleStream (as far as ckx can tell from its env).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SWEEPY_META = """\
alias: sweepy
uid: 5eeb5eeb5eeb5ee0
automation_alias: program
tags: [program, sweepy]
cache: false
characteristics_file: chars.json
run_cmds:
  fast: {desc: "a fast run", env: {SWEEPY_MODE: fast}}
  slow: {desc: "a slower run", env: {SWEEPY_MODE: slow}}
  latency: {desc: "a latency scenario", env: {SWEEPY_MODE: latency, CKX_LOADGEN_SCENARIO: SingleStream}}
input_mapping:
  value: SWEEPY_VALUE
  size: SWEEPY_SIZE
default_env:
  SWEEPY_VALUE: "1"
  SWEEPY_SIZE: "1"
  SWEEPY_SLEEP: "0"
  SWEEPY_FAIL_IF: ""
  SWEEPY_FAIL_FLAG: ""
new_env_keys: [CKX_RUN_DIR]
"""

SWEEPY_RUN = """\
#!/usr/bin/env bash
set -euo pipefail
if [ -n "$SWEEPY_FAIL_FLAG" ] && [ -e "$SWEEPY_FAIL_FLAG" ] && [ "$SWEEPY_VALUE" = "$SWEEPY_FAIL_IF" ]; then
  echo "sweepy: told to fail for value $SWEEPY_VALUE" >&2
  exit 3
fi
sleep "$SWEEPY_SLEEP"
case "$SWEEPY_VALUE$SWEEPY_SIZE" in
  *[!0-9]*) echo "sweepy: value and size must be whole numbers, got $SWEEPY_VALUE, $SWEEPY_SIZE" >&2; exit 2;;
esac
slow=1
[ "$SWEEPY_MODE" = slow ] && slow=2
tput=$(( SWEEPY_VALUE * SWEEPY_SIZE * 100 / slow + RANDOM % 3 ))
lat=$(( 1000000 * slow / (SWEEPY_VALUE * SWEEPY_SIZE) ))
cat > "$CKX_RUN_DIR/$CKX_CHARACTERISTICS_FILE" <<JSON
{"samples_per_second": $tput, "latency_ns": {"p90": $lat}, "mode": "$SWEEPY_MODE"}
JSON
echo "sweepy value $SWEEPY_VALUE size $SWEEPY_SIZE" > "$CKX_RUN_DIR/out.txt"
"""


def make_sweepy_repo(root: Path) -> Path:
    """A repo folder with the ``sweepy`` program; returns the folder."""
    d = root / "program" / "sweepy"
    d.mkdir(parents=True)
    (root / "repo.yaml").write_text("alias: sw\nuid: 5eeb5eeb5eeb5ee1\n")
    (d / "meta.yaml").write_text(SWEEPY_META)
    (d / "run.sh").write_text(SWEEPY_RUN)
    (d / "run.sh").chmod(0o755)
    return root


def register(home: Path, repo: Path) -> None:
    """Register ``repo`` as ``sw`` in the ckx home ``home`` (what a worker machine would do)."""
    env = dict(os.environ, CKX_HOME=str(home))
    p = subprocess.run(
        [sys.executable, "-m", "ckx", "add", "repo:sw", f"--path={repo}", "--quiet"],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr


@pytest.fixture(scope="session")
def sweepy_repo(tmp_path_factory) -> Path:
    return make_sweepy_repo(tmp_path_factory.mktemp("sweepy-repo"))


@pytest.fixture
def sweepy(sweepy_repo, ckx_home) -> Path:
    """``sweepy`` registered in this test's CKX_HOME; its repo folder."""
    register(ckx_home, sweepy_repo)
    return sweepy_repo


def sweep(*args: str, **req) -> dict:
    """``ckx benchmark program:sweepy`` through the Python API (``args``: ``key=value``)."""
    import ckx

    request = {"action": "benchmark", "automation": "program", "entry": "sweepy", "quiet": True}
    for a in args:
        key, _, value = a.partition("=")
        node = request
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    request.update(req)
    return ckx.access(request)


def experiment_points(home: Path, name: str) -> list[dict]:
    import json

    return [
        json.loads(f.read_text())
        for f in sorted((home / "repos/local/experiment" / name / "points").glob("*/point.json"))
    ]


def sweep_doc(home: Path, name: str) -> dict:
    import json

    (f,) = (home / "repos/local/experiment" / name / "sweeps").glob("*.json")
    return json.loads(f.read_text())
