-- rotate_all.lua --prune: the entries of deleted clusters go, nothing else does.
-- luacheck: globals TestPrune
local lu = require "luaunit"
local cjson = require "cjson"
local sl = require "scriptlib"

local env = sl.start{ "--projects", "2", "--clusters", "12" }
local I = env.sim.info
-- Password logins for both projects of the region (--all-projects), as a user would.
env:use_password()

local function listing(project)
  local code, out = sl.sh(("curl -sS --fail --cacert %s -H 'X-Auth-Token: %s' %s"):format(sl.quote(I.ca_file),
    I.token, sl.quote(I.endpoint .. "/api/v3/projects/" .. project .. "/clusters")))
  assert(code == 0, out)
  return cjson.decode(out).items
end

local function available(project)
  local out = {}
  for _, c in ipairs(listing(project)) do
    if c.status.phase == "Available" then out[#out + 1] = c end
  end
  return out
end

-- name -> JSON text of each entry kubectl sees, per section.
local function entries(kc)
  local view = env:view(kc)
  local out = {}
  for _, section in ipairs{ "contexts", "clusters", "users" } do
    for _, e in ipairs(view[section] or {}) do out[section .. "/" .. e.name] = cjson.encode(e) end
  end
  return out
end

-- rotate_all.lua over every project of the region, unless `extra` names --project.
local function rotate(kc, extra)
  local argv = { table.unpack(extra or {}) }
  local targeted = false
  for _, a in ipairs(argv) do targeted = targeted or a == "--project" end
  if not targeted then table.insert(argv, 1, "--all-projects") end
  return env:rotate(kc, argv)
end

TestPrune = {}

function TestPrune:test_prune_exactly_the_deleted()
  local kc = env:path("kubeconfig")
  local res, code, err = rotate(kc)
  lu.assertEquals(code, 0, err)
  -- An entry another tool wrote, and one whose context refers to a cceauto cluster entry.
  local code2, out = env:kubectl(kc, { "config", "set-cluster", "foreign", "--server", "https://127.0.0.9:6443" })
  lu.assertEquals(code2, 0, out)
  env:kubectl(kc, { "config", "set-credentials", "foreign", "--token", "t" })
  env:kubectl(kc, { "config", "set-context", "foreign", "--cluster", "foreign", "--user", "foreign" })
  local p0, p1 = I.projects[1], I.projects[2]
  local gone = { available(p0.id)[1], available(p0.id)[2] }
  -- A context of the user's that shares a deleted cluster's cluster entry keeps that entry.
  local shared_cluster
  for _, r in ipairs(res.results) do
    if r.id == gone[2].metadata.uid then shared_cluster = r.context end
  end
  env:kubectl(kc, { "config", "set-context", "mine", "--cluster", shared_cluster, "--user", "foreign" })
  for _, c in ipairs(gone) do env.sim:control("POST", "/_sim/delete", { cluster = c.metadata.uid }) end
  local before, bytes = entries(kc), sl.read(kc)

  -- --dry-run shows them and removes nothing.
  res, code = rotate(kc, { "--prune", "--dry-run" })
  lu.assertEquals(code, 0)
  local would = {}
  for _, r in ipairs(res.results) do
    if r.action == "would-prune" then would[r.id] = r end
  end
  lu.assertEquals(res.summary["would-prune"], 2)
  lu.assertNotNil(would[gone[1].metadata.uid])
  lu.assertNotNil(would[gone[2].metadata.uid])
  lu.assertEquals(sl.read(kc), bytes)

  -- Selecting only some clusters: existing clusters that were not selected are kept.
  res, code, err = rotate(kc, { "--prune", "--match", "staging-*" })
  lu.assertEquals(code, 0, err)
  lu.assertEquals(res.summary.pruned, 2)
  local after = entries(kc)
  local removed = {}
  for k in pairs(before) do
    if not after[k] then removed[#removed + 1] = k end
  end
  table.sort(removed)
  local expect = {}
  for _, r in ipairs(res.results) do
    if r.action == "pruned" then
      expect[#expect + 1] = "contexts/" .. r.context
      expect[#expect + 1] = "users/" .. r.context
      if r.context ~= shared_cluster then expect[#expect + 1] = "clusters/" .. r.context end
    end
  end
  table.sort(expect)
  lu.assertEquals(removed, expect)
  for k, v in pairs(after) do lu.assertEquals(v, before[k], k .. " changed") end
  lu.assertNotNil(after["contexts/foreign"])
  lu.assertNotNil(after["contexts/mine"])
  lu.assertNotNil(after["clusters/" .. shared_cluster], "still used by the user's context")
  -- Nothing more to prune on the next run.
  res = rotate(kc, { "--prune" })
  lu.assertEquals(res.summary.pruned, 0)

  -- A project whose listing fails prunes nothing; a project this run does not list neither.
  local victim = available(p1.id)[1]
  env.sim:control("POST", "/_sim/delete", { cluster = victim.metadata.uid })
  bytes = sl.read(kc)
  env.sim:fault{ route = "clusters", kind = "500", count = 1 }
  res, code = rotate(kc, { "--prune", "--retries", "0", "--project", p1.name })
  lu.assertEquals(code, 1)
  lu.assertEquals(#res.projects_failed, 1)
  lu.assertEquals(sl.read(kc), bytes)
  res = rotate(kc, { "--prune", "--project", p0.name })
  lu.assertEquals(res.summary.pruned, 0)
  lu.assertEquals(sl.read(kc), bytes)
  -- Listed at last: pruned.
  res = rotate(kc, { "--prune" })
  lu.assertEquals(res.summary.pruned, 1)
  for _, r in ipairs(res.results) do
    if r.action == "pruned" then lu.assertEquals(r.id, victim.metadata.uid) end
  end
end

local rc = lu.LuaUnit.run()
env:stop()
os.exit(rc)
