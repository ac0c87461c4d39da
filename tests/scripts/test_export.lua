-- export.lua: Argo CD and Flux Secrets and kubeconfig files, checked field by field and used.
-- luacheck: globals TestExport
local lu = require "luaunit"
local cjson = require "cjson"
local cce = require "cce"
local sl = require "scriptlib"

local env = sl.start{ "--projects", "2", "--clusters", "6" }
env:use_password()

-- The YAML documents of a text, as JSON values (PyYAML reads them as any YAML reader would).
local function yaml_docs(text)
  local path = env:path("docs.yaml")
  sl.write(path, text)
  local code, out = sl.sh(("/usr/bin/python3 -c %s %s"):format(sl.quote(
    "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"), sl.quote(path)))
  assert(code == 0, out)
  return cjson.decode(out)
end

local function ls(dir)
  local p = io.popen("ls " .. sl.quote(dir))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

-- kubectl reaches the simulator's API server with this kubeconfig text.
local function works(text)
  local path = env:path("kc.yaml")
  sl.write(path, text)
  local code, out = env:kubectl(path, { "get", "--raw", "/version" })
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, '"gitVersion": "v1.28.3"')
end

-- A kubeconfig made of exactly an Argo CD tlsClientConfig's fields, as Argo CD builds its client.
local function argocd_kubeconfig(server, tls)
  local cluster = ("server: %q"):format(server)
  if tls.caData then cluster = cluster .. ", certificate-authority-data: " .. tls.caData end
  if tls.insecure then cluster = cluster .. ", insecure-skip-tls-verify: true" end
  return ([[
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {%s}}]
users: [{name: u, user: {client-certificate-data: %s, client-key-data: %s}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
]]):format(cluster, tls.certData, tls.keyData)
end

local AVAILABLE = 6 * 2 -- the 6 clusters of each of the 2 projects are all Available

TestExport = {}

