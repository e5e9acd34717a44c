"""The MLPerf reference's ``python/models`` package, re-implemented so its pickles load.

The reference ``ssd_mobilenet_v1.pytorch`` (zenodo 3239977) and ``resnet34-ssd1200.pytorch``
(zenodo 3236545) are whole ``nn.Module`` pickles whose classes live in the reference repo's
``models.*`` modules (``vision/classification_and_detection/python/models/`` of
``mlcommons/inference``), and the ResNet-34 one also names ``torchvision.models.resnet``.
:func:`load_pickled` runs ``torch.load`` with this package registered as ``models`` in
``sys.modules`` (and :mod:`.tv_resnet` as ``torchvision.models.resnet`` when torchvision is not
installed), restoring what was there afterwards; its unpickler refuses any other class of those
packages with an error naming it and what od-bench supports. :func:`save_pickled` writes a
module the way the reference repo would have (classes under ``models.*``), for tests.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pickle
import sys
import tempfile
import types
from collections.abc import Iterator
from typing import Any

from ..errors import RunError

# reference module path -> (our submodule, classes a pickle may name)
SUPPORTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "models.ssd_mobilenet_v1": (
        "ssd_mobilenet_v1",
        ("SSD", "MobileNetV1Base", "PredictionHead", "Block"),
    ),
    "models.utils": ("utils", ("BatchNorm2d", "BiasAdd", "Conv2d_tf")),
    "models.anchor_generator": ("anchor_generator", ("MultipleGridAnchorGenerator",)),
    "models.base_model_r34": ("base_model_r34", ("ResNet34", "ResNet18", "L2Norm")),
    "models.ssd_r34": ("ssd_r34", ("SSD_R34", "Encoder", "DefaultBoxes")),
}
# stood in for only when torchvision itself cannot be imported
TORCHVISION_STANDIN: dict[str, tuple[str, tuple[str, ...]]] = {
    "torchvision.models.resnet": ("tv_resnet", ("BasicBlock", "ResNet")),
}
_MISSING = object()


def supported_classes() -> list[str]:
    """``module.Class`` names a reference pickle may contain, for messages and docs."""
    table = {**SUPPORTED, **TORCHVISION_STANDIN}
    return [f"{mod}.{cls}" for mod, (_, classes) in table.items() for cls in classes]


def _torchvision_missing() -> bool:
    if "torchvision" in sys.modules:
        return False
    try:
        return importlib.util.find_spec("torchvision") is None
    except (ImportError, ValueError):
        return True


def _alias_table() -> dict[str, types.ModuleType]:
    """``sys.modules`` entries to register: ``models``, ``models.*`` and maybe torchvision."""
    table: dict[str, types.ModuleType] = {"models": sys.modules[__name__]}
    for ref_name, (sub, _) in SUPPORTED.items():
        table[ref_name] = importlib.import_module(f"{__name__}.{sub}")
    if _torchvision_missing():
        resnet = importlib.import_module(f"{__name__}.tv_resnet")
        # bare parent packages: the pickle only imports the leaf module
        tv = types.ModuleType("torchvision", "od-bench stand-in (torchvision not installed)")
        tv_models = types.ModuleType("torchvision.models", "od-bench stand-in")
        tv.models = tv_models  # type: ignore[attr-defined]
        tv_models.resnet = resnet  # type: ignore[attr-defined]
        table.update(
            {
                "torchvision": tv,
                "torchvision.models": tv_models,
                "torchvision.models.resnet": resnet,
            }
        )
    return table


@contextlib.contextmanager
def reference_modules() -> Iterator[dict[str, types.ModuleType]]:
    """Register the reference module names in ``sys.modules`` for the block, then restore
    exactly what was there (a user's own ``models`` package survives)."""
    table = _alias_table()
    saved = {name: sys.modules.get(name, _MISSING) for name in table}
    sys.modules.update(table)
    try:
        yield table
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


class ReferenceModelError(RunError):
    """A pickle names a ``models.*`` (or stood-in torchvision) class od-bench does not have."""


def _check_class(mod_name: str, name: str, standin: bool) -> None:
    table = {**SUPPORTED, **(TORCHVISION_STANDIN if standin else {})}
    guarded = mod_name == "models" or mod_name.startswith("models.") or mod_name in table
    if not guarded or name in table.get(mod_name, ("", ()))[1]:
        return
    what = (
        f"module '{mod_name}'"
        if mod_name not in table
        else f"class '{name}' in module '{mod_name}'"
    )
    raise ReferenceModelError(
        f"the pickled model needs {what} ('{mod_name}.{name}') of the MLPerf reference's "
        "python/models package, which od-bench does not re-implement",
        hint="od-bench loads the reference SSD-MobileNet and SSD-ResNet34 pickles, which use: "
        + ", ".join(supported_classes())
        + "; export other models to TorchScript or ONNX",
    )


def _pickle_module(standin: bool) -> types.ModuleType:
    """A ``pickle`` look-alike for ``torch.load`` whose Unpickler checks reference classes."""

    class Unpickler(pickle.Unpickler):
        def find_class(self, mod_name: str, name: str) -> Any:
            _check_class(mod_name, name, standin)
            return super().find_class(mod_name, name)

    mod = types.ModuleType("pickle")
    mod.__dict__.update({k: v for k, v in vars(pickle).items() if not k.startswith("__")})
    mod.Unpickler = Unpickler  # type: ignore[attr-defined]
    return mod


def load_pickled(path: str, map_location: Any = None) -> Any:
    """``torch.load(path, weights_only=False)`` with the reference ``models`` package in place.

    Raises :class:`ReferenceModelError` when the pickle names a reference class od-bench lacks.
    """
    import torch

    with reference_modules() as table:
        standin = table.get("torchvision.models.resnet") is not None
        return torch.load(
            path,
            map_location=map_location,
            weights_only=False,
            pickle_module=_pickle_module(standin),
        )


@contextlib.contextmanager
def _classes_named_as_reference() -> Iterator[None]:
    # pickle records cls.__module__; point ours at the reference paths while saving
    changed: list[tuple[type, str]] = []
    with reference_modules() as table:
        for ref_name, module in table.items():
            if ref_name in ("models", "torchvision", "torchvision.models"):
                continue  # packages: no classes of their own
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == module.__name__:
                    changed.append((value, value.__module__))
                    value.__module__ = ref_name
        try:
            yield
        finally:
            for cls, old in changed:
                cls.__module__ = old


def save_pickled(model: Any, path: str, legacy_format: bool = False) -> None:
    """``torch.save`` the whole ``model`` as the reference repo would: its classes recorded
    under ``models.*`` (and ``torchvision.models.resnet`` when torchvision is stood in for);
    ``legacy_format`` writes torch's pre-1.6 non-zip format, that of the 2019 zenodo files.
    Written to a temporary file, then renamed."""
    import torch

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".refmodel-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f, _classes_named_as_reference():
            torch.save(model, f, _use_new_zipfile_serialization=not legacy_format)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
