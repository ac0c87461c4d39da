#!/usr/bin/env bash
# cmake --install puts binary, libraries, header, module and scripts in their places,
# and the installed cceauto finds installed scripts by name from any directory.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=$1
PREFIX=$WORK/prefix
cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" 2>&1
check "cmake --install succeeds" test $? -eq 0
check "bin/cceauto" test -x "$PREFIX/bin/cceauto"
check "include/cce.h" test -f "$PREFIX/include/cce.h"
check "static library" bash -c "ls '$PREFIX'/lib*/libcceauto.a"
check "shared library" bash -c "ls '$PREFIX'/lib*/libcceauto.so*"
check "Lua module cce.so" bash -c "ls '$PREFIX'/lib*/lua/5.4/cce.so"
if ls "$CCE_SOURCE_DIR"/scripts/*.lua >/dev/null 2>&1; then
  check "scripts installed" bash -c "ls '$PREFIX'/share/cceauto/scripts/*.lua"
fi
check "installed header compiles alone" bash -c "echo '#include <cce.h>
int main(void){return cce_version()[0]==0;}' | cc -std=c11 -Wall -Wextra -Werror -I'$PREFIX/include' -x c - -o '$WORK/hdr' -L'$PREFIX/lib' \$(ls -d '$PREFIX'/lib*/ | sed 's/^/-L/') -lcceauto \$(pkg-config --libs libcurl yaml-0.1 jansson libcrypto) && LD_LIBRARY_PATH=\$(ls -d '$PREFIX'/lib* | tr '\n' :) '$WORK/hdr'"
# the installed binary looks in the installed scripts dir, not the source tree
mkdir -p "$WORK/elsewhere"
cd "$WORK/elsewhere"
out=$("$PREFIX/bin/cceauto" nosuch_script.lua 2>&1)
check "installed binary looks in its own scripts dir" grep -q "$PREFIX/share/cceauto/scripts" <<<"$out"
out=$(env -u LUA_CPATH -u LUA_CPATH_5_4 "$PREFIX/bin/cceauto" -e 'print(require("cce").VERSION)' 2>&1)
check "installed cceauto loads its installed cce module" test "$out" = "$(grep -o '"[0-9.]*"' "$CCE_SOURCE_DIR/core/include/cce.h" | head -1 | tr -d '"')"
check "installed cceauto -v names the libraries" grep -q "libcurl/" <("$PREFIX/bin/cceauto" -v)
finish
