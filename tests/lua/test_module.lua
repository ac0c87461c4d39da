-- The cce.so module loads into a stock lua5.4 and offers the same API.
local cce = require "cce"
assert(type(cce.client) == "function", "cce.client missing")
assert(type(cce.kubeconfig.parse) == "function", "cce.kubeconfig.parse missing")
assert(cce.VERSION:match("^%d+%.%d+%.%d+$"), "bad VERSION")
local kc = assert(cce.kubeconfig.parse('{"kind":"Config","apiVersion":"v1",' ..
  '"contexts":[{"name":"a","context":{"cluster":"c","user":"u"}}],"current-context":"a"}'))
assert(kc:current_context() == "a")
assert(kc:to_yaml():find("current%-context: a\n"))
local c, err = cce.client{ project_id = "p", token = "t", endpoint = "https://127.0.0.1:1", retries = 0, timeout = 2 }
assert(c, tostring(err))
local list, e2 = c:clusters()
assert(list == nil and e2.code == "CONNECT", tostring(e2))
print("1 passed, 0 failed")
