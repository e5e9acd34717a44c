"""od-bench hooks: the bridge between ckx and the standalone harness (the ``odbench`` package
beside this file, which knows nothing of ckx).

``preprocess`` runs after the deps (model, data set, loadgen, runtime) and before the
pre-processing prehook and ``run.sh``: it checks the inputs and turns the chosen variations
into the harness's options (``run.sh`` passes them on). The reference profile of each model and
backend is a combined variation of ``meta.yaml`` (``ssd-mobilenet,onnxruntime: {env:
{CKX_ODBENCH_PROFILE: ...}}``); the profiles themselves are the harness's table
(``odbench/profiles.py``). ``postprocess`` turns the harness's ``odbench_summary.json`` into the
characteristics ckx records (``$CKX_CHARACTERISTICS_FILE``, docs/experiments.md).
"""

import importlib.util
import json
import os

from ckx.core.errors import RunError, UsageError


def _fail(msg, hint=""):
    raise UsageError(msg, hint=hint or None)


def _profile(i):
    env = i["env"]
    profile = env.get("CKX_ODBENCH_PROFILE")
    if not profile:
        model, backend = env.get("CKX_ODBENCH_MODEL"), env.get("CKX_ODBENCH_BACKEND")
        combos = [k for k, v in (i.meta.get("variations") or {}).items() if "," in k]
        ok = ", ".join(k.replace(",", "+") for k in combos)
        _fail(
            f"od-bench has no reference profile for model '{model}' with backend '{backend}'",
            f"supported: {ok}",
        )
    return profile


def _model_file(env):
    model_file = env.get("CKX_ODBENCH_MODEL_PATH") or env.get("CKX_ML_MODEL_FILE_WITH_PATH")
    if not model_file:
        _fail(
            "no model: the model dep gave no CKX_ML_MODEL_FILE_WITH_PATH", "pass --model_path=FILE"
        )
    if os.path.isdir(model_file):
        _fail(f"{model_file} is a folder, not a model file", "give the file: --model_path=FILE")
    if not os.path.exists(model_file):
        _fail(f"model file not found: {model_file}", "check --model_path")
    return os.path.abspath(model_file)


def _dataset_root(env):
    data = env.get("CKX_ODBENCH_DATASET_PATH") or env.get("CKX_DATASET_PATH")
    if not data:
        _fail("no data set: the dataset dep gave no CKX_DATASET_PATH", "pass --dataset_path=DIR")
    if env.get("CKX_ODBENCH_DATASET_KIND") == "coco":
        ann = os.path.join(data, "annotations", "instances_val2017.json")
        if not os.path.isfile(ann) or not os.path.isdir(os.path.join(data, "val2017")):
            _fail(
                f"{data} is not a COCO root: it needs val2017/ and annotations/instances_val2017.json",
                "point --dataset_path at the folder that holds val2017/ and annotations/",
            )
    return os.path.abspath(data)


def preprocess(i):
    env = i["env"]
    env["CKX_ODBENCH_PROFILE"] = _profile(i)
    env["CKX_ODBENCH_CODE"] = str(i.script_path)
    env["CKX_ODBENCH_MODEL_FILE"] = _model_file(env)
    env["CKX_ODBENCH_DATASET_ROOT"] = _dataset_root(env)
    env["CKX_ODBENCH_OUTPUT_DIR"] = str(i.run_path)
    return {"return": 0}


def _format_summary(script_path):
    """The harness's own summary formatter (``odbench/summary.py``, standard library only),
    loaded from its file: ckx's process never imports the ``odbench`` package."""
    path = os.path.join(str(script_path), "odbench", "summary.py")
    spec = importlib.util.spec_from_file_location("_odbench_summary_for_ckx", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.format_summary


def postprocess(i):
    """The run's characteristics: the harness's summary record as ckx records it, with what
    only ckx knows added: ``model`` is the ``--model`` chosen (``ssd-shapes``, ...; LoadGen's
    model name stays as ``loadgen_model``), ``cmd_key``, and the human ``summary_text``."""
    env = i["env"]
    name = env.get("CKX_CHARACTERISTICS_FILE")
    if not name:
        return {"return": 0}
    source = os.path.join(env["CKX_ODBENCH_OUTPUT_DIR"], "odbench_summary.json")
    try:
        with open(source, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as e:
        raise RunError(f"od-bench wrote no readable summary: {source}: {e}") from None
    rec = dict(record)
    rec["loadgen_model"] = record.get("model")
    rec["model"] = env.get("CKX_ODBENCH_MODEL") or record.get("model")
    rec["summary_text"] = _format_summary(i.script_path)(rec)
    rec["cmd_key"] = env.get("CKX_CMD_KEY")
    from ckx.core import atomic

    text = json.dumps(rec, indent=2, sort_keys=True)
    atomic.write_text(os.path.join(str(i.run_path), name), text)
    return {"return": 0}
