"""ckx against MLCFlow 1.3.8 on MLCFlow's own script repository: whole-process medians.

    python bench/mlc_compat.py [--runs N] [--mlc-runs M] [--mlcflow-bin DIR] [--repo DIR]

The same copy of mlcommons/mlperf-automations (default: ../shared/data/mlperf-automations)
is registered in a scratch ckx home and, when MLCFlow is installed (``--mlcflow-bin``: the
``bin/`` of a venv with ``mlcflow==1.3.8``; default ``$CKX_MLCFLOW_BIN``, the checkout's
``.venv-mlcflow/bin`` or ``mlcr`` on PATH),
in a scratch MLCFlow ``HOME``. Each command is a fresh process, run once to warm up (index,
bytecode, the caches of ``detect-os``) and then N times; the table has the medians:

* ``search``: ``ckx find script --tags=get,python3`` / ``mlc search script --tags=get,python3``;
* ``detect,cpu (uncached)``: ``run detect,cpu --new`` (its own result is made again; its
  ``detect-os`` dep is cached), goal <= 500 ms for ckx;
* ``get,python3 (cached)``: ``run get,python3``, goal <= 60 ms for ckx.

The interpreter floor (``python -c pass``) is printed too: on a loaded machine every figure
moves with it. As bench/engine.py, commands run with a bytecode cache in the scratch folder
(``PYTHONPYCACHEPREFIX``) even if the shell sets ``PYTHONDONTWRITEBYTECODE``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = [
    (
        "search get,python3",
        ["find", "script", "--tags=get,python3"],
        ["search", "script", "--tags=get,python3"],
        None,
    ),
    (
        "detect,cpu (uncached)",
        ["run", "detect,cpu", "--new", "--quiet"],
        ["detect,cpu", "--new", "--quiet"],
        500,
    ),
    ("get,python3 (cached)", ["run", "get,python3", "--quiet"], ["get,python3", "--quiet"], 60),
]


def _median(cmd: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=True)  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
        times.append((time.perf_counter() - t) * 1000)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return statistics.median(times)


def _mlcflow_bin(given: str | None) -> Path | None:
    local = ROOT / ".venv-mlcflow" / "bin"  # what .ci/run makes
    for cand in (given, os.environ.get("CKX_MLCFLOW_BIN"), str(local)):
        if cand and (Path(cand) / "mlcr").exists():
            return Path(cand).resolve()
    found = shutil.which("mlcr")
    return Path(found).parent if found else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15, help="runs of each ckx command")
    ap.add_argument("--mlc-runs", type=int, default=3, help="runs of each MLCFlow command")
    ap.add_argument("--mlcflow-bin", help="bin/ of a venv with mlcflow==1.3.8")
    ap.add_argument("--repo", default=str(ROOT.parent / "shared" / "data" / "mlperf-automations"))
    a = ap.parse_args()
    mlc = _mlcflow_bin(a.mlcflow_bin)
    with tempfile.TemporaryDirectory(prefix="ckx-mlc-bench-") as tmp:
        base = Path(tmp)
        repo = base / "mlperf-automations"
        shutil.copytree(a.repo, repo, symlinks=True)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        env = {
            **os.environ,
            "CKX_HOME": str(base / "ckx-home"),
            "PYTHONPYCACHEPREFIX": str(base / "pyc"),
        }
        ckx = [sys.executable, "-m", "ckx"]
        subprocess.run(
            [*ckx, "add", "repo:mlc", f"--path={repo}"],
            env=env,
            cwd=base,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*ckx, "run", "detect,os", "--quiet"],
            env=env,
            cwd=base,
            check=True,
            capture_output=True,
        )
        menv = {**os.environ, "HOME": str(base)}
        if mlc is not None:
            subprocess.run(
                [str(mlc / "mlc"), "add", "repo", str(repo)],
                env=menv,
                cwd=base,
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [str(mlc / "mlcr"), "detect,os", "--quiet"],
                env=menv,
                cwd=base,
                check=True,
                capture_output=True,
            )
        floor = _median([sys.executable, "-c", "pass"], env, base, a.runs)
        print(
            f"MLCFlow: {mlc or 'not installed'}; runs: ckx {a.runs}, MLCFlow {a.mlc_runs}; interpreter floor {floor:.1f} ms"
        )
        print(f"{'command':26} {'ckx ms':>9} {'MLCFlow ms':>11} {'ratio':>7} {'ckx goal':>9}")
        for label, ours, theirs, goal in ROWS:
            c = _median([*ckx, *ours], env, base, a.runs)
            if mlc is not None:
                tool = "mlc" if ours[0] == "find" else "mlcr"
                m = _median([str(mlc / tool), *theirs], menv, base, a.mlc_runs)
                cell, ratio = f"{m:11.0f}", f"{m / c:6.0f}x"
            else:
                cell, ratio = f"{'-':>11}", f"{'-':>7}"
            print(f"{label:26} {c:9.1f} {cell} {ratio} {('<= ' + str(goal)) if goal else '':>9}")


if __name__ == "__main__":
    main()
