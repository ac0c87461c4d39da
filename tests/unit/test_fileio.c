/* test_fileio.c - whole-file reads, atomic replacement and the kubeconfig lock (core/fileio.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static char base[256];
/* A lock the parent holds while it forks: reachable from a global, so that a
 * child's exit is not a leak under valgrind (the child must not release it). */
static cce_lock *volatile held;

/*
 * fileio.c makes a lock file complete under a temporary name and link()s it
 * into place; on a file system without hard links it falls back to O_EXCL.
 * This link() (the program's own, so fileio.c calls it) can play such a file
 * system, to run the lock tests through the fallback too.
 */
static int no_hard_links;
int link(const char *from, const char *to)
{
    if (no_hard_links) {
        errno = EPERM;
        return -1;
    }
    return linkat(AT_FDCWD, from, AT_FDCWD, to, 0);
}

static char *P(const char *rel) /* a path under the test directory (static ring of buffers) */
{
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", base, rel);
    return b;
}

static void put(const char *path, const char *s, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        perror(path);
        exit(2);
    }
    size_t n = strlen(s);
    if (write(fd, s, n) != (ssize_t)n) {
        perror(path);
        exit(2);
    }
    fchmod(fd, mode);
    close(fd);
}

/* The file's content (heap), or NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    cce_buf b = {0};
    cce_error e = {0};
    int missing = 0;
    if (cce_file_read(path, &b, &missing, &e) < 0 || missing) {
        cce_error_clear(&e);
        cce_buf_free(&b);
        return NULL;
    }
    return cce_buf_steal(&b, len);
}

static int same_content(const char *path, const char *expect)
{
    size_t n = 0;
    char *s = slurp(path, &n);
    int ok = s && n == strlen(expect) && memcmp(s, expect, n) == 0;
    free(s);
    return ok;
}

/* Number of our temporary files (".<name>.tmp-XXXXXX", ".<name>.lock-XXXXXX") in dir. */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".tmp-") || strstr(de->d_name, ".lock-"))
            n++;
    closedir(d);
    return n;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (st.st_mode & 07777) : (mode_t)-1;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_child(pid_t pid) /* exit status, or 128+signal */
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ------------------------------------------------------------------- read */

static void test_read(void)
{
    cce_buf b = {0};
    cce_error e = {0};
    int missing = -1;

    CHECK(cce_file_read(P("nope"), &b, &missing, &e) == 0);
    CHECK(missing == 1);
    CHECK(b.len == 0);

    put(P("hello"), "hello\nworld\n", 0644);
    CHECK(cce_file_read(P("hello"), &b, &missing, &e) == 0);
    CHECK(missing == 0);
    CHECK_STR(b.data, "hello\nworld\n");
    CHECK(b.len == 12);

    put(P("empty"), "", 0644);
    CHECK(cce_file_read(P("empty"), &b, &missing, &e) == 0);
    CHECK(b.len == 0 && b.data && b.data[0] == '\0');

    CHECK(cce_file_read(base, &b, &missing, &e) == -1);
    CHECK_STR(e.code, "IO");
    CHECK_CONTAINS(e.message, base);
    CHECK_CONTAINS(e.message, "directory");
    cce_error_clear(&e);

    /* a component that is a file */
    CHECK(cce_file_read(P("hello/x"), &b, &missing, &e) == -1);
    CHECK_STR(e.code, "IO");
    cce_error_clear(&e);

    /* bigger than any first guess; and read until EOF (a /proc file has st_size 0) */
    size_t big = 3 * 1024 * 1024 + 17;
    char *data = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)('a' + i % 26);
    data[big] = '\0';
    put(P("big"), data, 0600);
    CHECK(cce_file_read(P("big"), &b, &missing, &e) == 0);
    CHECK(b.len == big && memcmp(b.data, data, big) == 0 && b.data[big] == '\0');
    free(data);
    CHECK(cce_file_read("/proc/self/status", &b, &missing, &e) == 0);
    CHECK(b.len > 0 && strstr(b.data, "Pid:") && strlen(b.data) == b.len);

    /* too large: a sparse file of 257 MiB */
    int fd = open(P("huge"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)257 * 1024 * 1024) == 0);
    close(fd);
    CHECK(cce_file_read(P("huge"), &b, &missing, &e) == -1);
    CHECK_STR(e.code, "IO");
    CHECK_CONTAINS(e.message, "too large");
    cce_error_clear(&e);
    unlink(P("huge"));
    cce_buf_free(&b);
}

/* ------------------------------------------------------------------ write */

