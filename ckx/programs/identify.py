"""Which model a model file is: a file given without the model (``--model_path`` without
``--model``) is identified from its ONNX interface, as the program meta's ``identify`` block
declares (docs/od-bench.md); with both given, they must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ckx.core.errors import UsageError


def identify_model(ctx, entry, i: dict[str, Any], chosen: dict[str, str], query) -> dict[str, str]:
    """A model file given without the model (``--model_path`` without ``--model``): pick the
    variation whose ``identify`` block matches the file's ONNX interface (input and output
    names, and the producer where one is declared), or fail naming the choices. With both
    given, check that they agree. See the program meta's ``identify`` block (docs/od-bench.md)."""
    spec = entry.meta.get("identify") or {}
    path = i.get(spec.get("input") or "")
    if not spec or path in (None, True, ""):
        return {}
    group = str(spec["group"])
    given = chosen.get(group) or next(
        (v.name for v in query.variations if _group_of(entry, v.name) == group), None
    )
    cands = {
        name: v["identify"]
        for name, v in (entry.meta.get("variations") or {}).items()
        if isinstance(v, dict) and v.get("group") == group and v.get("identify")
    }
    check_model_file(Path(str(path)).expanduser(), f"--{spec['input']}")
    from ckx.artifacts.onnxinfo import read_onnx

    try:
        info = read_onnx(Path(str(path)).expanduser())
    except UsageError:
        if given:
            return {}  # not ONNX (a PyTorch file, say): the user named the model, trust it
        raise UsageError(
            f"cannot tell which model {path} is: it is not an ONNX file",
            hint=f"name it: --{group}=" + " | ".join(_group_names(entry, group)),
        ) from None
    fits = [n for n, b in cands.items() if _fits(b, info)]
    specific = [n for n in fits if cands[n].get("producer")] or fits
    return _identified(ctx, entry, spec, group, given, fits, specific, info, cands, chosen)


#: What a model file is named like, for the hint when a folder is given instead.
MODEL_SUFFIXES = (".onnx", ".pth", ".pt", ".pytorch", ".pb", ".tflite")


def check_model_file(path: Path, option: str) -> None:
    """``path`` is an existing file: a folder or a missing path is a clear error."""
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in MODEL_SUFFIXES)
        example = path / (inside[0] if inside else "model.onnx")
        more = f" (it holds {', '.join(inside)})" if inside else ""
        raise UsageError(
            f"{option}={path} is a folder, not a model file{more}",
            hint=f"give the model file itself, e.g. {option}={example}",
        )
    if not path.is_file():
        raise UsageError(f"model file not found: {path}", hint=f"check {option}")


def _identified(ctx, entry, spec, group, given, fits, specific, info, cands, chosen):
    where = f"--{spec['input']} {info.path}"
    backend_group, backend = spec.get("backend_group"), (spec.get("formats") or {}).get("onnx")
    picked = chosen.get(backend_group) if backend_group else None
    if backend and picked and picked != backend:
        raise UsageError(
            f"{where} is an ONNX model, but --{backend_group}={picked} was asked for",
            hint=f"use --{backend_group}={backend} for ONNX files",
        )
    if given:
        if given not in fits and given in cands:
            what = f"that of {', '.join(specific)}" if specific else "that of no known model"
            raise UsageError(
                f"{where} does not look like --{group}={given}: its interface ({info.describe()}) is {what}",
                hint=f"--{group}={given} expects {_iface(cands[given])}",
            )
        return {}
    if len(specific) != 1:
        listing = "; ".join(f"{n}: {_iface(b)}" for n, b in cands.items())
        why = "matches several models" if specific else "matches no model od-bench knows"
        raise UsageError(
            f"{where} ({info.describe()}) {why}",
            hint=f"name it with --{group}=NAME ({listing})",
        )
    ctx.ui.note(
        f"{where}: identified as --{group}={specific[0]} from its interface ({info.describe()})"
    )
    return {group: specific[0]}


def _fits(block: dict, info) -> bool:
    return (
        list(block.get("onnx_inputs") or []) == info.input_names()
        and list(block.get("onnx_outputs") or []) == info.output_names()
        and (not block.get("producer") or block["producer"] == info.producer)
    )


def _iface(block: dict) -> str:
    prod = f", producer '{block['producer']}'" if block.get("producer") else ""
    return f"inputs {', '.join(block.get('onnx_inputs') or [])} -> {', '.join(block.get('onnx_outputs') or [])}{prod}"


def _group_of(entry, name: str) -> str | None:
    v = (entry.meta.get("variations") or {}).get(name)
    return v.get("group") if isinstance(v, dict) else None


def _group_names(entry, group: str) -> list[str]:
    return [n for n in entry.meta.get("variations") or {} if _group_of(entry, n) == group]
