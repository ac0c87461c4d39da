/* lcce_internal.h - what the binding files share (not installed). */
#ifndef LCCE_INTERNAL_H
#define LCCE_INTERNAL_H

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "cce.h"
#include "lcce.h"

/* Pushes nil and an error table (code, status, message, request_id; __tostring)
 * built from *err, clears *err and returns 2: `return lcce_push_error(L, &err);` */
int lcce_push_error(lua_State *L, cce_error *err);
/* Pushes just the error table (no nil) and clears *err. */
void lcce_push_error_table(lua_State *L, cce_error *err);
/* Same for an error made here: code and message. */
int lcce_push_error_msg(lua_State *L, const char *code, const char *msg);

/* Pushes a JSON value as Lua: objects and arrays become tables, null becomes cce.null. */
void lcce_push_json(lua_State *L, json_t *v);
/* Decodes JSON text (trusted: produced by the core) and pushes it; nil if it does not parse. */
void lcce_push_json_text(lua_State *L, const char *text);

/* Converts the Lua value at idx to JSON (a new reference): a table with keys
 * 1..n is an array, any other table an object (an empty one is {}); cce.null is
 * null.  Raises on what JSON cannot hold (functions, cycles, non-string keys). */
json_t *lcce_to_json(lua_State *L, int idx);

/* Kubeconfig userdata: takes ownership of kc (frees it if the push fails). */
void lcce_kubeconfig_push(lua_State *L, cce_kubeconfig *kc);
cce_kubeconfig *lcce_kubeconfig_check(lua_State *L, int idx);

cce_client *lcce_client_check(lua_State *L, int idx);  /* raises unless an open cce.Client */

/*
 * Pins the open cce.Client at idx for a batch: it cannot be collected, and
 * c:close() during the batch only marks it closed (every method then raises)
 * and frees it at the last unpin.  Returns an opaque handle for the unpin.
 */
void *lcce_client_pin(lua_State *L, int idx);
void lcce_client_unpin(lua_State *L, void *pin);
/* Hands on a signal the client's last call caught (see cce_client_take_signal). */
void lcce_client_pass_signal(cce_client *c);
/* Pushes the cluster tables of a list answer's "items" (each keeps the client at client_idx); -1 with err. */
int lcce_push_clusters(lua_State *L, int client_idx, json_t *items, cce_error *err);

void lcce_client_open(lua_State *L);      /* metatable + cce.client */
void lcce_batch_open(lua_State *L);       /* cce.fetch, cce.list */
void lcce_file_open(lua_State *L);        /* cce.write_private, cce.lock, cce.executable */
void lcce_kubeconfig_open(lua_State *L);  /* metatable + cce.kubeconfig table */

/*
 * Option values (lcce_opt.c), the value at idx; each raises "<who>: option
 * '<key>' must be ..." when it is not what is asked.  Seconds in (0, max_s]
 * become milliseconds, rounded to the nearest one and at least 1.
 */
long lcce_opt_seconds_ms(lua_State *L, int idx, const char *who, const char *key, double max_s);
lua_Integer lcce_opt_integer(lua_State *L, int idx, const char *who, const char *key, lua_Integer lo, lua_Integer hi);
long lcce_opt_days(lua_Integer d);
int lcce_opt_boolean(lua_State *L, int idx, const char *who, const char *key);

/* Registers `methods` as the __index table of a new metatable `name`, plus `meta`. */
void lcce_new_class(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta);

#endif
