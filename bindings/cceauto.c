/*
 * cceauto.c - the cceauto host program: a Lua 5.4 interpreter with the cce
 * module, lua-cjson and the shipped scripts built in.
 *
 * It reads like Lua's own lua.c, on purpose: main() creates the state and
 * runs pmain() under lua_pcall; pmain() parses the options, opens the
 * libraries, builds the `arg` table, runs LUA_INIT, the -e/-l options, the
 * script and maybe the REPL.  What cceauto adds to lua.c:
 *
 *   - package.preload entries for "cce", "cjson" and "cjson.safe" (nothing is
 *     opened until a script requires it, so start-up costs the same as lua);
 *   - script lookup: a script name that is not an existing file and has no
 *     '/' is looked up in $CCEAUTO_PATH, then in the scripts directory (the
 *     source tree's scripts/ when the binary runs from its build directory,
 *     else the installed one);
 *   - package.path starts with the script's own directory, then the scripts
 *     directory, so scripts can require modules beside them and the shipped
 *     helpers (the modules under scripts/cceauto/);
 *   - usage errors exit with 2, an interrupted (SIGINT) run exits with 130
 *     and prints "interrupted!" without a traceback (^C is not a bug to debug;
 *     a cce call in progress ends at once and hands the signal on, so this
 *     holds there too), -v/--version and -h/--help print and exit 0;
 *   - an uncaught error object with a __tostring metamethod is printed through
 *     it, with a traceback like any other error;
 *   - no module is loaded from the working directory: the relative entries of
 *     Lua's default package.path and package.cpath ("./?.lua", "./?/init.lua",
 *     "./?.so") are dropped, unless LUA_PATH or LUA_CPATH names them (a script
 *     run in a directory of downloads must not pick up ./lfs.lua);
 *   - messages always carry the "cceauto: " prefix and stdout is flushed
 *     before anything is written to stderr, so the two interleave in order.
 *
 * Messages go to stderr; stdout carries only what the script prints, the
 * version, the help and the REPL.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <lua-cjson.h>

#include "cce.h"

/* lua-cjson's archive also has the "safe" variant; its header does not declare it. */
int luaopen_cjson_safe(lua_State *L);

#ifndef CCE_SCRIPTS_INSTALL_DIR
#define CCE_SCRIPTS_INSTALL_DIR "/usr/local/share/cceauto/scripts"
#endif
#ifndef CCE_MODULE_BUILD_DIR
#define CCE_MODULE_BUILD_DIR "lua"
#endif
#ifndef CCE_MODULE_RELATIVE_DIR
#define CCE_MODULE_RELATIVE_DIR "lib/lua/5.4"
#endif
#ifndef CCE_MODULE_INSTALL_DIR
#define CCE_MODULE_INSTALL_DIR "/usr/local/lib/lua/5.4"
#endif
#ifndef CCE_SCRIPTS_RELATIVE_DIR
#define CCE_SCRIPTS_RELATIVE_DIR "share/cceauto/scripts"
#endif
#ifndef CCE_SOURCE_SCRIPTS_DIR
#define CCE_SOURCE_SCRIPTS_DIR "scripts"
#endif
#ifndef CCE_BUILD_DIR
#define CCE_BUILD_DIR "build"
#endif

#define CCE_PROGNAME "cceauto"
#define CCE_PROMPT "> "
#define CCE_PROMPT2 ">> "
#define CCE_INIT_VAR "LUA_INIT"
#define CCE_INITVARVERSION CCE_INIT_VAR "_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR

/* Exit statuses. */
#define CCE_EXIT_OK 0
#define CCE_EXIT_ERROR 1
#define CCE_EXIT_USAGE 2
#define CCE_EXIT_INTERRUPTED 130 /* 128 + SIGINT, as a shell reports it */

/* What main() hands to pmain() and gets back. */
struct host {
    int argc;
    char **argv;
    int status; /* the process exit status, set by pmain */
};

static const char *progname = CCE_PROGNAME;

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* ------------------------------------------------------------ SIGINT */

#define INTERRUPTED_MSG "interrupted!"

static lua_State *globalL = NULL;     /* the state the handler sets its hook in */
static int interrupted = 0;           /* SIGINT raised an error in this docall */
static int interrupt_escaped = 0;     /* ... and that error ended the docall */
static int sigint_ignored = 0;        /* SIGINT was ignored when we started */
static struct sigaction sigint_saved; /* the disposition to restore */

