#!/bin/bash
# Train in the cache folder (the cwd) and report the model file to the engine.
set -euo pipefail
python="${CKX_PYTHON:-${CKX_PYTHON_BIN_WITH_PATH:-python3}}"
extra=()
if [ -n "${CKX_TRAIN_DATA:-}" ]; then extra=(--data "$CKX_TRAIN_DATA"); fi
"$python" "$CKX_TMP_CURRENT_SCRIPT_PATH/train.py" --out "$PWD/ssd_shapes.onnx" \
  --steps "${CKX_TRAIN_STEPS:-500}" --seed "${CKX_TRAIN_SEED:-0}" "${extra[@]}"
sha=$("$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$PWD/ssd_shapes.onnx")
{
  echo "CKX_ML_MODEL_FILE_WITH_PATH=$PWD/ssd_shapes.onnx"
  echo "CKX_ML_MODEL_SHA256=$sha"
} >> "$CKX_OUTPUT_ENV_FILE"
