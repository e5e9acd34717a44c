"""The planner alone, against an in-memory provider, on the same YAML cases as the engine.

Every step of ``cases/*.yaml`` whose expectation is decided at plan time is checked here
without an index, a cache folder or a subprocess: the ``--plan`` tree, planning errors
(ResolutionError, and MetaError for a bad hook), and the notes of choices; a step that fails
only when run must still plan. Nodes the expected
tree shows ``[cached]`` are cached in the in-memory world. A failing case prints the
reporter's trace.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ckx.core import errors
from ckx.engine.planner import Planner, plan_args

from .memory import MemoryProvider, TraceReporter

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
PLAN_TIME_ERRORS = ("ResolutionError", "MetaError")


def _cached_in(plan_text: str) -> list[str]:
    return re.findall(r"([\w.-]+)(?: _[^\s]+)?(?: v\S+)?(?: \([^)]*\))?  \[cached\]", plan_text)


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_case_plans_in_memory(case_file: Path) -> None:
    case = yaml.safe_load(case_file.read_text())
    for k, step in enumerate(case["steps"]):
        expect = step.get("expect") or {}
        request = dict(step.get("request") or {})
        request["env"] = {"TEST_LOG": "/dev/null", **(request.get("env") or {})}
        provider = MemoryProvider(case.get("entries") or {}, _cached_in(expect.get("plan", "")))
        reporter = TraceReporter()
        planner = Planner(provider, reporter, chooser=reporter)
        where = f"{case_file.name} step {k}"
        try:
            _check_step(planner, reporter, request, expect, where)
        except AssertionError as e:
            trace = "\n".join(reporter.trace)
            raise AssertionError(f"{e}\n--- planner trace ---\n{trace}") from None


def _check_step(
    planner: Planner, reporter: TraceReporter, request: dict, expect: dict, where: str
) -> None:
    if "error" in expect and expect.get("error_type") in PLAN_TIME_ERRORS:
        etype = getattr(errors, expect["error_type"])
        with pytest.raises(etype) as info:
            planner.plan(**plan_args(request))
        text = info.value.message + "\n" + (info.value.hint or "")
        for part in _as_list(expect["error"]):
            assert part in text, f"{where}: {part!r} not in error:\n{text}"
        return
    plan = planner.plan(**plan_args(request))  # a run-time failure still plans
    if "plan" in expect:
        assert plan.render().strip() == expect["plan"].strip(), f"{where}: plan\n{plan.render()}"
    for note in _as_list(expect.get("notes")):
        assert any(note in n for n in reporter.notes), f"{where}: {note!r} not in {reporter.notes}"


def _as_list(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]
