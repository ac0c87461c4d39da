/* lcce.h - the cce Lua module (bindings/ is the only place that includes lua.h). */
#ifndef LCCE_H
#define LCCE_H

#include <lua.h>

#define LCCE_CLIENT_MT "cce.Client"
#define LCCE_KUBECONFIG_MT "cce.Kubeconfig"
#define LCCE_ERROR_MT "cce.Error"

/* Opens the module: require "cce". */
int luaopen_cce(lua_State *L);

#endif