/* The hook set by the signal handler: stop the running code with an error. */
static void lstop(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0); /* reset the hook */
    interrupted = 1;
    luaL_error(L, INTERRUPTED_MSG);
}

/*
 * The SIGINT handler.  It cannot touch the Lua state beyond setting a hook
 * (lua_sethook is safe here); the hook raises the error at the next
 * instruction, call or return.  A second ^C before that kills the process.
 */
static void laction(int sig) {
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    signal(sig, SIG_DFL);
    lua_sethook(globalL, lstop, flag, 1);
}

static void sigint_catch(void) {
    struct sigaction sa;
    if (sigint_ignored) /* e.g. nohup, or '&' in a script: leave it alone */
        return;
    sa.sa_handler = laction;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

static void sigint_restore(void) {
    if (!sigint_ignored)
        sigaction(SIGINT, &sigint_saved, NULL);
}

/* ---------------------------------------------------------- messages */

/* Writes "pname: msg" to stderr; stdout first, so that output stays in order. */
static void l_message(const char *pname, const char *msg) {
    fflush(stdout);
    if (pname != NULL)
        fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* Reports a failed status with the error message on top of the stack. */
static int report(lua_State *L, int status) {
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL)
            msg = "(error object is not a string)";
        l_message(progname, msg);
        lua_pop(L, 1);
    }
    return status;
}

/*
 * The message handler: turns the error object into a string and appends a
 * traceback.  An object that is not a string but has a __tostring gives its
 * message through it (called protected: a broken __tostring must not turn
 * the report into "error in error handling").
 */
static int msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg != NULL && interrupted && ends_with(msg, INTERRUPTED_MSG)) {
        interrupt_escaped = 1; /* not caught, or caught and raised again */
        return 1;              /* the message alone: no traceback */
    }
    if (msg == NULL) {
        if (luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
            lua_pushvalue(L, 1);
            if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
                msg = lua_tostring(L, -1);
            else
                lua_pop(L, 1);
        }
        if (msg == NULL)
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/*
 * Calls the function below its narg arguments, with the message handler and
 * with SIGINT turned into an error.
 */
static int docall(lua_State *L, int narg, int nres) {
    int status;
    int base = lua_gettop(L) - narg; /* the function's index */
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    globalL = L;
    interrupted = 0;
    interrupt_escaped = 0;
    sigint_catch();
    status = lua_pcall(L, narg, nres, base);
    sigint_restore();
    lua_remove(L, base);
    return status;
}

/* ------------------------------------------------------------- usage */

/* The version line; the libraries' versions come from the cce module (it links them). */
static void print_version(lua_State *L) {
    const char *libs;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cce");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1) &&
        lua_getfield(L, -1, "build_info") == LUA_TFUNCTION && lua_pcall(L, 0, 1, 0) == LUA_OK && lua_isstring(L, -1))
        libs = lua_tostring(L, -1);
    else
        libs = lua_pushfstring(L, "the cce module cannot be loaded: %s", luaL_tolstring(L, -1, NULL));
    fprintf(stdout, "%s %s (%s; %s)\n", CCE_PROGNAME, CCE_VERSION, LUA_RELEASE, libs);
    fflush(stdout);
}

