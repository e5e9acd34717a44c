"""Record what MLCFlow 1.3.8 exports for the scripts ckx must run unmodified.

Not a test: run it by hand on the machine whose results the fixtures describe, with MLCFlow
installed in its own venv (never in ckx's)::

    python3 -m venv /tmp/mlcw/venv && /tmp/mlcw/venv/bin/pip install mlcflow==1.3.8
    .venv/bin/python tests/compat/record_mlcflow.py --mlc-bin /tmp/mlcw/venv/bin

It copies the mlperf-automations snapshot to a scratch HOME (MLCFlow writes $HOME/MLC and a
log file in the current folder), registers it, runs each command with ``--quiet -j`` and
writes ``fixtures/mlcflow-1.3.8/<name>.json``: the command, the machine it ran on, and the
result JSON MLCFlow printed (``new_env``, ``new_state``, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.compat.machine import fingerprint  # noqa: E402

#: name -> the arguments after ``mlcr`` (ckx runs the same with ``ckx run``)
COMMANDS: dict[str, list[str]] = {
    "detect-os": ["detect,os"],
    "detect-cpu": ["detect,cpu"],
    "get-python3": ["get,python3"],
    "get-cmake": ["get,cmake"],
    "get-sys-utils-min": ["get,sys-utils-min"],
    "get-generic-python-lib-numpy": ["get,generic-python-lib,_package.numpy"],
    "run-python": ["run,python", "--command=-c print(6*7)"],
}


def result_json(stderr: str) -> dict:
    """The last top-level JSON object MLCFlow logged (``-j`` prints it after the log)."""
    start = stderr.rfind("INFO ] - {\n")
    if start < 0:
        raise SystemExit("no result JSON in MLCFlow's output:\n" + stderr[-3000:])
    text = stderr[start + len("INFO ] - ") :]
    obj, _ = json.JSONDecoder().raw_decode(text)
    return obj


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc-bin", required=True, help="bin/ of a venv with mlcflow==1.3.8")
    ap.add_argument(
        "--repo", default=str(HERE.parents[2].parent / "shared/data/mlperf-automations")
    )
    ap.add_argument("--out", default=str(HERE / "fixtures" / "mlcflow-1.3.8"))
    a = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mlcflow-record-"))
    repo = scratch / "mlperf-automations"
    shutil.copytree(a.repo, repo)
    env = {**os.environ, "HOME": str(scratch)}
    mlc = Path(a.mlc_bin)
    subprocess.run([str(mlc / "mlc"), "add", "repo", str(repo)], env=env, cwd=scratch, check=True)
    for name, args in COMMANDS.items():
        cmd = [str(mlc / "mlcr"), *args, "--quiet", "-j"]
        p = subprocess.run(cmd, env=env, cwd=scratch, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{name} failed:\n{p.stderr[-3000:]}")
        doc = {
            "command": "mlcr " + " ".join(args) + " --quiet -j",
            "recorded": time.strftime("%Y-%m-%d"),
            "mlcflow": "1.3.8",
            "machine": fingerprint(),
            "result": result_json(p.stderr),
        }
        Path(a.out, f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{name}: {len(doc['result'].get('new_env', {}))} new_env keys")


if __name__ == "__main__":
    main()
