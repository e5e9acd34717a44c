"""Registering your own model file, the CK way: ``ckx install package
--tags=model,object-detection,onnx,ssd-mobilenet,quantized --path=FILE`` when no package has
those tags (a quantized, opset-13 SSD-MobileNet fits none of the built-in ones).

The file says what it is: its format, opset and quantization, and, from its interface (input
and output names), which model it is (a model package declaring the same interface and a
``CKX_ML_MODEL_NAME``, as ``--model_path`` identifies a file against a program's models). The
tags given must agree with it: a tag the file contradicts (``opset-8``, ``non-quantized``) or
a model it is not (``ssd-resnet34``) is refused. Then a package entry is written to the
``local`` repo under tags that say what the file is (those given, plus the model, format,
opset and quantization read from the file), and the file is registered under it: checked by
its sha256, never copied. From then on a program whose model dep those tags match uses it
offline, with no ``--model_path`` (the installed copy is preferred, docs/packages.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.core.errors import ConflictError, UsageError

if TYPE_CHECKING:
    from ckx.artifacts.onnxinfo import OnnxInfo
    from ckx.core.context import Context
    from ckx.core.entries import Entry

#: A query with one of these tags asks for a model.
MODEL_TAGS = ("model", "ml-model")
#: Tags about the file rather than the model: read from the file, checked against it.
FILE_TAGS = frozenset({"onnx", "quantized", "non-quantized", "int8", "fp32"})
#: Formats a tag may name that an ONNX file is not.
OTHER_FORMATS = frozenset({"pytorch", "tf", "tensorflow", "tflite", "openvino"})
#: Env of a model package that describes one file, not the model: read from the file or left out.
_PER_FILE_ENV = frozenset(
    {
        "CKX_ML_MODEL_OPSET",
        "CKX_ML_MODEL_MAP",
        "CKX_ML_MODEL_ACCURACY",
        "CKX_ML_MODEL_INPUT_SHAPE",
        "CKX_ML_MODEL_INPUTS_DATA_TYPE",
        "CKX_ML_MODEL_FILE_WITH_PATH",
    }
)


@dataclass
class OwnModel:
    """A model file, identified and checked: what gets registered, under which tags."""

    path: Path
    info: OnnxInfo
    family: str
    like: list[Entry]  # the model packages with its interface (the first one lends its env)
    tags: list[str]

    @property
    def alias(self) -> str:
        quant = "-quantized" if self.info.quantized else ""
        return f"ml-model-{self.family}-onnx-opset{self.info.opset}{quant}"


def wants_registration(ctx: Context, i: dict[str, Any]) -> bool:
    """``ckx install package --tags=model,... --path=FILE`` that no package's tags match."""
    q = i.get("query")
    if i.get("entry") or i.get("path") in (None, "", True) or q is None or q.is_empty():
        return False
    if not set(q.tags) & set(MODEL_TAGS):
        return False
    return not ctx.search("package", q)


def identify(ctx: Context, tags: list[str], path: Path) -> OwnModel:
    """What the model file at ``path`` is, checked against the ``tags`` it is registered under
    (UsageError naming the disagreement)."""
    from ckx.artifacts.onnxinfo import model_problems, read_onnx
    from ckx.programs.identify import check_model_file

    check_model_file(path, "--path")
    try:
        info = read_onnx(path)
    except UsageError:
        raise UsageError(
            f"cannot tell what {path} is: it is not an ONNX file (ckx identifies ONNX models)",
            hint="register it under a package whose tags fit it (ckx search package "
            "--tags=model), or give it to the program: --model_path=FILE --model=NAME",
        ) from None
    problems = model_problems(path, [*tags, "onnx"], {})
    problems += [f"it is an ONNX file, the tags say {t}" for t in tags if t in OTHER_FORMATS]
    if problems:
        raise UsageError(
            f"refusing to register {path} under --tags={','.join(tags)}: " + "; ".join(problems),
            hint="register it as what it is: " + _suggested(tags, info),
        )
    family, like = _family(ctx, tags, info)
    return OwnModel(path, info, family, like, _registered_tags(tags, info, family, like))


def _suggested(tags: list[str], info: OnnxInfo) -> str:
    keep = [t for t in tags if t not in FILE_TAGS and not t.startswith("opset-")]
    keep += ["onnx", f"opset-{info.opset}", "quantized" if info.quantized else "non-quantized"]
    return f"ckx install package --tags={','.join(keep)} --path={info.path}"


def interface_packages(ctx: Context, info: OnnxInfo) -> dict[str, list[Entry]]:
    """Model packages declaring the interface of ``info`` (ONNX input and output names), by
    the model they declare (``CKX_ML_MODEL_NAME``)."""
    out: dict[str, list[Entry]] = {}
    for e in sorted(ctx.search("package", None), key=lambda e: -int(e.meta.get("priority") or 0)):
        env = model_env(e)
        name = env.get("CKX_ML_MODEL_NAME")
        if not name or str(env.get("CKX_ML_MODEL_FRAMEWORK") or "onnx").lower() != "onnx":
            continue
        ins = str(env.get("CKX_ML_MODEL_INPUTS_NAMES") or "").split(",")
        outs = str(env.get("CKX_ML_MODEL_OUTPUTS_NAMES") or "").split(",")
        if ins == info.input_names() and outs == info.output_names():
            out.setdefault(str(name), []).append(e)
    return out