/* The options; with full, the script lookup rules, the environment and the exit statuses too. */
static void print_usage(FILE *f, const char *scripts_dir, int full) {
    fprintf(f,
            "usage: %s [options] [script [args...]]\n"
            "Available options are:\n"
            "  -e stat        execute string 'stat' (may be repeated; run in order)\n"
            "  -i             enter interactive mode after executing 'script'\n"
            "  -l mod         require library 'mod' into global 'mod'\n"
            "  -l g=mod       require library 'mod' into global 'g'\n"
            "  -v, --version  show version information and exit\n"
            "  -h, --help     show this help and exit\n"
            "  -E             ignore environment variables (LUA_INIT, LUA_PATH, LUA_CPATH,\n"
            "                 CCEAUTO_PATH)\n"
            "  -W             turn warnings on\n"
            "  --             stop handling options\n"
            "  -              stop handling options and execute stdin\n",
            CCE_PROGNAME);
    if (!full) {
        fprintf(f, "Try '%s --help' for the script lookup rules.\n", CCE_PROGNAME);
        fflush(f);
        return;
    }
    fprintf(f,
            "\n"
            "Script lookup:\n"
            "  A script argument that names an existing file (relative to the current\n"
            "  directory) is run as given.  Otherwise, if it contains no '/', NAME and\n"
            "  then NAME.lua are looked for in each directory of $CCEAUTO_PATH\n"
            "  (colon-separated; empty entries are skipped), then in the scripts\n"
            "  directory:\n"
            "    %s\n"
            "  package.path starts with the script's directory and the scripts\n"
            "  directory, so require finds modules beside the script and the shipped\n"
            "  helpers.  require \"cce\", \"cjson\" and \"cjson.safe\" need no path.\n"
            "\n"
            "Without a script, -e or -v, cceauto runs an interactive loop when stdin is\n"
            "a terminal, else it runs stdin as a script.\n"
            "\n"
            "Environment:\n"
            "  CCEAUTO_PATH            directories searched for scripts (see above)\n"
            "  " CCE_INITVARVERSION ", " CCE_INIT_VAR "  code run before the options and the\n"
            "                          script ('@file' runs a file)\n"
            "  LUA_PATH_5_4, LUA_PATH, LUA_CPATH_5_4, LUA_CPATH   as in lua\n"
            "\n"
            "Exit status: the script's os.exit() status; 0 on success, 1 on an error,\n"
            "2 on a usage error, 130 when interrupted by SIGINT.\n",
            scripts_dir);
    fflush(f);
}

/* ---------------------------------------------------- scripts directory */

/*
 * Pushes one of cceauto's directories: `in_build` when the running executable
 * lives in (or under) the build directory; else <exe dir>/../<relative>, so an
 * installed tree can be moved (cmake --install --prefix, a tarball); else the
 * configured `installed` path.  Used for the shipped scripts and the cce module.
 */
static void push_own_dir(lua_State *L, const char *in_build, const char *relative, const char *installed) {
    char *exe = realpath("/proc/self/exe", NULL);
    char *build = realpath(CCE_BUILD_DIR, NULL);
    int pushed = 0;
    if (exe != NULL && build != NULL) {
        size_t n = strlen(build);
        if (strncmp(exe, build, n) == 0 && (exe[n] == '/' || (n > 0 && build[n - 1] == '/'))) {
            lua_pushstring(L, in_build);
            pushed = 1;
        }
    }
    char *slash = exe ? strrchr(exe, '/') : NULL;
    if (!pushed && slash != NULL) {
        *slash = '\0';
        const char *rel = lua_pushfstring(L, "%s/../%s", exe, relative);
        char *real = realpath(rel, NULL);
        struct stat st;
        lua_pop(L, 1);
        if (real != NULL && stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
            lua_pushstring(L, real);
            pushed = 1;
        }
        free(real);
    }
    if (!pushed)
        lua_pushstring(L, installed);
    free(exe);
    free(build);
}

static void push_scripts_dir(lua_State *L) {
    push_own_dir(L, CCE_SOURCE_SCRIPTS_DIR, CCE_SCRIPTS_RELATIVE_DIR, CCE_SCRIPTS_INSTALL_DIR);
}

/* A path that exists and is not a directory. */
static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/*
 * Steps through a colon-separated list, skipping empty entries: returns the
 * next entry (its length in *len) and advances *list, or returns NULL.
 */
static const char *next_dir(const char **list, size_t *len) {
    const char *p = *list;
    while (*p == ':')
        p++;
    if (*p == '\0')
        return NULL;
    *len = strcspn(p, ":");
    *list = p + *len;
    return p;
}

/*
 * Tries DIR/NAME then DIR/NAME.lua.  On success pushes the path found and
 * returns 1; else pushes nothing and returns 0.
 */
static int try_dir(lua_State *L, const char *dir, size_t dirlen, const char *name) {
    const char *sep = (dirlen > 0 && dir[dirlen - 1] == '/') ? "" : "/";
    const char *path;
    lua_pushlstring(L, dir, dirlen);
    path = lua_pushfstring(L, "%s%s%s", lua_tostring(L, -1), sep, name);
    lua_remove(L, -2);
    if (is_file(path))
        return 1;
    if (!ends_with(name, ".lua")) {
        path = lua_pushfstring(L, "%s.lua", path);
        lua_remove(L, -2);
        if (is_file(path))
            return 1;
    }
    lua_pop(L, 1);
    return 0;
}