function TestExport:test_argocd_files()
  local dir = env:path("argocd")
  local code, _, err = env:run("export.lua", { "--format", "argocd", "--out", dir, "--all-projects" })
  lu.assertEquals(code, 0, err)
  local files = ls(dir)
  lu.assertEquals(#files, AVAILABLE)
  lu.assertEquals(sl.mode(dir), "700")
  local renamed = 0
  for _, f in ipairs(files) do
    lu.assertEquals(sl.mode(dir .. "/" .. f), "600")
    lu.assertStrContains(f, ".eu-de") -- names clash across projects: <cluster>.<project>
    local docs = yaml_docs(sl.read(dir .. "/" .. f))
    lu.assertEquals(#docs, 1)
    local s = docs[1]
    lu.assertEquals(s.apiVersion, "v1")
    lu.assertEquals(s.kind, "Secret")
    lu.assertEquals(s.type, "Opaque")
    lu.assertEquals(s.metadata.namespace, "argocd")
    lu.assertEquals(s.metadata.labels, { ["argocd.argoproj.io/secret-type"] = "cluster" })
    lu.assertStrMatches(s.metadata.name, "[a-z0-9][-a-z0-9.]*[a-z0-9]")
    lu.assertEquals(s.stringData.name .. ".yaml", f)
    -- The entry name made a Kubernetes name: "prod-000.eu-de_p1" -> "prod-000.eu-de-p1".
    lu.assertEquals(s.metadata.name, (s.stringData.name:gsub("_", "-")))
    if s.metadata.name ~= s.stringData.name then renamed = renamed + 1 end
    lu.assertStrMatches(s.stringData.server, "https://127%.0%.0%.[12]:%d+")
    local config = cjson.decode(s.stringData.config)
    local tls = config.tlsClientConfig
    local keys = {}
    for k in pairs(tls) do keys[#keys + 1] = k end
    table.sort(keys)
    lu.assertEquals(keys, { "caData", "certData", "keyData" })
    lu.assertNil(config.bearerToken)
    -- The credentials reach the API server: a kubeconfig made of exactly these fields.
    works(argocd_kubeconfig(s.stringData.server, tls))
  end
  lu.assertEquals(renamed, AVAILABLE / 2) -- the clusters of project eu-de_p1
end

function TestExport:test_argocd_insecure_endpoint()
  -- prod-000 (v1.25, with an EIP) has no verified external endpoint: external-insecure
  -- takes the public one without TLS verification.
  local code, out, err = env:run("export.lua", { "--format", "argocd", "--out", "-", "--all-projects",
                                                 "--endpoint", "external-insecure", "--match", "prod-000" })
  lu.assertEquals(code, 0, err)
  local docs = yaml_docs(out)
  lu.assertEquals(#docs, 2)
  for _, s in ipairs(docs) do
    local tls = cjson.decode(s.stringData.config).tlsClientConfig
    local keys = {}
    for k in pairs(tls) do keys[#keys + 1] = k end
    table.sort(keys)
    lu.assertEquals(keys, { "certData", "insecure", "keyData" })
    lu.assertIs(tls.insecure, true)
    works(argocd_kubeconfig(s.stringData.server, tls))
  end
end

function TestExport:test_kubeconfig_stream()
  local code, out, err = env:run("export.lua", { "--format", "kubeconfig", "--out", "-", "--all-projects",
                                                 "--match", "dev-*" })
  lu.assertEquals(code, 0, err)
  local texts = {}
  for doc in (out:sub(-4) == "---\n" and out or out .. "---\n"):gmatch("(.-\n)%-%-%-\n") do texts[#texts + 1] = doc end
  lu.assertEquals(#texts, 4) -- dev-002 and dev-005 of both projects
  lu.assertEquals(#yaml_docs(out), 4)
  local seen = {}
  for _, text in ipairs(texts) do
    local kc = assert(cce.kubeconfig.parse(text))
    lu.assertEquals(#kc:contexts(), 1)
    seen[#seen + 1] = kc:current_context()
    works(text)
  end
  table.sort(seen)
  lu.assertEquals(seen, { "dev-002.eu-de", "dev-002.eu-de_p1", "dev-005.eu-de", "dev-005.eu-de_p1" })
end

function TestExport:test_failed_cluster_gets_no_document()
  env.sim:reset()
  local victim = env:fleet()["staging-004"] -- of project eu-de
  env.sim:fault{ route = "clustercert", cluster = victim.id, kind = "403", count = 1000 }
  local dir = env:path("failed")
  local code, _, err = env:run("export.lua", { "--format", "kubeconfig", "--out", dir, "--all-projects" })
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "staging-004: ")
  lu.assertStrContains(err, "403")
  local files = ls(dir)
  lu.assertEquals(#files, AVAILABLE - 1)
  lu.assertEquals(sl.set(files)["staging-004.eu-de.yaml"], nil)
  lu.assertTrue(sl.set(files)["staging-004.eu-de_p1.yaml"])
  local out
  code, out, err = env:run("export.lua", { "--format", "flux", "--out", "-", "--all-projects" })
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "staging-004: ")
  local docs = yaml_docs(out)
  lu.assertEquals(#docs, AVAILABLE - 1)
  for _, s in ipairs(docs) do lu.assertNotEquals(s.metadata.name, "staging-004.eu-de") end
  env.sim:reset()
end

function TestExport:test_files_replaced_atomically()
  local dir = env:path("replace")
  os.execute("mkdir -m 755 " .. sl.quote(dir))
  local old = dir .. "/prod-000.eu-de.yaml"
  sl.write(old, "old\n")
  os.execute("chmod 644 " .. sl.quote(old))
  local code, _, err = env:run("export.lua", { "--format", "kubeconfig", "--out", dir, "--all-projects",
                                               "--match", "prod-000" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(ls(dir), { "prod-000.eu-de.yaml", "prod-000.eu-de_p1.yaml" }) -- no temporary left
  lu.assertEquals(sl.mode(old), "600")
  works(sl.read(old))
end

function TestExport:test_control_characters_never_in_file_names()
  env.sim:reset()
  -- The simulator's ctl-name appends terminal control sequences to the first cluster's name.
  env.sim:fault{ route = "clusters", kind = "ctl-name" }
  local dir = env:path("ctl")
  local code, _, err = env:run("export.lua", { "--format", "argocd", "--out", dir, "--project", "eu-de" })
  lu.assertEquals(code, 1, err)
  lu.assertStrContains(err, "cannot use the name as a file name")
  lu.assertNotStrContains(err, "\27")
  local files = ls(dir)
  lu.assertEquals(#files, AVAILABLE / 2 - 1)
  for _, f in ipairs(files) do lu.assertStrMatches(f, "[-a-z0-9.]+%.yaml") end
  env.sim:reset()
end

function TestExport:test_flux_stream()
  local code, out, err = env:run("export.lua", { "--format", "flux", "--out", "-", "--all-projects",
                                                 "--namespace", "gitops" })
  lu.assertEquals(code, 0, err)
  local docs = yaml_docs(out)
  lu.assertEquals(#docs, AVAILABLE)
  local names = {}
  for _, s in ipairs(docs) do
    lu.assertEquals(s.apiVersion, "v1")
    lu.assertEquals(s.kind, "Secret")
    lu.assertEquals(s.type, "Opaque")
    lu.assertEquals(s.metadata.namespace, "gitops")
    lu.assertNil(s.metadata.labels)
    lu.assertNil(names[s.metadata.name], "one Secret per cluster")
    names[s.metadata.name] = true
    local keys = {}
    for k in pairs(s.stringData) do keys[#keys + 1] = k end
    lu.assertEquals(keys, { "value" })
    local kc = assert(cce.kubeconfig.parse(s.stringData.value))
    lu.assertEquals(#kc:contexts(), 1)
    lu.assertEquals(kc:current_context(), kc:contexts()[1].name)
    lu.assertNotNil(kc:cert(kc:contexts()[1].user))
    lu.assertEquals(s.metadata.name, (kc:current_context():gsub("_", "-")))
    works(s.stringData.value)
  end
end

function TestExport:test_kubeconfig_files_with_name_template()
  local dir = env:path("kc")
  local code, _, err = env:run("export.lua", { "--format", "kubeconfig", "--out", dir, "--all-projects",
                                               "--name", "{project}-{cluster}", "--match", "prod-*" })
  lu.assertEquals(code, 0, err)
  local files = ls(dir)
  lu.assertEquals(files, { "eu-de-prod-000.yaml", "eu-de-prod-003.yaml", "eu-de_p1-prod-000.yaml",
                           "eu-de_p1-prod-003.yaml" })
  for _, f in ipairs(files) do
    lu.assertEquals(sl.mode(dir .. "/" .. f), "600")
    local text = sl.read(dir .. "/" .. f)
    local kc = assert(cce.kubeconfig.parse(text))
    lu.assertEquals(kc:current_context() .. ".yaml", f)
    works(text)
  end
end

function TestExport:test_usage_errors()
  local code, _, err = env:run("export.lua", { "--out", "-" })
  lu.assertEquals(code, 2)
  lu.assertStrContains(err, "--format")
  code, _, err = env:run("export.lua", { "--format", "helm", "--out", "-" })
  lu.assertEquals(code, 2)
  lu.assertStrContains(err, "'helm' is not one of: argocd, flux, kubeconfig")
  code, _, err = env:run("export.lua", { "--format", "argocd", "--out", "-", "--namespace", "Bad_NS" })
  lu.assertEquals(code, 2)
  lu.assertStrContains(err, "not a valid namespace")
end

local rc = lu.LuaUnit.run()
env:stop()
os.exit(rc)
