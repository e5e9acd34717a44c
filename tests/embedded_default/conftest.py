"""Fixtures for the embedded default: the script modules (folders, not packages) and datasets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR_DIR = ROOT / "scripts" / "get-dataset-shapes-coco"
TRAINER_DIR = ROOT / "scripts" / "train-ssd-shapes"
PACKAGE_DIR = ROOT / "packages" / "ml-model-ssd-shapes"


def load_module(path: Path, name: str) -> ModuleType:
    """Import a script file under a private module name (the script folders are not packages)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses need their module registered while it executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    return load_module(GENERATOR_DIR / "generate.py", "ckx_test_shapes_generate")


@pytest.fixture(scope="session")
def evaluator() -> ModuleType:
    return load_module(TRAINER_DIR / "evaluate.py", "ckx_test_shapes_evaluate")


@pytest.fixture(scope="session")
def val_split(generator, tmp_path_factory) -> Path:
    """The default val split (seed 2017, 200 images), generated once per session."""
    out = tmp_path_factory.mktemp("shapes") / "val"
    generator.main(["--out", str(out)])
    return out
