"""Strict inputs: every ``--key`` of a run means something, or the run does not start.

A request key is accepted when it is

* a **kernel option** (:data:`KERNEL_OPTIONS`: the engine's, the API's and the CLI's own keys,
  ``--env.*`` included: :data:`ckx.core.vocabulary.ACCEPTED`), or
* an **input of the planned graph** that reaches the node declaring it. A node declares
  the keys of its ``input_mapping`` and ``input_description``, ``path`` when it has a
  ``download`` block (``--path=DIR`` registers a copy), ``search_dirs`` when it has a
  ``detect`` block, keys its ``customize.py`` reads from ``i['input']``, and, for a
  program, its variation group names and ``input_aliases`` (``--model``, ``--framework``).

An input declared only by a dependency that does not receive the run's inputs (today the
engine hands them to the root node only) would be ignored, so it is refused too, with the
``--env`` spelling that reaches that node. Anything else fails before anything runs, with a
"did you mean" over every key the run would accept (MLCFlow ignores such keys silently; a
typo in ``--model_pth`` then benchmarks something else).

:func:`check_inputs` is a pure function over a plan and a request; the engine calls it
from ``run_request``, so ``run``, ``benchmark`` and ``install`` are all covered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ckx.core import vocabulary
from ckx.core.errors import UsageError

#: Keys every run accepts: engine options, API/CLI plumbing, CK/MLCFlow spellings of them.
KERNEL_OPTIONS = vocabulary.ACCEPTED

# customize.py reading an input: i['input'].get('key'), i['input']['key'], i.input.get("key")
_HOOK_READ = re.compile(r"""input(?:'\]|"\]|\b)\s*(?:\.get\(|\[)\s*['"]([A-Za-z_][\w.-]*)['"]""")


def node_inputs(node: Any) -> dict[str, str]:
    """The input keys one planned node declares -> how (for messages)."""
    meta = node.meta or {}
    out: dict[str, str] = {}
    for key in meta.get("input_mapping") or {}:
        out[str(key)] = "input_mapping"
    for key in meta.get("input_description") or {}:
        out.setdefault(str(key), "input_description")
    if meta.get("download"):
        out.setdefault("path", "--path=DIR registers an existing copy")
    if meta.get("detect") and not (meta.get("download") or meta.get("python_package")):
        # ckx.engine.model.detects_when_run, read here without a call per node: an entry
        # that installs does not run its detect block, so --search_dirs means nothing there
        out.setdefault("search_dirs", "detection folders")
    if getattr(node.entry, "automation", None) == "program":
        for name, v in (meta.get("variations") or {}).items():
            if isinstance(v, dict) and v.get("group"):
                out.setdefault(str(v["group"]), f"variation group (e.g. _{name})")
        for alias, target in (meta.get("input_aliases") or {}).items():
            out.setdefault(str(alias), f"alias of --{target}")
    for key in hook_inputs(Path(node.entry.path) / "customize.py"):
        out.setdefault(key, "read by customize.py")
    return out


def hook_inputs(path: Path) -> set[str]:
    """Input keys a ``customize.py`` reads from ``i['input']`` (a plain text scan)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return set(_HOOK_READ.findall(text))


def planned_nodes(plan: Any) -> list[Any]:
    """Every node of the plan, including deps decided when reached (planned already)."""
    return list(plan.root.walk())


