#!/usr/bin/env bash
# test_host.sh - tests of the cceauto host program (bindings/cceauto.c).
#
#   tests/host/test_host.sh path/to/cceauto
#
# Every check asserts the exit status and the output (stdout and stderr).
# Needs no network; works in a temporary directory it removes afterwards.
# The last line is "N passed, M failed"; the exit status is 1 if any failed.
set -u

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 path/to/cceauto" >&2
    exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # absolute: checks change directory

# A clean environment: nothing of the caller's Lua set-up may leak in.
unset LUA_INIT LUA_INIT_5_4 LUA_PATH LUA_PATH_5_4 LUA_CPATH LUA_CPATH_5_4 CCEAUTO_PATH

T=$(mktemp -d "${TMPDIR:-/tmp}/cceauto-host.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

passed=0
failed=0
skipped=0
NAME=
PROBLEMS=()
OUT=
ERR=
RC=

# ------------------------------------------------------------ helpers

# run CMD...: runs CMD with stdin from /dev/null; sets OUT, ERR, RC.
run() {
    OUT=$("$@" </dev/null 2>"$T/.err")
    RC=$?
    ERR=$(<"$T/.err")
}

# run_in DIR CMD...: run, in directory DIR.
run_in() {
    local dir=$1
    shift
    OUT=$(cd "$dir" && "$@" </dev/null 2>"$T/.err")
    RC=$?
    ERR=$(<"$T/.err")
}

# run_stdin TEXT CMD...: runs CMD with TEXT on stdin (a pipe, not a tty).
run_stdin() {
    local text=$1
    shift
    OUT=$(printf '%s' "$text" | "$@" 2>"$T/.err")
    RC=$?
    ERR=$(<"$T/.err")
}

begin() {
    NAME=$1
    PROBLEMS=()
}

show() { printf '%q' "$1"; }

rc_is() { [ "$RC" -eq "$1" ] || PROBLEMS+=("exit status $RC, expected $1"); }
out_is() { [ "$OUT" == "$1" ] || PROBLEMS+=("stdout $(show "$OUT"), expected $(show "$1")"); }
out_has() { [[ $OUT == *"$1"* ]] || PROBLEMS+=("stdout $(show "$OUT") lacks $(show "$1")"); }
out_matches() { [[ $OUT =~ $1 ]] || PROBLEMS+=("stdout $(show "$OUT") does not match /$1/"); }
out_empty() { out_is ""; }
err_is() { [ "$ERR" == "$1" ] || PROBLEMS+=("stderr $(show "$ERR"), expected $(show "$1")"); }
err_has() { [[ $ERR == *"$1"* ]] || PROBLEMS+=("stderr $(show "$ERR") lacks $(show "$1")"); }
err_lacks() { [[ $ERR != *"$1"* ]] || PROBLEMS+=("stderr $(show "$ERR") has $(show "$1")"); }
err_empty() { err_is ""; }
# err_first_is LINE: the first line of stderr is exactly LINE.
err_first_is() {
    local first=${ERR%%$'\n'*}
    [ "$first" == "$1" ] || PROBLEMS+=("stderr's first line $(show "$first"), expected $(show "$1")")
}

end() {
    if [ ${#PROBLEMS[@]} -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok   - $NAME"
    else
        failed=$((failed + 1))
        echo "FAIL - $NAME"
        local p
        for p in "${PROBLEMS[@]}"; do
            echo "       $p"
        done
    fi
}

skip() {
    skipped=$((skipped + 1))
    echo "skip - $1: $2"
}

# ------------------------------------------------------------ fixtures

mkdir -p "$T/mods" "$T/lib" "$T/proj" "$T/elsewhere" "$T/empty" "$T/bin"
cat >"$T/mods/mymod.lua" <<'EOF'
return { name = "mymod" }
EOF
cat >"$T/args.lua" <<'EOF'
for i = -3, #arg do io.write(tostring(arg[i]), "|") end
print()
print("#arg=" .. #arg, "n=" .. select("#", ...), ...)
EOF
cat >"$T/err.lua" <<'EOF'
print("before")
local function fail() error("kaboom") end
fail()
EOF
cat >"$T/tableerr.lua" <<'EOF'
error(setmetatable({ code = "X" }, { __tostring = function(e) return e.code .. ": boom" end }))
EOF
cat >"$T/bad.lua" <<'EOF'
local x = 1
x = = 2
EOF
cat >"$T/lib/fleet.lua" <<'EOF'
local h = require "fleethelper"
print("arg0=" .. arg[0], h.where, ...)
EOF
cat >"$T/lib/fleethelper.lua" <<'EOF'
return { where = "lib" }
EOF
cat >"$T/proj/main.lua" <<'EOF'
local h = require "projhelper"
print(h.greeting, package.path)
EOF
cat >"$T/proj/projhelper.lua" <<'EOF'
return { greeting = "hello from beside" }
EOF
cat >"$T/init.lua" <<'EOF'
print("init file")
EOF

# The scripts directory the binary reports in its help (the line after "directory:").
scripts_dir_of() {
    "$1" -h 2>/dev/null | awk 'f { sub(/^ +/, ""); print; exit } /directory:$/ { f = 1 }'
}
SDIR=$(scripts_dir_of "$BIN")

# ------------------------------------------------------------ options

VERSION_RE='^cceauto [0-9]+\.[0-9]+\.[0-9]+ \(Lua 5\.4\.[0-9]+; .+\)$'

begin "-v prints the version and exits 0"
run "$BIN" -v
rc_is 0; out_matches "$VERSION_RE"; err_empty
end

begin "--version prints the version and exits 0"
run "$BIN" --version
rc_is 0; out_matches "$VERSION_RE"; err_empty
end

begin "-v does not run the script"
run "$BIN" -v "$T/err.lua"
rc_is 0; out_matches "$VERSION_RE"; err_empty
end

begin "-h prints the usage, options and lookup rules on stdout"
run "$BIN" -h
rc_is 0; err_empty
out_has "usage: cceauto [options] [script [args...]]"
for opt in "-e stat" "-i" "-l mod" "-l g=mod" "-v, --version" "-h, --help" "-E" "-W" "--" "CCEAUTO_PATH" "LUA_INIT" "Script lookup"; do
    out_has "$opt"
done
[ -n "$SDIR" ] || PROBLEMS+=("no scripts directory in the help")
end

begin "--help is -h"
run "$BIN" --help
rc_is 0; err_empty; out_has "CCEAUTO_PATH"; out_has "Script lookup"
end

begin "unknown option: exit 2, message and usage on stderr"
run "$BIN" -x
rc_is 2; out_empty
err_first_is "cceauto: unrecognized option '-x'"
err_has "usage: cceauto"
end

begin "unknown long option: exit 2"
run "$BIN" --bogus "$T/args.lua"
rc_is 2; out_empty
err_first_is "cceauto: unrecognized option '--bogus'"
end

begin "-e without its argument: exit 2"
run "$BIN" -e
rc_is 2; out_empty
err_first_is "cceauto: '-e' needs argument"
err_has "usage: cceauto"
end

begin "-l without its argument: exit 2"
run "$BIN" -l
rc_is 2; out_empty
err_first_is "cceauto: '-l' needs argument"
end

begin "-e runs code, several in order, attached form too"
run "$BIN" -e 'io.write("a")' -e 'io.write("b")' '-eio.write("c")' -e 'print("d")'
rc_is 0; out_is "abcd"; err_empty
end

begin "-e error: exit 1, message and traceback"
run "$BIN" -e 'print("one")' -e 'error("two")' -e 'print("three")'
rc_is 1; out_is "one"
err_first_is "cceauto: (command line):1: two"
err_has "stack traceback:"
end

begin "-l requires a module found through LUA_PATH, into a global"
run env LUA_PATH="$T/mods/?.lua" "$BIN" -l mymod -e 'print(mymod.name)'
rc_is 0; out_is "mymod"; err_empty
end

begin "-l g=mod sets the global g"
run env LUA_PATH="$T/mods/?.lua" "$BIN" -l g=mymod -e 'print(g.name, mymod)'
rc_is 0; out_is $'mymod\tnil'; err_empty
end

begin "-l of a missing module: exit 1"
run env LUA_PATH="$T/mods/?.lua" "$BIN" -l nosuchmod -e 'print("not reached")'
rc_is 1; out_empty
err_first_is "cceauto: module 'nosuchmod' not found:"
end

begin "-W turns warnings on"
run "$BIN" -W -e 'warn("careful")'
rc_is 0; out_empty; err_is "Lua warning: careful"
end

begin "warnings are off without -W"
run "$BIN" -e 'warn("careful")'
rc_is 0; out_empty; err_empty
end

# ------------------------------------------------------------ stdin

begin "- runs stdin with the rest as arguments"
run_stdin 'print("stdin:", ...) print(arg[0], arg[1], arg[2], #arg, arg[-1])' "$BIN" -e 'x = 1' - a b
rc_is 0; err_empty
out_is $'stdin:\ta\tb\n-\ta\tb\t2\tx = 1'
end

begin "stdin that is not a tty runs as a script without -"
run_stdin 'print("from stdin", arg[0] ~= nil)' "$BIN"
rc_is 0; err_empty; out_is $'from stdin\ttrue'
end

begin "an error in stdin: exit 1, chunk name stdin"
run_stdin 'error("in stdin")' "$BIN" -
rc_is 1; out_empty
err_first_is "cceauto: stdin:1: in stdin"
err_has "stack traceback:"
end

begin "-- - runs a file named -"
printf 'print("the file named dash")\n' >"$T/-"
run "$BIN" -- -
rc_is 0; err_empty; out_is "the file named dash"
rm -f "$T/-"
end

begin "-i after a script with stdin not a tty: script, then the banner and prompt"
run "$BIN" -i "$T/args.lua" a
rc_is 0; err_empty
out_has "#arg=1"
out_has "cceauto "
out_has "> "
end

# ------------------------------------------------------------ arg

begin "arg: script, its arguments, negative indices, #arg and ..."
run "$BIN" -E -W args.lua x "y z"
rc_is 0; err_empty
out_is "$BIN|-E|-W|args.lua|x|y z|"$'\n'$'#arg=2\tn=2\tx\ty z'
end

begin "arg: -- before the script"
run "$BIN" -- args.lua -v
rc_is 0; err_empty
out_is "nil|$BIN|--|args.lua|-v|"$'\n'$'#arg=1\tn=1\t-v'
end

begin "arg: a script without arguments"
run "$BIN" args.lua
rc_is 0; err_empty
out_is "nil|nil|$BIN|args.lua|"$'\n'$'#arg=0\tn=0'
end

begin "arg: without a script, as lua builds it"
run "$BIN" -e 'print(arg[0], arg[1], arg[2], #arg, arg[-1])'
rc_is 0; err_empty
out_is "$BIN"$'\t-e\tprint(arg[0], arg[1], arg[2], #arg, arg[-1])\t2\tnil'
end

# ------------------------------------------------------------ exit status

begin "os.exit(3)"
run "$BIN" -e 'io.write("x") os.exit(3)'
rc_is 3; out_is "x"; err_empty
end

begin "os.exit(true)"
run "$BIN" -e 'os.exit(true)' -e 'print("not reached")'
rc_is 0; out_empty; err_empty
end

begin "os.exit(false)"
run "$BIN" -e 'os.exit(false)'
rc_is 1; out_empty; err_empty
end

begin "os.exit(5, true) closes the state (to-be-closed variables run)"
run "$BIN" -e 'local x <close> = setmetatable({}, {__close = function() print("closed") end}) os.exit(5, true)'
rc_is 5; out_is "closed"; err_empty
end

begin "a script that ends normally: exit 0"
run "$BIN" -e 'print("fine")'
rc_is 0; out_is "fine"; err_empty
end

# ------------------------------------------------------------ errors

begin "uncaught string error: exit 1, prefix, file:line, traceback"
run "$BIN" err.lua
rc_is 1; out_is "before"
err_first_is "cceauto: err.lua:2: kaboom"
err_has "stack traceback:"
err_has "err.lua:3: in main chunk"
end

begin "uncaught table error with __tostring prints through it"
run "$BIN" tableerr.lua
rc_is 1; out_empty
err_first_is "cceauto: X: boom"
err_has "stack traceback:"
end

begin "uncaught table error without __tostring"
run "$BIN" -e 'error({})'
rc_is 1; out_empty
err_first_is "cceauto: (error object is a table value)"
err_has "stack traceback:"
end

begin "a __tostring that fails does not break the report"
run "$BIN" -e 'error(setmetatable({}, {__tostring = function() error("oops") end}))'
rc_is 1; out_empty
err_first_is "cceauto: (error object is a table value)"
err_lacks "error in error handling"
end

begin "syntax error in the script: exit 1, prefix and file:line"
run "$BIN" bad.lua
rc_is 1; out_empty
err_first_is "cceauto: bad.lua:2: unexpected symbol near '='"
end

# ------------------------------------------------------------ script lookup

begin "missing script: exit 1, where it looked, nothing run"
run env CCEAUTO_PATH="$T/empty" "$BIN" -e 'print("not run")' nosuchscript a
rc_is 1; out_empty
err_is "cceauto: cannot open nosuchscript (looked in: ., $T/empty, $SDIR)"
end

begin "missing script given with a directory: exit 1"
run "$BIN" ./nosuchscript.lua
rc_is 1; out_empty
err_first_is "cceauto: cannot open ./nosuchscript.lua: No such file or directory"
end

begin "lookup through \$CCEAUTO_PATH from another cwd; arg[0] is the path found"
run_in "$T/elsewhere" env CCEAUTO_PATH=":$T/empty::$T/lib:" "$BIN" fleet.lua a b
rc_is 0; err_empty
out_is "arg0=$T/lib/fleet.lua"$'\tlib\ta\tb'
end

begin "lookup adds .lua to the name"
run_in "$T/elsewhere" env CCEAUTO_PATH="$T/lib" "$BIN" fleet x
rc_is 0; err_empty
out_is "arg0=$T/lib/fleet.lua"$'\tlib\tx'
end

begin "a file in the cwd wins over \$CCEAUTO_PATH"
printf 'print("local one", arg[0])\n' >"$T/elsewhere/fleet.lua"
run_in "$T/elsewhere" env CCEAUTO_PATH="$T/lib" "$BIN" fleet.lua
rc_is 0; err_empty; out_is $'local one\tfleet.lua'
rm -f "$T/elsewhere/fleet.lua"
end

begin "-E ignores \$CCEAUTO_PATH"
run_in "$T/elsewhere" env CCEAUTO_PATH="$T/lib" "$BIN" -E fleet.lua
rc_is 1; out_empty
err_is "cceauto: cannot open fleet.lua (looked in: ., $SDIR)"
end

begin "a script requires a module beside it (run from another cwd)"
run_in "$T/elsewhere" "$BIN" "$T/proj/main.lua"
rc_is 0; err_empty
out_has "hello from beside"
out_has $'\t'"$T/proj/?.lua;$SDIR/?.lua;$SDIR/?/init.lua;"
end

begin "package.path starts with the scripts directory"
run "$BIN" -e 'print(package.path)'
rc_is 0; err_empty
[[ $OUT == "$SDIR/?.lua;$SDIR/?/init.lua;"* ]] || PROBLEMS+=("package.path $(show "$OUT") does not start with $SDIR")
end

begin "a copy outside the build directory uses the installed scripts directory"
cp "$BIN" "$T/bin/cceauto"
CSDIR=$(scripts_dir_of "$T/bin/cceauto")
run "$T/bin/cceauto" -e 'print(package.path)'
rc_is 0; err_empty
[[ $CSDIR == */cceauto/scripts ]] || PROBLEMS+=("the copy's scripts directory is $(show "$CSDIR")")
[[ $OUT == "$CSDIR/?.lua;$CSDIR/?/init.lua;"* ]] || PROBLEMS+=("package.path $(show "$OUT") does not start with $CSDIR")
end

# ------------------------------------------------------------ built-in modules

begin "cjson is preloaded, cce found first on package.cpath; neither loaded at start"
run "$BIN" -e 'print(package.loaded.cce, package.loaded.cjson, type(package.preload.cjson), type(package.preload["cjson.safe"]),
  package.searchpath("cce", package.cpath) ~= nil, package.cpath:match("^[^;]*/%?%.so;") ~= nil)'
rc_is 0; err_empty; out_is $'nil\tnil\tfunction\tfunction\ttrue\ttrue'
end

begin "require \"cce\" loads the module beside cceauto, whatever LUA_CPATH says"
run env LUA_CPATH=/nonexistent/?.so "$BIN" -e 'local cce = require "cce" print(type(cce.client), type(cce.fetch), cce.VERSION)'
rc_is 0; err_empty; out_matches $'^function\tfunction\t[0-9]+\\.[0-9]+\\.[0-9]+$'
end

begin "require \"cjson\" encodes and decodes"
run "$BIN" -e 'local cjson = require "cjson"
local t = cjson.decode([[{"a":[1,2,3],"b":{"c":"d"},"e":true}]])
print(#t.a, t.b.c, t.e, cjson.encode({ list = { 1, 2 } }), cjson.encode("x\"y"))'
rc_is 0; err_empty; out_is $'3\td\ttrue\t{"list":[1,2]}\t"x\\"y"'
end

begin "require \"cjson\" raises on bad input; cjson.safe returns nil, err"
run "$BIN" -e 'print(pcall(require("cjson").decode, "{bad")) print(require("cjson.safe").decode("{bad"))'
rc_is 0; err_empty
out_matches $'^false\t.+\nnil\t.+$'
end

begin "require \"cce\" works with no path set-up"
run env LUA_PATH=/nonexistent/?.lua LUA_CPATH=/nonexistent/?.so "$BIN" -e 'print(type(require "cce"))'
rc_is 0; err_empty; out_is "table"
end

# ------------------------------------------------------------ environment

begin "LUA_INIT runs before -e"
run env LUA_INIT='print("init")' "$BIN" -e 'print("e")'
rc_is 0; err_empty; out_is $'init\ne'
end

begin "LUA_INIT_5_4 takes precedence over LUA_INIT"
run env LUA_INIT='print("init")' LUA_INIT_5_4='print("init54")' "$BIN" -e 'print("e")'
rc_is 0; err_empty; out_is $'init54\ne'
end

begin "LUA_INIT=@file runs the file"
run env LUA_INIT="@$T/init.lua" "$BIN" -e 'print("e")'
rc_is 0; err_empty; out_is $'init file\ne'
end

begin "an error in LUA_INIT: exit 1, nothing else runs"
run env LUA_INIT='error("bad init")' "$BIN" -e 'print("e")'
rc_is 1; out_empty
err_first_is "cceauto: LUA_INIT:1: bad init"
end

begin "-E ignores LUA_INIT"
run env LUA_INIT='print("init")' LUA_INIT_5_4='print("init54")' "$BIN" -E -e 'print("e")'
rc_is 0; err_empty; out_is "e"
end

begin "-E ignores LUA_PATH"
run env LUA_PATH="$T/mods/?.lua" "$BIN" -E -l mymod -e 'print("not reached")'
rc_is 1; out_empty
err_first_is "cceauto: module 'mymod' not found:"
err_lacks "$T/mods"
end

# ------------------------------------------------------- working directory

# Nothing is loaded from the directory cceauto runs in (Lua's defaults end with
# ./?.lua, ./?/init.lua and ./?.so; the Lua path is searched before the C path, so
# ./lfs.lua used to win over an installed lfs.so).
mkdir -p "$T/cwd/bar"
cat >"$T/cwd/lfs.lua" <<EOF
io.open("$T/cwd/.lfs-ran", "w"):close()
print("LFS RAN")
return {}
EOF
printf 'print("FOO RAN") return {}\n' >"$T/cwd/foo.lua"
printf 'print("BAR RAN") return {}\n' >"$T/cwd/bar/init.lua"
printf 'not a shared object\n' >"$T/cwd/baz.so"
CWD_PROBE='for _, m in ipairs{ "lfs", "foo", "bar", "baz" } do
  local ok = pcall(require, m)
  print(m, ok and "loaded" or "absent")
end
print(package.path:find("./?", 1, true), package.cpath:find("./?", 1, true))'

for lp in unset "/nowhere/?.lua;;"; do
    begin "no module from the working directory (LUA_PATH $lp)"
    if [ "$lp" = unset ]; then
        run_in "$T/cwd" "$BIN" -e "$CWD_PROBE"
    else
        run_in "$T/cwd" env LUA_PATH="$lp" LUA_CPATH="/nowhere/?.so;;" "$BIN" -e "$CWD_PROBE"
    fi
    rc_is 0
    [[ $OUT != *RAN* ]] || PROBLEMS+=("a module in the working directory ran: $(show "$OUT")")
    [ ! -e "$T/cwd/.lfs-ran" ] || PROBLEMS+=("./lfs.lua ran")
    out_has $'foo\tabsent'
    out_has $'bar\tabsent'
    out_has $'baz\tabsent'
    out_has $'nil\tnil'
    end
done

begin "a shipped script run from a directory with an lfs.lua does not run it"
run_in "$T/cwd" "$BIN" fetch.lua --help
[[ $OUT$ERR != *RAN* ]] || PROBLEMS+=("a module in the working directory ran")
[ ! -e "$T/cwd/.lfs-ran" ] || PROBLEMS+=("./lfs.lua ran")
end

begin "an explicit LUA_PATH with ./?.lua is honoured"
run_in "$T/cwd" env LUA_PATH="./?.lua" "$BIN" -e 'require "foo"'
rc_is 0; out_is "FOO RAN"
end

begin "a script's own directory is still on package.path"
mkdir -p "$T/sdir"
printf 'return { v = 42 }\n' >"$T/sdir/besidemod.lua"
printf 'print(require("besidemod").v)\n' >"$T/sdir/main.lua"
run_in "$T/cwd" "$BIN" "$T/sdir/main.lua"
rc_is 0; out_is "42"
end

# ------------------------------------------------------------ SIGINT

if env --default-signal=INT true 2>/dev/null; then
    begin "SIGINT stops a running script: exit 130, interrupted!, no traceback"
    cat >"$T/spin.lua" <<EOF
io.open("$T/.started", "w"):close()
local n = 0
while true do n = n + 1 end
EOF
    rm -f "$T/.started"
    # A background job of a non-interactive shell ignores SIGINT: give it back.
    env --default-signal=INT "$BIN" "$T/spin.lua" >"$T/.out" 2>"$T/.err" </dev/null &
    pid=$!
    for _ in $(seq 100); do [ -e "$T/.started" ] && break; sleep 0.05; done
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    RC=$?
    OUT=$(<"$T/.out")
    ERR=$(<"$T/.err")
    rc_is 130; out_empty
    err_is "cceauto: interrupted!"
    end

    begin "an interrupt caught by pcall, then another error: exit 1"
    cat >"$T/spin2.lua" <<EOF
local ok, e = pcall(function()
    io.open("$T/.started2", "w"):close()
    while true do end
end)
print(ok, e)
error("something else")
EOF
    env --default-signal=INT "$BIN" "$T/spin2.lua" >"$T/.out" 2>"$T/.err" </dev/null &
    pid=$!
    for _ in $(seq 100); do [ -e "$T/.started2" ] && break; sleep 0.05; done
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    RC=$?
    OUT=$(<"$T/.out")
    ERR=$(<"$T/.err")
    # Where the interrupt lands (the loop, or the line before it) may add a position.
    rc_is 1; out_matches $'^false\t([^\n]*spin2\.lua:[0-9]+: )?interrupted!$'
    err_first_is "cceauto: $T/spin2.lua:6: something else"
    end
else
    skip "SIGINT" "env --default-signal is not available"
fi

# ------------------------------------------------------------ REPL

if command -v script >/dev/null 2>&1 && script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    begin "REPL on a terminal: prompts, return first, multi-line, errors without traceback"
    printf '%s\n' 'x = 5' 'x' '=x + 1' 'function f()' 'return 7' 'end' 'f(), "a"' 'error("boom")' \
        'error(setmetatable({}, {__tostring = function() return "T!" end}))' 'y = 1 +' '2' 'y' >"$T/.in"
    OUT=$(script -qec "$BIN" /dev/null <"$T/.in" 2>"$T/.err" | tr -d '\r')
    RC=$?
    # The terminal echoes the input as one block when it arrives before the REPL turns
    # echo off (a loaded machine): that block is the terminal's, not the REPL's.
    IN=$(<"$T/.in")
    OUT=${OUT/"$IN"$'\n'/}
    ERR=$(<"$T/.err")
    rc_is 0; err_empty
    out_matches "cceauto [0-9]+\.[0-9]+\.[0-9]+ \(Lua 5\.4"
    out_has "> "
    out_has ">> "
    out_has $'> > 5\n> 6\n'        # 'x = 5' prints nothing; 'x' and '=x + 1' are expressions
    out_has $'> >> >> > 7\ta\n'    # a function over three lines, then two results
    out_has $'> stdin:1: boom\n'
    out_has $'> T!\n'
    out_has $'> >> > 3\n'          # an incomplete expression continues
    [[ $OUT != *"stack traceback"* ]] || PROBLEMS+=("the REPL printed a traceback")
    [[ $OUT != *"cceauto: stdin"* ]] || PROBLEMS+=("the REPL prefixed an error")
    end
else
    skip "REPL" "script(1) is not available"
fi

[ "$skipped" -eq 0 ] || echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
