#!/usr/bin/env bash
# build_matrix.sh: builds everything (library, host, module, tests, examples) with gcc and
# clang in Debug, Release and RelWithDebInfo, each in build-matrix/<cc>-<type>/, with
# warnings as errors: any warning (-Wall -Wextra and the rest the build sets) fails.
set -eu
cd "$(dirname "$0")/.."
"$PWD/tools/deps.sh" --fuzz  # clang
failed=()
for cc in gcc clang; do
  for type in Debug Release RelWithDebInfo; do
    dir=build-matrix/$cc-$type
    log=build-matrix/$cc-$type.log
    mkdir -p build-matrix
    if CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DCMAKE_C_FLAGS=-Werror >"$log" 2>&1 &&
       cmake --build "$dir" -j"$(nproc)" -- --no-print-directory >>"$log" 2>&1; then
      echo "build_matrix.sh: $cc $type: ok"
    else
      echo "build_matrix.sh: $cc $type: FAILED (log $log)" >&2
      grep -E "warning:|error:" "$log" | sort -u | head -20 >&2
      failed+=("$cc-$type")
    fi
  done
done
[ ${#failed[@]} -eq 0 ] || { echo "build_matrix.sh: failed: ${failed[*]}" >&2; exit 1; }
