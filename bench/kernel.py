"""Kernel speed: start-up, search and indexing over synthetic repos (whole-process medians).

    python bench/kernel.py [--sizes 400,10000] [--repeat 15]

Each figure is the median wall time of a fresh ``python -m ckx …`` process (what a user
waits for), with CKX_HOME in a temp dir. Targets (2-core machine) are printed beside them.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "get",
    "install",
    "detect",
    "python",
    "model",
    "dataset",
    "coco",
    "onnx",
    "torch",
    "cuda",
    "lib",
    "tool",
    "compiler",
    "ssd",
    "resnet",
    "mobilenet",
    "preprocess",
    "mlperf",
    "inference",
]


def make_repo(root: Path, n: int, seed: int = 0) -> None:
    """A MLCFlow-style repo of ``n`` script entries with realistic small metas."""
    rnd = random.Random(seed)
    (root / "script").mkdir(parents=True)
    (root / "repo.yaml").write_text(f"alias: bench{n}\nuid: '{n:016x}'\n")
    for k in range(n):
        d = root / "script" / f"script-{k:05d}"
        d.mkdir()
        tags = rnd.sample(WORDS, 4) + [f"s{k}"]
        if k == n // 2:
            tags.append("needle")
        d.joinpath("meta.yaml").write_text(
            f"alias: script-{k:05d}\nuid: '{k + 1:016x}'\nautomation_alias: script\ncache: true\n"
            f"tags: [{', '.join(tags)}]\n"
            "deps:\n  - tags: detect,os\n  - tags: get,python3\n"
            "default_env:\n  CKX_X: '1'\nnew_env_keys: [CKX_X_*]\n"
            "variations:\n  cpu: {group: device, default: true}\n  cuda: {group: device}\n"
        )


def clean_env(**extra: str) -> dict:
    """The user's environment, with .pyc writing allowed (a user's Python writes them)."""
    env = dict(os.environ, **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(cmd: list[str], env: dict, repeat: int, setup=None) -> float:
    subprocess.run(cmd, env=env, capture_output=True, cwd=ROOT)  # warm-up: .pyc files, page cache
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        t = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
        if p.returncode != 0:
            raise SystemExit(f"{cmd} failed: {p.stderr.decode()[-500:]}")
    return statistics.median(times) * 1000


def bench_size(n: int, repeat: int) -> list[tuple[str, float, str]]:
    tmp = Path(tempfile.mkdtemp(prefix=f"ckx-bench-{n}-"))
    try:
        repo = tmp / "repo"
        make_repo(repo, n)
        home = tmp / "home"
        env = clean_env(CKX_HOME=str(home))
        ckx = [sys.executable, "-m", "ckx"]
        subprocess.run(
            ckx + ["add", "repo:bench", f"--path={repo}"], env=env, check=True, capture_output=True
        )

        def wipe_index():
            for f in home.glob("index.sqlite*"):
                f.unlink()

        full = timed(
            ckx + ["search", "script", "--tags=needle"], env, max(3, repeat // 5), setup=wipe_index
        )
        rows = [(f"first full index + search ({n} entries)", full, "≤ 3000" if n >= 10000 else "")]
        big = n >= 10000
        target = "≤ 120" if big else "≤ 50"
        rows.append(
            (
                f"search, 1 hit ({n})",
                timed(ckx + ["search", "script", "--tags=needle"], env, repeat),
                target,
            )
        )
        rows.append(
            (
                f"search, 0 hits ({n})",
                timed(ckx + ["search", "script", "--tags=no-such-tag"], env, repeat),
                target,
            )
        )
        rows.append(
            (
                f"search, negative tag ({n})",
                timed(ckx + ["search", "script", "--tags=needle,-cuda"], env, repeat),
                target,
            )
        )
        victim = repo / "script" / f"script-{n // 3:05d}" / "meta.yaml"

        def touch():
            victim.write_text(victim.read_text())
            old = time.time() - 5
            os.utime(victim, (old, old))  # outside the racy window, like an edit a while ago

        rows.append(
            (
                f"incremental refresh after touching 1 entry ({n})",
                timed(ckx + ["search", "script", "--tags=needle"], env, repeat, setup=touch),
                "≤ 150",
            )
        )
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="400,10000")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    env = clean_env(CKX_HOME=tempfile.mkdtemp())
    rows = [
        ("python -c pass", timed([sys.executable, "-c", "pass"], env, args.repeat), ""),
        (
            "ckx --version",
            timed([sys.executable, "-m", "ckx", "--version"], env, args.repeat),
            "≤ 35",
        ),
    ]
    for n in (int(x) for x in args.sizes.split(",")):
        rows += bench_size(n, args.repeat)
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'median ms':>9}  target ms")
    print("-" * (width + 24))
    for name, ms, target in rows:
        print(f"{name:<{width}}  {ms:9.1f}  {target}")


if __name__ == "__main__":
    main()
