-- cceauto.output: tables for people, JSON and CSV for programs, times in ISO 8601.
--
--   local out = require "cceauto.output"
--   local columns = { { "cluster", "CLUSTER" }, { "expires", "EXPIRES" } }
--   io.write(out.table(rows, columns))            -- aligned columns, nil shown as "-"
--   io.write(out.csv(rows, columns))              -- header + rows, RFC 4180 quoting
--   io.write(out.json(value, { pretty = true }))  -- objects with sorted keys
--   out.iso(os.time())                            -- "2026-12-29T04:41:55Z"
--
-- JSON: a Lua nil cannot sit in a table, so use out.null (cjson.null) for a JSON null;
-- an empty table is an object unless made with out.array().
local cce = require "cce"
local cjson = require "cjson"

local M = {}

M.null = cjson.null

local ARRAY = { __name = "cceauto.output.array" }

-- Marks t (default: a new table) as a JSON array, so that it stays `[]` when empty.
function M.array(t)
  return setmetatable(t or {}, ARRAY)
end

-- Unix seconds as ISO 8601 UTC; nil stays nil.
function M.iso(t)
  if t == nil or t == M.null then return nil end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

-- A value or out.null.
function M.nullable(v)
  if v == nil then return M.null end
  return v
end

-- Text for a terminal -------------------------------------------------------------------

-- Server text (cluster names, error messages) made safe for a terminal: control characters
-- (C0, DEL, C1) and bytes that are not UTF-8 become \n, \r, \t, \xNN or \u00NN, so an answer
-- cannot move the cursor, retitle the window or hide a line. Other text, UTF-8 included,
-- stays. The core's escaper (cce.escape), so scripts and error messages agree.
function M.escape(s)
  s = tostring(s)
  if not s:find("[%c\128-\255]") then return s end
  return cce.escape(s)
end

-- JSON -----------------------------------------------------------------------------------

local function is_array(t)
  if getmetatable(t) == ARRAY then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function encode_string(s)
  -- cjson escapes "/" as "\/": valid, but noisy in URLs and paths. Each "/" in its output
  -- is preceded by exactly the one backslash that escapes it, so dropping that is safe.
  return (cjson.encode(s):gsub("\\/", "/"))
end

local function encode(v, pretty, indent, buf)
  local tv = type(v)
  if v == nil or v == M.null then
    buf[#buf + 1] = "null"
  elseif tv == "string" then
    buf[#buf + 1] = encode_string(v)
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      buf[#buf + 1] = "null"
    elseif math.type(v) == "integer" then
      buf[#buf + 1] = tostring(v)
    else
      buf[#buf + 1] = string.format("%.14g", v)
    end
  elseif tv == "boolean" then
    buf[#buf + 1] = tostring(v)
  elseif tv == "table" then
    local inner = pretty and (indent .. "  ") or ""
    local nl = pretty and ("\n" .. inner) or ""
    local sep = pretty and (",\n" .. inner) or ","
    local close = pretty and ("\n" .. indent) or ""
    if is_array(v) then
      if #v == 0 then buf[#buf + 1] = "[]" return end
      buf[#buf + 1] = "[" .. nl
      for i = 1, #v do
        if i > 1 then buf[#buf + 1] = sep end
        encode(v[i], pretty, inner, buf)
      end
      buf[#buf + 1] = close .. "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      if #keys == 0 then buf[#buf + 1] = "{}" return end
      table.sort(keys)
      buf[#buf + 1] = "{" .. nl
      for i, k in ipairs(keys) do
        if i > 1 then buf[#buf + 1] = sep end
        buf[#buf + 1] = encode_string(k) .. (pretty and ": " or ":")
        local val = v[k]
        if val == nil then val = v[tonumber(k)] end
        encode(val, pretty, inner, buf)
      end
      buf[#buf + 1] = close .. "}"
    end
  else
    error("cannot encode a " .. tv .. " as JSON")
  end
end

-- JSON text of v plus a newline. opts.pretty: indented by two spaces.
function M.json(v, opts)
  local buf = {}
  encode(v, opts and opts.pretty, "", buf)
  buf[#buf + 1] = "\n"
  return table.concat(buf)
end

-- Tables and CSV -------------------------------------------------------------------------

-- columns: array of { key, title [, format] }; format(value, row) gives the cell text.
local function cell(row, col)
  local v = row[col[1]]
  if col[3] then v = col[3](v, row) end
  if v == nil or v == M.null then return nil end
  if type(v) == "table" then
    if #v == 0 then return nil end
    v = table.concat(v, ",")
  end
  return tostring(v)
end

local function width(s)
  return utf8.len(s) or #s
end

-- An aligned text table with a header line; empty cells show as "-", control characters
-- escaped (M.escape).
function M.table(rows, columns)
  local cells, widths = {}, {}
  for c, col in ipairs(columns) do widths[c] = width(col[2]) end
  for r, row in ipairs(rows) do
    cells[r] = {}
    for c, col in ipairs(columns) do
      local s = M.escape(cell(row, col) or "-")
      cells[r][c] = s
      if width(s) > widths[c] then widths[c] = width(s) end
    end
  end
  local lines = {}
  local function line(values)
    local parts = {}
    for c, s in ipairs(values) do
      parts[c] = c < #values and (s .. string.rep(" ", widths[c] - width(s))) or s
    end
    lines[#lines + 1] = table.concat(parts, "   ")
  end
  local head = {}
  for c, col in ipairs(columns) do head[c] = col[2] end
  line(head)
  for r = 1, #rows do line(cells[r]) end
  return table.concat(lines, "\n") .. "\n"
end

local function csv_field(s)
  if s == nil then return "" end
  if s:find('[,"\r\n]') or s:match("^%s") or s:match("%s$") then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

-- CSV (RFC 4180 quoting, LF line ends) with a header of the column keys; nil is empty.
function M.csv(rows, columns)
  local lines, head = {}, {}
  for c, col in ipairs(columns) do head[c] = csv_field(col[1]) end
  lines[1] = table.concat(head, ",")
  for _, row in ipairs(rows) do
    local fields = {}
    for c, col in ipairs(columns) do fields[c] = csv_field(cell(row, col)) end
    lines[#lines + 1] = table.concat(fields, ",")
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
