/*
 * lcce_kubeconfig.c - cce.Kubeconfig: userdata over a core cce_kubeconfig.
 *
 * tostring(kc) is a one-line summary, never the document: a kubeconfig holds
 * private keys, and tostring is what ends up in logs and error messages.
 * Use kc:to_yaml() / kc:to_json() to get the text.
 *
 * Entries are read straight from the core's jansson tree into Lua tables and
 * go back as JSON text, so the core never holds a Lua string past a call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
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

/* Pushes a new Kubeconfig or nil, err. */
static int push_new(lua_State *L, cce_kubeconfig *kc, cce_error *err)
{
    if (!kc)
        return lcce_push_error(L, err);
    lcce_kubeconfig_push(L, kc);
    return 1;
}

static int push_ok(lua_State *L, int rc, cce_error *err)
{
    if (rc < 0)
        return lcce_push_error(L, err);
    lua_pushboolean(L, 1);
    return 1;
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

/* Pushes an entry as a plain table: its inner mapping plus `name`. */
static void push_entry_json(lua_State *L, json_t *inner, const char *name)
{
    if (json_is_object(inner))
        lcce_push_json(L, inner);
    else
        lua_newtable(L);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
}

static void push_entry(lua_State *L, cce_kubeconfig *kc, enum cce_kc_section s, size_t i)
{
    push_entry_json(L, cce_kubeconfig_entry_inner(kc, s, i), cce_kubeconfig_name(kc, s, i));
}

static int push_section(lua_State *L, enum cce_kc_section s)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    size_t n = cce_kubeconfig_count(kc, s);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_entry(L, kc, s, i);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_clusters(lua_State *L) { return push_section(L, CCE_KC_CLUSTERS); }
static int l_users(lua_State *L) { return push_section(L, CCE_KC_USERS); }
static int l_contexts(lua_State *L) { return push_section(L, CCE_KC_CONTEXTS); }

static int get_one(lua_State *L, enum cce_kc_section s)
{
    static const char *const inner_key[] = {"cluster", "user", "context"};
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    /* By name, not by position: no sweep of removed entries, so O(1) between edits. */
    json_t *e = cce_kubeconfig_entry_named(kc, s, luaL_checkstring(L, 2));
    if (!e)
        lua_pushnil(L);
    else
        push_entry_json(L, json_object_get(e, inner_key[s]), json_string_value(json_object_get(e, "name")));
    return 1;
}

static int l_cluster(lua_State *L) { return get_one(L, CCE_KC_CLUSTERS); }
static int l_user(lua_State *L) { return get_one(L, CCE_KC_USERS); }
static int l_context(lua_State *L) { return get_one(L, CCE_KC_CONTEXTS); }

/* kc:set_X(name, fields): the table's fields become the entry (its `name` field is ignored). */
static int set_one(lua_State *L, enum cce_kc_section s)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    json_t *v = lcce_to_json(L, 3);
    if (json_is_array(v)) {
        json_decref(v);
        return luaL_argerror(L, 3, "expected a table of fields, got a list");
    }
    json_object_del(v, "name");
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!text)
        return luaL_error(L, "out of memory");
    cce_error err = {0};
    int rc = cce_kubeconfig_set_entry(kc, s, name, text, &err);
    free(text);
    return push_ok(L, rc, &err);
}

static int l_set_cluster(lua_State *L) { return set_one(L, CCE_KC_CLUSTERS); }
static int l_set_user(lua_State *L) { return set_one(L, CCE_KC_USERS); }
static int l_set_context(lua_State *L) { return set_one(L, CCE_KC_CONTEXTS); }

static int rename_one(lua_State *L, enum cce_kc_section s)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    cce_error err = {0};
    return push_ok(L, cce_kubeconfig_rename(kc, s, luaL_checkstring(L, 2), luaL_checkstring(L, 3), &err), &err);
}

static int l_rename_cluster(lua_State *L) { return rename_one(L, CCE_KC_CLUSTERS); }
static int l_rename_user(lua_State *L) { return rename_one(L, CCE_KC_USERS); }
static int l_rename_context(lua_State *L) { return rename_one(L, CCE_KC_CONTEXTS); }

static int remove_one(lua_State *L, enum cce_kc_section s)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    cce_error err = {0};
    return push_ok(L, cce_kubeconfig_remove(kc, s, luaL_checkstring(L, 2), &err), &err);
}

static int l_remove_cluster(lua_State *L) { return remove_one(L, CCE_KC_CLUSTERS); }
static int l_remove_user(lua_State *L) { return remove_one(L, CCE_KC_USERS); }

