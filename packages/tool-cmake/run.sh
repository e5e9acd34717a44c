#!/usr/bin/env bash
# Build CMake from the source tree the download block placed here (or a --path copy),
# installing into ./install of this package folder. Prints each step with the elapsed time.
set -euo pipefail
src="$CKX_CMAKE_SOURCE_PATH"
prefix="$PWD/install"
jobs="${CKX_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"
step() { echo "[cmake-src +${SECONDS}s] $*"; }
build="$PWD/build"
mkdir -p "$build"
cd "$build"
step "bootstrap: $src/bootstrap --prefix=$prefix --parallel=$jobs -- $CKX_CMAKE_BOOTSTRAP_FLAGS"
# shellcheck disable=SC2086  # the flags are a list on purpose
"$src/bootstrap" --prefix="$prefix" --parallel="$jobs" -- $CKX_CMAKE_BOOTSTRAP_FLAGS
step "make -j$jobs"
make -j"$jobs"
step "make install"
make install
version="$("$prefix/bin/cmake" --version | head -n 1 | awk '{print $3}')"
step "done: $prefix/bin/cmake $version"
{
  echo "CKX_CMAKE_BIN_WITH_PATH=$prefix/bin/cmake"
  echo "CKX_CMAKE_INSTALL_PATH=$prefix"
  echo "+PATH=$prefix/bin"
  echo "CKX_DETECTED_VERSION=$version"
} >> "$CKX_OUTPUT_ENV_FILE"