/*
 * Finds the script NAME (see the usage text), pushes its path and returns 1.
 * The scripts directory is at index sdir.  When NAME is nowhere to be found,
 * pushes the message instead and returns 0.  A name with a '/' is pushed as
 * given: loading it reports what is wrong with it.
 */
static int find_script(lua_State *L, const char *name, int sdir, int noenv) {
    const char *cpath = noenv ? NULL : getenv("CCEAUTO_PATH");
    const char *list, *dir;
    size_t len;
    luaL_Buffer looked;
    if (is_file(name) || strchr(name, '/') != NULL) {
        lua_pushstring(L, name);
        return 1;
    }
    for (list = cpath; list != NULL && (dir = next_dir(&list, &len)) != NULL;)
        if (try_dir(L, dir, len, name))
            return 1;
    if (try_dir(L, lua_tostring(L, sdir), lua_rawlen(L, sdir), name))
        return 1;
    /* Not found: push the message, saying where we looked. */
    luaL_buffinit(L, &looked);
    luaL_addstring(&looked, "cannot open ");
    luaL_addstring(&looked, name);
    luaL_addstring(&looked, " (looked in: .");
    for (list = cpath; list != NULL && (dir = next_dir(&list, &len)) != NULL;) {
        luaL_addstring(&looked, ", ");
        luaL_addlstring(&looked, dir, len);
    }
    luaL_addstring(&looked, ", ");
    luaL_addstring(&looked, lua_tostring(L, sdir));
    luaL_addstring(&looked, ")");
    luaL_pushresult(&looked);
    return 0;
}

/* ------------------------------------------------------------ chunks */

static int dochunk(lua_State *L, int status) {
    if (status == LUA_OK)
        status = docall(L, 0, 0);
    return report(L, status);
}

