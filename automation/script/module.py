"""The ``script`` automation: ``ckx run script --tags=...`` and friends.

Thin: it turns the request into calls of :mod:`ckx.engine` and prints the result.
"""

from __future__ import annotations

from typing import Any

from ckx.core.errors import UsageError


def in_container(i: dict[str, Any]) -> bool:
    """``--docker`` (MLCFlow's flag): the request runs in a container (docs/containers.md)."""
    from ckx.containers.keys import truthy

    return i.get("docker") is not None and truthy(i["docker"])


def _check_request(i: dict[str, Any]) -> None:
    q = i.get("query")
    if (
        (q is None or (hasattr(q, "is_empty") and q.is_empty()))
        and not i.get("entry")
        and not i.get("tags")
        and not i.get("lock")
    ):
        raise UsageError(
            "which script? give tags or a name",
            hint="for example: ckx run script --tags=get,python3  or  ckx run get,python3",
        )


def run(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Plan the graph of the requested script and run it (``--plan``: only print the plan)."""
    from ckx.engine import run_request

    _check_request(i)
    if in_container(i):  # --docker: plan here, run the same request with ckx in a container
        from ckx.containers.launch import run_in_container

        return run_in_container(ctx, i, "run")
    out = run_request(ctx, i)
    if "plan_text" in out:  # --plan: printed by the engine, nothing ran
        return out
    _print_result(ctx, out)
    return out


def plan(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Print the resolved graph without running anything."""
    return run(ctx, {**i, "plan": True})


def test(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """Run each matching script's ``tests.run_inputs`` (MLCFlow's field) and report."""
    from ckx.core.errors import CkxError
    from ckx.core.query import Query
    from ckx.engine import run_request

    q = i.get("query") or Query()
    hits = ctx.search("script", q, name=i.get("entry"))
    report = []
    for e in hits:
        for k, inp in enumerate((e.meta.get("tests") or {}).get("run_inputs") or [{}]):
            req = {**inp, "entry": e.uid, "query": Query(), "quiet": True}
            variations = inp.get("variations_list") or [None]
            for v in variations:
                if v:
                    from ckx.core.query import parse

                    req["query"] = parse(v)
                try:
                    run_request(ctx, req)
                    report.append({"entry": e.cid, "case": k, "variations": v, "ok": True})
                except CkxError as err:
                    report.append(
                        {
                            "entry": e.cid,
                            "case": k,
                            "variations": v,
                            "ok": False,
                            "error": err.message,
                        }
                    )
                ctx.ui.print(
                    f"{'ok  ' if report[-1]['ok'] else 'FAIL'} {e.cid} #{k} {v or ''}".rstrip()
                )
    failed = [r for r in report if not r["ok"]]
    if failed:
        from ckx.core.errors import RunError

        raise RunError(
            f"{len(failed)} of {len(report)} script tests failed: "
            + "; ".join(f"{r['entry']}: {r['error'].splitlines()[0]}" for r in failed)
        )
    return {"return": 0, "tests": report}


def _print_result(ctx, out: dict[str, Any]) -> None:
    ver = f" version {out['version']}" if out.get("version") else ""
    lines = [f"done ({out.get('status')}){ver}"]
    for k, v in sorted((out.get("env") or {}).items()):
        shown = ":".join(v) if isinstance(v, list) else v
        lines.append(f"  {k}={shown}")
    ctx.ui.print("\n".join(lines))
