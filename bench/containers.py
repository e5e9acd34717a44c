"""od-bench Offline samples/s in a container (``--docker``) and natively, side by side.

    python bench/containers.py [--reps 7] [--time 30] [--qps 120] [--count 200]
                               [--model_path FILE --dataset_path DIR] [--base IMAGE]

Runs ``ckx benchmark program:od-bench --cmd_key=performance-offline`` natively and with
``--docker`` on the same plan, the same threads and the same data, in a temp ``CKX_HOME``. ``--qps`` is
loadgen's expected rate: the Offline query holds qps x time samples, so a run lasts about
``--time`` seconds (set it near the machine's rate; the default suits the embedded model on
a quiet 2-core machine).
One warm-up of each comes first (it builds or reuses the image, fills both caches); then the
two alternate ``--reps`` times, so a drift of the machine hits both alike. Prints each
pair's samples/s and ratio, the medians, and the median of the pairs' ratios (the figure a
drifting load disturbs least); target: the container within 5% of native. Needs
Docker and the base image (``ckx bootstrap docker``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def benchmark(home: str, extra: list[str], docker: bool) -> tuple[float, float]:
    """(samples/s, wall seconds) of one ``ckx benchmark`` run."""
    cmd = [sys.executable, "-m", "ckx", "benchmark", "program:od-bench"]
    cmd += ["--cmd_key=performance-offline", "--quiet", "--json", *extra]
    if docker:
        cmd.append("--docker")
    start = time.monotonic()
    p = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**os.environ, "CKX_HOME": home},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    took = time.monotonic() - start
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    rep = json.loads(p.stdout)["repetitions"][0]
    return float(rep["samples_per_second"]), took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--time", type=int, default=30, help="loadgen's minimum duration, s")
    ap.add_argument("--qps", type=float, default=120, help="loadgen's expected samples/s")
    ap.add_argument("--count", type=int, default=0, help="first N images (0: all)")
    ap.add_argument("--model_path")
    ap.add_argument("--dataset_path")
    ap.add_argument("--base", help="--docker_base_image (default: ckx/debian:12)")
    a = ap.parse_args()
    extra = [f"--time={a.time}", f"--qps={a.qps}"]
    extra += [f"--count={a.count}"] if a.count else []
    extra += [f"--model_path={a.model_path}"] if a.model_path else []
    extra += [f"--dataset_path={a.dataset_path}"] if a.dataset_path else []
    docker_extra = [f"--docker_base_image={a.base}"] if a.base else []
    with tempfile.TemporaryDirectory(prefix="ckx-bench-containers-") as home:
        print("warm-up (builds or reuses the image; fills both caches) ...", flush=True)
        benchmark(home, extra, False)
        benchmark(home, extra + docker_extra, True)
        native, inside = [], []
        print(f"{'rep':>3}  {'native samples/s':>17}  {'container samples/s':>20}  {'ratio':>6}")
        for k in range(a.reps):
            n, _ = benchmark(home, extra, False)
            c, wall = benchmark(home, extra + docker_extra, True)
            native.append(n)
            inside.append(c)
            print(
                f"{k + 1:>3}  {n:>17.2f}  {c:>20.2f}  {c / n:>6.3f}   (container run {wall:.0f} s)"
            )
        subprocess.run(
            [sys.executable, "-m", "ckx", "prune", "docker", "--volumes"],
            capture_output=True,
            env={**os.environ, "CKX_HOME": home},
            cwd=ROOT,
        )
    mn, mc = statistics.median(native), statistics.median(inside)
    ratio = statistics.median(c / n for c, n in zip(inside, native, strict=True))
    print(f"median  {mn:>15.2f}  {mc:>20.2f}  {mc / mn:>6.3f}")
    print(f"median of the pairs' ratios: {ratio:.3f}")
    verdict = "within" if abs(ratio - 1) <= 0.05 else "NOT within"
    print(f"the container is {verdict} 5% of native ({(ratio - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
