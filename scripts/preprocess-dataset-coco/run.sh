#!/usr/bin/env bash
set -euo pipefail
: "${CKX_ODBENCH_DATASET_ROOT:?the data set root is not set (run through od-bench)}"
: "${CKX_ODBENCH_PROFILE:?the od-bench profile is not set}"
code="${CKX_ODBENCH_CODE:?the od-bench code folder is not set}"
args=(--dataset-path "$CKX_ODBENCH_DATASET_ROOT" --out "$PWD/preprocessed" --profile "$CKX_ODBENCH_PROFILE")
[ -n "${CKX_ODBENCH_COUNT:-}" ] && args+=(--count "$CKX_ODBENCH_COUNT")
PYTHONPATH="$code${PYTHONPATH:+:$PYTHONPATH}" "$CKX_PYTHON_BIN_WITH_PATH" -m odbench.preprocess "${args[@]}"
echo "CKX_PREPROCESSED_DATASET_PATH=$PWD/preprocessed" >> "$CKX_OUTPUT_ENV_FILE"
