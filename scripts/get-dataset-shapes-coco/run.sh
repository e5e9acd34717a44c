#!/bin/bash
# Generate the dataset in the cache folder (the cwd) and report it to the engine.
set -euo pipefail
python="${CKX_PYTHON:-${CKX_PYTHON_BIN_WITH_PATH:-python3}}"
out="$PWD/shapes-coco"
"$python" "$CKX_TMP_CURRENT_SCRIPT_PATH/generate.py" --out "$out" --force \
  --split "${CKX_DATASET_SPLIT:-val}" --count "${CKX_DATASET_COUNT:-200}" \
  --seed "${CKX_DATASET_SEED:-2017}"
{
  echo "CKX_DATASET_PATH=$out"
  echo "CKX_DATASET_ANNOTATIONS=$out/annotations/instances_val2017.json"
  echo "CKX_DATASET_COUNT=${CKX_DATASET_COUNT:-200}"
} >> "$CKX_OUTPUT_ENV_FILE"
