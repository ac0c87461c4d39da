-- Fleets across projects, and the shipped scripts' credential sources, against a simulator
-- with IAM and three projects of 20 clusters whose names are the same in every project:
-- --all-projects, --project, entry names across projects, --name, project and region in
-- the outputs, clouds.yaml + secure.yaml and OS_* variables with a password and with
-- AK/SK, and the configuration and login errors. TestNaming checks the naming rules on
-- their own (no simulator needed).
-- luacheck: globals TestNaming TestProjects TestCredentials TestErrors
local lu = require "luaunit"
local cjson = require "cjson"
local sl = require "scriptlib"

-- The naming rules ------------------------------------------------------------------------

local entries = require "cceauto.entries"
local cli = require "cceauto.cli"

local function cluster(name, id, project, region)
  return { name = name, id = id, project = project, project_id = "id-" .. project, region = region or "eu-de" }
end

TestNaming = {}

function TestNaming:test_default_names()
  local list = {
    cluster("a", "11111111-a", "eu-de"), cluster("a", "22222222-a", "eu-de_p1"),
    cluster("b", "33333333-b", "eu-de"),
    cluster("c", "44444444-c", "eu-de"), cluster("c", "55555555-c", "eu-de"),     -- one project, twice
    cluster("d", "66666666-d", "eu-de_x", "eu-de"), cluster("d", "77777777-d", "eu-de_x", "eu-nl"),
  }
  list[7].project_id = "other-id"                     -- the same project name in two regions
  local names, warnings, notices = entries.assign_names(list)
  lu.assertEquals(names, {
    ["11111111-a"] = "a.eu-de", ["22222222-a"] = "a.eu-de_p1",
    ["33333333-b"] = "b",
    ["44444444-c"] = "c-44444444", ["55555555-c"] = "c-55555555",
    ["66666666-d"] = "d.eu-de_x-66666666", ["77777777-d"] = "d.eu-de_x-77777777",
  })
  lu.assertEquals(#warnings, 1)
  lu.assertStrContains(warnings[1], "2 clusters are named 'c'")
  local text = table.concat(notices, "\n")
  lu.assertStrContains(text, "clusters of 2 projects are named 'a': their new entries are named a.eu-de (project "
    .. "eu-de), a.eu-de_p1 (project eu-de_p1)")
  -- Only about the clusters shown (selected).
  local _, w2, n2 = entries.assign_names(list, nil, { ["33333333-b"] = true })
  lu.assertEquals(#w2, 0)
  lu.assertEquals(#n2, 0)
end

function TestNaming:test_templates()
  lu.assertEquals(cli.template("{project}-{cluster}"), "{project}-{cluster}")
  for _, bad in ipairs{ "{name}", "{cluster", "x-{}", "{Cluster}", "" } do
    local ok, msg = cli.template(bad)
    lu.assertNil(ok, bad)
    lu.assertStrContains(msg, "--name", bad)
  end
  lu.assertStrContains(select(2, cli.template("{name}")), "unknown placeholder '{name}'")
  local list = { cluster("a", "11111111-a", "eu-de"), cluster("a", "22222222-a", "eu-de_p1") }
  local names = entries.assign_names(list, "{region}/{project}/{cluster}/{id}")
  lu.assertEquals(names["11111111-a"], "eu-de/eu-de/a/11111111-a")
  lu.assertNil(entries.template_clash(list, names, "x"))
  names = entries.assign_names(list, "{cluster}")
  local clash = entries.template_clash(list, names, "{cluster}")
  lu.assertStrContains(clash, "cluster a (project eu-de, region eu-de, id 11111111-a)")
  lu.assertStrContains(clash, "cluster a (project eu-de_p1, region eu-de, id 22222222-a)")
  lu.assertStrContains(clash, "the same name 'a'")
  lu.assertTrue(cli.is_project_id("0123456789abcdef0123456789ABCDEF"))
  lu.assertFalse(cli.is_project_id("eu-de_p1"))
  lu.assertFalse(cli.is_project_id("0123456789abcdef0123456789abcdef0"))
end

-- Against the simulator ----------------------------------------------------------------------

-- Besides the three projects with fleets: empty ones of another region or not named after
-- the region, and a disabled one, which --all-projects leaves out.
local env = sl.start{ "--projects", "3", "--clusters", "20", "--extra-project", "eu-nl", "--extra-project", "eu-de-x",
                      "--extra-project", "xeu-de_y", "--disabled-project", "eu-de_off" }
local info = env.sim.info
local AVAILABLE = env:names(function(cl) return cl.phase == "Available" end)
local PROJECTS = {}                                  -- name -> id
for _, p in ipairs(info.projects or {}) do PROJECTS[p.name] = p.id end

-- A fresh token cache per call: each run's logins are counted on their own.
local function fresh(vars)
  vars = vars or {}
  vars.XDG_CACHE_HOME = env:path("cache")
  return vars
end

local function rotate(kc, extra, vars)
  local argv = { "--kubeconfig", kc, "--output", "json", "--quiet" }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return env:json("rotate_all.lua", argv, { env = vars })
end

-- The sorted contexts of a rotate_all JSON report, and a check that every result is
-- `action` and names a distinct context.
local function contexts(res, action)
  local list, seen = {}, {}
  for _, r in ipairs(res.results) do
    lu.assertEquals(r.action, action, r.cluster .. " " .. tostring(r.context))
    lu.assertNil(seen[r.context], "two clusters got context " .. tostring(r.context))
    seen[r.context] = true
    list[#list + 1] = r.context
  end
  table.sort(list)
  return list
end

local function expected(projects, fmt)
  local list = {}
  for _, p in ipairs(projects) do
    for _, n in ipairs(AVAILABLE) do list[#list + 1] = fmt(n, p) end
  end
  table.sort(list)
  return list
end

local function dotted(n, p) return n .. "." .. p end

-- The sorted project names whose clusters the simulator listed since log entry `from`.
local function listed_projects(from)
  local names = {}
  for name, id in pairs(PROJECTS) do names[id] = name end
  local seen, out = {}, {}
  local log = env.sim:stats().log
  for i = from + 1, #log do
    local e = log[i]
    if e.route == "clusters" and e.project and not seen[e.project] then
      seen[e.project] = true
      out[#out + 1] = names[e.project] or e.project
    end
  end
  table.sort(out)
  return out
end

local function log_length() return #env.sim:stats().log end

local function reaches(kc, context)
  local rc, out = env:kubectl(kc, { "--context", context, "get", "--raw", "/version" })
  lu.assertEquals(rc, 0, context .. ": " .. out)
  lu.assertStrContains(out, '"gitVersion"')
end

TestProjects = {}

-- (a) one run over every project of the region: one distinct, working context per
-- Available cluster; a second run keeps them all and asks for nothing.
function TestProjects:test_all_projects()
  lu.assertEquals(#info.projects, 7)
  local vars = fresh(env:os_vars("password"))
  local kc = env:path("all")
  local certs, logins, from = env:count("clustercert"), env:count("iam-tokens"), log_length()
  local res, code, err = rotate(kc, { "--all-projects" }, vars)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(listed_projects(from), { "eu-de", "eu-de_p1", "eu-de_p2" })
  lu.assertEquals(res.summary, { added = 3 * #AVAILABLE, renewed = 0, kept = 0, failed = 0 })
  lu.assertEquals(res.projects_failed, {})
  lu.assertEquals(contexts(res, "added"), expected({ "eu-de", "eu-de_p1", "eu-de_p2" }, dotted))
  lu.assertEquals(env:count("clustercert") - certs, 3 * #AVAILABLE)
  -- one login per project
  lu.assertEquals(env:count("iam-tokens") - logins, 3)
  local ids = {}
  for _, r in ipairs(res.results) do
    lu.assertNil(ids[r.id], "cluster id twice: " .. r.id)
    ids[r.id] = true
    lu.assertEquals(r.context, r.cluster .. "." .. r.project)
    lu.assertEquals(r.region, "eu-de")
  end
  -- every context reaches the API server; its extension names the cluster's project
  local view = env:view(kc)
  lu.assertEquals(#view.contexts, 3 * #AVAILABLE)
  for _, c in ipairs(view.contexts) do
    local ext = c.context.extensions[1].extension
    lu.assertEquals(c.name, ext.cluster_name .. "." .. ext.project_name)
    lu.assertEquals(ext.project_id, PROJECTS[ext.project_name])
    reaches(kc, c.name)
  end
  -- the names' notice (a notice: not with --quiet)
  local code2, _, err2 = env:run("rotate_all.lua", { "--kubeconfig", env:path("notice"), "--all-projects",
                                                     "--dry-run", "--match", "prod-000" }, { env = vars })
  lu.assertEquals(code2, 0, err2)
  lu.assertStrContains(err2, "clusters of 3 projects are named 'prod-000'")
  lu.assertStrContains(err2, "prod-000.eu-de_p2 (project eu-de_p2)")

  -- A second run keeps everything, requests no certificate, and logs in from the cache.
  certs, logins = env:count("clustercert"), env:count("iam-tokens")
  local bytes = sl.read(kc)
  res, code, err = rotate(kc, { "--all-projects" }, vars)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary, { added = 0, renewed = 0, kept = 3 * #AVAILABLE, failed = 0 })
  contexts(res, "kept")
  lu.assertEquals(env:count("clustercert"), certs)
  lu.assertEquals(env:count("iam-tokens"), logins)
  lu.assertEquals(sl.read(kc), bytes)

  -- Entries are found by id whatever the naming rule says now: a run over one project
  -- (where prod-000 would be named plainly) keeps its entries.
  res, code, err = rotate(kc, { "--project", "eu-de_p1" }, vars)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary.kept, #AVAILABLE)
  lu.assertEquals(contexts(res, "kept"), expected({ "eu-de_p1" }, dotted))
end

-- (d) --project twice, by name; a project of one run only; an entry of another project
-- keeps its plain name and the new one gives way.
function TestProjects:test_project_twice()
  local vars = fresh(env:os_vars("password"))
  local kc = env:path("two")
  local res, code, err = rotate(kc, { "--project", "eu-de_p1", "--project", "eu-de_p2" }, vars)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(contexts(res, "added"), expected({ "eu-de_p1", "eu-de_p2" }, dotted))
  for _, r in ipairs(res.results) do lu.assertTrue(r.project == "eu-de_p1" or r.project == "eu-de_p2") end

  -- One project alone gets the plain names; a later run of another project alone does
  -- not take them over: its entries give way as <cluster>.<project>.
  kc = env:path("one-by-one")
  res, code, err = rotate(kc, { "--project", "eu-de_p1", "--match", "prod-00?" }, vars)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(contexts(res, "added"), { "prod-000", "prod-003", "prod-006" })
  res, code, err = rotate(kc, { "--project", "eu-de_p2", "--match", "prod-00?" }, vars)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(contexts(res, "added"), { "prod-000.eu-de_p2", "prod-003.eu-de_p2", "prod-006.eu-de_p2" })
  reaches(kc, "prod-000.eu-de_p2")
  reaches(kc, "prod-000")

  -- 32 hex digits are a project id: the clusters of eu-de_p1, shown by the name the login learnt.
  local list
  list, code, err = env:json("list.lua", { "--project", PROJECTS["eu-de_p1"], "--output", "json", "--match",
                                           "prod-000" }, { env = vars })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(#list, 1)
  lu.assertEquals(list[1].project_id, PROJECTS["eu-de_p1"])
  lu.assertEquals(list[1].project, "eu-de_p1")
end

-- --region, repeatable: --all-projects takes each region's projects.
function TestProjects:test_regions()
  local vars = fresh(env:os_vars("password"))
  local from = log_length()
  local list, code, err = env:json("list.lua", { "--all-projects", "--region", "eu-de", "--region", "eu-nl",
                                                 "--output", "json" }, { env = vars })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(#list, 60)
  lu.assertEquals(listed_projects(from), { "eu-de", "eu-de_p1", "eu-de_p2", "eu-nl" })
  from = log_length()
  list, code, err = env:json("list.lua", { "--all-projects", "--region", "eu-nl", "--output", "json" }, { env = vars })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(list, {})
  lu.assertEquals(listed_projects(from), { "eu-nl" })
end

-- (e) --name
function TestProjects:test_name_template()
  local vars = fresh(env:os_vars("password"))
  local kc = env:path("template")
  local res, code, err = rotate(kc, { "--all-projects", "--name", "{project}-{cluster}", "--match", "dev-*" }, vars)
  lu.assertEquals(code, 0, err)
  local devs = {}
  for _, n in ipairs(AVAILABLE) do if n:match("^dev%-") then devs[#devs + 1] = n end end
  local want = {}
  for _, p in ipairs{ "eu-de", "eu-de_p1", "eu-de_p2" } do
    for _, n in ipairs(devs) do want[#want + 1] = p .. "-" .. n end
  end
  table.sort(want)
  lu.assertEquals(contexts(res, "added"), want)
  reaches(kc, "eu-de_p2-" .. devs[1])

  -- A template that still clashes: exit 2, naming both clusters and the name; nothing written.
  local kc2 = env:path("clash")
  local code2, out, err2 = env:run("rotate_all.lua", { "--kubeconfig", kc2, "--all-projects", "--name", "{region}" },
    { env = vars })
  lu.assertEquals(code2, 2, err2)
  lu.assertEquals(out, "")
  lu.assertStrContains(err2, "the same name 'eu-de'")
  lu.assertStrMatches(err2, ".*cluster [%w-]+ %(project eu%-de[_%w]*, region eu%-de, id [-%x]+%) and cluster "
    .. "[%w-]+ %(project eu%-de[_%w]*, region eu%-de, id [-%x]+%).*")
  lu.assertNil(sl.read(kc2))
  -- --prefix goes before the names of either rule.
  res, code, err = rotate(env:path("prefix"), { "--all-projects", "--match", "prod-000", "--prefix", "otc-" }, vars)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(contexts(res, "added"), { "otc-prod-000.eu-de", "otc-prod-000.eu-de_p1", "otc-prod-000.eu-de_p2" })
  res, code, err = rotate(env:path("prefix2"), { "--project", "eu-de_p1", "--match", "prod-000", "--prefix", "otc-",
                                                 "--name", "{cluster}.{region}" }, vars)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(contexts(res, "added"), { "otc-prod-000.eu-de" })
  -- An unknown placeholder is a usage error too.
  code2, out, err2 = env:run("rotate_all.lua", { "--kubeconfig", kc2, "--name", "{name}" }, { env = vars })
  lu.assertEquals(code2, 2)
  lu.assertEquals(out, "")
  lu.assertStrContains(err2, "unknown placeholder '{name}'")
  -- fetch.lua names alike
  code2, out, err2 = env:run("fetch.lua", { "--all-projects", "--match", devs[1], "--name", "{cluster}@{project}",
                                            "--json", "--quiet" }, { env = vars })
  lu.assertEquals(code2, 0, err2)
  local names = {}
  for _, c in ipairs(cjson.decode(out).contexts) do names[#names + 1] = c.name end
  table.sort(names)
  lu.assertEquals(names, { devs[1] .. "@eu-de", devs[1] .. "@eu-de_p1", devs[1] .. "@eu-de_p2" })
end

-- (f) project and region in rotate_all's JSON (above), list.lua's JSON, table and CSV, and
-- fetch.lua's extension.
function TestProjects:test_outputs()
  local vars = fresh(env:os_vars("password"))
  local list, code, err = env:json("list.lua", { "--all-projects", "--output", "json", "--match", "prod-000" },
    { env = vars })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(#list, 3)
  local got = {}
  for _, c in ipairs(list) do
    lu.assertEquals(c.name, "prod-000")
    lu.assertEquals(c.region, "eu-de")
    lu.assertEquals(c.project_id, PROJECTS[c.project])
    got[#got + 1] = c.project
  end
  table.sort(got)
  lu.assertEquals(got, { "eu-de", "eu-de_p1", "eu-de_p2" })
  local out
  code, out = env:run("list.lua", { "--all-projects", "--match", "prod-000" }, { env = vars })
  lu.assertEquals(code, 0)
  lu.assertStrContains(out, "PROJECT")
  lu.assertStrMatches(out, ".*prod%-000%s+[-%x]+%s+eu%-de_p1%s+eu%-de%s+Available.*")
  code, out = env:run("list.lua", { "--all-projects", "--match", "prod-000", "--output", "csv" }, { env = vars })
  lu.assertEquals(code, 0)
  lu.assertStrContains(out, ",eu-de_p2,eu-de,Available,")
  -- rotate_all's table
  code, out = env:run("rotate_all.lua", { "--kubeconfig", env:path("table"), "--project", "eu-de_p1", "--match",
                                          "prod-000", "--quiet" }, { env = vars })
  lu.assertEquals(code, 0)
  lu.assertStrMatches(out, "CLUSTER%s+PROJECT%s+REGION%s+ACTION.*\nprod%-000%s+eu%-de_p1%s+eu%-de%s+added.*")
  -- fetch.lua: the extension
  code, out, err = env:run("fetch.lua", { "--project", "eu-de_p2", "prod-003", "--json", "--quiet" }, { env = vars })
  lu.assertEquals(code, 0, err)
  local ext = cjson.decode(out).contexts[1].context.extensions[1].extension
  lu.assertEquals(ext.project_name, "eu-de_p2")
  lu.assertEquals(ext.project_id, PROJECTS["eu-de_p2"])
  lu.assertEquals(ext.region, "eu-de")
  -- a name shared across projects names no cluster
  code, out, err = env:run("fetch.lua", { "--all-projects", "prod-003" }, { env = vars })
  lu.assertEquals(code, 2)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "3 clusters are named 'prod-003'")
end

-- (b), (c) credential sources ----------------------------------------------------------------

TestCredentials = {}

-- Runs rotate_all with `vars` into a new kubeconfig: every Available cluster of the
-- region's project added under its plain name, kubectl through one; returns the number of
-- IAM logins the run made and its stdout+stderr.
local function rotate_with(vars, what)
  local kc = env:path("cred")
  local logins = env:count("iam-tokens")
  local code, out, err = env:run("rotate_all.lua", { "--kubeconfig", kc, "--output", "json" }, { env = vars })
  lu.assertEquals(code, 0, what .. ": " .. err)
  local res = cjson.decode(out)
  lu.assertEquals(contexts(res, "added"), AVAILABLE, what)
  for _, r in ipairs(res.results) do lu.assertEquals(r.project, "eu-de", what) end
  reaches(kc, "prod-000")
  local text = out .. err .. sl.read(kc)
  for _, secret in ipairs{ info.password, info.sk } do
    lu.assertNotStrContains(text, secret, what .. ": a secret in the output or the kubeconfig")
  end
  return env:count("iam-tokens") - logins, text
end

-- Variables that leave only clouds.yaml: no token, no project, no endpoint, no CA.
local function cloud_only(name)
  return fresh{ OS_CLOUD = name, OS_AUTH_TOKEN = false, OS_PROJECT_ID = false, CCE_ENDPOINT = false,
                OS_CACERT = false, OS_REGION_NAME = false }
end

function TestCredentials:test_clouds_yaml_password_and_aksk()
  -- The password and the keys only in secure.yaml.
  env:clouds({ pw = env:cloud_entry{ username = info.user, user_domain_name = info.domain },
               keys = env:cloud_entry() },
             { pw = { auth = { password = info.password } },
               keys = { auth = { ak = info.ak, sk = info.sk } } })
  local logins = rotate_with(cloud_only("pw"), "clouds.yaml, password")
  lu.assertEquals(logins, 1)
  -- AK/SK signs every request: no login at all.
  logins = rotate_with(cloud_only("keys"), "clouds.yaml, AK/SK")
  lu.assertEquals(logins, 0)
  -- --cloud names the entry as OS_CLOUD does.
  local vars = cloud_only(false)
  local code, _, err = env:run("list.lua", { "--cloud", "keys", "--match", "prod-000" }, { env = vars })
  lu.assertEquals(code, 0, err)
end

function TestCredentials:test_os_variables_password_and_aksk()
  -- at the trace log level: still no secret on stdout, stderr or in the kubeconfig
  local logins = rotate_with(fresh(env:os_vars("password", nil, { CCEAUTO_LOG = "trace" })), "OS_*, password")
  lu.assertEquals(logins, 1)
  logins = rotate_with(fresh(env:os_vars("aksk", nil, { CCEAUTO_LOG = "trace" })), "OS_*, AK/SK")
  lu.assertEquals(logins, 0)
end

-- (g) errors -------------------------------------------------------------------------------

TestErrors = {}

-- One line on stderr, exit 2, nothing on stdout.
local function config_error(script, argv, vars, what)
  local code, out, err = env:run(script, argv, { env = vars })
  lu.assertEquals(code, 2, what .. ": " .. err)
  lu.assertEquals(out, "", what)
  local _, lines = err:gsub("\n", "")
  lu.assertEquals(lines, 1, what .. ": " .. err)
  return err
end

function TestErrors:test_configuration_errors()
  local dir = env:path("cfg")
  local file = env:clouds({ pw = env:cloud_entry{ username = info.user, user_domain_name = info.domain } },
    { pw = { auth = { password = info.password } } }, dir)
  -- an unknown cloud: names the cloud and the file(s) looked in
  local vars = cloud_only("nosuchcloud")
  vars.OS_CLIENT_CONFIG_FILE = file
  local err = config_error("rotate_all.lua", { "--kubeconfig", env:path("x") }, vars, "unknown cloud")
  lu.assertStrContains(err, "nosuchcloud")
  lu.assertStrContains(err, file)
  err = config_error("list.lua", { "--cloud", "nosuchcloud" }, vars, "unknown --cloud")
  lu.assertStrContains(err, "nosuchcloud")
  -- a clouds.yaml that does not parse: file:line:col
  local bad = dir .. "/bad.yaml"
  sl.write(bad, "clouds:\n  pw:\n    auth: [unclosed\n    region_name: eu-de\n")
  vars = cloud_only("pw")
  vars.OS_CLIENT_CONFIG_FILE = bad
  err = config_error("rotate_all.lua", { "--kubeconfig", env:path("x") }, vars, "bad clouds.yaml")
  lu.assertStrMatches(err, ".*" .. bad:gsub("%p", "%%%0") .. ":%d+:%d+.*")
  -- no credentials at all (no clouds.yaml either: another HOME)
  vars = fresh{ OS_AUTH_TOKEN = false, OS_PROJECT_ID = false, HOME = env:path("emptyhome") }
  err = config_error("rotate_all.lua", { "--kubeconfig", env:path("x") }, vars, "no credentials")
  lu.assertStrContains(err, "OS_")
  config_error("list.lua", {}, vars, "no credentials (list.lua)")
  -- a user without a password and no terminal to ask on: no hang, a configuration error
  vars = fresh(env:os_vars("password", nil, { OS_PASSWORD = false }))
  for _, argv in ipairs{ {}, { "--all-projects" }, { "--project", "eu-de_p1" } } do
    err = config_error("list.lua", argv, vars, "no password " .. table.concat(argv, " "))
    lu.assertStrContains(err, "no password for user '" .. info.user .. "'")
  end
  -- an unknown project name
  err = config_error("list.lua", { "--project", "eu-de_nope" }, fresh(env:os_vars("password")), "unknown project")
  lu.assertStrContains(err, "eu-de_nope")
  -- --project and --all-projects together
  local code, out = env:run("list.lua", { "--project", "eu-de", "--all-projects" }, { env = fresh(env:os_vars("password")) })
  lu.assertEquals(code, 2)
  lu.assertEquals(out, "")
end

function TestErrors:test_wrong_password()
  local wrong = "Wr0ng-pa55word-" .. tostring(os.time())
  local vars = fresh(env:os_vars("password", nil, { OS_PASSWORD = wrong }))
  local code, out, err = env:run("rotate_all.lua", { "--kubeconfig", env:path("wrong"), "--output", "json" },
    { env = vars })
  lu.assertEquals(code, 1, err)
  lu.assertStrContains(err, "IAM")
  lu.assertStrContains(err, info.user)
  lu.assertStrContains(err, info.domain)
  lu.assertNotStrContains(out .. err, wrong)
  local res = cjson.decode(out)
  lu.assertEquals(#res.projects_failed, 1)
  lu.assertEquals(res.projects_failed[1].region, "eu-de")
  lu.assertStrContains(res.projects_failed[1].error.message, "IAM")
  -- --all-projects: the project listing fails the same way
  code, out, err = env:run("list.lua", { "--all-projects" }, { env = vars })
  lu.assertEquals(code, 1, err)
  lu.assertStrContains(err, "IAM")
  lu.assertNotStrContains(out .. err, wrong)
end

-- One cloud whose login fails (its password is wrong): reported, in JSON too; the other
-- cloud's clusters are rotated; exit 1.
function TestErrors:test_one_cloud_fails()
  local wrong = "An0ther-wr0ng-" .. tostring(os.time())
  local dir = env:path("two-clouds")
  local file, secure = env:clouds({ good = env:cloud_entry{ username = info.user, user_domain_name = info.domain },
                                    bad = env:cloud_entry{ username = info.user, user_domain_name = info.domain,
                                                           project_name = "eu-de_p1" } },
    { good = { auth = { password = info.password } }, bad = { auth = { password = wrong } } }, dir)
  local vars = cloud_only(false)
  vars.OS_CLIENT_CONFIG_FILE, vars.OS_CLIENT_SECURE_FILE = file, secure
  local kc = env:path("partial")
  local res, code, err = rotate(kc, { "--cloud", "good", "--cloud", "bad" }, vars)
  lu.assertEquals(code, 1, err)
  lu.assertEquals(#res.projects_failed, 1)
  lu.assertEquals(res.projects_failed[1].cloud, "bad")
  lu.assertStrContains(res.projects_failed[1].error.message, "IAM")
  lu.assertEquals(contexts(res, "added"), AVAILABLE)
  lu.assertStrContains(err, "cloud bad")
  lu.assertNotStrContains(err .. sl.read(kc), wrong)
  reaches(kc, "prod-000")
end

local rc = lu.LuaUnit.run("-v")
env:stop()
os.exit(rc)
