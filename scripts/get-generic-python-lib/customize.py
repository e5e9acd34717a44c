"""get-generic-python-lib: name the package's version and location in env."""

import re


def _key(name: str) -> str:
    return "CKX_PYTHONLIB_" + re.sub(r"[^A-Za-z0-9]+", "_", name).upper().strip("_")


def preprocess(i):
    if not i["env"].get("CKX_GENERIC_PYTHON_PACKAGE_NAME"):
        return {
            "return": 1,
            "error": "which package? select one: _numpy, _torch, _onnxruntime, ... or _package.NAME",
        }
    return {"return": 0}


def postprocess(i):
    env = i["env"]
    name = env["CKX_GENERIC_PYTHON_PACKAGE_NAME"]
    key = _key(name)
    if i.version:
        env[key + "_VERSION"] = i.version
    if env.get("CKX_TMP_DETECTED_PATH"):
        env[key + "_PATH"] = env["CKX_TMP_DETECTED_PATH"]
    return {"return": 0}
