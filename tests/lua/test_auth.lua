-- Logging in as OTC users do: IAM password (+ MFA), the token cache, AK/SK signing,
-- project names, c:projects(), c:derive{}, cce.list(), and secrets kept out of every output.
local lu = require "luaunit"
local cce = require "cce"
local simctl = require "simctl"

local sim = simctl.start{ "--projects", "2", "--clusters", "6" }
local mfa = simctl.start{ "--mfa", "--passcode", "739155", "--clusters", "2" }
local sts = simctl.start{ "--clusters", "2", "--security-token", "sim-temporary-security-token-0001" }
local I = sim.info
local CCEAUTO = os.getenv("CCEAUTO")
local q = simctl.quote

local function count(s, route)
  return (s or sim):stats().requests[route] or 0
end

-- Options of a password client of `s` (default: sim) with its own cache directory.
local function pw(extra, s)
  local info = (s or sim).info
  local o = { endpoint = info.endpoint, auth_url = info.auth_url, ca_file = info.ca_file, region = "eu-de",
              username = info.user, password = info.password, user_domain_name = info.domain,
              project_id = info.project_id, backoff = 0.01, timeout = 10, interactive = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  for k, v in pairs(o) do if v == false and k ~= "cache" and k ~= "interactive" then o[k] = nil end end
  return o
end

local function aksk(extra, s)
  local info = (s or sim).info
  local o = { endpoint = info.endpoint, auth_url = info.auth_url, ca_file = info.ca_file, region = "eu-de",
              ak = info.ak, sk = info.sk, project_id = info.project_id, backoff = 0.01, timeout = 10 }
  for k, v in pairs(extra or {}) do o[k] = v end
  for k, v in pairs(o) do if v == false and k ~= "cache" and k ~= "interactive" then o[k] = nil end end
  return o
end

local function ls(dir)
  local p = io.popen("ls -A " .. q(dir) .. " 2>/dev/null")
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

local function mode(path)
  local p = io.popen("stat -c %a " .. q(path))
  local m = p:read("l")
  p:close()
  return m
end

TestAuth = {}

function TestAuth:setUp()
  sim:reset()
  self.cache = simctl.tmpdir() .. "/cache"
end

function TestAuth:test_password_login_then_cache()
  local c = assert(cce.client(pw{ cache_dir = self.cache }))
  lu.assertEquals(count(nil, "iam-tokens"), 0, "the login is lazy")
  lu.assertEquals(#assert(c:clusters()), 6)
  lu.assertEquals(count(nil, "iam-tokens"), 1)
  local ai = assert(c:auth_info())
  lu.assertEquals(ai.method, "password")
  lu.assertEquals(ai.project_id, I.project_id)
  lu.assertEquals(ai.project_name, "eu-de")
  lu.assertEquals(ai.user, I.user)
  lu.assertFalse(ai.from_cache)
  lu.assertTrue(ai.expires_at > os.time() + 3600)
  c:close()
  -- The cache: a 0700 directory, one 0600 file whose name says nothing of who or what.
  lu.assertEquals(mode(self.cache), "700")
  local files = ls(self.cache)
  lu.assertEquals(#files, 1)
  lu.assertStrMatches(files[1], "token%-%x+%.json")
  lu.assertEquals(mode(self.cache .. "/" .. files[1]), "600")
  local text = simctl.read_file(self.cache .. "/" .. files[1])
  lu.assertNil(text:find(I.password, 1, true), "the password is never written")
  -- A second client (a second run) makes no IAM request.
  local c2 = assert(cce.client(pw{ cache_dir = self.cache }))
  lu.assertEquals(#assert(c2:clusters()), 6)
  lu.assertEquals(count(nil, "iam-tokens"), 1)
  lu.assertTrue(assert(c2:auth_info()).from_cache)
  -- A cache file others can read is not trusted: a new login, and the file is private again.
  local path = self.cache .. "/" .. files[1]
  os.execute("chmod 644 " .. q(path))
  local c4 = assert(cce.client(pw{ cache_dir = self.cache }))
  assert(c4:clusters())
  lu.assertEquals(count(nil, "iam-tokens"), 2)
  lu.assertFalse(assert(c4:auth_info()).from_cache)
  lu.assertEquals(mode(path), "600")
  -- cache = false: a login of its own, nothing read or written.
  local c3 = assert(cce.client(pw{ cache_dir = self.cache .. "-none", cache = false }))
  assert(c3:clusters())
  lu.assertEquals(count(nil, "iam-tokens"), 3)
  lu.assertEquals(#ls(self.cache .. "-none"), 0)
  lu.assertFalse(assert(c3:auth_info()).from_cache)
end

function TestAuth:test_short_lived_token_is_not_reused()
  sim:config{ token_lifetime = 300 } -- inside the 10-minute margin
  local c = assert(cce.client(pw{ cache_dir = self.cache }))
  assert(c:clusters())
  local c2 = assert(cce.client(pw{ cache_dir = self.cache }))
  assert(c2:clusters())
  sim:config{ token_lifetime = 86400 }
  lu.assertEquals(count(nil, "iam-tokens"), 2)
end

function TestAuth:test_revoked_token_costs_one_login()
  local c = assert(cce.client(pw{ cache_dir = self.cache }))
  assert(c:clusters())
  sim:control("POST", "/_sim/revoke", {})
  -- A fresh client takes the (now revoked) cached token: 401, one login, the request again.
  local c2 = assert(cce.client(pw{ cache_dir = self.cache }))
  local list = assert(c2:clusters())
  lu.assertEquals(#list, 6)
  lu.assertEquals(count(nil, "iam-tokens"), 2)
  lu.assertFalse(assert(c2:auth_info()).from_cache)
  -- In a batch: 20 transfers see the 401 of a revoked token, one login serves them all.
  sim:control("POST", "/_sim/revoke", {})
  local items = {}
  for i = 1, 20 do
    local cl = list[(i - 1) % #list + 1]
    if cl.phase == "Available" then items[#items + 1] = { client = c2, id = cl.id } end
  end
  local res = cce.fetch(items, { concurrency = 8, duration = 1 })
  for _, r in ipairs(res) do lu.assertNil(r.error, r.error and tostring(r.error)) end
  lu.assertEquals(count(nil, "iam-tokens"), 3)
  -- A token refused right after a login is not retried in a loop: one more login at most.
  sim:control("POST", "/_sim/revoke", {})
  sim:fault{ route = "clusters", kind = "401", count = 5 }
  local bad, err = c2:clusters()
  lu.assertNil(bad)
  lu.assertEquals(err.status, 401)
  lu.assertTrue(count(nil, "iam-tokens") <= 4)
end

function TestAuth:test_concurrent_runs_log_in_once()
  local env = table.concat({
    "OS_AUTH_URL=" .. q(I.auth_url), "CCE_ENDPOINT=" .. q(I.endpoint), "OS_CACERT=" .. q(I.ca_file),
    "OS_REGION_NAME=eu-de", "OS_USERNAME=" .. q(I.user), "OS_PASSWORD=" .. q(I.password),
    "OS_USER_DOMAIN_NAME=" .. q(I.domain), "OS_PROJECT_NAME=eu-de_p1", "XDG_CACHE_HOME=" .. q(self.cache),
  }, " ")
  local cmd = ("env -u OS_AUTH_TOKEN -u OS_CLOUD %s %s -e 'assert(require(\"cce\").client():clusters())'"):format(env,
    q(CCEAUTO))
  local jobs = {}
  for i = 1, 6 do jobs[#jobs + 1] = ("(%s >%s/out%d 2>&1; echo $? >%s/rc%d) &"):format(cmd, self.cache, i, self.cache, i) end
  os.execute("mkdir -p " .. q(self.cache))
  os.execute(table.concat(jobs, " ") .. " wait")
  for i = 1, 6 do
    lu.assertEquals(simctl.read_file(self.cache .. "/rc" .. i), "0\n", simctl.read_file(self.cache .. "/out" .. i))
  end
  lu.assertEquals(count(nil, "iam-tokens"), 1, "six runs at once, one login")
  lu.assertEquals(count(nil, "clusters"), 6)
end

function TestAuth:test_wrong_password_names_iam_user_domain_never_the_password()
  local c = assert(cce.client(pw{ password = "not-the-password-xyz", cache = false }))
  local list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.status, 401)
  lu.assertStrContains(err.message, "IAM login")
  lu.assertStrContains(err.message, I.user)
  lu.assertStrContains(err.message, I.domain)
  lu.assertStrContains(err.message, "The username or password is wrong")
  lu.assertNil(err.message:find("not-the-password-xyz", 1, true))
  -- Kept: a second call fails alike without a second login.
  local n = count(nil, "iam-tokens")
  lu.assertNil(c:clusters())
  lu.assertEquals(count(nil, "iam-tokens"), n)
end

function TestAuth:test_broken_iam_answers()
  -- A 503 from IAM is retried like any other; a 200 without a token is a clear error.
  sim:fault{ route = "iam-tokens", kind = "503" }
  local c = assert(cce.client(pw{ cache = false }))
  lu.assertEquals(#assert(c:clusters()), 6)
  lu.assertEquals(count(nil, "iam-tokens"), 2)
  sim:fault{ route = "iam-tokens", kind = "malformed" }
  c = assert(cce.client(pw{ cache = false }))
  local list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.code, "BAD_RESPONSE")
  lu.assertStrContains(err.message, "IAM login of user '" .. I.user .. "'")
  lu.assertStrContains(err.message, "X-Subject-Token")
  sim:fault{ route = "iam-tokens", kind = "html", status = 502, count = 10 }
  c = assert(cce.client(pw{ cache = false, retries = 1 }))
  list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.status, 502)
  lu.assertStrContains(err.message, "IAM login")
end

function TestAuth:test_missing_password_without_terminal_is_config_error()
  local c = assert(cce.client(pw{ cache = false, password = false }))
  local list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.code, "CONFIG")
  lu.assertStrContains(err.message, "no password for user '" .. I.user .. "'")
  lu.assertStrContains(err.message, "OS_PASSWORD")
  lu.assertEquals(count(nil, "iam-tokens"), 0)
end

function TestAuth:test_password_asked_on_a_terminal()
  -- script(1) gives the child a terminal; the password comes from it, without echo.
  if not os.execute("command -v script >/dev/null") then return end
  local env = table.concat({
    "OS_AUTH_URL=" .. q(I.auth_url), "CCE_ENDPOINT=" .. q(I.endpoint), "OS_CACERT=" .. q(I.ca_file),
    "OS_REGION_NAME=eu-de", "OS_USERNAME=" .. q(I.user), "OS_USER_DOMAIN_NAME=" .. q(I.domain),
    "OS_PROJECT_ID=" .. q(I.project_id), "XDG_CACHE_HOME=" .. q(self.cache),
  }, " ")
  local inner = ("env -u OS_AUTH_TOKEN -u OS_PASSWORD -u OS_CLOUD %s %s -e 'print(#assert(require(\"cce\").client():clusters()))'")
    :format(env, q(CCEAUTO))
  local code, out = simctl.run(("(sleep 1; printf '%%s\\n' %s) | script -qec %s /dev/null"):format(q(I.password), q(inner)))
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "IAM password for user '" .. I.user .. "'")
  lu.assertStrContains(out, "6")
  lu.assertNil(out:find(I.password, 1, true), "no echo")
  -- SIGTERM while the prompt waits (a cold cache: the token above is cached): the terminal
  -- echoes again, then the signal acts as it would have (143). Without our handler the
  -- process died with echo off.
  local cold = inner:gsub("XDG_CACHE_HOME=%S+", "XDG_CACHE_HOME=" .. q(self.cache .. "-cold"))
  code, out = simctl.run(("(sleep 5) | script -qec %s /dev/null"):format(
    q(cold .. " </dev/tty & pid=$!; sleep 1; kill -TERM $pid; wait $pid; echo rc=$?; stty -a")))
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "IAM password for user")
  lu.assertStrContains(out, "rc=143")
  lu.assertStrMatches(out, ".*[ ;]echo[ ;].*")
  lu.assertNil(out:find("-echo ", 1, true), out)
end

function TestAuth:test_mfa()
  mfa:reset()
  local MI = mfa.info
  local c = assert(cce.client(pw({ cache = false }, mfa)))
  local list, err = c:clusters()
  lu.assertNil(list)
  lu.assertStrContains(err.message:lower(), "passcode")
  c = assert(cce.client(pw({ cache = false, passcode = MI.passcode }, mfa)))
  list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.code, "CONFIG")
  lu.assertStrContains(err.message, "user_id")
  c = assert(cce.client(pw({ cache = false, passcode = MI.passcode, user_id = MI.user_id }, mfa)))
  lu.assertEquals(#assert(c:clusters()), 2)
  c = assert(cce.client(pw({ cache = false, passcode = "987654", user_id = MI.user_id }, mfa)))
  list, err = c:clusters()
  lu.assertNil(list)
  lu.assertEquals(err.status, 401)
  lu.assertNil(err.message:find("987654", 1, true))
end

function TestAuth:test_project_names_and_listing()
  local c = assert(cce.client(pw{ cache_dir = self.cache, project_id = false, project_name = "eu-de_p1" }))
  lu.assertNil(c:info().project_id)
  local list = assert(c:clusters())
  lu.assertEquals(#list, 6)
  lu.assertEquals(c:info().project_id, I.projects[2].id)
  -- The token is cached under the id too: a client for the same project by id logs in no more.
  local logins = count(nil, "iam-tokens")
  local by_id = assert(cce.client(pw{ cache_dir = self.cache, project_id = I.projects[2].id }))
  assert(by_id:clusters())
  lu.assertEquals(count(nil, "iam-tokens"), logins)
  lu.assertTrue(by_id:auth_info().from_cache)
  local projects = assert(c:projects())
  lu.assertEquals(#projects, 2)
  lu.assertEquals(projects[2].name, "eu-de_p1")
  lu.assertTrue(projects[2].enabled)
  -- Unknown names: a configuration error naming the projects there are.
  local bad = assert(cce.client(pw{ cache = false, project_id = false, project_name = "eu-de_nope" }))
  local l2, err = bad:clusters()
  lu.assertNil(l2)
  lu.assertEquals(err.code, "CONFIG")
  lu.assertStrContains(err.message, "project 'eu-de_nope' not found")
  lu.assertStrContains(err.message, "eu-de_p1")
  local bad2 = assert(cce.client(aksk{ project_id = false, project_name = "eu-de_nope" }))
  l2, err = bad2:clusters()
  lu.assertNil(l2)
  lu.assertEquals(err.code, "CONFIG")
  lu.assertStrContains(err.message, "project 'eu-de_nope' not found")
  -- A client with no project lists projects (domain-scoped login) but cannot call CCE.
  local dom = assert(cce.client(pw{ cache_dir = self.cache, project_id = false }))
  lu.assertEquals(#assert(dom:projects()), 2)
  l2, err = dom:clusters()
  lu.assertNil(l2)
  lu.assertEquals(err.code, "CONFIG")
  lu.assertStrContains(err.message, "no project")
end

function TestAuth:test_derive_and_list_in_one_batch()
  local base = assert(cce.client(pw{ cache_dir = self.cache }))
  local clients = { base }
  for _, p in ipairs(assert(base:projects())) do
    if p.id ~= I.project_id then clients[#clients + 1] = assert(base:derive{ project_id = p.id }) end
  end
  lu.assertEquals(#clients, 2)
  local res, stats = cce.list(clients, { concurrency = 4 })
  lu.assertEquals(#res, 2)
  lu.assertEquals(stats.ok, 2)
  local ids = {}
  for i, r in ipairs(res) do
    lu.assertIs(r.client, clients[i])
    lu.assertEquals(#r.clusters, 6)
    for _, cl in ipairs(r.clusters) do
      lu.assertNil(ids[cl.id], "cluster ids differ across projects")
      ids[cl.id] = true
      lu.assertIs(cl.client, clients[i])
    end
  end
  lu.assertEquals(res[1].clusters[1].name, res[2].clusters[1].name, "names clash across projects")
  lu.assertEquals(count(nil, "iam-tokens"), 2, "one login per project")
  -- A project that fails its listing fails alone.
  local broken = assert(base:derive{ project_name = "eu-de_nope" })
  res = cce.list({ base, broken })
  lu.assertNotNil(res[1].clusters)
  lu.assertEquals(res[2].error.code, "CONFIG")
  -- A client derived for the parent's own project shares its token: no login, also without a cache.
  local nocache = assert(cce.client(pw{ cache = false }))
  assert(nocache:clusters())
  local n = count(nil, "iam-tokens")
  local same = assert(nocache:derive{ project_id = I.project_id })
  assert(same:clusters())
  lu.assertEquals(count(nil, "iam-tokens"), n)
  lu.assertEquals(same:info().project_name, "eu-de")
  -- A token is for one project.
  local tok = assert(cce.client(sim:opts()))
  local d, err = tok:derive{ project_id = I.projects[2].id }
  lu.assertNil(d)
  lu.assertStrContains(err.message, "a token is valid for its own project only")
end

function TestAuth:test_aksk()
  local c = assert(cce.client(aksk()))
  local list = assert(c:clusters())
  local id
  for _, cl in ipairs(list) do if cl.phase == "Available" then id = cl.id break end end
  assert(c:clustercert(id, { duration = 1 }))
  lu.assertEquals(assert(c:auth_info()).method, "aksk")
  lu.assertEquals(#assert(c:projects()), 2)
  lu.assertEquals(count(nil, "iam-tokens"), 0)
  -- Every attempt is signed afresh: a 429 and its retry both pass the gateway.
  sim:fault{ route = "clustercert", kind = "429", retry_after = 1 }
  assert(c:clustercert(id, { duration = 1 }))
  -- A wrong SK: the gateway's own message.
  local bad = assert(cce.client(aksk{ sk = "wrong-secret-key-wrong-secret-key-0000" }))
  local l2, err = bad:clusters()
  lu.assertNil(l2)
  lu.assertEquals(err.code, "APIGW.0301")
  lu.assertStrContains(err.message, "verify aksk signature fail")
  lu.assertNil(err.message:find("wrong-secret-key", 1, true))
  -- Clock skew: the gateway says the date is off, the message points at the clock.
  sim:config{ clock_skew_s = 3600 }
  l2, err = c:clusters()
  sim:config{ clock_skew_s = 0 }
  lu.assertNil(l2)
  lu.assertStrContains(err.message, "system clock")
  -- Temporary keys carry X-Security-Token.
  local s = assert(cce.client(aksk({ security_token = sts.info.security_token }, sts)))
  lu.assertEquals(#assert(s:clusters()), 2)
  local nos = assert(cce.client(aksk({}, sts)))
  lu.assertNil(nos:clusters())
end

function TestAuth:test_precedence()
  -- explicit options > clouds.yaml > OS_*: an explicit token wins over OS_* credentials, and a
  -- password from the environment does not turn a token client into a password one.
  local env = table.concat({
    "OS_AUTH_URL=" .. q(I.auth_url), "CCE_ENDPOINT=" .. q(I.endpoint), "OS_CACERT=" .. q(I.ca_file),
    "OS_REGION_NAME=eu-de", "OS_USERNAME=" .. q(I.user), "OS_PASSWORD=wrong", "OS_USER_DOMAIN_NAME=" .. q(I.domain),
    "OS_PROJECT_ID=" .. q(I.project_id), "XDG_CACHE_HOME=" .. q(self.cache),
  }, " ")
  local code, out = simctl.run(("env -u OS_AUTH_TOKEN -u OS_CLOUD %s %s -e %s"):format(env, q(CCEAUTO), q(
    ([[local c = assert(require("cce").client{ token = %q }); assert(c:clusters()); print(c:auth_info().method)]])
      :format(I.token))))
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "token")
  lu.assertEquals(count(nil, "iam-tokens"), 0)
  -- Within the environment: a token beats AK/SK beats a password.
  code, out = simctl.run(("env -u OS_CLOUD %s OS_AUTH_TOKEN=%s OS_ACCESS_KEY=%s OS_SECRET_KEY=%s %s -e %s"):format(env,
    q(I.token), q(I.ak), q(I.sk), q(CCEAUTO), q([[print(require("cce").client():auth_info().method)]])))
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "token")
  code, out = simctl.run(("env -u OS_CLOUD -u OS_AUTH_TOKEN %s OS_ACCESS_KEY=%s OS_SECRET_KEY=%s %s -e %s"):format(env,
    q(I.ak), q(I.sk), q(CCEAUTO), q([[print(require("cce").client():auth_info().method)]])))
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "aksk")
  -- OS_INSECURE: no CA needed, and a warning says TLS is not verified; without it, the
  -- simulator's certificate is refused.
  local function with_insecure(value)
    return simctl.run(("env -u OS_CLOUD -u OS_CACERT OS_AUTH_TOKEN=%s OS_PROJECT_ID=%s CCE_ENDPOINT=%s OS_INSECURE=%s %s -e %s")
      :format(q(I.token), q(I.project_id), q(I.endpoint), value, q(CCEAUTO),
        q([[assert(require("cce").client():clusters())]])))
  end
  code, out = with_insecure("1")
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "TLS verification is off")
  code, out = with_insecure("0")
  lu.assertNotEquals(code, 0)
  lu.assertStrContains(out, "TLS")
end

-- Every auth path at trace level, in a child process: no secret in stdout or stderr.
function TestAuth:test_no_secret_at_trace()
  local script = simctl.tmpdir() .. "/trace.lua"
  local f = assert(io.open(script, "w"))
  f:write(([[
local cce = require "cce"
local I = { endpoint = %q, auth_url = %q, ca = %q, user = %q, pw = %q, domain = %q, ak = %q, sk = %q }
local base = { endpoint = I.endpoint, auth_url = I.auth_url, ca_file = I.ca, region = "eu-de", log_level = "trace",
  backoff = 0.01 }
local function with(t) local o = {} for k, v in pairs(base) do o[k] = v end for k, v in pairs(t) do o[k] = v end return o end
local c = assert(cce.client(with{ username = I.user, password = I.pw, user_domain_name = I.domain,
  project_name = "eu-de_p1", cache_dir = %q }))
local list = assert(c:clusters())
local id for _, cl in ipairs(list) do if cl.phase == "Available" then id = cl.id break end end
print(assert(c:clustercert(id, { duration = 1 })):to_yaml() and "cert")
print(#assert(c:projects()))
local d = assert(c:derive{ project_name = "eu-de" })
print(#cce.list({ c, d }))
local bad = assert(cce.client(with{ username = I.user, password = I.pw .. "-wrong", user_domain_name = I.domain,
  project_name = "eu-de", cache = false }))
print(select(2, bad:clusters()))
local a = assert(cce.client(with{ ak = I.ak, sk = I.sk, project_name = "eu-de_p1" }))
assert(a:clusters()) assert(a:clustercert(id and list[1].id or id, { duration = 1 }))
print(tostring(c), tostring(a))
for k, v in pairs(c:auth_info()) do print(k, v) end
print(select(2, cce.client(with{ ak = I.ak, sk = "x" .. I.sk, project_name = "eu-de" }):clusters()))
local M = { ca = %q, endpoint = %q, auth_url = %q, user = %q, user_id = %q, pw = %q, domain = %q, passcode = %q }
local m = assert(cce.client(with{ ca_file = M.ca, endpoint = M.endpoint, auth_url = M.auth_url, username = M.user, user_id = M.user_id,
  password = M.pw, user_domain_name = M.domain, passcode = M.passcode, project_name = "eu-de", cache = false }))
assert(m:clusters())
local S = { ca = %q, endpoint = %q, auth_url = %q, ak = %q, sk = %q, st = %q }
local st = assert(cce.client(with{ ca_file = S.ca, endpoint = S.endpoint, auth_url = S.auth_url, ak = S.ak, sk = S.sk,
  security_token = S.st, project_name = "eu-de" }))
assert(st:clusters())
]]):format(I.endpoint, I.auth_url, I.ca_file, I.user, I.password, I.domain, I.ak, I.sk, self.cache,
    mfa.info.ca_file, mfa.info.endpoint, mfa.info.auth_url, mfa.info.user, mfa.info.user_id, mfa.info.password, mfa.info.domain,
    mfa.info.passcode, sts.info.ca_file, sts.info.endpoint, sts.info.auth_url, sts.info.ak, sts.info.sk, sts.info.security_token))
  f:close()
  local code, out = simctl.run(("env -u OS_AUTH_TOKEN -u OS_CLOUD %s %s"):format(q(CCEAUTO), q(script)))
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "cert")
  lu.assertStrContains(out, "X-Auth-Token: <redacted>")
  lu.assertStrContains(out, "Authorization: <redacted>")
  -- the tokens the simulator issued, as the cache holds them
  local secrets = { I.password, I.sk, "x" .. I.sk, mfa.info.passcode, sts.info.security_token }
  for _, name in ipairs(ls(self.cache)) do
    local tok = simctl.read_file(self.cache .. "/" .. name):match('"token": "([^"]+)"')
    if tok then secrets[#secrets + 1] = tok end
    lu.assertNil(name:find(I.user, 1, true))
  end
  lu.assertTrue(#secrets >= 4, "tokens were cached")
  for i, s in ipairs(secrets) do
    local at = out:find(s, 1, true)
    if at then lu.fail(("secret %d (%s...) in the trace: ...%s..."):format(i, s:sub(1, 4), out:sub(at - 60, at - 1))) end
  end
end

local rc = lu.LuaUnit.run()
sim:stop()
mfa:stop()
sts:stop()
os.exit(rc)
