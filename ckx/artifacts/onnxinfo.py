"""What an ONNX file says about itself, read without the ``onnx`` package.

:func:`read_onnx` walks the protobuf wire format of a ``ModelProto`` (fields of onnx.proto3)
and keeps what identifies and checks a model: producer, opsets, graph inputs (initializers
excluded) and outputs with element types and shapes, and the operator counts (quantization
shows as ``QuantizeLinear``/``DequantizeLinear``/``QLinear*`` nodes). Tensor data is skipped,
never decoded, so a large model costs one read of the file. A file that is not a ``ModelProto``
raises :class:`~ckx.core.errors.UsageError` naming it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ckx.core.errors import UsageError

#: TensorProto.DataType numbers -> names (onnx.proto3)
ELEM_TYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    16: "bfloat16",
}
QUANT_OPS = frozenset(
    {
        "QuantizeLinear",
        "DequantizeLinear",
        "DynamicQuantizeLinear",
        "QLinearConv",
        "QLinearMatMul",
        "QLinearAdd",
        "QLinearMul",
        "ConvInteger",
        "MatMulInteger",
    }
)


@dataclass
class Tensor:
    """A graph input or output: name, element type, shape (ints or symbolic names)."""

    name: str
    elem_type: str | None = None
    shape: list[int | str] = field(default_factory=list)


@dataclass
class OnnxInfo:
    """The facts :func:`read_onnx` found."""

    path: str
    ir_version: int = 0
    producer: str = ""
    opsets: dict[str, int] = field(default_factory=dict)  # domain ("" = ai.onnx) -> version
    inputs: list[Tensor] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    ops: Counter = field(default_factory=Counter)

    @property
    def opset(self) -> int | None:
        """The default-domain (ai.onnx) opset."""
        return self.opsets.get("", self.opsets.get("ai.onnx"))

    @property
    def quantized(self) -> bool:
        return any(op in QUANT_OPS for op in self.ops)

    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def describe(self) -> str:
        ins = ", ".join(f"{t.name} {t.elem_type or '?'}{t.shape}" for t in self.inputs)
        return (
            f"inputs {ins}; outputs {', '.join(self.output_names())}; opset {self.opset}; "
            f"{'quantized' if self.quantized else 'not quantized'}"
        )


# --- the wire format ---------------------------------------------------------------------


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _fields(buf: memoryview):
    """Yield ``(field_number, wire_type, value)``: ints for varints, memoryviews for bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
            yield num, wt, val
        elif wt == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated field")
            yield num, wt, buf[pos : pos + n]
            pos += n
        elif wt == 1:
            pos += 8
        elif wt == 5:
            pos += 4
        else:
            raise ValueError(f"bad wire type {wt}")
        if num == 0:
            raise ValueError("field number 0")


def _str(v: Any) -> str:
    return bytes(v).decode("utf-8", errors="replace")


def _tensor(buf: memoryview) -> Tensor:
    t = Tensor(name="")
    for num, wt, v in _fields(buf):
        if num == 1 and wt == 2:
            t.name = _str(v)
        elif num == 2 and wt == 2:  # TypeProto
            for n2, w2, v2 in _fields(v):
                if n2 == 1 and w2 == 2:  # tensor_type
                    _tensor_type(v2, t)
    return t


def _tensor_type(buf: memoryview, t: Tensor) -> None:
    for num, wt, v in _fields(buf):
        if num == 1 and wt == 0:
            t.elem_type = ELEM_TYPES.get(v, str(v))
        elif num == 2 and wt == 2:  # TensorShapeProto
            for n2, w2, dim in _fields(v):
                if n2 == 1 and w2 == 2:
                    t.shape.append(_dim(dim))


def _dim(buf: memoryview) -> int | str:
    for num, wt, v in _fields(buf):
        if num == 1 and wt == 0:
            return int(v)
        if num == 2 and wt == 2:
            return _str(v)
    return "?"


def _graph(buf: memoryview, info: OnnxInfo) -> None:
    inits: set[str] = set()
    inputs: list[Tensor] = []
    for num, wt, v in _fields(buf):
        if wt != 2:
            continue
        if num == 1:  # NodeProto: op_type is field 4
            for n2, w2, v2 in _fields(v):
                if n2 == 4 and w2 == 2:
                    info.ops[_str(v2)] += 1
        elif num == 5:  # TensorProto initializer: name is field 8
            for n2, w2, v2 in _fields(v):
                if n2 == 8 and w2 == 2:
                    inits.add(_str(v2))
        elif num == 11:
            inputs.append(_tensor(v))
        elif num == 12:
            info.outputs.append(_tensor(v))
    info.inputs = [t for t in inputs if t.name not in inits]


