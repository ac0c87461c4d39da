/*
 * lcce_kubeconfig.c - cce.Kubeconfig: userdata over a core cce_kubeconfig.
 *
 * tostring(kc) is a one-line summary, never the document: a kubeconfig holds
 * private keys, and tostring is what ends up in logs and error messages.
 * Use kc:to_yaml() / kc:to_json() to get the text.
 */
#include <stdlib.h>

#include "lcce_internal.h"

typedef struct lkc {
    cce_kubeconfig *kc; /* NULL once closed */
} lkc;

void lcce_kubeconfig_push(lua_State *L, cce_kubeconfig *kc)
{
    lkc *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->kc = kc;
    luaL_setmetatable(L, LCCE_KUBECONFIG_MT);
}

cce_kubeconfig *lcce_kubeconfig_check(lua_State *L, int idx)
{
    lkc *u = luaL_checkudata(L, idx, LCCE_KUBECONFIG_MT);
    if (!u->kc)
        luaL_error(L, "attempt to use a closed cce.Kubeconfig");
    return u->kc;
}

static int l_close(lua_State *L)
{
    lkc *u = luaL_checkudata(L, 1, LCCE_KUBECONFIG_MT);
    cce_kubeconfig_free(u->kc);
    u->kc = NULL;
    return 0;
}

static int push_text(lua_State *L, int rc, char *s, size_t n, cce_error *err)
{
    if (rc < 0)
        return lcce_push_error(L, err);
    lua_pushlstring(L, s, n);
    free(s);
    return 1;
}

static int l_to_yaml(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    char *s = NULL;
    size_t n = 0;
    cce_error err = {0};
    int rc = cce_kubeconfig_to_yaml(kc, &s, &n, &err);
    return push_text(L, rc, s, n, &err);
}

static int l_to_json(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    int pretty = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    char *s = NULL;
    size_t n = 0;
    cce_error err = {0};
    int rc = cce_kubeconfig_to_json(kc, pretty, &s, &n, &err);
    return push_text(L, rc, s, n, &err);
}

/* An array of plain tables: the entry's inner mapping plus its `name`. */
static int push_section(lua_State *L, enum cce_kc_section s)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    size_t n = cce_kubeconfig_count(kc, s);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        char *j = cce_kubeconfig_entry_json(kc, s, i);
        lcce_push_json_text(L, j);
        free(j);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
        }
        lua_pushstring(L, cce_kubeconfig_name(kc, s, i));
        lua_setfield(L, -2, "name");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_clusters(lua_State *L) { return push_section(L, CCE_KC_CLUSTERS); }
static int l_users(lua_State *L) { return push_section(L, CCE_KC_USERS); }
static int l_contexts(lua_State *L) { return push_section(L, CCE_KC_CONTEXTS); }

static int l_current_context(lua_State *L)
{
    const char *cur = cce_kubeconfig_current_context(lcce_kubeconfig_check(L, 1));
    if (cur)
        lua_pushstring(L, cur);
    else
        lua_pushnil(L);
    return 1;
}

static int l_tostring(lua_State *L)
{
    lkc *u = luaL_checkudata(L, 1, LCCE_KUBECONFIG_MT);
    if (!u->kc) {
        lua_pushliteral(L, "cce.Kubeconfig (closed)");
        return 1;
    }
    const char *cur = cce_kubeconfig_current_context(u->kc);
    lua_pushfstring(L, "cce.Kubeconfig (%d clusters, %d users, %d contexts, current-context %s)",
                    (int)cce_kubeconfig_count(u->kc, CCE_KC_CLUSTERS), (int)cce_kubeconfig_count(u->kc, CCE_KC_USERS),
                    (int)cce_kubeconfig_count(u->kc, CCE_KC_CONTEXTS), cur ? cur : "unset");
    return 1;
}

static int l_parse(lua_State *L)
{
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    const char *source = luaL_optstring(L, 2, "<string>");
    cce_error err = {0};
    cce_kubeconfig *kc = cce_kubeconfig_parse(text, n, source, &err);
    if (!kc)
        return lcce_push_error(L, &err);
    lcce_kubeconfig_push(L, kc);
    return 1;
}

static int l_new(lua_State *L)
{
    cce_kubeconfig *kc = cce_kubeconfig_new();
    if (!kc)
        return luaL_error(L, "out of memory");
    lcce_kubeconfig_push(L, kc);
    return 1;
}

void lcce_kubeconfig_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"to_yaml", l_to_yaml},   {"to_json", l_to_json},
        {"clusters", l_clusters}, {"users", l_users},
        {"contexts", l_contexts}, {"current_context", l_current_context},
        {"close", l_close},       {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL},
    };
    lcce_new_class(L, LCCE_KUBECONFIG_MT, methods, meta);
    static const luaL_Reg fns[] = {{"parse", l_parse}, {"new", l_new}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "kubeconfig");
}
