/*
 * lcce.c - require "cce": the module table, error objects and JSON -> Lua.
 *
 * Operational failures come back as `nil, err` where err is a table
 * {code=, status=, message=, request_id=} with a __tostring; wrong argument
 * types raise.  Nothing here ever exits the process.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "lcce_internal.h"

static int error_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "code");
    lua_getfield(L, 1, "message");
    lua_getfield(L, 1, "request_id");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char *code = lua_tostring(L, 2), *msg = lua_tostring(L, 3), *rid = lua_tostring(L, 4);
    if (code) {
        luaL_addstring(&b, code);
        luaL_addstring(&b, ": ");
    }
    luaL_addstring(&b, msg ? msg : "error");
    if (rid && *rid) {
        luaL_addstring(&b, " (request id ");
        luaL_addstring(&b, rid);
        luaL_addchar(&b, ')');
    }
    luaL_pushresult(&b);
    return 1;
}

static void push_error_table(lua_State *L, const char *kind, const char *code, int status, const char *msg,
                             const char *rid)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "message");
    lua_pushstring(L, rid ? rid : "");
    lua_setfield(L, -2, "request_id");
    if (luaL_newmetatable(L, LCCE_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushstring(L, "cce.Error");
        lua_setfield(L, -2, "__name");
    }
    lua_setmetatable(L, -2);
}

void lcce_push_error_table(lua_State *L, cce_error *err)
{
    const char *kind = cce_error_kind_name(err->kind);
    push_error_table(L, *kind ? kind : "ERROR", err->code[0] ? err->code : "ERROR", err->status, err->message ? err->message : "unknown error",
                     err->request_id);
    cce_error_clear(err);
}

int lcce_push_error(lua_State *L, cce_error *err)
{
    lua_pushnil(L);
    lcce_push_error_table(L, err);
    return 2;
}

int lcce_push_error_msg(lua_State *L, const char *code, const char *msg)
{
    lua_pushnil(L);
    push_error_table(L, code, code, 0, msg, NULL);
    return 2;
}

void lcce_push_json(lua_State *L, json_t *v)
{
    luaL_checkstack(L, 3, "JSON nesting too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            lcce_push_json(L, x);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(v), 0);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            lcce_push_json(L, x);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    default: lua_pushlightuserdata(L, NULL); break; /* cce.null, as cjson.null */
    }
}

void lcce_push_json_text(lua_State *L, const char *text)
{
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    if (!v) {
        lua_pushnil(L);
        return;
    }
    lcce_push_json(L, v);
    json_decref(v);
}

/* Returns NULL with *why set on what JSON cannot hold; never raises, so nothing leaks. */
static json_t *to_json(lua_State *L, int idx, int depth, const char **why)
{
    if (depth > 64) {
        *why = "value nested too deeply (or a cycle) for JSON";
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        return lua_isinteger(L, idx) ? json_integer((json_int_t)lua_tointeger(L, idx)) : json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        json_t *v = json_stringn(s, n);
        if (!v)
            *why = "a string is not valid UTF-8";
        return v;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)
            return json_null();
        break;
    case LUA_TTABLE: {
        idx = lua_absindex(L, idx);
        if (!lua_checkstack(L, 4)) {
            *why = "value nested too deeply for JSON";
            return NULL;
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            lua_pop(L, 1);
        }
        json_t *out;
        if (n > 0 && count == n) {
            out = json_array();
            for (lua_Integer i = 1; out && i <= n; i++) {
                lua_rawgeti(L, idx, i);
                json_t *v = to_json(L, -1, depth + 1, why);
                lua_pop(L, 1);
                if (!v || json_array_append_new(out, v) < 0) {
                    json_decref(out);
                    return NULL;
                }
            }
            return out;
        }
        out = json_object();
        lua_pushnil(L);
        while (out && lua_next(L, idx)) {
            json_t *v = NULL;
            if (lua_type(L, -2) != LUA_TSTRING)
                *why = "a table key that is not a string cannot be a JSON key";
            else
                v = to_json(L, -1, depth + 1, why);
            if (!v || json_object_set_new(out, lua_tostring(L, -2), v) < 0) {
                lua_pop(L, 2);
                json_decref(out);
                return NULL;
            }
            lua_pop(L, 1);
        }
        return out;
    }
    default: break;
    }
    *why = "functions, threads and userdata cannot be stored in a kubeconfig";
    return NULL;
}

