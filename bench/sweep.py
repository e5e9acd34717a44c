"""Sweep benchmarks: an 8-point od-bench sweep sequential, ``--jobs=2`` and on Ray, and the
per-point overhead of each executor.

    python bench/sweep.py [--skip-ray]

Table 1: wall time of ``ckx benchmark program:od-bench --cmd_key=performance-offline
--sweep.threads=1,2 --sweep.max_batchsize=1,2,4,8`` (the embedded default, ``--count 16
--time 1`` per point) with ``--executor=local`` (one point at a time), ``--jobs=2``, and
``--executor=ray`` on a one-node Ray cluster of 2 CPUs started here (on 127.0.0.1, its own
ports and temp folder; stopped at the end). Every configuration's caches are warm first (a
1-point sweep on the same CKX_HOME), so the table measures running points, not installing.

Table 2: with a program that does nothing (the ``sweepy`` program of the tests), the wall
time of a 1-point sweep (what a sweep costs before its points: process start, and for Ray the
connection and the start of its worker processes) and the marginal cost of one more point:
(wall of 100 points - wall of 8 points) / 92, medians of 3, so the fixed costs cancel out. Ray runs with 1 CPU (one point
at a time), as ``--jobs=1`` does. The issue's goal: under 1 s per point on Ray once the
cluster is up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test helpers: a local Ray cluster, the sweepy program

ODBENCH = (
    "benchmark", "program:od-bench", "--cmd_key=performance-offline",
    "--sweep.threads=1,2", "--sweep.max_batchsize=1,2,4,8",
    "--env.EXTRA_OPS=--count 16 --time 1", "--quiet",
)  # fmt: skip


def ckx(home: Path, *args: str) -> float:
    """Run ``ckx ARGS`` with CKX_HOME=home; its wall time in seconds (it must succeed)."""
    env = dict(os.environ, CKX_HOME=str(home))
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "ckx", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"ckx {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return wall


def warm(home: Path) -> None:
    """Fill the caches every configuration uses (data set, pre-processing, detections)."""
    ckx(home, *ODBENCH[:3], "--sweep.threads=1", "--env.EXTRA_OPS=--count 16 --time 1", "--quiet")


def sweepy_args(n: int) -> tuple[str, ...]:
    return ("benchmark", "program:sweepy", "--cmd_key=fast", f"--sweep.value=1:{n}", "--quiet")


def marginal(home: Path, extra: tuple[str, ...] = ()) -> float:
    """Seconds per point beyond a sweep's fixed costs: (wall(100) - wall(8)) / 92, medians of
    3 (the fixed costs vary by some 0.5 s from sweep to sweep: many points drown that out)."""
    small, big = [], []
    for _ in range(3):
        small.append(ckx(home, *sweepy_args(8), *extra))
        big.append(ckx(home, *sweepy_args(100), *extra))
    return (statistics.median(big) - statistics.median(small)) / 92


def fixed(home: Path, extra: tuple[str, ...] = ()) -> float:
    """The wall time of a sweep of one point that does nothing (median of 3)."""
    return statistics.median(ckx(home, *sweepy_args(1), *extra) for _ in range(3))


def local_tables(home: Path) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    warm(home)
    walls = {
        "local, one point at a time": ckx(home, *ODBENCH),
        "local --jobs=2": ckx(home, *ODBENCH, "--jobs=2"),
    }
    per_point = {
        "local, in the sweep's process": (fixed(home), marginal(home)),
        "local --jobs=2 (a process per point)": (
            fixed(home, ("--jobs=2",)),
            marginal(home, ("--jobs=2",)),
        ),
    }
    return walls, per_point


def ray_tables(
    base: Path, sweepy_repo: Path
) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    from tests.sweeps.conftest import register
    from tests.sweeps.raycluster import LocalRayCluster

    walls: dict[str, float] = {}
    per_point: dict[str, tuple[float, float]] = {}
    for cpus in (2, 1):
        node_home = base / f"ray-node-{cpus}"
        driver = base / f"ray-driver-{cpus}"
        node_home.mkdir()
        driver.mkdir()
        register(node_home, sweepy_repo)
        register(driver, sweepy_repo)
        cluster = LocalRayCluster([node_home], num_cpus=cpus)
        try:
            cluster.start()
            opts = ("--executor=ray", f"--ray_address={cluster.address}")
            if cpus == 2:
                warm(node_home)
                walls["ray, one node of 2 CPUs"] = ckx(driver, *ODBENCH, *opts)
            else:
                per_point["ray, 1 CPU (a task per point)"] = (
                    fixed(driver, opts),
                    marginal(driver, opts),
                )
        finally:
            cluster.stop()
    return walls, per_point


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-ray", action="store_true", help="local executors only")
    a = ap.parse_args()
    from tests.sweeps.conftest import make_sweepy_repo, register

    with tempfile.TemporaryDirectory(prefix="ckx-bench-sweep-") as tmp:
        base = Path(tmp)
        repo = make_sweepy_repo(base / "sweepy-repo")
        home = base / "home"
        home.mkdir()
        register(home, repo)
        walls, per_point = local_tables(home)
        if not a.skip_ray:
            rw, rp = ray_tables(base, repo)
            walls.update(rw)
            per_point.update(rp)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"8-point od-bench sweep (--count 16 --time 1 per point), warm caches; load {load:.2f}")
    print(f"{'executor':<40} {'wall s':>8} {'vs sequential':>14}")
    seq = walls["local, one point at a time"]
    for k, v in walls.items():
        print(f"{k:<40} {v:8.1f} {seq / v:13.2f}x")
    print()
    print("a program that does nothing: a 1-point sweep, and the cost of each point more")
    print(f"{'executor':<40} {'1-point s':>9} {'s/point':>8}")
    for k, (one, more) in per_point.items():
        print(f"{k:<40} {one:9.2f} {more:8.3f}")


if __name__ == "__main__":
    main()