static int opt_bool(lua_State *L, int t, const char *k)
{
    if (lua_isnoneornil(L, t))
        return 0;
    luaL_checktype(L, t, LUA_TTABLE);
    lua_getfield(L, t, k);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static int l_remove_context(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    cce_error err = {0};
    return push_ok(L, cce_kubeconfig_remove_context(kc, name, opt_bool(L, 3, "keep_orphans"), &err), &err);
}

static int l_current_context(lua_State *L)
{
    const char *cur = cce_kubeconfig_current_context(lcce_kubeconfig_check(L, 1));
    if (cur)
        lua_pushstring(L, cur);
    else
        lua_pushnil(L);
    return 1;
}

static int l_use_context(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    cce_error err = {0};
    return push_ok(L, cce_kubeconfig_use_context(kc, luaL_optstring(L, 2, NULL), &err), &err);
}

static int l_select(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    cce_error err = {0};
    return push_new(L, cce_kubeconfig_select(kc, luaL_optstring(L, 2, NULL), &err), &err);
}

static int l_copy(lua_State *L)
{
    cce_kubeconfig *kc = cce_kubeconfig_copy(lcce_kubeconfig_check(L, 1));
    if (!kc)
        return luaL_error(L, "out of memory");
    lcce_kubeconfig_push(L, kc);
    return 1;
}

static int l_merge(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    cce_kubeconfig *other = lcce_kubeconfig_check(L, 2);
    unsigned flags = (opt_bool(L, 3, "replace") ? CCE_MERGE_REPLACE : 0) |
                     (opt_bool(L, 3, "set_current") ? CCE_MERGE_SET_CURRENT : 0);
    cce_merge_stats st;
    cce_error err = {0};
    if (cce_kubeconfig_merge(kc, other, flags, &st, &err) < 0)
        return lcce_push_error(L, &err);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)st.added);
    lua_setfield(L, -2, "added");
    lua_pushinteger(L, (lua_Integer)st.replaced);
    lua_setfield(L, -2, "replaced");
    lua_pushinteger(L, (lua_Integer)st.kept);
    lua_setfield(L, -2, "kept");
    return 1;
}

static int push_cert(lua_State *L, int rc, const cce_cert_info *ci, cce_error *err)
{
    if (rc < 0)
        return lcce_push_error(L, err);
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, (lua_Integer)ci->not_before);
    lua_setfield(L, -2, "not_before");
    lua_pushinteger(L, (lua_Integer)ci->not_after);
    lua_setfield(L, -2, "not_after");
    lua_pushnumber(L, ci->days_left);
    lua_setfield(L, -2, "days_left");
    lua_pushstring(L, ci->subject);
    lua_setfield(L, -2, "subject");
    lua_pushstring(L, ci->issuer);
    lua_setfield(L, -2, "issuer");
    lua_pushstring(L, ci->serial);
    lua_setfield(L, -2, "serial");
    lua_pushstring(L, ci->sha256);
    lua_setfield(L, -2, "sha256");
    return 1;
}

static int l_cert(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    cce_cert_info ci;
    cce_error err = {0};
    int rc = cce_kubeconfig_user_cert(kc, luaL_checkstring(L, 2), &ci, &err);
    return push_cert(L, rc, &ci, &err);
}

static int l_ca(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    cce_cert_info ci;
    cce_error err = {0};
    int rc = cce_kubeconfig_cluster_ca(kc, luaL_checkstring(L, 2), &ci, &err);
    return push_cert(L, rc, &ci, &err);
}

static int l_check(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    char **list = NULL;
    size_t n = cce_kubeconfig_check(kc, &list);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; list && i < n; i++) {
        lua_pushstring(L, list[i] ? list[i] : "");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    cce_strings_free(list);
    return 1;
}

