/*
 * crash_rename.c - LD_PRELOAD shim for tests/unit/test_crash.sh.
 *
 * With CCE_CRASH_AT_RENAME=1 in the environment, rename(), renameat() and
 * renameat2() do not rename: the process kills itself with SIGKILL, as if it
 * crashed between writing the temporary file and renaming it over the target.
 * Without it they pass through to the C library.
 *
 *   cc -shared -fPIC -Wall -Wextra -o crash_rename.so tests/unit/crash_rename.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void maybe_crash(const char *fn, const char *from, const char *to)
{
    const char *v = getenv("CCE_CRASH_AT_RENAME");
    if (v && strcmp(v, "1") == 0) {
        static const char msg[] = "crash_rename: SIGKILL instead of ";
        /* async-signal-safe output only: the process is about to die */
        if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0 || write(STDERR_FILENO, fn, strlen(fn)) < 0 ||
            write(STDERR_FILENO, " ", 1) < 0 || write(STDERR_FILENO, from, strlen(from)) < 0 ||
            write(STDERR_FILENO, " -> ", 4) < 0 || write(STDERR_FILENO, to, strlen(to)) < 0 ||
            write(STDERR_FILENO, "\n", 1) < 0) {
            /* nothing to do */
        }
        for (;;) {
            kill(getpid(), SIGKILL);
            pause();
        }
    }
}

static void *next_fn(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        fprintf(stderr, "crash_rename: dlsym(%s): %s\n", name, dlerror());
        errno = ENOSYS;
    }
    return p;
}

int rename(const char *oldpath, const char *newpath)
{
    maybe_crash("rename", oldpath, newpath);
    int (*real)(const char *, const char *) = (int (*)(const char *, const char *))next_fn("rename");
    return real ? real(oldpath, newpath) : -1;
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    maybe_crash("renameat", oldpath, newpath);
    int (*real)(int, const char *, int, const char *) =
        (int (*)(int, const char *, int, const char *))next_fn("renameat");
    return real ? real(olddirfd, oldpath, newdirfd, newpath) : -1;
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)
{
    maybe_crash("renameat2", oldpath, newpath);
    int (*real)(int, const char *, int, const char *, unsigned int) =
        (int (*)(int, const char *, int, const char *, unsigned int))next_fn("renameat2");
    return real ? real(olddirfd, oldpath, newdirfd, newpath, flags) : -1;
}