static void test_write_basic(void)
{
    cce_error e = {0};
    mode_t old = umask(0);
    CHECK(cce_file_write_atomic(P("new"), "abc", 3, 0600, &e) == 0);
    CHECK(same_content(P("new"), "abc"));
    CHECK(mode_of(P("new")) == 0600);
    umask(077);
    CHECK(cce_file_write_atomic(P("new644"), "x", 1, 0644, &e) == 0);
    CHECK(mode_of(P("new644")) == 0644); /* new_mode is the mode, whatever the umask */
    umask(old);

    put(P("existing"), "old content that is longer\n", 0644);
    struct stat st1, st2;
    stat(P("existing"), &st1);
    CHECK(cce_file_write_atomic(P("existing"), "new\n", 4, 0600, &e) == 0);
    CHECK(same_content(P("existing"), "new\n"));
    CHECK(mode_of(P("existing")) == 0644); /* keeps its mode, not new_mode */
    stat(P("existing"), &st2);
    CHECK(st1.st_ino != st2.st_ino); /* replaced by rename, not rewritten in place */

    /* empty content; a relative path */
    CHECK(cce_file_write_atomic(P("existing"), "", 0, 0600, &e) == 0);
    CHECK(same_content(P("existing"), ""));
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(base) == 0);
    CHECK(cce_file_write_atomic("relative", "rel", 3, 0600, &e) == 0);
    CHECK(chdir(cwd) == 0);
    CHECK(same_content(P("relative"), "rel"));

    /* a directory is not a file; a missing directory is an error */
    CHECK(cce_file_write_atomic(base, "x", 1, 0600, &e) == -1);
    CHECK_STR(e.code, "IO");
    cce_error_clear(&e);
    /* not a regular file: never renamed over (a kubeconfig pointing at /dev/null) */
    CHECK(symlink("/dev/null", P("devnull")) == 0);
    CHECK(cce_file_write_atomic(P("devnull"), "x", 1, 0600, &e) == -1);
    CHECK_CONTAINS(e.message, "not a regular file");
    cce_error_clear(&e);
    struct stat dn;
    CHECK(stat("/dev/null", &dn) == 0 && S_ISCHR(dn.st_mode));
    CHECK(count_tmp("/dev") == 0);
    CHECK(cce_file_write_atomic(P("no/such/dir/config"), "x", 1, 0600, &e) == -1);
    CHECK_STR(e.code, "IO");
    CHECK_CONTAINS(e.message, "no/such/dir");
    cce_error_clear(&e);
    CHECK(count_tmp(base) == 0);
}