static int l_files(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    lua_newtable(L);
    const char *f;
    for (size_t i = 0; (f = cce_kubeconfig_file(kc, i)) != NULL; i++) {
        lua_pushstring(L, f);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* Collects save notices into the table at notices_index (a stack slot, as an int). */
typedef struct save_notices {
    lua_State *L;
    int table;
} save_notices;

static void collect_notice(void *ud, const char *text)
{
    save_notices *sn = ud;
    lua_pushstring(sn->L, text);
    lua_rawseti(sn->L, sn->table, (lua_Integer)lua_rawlen(sn->L, sn->table) + 1);
}

/*
 * kc:save([path], { lock_timeout = seconds, overwrite = bool, on_notice = function(text) })
 *   -> true, files_written, notices | nil, err
 * notices: what the user should hear of (a file made private, a directory
 * created), a list of strings.  Each goes to on_notice, or without one to
 * stderr as "cceauto: <text>", so no script can leave a permission change
 * unsaid.
 */
static int l_save(lua_State *L)
{
    cce_kubeconfig *kc = lcce_kubeconfig_check(L, 1);
    int opt = 3;
    const char *path = NULL;
    if (lua_type(L, 2) == LUA_TTABLE)
        opt = 2;
    else
        path = luaL_optstring(L, 2, NULL);
    cce_save_opts o = {0, 0, NULL, NULL};
    int handler = 0;
    if (!lua_isnoneornil(L, opt)) {
        luaL_checktype(L, opt, LUA_TTABLE);
        lua_getfield(L, opt, "lock_timeout");
        if (!lua_isnil(L, -1)) /* one rounding for every option of seconds: a tiny value is not "default" */
            o.lock_timeout_ms = lcce_opt_seconds_ms(L, -1, "save", "lock_timeout", 3600);
        lua_pop(L, 1);
        o.overwrite = opt_bool(L, opt, "overwrite");
        lua_getfield(L, opt, "on_notice");
        if (!lua_isnil(L, -1)) {
            luaL_argexpected(L, lua_isfunction(L, -1), opt, "on_notice: a function");
            handler = lua_gettop(L);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_newtable(L);
    save_notices sn = {L, lua_gettop(L)};
    o.notice = collect_notice;
    o.notice_ud = &sn;
    size_t written = 0;
    cce_error err = {0};
    int rc = cce_kubeconfig_save(kc, path, &o, &written, &err);
    /* Told after the save, not from inside it: a handler's error must not break the save's clean-up. */
    lua_Integer nn = (lua_Integer)lua_rawlen(L, sn.table);
    for (lua_Integer k = 1; k <= nn; k++) {
        if (handler) {
            lua_pushvalue(L, handler);
            lua_rawgeti(L, sn.table, k);
            lua_call(L, 1, 0);
        } else {
            lua_rawgeti(L, sn.table, k);
            fprintf(stderr, "cceauto: %s\n", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    if (rc < 0)
        return lcce_push_error(L, &err);
    lua_pushboolean(L, 1);
    lua_pushinteger(L, (lua_Integer)written);
    lua_pushvalue(L, sn.table);
    return 3;
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
    return push_new(L, cce_kubeconfig_parse(text, n, source, &err), &err);
}

static int l_load(lua_State *L)
{
    cce_error err = {0};
    return push_new(L, cce_kubeconfig_load(luaL_optstring(L, 1, NULL), &err), &err);
}

/* cce.mkdir(path [, mode]) -> true | nil, err: mkdir -p, new directories 0700 unless mode says. */
static int l_mkdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer mode = luaL_optinteger(L, 2, 0700);
    luaL_argcheck(L, mode >= 0 && mode <= 07777, 2, "mode must be between 0 and 07777");
    cce_error err = {0};
    return push_ok(L, cce_dir_create(path, (unsigned)mode, &err), &err);
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
        {"to_yaml", l_to_yaml},
        {"to_json", l_to_json},
        {"clusters", l_clusters},
        {"users", l_users},
        {"contexts", l_contexts},
        {"cluster", l_cluster},
        {"user", l_user},
        {"context", l_context},
        {"set_cluster", l_set_cluster},
        {"set_user", l_set_user},
        {"set_context", l_set_context},
        {"rename_cluster", l_rename_cluster},
        {"rename_user", l_rename_user},
        {"rename_context", l_rename_context},
        {"remove_cluster", l_remove_cluster},
        {"remove_user", l_remove_user},
        {"remove_context", l_remove_context},
        {"current_context", l_current_context},
        {"use_context", l_use_context},
        {"select", l_select},
        {"merge", l_merge},
        {"copy", l_copy},
        {"cert", l_cert},
        {"ca", l_ca},
        {"check", l_check},
        {"files", l_files},
        {"save", l_save},
        {"close", l_close},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL},
    };
    lcce_new_class(L, LCCE_KUBECONFIG_MT, methods, meta);
    static const luaL_Reg fns[] = {{"parse", l_parse}, {"load", l_load}, {"new", l_new}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "kubeconfig");
    lua_pushcfunction(L, l_mkdir);
    lua_setfield(L, -2, "mkdir");
}
