-- The client against the simulator: listing, reading, certificates, the Kubeconfig object.
local lu = require "luaunit"
local cce = require "cce"
local cjson = require "cjson"
local simctl = require "simctl"

local sim = simctl.start{ "--clusters", "12" }

TestClient = {}

function TestClient:setUp() sim:reset() end

function TestClient:test_clusters_shapes()
  local c = sim:client()
  local list = assert(c:clusters())
  lu.assertEquals(#list, 12)
  local by = {}
  for _, cl in ipairs(list) do by[cl.name] = cl end
  -- i = 0: OTC endpoints object with an EIP
  local a = by["prod-000"]
  lu.assertNotNil(a)
  lu.assertStrMatches(a.id, "^[%x%-]+$")
  lu.assertEquals(a.phase, "Available")
  lu.assertEquals(a.version, "v1.25.6-r0")
  lu.assertEquals(a.type, "VirtualMachine")
  lu.assertEquals(a.flavor, "cce.s1.small")
  lu.assertStrContains(a.endpoints.internal, "https://127.0.0.1:")
  lu.assertStrContains(a.endpoints.external, "https://127.0.0.2:")
  lu.assertEquals(a.raw.metadata.labels.env, "prod")
  lu.assertEquals(type(a.raw.status.endpoints), "table")
  lu.assertIs(a.client, c)
  -- i = 2: no EIP
  lu.assertNil(by["dev-002"].endpoints.external)
  lu.assertNotNil(by["dev-002"].endpoints.internal)
  -- i = 3: the Huawei array shape, with an EIP
  local h = by["prod-003"]
  lu.assertEquals(#h.raw.status.endpoints, 2)
  lu.assertStrContains(h.endpoints.internal, "https://127.0.0.1:")
  lu.assertStrContains(h.endpoints.external, "https://127.0.0.2:")
  -- phases
  lu.assertEquals(by["staging-007"].phase, "Unavailable")
  lu.assertEquals(by["prod-009"].phase, "Creating")
  lu.assertEquals(sim:stats().requests.clusters, 1)
end

function TestClient:test_cluster_by_id()
  local c = sim:client()
  local list = assert(c:clusters())
  local one = assert(c:cluster(list[5].id))
  lu.assertEquals(one.id, list[5].id)
  lu.assertEquals(one.name, list[5].name)
  lu.assertEquals(sim:stats().requests.cluster, 1)
end

function TestClient:test_clustercert_eip()
  local c = sim:client()
  local by = sim:cluster_by_name()
  local kc = assert(c:clustercert(by["prod-000"].id, { duration = 30 }))
  lu.assertEquals(getmetatable(kc).__name, "cce.Kubeconfig")
  lu.assertEquals(kc:current_context(), "external")
  local names = {}
  for _, ctx in ipairs(kc:contexts()) do names[#names + 1] = ctx.name; lu.assertEquals(ctx.user, "user") end
  table.sort(names)
  lu.assertEquals(names, { "external", "internal" })
  local clusters = {}
  for _, cl in ipairs(kc:clusters()) do clusters[cl.name] = cl end
  lu.assertStrContains(clusters.internalCluster.server, "https://127.0.0.1:")
  lu.assertNotNil(clusters.internalCluster["certificate-authority-data"])
  lu.assertTrue(clusters.externalCluster["insecure-skip-tls-verify"])
  local users = kc:users()
  lu.assertEquals(#users, 1)
  lu.assertEquals(users[1].name, "user")
  lu.assertNotNil(users[1]["client-certificate-data"])
  lu.assertNotNil(users[1]["client-key-data"])
  -- text forms
  local yaml = kc:to_yaml()
  lu.assertStrContains(yaml, "apiVersion: v1\nclusters:\n- cluster:\n")
  lu.assertStrContains(yaml, "current-context: external\n")
  local doc = cjson.decode(kc:to_json())
  lu.assertEquals(doc.kind, "Config")
  lu.assertEquals(#doc.contexts, 2)
  -- tostring never shows the document (it holds a private key)
  local s = tostring(kc)
  lu.assertStrContains(s, "cce.Kubeconfig (2 clusters, 1 users, 2 contexts, current-context external)")
  lu.assertNotStrContains(s, "client-key-data")
  lu.assertEquals(sim:stats().requests.clustercert, 1)
end

function TestClient:test_clustercert_variants()
  local c = sim:client()
  local by = sim:cluster_by_name()
  -- no EIP: internal only
  local kc = assert(c:clustercert(by["dev-002"].id, { duration = 1 }))
  lu.assertEquals(kc:current_context(), "internal")
  lu.assertEquals(#kc:contexts(), 1)
  -- a version >= 1.27 with an EIP adds externalTLSVerify
  kc = assert(c:clustercert(by["staging-001"].id, { duration = -1 }))
  local names = {}
  for _, ctx in ipairs(kc:contexts()) do names[ctx.name] = true end
  lu.assertTrue(names.externalTLSVerify)
  lu.assertNil(names["customSAN-0"])
  -- i%5==4 adds customSAN-0
  kc = assert(c:clustercert(by["staging-004"].id, { duration = 3 }))
  names = {}
  for _, ctx in ipairs(kc:contexts()) do names[ctx.name] = true end
  lu.assertTrue(names["customSAN-0"])
  -- the simulator's quirk (i%7==6 with an EIP) is fixed on the way in
  kc = assert(c:clustercert(by["prod-006"].id, { duration = 5 }))
  for _, cl in ipairs(kc:clusters()) do
    if cl.name == "externalCluster" then
      lu.assertNotNil(cl["certificate-authority-data"])
      lu.assertNil(cl["insecure-skip-tls-verify"])
    end
  end
  -- default duration
  lu.assertNotNil(c:clustercert(by["prod-000"].id))
  lu.assertEquals(sim:stats().requests.clustercert, 5)
end

function TestClient:test_close_and_gc()
  local c = sim:client()
  do
    local kc <close> = assert(c:clustercert(sim:cluster_by_name()["prod-000"].id, { duration = 2 }))
    lu.assertEquals(kc:current_context(), "external")
    kc:close()
    kc:close() -- idempotent
    lu.assertErrorMsgContains("closed cce.Kubeconfig", function() return kc:contexts() end)
  end
  c:close()
  c:close()
  lu.assertErrorMsgContains("closed cce.Client", function() return c:clusters() end)
  lu.assertEquals(tostring(c), "cce.Client (closed)")
  collectgarbage()
end

function TestClient:test_programming_errors_raise()
  lu.assertErrorMsgContains("unknown option 'tokne'", cce.client, sim:opts{ tokne = "x" })
  lu.assertErrorMsgContains("option 'timeout' must be a number", cce.client, sim:opts{ timeout = "soon" })
  lu.assertErrorMsgContains("option 'retries'", cce.client, sim:opts{ retries = 1.5 })
  lu.assertErrorMsgContains("option 'insecure' must be a boolean", cce.client, sim:opts{ insecure = 1 })
  local c = sim:client()
  lu.assertErrorMsgContains("bad argument #1 to 'clustercert' (string expected, got table)",
    function() return c:clustercert({}) end)
  lu.assertErrorMsgContains("duration must be an integer", c.clustercert, c, "abc", { duration = "7" })
  lu.assertErrorMsgContains("cce.Client expected", c.clusters, {})
end

function TestClient:test_log_level_option()
  -- names in any case, or digits counted from error as CCEAUTO_LOG reads them
  for _, lv in ipairs{ "error", "warn", "warning", "info", "debug", "trace", "ERROR", 0, 4, "3" } do
    assert(cce.client(sim:opts{ log_level = lv })):close()
  end
  for _, lv in ipairs{ "loud", 5, -1, true, 1.5 } do
    lu.assertErrorMsgContains("option 'log_level' must be error, warn, info, debug or trace", cce.client,
      sim:opts{ log_level = lv })
  end
  lu.assertErrorMsgContains("option 'max_response' must be an integer from 1024", cce.client, sim:opts{ max_response = 10 })
  lu.assertErrorMsgContains("option 'backoff' must be between 0 and 86400 seconds", cce.client, sim:opts{ backoff = -1 })
end

function TestClient:test_config_errors_return_nil_err()
  local c, err = cce.client{ endpoint = sim.info.endpoint, token = "t" }
  lu.assertNil(c)
  lu.assertEquals(err.code, "CONFIG")
  lu.assertStrContains(tostring(err), "CONFIG: no project: set project_id or project_name")
  c, err = cce.client{ project_id = "p", token = "t", endpoint = "http://127.0.0.1:1" }
  lu.assertNil(c)
  lu.assertStrContains(err.message, "not an https:// URL")
end

function TestClient:test_environment_defaults()
  -- A child cceauto with only the environment set: OS_* and CCE_ENDPOINT.
  local env = string.format("OS_PROJECT_ID=%s OS_AUTH_TOKEN=%s CCE_ENDPOINT=%s OS_CACERT=%s OS_REGION_NAME=eu-nl",
    simctl.quote(sim.info.project_id), simctl.quote(sim.info.token), simctl.quote(sim.info.endpoint),
    simctl.quote(sim.info.ca_file))
  local code, out = simctl.run(env .. " " .. simctl.quote(os.getenv("CCEAUTO")) ..
    [[ -e 'local c = assert(require("cce").client()); local i = c:info(); print(#assert(c:clusters()), i.region, i.endpoint)']])
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "12\teu-nl\t" .. sim.info.endpoint)
  -- a region alone gives the OTC host
  code, out = simctl.run([[OS_PROJECT_ID=p OS_AUTH_TOKEN=t OS_REGION_NAME=eu-de CCE_ENDPOINT= ]] ..
    simctl.quote(os.getenv("CCEAUTO")) .. [[ -e 'print(require("cce").client():info().endpoint)']])
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "https://cce.eu-de.otc.t-systems.com")
end

function TestClient:test_parse_kubeconfig_text()
  local kc = assert(cce.kubeconfig.parse(
    "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context:\n    cluster: c\n    user: u\n"))
  lu.assertEquals(kc:current_context(), "a")
  lu.assertEquals(kc:contexts()[1].cluster, "c")
  local bad, err = cce.kubeconfig.parse("a: b: c\n", "cfg.yaml")
  lu.assertNil(bad)
  lu.assertEquals(err.code, "PARSE")
  lu.assertStrContains(err.message, "cfg.yaml:1:")
  local empty = assert(cce.kubeconfig.new())
  lu.assertEquals(#empty:contexts(), 0)
  lu.assertNil(empty:current_context())
end

local rc = lu.LuaUnit.run("-v")
sim:stop()
os.exit(rc)
