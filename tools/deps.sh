#!/usr/bin/env bash
# deps.sh [--test|--fuzz|--ci]: installs the Debian packages cceauto needs (build; with
# --test also what the test suite uses; with --fuzz clang and libFuzzer for tools/fuzz.sh
# and tools/build_matrix.sh; --ci both, what .ci/run needs).  Installs only what is
# missing; needs root or sudo.
set -eu
pkgs=(build-essential cmake pkg-config liblua5.4-dev lua5.4 lua-cjson-dev libcurl4-openssl-dev
      libssl-dev libyaml-dev libjansson-dev lua-argparse python3 python3-cryptography python3-yaml curl openssl ca-certificates)
mode=${1:-}
if [ "$mode" = --test ] || [ "$mode" = --ci ]; then
  pkgs+=(lua-unit lua-check valgrind nghttp2-server)
  # Any kubectl will do; Debian's is kubernetes-client.
  command -v kubectl >/dev/null 2>&1 || pkgs+=(kubernetes-client)
fi
if [ "$mode" = --fuzz ] || [ "$mode" = --ci ]; then
  # -fsanitize=fuzzer needs clang's runtime (libclang-rt-14-dev); libfuzzer-14-dev is libFuzzer itself.
  pkgs+=(clang libclang-rt-14-dev libfuzzer-14-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
