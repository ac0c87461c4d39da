-- cceauto.verify: never swap in a credential that does not work.
--
--   local verify = require "cceauto.verify"
--   verify.apply(results, { concurrency = 16, progress = false })
--
-- `results` are entries.fetch's: { cluster =, entry = kubeconfig } or { cluster =, error = }.
-- Every entry is checked against its cluster's API server (cce.verify: GET /api with the
-- new client certificate and key from memory, the entry's CA and server, the client's
-- timeouts, no redirects), all at once in one batch. An entry whose check fails is
-- dropped (closed) and its result gets the error ("verify: HTTP 401 Unauthorized: ...",
-- "verify: ... timed out"), so nothing replaces the old entry. Returns the batch's stats.
local cce = require "cce"

local M = {}

function M.apply(results, opts)
  opts = opts or {}
  local items, slots = {}, {}
  for i, r in ipairs(results) do
    if r.entry then
      items[#items + 1] = { client = r.cluster.client, kubeconfig = r.entry }
      slots[#items] = i
    end
  end
  if #items == 0 then return { ok = 0, failed = 0 } end
  local checked, stats = cce.verify(items, { concurrency = opts.concurrency, progress = opts.progress })
  for n, c in ipairs(checked) do
    local r = results[slots[n]]
    if not c.ok then
      r.entry:close()
      r.entry, r.notice = nil, nil
      r.error = c.error
    end
  end
  return stats
end

return M
