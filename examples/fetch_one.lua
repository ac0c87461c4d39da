-- fetch_one.lua: fetch one cluster's kubeconfig and print it as YAML.
--
--   cceauto examples/fetch_one.lua CLUSTER [--duration DAYS] [--json]
--
-- CLUSTER is a cluster name or id.  Configuration comes from the environment:
-- OS_PROJECT_ID, OS_AUTH_TOKEN, OS_REGION_NAME or CCE_ENDPOINT, OS_CACERT.
-- The kubeconfig goes to stdout, messages to stderr:
--   (umask 077; cceauto examples/fetch_one.lua prod-a > prod-a.yaml)
local argparse = require "argparse"
local cce = require "cce"

local parser = argparse("fetch_one.lua", "Fetch one CCE cluster's kubeconfig and print it as YAML.")
parser:argument("cluster", "Cluster name or id.")
parser:option("-d --duration", "Certificate validity in days (1-1825, -1 = maximum).", "30"):convert(math.tointeger)
parser:flag("--json", "Print JSON instead of YAML.")
local args = parser:parse()

local function fail(err, status)
  io.stderr:write("fetch_one.lua: ", tostring(err), "\n")
  os.exit(status or 1)
end

local client, err = cce.client()
if not client then fail(err, 2) end

-- A name needs the list; an id is used as it is.
local id = args.cluster
if not id:match("^%x%x%x%x%x%x%x%x%-") then
  local clusters
  clusters, err = client:clusters()
  if not clusters then fail(err) end
  id = nil
  for _, cl in ipairs(clusters) do
    if cl.name == args.cluster then id = cl.id break end
  end
  if not id then fail("no cluster named '" .. args.cluster .. "' in project " .. client:info().project_id) end
end

local kc
kc, err = client:clustercert(id, { duration = args.duration })
if not kc then fail(err) end
io.write(args.json and kc:to_json() or kc:to_yaml())
