"""Engine start-up benchmarks: whole-process medians of real ``ckx`` commands.

    python bench/engine.py [--runs N]

Prints a table: a fully cached ``ckx run get,python3`` (target <= 80 ms), a fully cached
graph of 20 nodes (<= 150 ms) and ``--plan`` on a 200-node synthetic graph. Each command is
a fresh ``python -m ckx ...`` process in a scratch CKX_HOME (warmed once, so the index and
the cache exist), exactly what a user pays.

Bytecode: an installed ckx has its ``.pyc`` files, so by default the commands run with a
bytecode cache in the scratch folder (``PYTHONPYCACHEPREFIX``), even if the calling shell sets
``PYTHONDONTWRITEBYTECODE``; ``--no-pyc`` measures the cost of compiling every module instead.
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


def _entry(repo: Path, alias: str, n: int, meta: dict) -> None:
    d = repo / "script" / alias
    d.mkdir(parents=True, exist_ok=True)
    full = {
        "alias": alias,
        "uid": f"{n:016x}",
        "automation_alias": "script",
        "tags": [alias, "bench"],
        **meta,
    }
    (d / "meta.json").write_text(json.dumps(full))


def make_repo(base: Path) -> Path:
    """A repo with: graph20 (a root + 19 cached deps) and plan200 (a 200-node tree)."""
    repo = base / "bench-repo"
    (repo / "script").mkdir(parents=True)
    (repo / "repo.yaml").write_text("alias: bench\nuid: 00000000000be7c0\n")
    for k in range(19):
        _entry(
            repo,
            f"leaf{k}",
            0x100 + k,
            {"cache": True, "new_env_keys": [f"LEAF{k}"], "env": {f"LEAF{k}": str(k)}},
        )
    _entry(repo, "graph20", 0x200, {"deps": [{"tags": f"leaf{k}"} for k in range(19)]})
    # a binary tree of 200 distinct scripts: node k depends on 2k+1 and 2k+2
    for k in range(200):
        kids = [c for c in (2 * k + 1, 2 * k + 2) if c < 200]
        _entry(repo, f"p{k}", 0x1000 + k, {"deps": [{"tags": f"p{c}"} for c in kids]})
    return repo


ENV: dict[str, str] = {}


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, **ENV, "CKX_HOME": str(home)}


def register(home: Path, repo: Path) -> None:
    env = _env(home)
    code = (
        "from ckx.core.context import Context; from ckx.core.repos import Repo; import sys;"
        "Context(sys.argv[1]).registry.add(Repo(alias='bench', uid='00000000000be7c0', path=sys.argv[2]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(home), str(repo)], check=True, env=env, cwd=ROOT
    )


def timed(args: list[str], home: Path, runs: int) -> tuple[float, float]:
    env = _env(home)
    cmd = [sys.executable, "-m", "ckx", *args]
    subprocess.run(
        cmd, check=True, env=env, cwd=ROOT, capture_output=True
    )  # warm: index, cache, pyc
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        times.append((time.perf_counter() - t) * 1000)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{p.stderr}")
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-pyc", action="store_true", help="no bytecode cache: compile every module")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ckx-bench-") as tmp:
        if a.no_pyc:
            ENV["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        print(
            f"bytecode cache: {'off (--no-pyc)' if a.no_pyc else 'on'}; runs per command: {a.runs}"
        )
        home = Path(tmp) / "home"
        register(home, make_repo(Path(tmp)))
        rows = [
            ("python -c pass (interpreter floor)", None, None),
            ("ckx --version", ["--version"], None),
            ("ckx run get,python3 (fully cached)", ["run", "get,python3", "--quiet"], 80),
            ("ckx run graph20 (20 nodes, fully cached)", ["run", "script:graph20", "--quiet"], 150),
            ("ckx run p0 --plan (200-node graph)", ["run", "script:p0", "--plan", "--quiet"], None),
        ]
        print(f"{'command':46} {'median ms':>10} {'min ms':>8} {'target':>8}")
        for label, args, target in rows:
            if args is None:
                ts = []
                for _ in range(a.runs):
                    t = time.perf_counter()
                    subprocess.run(
                        [sys.executable, "-c", "pass"], check=True, env={**os.environ, **ENV}
                    )
                    ts.append((time.perf_counter() - t) * 1000)
                med, low = statistics.median(ts), min(ts)
            else:
                med, low = timed(args, home, a.runs)
            tgt = f"<= {target}" if target else ""
            print(f"{label:46} {med:10.1f} {low:8.1f} {tgt:>8}")


if __name__ == "__main__":
    main()
