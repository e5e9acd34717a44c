"""The index is never stale: an added, edited, deleted or moved entry is seen by the very next
command, unchanged metas are never re-parsed, and parallel processes can use it at once."""

import multiprocessing as mp
import os
import shutil
import time

import pytest

from ckx.core.context import Context
from ckx.core.repos import Repo
from ckx.core.ui import UI
from tests.conftest import write_entry


@pytest.fixture
def repo(ctx, tmp_path):
    root = tmp_path / "r"
    (root / "script").mkdir(parents=True)
    ctx.registry.add(Repo(alias="r", uid="00000000000000aa", path=root))
    return root


def _aliases(ctx, tags):
    return [e.alias for e in ctx.search("script", tags, repo="r")]


def test_add_edit_delete_move_are_seen_immediately(ctx, repo):
    write_entry(repo / "script", "a", "000000000000000a", ["x", "y"])
    assert _aliases(ctx, "x") == ["a"]
    ctx.index.invalidate()  # a new command
    write_entry(repo / "script", "b", "000000000000000b", ["x"])
    assert _aliases(ctx, "x") == ["a", "b"]
    ctx.index.invalidate()
    meta = repo / "script" / "a" / "meta.yaml"
    meta.write_text(meta.read_text().replace("- y", "- z"))  # same size edit, in place
    assert _aliases(ctx, "z") == ["a"] and _aliases(ctx, "y") == []
    ctx.index.invalidate()
    shutil.rmtree(repo / "script" / "b")
    assert _aliases(ctx, "x") == ["a"]
    ctx.index.invalidate()
    (repo / "script" / "a").rename(repo / "script" / "a2")
    found = ctx.search("script", "x", repo="r")
    assert [e.path.name for e in found] == ["a2"]


def test_a_meta_created_later_in_an_existing_folder_is_seen(ctx, repo):
    (repo / "script" / "later").mkdir()
    assert _aliases(ctx, "later") == []
    ctx.index.invalidate()
    write_entry(repo / "script", "later", "00000000000000c1", ["later"])
    assert _aliases(ctx, "later") == ["later"]


def test_unchanged_metas_are_not_reparsed(ctx, repo):
    for k in range(20):
        write_entry(repo / "script", f"e{k}", f"{k:016x}", ["t"])
    ctx.index.refresh()
    old = time.time() - 10  # age the files past the racy window
    for p in (repo / "script").glob("*/meta.yaml"):
        os.utime(p, (old, old))
    assert ctx.index.refresh(force=False) >= 0
    ctx.index.invalidate()
    ctx.index.refresh()  # settle the racy files once
    ctx.index.invalidate()
    assert ctx.index.refresh() == 0
    p = repo / "script" / "e3" / "meta.yaml"
    p.write_text(p.read_text().replace("- t", "- u"))
    ctx.index.invalidate()
    assert ctx.index.refresh() == 1


def test_removed_repo_disappears_from_results(ctx, repo):
    write_entry(repo / "script", "a", "000000000000000a", ["x"])
    assert _aliases(ctx, "x") == ["a"]
    ctx.registry.remove("r")
    ctx.index.invalidate()
    assert ctx.search("script", "x") == []


def _hammer(home: str, root: str, n: int, q) -> None:
    c = Context(home, ui=UI(mode="none"))
    seen = 0
    for _ in range(n):
        c.index.invalidate()
        seen += len(c.search("script", "common"))
    q.put(seen)


def test_concurrent_readers_and_a_writer(ctx, repo, ckx_home):
    for k in range(30):
        write_entry(repo / "script", f"e{k}", f"{k:016x}", ["common"])
    ctx.search("script", "common")
    mpctx = mp.get_context("spawn")
    q = mpctx.Queue()
    procs = [
        mpctx.Process(target=_hammer, args=(str(ckx_home), str(repo), 15, q)) for _ in range(4)
    ]
    for p in procs:
        p.start()
    for k in range(30, 45):  # a writer adds entries meanwhile
        write_entry(repo / "script", f"e{k}", f"{k:016x}", ["common"])
        time.sleep(0.01)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    results = [q.get(timeout=5) for _ in procs]
    assert all(r >= 30 * 15 for r in results)
    ctx.index.invalidate()
    assert len(ctx.search("script", "common")) == 45


def test_index_survives_being_deleted(ctx, repo, ckx_home):
    write_entry(repo / "script", "a", "000000000000000a", ["x"])
    assert _aliases(ctx, "x") == ["a"]
    ctx.index.close()
    for f in ckx_home.glob("index.sqlite*"):
        f.unlink()
    c2 = Context(ckx_home, ui=UI(mode="none"))
    assert [e.alias for e in c2.search("script", "x")] == ["a"]


def test_an_unchanged_tree_is_not_rescanned_by_the_next_command(ctx, repo):
    for k in range(50):
        write_entry(repo / "script", f"e{k}", f"{k:016x}", ["t"])
    old = time.time() - 10
    for p in (repo / "script").glob("*/meta.yaml"):
        os.utime(p, (old, old))
    ctx.search("script", "t")
    ctx.index.invalidate()
    ctx.search("script", "t")  # settles anything racy
    from ckx.core.context import Context
    from ckx.core.ui import UI

    fresh = Context(ctx.home, ui=UI(mode="none"))  # a new process, as far as the index knows
    assert fresh.index._stale_repos() == []


def test_many_processes_starting_on_a_new_home_all_succeed(tmp_path):
    """The first use creates the index (WAL mode, schema); several commands started at
    once must not fail with 'database is locked'."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    for trial in range(3):
        env = dict(os.environ, CKX_HOME=str(tmp_path / f"home{trial}"))
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "ckx", "search", "automation"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            assert "builtin:automation:repo" in out
