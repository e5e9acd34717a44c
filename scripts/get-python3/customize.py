"""get-python3: after detection, describe the interpreter (bin, folder, version parts)."""

import os


def postprocess(i):
    env = i["env"]
    exe = env.get("CKX_PYTHON_BIN_WITH_PATH")
    if not exe:
        return {"return": 1, "error": "detection did not set CKX_PYTHON_BIN_WITH_PATH"}
    folder = os.path.dirname(exe)
    env["CKX_PYTHON_BIN"] = os.path.basename(exe)
    env["CKX_PYTHON_BIN_PATH"] = folder
    version = i.version or env.get("CKX_PYTHON_VERSION", "")
    if version:
        env["CKX_PYTHON_VERSION"] = version
        parts = (version.split(".") + ["", "", ""])[:3]
        (
            env["CKX_PYTHON_MAJOR_VERSION"],
            env["CKX_PYTHON_MINOR_VERSION"],
            env["CKX_PYTHON_PATCH_VERSION"],
        ) = parts
    plus = env.get("+PATH") or []
    if folder and folder not in plus:
        env["+PATH"] = [*plus, folder]
    return {"return": 0, "version": version or None}
