"""Hops: how often one request crosses from one file of ckx into another.

    python bench/hops.py [--mlcflow DIR] [--compare OTHER_TREE] [--show N]

Follows one request through its Python calls and counts a *hop* for every call event whose
caller and callee are both project files (files of the checkout, outside ``.venv``: ``ckx/``,
``automation/``, ``scripts/``, ``programs/``, ...) and differ. A code path that keeps its work
in one module makes few hops; one that is passed from adapter to adapter makes many. The
table shows the hops and the number of project files they touch, per command:

* ``ckx run get,python3 --quiet`` (fully cached);
* ``ckx run program:od-bench --cmd_key=accuracy-offline --plan``.

Method (the same for every tree measured):

1. a fresh ``CKX_HOME`` (``--mlcflow DIR`` registers a copy of an MLCFlow repository there
   first, e.g. ``../shared/data/mlperf-automations``);
2. the command is run once in its own ``python -m ckx`` process (so the cache entry and the
   index exist), then once more, so that the index has seen what the first run wrote;
3. the measured run is a fresh process that installs ``sys.setprofile`` *before* importing
   ckx and then calls ``ckx.app.cli.main(argv)``: the command as a user runs it, imports
   included. ``call`` events are counted (a generator resumed counts as a call, as Python
   reports it); C functions are not frames and are not counted.

``--compare OTHER_TREE`` measures another checkout (for example ``git worktree add
/tmp/main main``) the same way, side by side. ``--show N`` prints the N busiest file pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = [
    ("ckx run get,python3 (fully cached)", ["run", "get,python3", "--quiet"]),
    (
        "ckx run program:od-bench --cmd_key=accuracy-offline --plan",
        ["run", "program:od-bench", "--cmd_key=accuracy-offline", "--plan"],
    ),
]

# Runs inside the measured process: argv = [tree, out.json, *ckx argv].
PROBE = r"""
import json, os, sys
from collections import Counter
tree, out, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
prefix, venv = tree + os.sep, os.path.join(tree, ".venv") + os.sep
own = {}
def is_project(f):
    hit = own.get(f)
    if hit is None:
        hit = own[f] = f.startswith(prefix) and not f.startswith(venv)
    return hit
pairs = Counter()
def profile(frame, event, arg):
    if event != "call" or frame.f_back is None:
        return
    a, b = frame.f_back.f_code.co_filename, frame.f_code.co_filename
    if a != b and is_project(a) and is_project(b):
        pairs[(a, b)] += 1
sys.path.insert(0, tree)
sys.setprofile(profile)
from ckx.app.cli import main
try:
    code = main(argv)
except SystemExit as e:
    code = e.code
sys.setprofile(None)
rel = lambda f: os.path.relpath(f, tree)
with open(out, "w") as fh:
    json.dump({"code": code, "pairs": [[rel(a), rel(b), n] for (a, b), n in pairs.items()]}, fh)
"""


def _env(home: Path, tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CKX_")}
    env.update(CKX_HOME=str(home), PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    return env


def _ckx(tree: Path, home: Path, argv: list[str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "ckx", *argv],
        cwd=tree,
        env=_env(home, tree),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def measure(tree: Path, argv: list[str], work: Path, mlcflow: Path | None) -> dict:
    """Hops of one command on ``tree``, in a fresh home under ``work``."""
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    if mlcflow is not None:
        copy = work / "mlcflow-repo"
        if not copy.exists():
            shutil.copytree(mlcflow, copy)
        _ckx(tree, home, ["add", "repo:mlc", f"--path={copy}"])
    _ckx(tree, home, argv)  # run once first: the cache entry, the index
    _ckx(tree, home, argv)  # the index sees what the first run wrote
    out = work / "hops.json"
    probe = work / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    subprocess.run(
        [sys.executable, str(probe), str(tree), str(out), *argv],
        cwd=tree,
        env=_env(home, tree),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    pairs = [(a, b, n) for a, b, n in data["pairs"]]
    files = {f for a, b, _ in pairs for f in (a, b)}
    return {
        "code": data["code"],
        "hops": sum(n for *_, n in pairs),
        "files": len(files),
        "pairs": sorted(pairs, key=lambda p: -p[2]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mlcflow", type=Path, help="register a copy of this MLCFlow repository")
    ap.add_argument("--compare", type=Path, help="another checkout of ckx, measured alike")
    ap.add_argument("--show", type=int, default=0, help="print the N busiest file pairs")
    args = ap.parse_args()
    trees = [("this tree", ROOT)]
    if args.compare:
        trees.append((str(args.compare), args.compare.resolve()))
    rows = []
    with tempfile.TemporaryDirectory(prefix="ckx-hops-") as tmp:
        for name, argv in COMMANDS:
            row = [name]
            for k, (_, tree) in enumerate(trees):
                work = Path(tmp) / f"t{k}"
                work.mkdir(exist_ok=True)
                res = measure(tree, argv, work, args.mlcflow)
                bad = "" if res["code"] in (0, None) else f" (exit {res['code']})"
                row.append(f"{res['hops']} hops / {res['files']} files{bad}")
                for a, b, n in res["pairs"][: args.show]:
                    print(f"  {n:5d}  {a} -> {b}", file=sys.stderr)
            rows.append(row)
    heads = ["command", *(t for t, _ in trees)]
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    for r in [heads, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
