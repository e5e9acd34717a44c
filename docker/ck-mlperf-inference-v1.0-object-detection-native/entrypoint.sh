#!/bin/sh
# The command of mlcommons/ck-mlperf-inference-v1 (CK's tutorial runs it as
#   docker run --volume ${CK_HOST_REPO_EXPERIMENTS}:/home/ckuser/ck-experiments -it IMAGE).
# Without arguments: od-bench's accuracy run (Offline), recorded as an experiment into the repo
# mounted at /home/ckuser/ck-experiments ($CKX_BENCHMARK_ARGS adds options, e.g. --count=50).
# With arguments: runs them instead (bash, ckx ...). Either way as the owner of the mounted
# folder, so what is written there belongs to that user on the host.
set -e
EXP=/home/ckuser/ck-experiments
uid=$(stat -c %u "$EXP")
gid=$(stat -c %g "$EXP")
export HOME=/home/ckuser CKX_HOME="/home/ckuser/.ckx-$uid"
if [ "$(id -u)" = 0 ] && [ "$uid" != 0 ]; then
  as_owner="setpriv --reuid=$uid --regid=$gid --clear-groups --"
else
  as_owner=""
fi
if [ "$#" -gt 0 ]; then
  exec $as_owner "$@"
fi
$as_owner mkdir -p "$CKX_HOME"
$as_owner ckx find repo:ck-experiments >/dev/null 2>&1 || $as_owner ckx add repo:ck-experiments --path="$EXP" --quiet
# shellcheck disable=SC2086
exec $as_owner ckx benchmark program:od-bench --cmd_key=accuracy-offline --record \
  --record_repo=ck-experiments --quiet $CKX_BENCHMARK_ARGS
