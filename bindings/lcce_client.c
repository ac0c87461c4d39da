/*
 * lcce_client.c - cce.Client: one project in one region with one token.
 *
 *   local c, err = cce.client{ project_id = ..., token = ..., endpoint = ... }
 *   c:clusters()  c:cluster(id)  c:clustercert(id, {duration = 30})
 */
#include <signal.h>
#include <string.h>

#include "internal.h"
#include "lcce_internal.h"

/*
 * A batch (cce.fetch) pins the clients it uses: a registry reference keeps
 * the userdata alive, and c:close() while pinned only marks it closed; the
 * last unpin frees it.  So a progress callback that closes a client, or drops
 * the last reference to it, cannot free what the batch's transfers use.
 */
typedef struct lclient {
    cce_client *c; /* NULL once freed */
    int closed;    /* closed by the script: every method raises */
    int pins;      /* batches using it */
    int ref;       /* registry reference while pinned */
} lclient;

cce_client *lcce_client_check(lua_State *L, int idx)
{
    lclient *u = luaL_checkudata(L, idx, LCCE_CLIENT_MT);
    if (!u->c || u->closed)
        luaL_error(L, "attempt to use a closed cce.Client");
    return u->c;
}

void *lcce_client_pin(lua_State *L, int idx)
{
    lcce_client_check(L, idx);
    lclient *u = lua_touserdata(L, idx);
    if (u->pins == 0) {
        lua_pushvalue(L, idx);
        u->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* may raise: counted only once it holds */
    }
    u->pins++;
    return u;
}

void lcce_client_unpin(lua_State *L, void *pin)
{
    lclient *u = pin;
    if (--u->pins > 0)
        return;
    if (u->closed) { /* closed during the batch: now it can go */
        cce_client_free(u->c);
        u->c = NULL;
    }
    luaL_unref(L, LUA_REGISTRYINDEX, u->ref);
    u->ref = LUA_NOREF;
}

void lcce_client_pass_signal(cce_client *c)
{
    /* The call restored the handler that was there before it: lua.c's and
     * cceauto's turn SIGINT into an "interrupted!" error, SIG_DFL ends the
     * process, as if the signal had come outside the call. */
    int sig = cce_client_take_signal(c);
    if (sig)
        raise(sig);
}

#define WHO "cce.client"

static int push_client(lua_State *L, const cce_client_opts *o, lclient *from, const char *const derive[3]);