def undeclared(plan: Any, request: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key, why)`` for every request key the run would not use."""
    root = plan.root
    reaching: dict[str, str] = {}  # key -> declaring node that receives it
    elsewhere: dict[str, Any] = {}  # key -> a dep declaring it that does not receive it
    for node in planned_nodes(plan):
        for key in node_inputs(node):
            if node is root or key in (node.inputs or {}):
                reaching.setdefault(key, node.entry.alias)
            else:
                elsewhere.setdefault(key, node)
    bad = []
    for key in request:
        if key in KERNEL_OPTIONS or key in reaching:
            continue
        if key in elsewhere:
            bad.append((key, _dep_only(key, elsewhere[key])))
        elif key in vocabulary.BENCH_ONLY and request.get("action") != "benchmark":
            what = request.get("action") or "run"
            bad.append((key, f"--{key} is an option of ckx benchmark, not of ckx {what}"))
        elif key in vocabulary.CONTAINER:  # --docker reaches here only where it does not apply
            what = request.get("action") or "run"
            bad.append((key, f"--{key} applies to ckx run and ckx benchmark, not to ckx {what}"))
        else:
            choices = sorted(set(reaching) | vocabulary.options_of(request.get("action")))
            bad.append((key, _unknown(key, choices, root)))
    return bad


def _dep_only(key: str, node: Any) -> str:
    mapped = (node.meta.get("input_mapping") or {}).get(key)
    how = f" --env.{mapped}=..." if mapped else " its env (--env.KEY=...)"
    return (
        f"--{key} is an input of {node.entry.alias} (a dependency: {' → '.join(node.chain)}), "
        f"which does not receive this run's inputs; set{how} instead"
    )


def _unknown(key: str, choices: Iterable[str], root: Any) -> str:
    from ckx.core.suggest import did_you_mean

    return f"--{key} is not an input of {root.entry.alias} or of anything it runs" + did_you_mean(
        key, choices
    )


def bad_choices(plan: Any, request: dict[str, Any]) -> list[str]:
    """Values outside the ``choices`` of the root's ``input_description``."""
    out = []
    for key, desc in (plan.root.meta.get("input_description") or {}).items():
        choices = desc.get("choices") if isinstance(desc, dict) else None
        if choices and key in request and str(request[key]) not in [str(c) for c in choices]:
            from ckx.core.suggest import did_you_mean

            out.append(
                f"--{key}={request[key]} is not one of: {', '.join(map(str, choices))}"
                + did_you_mean(str(request[key]), map(str, choices))
            )
    return out


def check_inputs(plan: Any, request: dict[str, Any]) -> None:
    """Raise :class:`UsageError` when ``request`` has keys the planned run would not use,
    or a value outside an input's declared ``choices``."""
    wrong = bad_choices(plan, request)
    if wrong:
        raise UsageError("; ".join(wrong), hint=f"see: ckx run {_cid(plan.root)} --help")
    bad = undeclared(plan, request)
    if not bad:
        return
    root = plan.root
    accepted = sorted(
        k for n in planned_nodes(plan) if n is root or n.inputs for k in node_inputs(n)
    )
    raise UsageError(
        "; ".join(why for _, why in bad),
        hint=f"inputs of {root.entry.alias}: "
        + (", ".join(f"--{k}" for k in accepted) or "(none)")
        + f"; env values go as --env.KEY=VALUE; see: ckx run {_cid(root)} --help",
    )


def _cid(node: Any) -> str:
    return f"{node.entry.automation}:{node.entry.alias}"


#: What ``ckx detect soft`` reads besides the kernel options.
DETECT_OPTIONS = vocabulary.DETECT_OPTIONS


def check_detect_inputs(entries: list[Any], request: dict[str, Any]) -> None:
    """Strict inputs of ``ckx detect soft``: its own options, plus the ``input_description``
    keys of the matching detectors (values within their ``choices``)."""
    from ckx.core.suggest import did_you_mean

    declared: dict[str, Any] = {}
    for e in entries:
        for key, desc in (e.meta.get("input_description") or {}).items():
            declared[str(key)] = desc
    problems = []
    for key, value in request.items():
        if key in KERNEL_OPTIONS or key in DETECT_OPTIONS:
            continue
        if key not in declared:
            choices = sorted(DETECT_OPTIONS | set(declared))
            problems.append(f"--{key} is not an option of ckx detect" + did_you_mean(key, choices))
            continue
        allowed = (declared[key] or {}).get("choices") if isinstance(declared[key], dict) else None
        if allowed and str(value) not in [str(c) for c in allowed]:
            problems.append(f"--{key}={value} is not one of: {', '.join(map(str, allowed))}")
    if problems:
        raise UsageError(
            "; ".join(problems),
            hint="options of ckx detect soft: --full_path=EXE, --search_dirs=D1,D2, --python=EXE"
            + "".join(f", --{k}" for k in sorted(declared)),
        )
