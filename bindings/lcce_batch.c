/*
 * lcce_batch.c - cce.fetch: many certificates in one concurrent batch.
 *
 *   local res, stats = cce.fetch(items, { duration = 30, concurrency = 16, progress = true })
 *
 * The batch runs in C (core/batch.c).  Lua runs only between transfers, in
 * the progress callback, under lua_pcall: an error there stops the batch,
 * everything is cleaned up, and then the error is raised again.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcce_internal.h"

typedef struct fetch_ctx {
    lua_State *L;
    int fn;            /* stack index of a progress function, 0 for none */
    int tty;           /* progress = true and stderr is a terminal */
    int failed_call;   /* the Lua progress function raised: its error is on the stack */
} fetch_ctx;

static void print_progress(const cce_batch_progress *p)
{
    char eta[32] = "";
    if (p->eta_s >= 0 && p->done < p->total)
        snprintf(eta, sizeof eta, ", ~%.0f s left", p->eta_s + 0.5);
    fprintf(stderr, "\r\033[Kcceauto: %zu/%zu done, %zu failed, %zu in flight%s, %.0f/s%s", p->done, p->total, p->failed,
            p->in_flight, p->waiting ? ", retries pending" : "", p->rate, eta);
    if (p->done == p->total)
        fputc('\n', stderr);
    fflush(stderr);
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static int on_progress(void *ud, const cce_batch_progress *p)
{
    fetch_ctx *ctx = ud;
    if (ctx->tty)
        print_progress(p);
    if (!ctx->fn || ctx->failed_call)
        return ctx->failed_call;
    lua_State *L = ctx->L;
    lua_pushvalue(L, ctx->fn);
    lua_createtable(L, 0, 8);
    set_int(L, "total", (lua_Integer)p->total);
    set_int(L, "done", (lua_Integer)p->done);
    set_int(L, "failed", (lua_Integer)p->failed);
    set_int(L, "in_flight", (lua_Integer)p->in_flight);
    set_int(L, "waiting", (lua_Integer)p->waiting);
    set_num(L, "elapsed", p->elapsed_s);
    set_num(L, "rate", p->rate);
    if (p->eta_s >= 0)
        set_num(L, "eta", p->eta_s);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        ctx->failed_call = 1; /* the error stays on the stack */
        return 1;
    }
    int stop = lua_isboolean(L, -1) && !lua_toboolean(L, -1); /* an explicit false stops */
    lua_pop(L, 1);
    return stop;
}

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer def, lua_Integer lo, lua_Integer hi)
{
    lua_getfield(L, t, k);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        if (!lua_isinteger(L, -1) || (v = lua_tointeger(L, -1)) < lo || v > hi)
            luaL_error(L, "cce.fetch: option '%s' must be an integer from %d to %d", k, (int)lo, (int)hi);
    }
    lua_pop(L, 1);
    return v;
}

static int l_fetch(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_newtable(L);
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    /* Durations outside 1..1825 pass through: the core refuses them per item. */
    lua_Integer days = opt_int(L, 2, "duration", 30, -100000, 100000);
    cce_batch_opts o;
    memset(&o, 0, sizeof o);
    o.concurrency = (int)opt_int(L, 2, "concurrency", 16, 1, 1024);
    o.stop_on_signals = 1;
    lua_getfield(L, 2, "deadline");
    if (!lua_isnil(L, -1)) {
        lua_Number d = luaL_checknumber(L, -1);
        if (!(d > 0) || d > 86400)
            return luaL_error(L, "cce.fetch: option 'deadline' must be between 0 and 86400 seconds");
        o.deadline_ms = (long)(d * 1000 + 0.5);
    }
    lua_pop(L, 1);
    fetch_ctx ctx = {L, 0, 0, 0};
    lua_getfield(L, 2, "progress"); /* index 3, stays */
    if (lua_isfunction(L, 3))
        ctx.fn = 3;
    else if (lua_toboolean(L, 3))
        ctx.tty = isatty(STDERR_FILENO);
    if (ctx.fn || ctx.tty) {
        o.progress = on_progress;
        o.progress_ud = &ctx;
    }

    /* Items and copies of their ids live in one userdata, freed by the GC whatever happens. */
    size_t n = (size_t)luaL_len(L, 1), idbytes = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i);
        if (!lua_istable(L, -1))
            return luaL_error(L, "cce.fetch: item %d is not a table", (int)i);
        lua_getfield(L, -1, "id");
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "cce.fetch: item %d has no id (a string)", (int)i);
        idbytes += lua_rawlen(L, -1) + 1;
        lua_pop(L, 2);
    }
    cce_batch_item *items = lua_newuserdatauv(L, n * sizeof *items + idbytes + 1, 0); /* index 4 */
    memset(items, 0, n * sizeof *items);
    char *ids = (char *)(items + n);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        lua_getfield(L, -1, "client");
        if (!luaL_testudata(L, -1, LCCE_CLIENT_MT))
            return luaL_error(L, "cce.fetch: item %d has no client (a cce.Client)", (int)i + 1);
        items[i].client = lcce_client_check(L, -1);
        lua_getfield(L, -2, "id");
        size_t len;
        const char *id = lua_tolstring(L, -1, &len);
        memcpy(ids, id, len + 1);
        items[i].cluster_id = ids;
        ids += len + 1;
        lua_getfield(L, -3, "duration");
        items[i].days = (long)days;
        if (!lua_isnil(L, -1)) {
            if (!lua_isinteger(L, -1))
                return luaL_error(L, "cce.fetch: item %d: duration must be an integer", (int)i + 1);
            lua_Integer d = lua_tointeger(L, -1);
            items[i].days = d > 100000 || d < -100000 ? 0 : (long)d;
        }
        lua_pop(L, 4);
    }

    cce_batch_stats st;
    cce_clustercert_batch(items, n, &o, &st);

    if (ctx.failed_call) {
        for (size_t i = 0; i < n; i++) {
            cce_kubeconfig_free(items[i].kc);
            cce_error_clear(&items[i].err);
        }
        return lua_error(L); /* the progress function's error, still on top */
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        lua_setfield(L, -2, "cluster");
        if (items[i].kc) {
            lcce_kubeconfig_push(L, items[i].kc);
            items[i].kc = NULL;
            lua_setfield(L, -2, "kubeconfig");
        } else {
            lcce_push_error_table(L, &items[i].err);
            lua_setfield(L, -2, "error");
        }
        set_int(L, "attempts", items[i].attempts);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_createtable(L, 0, 8);
    set_int(L, "ok", (lua_Integer)st.ok);
    set_int(L, "failed", (lua_Integer)st.failed);
    set_int(L, "requests", (lua_Integer)st.requests);
    set_int(L, "retries", (lua_Integer)st.retries);
    set_int(L, "connections", (lua_Integer)st.connections);
    set_num(L, "elapsed", st.elapsed_s);
    lua_pushboolean(L, st.interrupted);
    lua_setfield(L, -2, "interrupted");
    return 2;
}

void lcce_batch_open(lua_State *L)
{
    lua_pushcfunction(L, l_fetch);
    lua_setfield(L, -2, "fetch");
}
