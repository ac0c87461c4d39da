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

/*
 * Everything a batch holds outside Lua, in one userdata that is also a
 * to-be-closed value: an error anywhere (a bad item, a raising progress
 * function, memory) releases the pinned clients and frees what the items hold,
 * and so does a normal end.  Item fields are read once, with lua_getfield
 * (cluster tables have an __index), and the ids copied: nothing the script's
 * metamethods return later can change what C uses.
 */
#define BATCH_MT "cce.FetchState"

typedef struct fetch_state {
    size_t n, pinned;
    cce_batch_item *items;  /* n */
    char **ids;             /* n copies */
    cce_kubeconfig **copies; /* cce.verify: n copies of the kubeconfigs, so closing one meanwhile is harmless */
    void **pins;            /* `pinned` clients */
} fetch_state;

static int fetch_state_release(lua_State *L)
{
    fetch_state *fs = luaL_checkudata(L, 1, BATCH_MT);
    while (fs->pinned > 0)
        lcce_client_unpin(L, fs->pins[--fs->pinned]);
    for (size_t i = 0; fs->items && i < fs->n; i++) {
        cce_kubeconfig_free(fs->items[i].kc);
        cce_clusters_free(fs->items[i].clusters, fs->items[i].nclusters);
        json_decref(fs->items[i].json);
        cce_error_clear(&fs->items[i].err);
    }
    for (size_t i = 0; fs->ids && i < fs->n; i++)
        free(fs->ids[i]);
    for (size_t i = 0; fs->copies && i < fs->n; i++)
        cce_kubeconfig_free(fs->copies[i]);
    free(fs->copies);
    free(fs->items);
    free(fs->ids);
    free(fs->pins);
    memset(fs, 0, sizeof *fs);
    return 0;
}

#define WHO "cce.fetch"

/* Reads item i (1-based, the table on top) into fs->items[i-1]; raises on a bad one. */
static void read_item(lua_State *L, fetch_state *fs, size_t i, lua_Integer days)
{
    int t = lua_gettop(L);
    cce_batch_item *it = &fs->items[i - 1];
    if (!lua_istable(L, t))
        luaL_error(L, "cce.fetch: item %I is not a table", (lua_Integer)i);
    lua_getfield(L, t, "client");
    if (!luaL_testudata(L, -1, LCCE_CLIENT_MT))
        luaL_error(L, "cce.fetch: item %I has no client (a cce.Client)", (lua_Integer)i);
    void *pin = lcce_client_pin(L, -1); /* raises when closed */
    fs->pins[fs->pinned++] = pin;
    it->client = lcce_client_check(L, -1);
    lua_getfield(L, t, "id");
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "cce.fetch: item %I has no id (a string, not %s)", (lua_Integer)i, luaL_typename(L, -1));
    size_t len;
    const char *id = lua_tolstring(L, -1, &len);
    if ((fs->ids[i - 1] = malloc(len + 1)) == NULL)
        luaL_error(L, "cce.fetch: out of memory");
    memcpy(fs->ids[i - 1], id, len + 1);
    it->cluster_id = fs->ids[i - 1];
    lua_getfield(L, t, "duration");
    it->days = lcce_opt_days(days);
    if (!lua_isnil(L, -1)) {
        if (!lua_isinteger(L, -1))
            luaL_error(L, "cce.fetch: item %I: duration must be an integer, not %s", (lua_Integer)i,
                       luaL_typename(L, -1));
        lua_Integer d = lua_tointeger(L, -1);
        it->days = lcce_opt_days(d);
    }
    lua_settop(L, t - 1);
}

/*
 * What cce.fetch and cce.list share: options (table at 2) into *o and *ctx,
 * with the progress value at index 3, and the state userdata at index 4 (a
 * to-be-closed value) with room for n items.
 */