static int dofile(lua_State *L, const char *name) {
    return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name) {
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l [g=]mod: g = require(mod); g defaults to mod. */
static int dolibrary(lua_State *L, const char *spec) {
    int status;
    const char *eq = strchr(spec, '=');
    const char *modname = eq != NULL ? eq + 1 : spec;
    size_t globlen = eq != NULL ? (size_t)(eq - spec) : strlen(spec);
    lua_getglobal(L, "require");
    lua_pushstring(L, modname);
    status = docall(L, 1, 1); /* require(modname) */
    if (status == LUA_OK) {
        lua_pushlstring(L, spec, globlen);
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(L, status);
}

/* Pushes arg[1..n] (the script's arguments); returns n. */
static int pushargs(lua_State *L) {
    int i, n;
    if (lua_getglobal(L, "arg") != LUA_TTABLE)
        luaL_error(L, "'arg' is not a table");
    n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -i); /* the table */
    return n;
}

/* Runs the script at PATH (NULL: stdin) with the arguments as '...'. */
static int handle_script(lua_State *L, const char *path) {
    int status = luaL_loadfile(L, path);
    if (status == LUA_OK) {
        int n = pushargs(L);
        status = docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

/* ----------------------------------------------------------- options */

/* Bits of collectargs' result. */
#define has_error 1 /* bad option */
#define has_i 2     /* -i */
#define has_v 4     /* -v, --version */
#define has_e 8     /* -e */
#define has_E 16    /* -E */
#define has_h 32    /* -h, --help */

/*
 * Checks the options, as lua.c does.  *first is set to the index of the
 * script name (argc when there is none) or, on has_error, of the bad option.
 */
static int collectargs(char **argv, int *first) {
    int args = 0;
    int i;
    for (i = 1; argv[i] != NULL; i++) {
        *first = i;
        if (argv[i][0] != '-') /* not an option: the script */
            return args;
        switch (argv[i][1]) {
        case '-': /* '--', '--version', '--help' */
            if (argv[i][2] == '\0') {
                *first = i + 1;
                return args;
            }
            if (strcmp(argv[i], "--version") == 0)
                args |= has_v;
            else if (strcmp(argv[i], "--help") == 0)
                args |= has_h;
            else
                return has_error;
            break;
        case '\0': /* '-': stdin is the script */
            return args;
        case 'E':
        case 'W':
            if (argv[i][2] != '\0')
                return has_error;
            if (argv[i][1] == 'E')
                args |= has_E;
            break;
        case 'i':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_i;
            break;
        case 'v':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_v;
            break;
        case 'h':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_h;
            break;
        case 'e':
        case 'l': /* both options need an argument */
            if (argv[i][1] == 'e')
                args |= has_e;
            if (argv[i][2] == '\0') {
                i++;
                if (argv[i] == NULL || argv[i][0] == '-')
                    return has_error; /* no argument, or another option */
            }
            break;
        default:
            return has_error;
        }
    }
    *first = i; /* no script */
    return args;
}

/* Runs -e and -l and handles -W, in order.  Returns 0 when one failed. */
static int runargs(lua_State *L, char **argv, int n) {
    int i;
    for (i = 1; i < n; i++) {
        int option = argv[i][1];
        switch (option) {
        case 'e':
        case 'l': {
            const char *extra = argv[i] + 2; /* '-eCODE' */
            int status;
            if (*extra == '\0')
                extra = argv[++i]; /* '-e CODE' */
            status = option == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
            if (status != LUA_OK)
                return 0;
            break;
        }
        case 'W':
            lua_warning(L, "@on", 0);
            break;
        default:
            break;
        }
    }
    return 1;
}

/*
 * The arg table, as lua builds it: the script name at 0, its arguments at
 * 1..n, the interpreter and the options before the script at negative
 * indices.  Without a script, everything but argv[0] is at 1..n.
 */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
    int i, narg;
    if (script == argc)
        script = 0;
    narg = argc - (script + 1);
    lua_createtable(L, narg, script + 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* LUA_INIT_5_4, else LUA_INIT: code, or '@file'. */
static int handle_luainit(lua_State *L) {
    const char *name = "=" CCE_INITVARVERSION;
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=" CCE_INIT_VAR;
        init = getenv(name + 1);
    }
    if (init == NULL)
        return LUA_OK;
    if (init[0] == '@')
        return dofile(L, init + 1);
    return dostring(L, init, name);
}

/*
 * require "cjson" / "cjson.safe" open the built-in modules, when used.
 * require "cce" loads cce.so from cceauto's own module directory (put first
 * on package.cpath): the module brings libcurl, OpenSSL, libyaml and jansson,
 * whose loading would otherwise cost every start-up ~8 ms, `cceauto -e ""`
 * included; this way the host starts as fast as lua5.4 and the module is the
 * very one a stock lua5.4 requires.
 */
/* Whether `entry` is one of the ';'-separated templates of `list`. */
static int list_has(const char *list, const char *entry, size_t len) {
    while (list != NULL && *list) {
        size_t n = strcspn(list, ";");
        if (n == len && strncmp(list, entry, len) == 0)
            return 1;
        list += n + (list[n] == ';');
    }
    return 0;
}

/*
 * Drops the relative templates ("./?.lua" and the like) from package[field],
 * except those the user's own variable (LUA_PATH_5_4 / LUA_PATH, or the CPATH
 * pair; not read under -E) names: the defaults must not load code from
 * whatever directory cceauto happens to run in.
 */
static void drop_relative(lua_State *L, const char *field, const char *var) {
    const char *user = NULL;
    luaL_Buffer b;
    int first = 1;
    lua_getfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    if (!lua_toboolean(L, -1)) {
        const char *v54 = lua_pushfstring(L, "%s_5_4", var);
        user = getenv(v54);
        lua_pop(L, 1);
        if (user == NULL)
            user = getenv(var);
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, field);
    const char *p = lua_tostring(L, -1);
    luaL_buffinit(L, &b);
    while (p != NULL && *p) {
        size_t n = strcspn(p, ";");
        if (n > 0 && (p[0] == '/' || list_has(user, p, n))) {
            if (!first)
                luaL_addchar(&b, ';');
            luaL_addlstring(&b, p, n);
            first = 0;
        }
        p += n + (p[n] == ';');
    }
    luaL_pushresult(&b);
    lua_setfield(L, -3, field);
    lua_pop(L, 1);
}

static void preload_modules(lua_State *L) {
    lua_getglobal(L, "package");
    drop_relative(L, "path", "LUA_PATH");
    drop_relative(L, "cpath", "LUA_CPATH");
    push_own_dir(L, CCE_MODULE_BUILD_DIR, CCE_MODULE_RELATIVE_DIR, CCE_MODULE_INSTALL_DIR);
    lua_getfield(L, -2, "cpath");
    lua_pushfstring(L, "%s/?.so;%s", lua_tostring(L, -2), lua_tostring(L, -1));
    lua_setfield(L, -4, "cpath");
    lua_pop(L, 3);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_cjson_safe);
    lua_setfield(L, -2, "cjson.safe");
    lua_pop(L, 1);
}

/*
 * package.path = [scriptdir/?.lua;] sdir/?.lua;sdir/?/init.lua; old path.
 * script is the script's path or NULL; sdir is at index sdir.
 */
static void set_package_path(lua_State *L, const char *script, int sdir) {
    const char *sd = lua_tostring(L, sdir);
    int top = lua_gettop(L);
    lua_getglobal(L, "package");
    if (script != NULL) {
        const char *slash = strrchr(script, '/');
        if (slash == NULL)
            lua_pushliteral(L, ".");
        else if (slash == script)
            lua_pushliteral(L, "/");
        else
            lua_pushlstring(L, script, (size_t)(slash - script));
        if (strcmp(lua_tostring(L, -1), sd) == 0)
            lua_pushliteral(L, "");
        else
            lua_pushfstring(L, "%s%s?.lua;", lua_tostring(L, -1), slash == script ? "" : "/");
        lua_remove(L, -2);
    } else {
        lua_pushliteral(L, "");
    }
    lua_getfield(L, -2, "path");
    lua_pushfstring(L, "%s%s/?.lua;%s/?/init.lua;%s", lua_tostring(L, -2), sd, sd, lua_tostring(L, -1));
    lua_setfield(L, top + 1, "path");
    lua_settop(L, top);
}

/* --------------------------------------------------------------- REPL */

static const char *get_prompt(lua_State *L, int firstline) {
    if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
        lua_pop(L, 1);
        return firstline ? CCE_PROMPT : CCE_PROMPT2;
    }
    return luaL_tolstring(L, -1, NULL); /* leaves the value and its string */
}

/* A syntax error that ends with "<eof>": the chunk is incomplete. */
#define EOFMARK "<eof>"
#define marklen (sizeof(EOFMARK) / sizeof(char) - 1)

static int incomplete(lua_State *L, int status) {
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        if (lmsg >= marklen && strcmp(msg + lmsg - marklen, EOFMARK) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

/* Prompts, reads a line and pushes it; 0 at end of input. */
static int pushline(lua_State *L, int firstline) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int top = lua_gettop(L);
    const char *prompt = get_prompt(L, firstline);
    fputs(prompt, stdout);
    fflush(stdout);
    lua_settop(L, top); /* drop the prompt */
    len = getline(&line, &cap, stdin);
    if (len < 0) {
        free(line);
        return 0;
    }
    if (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
    if (firstline && line[0] == '=') /* 5.2 style '=expr' */
        lua_pushfstring(L, "return %s", line + 1);
    else
        lua_pushlstring(L, line, (size_t)len);
    free(line);
    return 1;
}

/* Tries the line on top as 'return <line>'. */
static int addreturn(lua_State *L) {
    const char *line = lua_tostring(L, -1);
    const char *retline = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
    if (status == LUA_OK)
        lua_remove(L, -2); /* the modified line */
    else
        lua_pop(L, 2); /* the result and the modified line */
    return status;
}

/* Reads more lines while the chunk is incomplete. */
static int multiline(lua_State *L) {
    for (;;) {
        size_t len;
        const char *line = lua_tolstring(L, 1, &len);
        int status = luaL_loadbuffer(L, line, len, "=stdin");
        if (!incomplete(L, status) || !pushline(L, 0))
            return status;
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3); /* line, "\n", next line */
    }
}

/* Reads and compiles one statement; -1 at end of input. */
static int loadline(lua_State *L) {
    int status;
    lua_settop(L, 0);
    if (!pushline(L, 1))
        return -1;
    if ((status = addreturn(L)) != LUA_OK)
        status = multiline(L);
    lua_remove(L, 1); /* the line; the chunk or the error remains */
    return status;
}

/* Prints the values on the stack with the global print. */
static void l_print(lua_State *L) {
    int n = lua_gettop(L);
    if (n > 0) {
        luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
        lua_getglobal(L, "print");
        lua_insert(L, 1);
        if (lua_pcall(L, n, 0, 0) != LUA_OK)
            l_message(NULL, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
    }
}

/* Reports an error in the REPL: the message only, no traceback. */
static void repl_report(lua_State *L, int status) {
    if (status != LUA_OK) {
        size_t len;
        const char *msg = lua_tolstring(L, -1, &len);
        const char *tb;
        if (msg == NULL)
            msg = "(error object is not a string)";
        tb = strstr(msg, "\nstack traceback:");
        if (tb != NULL)
            msg = lua_pushlstring(L, msg, (size_t)(tb - msg));
        l_message(NULL, msg);
        lua_settop(L, 0);
    }
}

static void doREPL(lua_State *L) {
    int status;
    print_version(L);
    lua_settop(L, 0);
    while ((status = loadline(L)) != -1) {
        if (status == LUA_OK)
            status = docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            l_print(L);
        else
            repl_report(L, status);
    }
    lua_settop(L, 0);
    lua_writeline();
}

/* ------------------------------------------------------------- main */

static int pmain(lua_State *L) {
    struct host *h = (struct host *)lua_touserdata(L, 1);
    int argc = h->argc;
    char **argv = h->argv;
    int script;
    int args = collectargs(argv, &script);
    int sdir;
    const char *path = NULL; /* the script to run; NULL: stdin */
    int has_script;
    luaL_checkversion(L);
    lua_settop(L, 0);
    push_scripts_dir(L);
    sdir = lua_gettop(L);
    h->status = CCE_EXIT_ERROR;
    if (args == has_error) {
        const char *bad = argv[script];
        if (bad[1] == 'e' || bad[1] == 'l')
            l_message(progname, lua_pushfstring(L, "'%s' needs argument", bad));
        else
            l_message(progname, lua_pushfstring(L, "unrecognized option '%s'", bad));
        print_usage(stderr, lua_tostring(L, sdir), 0);
        h->status = CCE_EXIT_USAGE;
        return 0;
    }
    if (args & has_h) {
        print_usage(stdout, lua_tostring(L, sdir), 1);
        h->status = CCE_EXIT_OK;
        return 0;
    }
    if (args & has_E) { /* the package library reads this before LUA_PATH */
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    preload_modules(L);
    if (args & has_v) {
        print_version(L);
        h->status = CCE_EXIT_OK;
        return 0;
    }
    has_script = script < argc;
    if (has_script && !(strcmp(argv[script], "-") == 0 && strcmp(argv[script - 1], "--") != 0)) {
        if (!find_script(L, argv[script], sdir, args & has_E)) {
            l_message(progname, lua_tostring(L, -1));
            return 0;
        }
        path = lua_tostring(L, -1); /* stays on the stack */
    }
    set_package_path(L, path, sdir);
    createargtable(L, argv, argc, script);
    if (path != NULL) { /* arg[0]: the path found */
        lua_getglobal(L, "arg");
        lua_pushstring(L, path);
        lua_rawseti(L, -2, 0);
        lua_pop(L, 1);
    }
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (!(args & has_E) && handle_luainit(L) != LUA_OK)
        return 0;
    if (!runargs(L, argv, script))
        return 0;
    if (has_script && handle_script(L, path) != LUA_OK)
        return 0;
    if (args & has_i) {
        doREPL(L);
    } else if (!has_script && !(args & has_e)) {
        if (isatty(STDIN_FILENO))
            doREPL(L);
        else if (dofile(L, NULL) != LUA_OK)
            return 0;
    }
    h->status = CCE_EXIT_OK;
    return 0;
}

int main(int argc, char **argv) {
    struct host h;
    int status;
    lua_State *L;
    sigaction(SIGINT, NULL, &sigint_saved);
    sigint_ignored = sigint_saved.sa_handler == SIG_IGN;
    L = luaL_newstate();
    if (L == NULL) {
        l_message(progname, "cannot create state: not enough memory");
        return CCE_EXIT_ERROR;
    }
    h.argc = argc;
    h.argv = argv;
    h.status = CCE_EXIT_ERROR;
    lua_gc(L, LUA_GCSTOP); /* no collection while building the state */
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &h);
    status = lua_pcall(L, 1, 0, 0);
    report(L, status);
    lua_close(L);
    if (status != LUA_OK)
        return CCE_EXIT_ERROR;
    if (h.status == CCE_EXIT_ERROR && interrupt_escaped)
        return CCE_EXIT_INTERRUPTED;
    return h.status;
}