static void test_write_symlinks(void)
{
    cce_error e = {0};
    struct stat st;
    CHECK(mkdir(P("sl"), 0755) == 0);
    CHECK(mkdir(P("sl/sub"), 0755) == 0);
    put(P("sl/real"), "old", 0640);

    /* absolute link */
    CHECK(symlink(P("sl/real"), P("sl/abs")) == 0);
    CHECK(cce_file_write_atomic(P("sl/abs"), "via abs", 7, 0600, &e) == 0);
    CHECK(lstat(P("sl/abs"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(same_content(P("sl/real"), "via abs"));
    CHECK(mode_of(P("sl/real")) == 0640);

    /* relative link in another directory, and a chain of links */
    CHECK(symlink("../real", P("sl/sub/rel")) == 0);
    CHECK(cce_file_write_atomic(P("sl/sub/rel"), "via rel", 7, 0600, &e) == 0);
    CHECK(lstat(P("sl/sub/rel"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(same_content(P("sl/real"), "via rel"));
    CHECK(!exists(P("sl/sub/real")));
    CHECK(symlink("sub/rel", P("sl/chain")) == 0);
    CHECK(cce_file_write_atomic(P("sl/chain"), "via chain", 9, 0600, &e) == 0);
    CHECK(same_content(P("sl/real"), "via chain"));
    CHECK(lstat(P("sl/chain"), &st) == 0 && S_ISLNK(st.st_mode));

    /* a link through a linked directory */
    CHECK(symlink("sl/sub", P("subdirlink")) == 0);
    CHECK(cce_file_write_atomic(P("subdirlink/rel"), "via dirlink", 11, 0600, &e) == 0);
    CHECK(same_content(P("sl/real"), "via dirlink"));

    /* dangling: the file is created where the link points */
    CHECK(symlink("sub/target", P("sl/dangling")) == 0);
    CHECK(cce_file_write_atomic(P("sl/dangling"), "created", 7, 0600, &e) == 0);
    CHECK(lstat(P("sl/dangling"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(same_content(P("sl/sub/target"), "created"));
    CHECK(mode_of(P("sl/sub/target")) == 0600);

    /* dangling into a directory that does not exist; a loop */
    CHECK(symlink("nodir/x", P("sl/bad")) == 0);
    CHECK(cce_file_write_atomic(P("sl/bad"), "x", 1, 0600, &e) == -1);
    CHECK_STR(e.code, "IO");
    cce_error_clear(&e);
    CHECK(symlink("loop2", P("sl/loop1")) == 0);
    CHECK(symlink("loop1", P("sl/loop2")) == 0);
    CHECK(cce_file_write_atomic(P("sl/loop1"), "x", 1, 0600, &e) == -1);
    CHECK_STR(e.code, "IO");
    CHECK_CONTAINS(e.message, "symbolic links");
    cce_error_clear(&e);
    CHECK(lstat(P("sl/loop1"), &st) == 0 && S_ISLNK(st.st_mode));

    CHECK(count_tmp(P("sl")) == 0);
    CHECK(count_tmp(P("sl/sub")) == 0);
}

/* Runs fn in a child that, when root, first becomes nobody.  77: could not drop privileges. */
static int in_unprivileged_child(int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0) {
            if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 || geteuid() == 0)
                _exit(77);
        }
        check_failures = check_count = 0;
        int rc = fn();
        _exit(rc || check_failures ? 1 : 0);
    }
    return wait_child(pid);
}

static int ro_child(void)
{
    cce_error e = {0};
    CHECK(cce_file_write_atomic(P("ro/config"), "new content", 11, 0600, &e) == -1);
    CHECK_STR(e.code, "IO");
    CHECK_CONTAINS(e.message, P("ro/config"));
    CHECK_CONTAINS(e.message, strerror(EACCES));
    cce_error_clear(&e);
    cce_lock *l = cce_lock_acquire(P("ro/config"), 100, &e);
    CHECK(l == NULL);
    CHECK_STR(e.code, "IO");
    CHECK_CONTAINS(e.message, P("ro/config.lock"));
    cce_error_clear(&e);
    cce_lock_release(l);
    return 0;
}

static void test_write_readonly_dir(void)
{
    const char *old = "apiVersion: v1\nkind: Config\n";
    CHECK(mkdir(P("ro"), 0755) == 0);
    put(P("ro/config"), old, 0644);
    CHECK(chmod(P("ro"), 0555) == 0);
    int rc = in_unprivileged_child(ro_child);
    if (rc == 77) {
        printf("test_fileio: NOTE: running as root and cannot drop privileges: read-only directory checks skipped\n");
    } else {
        if (geteuid() == 0)
            printf("test_fileio: note: running as root, read-only directory checked as uid 65534\n");
        CHECK(rc == 0);
    }
    CHECK(same_content(P("ro/config"), old));
    CHECK(count_tmp(P("ro")) == 0);
    CHECK(!exists(P("ro/config.lock")));
    chmod(P("ro"), 0755);
}

static void age(const char *path, int seconds)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= seconds;
    ts[1] = ts[0];
    CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

/* kubectl's lock files have mode 0000 (client-go creates them with perm 0): unreadable for non-root. */
static int kubectl_lock_child(void)
{
    cce_error e = {0};
    /* a fresh one: waited for */
    int fd = open(P("kc/config.lock"), O_WRONLY | O_CREAT | O_EXCL, 0);
    CHECK(fd >= 0);
    close(fd);
    CHECK(mode_of(P("kc/config.lock")) == 0);
    cce_lock *l = cce_lock_acquire(P("kc/config"), 200, &e);
    CHECK(l == NULL);
    CHECK_STR(e.code, "LOCKED");
    CHECK_CONTAINS(e.message, "probably kubectl");
    cce_error_clear(&e);
    CHECK(exists(P("kc/config.lock")));
    /* 60 s old: broken (it is ours: made readable, then judged under its flock) */
    age(P("kc/config.lock"), 60);
    l = cce_lock_acquire(P("kc/config"), 0, &e);
    CHECK(l != NULL);
    cce_lock_release(l);
    CHECK(!exists(P("kc/config.lock")));
    /* an old one of another user, which we cannot even read: waited for */
    if (exists(P("kc2/config.lock"))) {
        l = cce_lock_acquire(P("kc2/config"), 100, &e);
        CHECK(l == NULL);
        CHECK_STR(e.code, "LOCKED");
        CHECK_CONTAINS(e.message, "probably kubectl");
        cce_error_clear(&e);
        cce_lock_release(l);
    }
    return 0;
}

static void test_lock_kubectl_mode0(void)
{
    CHECK(mkdir(P("kc"), 0755) == 0);
    CHECK(mkdir(P("kc2"), 0777) == 0);
    chmod(P("kc2"), 0777);
    if (geteuid() == 0) {
        CHECK(chown(P("kc"), 65534, 65534) == 0);
        int fd = open(P("kc2/config.lock"), O_WRONLY | O_CREAT | O_EXCL, 0);
        CHECK(fd >= 0);
        close(fd);
        age(P("kc2/config.lock"), 60);
    } else {
        printf("test_fileio: note: not root: no lock file of another user to test with\n");
    }
    int rc = in_unprivileged_child(kubectl_lock_child);
    if (rc == 77)
        printf("test_fileio: NOTE: running as root and cannot drop privileges: mode 0000 lock checks skipped\n");
    else
        CHECK(rc == 0);
}

static void test_write_owner(void)
{
    if (geteuid() != 0) {
        printf("test_fileio: note: not root: owner preservation not tested\n");
        return;
    }
    cce_error e = {0};
    put(P("owned"), "old", 0640);
    CHECK(chown(P("owned"), 65534, 65534) == 0);
    CHECK(cce_file_write_atomic(P("owned"), "new", 3, 0600, &e) == 0);
    struct stat st;
    CHECK(stat(P("owned"), &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534);
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(same_content(P("owned"), "new"));
}

static int efbig_child(void)
{
    struct rlimit rl = {64 * 1024, 64 * 1024};
    CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    struct sigaction before, after;
    sigset_t mask_before, mask_after, pend;
    sigaction(SIGXFSZ, NULL, &before);
    sigprocmask(SIG_SETMASK, NULL, &mask_before);

    size_t n = 300 * 1024;
    char *big = malloc(n);
    memset(big, 'x', n);
    cce_error e = {0};
    CHECK(cce_file_write_atomic(P("fsz/config"), big, n, 0600, &e) == -1);
    CHECK_STR(e.code, "IO");
    CHECK_CONTAINS(e.message, strerror(EFBIG));
    CHECK_CONTAINS(e.message, "cannot write");
    CHECK_CONTAINS(e.message, ".config.tmp-");
    CHECK_CONTAINS(e.message, P("fsz/config"));
    cce_error_clear(&e);
    free(big);

    /* SIGXFSZ: disposition and mask as before, nothing left pending */
    sigaction(SIGXFSZ, NULL, &after);
    sigprocmask(SIG_SETMASK, NULL, &mask_after);
    CHECK(after.sa_handler == before.sa_handler && before.sa_handler == SIG_DFL);
    CHECK(sigismember(&mask_after, SIGXFSZ) == sigismember(&mask_before, SIGXFSZ));
    sigpending(&pend);
    CHECK(!sigismember(&pend, SIGXFSZ));
    /* and the process still works: a small file fits */
    CHECK(cce_file_write_atomic(P("fsz/small"), "ok", 2, 0600, &e) == 0);
    return 0;
}

static void test_write_efbig(void)
{
    const char *old = "the old content\n";
    CHECK(mkdir(P("fsz"), 0755) == 0);
    put(P("fsz/config"), old, 0600);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        check_failures = check_count = 0;
        efbig_child();
        _exit(check_failures ? 1 : 0);
    }
    CHECK(wait_child(pid) == 0); /* exited normally: not killed by SIGXFSZ */
    CHECK(same_content(P("fsz/config"), old));
    CHECK(same_content(P("fsz/small"), "ok"));
    CHECK(count_tmp(P("fsz")) == 0);
}

/* ------------------------------------------------------------------- lock */

static void myhost(char *buf, size_t n)
{
    gethostname(buf, n);
    buf[n - 1] = '\0';
}

static void test_lock_basic(void)
{
    cce_error e = {0};
    const char *cfg = P("lk/config");
    const char *lockp = P("lk/config.lock");
    mkdir(P("lk"), 0755);

    cce_lock *l = held = cce_lock_acquire(cfg, 1000, &e);
    CHECK(l != NULL);
    CHECK(exists(lockp));
    char expect[320], host[256];
    myhost(host, sizeof host);
    snprintf(expect, sizeof expect, "%ld %s\n", (long)getpid(), host);
    CHECK(same_content(lockp, expect));
    CHECK(mode_of(lockp) == 0600);

    /* a second acquire from another process times out and names us */
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        cce_error ce = {0};
        long long t0 = ms_now();
        cce_lock *l2 = cce_lock_acquire(cfg, 300, &ce);
        long long dt = ms_now() - t0;
        char msg[1024];
        snprintf(msg, sizeof msg, "%d %lld %s|%s", l2 == NULL, dt, ce.code, ce.message ? ce.message : "");
        cce_error_clear(&ce);
        cce_lock_release(l2);
        if (write(pfd[1], msg, strlen(msg)) < 0)
            _exit(2);
        _exit(0);
    }
    close(pfd[1]);
    char msg[1024] = "";
    ssize_t n = read(pfd[0], msg, sizeof msg - 1);
    close(pfd[0]);
    msg[n > 0 ? n : 0] = '\0';
    CHECK(wait_child(pid) == 0);
    int failed = 0;
    long long dt = 0;
    sscanf(msg, "%d %lld", &failed, &dt);
    CHECK(failed == 1);
    CHECK(dt >= 280 && dt < 2000);
    CHECK_CONTAINS(msg, " LOCKED|");
    char who[64];
    snprintf(who, sizeof who, "locked by pid %ld on ", (long)getpid());
    CHECK_CONTAINS(msg, who);
    CHECK_CONTAINS(msg, lockp);
    CHECK_CONTAINS(msg, " since ");
    CHECK_CONTAINS(msg, "waited 0.");
    printf("test_fileio: lock message: %s\n", strchr(msg, '|') ? strchr(msg, '|') + 1 : msg);

    /* timeout 0 fails at once */
    long long t0 = ms_now();
    cce_lock *l3 = cce_lock_acquire(cfg, 0, &e);
    CHECK(l3 == NULL && ms_now() - t0 < 200);
    CHECK_STR(e.code, "LOCKED");
    cce_error_clear(&e);

    cce_lock_release(l);
    held = NULL;
    CHECK(!exists(lockp));
    cce_lock_release(NULL);

    /* symlinks: the real file is locked */
    put(P("lk/real"), "x", 0600);
    unlink(P("lk/link"));
    CHECK(symlink("real", P("lk/link")) == 0);
    l = cce_lock_acquire(P("lk/link"), 1000, &e);
    CHECK(l != NULL);
    CHECK(exists(P("lk/real.lock")));
    CHECK(!exists(P("lk/link.lock")));
    cce_lock *l4 = cce_lock_acquire(P("lk/real"), 50, &e);
    CHECK(l4 == NULL);
    CHECK_STR(e.code, "LOCKED");
    cce_error_clear(&e);
    cce_lock_release(l);
    CHECK(!exists(P("lk/real.lock")));

    /* release does not remove a lock file that is no longer ours */
    l = cce_lock_acquire(cfg, 1000, &e);
    CHECK(l != NULL);
    CHECK(unlink(lockp) == 0);
    put(lockp, "", 0600);
    cce_lock_release(l);
    CHECK(exists(lockp));
    unlink(lockp);
}

static void test_lock_waits_for_release(void)
{
    cce_error e = {0};
    const char *cfg = P("lk/config");
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        cce_error ce = {0};
        cce_lock *l = cce_lock_acquire(cfg, 1000, &ce);
        if (write(pfd[1], l ? "y" : "n", 1) < 0)
            _exit(2);
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
        cce_lock_release(l);
        _exit(l ? 0 : 1);
    }
    char c = 0;
    CHECK(read(pfd[0], &c, 1) == 1 && c == 'y');
    close(pfd[0]);
    close(pfd[1]);
    long long t0 = ms_now();
    cce_lock *l = cce_lock_acquire(cfg, 5000, &e);
    long long dt = ms_now() - t0;
    CHECK(l != NULL);
    CHECK(dt >= 150 && dt < 2000);
    CHECK(wait_child(pid) == 0);
    cce_lock_release(l);
    CHECK(!exists(P("lk/config.lock")));
}

static void test_lock_stale(void)
{
    cce_error e = {0};
    const char *cfg = P("lk/config");
    const char *lockp = P("lk/config.lock");
    char host[256], line[400];
    myhost(host, sizeof host);

    /* a dead pid of this host */
    fflush(NULL);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    wait_child(dead);
    snprintf(line, sizeof line, "%ld %s\n", (long)dead, host);
    put(lockp, line, 0600);
    long long t0 = ms_now();
    cce_lock *l = cce_lock_acquire(cfg, 0, &e);
    CHECK(l != NULL);
    CHECK(ms_now() - t0 < 200);
    cce_lock_release(l);
    CHECK(!exists(lockp));

    /* a holder killed with SIGKILL while holding it: broken at once */
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        cce_error ce = {0};
        cce_lock *cl = cce_lock_acquire(cfg, 1000, &ce);
        if (write(pfd[1], cl ? "y" : "n", 1) < 0)
            _exit(2);
        for (;;)
            pause();
    }
    char c = 0;
    CHECK(read(pfd[0], &c, 1) == 1 && c == 'y');
    close(pfd[0]);
    close(pfd[1]);
    l = cce_lock_acquire(cfg, 0, &e); /* alive and holding: locked */
    CHECK(l == NULL);
    CHECK_STR(e.code, "LOCKED");
    cce_error_clear(&e);
    kill(pid, SIGKILL);
    CHECK(wait_child(pid) == 128 + SIGKILL);
    CHECK(exists(lockp));
    t0 = ms_now();
    l = cce_lock_acquire(cfg, 0, &e);
    CHECK(l != NULL);
    CHECK(ms_now() - t0 < 200);
    cce_lock_release(l);

    /* an empty fresh one (kubectl's) is waited for, not broken */
    put(lockp, "", 0644);
    t0 = ms_now();
    l = cce_lock_acquire(cfg, 300, &e);
    long long dt = ms_now() - t0;
    CHECK(l == NULL);
    CHECK(dt >= 280);
    CHECK_STR(e.code, "LOCKED");
    CHECK_CONTAINS(e.message, "locked by another program (probably kubectl)");
    CHECK_CONTAINS(e.message, lockp);
    cce_error_clear(&e);
    CHECK(exists(lockp));
    /* ... and taken as soon as kubectl removes it */
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        struct timespec ts = {0, 150 * 1000000L};
        nanosleep(&ts, NULL);
        unlink(lockp);
        _exit(0);
    }
    l = cce_lock_acquire(cfg, 3000, &e);
    CHECK(l != NULL);
    wait_child(pid);
    cce_lock_release(l);

    /* an empty one 60 s old is broken */
    put(lockp, "", 0644);
    age(lockp, 60);
    l = cce_lock_acquire(cfg, 0, &e);
    CHECK(l != NULL);
    cce_lock_release(l);
    CHECK(!exists(lockp));

    /* garbage: fresh waits, old is broken */
    put(lockp, "not a lock line", 0644);
    l = cce_lock_acquire(cfg, 50, &e);
    CHECK(l == NULL);
    CHECK_CONTAINS(e.message, "probably kubectl");
    cce_error_clear(&e);
    age(lockp, 31 + 5);
    l = cce_lock_acquire(cfg, 0, &e);
    CHECK(l != NULL);
    cce_lock_release(l);

    /* another host's: its pid says nothing here; fresh waits, old is broken */
    put(lockp, "1 some-other-host.example\n", 0644);
    l = cce_lock_acquire(cfg, 50, &e);
    CHECK(l == NULL);
    CHECK_CONTAINS(e.message, "locked by pid 1 on some-other-host.example");
    cce_error_clear(&e);
    age(lockp, 60);
    l = cce_lock_acquire(cfg, 0, &e);
    CHECK(l != NULL);
    cce_lock_release(l);

    /* a live pid of this host that holds no flock (a recycled pid): fresh waits, old is broken */
    snprintf(line, sizeof line, "%ld %s\n", (long)getppid(), host);
    put(lockp, line, 0644);
    l = cce_lock_acquire(cfg, 50, &e);
    CHECK(l == NULL);
    CHECK_STR(e.code, "LOCKED");
    cce_error_clear(&e);
    age(lockp, 60);
    l = cce_lock_acquire(cfg, 0, &e);
    CHECK(l != NULL);
    cce_lock_release(l);
    CHECK(!exists(lockp));

    /* a held lock is never broken, however old */
    l = held = cce_lock_acquire(cfg, 0, &e);
    CHECK(l != NULL);
    age(lockp, 3600);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        cce_error ce = {0};
        cce_lock *cl = cce_lock_acquire(cfg, 100, &ce);
        int ok = cl == NULL && strcmp(ce.code, "LOCKED") == 0;
        cce_error_clear(&ce);
        _exit(ok ? 0 : 1);
    }
    CHECK(wait_child(pid) == 0);
    cce_lock_release(l);
    held = NULL;
    CHECK(!exists(lockp));
}

/* Two processes, each `rounds` times: lock, read the counter, write it + 1, unlock. */
static int bump(const char *path, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        cce_error e = {0};
        cce_lock *l = cce_lock_acquire(path, 30000, &e);
        if (!l) {
            fprintf(stderr, "bump: %s\n", e.message);
            cce_error_clear(&e);
            return 1;
        }
        cce_buf b = {0};
        int missing = 0;
        if (cce_file_read(path, &b, &missing, &e) < 0) {
            fprintf(stderr, "bump: %s\n", e.message);
            return 1;
        }
        long n = missing ? 0 : strtol(b.data, NULL, 10);
        b.len = 0;
        cce_buf_printf(&b, "%ld\n", n + 1);
        int rc = cce_file_write_atomic(path, b.data, b.len, 0600, &e);
        cce_buf_free(&b);
        cce_lock_release(l);
        if (rc < 0) {
            fprintf(stderr, "bump: %s\n", e.message);
            cce_error_clear(&e);
            return 1;
        }
    }
    return 0;
}

