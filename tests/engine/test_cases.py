"""Data-driven engine tests: one YAML file per case in ``cases/``.

A case holds ``entries`` (alias -> meta, plus optional ``files`` such as run.sh or
customize.py) and ``steps``: each step a ``request`` (the dict of ``ckx run script ...``) and
what to expect: ``plan`` (the exact ``--plan`` tree), ``env`` (a subset of the exported env),
``absent`` (keys that must not be exported), ``version``, ``status``, ``log`` (the order in
which scripts ran: every run.sh may append its name to ``$TEST_LOG``), ``error`` (substrings
of the message) with ``error_type``, ``notes`` (substrings of what the UI said).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from ckx.core import errors
from ckx.core.context import Context
from ckx.core.repos import Repo
from ckx.core.ui import UI

from .conftest import REPO_UID, write_script

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_case(case_file: Path, ckx_home: Path, script_repo: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(case_file.read_text())
    for alias, spec in (case.get("entries") or {}).items():
        spec = dict(spec or {})
        files = spec.pop("files", None)
        write_script(script_repo, alias, spec, files)
    log = tmp_path / "run.log"
    for k, step in enumerate(case["steps"]):
        err = io.StringIO()
        ctx = Context(
            ckx_home, ui=UI(mode="con", quiet=True, interactive=False, out=io.StringIO(), err=err)
        )
        if k == 0:
            ctx.registry.add(Repo(alias="t", uid=REPO_UID, path=script_repo))
        _run_step(ctx, step, log, err, f"{case_file.name} step {k}")
        ctx.index.close()


def _run_step(ctx, step: dict, log: Path, err: io.StringIO, where: str) -> None:
    from ckx.engine import run_request

    request = dict(step.get("request") or {})
    request["env"] = {"TEST_LOG": str(log), **(request.get("env") or {})}
    expect = step.get("expect") or {}
    log.unlink(missing_ok=True)
    if "error" in expect:
        etype = getattr(errors, expect.get("error_type", "CkxError"))
        with pytest.raises(etype) as info:
            run_request(ctx, request)
        text = info.value.message + "\n" + (info.value.hint or "")
        for part in _as_list(expect["error"]):
            assert part in text, f"{where}: {part!r} not in error:\n{text}"
        _check_log(expect, log, where)
        return
    if "plan" in expect:
        out = run_request(ctx, {**request, "plan": True})
        assert out["plan_text"].strip() == expect["plan"].strip(), (
            f"{where}: plan\n{out['plan_text']}"
        )
        if set(expect) == {"plan"}:
            return
    out = run_request(ctx, request)
    env = out["env"]
    for k, v in (expect.get("env") or {}).items():
        assert env.get(k) == v, f"{where}: env {k}={env.get(k)!r}, expected {v!r}; env={env}"
    for k in expect.get("absent") or []:
        assert k not in env, f"{where}: {k} must not be exported; env={env}"
    for k in ("version", "status"):
        if k in expect:
            assert out[k] == expect[k], f"{where}: {k}={out[k]!r}, expected {expect[k]!r}"
    for note in _as_list(expect.get("notes")):
        assert note in err.getvalue(), f"{where}: {note!r} not said:\n{err.getvalue()}"
    _check_log(expect, log, where)


def _check_log(expect: dict, log: Path, where: str) -> None:
    if "log" in expect:
        ran = log.read_text().split() if log.exists() else []
        assert ran == list(expect["log"] or []), (
            f"{where}: scripts ran {ran}, expected {expect['log']}"
        )


def _as_list(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]
