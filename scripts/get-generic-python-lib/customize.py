"""get-generic-python-lib: the front of the python-package entries.

Its dep (the variation's ``lib,python-package,NAME`` entry, asked to detect only) found the
library and exported ``CKX_PYTHONLIB_<NAME>_VERSION``/``_PATH``; the front takes that version
as its own and adds MLCFlow's ``CKX_<NAME>_VERSION``.
"""

from ckx.artifacts.pythonlibs import env_prefix_for


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
    prefix = env_prefix_for(name)
    version = env.get(prefix + "_VERSION")
    if not version:
        return {
            "return": 1,
            "error": f"the python-package entry of {name} exported no {prefix}_VERSION "
            "(its env_prefix must be CKX_PYTHONLIB_ and the pip name)",
        }
    env["CKX_" + prefix.removeprefix("CKX_PYTHONLIB_") + "_VERSION"] = version
    return {"return": 0, "version": version}
