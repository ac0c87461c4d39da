-- luacheck configuration: Lua 5.4, the globals cceauto defines.
std = "lua54"
max_line_length = 140
self = false  -- luaunit test methods take self and rarely use it
files["tests/lua"] = { globals = { "TestClient", "TestErrors", "TestRetries", "TestTLS", "TestKubeconfig", "TestBatch", "TestAuth" } }