static fetch_state *batch_setup(lua_State *L, const char *who, cce_batch_opts *o, fetch_ctx *ctx, lua_Integer *days)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_newtable(L);
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    memset(o, 0, sizeof *o);
    o->concurrency = 16;
    o->stop_on_signals = 1;
    if (days && lua_getfield(L, 2, "duration") != LUA_TNIL)
        *days = lcce_opt_integer(L, -1, who, "duration", LUA_MININTEGER, LUA_MAXINTEGER);
    if (lua_getfield(L, 2, "concurrency") != LUA_TNIL)
        o->concurrency = (int)lcce_opt_integer(L, -1, who, "concurrency", 1, 1024);
    if (lua_getfield(L, 2, "deadline") != LUA_TNIL)
        o->deadline_ms = lcce_opt_seconds_ms(L, -1, who, "deadline", 86400);
    lua_settop(L, 2);
    *ctx = (fetch_ctx){L, 0, 0, 0};
    lua_getfield(L, 2, "progress"); /* index 3, stays */
    if (lua_isfunction(L, 3))
        ctx->fn = 3;
    else if (lua_toboolean(L, 3))
        ctx->tty = isatty(STDERR_FILENO);
    if (ctx->fn || ctx->tty) {
        o->progress = on_progress;
        o->progress_ud = ctx;
    }
    size_t n = (size_t)lua_rawlen(L, 1);
    fetch_state *fs = lua_newuserdatauv(L, sizeof *fs, 0); /* index 4, closed on any exit */
    memset(fs, 0, sizeof *fs);
    if (luaL_newmetatable(L, BATCH_MT)) {
        lua_pushcfunction(L, fetch_state_release);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, fetch_state_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, 4);
    lua_toclose(L, 4);
    if (n > (size_t)1 << 24)
        luaL_error(L, "%s: %I items are more than a batch takes", who, (lua_Integer)n);
    fs->items = calloc(n ? n : 1, sizeof *fs->items);
    fs->ids = calloc(n ? n : 1, sizeof *fs->ids);
    fs->pins = calloc(n ? n : 1, sizeof *fs->pins);
    if (!fs->items || !fs->ids || !fs->pins)
        luaL_error(L, "%s: out of memory", who);
    fs->n = n;
    return fs;
}

/*
 * Runs the batch of fs's items; raises the progress function's error when it
 * raised one (it is on top; closing the state at index 4 releases everything),
 * else pushes the results table for the caller to fill.
 */
static void run_batch(lua_State *L, fetch_state *fs, cce_batch_opts *o, fetch_ctx *ctx, cce_batch_stats *st)
{
    cce_clustercert_batch(fs->items, fs->n, o, st);
    if (ctx->failed_call)
        lua_error(L);
    lua_createtable(L, (int)fs->n, 0);
}

static void push_stats(lua_State *L, const cce_batch_stats *st)
{
    lua_createtable(L, 0, 8);
    set_int(L, "ok", (lua_Integer)st->ok);
    set_int(L, "failed", (lua_Integer)st->failed);
    set_int(L, "requests", (lua_Integer)st->requests);
    set_int(L, "retries", (lua_Integer)st->retries);
    set_int(L, "connections", (lua_Integer)st->connections);
    set_num(L, "elapsed", st->elapsed_s);
    lua_pushboolean(L, st->interrupted);
    lua_setfield(L, -2, "interrupted");
}

/*
 * cce.list(clients, { concurrency =, progress = }) -> results, stats: every
 * client's cluster list in one batch (logins first, one per client).  Each
 * result is { client = c, clusters = {...} } or { client = c, error = err }.
 */
static int l_list(lua_State *L)
{
    cce_batch_opts o;
    fetch_ctx ctx;
    fetch_state *fs = batch_setup(L, "cce.list", &o, &ctx, NULL);
    size_t n = fs->n;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i);
        if (!luaL_testudata(L, -1, LCCE_CLIENT_MT))
            return luaL_error(L, "cce.list: item %I is not a cce.Client", (lua_Integer)i);
        fs->pins[fs->pinned++] = lcce_client_pin(L, -1);
        fs->items[i - 1].client = lcce_client_check(L, -1);
        fs->items[i - 1].op = CCE_OP_CLUSTERS;
        fs->items[i - 1].want_json = 1;
        lua_pop(L, 1);
    }
    cce_batch_stats st;
    run_batch(L, fs, &o, &ctx, &st);
    for (size_t i = 0; i < n; i++) {
        cce_batch_item *it = &fs->items[i];
        lua_createtable(L, 0, 3);
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        lua_setfield(L, -2, "client");
        if (it->json) {
            lua_rawgeti(L, 1, (lua_Integer)i + 1);
            if (lcce_push_clusters(L, -1, it->json, &it->err) == 0) {
                lua_setfield(L, -3, "clusters");
                lua_pop(L, 1);
            } else {
                lua_pop(L, 1);
                lcce_push_error_table(L, &it->err);
                lua_setfield(L, -2, "error");
            }
        } else {
            lcce_push_error_table(L, &it->err);
            lua_setfield(L, -2, "error");
        }
        set_int(L, "attempts", it->attempts);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    push_stats(L, &st);
    return 2;
}

