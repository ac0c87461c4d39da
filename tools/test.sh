#!/usr/bin/env bash
# test.sh [--sanitize]: installs what is missing, builds, and runs the whole suite with ctest.
#   --sanitize  builds in build-asan/ with AddressSanitizer and UndefinedBehaviorSanitizer
set -eu
cd "$(dirname "$0")/.."
"$PWD/tools/deps.sh" --test
build=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = --sanitize ]; then
  build=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DCCE_SANITIZE=ON)
  # Lua's own allocator patterns and the Python simulator are not ours to check.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-}
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
# Diagnostics, not file names (core/errors.c): "file:line:col: warning:" and make's "Error N".
log="$build/build.log"
if ! cmake --build "$build" -j"$(nproc)" -- --no-print-directory >"$log" 2>&1 ||
   grep -E "warning:|error:|\*\*\* .*Error [0-9]" "$log"; then
  grep -E "warning:|error:|Error" "$log" | head -40 >&2
  echo "test.sh: the build has warnings or errors (all of it in $log)" >&2
  exit 1
fi
cd "$build"
ctest --output-on-failure -j"$(nproc)"