static int l_client(lua_State *L)
{
    cce_client_opts o;
    memset(&o, 0, sizeof o);
    int interactive = 1; /* the core asks only when stdin is a terminal */
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_error(L, "cce.client: option keys must be strings");
            const char *k = lua_tostring(L, -2);
            int t = lua_type(L, -1);
#define STR_OPT(name)                                                                 \
    if (strcmp(k, #name) == 0) {                                                      \
        if (t != LUA_TSTRING)                                                         \
            return luaL_error(L, "cce.client: option '%s' must be a string", k);      \
        o.name = lua_tostring(L, -1);                                                 \
    } else
            STR_OPT(region)
            STR_OPT(project_id)
            STR_OPT(token)
            STR_OPT(endpoint)
            STR_OPT(ca_file)
            STR_OPT(cloud)
            STR_OPT(auth_url)
            STR_OPT(username)
            STR_OPT(user_id)
            STR_OPT(password)
            STR_OPT(user_domain_name)
            STR_OPT(passcode)
            STR_OPT(project_name)
            STR_OPT(ak)
            STR_OPT(sk)
            STR_OPT(security_token)
            STR_OPT(cache_dir)
            if (strcmp(k, "insecure") == 0) {
                o.insecure = lcce_opt_boolean(L, -1, WHO, k);
            } else if (strcmp(k, "cache") == 0) {
                o.no_cache = !lcce_opt_boolean(L, -1, WHO, k);
            } else if (strcmp(k, "interactive") == 0) {
                interactive = lcce_opt_boolean(L, -1, WHO, k);
            } else if (strcmp(k, "timeout") == 0) {
                o.timeout_ms = lcce_opt_seconds_ms(L, -1, WHO, k, 86400);
            } else if (strcmp(k, "connect_timeout") == 0) {
                o.connect_timeout_ms = lcce_opt_seconds_ms(L, -1, WHO, k, 86400);
            } else if (strcmp(k, "backoff") == 0) {
                o.backoff_ms = lcce_opt_seconds_ms(L, -1, WHO, k, 86400);
            } else if (strcmp(k, "max_backoff") == 0) {
                o.max_backoff_ms = lcce_opt_seconds_ms(L, -1, WHO, k, 86400);
            } else if (strcmp(k, "retries") == 0) {
                lua_Integer n = lcce_opt_integer(L, -1, WHO, k, 0, 100);
                o.retries = n == 0 ? -1 : (int)n; /* 0 in the core means default */
            } else if (strcmp(k, "max_response") == 0) {
                o.max_response = (size_t)lcce_opt_integer(L, -1, WHO, k, 1024, (lua_Integer)1 << 40);
            } else if (strcmp(k, "log_level") == 0) {
                /* A name, or 0..4 counted from error as CCEAUTO_LOG reads digits. */
                int lv = lua_type(L, -1) == LUA_TSTRING || lua_isinteger(L, -1) ? cce_log_level_parse(lua_tostring(L, -1)) : -1;
                if (lv < 0)
                    return luaL_error(L, "cce.client: option 'log_level' must be error, warn, info, debug or trace");
                o.log_level = lv;
            } else {
                return luaL_error(L, "cce.client: unknown option '%s'", k);
            }
#undef STR_OPT
            lua_pop(L, 1);
        }
    }
    cce_client_opts_from_env(&o);
    o.stop_on_signals = 1; /* ^C ends a call (a transfer, a Retry-After wait) at once */
    o.interactive = interactive;
    return push_client(L, &o, NULL, NULL);
}

/* A new cce.Client userdata: made from options, or derived from `from`. */
static int push_client(lua_State *L, const cce_client_opts *o, lclient *from, const char *const derive[3])
{
    lclient *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->c = NULL; /* closed until the core object exists, as liolib does */
    u->closed = 0;
    u->pins = 0;
    u->ref = LUA_NOREF;
    luaL_setmetatable(L, LCCE_CLIENT_MT);
    cce_error err = {0};
    u->c = from ? cce_client_derive(from->c, derive[0], derive[1], derive[2], &err) : cce_client_new(o, &err);
    if (!u->c)
        return lcce_push_error(L, &err);
    return 1;
}

/* c:derive{ project_id =, project_name =, region = }: the same credentials elsewhere. */
static int l_derive(lua_State *L)
{
    lcce_client_check(L, 1);
    lclient *from = lua_touserdata(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *v[3] = {NULL, NULL, NULL};
    static const char *const keys[] = {"project_id", "project_name", "region"};
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        int known = 0;
        for (int i = 0; i < 3; i++)
            if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), keys[i]) == 0) {
                if (lua_type(L, -1) != LUA_TSTRING)
                    return luaL_error(L, "derive: option '%s' must be a string", keys[i]);
                v[i] = lua_tostring(L, -1);
                known = 1;
            }
        if (!known)
            return luaL_error(L, "derive: unknown option '%s'", lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
        lua_pop(L, 1);
    }
    return push_client(L, NULL, from, v);
}