static void test_lock_counter_processes(void)
{
    const char *cnt = P("lk/counter");
    put(cnt, "0\n", 0600);
    long long t0 = ms_now();
    pid_t kids[2];
    fflush(NULL);
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0)
            _exit(bump(cnt, 200));
    }
    for (int k = 0; k < 2; k++)
        CHECK(wait_child(kids[k]) == 0);
    CHECK(same_content(cnt, "400\n"));
    CHECK(!exists(P("lk/counter.lock")));
    CHECK(count_tmp(P("lk")) == 0);
    printf("test_fileio: 2 processes x 200 locked updates: %lld ms\n", ms_now() - t0);
}

/*
 * Every holder dies holding the lock (its process exits without releasing), so
 * every acquire after the first breaks a stale lock, with 4 breakers racing.
 * A breaker that removed another's fresh lock would let two writers in: lost updates.
 */
static int bump_and_die(const char *path, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            cce_error e = {0};
            cce_lock *l = cce_lock_acquire(path, 30000, &e);
            if (!l) {
                fprintf(stderr, "bump_and_die: %s\n", e.message);
                _exit(1);
            }
            held = l;
            cce_buf b = {0};
            int missing = 0;
            if (cce_file_read(path, &b, &missing, &e) < 0)
                _exit(1);
            long n = strtol(b.data, NULL, 10);
            b.len = 0;
            cce_buf_printf(&b, "%ld\n", n + 1);
            int rc = cce_file_write_atomic(path, b.data, b.len, 0600, &e);
            cce_buf_free(&b);
            _exit(rc < 0 ? 1 : 0); /* "crashes" holding the lock */
        }
        if (wait_child(pid) != 0)
            return 1;
    }
    return 0;
}