json_t *lcce_to_json(lua_State *L, int idx)
{
    const char *why = "out of memory";
    json_t *v = to_json(L, idx, 0, &why);
    if (!v)
        luaL_error(L, "%s", why);
    return v;
}

void lcce_new_class(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static int l_version(lua_State *L)
{
    lua_pushstring(L, cce_version());
    return 1;
}

static int l_build_info(lua_State *L)
{
    lua_pushstring(L, cce_build_info());
    return 1;
}

/* Pushes why a glob is invalid (it is: cce_glob_match said -1). */
static void push_glob_error(lua_State *L, const char *glob)
{
    cce_error err = { 0 };
    cce_glob_valid(glob, &err);
    /* A NUL byte hides the bad set from the NUL-terminated check: name no set then. */
    lua_pushstring(L, err.message ? err.message : "invalid pattern: a set with no member");
    cce_error_clear(&err);
}

/* cce.glob_match(glob, text): true or false; raises on an invalid glob. */
static int lcce_glob_match(lua_State *L)
{
    size_t glen, tlen;
    const char *glob = luaL_checklstring(L, 1, &glen);
    const char *text = luaL_checklstring(L, 2, &tlen);
    int r = cce_glob_match(glob, glen, text, tlen);
    if (r < 0) {
        push_glob_error(L, glob);
        return lua_error(L);
    }
    lua_pushboolean(L, r);
    return 1;
}

/* cce.glob_check(glob): true, or nil and the message. */
static int lcce_glob_check(lua_State *L)
{
    size_t glen;
    const char *glob = luaL_checklstring(L, 1, &glen);
    if (cce_glob_match(glob, glen, "", 0) >= 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    push_glob_error(L, glob);
    return 2;
}

/*
 * cce.escape(text): server text made safe for a terminal, the same escapes as
 * the core's error messages (cce_escape_control: \n \r \t \xHH \u00HH), so
 * scripts and the core never disagree.  A NUL, which ends a C string, is
 * written as \x00 and the text goes on after it.
 */
static int lcce_escape(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t at = 0;;) {
        size_t seg = strlen(s + at); /* up to the next NUL or the end */
        /* An escape is at most 4 bytes for 1 (\xHH) or 6 for 2 (\u00HH). */
        char *out = luaL_prepbuffsize(&b, 4 * seg + 1);
        luaL_addsize(&b, cce_escape_control(s + at, out, 4 * seg + 1));
        at += seg;
        if (at >= len)
            break;
        luaL_addstring(&b, "\\x00");
        at++;
    }
    luaL_pushresult(&b);
    return 1;
}

/* cce.base64_decode(s) -> bytes | nil: base64 as kubectl reads []byte fields (the kubeconfig's *-data). */
static int l_base64_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, n / 4 * 3 + 1);
    size_t len = cce_yaml_base64_decode(s, n, out);
    if (len == (size_t)-1) {
        lua_pushnil(L);
        return 1;
    }
    luaL_pushresultsize(&b, len);
    return 1;
}

int luaopen_cce(lua_State *L)
{
    if (cce_global_init() != 0)
        return luaL_error(L, "cce: libcurl could not be initialised");
    lua_newtable(L);
    lua_pushstring(L, cce_version());
    lua_setfield(L, -2, "VERSION");
    lua_pushcfunction(L, l_version);
    lua_setfield(L, -2, "version");
    lua_pushcfunction(L, l_build_info);
    lua_setfield(L, -2, "build_info");
    lua_pushcfunction(L, lcce_glob_match);
    lua_setfield(L, -2, "glob_match");
    lua_pushcfunction(L, lcce_glob_check);
    lua_setfield(L, -2, "glob_check");
    lua_pushcfunction(L, lcce_escape);
    lua_setfield(L, -2, "escape");
    lua_pushcfunction(L, l_base64_decode);
    lua_setfield(L, -2, "base64_decode");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushinteger(L, CCE_DURATION_MAX);
    lua_setfield(L, -2, "DURATION_MAX");
    lcce_client_open(L);
    lcce_kubeconfig_open(L);
    lcce_batch_open(L);
    lcce_file_open(L);
    return 1;
}
