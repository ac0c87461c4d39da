/*
 * lcce_opt.c - reading option values, one way for every binding.
 *
 * Seconds: a Lua number (fractions allowed) in (0, max] becomes milliseconds
 * rounded to the nearest millisecond, and never less than 1 ms: rounding a
 * tiny positive value to 0 would turn it into "default" (0 means default in
 * the core's options), and rounding up (ceil) turned 0.3 s into 301 ms
 * because 0.3 * 1000 is 300.00000000000006 in binary floating point.
 */
#include <limits.h>
#include <math.h>

#include "lcce_internal.h"

long lcce_opt_seconds_ms(lua_State *L, int idx, const char *who, const char *key, double max_s)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_error(L, "%s: option '%s' must be a number of seconds", who, key);
    double s = lua_tonumber(L, idx);
    if (!(s > 0) || s > max_s)
        luaL_error(L, "%s: option '%s' must be between 0 and %d seconds", who, key, (int)max_s);
    long ms = lround(s * 1000);
    return ms < 1 ? 1 : ms;
}

lua_Integer lcce_opt_integer(lua_State *L, int idx, const char *who, const char *key, lua_Integer lo, lua_Integer hi)
{
    lua_Integer v = 0;
    if (!lua_isinteger(L, idx) || (v = lua_tointeger(L, idx)) < lo || v > hi)
        luaL_error(L, "%s: option '%s' must be an integer from %I to %I", who, key, lo, hi);
    return v;
}

/* A day count for the core, which refuses what is outside 1..1825 (or -1) with
 * a message naming the value: only values that do not fit a long are clamped. */
long lcce_opt_days(lua_Integer d)
{
    if (d > LONG_MAX)
        return LONG_MAX;
    if (d < LONG_MIN)
        return LONG_MIN;
    return (long)d;
}

int lcce_opt_boolean(lua_State *L, int idx, const char *who, const char *key)
{
    if (lua_type(L, idx) != LUA_TBOOLEAN)
        luaL_error(L, "%s: option '%s' must be a boolean", who, key);
    return lua_toboolean(L, idx);
}
