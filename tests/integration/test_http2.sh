#!/usr/bin/env bash
# cce.fetch multiplexes over HTTP/2 when the server offers it: many requests, one
# connection.  nghttpd (Debian's nghttp2-server) serves a clustercert answer as a
# static file, which it also does for POST.
set -u
. "$(dirname "$0")/lib.sh"
NGHTTPD=$(command -v nghttpd || echo /usr/sbin/nghttpd)
[ -x "$NGHTTPD" ] || { echo "nghttpd not found (Debian package nghttp2-server)"; exit 1; }
root=$WORK/root/api/v3/projects/p1/clusters/c1
mkdir -p "$root"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1" -days 2 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
# A real client certificate and key: answers are checked before they are taken.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=user -days 2 \
  -keyout "$WORK/ckey.pem" -out "$WORK/ccert.pem" 2>/dev/null
echo '{"kind":"Config","apiVersion":"v1","clusters":[{"name":"c","cluster":{"server":"https://127.0.0.1:1"}}],
"users":[{"name":"u","user":{"client-certificate-data":"'"$(base64 -w0 "$WORK/ccert.pem")"'",
"client-key-data":"'"$(base64 -w0 "$WORK/ckey.pem")"'"}}],"contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}],
"current-context":"x"}' >"$root/clustercert"
port=$("${CCE_PYTHON:-/usr/bin/python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$NGHTTPD" -a 127.0.0.1 -d "$WORK/root" "$port" "$WORK/key.pem" "$WORK/cert.pem" >"$WORK/nghttpd.log" 2>&1 &
SIM_PID=$!  # lib.sh's cleanup stops it
for _ in $(seq 100); do
  curl -s --http2 --cacert "$WORK/cert.pem" -o /dev/null "https://127.0.0.1:$port/" && break
  sleep 0.05
done
out=$("$CCEAUTO" - "https://127.0.0.1:$port" "$WORK/cert.pem" <<'LUA'
local cce = require "cce"
local c = assert(cce.client{ endpoint = arg[1], project_id = "p1", token = "t", ca_file = arg[2] })
local items = {}
for i = 1, 40 do items[i] = { client = c, id = "c1" } end
local res, st = cce.fetch(items, { concurrency = 8, duration = 3 })
local ok = 0
for _, r in ipairs(res) do if r.kubeconfig and r.kubeconfig:current_context() == "x" then ok = ok + 1 end end
print(ok, st.connections, st.requests)
LUA
)
check "40 answers over HTTP/2" test "$(cut -f1 <<<"$out")" = 40
check "all 40 over one multiplexed connection (concurrency 8): got $(cut -f2 <<<"$out")" test "$(cut -f2 <<<"$out")" = 1
check "40 requests" test "$(cut -f3 <<<"$out")" = 40

# The trace over HTTP/2: curl 7.88 shows request headers as "[name: value]" in its
# info text as well as in the header block; neither may show the token.
TOKEN=h2-SECRET-token-91
trace=$(CCEAUTO_LOG=trace OS_AUTH_TOKEN=$TOKEN "$CCEAUTO" - "https://127.0.0.1:$port" "$WORK/cert.pem" 2>&1 <<'LUA'
local cce = require "cce"
local c = assert(cce.client{ endpoint = arg[1], project_id = "p1", ca_file = arg[2] })
assert(c:clustercert("c1", { duration = 3 }))
local res = cce.fetch({ { client = c, id = "c1" }, { client = c, id = "c1" } }, { duration = 3 })
assert(res[2].kubeconfig)
LUA
)
check "the trace shows HTTP/2" grep -q "HTTP/2" <<<"$trace"
check "the trace shows HTTP/2's header form, redacted" grep -qi '\[x-auth-token: <redacted>\]' <<<"$trace"
check "the trace shows the header block, redacted" grep -qi '^cceauto: trace: > X-Auth-Token: <redacted>' <<<"$trace"
check "no token in the HTTP/2 trace" bash -c '! grep -qi "$1" <<<"$2"' _ "$TOKEN" "$trace"
finish