def read_onnx(path: str | Path) -> OnnxInfo:
    """Read ``path`` as an ONNX ModelProto; UsageError when it is not one."""
    p = Path(path)
    try:
        data = memoryview(p.read_bytes())
    except OSError as e:
        raise UsageError(f"cannot read model file {p}: {e.strerror or e}") from None
    info = OnnxInfo(path=str(p))
    has_graph = False
    try:
        for num, wt, v in _fields(data):
            if num == 1 and wt == 0:
                info.ir_version = int(v)
            elif num == 2 and wt == 2:
                info.producer = _str(v)
            elif num == 7 and wt == 2:
                has_graph = True
                _graph(v, info)
            elif num == 8 and wt == 2:
                dom, ver = "", 0
                for n2, w2, v2 in _fields(v):
                    if n2 == 1 and w2 == 2:
                        dom = _str(v2)
                    elif n2 == 2 and w2 == 0:
                        ver = int(v2)
                info.opsets[dom] = ver
    except ValueError as e:
        raise UsageError(f"{p} is not an ONNX model ({e})") from None
    if not has_graph or info.ir_version <= 0:
        raise UsageError(f"{p} is not an ONNX model (no graph or IR version in it)")
    return info


def looks_like_onnx(path: str | Path) -> bool:
    """True when ``path`` parses as an ONNX model."""
    try:
        read_onnx(path)
    except UsageError:
        return False
    return True


# --- does a file fit what a package entry says? ------------------------------------------------


def model_problems(path: str | Path, tags: list[str], env: dict[str, Any]) -> list[str]:
    """How the model file at ``path`` contradicts a model package's tags and env (empty: it
    fits, as far as can be checked). ONNX entries (tag ``onnx`` or ``CKX_ML_MODEL_FRAMEWORK:
    onnx``): the file parses as ONNX; ``opset-N`` / ``CKX_ML_MODEL_OPSET``; input and output
    names (``CKX_ML_MODEL_INPUTS_NAMES``/``OUTPUTS_NAMES``); ``non-quantized``/``fp32``
    against quantization nodes and ``quantized``/``int8`` the other way; the input element
    type (``CKX_ML_MODEL_INPUTS_DATA_TYPE``). PyTorch entries: the file is not ONNX."""
    framework = str(env.get("CKX_ML_MODEL_FRAMEWORK") or "").lower()
    tagset = {str(t).lower() for t in tags}
    if framework == "onnx" or (not framework and "onnx" in tagset):
        return _onnx_problems(path, tagset, env)
    if framework == "pytorch" and looks_like_onnx(path):
        return ["it is an ONNX file, but the entry is a PyTorch model"]
    return []


def _onnx_problems(path: str | Path, tags: set[str], env: dict[str, Any]) -> list[str]:
    try:
        info = read_onnx(path)
    except UsageError as e:
        return [f"it is not an ONNX model ({e.message})"]
    out = []
    want = _wanted_opset(tags, env)
    if want is not None and info.opset != want:
        out.append(f"its opset is {info.opset}, the entry says {want}")
    for key, have in (
        ("CKX_ML_MODEL_INPUTS_NAMES", info.input_names()),
        ("CKX_ML_MODEL_OUTPUTS_NAMES", info.output_names()),
    ):
        names = [n for n in str(env.get(key) or "").split(",") if n]
        if names and names != have:
            what = "inputs" if "INPUTS" in key else "outputs"
            out.append(f"its {what} are {', '.join(have)}, the entry says {', '.join(names)}")
    if tags & {"non-quantized", "fp32"} and info.quantized:
        q = sorted(op for op in info.ops if op in QUANT_OPS)
        out.append(f"it is quantized ({', '.join(q)} nodes), the entry says non-quantized/fp32")
    if tags & {"quantized", "int8"} and not info.quantized:
        out.append("it has no quantization nodes, the entry says quantized")
    dtype = str(env.get("CKX_ML_MODEL_INPUTS_DATA_TYPE") or "")
    if dtype and info.inputs and info.inputs[0].elem_type not in (None, dtype):
        out.append(f"its input is {info.inputs[0].elem_type}, the entry says {dtype}")
    return out


def _wanted_opset(tags: set[str], env: dict[str, Any]) -> int | None:
    for t in tags:
        if t.startswith("opset-") and t[6:].isdigit():
            return int(t[6:])
    value = str(env.get("CKX_ML_MODEL_OPSET") or "")
    return int(value) if value.isdigit() else None