static int l_close(lua_State *L)
{
    lclient *u = luaL_checkudata(L, 1, LCCE_CLIENT_MT);
    u->closed = 1;
    if (u->pins == 0) {
        cce_client_free(u->c);
        u->c = NULL;
    }
    return 0;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (!v)
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

/* A cluster table; it keeps a reference to its client so batch calls can use it. */
/*
 * cluster.raw is made on first use: a fleet's clusters are listed often and
 * their raw objects rarely read, and turning each into Lua tables was most of
 * the cost of c:clusters().  Until then the JSON stays in a userdata, found
 * through a weak table keyed by the cluster table.
 */
#define RAW_MT "cce.ClusterRaw"
#define RAW_PENDING "cce.raw_pending"
#define CLUSTER_MT "cce.Cluster"

static int raw_gc(lua_State *L)
{
    json_t **p = luaL_checkudata(L, 1, RAW_MT);
    json_decref(*p);
    *p = NULL;
    return 0;
}

static int cluster_index(lua_State *L)
{
    if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "raw") != 0)
        return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, RAW_PENDING);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, -2) != LUA_TUSERDATA)
        return 0;
    json_t **p = luaL_checkudata(L, -1, RAW_MT);
    lcce_push_json(L, *p);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "raw"); /* from now on a plain field */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    lua_rawset(L, -5);
    return 1;
}

static void push_cluster(lua_State *L, int client_idx, const cce_cluster *cl, json_t *raw)
{
    lua_createtable(L, 0, 12);
    set_str(L, "id", cl->id);
    set_str(L, "name", cl->name);
    set_str(L, "phase", cl->phase);
    set_str(L, "version", cl->version);
    set_str(L, "type", cl->type);
    set_str(L, "flavor", cl->flavor);
    lua_createtable(L, 0, 2);
    set_str(L, "internal", cl->endpoint_internal);
    set_str(L, "external", cl->endpoint_external);
    lua_setfield(L, -2, "endpoints");
    lua_pushvalue(L, client_idx);
    lua_setfield(L, -2, "client");
    if (!raw) {
        lcce_push_json_text(L, cl->raw_json);
        lua_setfield(L, -2, "raw");
        return;
    }
    luaL_setmetatable(L, CLUSTER_MT);
    lua_getfield(L, LUA_REGISTRYINDEX, RAW_PENDING);
    lua_pushvalue(L, -2);
    json_t **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = json_incref(raw);
    luaL_setmetatable(L, RAW_MT);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

int lcce_push_clusters(lua_State *L, int client_idx, json_t *items, cce_error *err)
{
    client_idx = lua_absindex(L, client_idx);
    size_t n = json_array_size(items);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        cce_cluster cl;
        json_t *o = json_array_get(items, i);
        if (cce_cluster_from_json(o, &cl, 0, err) < 0) {
            lua_pop(L, 1);
            return -1;
        }
        push_cluster(L, client_idx, &cl, o);
        cce_cluster_clear(&cl);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 0;
}

static int l_clusters(lua_State *L)
{
    cce_client *c = lcce_client_check(L, 1);
    cce_error err = {0};
    json_t *items = cce_clusters_list_json(c, &err);
    lcce_client_pass_signal(c);
    if (!items)
        return lcce_push_error(L, &err);
    int rc = lcce_push_clusters(L, 1, items, &err);
    json_decref(items);
    if (rc < 0)
        return lcce_push_error(L, &err);
    return 1;
}

static int l_cluster(lua_State *L)
{
    cce_client *c = lcce_client_check(L, 1);
    const char *id = luaL_checkstring(L, 2);
    cce_cluster cl;
    cce_error err = {0};
    int rc = cce_cluster_get(c, id, &cl, &err);
    lcce_client_pass_signal(c);
    if (rc < 0)
        return lcce_push_error(L, &err);
    push_cluster(L, 1, &cl, NULL);
    cce_cluster_clear(&cl);
    return 1;
}

static int l_clustercert(lua_State *L)
{
    cce_client *c = lcce_client_check(L, 1);
    const char *id = luaL_checkstring(L, 2);
    lua_Integer days = 30;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "duration");
        if (!lua_isnil(L, -1)) {
            if (!lua_isinteger(L, -1))
                return luaL_error(L, "clustercert: duration must be an integer number of days");
            days = lua_tointeger(L, -1);
        }
        lua_pop(L, 1);
    }
    cce_error err = {0};
    cce_kubeconfig *kc = cce_clustercert(c, id, lcce_opt_days(days), &err);
    lcce_client_pass_signal(c);
    if (!kc)
        return lcce_push_error(L, &err);
    lcce_kubeconfig_push(L, kc);
    return 1;
}