def model_env(entry: Entry) -> dict[str, Any]:
    """The env a model package declares (``env``, or ``provides.env`` of a shipped file)."""
    provided = (entry.meta.get("provides") or {}).get("env") or {}
    return {**provided, **(entry.meta.get("env") or {})}


def _family(ctx: Context, tags: list[str], info: OnnxInfo) -> tuple[str, list[Entry]]:
    """The one model the file's interface and the tags name, and the packages declaring it."""
    known = interface_packages(ctx, info)
    if not known:
        raise UsageError(
            f"cannot tell what model {info.path} is: its interface ({info.describe()}) is that "
            "of no model package",
            hint="a model package declares its interface (CKX_ML_MODEL_NAME, "
            "CKX_ML_MODEL_INPUTS_NAMES, CKX_ML_MODEL_OUTPUTS_NAMES): see docs/packages.md",
        )
    said = [t for t in tags if t not in FILE_TAGS and t not in MODEL_TAGS]
    said = [t for t in said if not t.startswith("opset-")]
    fits = {n: es for n, es in known.items() if any(set(said) <= set(e.tags) for e in es)}
    if len(fits) == 1:
        name, entries = next(iter(fits.items()))
        return name, [e for e in entries if set(said) <= set(e.tags)]
    names = ", ".join(sorted(fits or known))
    if not fits:
        raise UsageError(
            f"{info.path} is not what --tags say ({','.join(said)}): its interface "
            f"({info.describe()}) is that of {names}",
            hint=f"register it as what it is, e.g. --tags=model,{sorted(known)[0]}",
        )
    raise UsageError(
        f"{info.path} has the interface of several models ({names}): which one is it?",
        hint=f"add its name to --tags, e.g. --tags={','.join([*tags, sorted(fits)[0]])}",
    )


def _registered_tags(tags: list[str], info: OnnxInfo, family: str, like: list[Entry]) -> list[str]:
    """The tags given, plus what the file is: the model, its task, format, opset and
    quantization (and ``int8``/``fp32`` with it)."""
    task = [
        t for t in ("object-detection", "image-classification") if all(t in e.tags for e in like)
    ]
    quant = ["quantized", "int8"] if info.quantized else ["non-quantized", "fp32"]
    found = [*MODEL_TAGS, family, *task, "onnx", f"opset-{info.opset}", *quant]
    return list(dict.fromkeys([*tags, *found]))


def package_meta(own: OwnModel, alias: str, uid: str) -> dict[str, Any]:
    """The package entry of ``own``: the file as its one artefact (its sha256 pinned), the
    env of the model it was identified as, with what the file itself says."""
    from ckx.artifacts.cas import hash_file

    sha256 = hash_file(own.path, ["sha256"])["sha256"]
    env = {k: v for k, v in model_env(own.like[0]).items() if k not in _PER_FILE_ENV}
    env.update(
        CKX_ML_MODEL_NAME=own.family,
        CKX_ML_MODEL_FRAMEWORK="onnx",
        CKX_ML_MODEL_OPSET=str(own.info.opset),
    )
    if own.info.inputs and own.info.inputs[0].elem_type:
        env["CKX_ML_MODEL_INPUTS_DATA_TYPE"] = own.info.inputs[0].elem_type
    name = own.path.name
    quant = ", quantized" if own.info.quantized else ""
    return {
        "alias": alias,
        "uid": uid,
        "automation_alias": "package",
        "name": f"your model {name}: {own.family}, ONNX opset {own.info.opset}{quant}",
        "tags": own.tags,
        "cache": True,
        "registered": {
            "file": str(own.path),
            "sha256": sha256,
            "identified_as": [e.cid for e in own.like],
            "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
        "download": [
            {
                "url": own.path.as_uri(),
                "filename": name,
                "size": own.path.stat().st_size,
                "sha256": sha256,
                "env": {"CKX_ML_MODEL_FILE_WITH_PATH": name, "CKX_ML_MODEL_PATH": "."},
            }
        ],
        "env": env,
        "variations": {"path.#": {"env": {"CKX_PACKAGE_PATH": "#"}}},
        "new_env_keys": ["CKX_ML_MODEL_*"],
    }


def write_package(ctx: Context, own: OwnModel) -> str:
    """Write the package entry of ``own`` into the ``local`` repo; its alias. An entry of that
    name that registers the same file is updated in place (its uid, so its cache, kept)."""
    from ckx.core.entries import new_uid
    from ckx.core.metafile import save_meta

    base = ctx.registry.get("local").folder_for("package")
    for alias in (own.alias, f"{own.alias}-2", f"{own.alias}-3"):
        meta_file = base / alias / "meta.yaml"
        if not (base / alias).exists():
            uid = new_uid()
            tmp = base / f".tmp-register-{uid}"
            tmp.mkdir(parents=True)
            save_meta(tmp / "meta.yaml", package_meta(own, alias, uid))
            tmp.rename(base / alias)
            break
        old = _registered_entry(ctx, alias)
        if old is not None and old.meta["registered"].get("file") == str(own.path):
            save_meta(meta_file, package_meta(own, alias, old.uid))
            break
    else:
        raise ConflictError(
            f"{base / own.alias} and -2, -3 exist already", hint="remove one: ckx rm package:NAME"
        )
    ctx.index.invalidate()
    return alias


def _registered_entry(ctx: Context, alias: str) -> Entry | None:
    hits = ctx.search("package", None, name=alias, repo="local")
    return hits[0] if hits and isinstance(hits[0].meta.get("registered"), dict) else None