static void test_lock_break_race(void)
{
    const char *cnt = P("lk/dcounter");
    put(cnt, "0\n", 0600);
    long long t0 = ms_now();
    pid_t kids[8];
    fflush(NULL);
    for (int k = 0; k < 8; k++) {
        kids[k] = fork();
        if (kids[k] == 0)
            _exit(bump_and_die(cnt, 25));
    }
    for (int k = 0; k < 8; k++)
        CHECK(wait_child(kids[k]) == 0);
    CHECK(same_content(cnt, "200\n"));
    CHECK(exists(P("lk/dcounter.lock"))); /* the last holder's, stale */
    cce_error e = {0};
    cce_lock *l = cce_lock_acquire(cnt, 0, &e);
    CHECK(l != NULL);
    cce_lock_release(l);
    CHECK(count_tmp(P("lk")) == 0);
    printf("test_fileio: 8 processes x 25 updates, each breaking a dead holder's lock: %lld ms\n", ms_now() - t0);
}

static void *bump_thread(void *arg)
{
    return (void *)(intptr_t)bump(arg, 100);
}

static void test_lock_counter_threads(void)
{
    char *cnt = P("lk/tcounter");
    put(cnt, "0\n", 0600);
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        CHECK(pthread_create(&t[k], NULL, bump_thread, cnt) == 0);
    for (int k = 0; k < 2; k++) {
        void *rc = NULL;
        pthread_join(t[k], &rc);
        CHECK(rc == NULL);
    }
    CHECK(same_content(cnt, "200\n"));
    CHECK(!exists(P("lk/tcounter.lock")));
}

