/*
 * lcce_file.c - the file helpers scripts need for caches of their own (the
 * credential plugin's certificate cache):
 *
 *   cce.write_private(path, text) -> true | nil, err   atomic, 0600 (an existing file loses group/other bits)
 *   local lk = cce.lock(path [, timeout_s]) -> lock | nil, err   the "<path>.lock" of the kubeconfig lock
 *   lk:release()                                                 (also __gc, __close)
 *   cce.executable() -> "/usr/bin/cceauto"                       the running program's absolute path
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "lcce_internal.h"

#define LOCK_MT "cce.Lock"

static int l_write_private(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    const char *text = luaL_checklstring(L, 2, &n);
    cce_error err = {0};
    if (cce_file_write_atomic_mode(path, text, n, 0600, 077, NULL, &err) < 0)
        return lcce_push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    long ms = lua_isnoneornil(L, 2) ? 10000 : lcce_opt_seconds_ms(L, 2, "cce.lock", "timeout", 3600);
    cce_lock **u = lua_newuserdatauv(L, sizeof *u, 0);
    *u = NULL;
    luaL_setmetatable(L, LOCK_MT);
    cce_error err = {0};
    if ((*u = cce_lock_acquire(path, ms, &err)) == NULL)
        return lcce_push_error(L, &err);
    return 1;
}

static int l_release(lua_State *L)
{
    cce_lock **u = luaL_checkudata(L, 1, LOCK_MT);
    cce_lock_release(*u);
    *u = NULL;
    return 0;
}

static int l_executable(lua_State *L)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return lcce_push_error_msg(L, "IO", "cannot read /proc/self/exe");
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
}

void lcce_file_open(lua_State *L)
{
    static const luaL_Reg methods[] = {{"release", l_release}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_release}, {"__close", l_release}, {NULL, NULL}};
    lcce_new_class(L, LOCK_MT, methods, meta);
    static const luaL_Reg fns[] = {
        {"write_private", l_write_private}, {"lock", l_lock}, {"executable", l_executable}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
