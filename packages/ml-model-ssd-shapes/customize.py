"""Point at the shipped model file (verified), or at the one _retrain just produced."""

import hashlib
import os


def preprocess(i):
    env = i["env"]
    meta = i["meta"]
    provided = {k: str(v) for k, v in ((meta.get("provides") or {}).get("env") or {}).items()}
    retrained = env.get("CKX_ML_MODEL_FILE_WITH_PATH") if "retrain" in i.variations else None
    f = retrained or os.path.join(str(i.script_path), meta["file"]["name"])
    if not retrained:
        with open(f, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        if digest != meta["file"]["sha256"]:
            from ckx.core.errors import ChecksumError

            raise ChecksumError(
                f"{f}: sha256 is {digest}, the meta says {meta['file']['sha256']}",
                hint="the shipped model was modified; restore it from git or rebuild it with _retrain",
            )
    for k, v in provided.items():
        env.setdefault(k, v)
    env["CKX_ML_MODEL_FILE_WITH_PATH"] = f
    return {"return": 0}
