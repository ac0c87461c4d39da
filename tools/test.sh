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
cmake --build "$build" -j"$(nproc)" -- --no-print-directory 2>&1 | grep -E "warning|error|Error" && { echo "test.sh: the build has warnings or errors" >&2; exit 1; }
cd "$build"
ctest --output-on-failure -j"$(nproc)"
