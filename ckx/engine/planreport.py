"""``--plan``'s report of artefacts: per node that installs something, what is already
there and what would be fetched, from where. Nothing is downloaded or installed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Node, Plan


def artifact_report(ctx: Context, plan: Plan) -> list[str]:
    """Lines for ``--plan``: per node that installs something, what is already there (an
    installed or registered copy, a library in the interpreter) and what would be fetched,
    from where (mirrors first). Nothing is downloaded or installed."""
    lines: list[str] = []
    seen: set[str] = set()
    for node in plan.nodes:
        key = f"{node.entry.uid}|{node.cache_key}|{node.selection.text}"
        if key in seen:
            continue
        seen.add(key)
        found = _node_lines(ctx, node)
        if found:
            ver = f" v{node.version}" if node.version else ""
            lines += [f"  {node.title()}{ver}:", *(f"    {t}" for t in found)]
    return ["artefacts:", *lines] if lines else []


def _node_lines(ctx: Context, node: Node) -> list[str]:
    rec = node.cached
    if rec is not None:
        reg = rec.registered()  # a copy registered with --path
        where = f"registered copy {reg}" if reg else str(rec.path)
        return (
            [f"installed: {where} (cache {rec.uid})"] if node.entry.automation == "package" else []
        )
    if node.meta.get("python_package"):
        line = _python_line(ctx, node)
        return [line] if line else []
    if not node.meta.get("download"):
        return []
    from ckx.artifacts.prepare import PATH_ENV, describe_item, parse_download_block

    existing = node.inputs.get("path") or node.static_env.get(PATH_ENV)
    if existing:
        return [f"register the existing copy {existing} (checked, nothing copied)"]
    out = []
    for item in parse_download_block(node.meta, node.static_env, node.entry.alias):
        d = describe_item(ctx, item)
        out.append(d["what"] + (f": already {d['have']}" if d["have"] else ""))
        if not d["have"]:
            out.append("  from: " + " -> ".join(d["sources"]))
    if (node.entry.path / "run.sh").is_file():
        out.append("then its run.sh builds it (the steps are printed as they run)")
    return out


def _python_line(ctx: Context, node: Node) -> str | None:
    from ckx.artifacts.pythonlibs import describe_for_plan

    constraints = {k: v for k, v in node.joint().items() if v}
    return describe_for_plan(
        node.meta, node.static_env, ctx.environ, ctx.home, constraints, node.entry.alias
    )