/* Every error path of cce_file_read leaves nothing to free (the buffer is released). */
static void test_read_errors_free(void)
{
    cce_buf b = {0};
    cce_error e = {0};
    int missing = 0;
    put(P("errs"), "x", 0644);
    CHECK(cce_file_read(base, &b, &missing, &e) == -1); /* a directory */
    CHECK(b.data == NULL && b.cap == 0);
    cce_error_clear(&e);
    CHECK(cce_file_read(P("nope-at-all"), &b, NULL, &e) == -1); /* missing, and not allowed to be */
    CHECK(b.data == NULL && b.cap == 0);
    cce_error_clear(&e);
    CHECK(cce_buf_puts(&b, "old content") == 0); /* a buffer with data in it: freed too */
    CHECK(cce_file_read(P("errs/x"), &b, &missing, &e) == -1);
    CHECK(b.data == NULL && b.cap == 0);
    cce_error_clear(&e);

    /* select() of a context whose certificate file is missing: an error, and (under ASan) no leak */
    put(P("sel.yaml"),
        "clusters:\n- name: c\n  cluster: {server: 'https://x'}\nusers:\n- name: u\n"
        "  user: {client-certificate: missing.crt, client-key: missing.key}\n"
        "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
        0600);
    cce_kubeconfig *kc = cce_kubeconfig_load(P("sel.yaml"), &e);
    CHECK(kc != NULL);
    for (int i = 0; kc && i < 3; i++) {
        cce_kubeconfig *one = cce_kubeconfig_select(kc, "x", &e);
        CHECK(one == NULL);
        CHECK_CONTAINS(e.message, "missing.crt");
        cce_error_clear(&e);
    }
    cce_kubeconfig_free(kc);
    /* and a load that fails on its second file */
    put(P("bad.yaml"), "clusters: [1, 2\n", 0600);
    char env[1200];
    snprintf(env, sizeof env, "%s:%s", P("sel.yaml"), P("bad.yaml"));
    setenv("KUBECONFIG", env, 1);
    CHECK(cce_kubeconfig_load(NULL, &e) == NULL);
    CHECK_CONTAINS(e.message, "bad.yaml");
    cce_error_clear(&e);
    unsetenv("KUBECONFIG");
}