static int l_info(lua_State *L)
{
    cce_client *c = lcce_client_check(L, 1);
    lua_createtable(L, 0, 4);
    set_str(L, "endpoint", cce_client_endpoint(c));
    set_str(L, "project_id", cce_client_project_id(c));
    set_str(L, "project_name", cce_client_project_name(c));
    set_str(L, "region", cce_client_region(c));
    return 1;
}

/* c:auth_info(): who the client is (logs in first if it must); never a secret. */
static int l_auth_info(lua_State *L)
{
    cce_client *c = lcce_client_check(L, 1);
    cce_auth_info ai;
    cce_error err = {0};
    int rc = cce_client_auth_info(c, &ai, &err);
    lcce_client_pass_signal(c);
    if (rc < 0)
        return lcce_push_error(L, &err);
    lua_createtable(L, 0, 11);
    set_str(L, "method", ai.method);
    set_str(L, "project_id", ai.project_id);
    set_str(L, "project_name", ai.project_name);
    set_str(L, "user", ai.user);
    set_str(L, "user_id", ai.user_id);
    set_str(L, "domain", ai.domain);
    set_str(L, "region", ai.region);
    set_str(L, "auth_url", ai.auth_url);
    set_str(L, "cloud", ai.cloud);
    set_str(L, "endpoint", cce_client_endpoint(c));
    if (ai.expires_at) {
        lua_pushinteger(L, (lua_Integer)ai.expires_at);
        lua_setfield(L, -2, "expires_at");
    }
    lua_pushboolean(L, ai.from_cache);
    lua_setfield(L, -2, "from_cache");
    return 1;
}

/* c:projects() -> { {id=, name=, enabled=}, ... } | nil, err */
static int l_projects(lua_State *L)
{
    cce_client *c = lcce_client_check(L, 1);
    cce_project *list;
    size_t n;
    cce_error err = {0};
    int rc = cce_client_projects(c, &list, &n, &err);
    lcce_client_pass_signal(c);
    if (rc < 0)
        return lcce_push_error(L, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        set_str(L, "id", list[i].id);
        set_str(L, "name", list[i].name);
        lua_pushboolean(L, list[i].enabled);
        lua_setfield(L, -2, "enabled");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    cce_projects_free(list, n);
    return 1;
}

static int l_stats(lua_State *L)
{
    cce_client *c = lcce_client_check(L, 1);
    cce_client_stats s;
    cce_client_stats_get(c, &s);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)s.requests);
    lua_setfield(L, -2, "requests");
    lua_pushinteger(L, (lua_Integer)s.retries);
    lua_setfield(L, -2, "retries");
    return 1;
}

static int l_tostring(lua_State *L)
{
    lclient *u = luaL_checkudata(L, 1, LCCE_CLIENT_MT);
    if (!u->c || u->closed)
        lua_pushliteral(L, "cce.Client (closed)");
    else
        lua_pushfstring(L, "cce.Client (%s, project %s)", cce_client_endpoint(u->c), cce_client_project_id(u->c));
    return 1;
}

void lcce_client_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"clusters", l_clusters}, {"cluster", l_cluster}, {"clustercert", l_clustercert},
        {"info", l_info},         {"stats", l_stats},     {"close", l_close},
        {"auth_info", l_auth_info}, {"projects", l_projects}, {"derive", l_derive},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL},
    };
    lcce_new_class(L, LCCE_CLIENT_MT, methods, meta);
    luaL_newmetatable(L, RAW_MT);
    lua_pushcfunction(L, raw_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newmetatable(L, CLUSTER_MT);
    lua_pushcfunction(L, cluster_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
    lua_newtable(L); /* cluster table -> pending raw JSON, weak keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, RAW_PENDING);
    lua_pushcfunction(L, l_client);
    lua_setfield(L, -2, "client");
}
