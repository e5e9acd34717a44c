"""Engine start-up benchmarks: whole-process medians of real ``ckx`` commands.

    python bench/engine.py [--runs N] [--compare OTHER_TREE]

Prints a table: a fully cached ``ckx run get,python3`` (target <= 80 ms), a fully cached
graph of 20 nodes (<= 150 ms) and ``--plan`` on a 200-node synthetic graph. Each command is
a fresh ``python -m ckx ...`` process in a scratch CKX_HOME (warmed once, so the index and
the cache exist), exactly what a user pays. Besides wall-clock time the table shows the
CPU time (user + system) of the process, which a busy shared machine inflates much less.

``--compare OTHER_TREE`` runs every command also with another source tree of ckx (for
example ``git archive main | tar -x -C /tmp/main``) first on ``PYTHONPATH``, alternating the
two run by run, each with its own CKX_HOME: on a loaded machine only such an interleaved
comparison says whether a change made ckx faster or slower.

Bytecode: an installed ckx has its ``.pyc`` files, so by default the commands run with a
bytecode cache in the scratch folder (``PYTHONPYCACHEPREFIX``), even if the calling shell sets
``PYTHONDONTWRITEBYTECODE``; ``--no-pyc`` measures the cost of compiling every module instead.

``--python VENV/bin/python`` measures the ``ckx`` installed in that venv (a regular, not
editable, ``pip install .``: what a user has) instead of this checkout; a development venv
with many packages has a slower interpreter start (its ``.pth`` files) than a user's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
PYTHON = [sys.executable]  # --python: another interpreter, whose installed ckx is measured

COMMANDS = [
    ("ckx --version", ["--version"], None),
    ("ckx run get,python3 (fully cached)", ["run", "get,python3", "--quiet"], 80),
    ("ckx run graph20 (20 nodes, fully cached)", ["run", "script:graph20", "--quiet"], 150),
    ("ckx run p0 --plan (200-node graph)", ["run", "script:p0", "--plan", "--quiet"], None),
]


def _env(home: Path, tree: Path | None = None) -> dict[str, str]:
    env = {**os.environ, **ENV, "CKX_HOME": str(home)}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
        if "PYTHONPYCACHEPREFIX" in env and tree != ROOT:
            env["PYTHONPYCACHEPREFIX"] += "-other"
    return env


def register(home: Path, repo: Path, tree: Path | None = None) -> None:
    env = _env(home, tree)
    code = (
        "from ckx.core.context import Context; from ckx.core.repos import Repo; import sys;"
        "Context(sys.argv[1]).registry.add(Repo(alias='bench', uid='00000000000be7c0', path=sys.argv[2]))"
    )
    subprocess.run([PYTHON[0], "-c", code, str(home), str(repo)], check=True, env=env, cwd=ROOT)


def once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) milliseconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = (time.perf_counter() - t) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def measure(envs: list[dict[str, str]], runs: int) -> list[dict[str, list[float]]]:
    """Per env (tree), per command label: wall and cpu samples, the trees alternating."""
    out: list[dict[str, list[float]]] = [{} for _ in envs]
    for label, args, _ in [("python -c pass (interpreter floor)", None, None), *COMMANDS]:
        cmd = [PYTHON[0], "-c", "pass"] if args is None else [*_ckx(), *args]
        for env in envs:
            if args is not None:
                subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True)  # warm
        for _ in range(runs):
            for k, env in enumerate(envs):
                wall, cpu = once(cmd, env)
                out[k].setdefault(label + "|wall", []).append(wall)
                out[k].setdefault(label + "|cpu", []).append(cpu)
    return out


def _ckx() -> list[str]:
    """This tree's ckx (``python -m ckx`` from the checkout), or with ``--python`` the console
    script installed beside that interpreter (``-m`` would put the checkout first on the path)."""
    if PYTHON[0] == sys.executable:
        return [sys.executable, "-m", "ckx"]
    return [str(Path(PYTHON[0]).parent / "ckx")]


def table(results: list[dict[str, list[float]]], names: list[str]) -> None:
    cols = "".join(f" {n + ' wall':>14} {'cpu':>7} {'min':>6}" for n in names)
    print(f"{'command (medians; min = lowest cpu)':44}{cols} {'target':>7}")
    targets = {label: t for label, _, t in COMMANDS}
    for key in [k for k in results[0] if k.endswith("|wall")]:
        label = key[: -len("|wall")]
        row = ""
        for r in results:
            wall, cpu = r[key], r[label + "|cpu"]
            row += f" {statistics.median(wall):14.1f} {statistics.median(cpu):7.1f} {min(cpu):6.1f}"
        tgt = f"<= {targets[label]}" if targets.get(label) else ""
        print(f"{label:44}{row} {tgt:>7}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-pyc", action="store_true", help="no bytecode cache: compile every module")
    ap.add_argument("--compare", type=Path, help="another ckx source tree, run alternately")
    ap.add_argument(
        "--python", help="an interpreter with ckx installed (e.g. pip install . in a fresh venv)"
    )
    a = ap.parse_args()
    if a.python:
        if a.compare:
            raise SystemExit("--python measures an installed ckx; --compare two source trees")
        PYTHON[0] = a.python
    with tempfile.TemporaryDirectory(prefix="ckx-bench-") as tmp:
        if a.no_pyc:
            ENV["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        print(
            f"bytecode cache: {'off (--no-pyc)' if a.no_pyc else 'on'}; runs per command: {a.runs}; "
            f"load average: {os.getloadavg()[0]:.2f}"
        )
        repo = make_repo(Path(tmp))
        # when comparing, both trees come first on PYTHONPATH: the same import path for both
        trees: list[Path | None] = [ROOT, a.compare.resolve()] if a.compare else [None]
        envs = []
        for k, tree in enumerate(trees):
            home = Path(tmp) / f"home{k}"
            register(home, repo, tree)
            envs.append(_env(home, tree))
        names = ["this"] + (["other"] if a.compare else [])
        table(measure(envs, a.runs), names)


if __name__ == "__main__":
    main()