/* KUBECONFIG's empty elements are skipped; only empty ones make an empty config, as kubectl. */
static void test_kubeconfig_env_empty(void)
{
    cce_error e = {0};
    setenv("KUBECONFIG", ":", 1);
    cce_kubeconfig *kc = cce_kubeconfig_load(NULL, &e);
    CHECK(kc != NULL);
    if (!kc)
        fprintf(stderr, "  KUBECONFIG=':': %s\n", e.message ? e.message : "?");
    cce_error_clear(&e);
    CHECK(kc && cce_kubeconfig_count(kc, CCE_KC_CONTEXTS) == 0 && cce_kubeconfig_file(kc, 0) == NULL);
    /* nothing to save back to: the error says to give a path */
    CHECK(kc && cce_kubeconfig_save(kc, NULL, NULL, NULL, &e) == -1);
    CHECK_CONTAINS(e.message, "give save() a path");
    cce_error_clear(&e);
    cce_kubeconfig_free(kc);

    put(P("env1.yaml"), "contexts:\n- name: one\n  context: {cluster: c}\n", 0600);
    char env[1200];
    snprintf(env, sizeof env, "::%s::", P("env1.yaml"));
    setenv("KUBECONFIG", env, 1);
    kc = cce_kubeconfig_load(NULL, &e);
    CHECK(kc && cce_kubeconfig_count(kc, CCE_KC_CONTEXTS) == 1);
    CHECK(kc && cce_kubeconfig_file(kc, 1) == NULL);
    CHECK_STR(kc ? cce_kubeconfig_file(kc, 0) : NULL, P("env1.yaml"));
    cce_kubeconfig_free(kc);
    cce_error_clear(&e);
    unsetenv("KUBECONFIG");
}

