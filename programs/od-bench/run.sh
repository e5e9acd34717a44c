#!/usr/bin/env bash
# od-bench: one loadgen test in its own process (the harness is the odbench package beside
# this file). EXTRA_OPS carries the reference's loadgen options (--time, --count, --qps, ...).
set -euo pipefail
args=(--profile "$CKX_ODBENCH_PROFILE"
      --model "$CKX_ODBENCH_MODEL_FILE"
      --dataset-path "$CKX_ODBENCH_DATASET_ROOT"
      --scenario "$CKX_LOADGEN_SCENARIO"
      --output "$CKX_ODBENCH_OUTPUT_DIR"
      --device "$CKX_ODBENCH_DEVICE"
      --no-summary)  # ckx prints the summary (customize.py's characteristics name the --model)
[ "${CKX_LOADGEN_MODE:-}" = "accuracy" ] && args+=(--accuracy)
[ -n "${CKX_PREPROCESSED_DATASET_PATH:-}" ] && args+=(--preprocessed_dir "$CKX_PREPROCESSED_DATASET_PATH" --use_preprocessed_dataset)
[ -n "${CKX_ODBENCH_THREADS:-}" ] && args+=(--threads "$CKX_ODBENCH_THREADS")
[ -n "${CKX_ODBENCH_MAX_BATCHSIZE:-}" ] && args+=(--max-batchsize "$CKX_ODBENCH_MAX_BATCHSIZE")
[ -n "${CKX_ODBENCH_COUNT:-}" ] && args+=(--count "$CKX_ODBENCH_COUNT")
[ -n "${CKX_ODBENCH_QPS:-}" ] && args+=(--qps "$CKX_ODBENCH_QPS")
[ -n "${CKX_ODBENCH_TIME:-}" ] && args+=(--time "$CKX_ODBENCH_TIME")
# shellcheck disable=SC2086  # EXTRA_OPS is a list of options on purpose
PYTHONPATH="$CKX_ODBENCH_CODE${PYTHONPATH:+:$PYTHONPATH}" \
  exec "$CKX_PYTHON_BIN_WITH_PATH" -m odbench "${args[@]}" ${EXTRA_OPS:-}
