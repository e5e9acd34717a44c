"""od-bench hooks: pick the reference profile and data set, check inputs.

``preprocess`` runs after the deps (model, data set, loadgen, runtime) and before the
pre-processing prehook and ``run.sh``. The harness itself writes the characteristics ckx
records (``$CKX_CHARACTERISTICS_FILE``, see ``odbench/characteristics.py``).
"""

import os

# (model, backend) -> the reference profile (mlperf-od.md §1.3; automotive §6)
PROFILES = {
    ("ssd-shapes", "onnxruntime"): "ssd-mobilenet-onnxruntime",
    ("ssd-mobilenet", "onnxruntime"): "ssd-mobilenet-onnxruntime",
    ("ssd-mobilenet", "pytorch"): "ssd-mobilenet-pytorch",
    ("ssd-resnet34", "onnxruntime"): "ssd-resnet34-onnxruntime",
    ("ssd-resnet34", "pytorch"): "ssd-resnet34-pytorch",
    ("ssd-resnet34-tf", "onnxruntime"): "ssd-resnet34-onnxruntime-tf",
    ("ssd-resnet50", "onnxruntime"): "ssd-resnet50-onnxruntime",
    ("ssd-resnet50", "pytorch"): "ssd-resnet50-pytorch",
}


def _fail(msg, hint=""):
    from ckx.core.errors import UsageError

    raise UsageError(msg, hint=hint or None)


def preprocess(i):
    env = i["env"]
    model, backend = env.get("CKX_ODBENCH_MODEL"), env.get("CKX_ODBENCH_BACKEND")
    profile = PROFILES.get((model, backend))
    if profile is None:
        ok = ", ".join(f"{m}+{b}" for m, b in PROFILES)
        _fail(
            f"od-bench has no reference profile for model '{model}' with backend '{backend}'",
            f"supported: {ok}",
        )
    env["CKX_ODBENCH_PROFILE"] = profile
    env["CKX_ODBENCH_CODE"] = str(i.script_path)
    model_file = env.get("CKX_ODBENCH_MODEL_PATH") or env.get("CKX_ML_MODEL_FILE_WITH_PATH")
    if not model_file:
        _fail(
            "no model: the model dep gave no CKX_ML_MODEL_FILE_WITH_PATH", "pass --model_path=FILE"
        )
    if not os.path.exists(model_file):
        _fail(f"model file not found: {model_file}", "check --model_path")
    env["CKX_ODBENCH_MODEL_FILE"] = os.path.abspath(model_file)
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
    env["CKX_ODBENCH_DATASET_ROOT"] = os.path.abspath(data)
    env["CKX_ODBENCH_OUTPUT_DIR"] = str(i.run_path)
    return {"return": 0}