/* merge reports what went wrong instead of ignoring its err. */
static void test_merge_errors(void)
{
    cce_error e = {0};
    cce_kubeconfig *a = cce_kubeconfig_new(), *b = cce_kubeconfig_new();
    CHECK(cce_kubeconfig_set_entry(b, CCE_KC_CLUSTERS, "c", "{\"server\": \"https://x\"}", &e) == 0);
    cce_merge_stats st = {9, 9, 9};
    CHECK(cce_kubeconfig_merge(a, b, 0x40, &st, &e) == -1);
    CHECK_STR(e.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(e.message, "0x40");
    CHECK(st.added == 0 && st.replaced == 0 && st.kept == 0);
    CHECK(cce_kubeconfig_count(a, CCE_KC_CLUSTERS) == 0); /* refused: nothing merged */
    cce_error_clear(&e);
    CHECK(cce_kubeconfig_merge(a, NULL, 0, NULL, &e) == -1);
    CHECK_STR(e.code, "INVALID_ARGUMENT");
    cce_error_clear(&e);
    CHECK(cce_kubeconfig_merge(a, b, CCE_MERGE_REPLACE, &st, &e) == 0);
    CHECK(st.added == 1 && cce_kubeconfig_count(a, CCE_KC_CLUSTERS) == 1);
    /* a kubeconfig merged into itself keeps everything once */
    CHECK(cce_kubeconfig_merge(a, a, CCE_MERGE_REPLACE, &st, &e) == 0);
    CHECK(st.replaced == 1 && cce_kubeconfig_count(a, CCE_KC_CLUSTERS) == 1);
    cce_kubeconfig_free(a);
    cce_kubeconfig_free(b);
}

/* mkdir -p: new directories get the mode asked for, existing ones are fine, a file in the way is named. */
static void test_dir_create(void)
{
    cce_error e = {0};
    mode_t old = umask(022);
    CHECK(cce_dir_create(P("mk/a/b//c/"), 0700, &e) == 0);
    struct stat st;
    CHECK(stat(P("mk/a/b/c"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
    CHECK(stat(P("mk"), &st) == 0 && (st.st_mode & 07777) == 0700);
    CHECK(stat(base, &st) == 0 && (st.st_mode & 07777) == 0755); /* existing: untouched */
    CHECK(cce_dir_create(P("mk/a/b/c"), 0700, &e) == 0);          /* exists: fine */
    put(P("mk/file"), "x", 0600);
    CHECK(cce_dir_create(P("mk/file/sub"), 0700, &e) == -1);
    CHECK_STR(e.code, "IO");
    CHECK_CONTAINS(e.message, "mk/file");
    cce_error_clear(&e);
    CHECK(cce_dir_create(P("mk/file"), 0700, &e) == -1);
    CHECK_CONTAINS(e.message, "not a directory");
    cce_error_clear(&e);
    CHECK(cce_dir_create("", 0700, &e) == -1);
    cce_error_clear(&e);
    umask(old);
}

/* An existing file loses group/other bits when asked (a kubeconfig receiving private keys). */
static void test_write_clear_mode(void)
{
    cce_error e = {0};
    unsigned before = 1;
    put(P("open644"), "old", 0644);
    CHECK(cce_file_write_atomic_mode(P("open644"), "key", 3, 0600, 077, &before, &e) == 0);
    CHECK(before == 0644);
    struct stat st;
    CHECK(stat(P("open644"), &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK(cce_file_write_atomic_mode(P("brand-new"), "key", 3, 0600, 077, &before, &e) == 0);
    CHECK(before == 0);
    CHECK(stat(P("brand-new"), &st) == 0 && (st.st_mode & 07777) == 0600);
    put(P("open640"), "old", 0640);
    CHECK(cce_file_write_atomic_mode(P("open640"), "no key", 6, 0600, 0, &before, &e) == 0);
    CHECK(before == 0640 && stat(P("open640"), &st) == 0 && (st.st_mode & 07777) == 0640);
}

/*
 * A lock file that is a FIFO (or a symlink to one) can never be taken or
 * broken: cce_lock_acquire must fail, not hang in open().  In a child with an
 * alarm, so that a hang fails the test instead of stopping the suite.
 */
static void lock_on_fifo(const char *target, const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        cce_error e = {0};
        cce_lock *l = cce_lock_acquire(target, 300, &e);
        int ok = l == NULL && e.message && strstr(e.message, "FIFO") && strstr(e.message, ".lock");
        if (!ok)
            fprintf(stderr, "  %s: %s\n", what, e.message ? e.message : "(locked it)");
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFSIGNALED(status))
        fprintf(stderr, "  %s: killed by signal %d (hung in the lock)\n", what, WTERMSIG(status));
}

static void test_lock_fifo(void)
{
    CHECK(mkfifo(P("fifo-config.lock"), 0600) == 0);
    lock_on_fifo(P("fifo-config"), "lock file is a FIFO");
    CHECK(mkfifo(P("a-fifo"), 0600) == 0);
    CHECK(symlink(P("a-fifo"), P("sl-config.lock")) == 0);
    lock_on_fifo(P("sl-config"), "lock file is a symlink to a FIFO");
}

int main(void)
{
    snprintf(base, sizeof base, "%s/cce_fileio.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 2;
    }
    chmod(base, 0755); /* the unprivileged child must get in */

    test_read();
    test_read_errors_free();
    test_kubeconfig_env_empty();
    test_merge_errors();
    test_dir_create();
    test_write_clear_mode();
    test_lock_fifo();
    test_write_basic();
    test_write_symlinks();
    test_write_owner();
    test_write_readonly_dir();
    test_lock_kubectl_mode0();
    test_write_efbig();
    for (no_hard_links = 0; no_hard_links < 2; no_hard_links++) {
        if (no_hard_links)
            printf("test_fileio: the lock again, on a file system without hard links (O_EXCL)\n");
        test_lock_basic();
        test_lock_waits_for_release();
        test_lock_stale();
        test_lock_counter_processes();
        test_lock_counter_threads();
        test_lock_break_race();
    }

    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", base, base);
    if (system(cmd) != 0)
        fprintf(stderr, "test_fileio: could not remove %s\n", base);
    return check_report("test_fileio");
}