/*
 * cce.verify(items [, { concurrency =, progress = }]) -> results, stats: each
 * item { client = c, kubeconfig = kc [, context = name] } checked against its
 * API server (GET /api with the kubeconfig's client certificate) in one batch.
 * results[i] is { ok = true, status = } or { error = err, status = }.
 */
static int l_verify(lua_State *L)
{
    cce_batch_opts o;
    fetch_ctx ctx;
    fetch_state *fs = batch_setup(L, "cce.verify", &o, &ctx, NULL);
    size_t n = fs->n;
    if ((fs->copies = calloc(n ? n : 1, sizeof *fs->copies)) == NULL)
        return luaL_error(L, "cce.verify: out of memory");
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i);
        int t = lua_gettop(L);
        if (!lua_istable(L, t))
            return luaL_error(L, "cce.verify: item %I is not a table", (lua_Integer)i);
        cce_batch_item *it = &fs->items[i - 1];
        lua_getfield(L, t, "client");
        if (!luaL_testudata(L, -1, LCCE_CLIENT_MT))
            return luaL_error(L, "cce.verify: item %I has no client (a cce.Client)", (lua_Integer)i);
        fs->pins[fs->pinned++] = lcce_client_pin(L, -1);
        it->client = lcce_client_check(L, -1);
        lua_getfield(L, t, "kubeconfig");
        if (!luaL_testudata(L, -1, LCCE_KUBECONFIG_MT))
            return luaL_error(L, "cce.verify: item %I has no kubeconfig (a cce.Kubeconfig)", (lua_Integer)i);
        if ((fs->copies[i - 1] = cce_kubeconfig_copy(lcce_kubeconfig_check(L, -1))) == NULL)
            return luaL_error(L, "cce.verify: out of memory");
        lua_getfield(L, t, "context");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "cce.verify: item %I: context must be a string", (lua_Integer)i);
            if ((fs->ids[i - 1] = strdup(lua_tostring(L, -1))) == NULL)
                return luaL_error(L, "cce.verify: out of memory");
        }
        it->op = CCE_OP_VERIFY;
        it->check = fs->copies[i - 1];
        it->check_context = fs->ids[i - 1];
        lua_settop(L, t - 1);
    }
    cce_batch_stats st;
    run_batch(L, fs, &o, &ctx, &st);
    for (size_t i = 0; i < n; i++) {
        cce_batch_item *it = &fs->items[i];
        lua_createtable(L, 0, 3);
        if (it->verified) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "ok");
        } else {
            lcce_push_error_table(L, &it->err);
            lua_setfield(L, -2, "error");
        }
        set_int(L, "status", it->status);
        set_int(L, "attempts", it->attempts);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    push_stats(L, &st);
    return 2;
}

static int l_fetch(lua_State *L)
{
    /* Durations outside 1..1825 pass through: the core refuses them per item. */
    lua_Integer days = 30;
    cce_batch_opts o;
    fetch_ctx ctx;
    fetch_state *fs = batch_setup(L, WHO, &o, &ctx, &days);
    size_t n = fs->n;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i);
        read_item(L, fs, i, days);
    }

    cce_batch_item *items = fs->items;
    cce_batch_stats st;
    run_batch(L, fs, &o, &ctx, &st);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        lua_setfield(L, -2, "cluster");
        if (items[i].kc) {
            cce_kubeconfig *kc = items[i].kc;
            items[i].kc = NULL; /* the userdata owns it from here, even if the push fails */
            lcce_kubeconfig_push(L, kc);
            lua_setfield(L, -2, "kubeconfig");
        } else {
            lcce_push_error_table(L, &items[i].err);
            lua_setfield(L, -2, "error");
        }
        set_int(L, "attempts", items[i].attempts);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    push_stats(L, &st);
    return 2;
}

void lcce_batch_open(lua_State *L)
{
    lua_pushcfunction(L, l_fetch);
    lua_setfield(L, -2, "fetch");
    lua_pushcfunction(L, l_list);
    lua_setfield(L, -2, "list");
    lua_pushcfunction(L, l_verify);
    lua_setfield(L, -2, "verify");
}
