/*
 * fileio.c - whole-file reads, atomic replacement and the kubeconfig lock.
 *
 * The promises (see internal.h): a kubeconfig is never left half-written,
 * a failed save leaves the old file and no temporary file behind, and the lock
 * is kubectl's "<path>.lock" (created exclusively) plus an flock() held by
 * cceauto, so that a holder that died is recognised at once.
 *
 * What a crash (kill -9) can leave: a ".<name>.tmp-XXXXXX" file of a save in
 * progress, a ".<name>.lock-XXXXXX" file of a lock being made (for a few
 * system calls), and a lock file whose flock is gone - which the next
 * cce_lock_acquire() breaks at once.  Never a partial target, never an empty
 * lock file of ours.  cce_file_clean_stale() removes the left-over files
 * under the next writer's lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define CCE_FILE_MAX ((size_t)256 * 1024 * 1024)  /* cce_file_read's cap */
#define CCE_LOCK_STALE_S 30                        /* age after which an unheld foreign lock is stale */
#define CCE_LOCK_POLL_MS 20
#define CCE_MAX_SYMLINKS 40

/* ------------------------------------------------------------ small helpers */

static char *str_concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *p = malloc(la + lb + lc + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    memcpy(p + la, b, lb);
    memcpy(p + la + lb, c, lc + 1);
    return p;
}

/* Splits `path` into a new directory string and a pointer to its last component. */
static char *split_dir(const char *path, const char **name)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *name = path;
        return cce_strdup(".");
    }
    *name = slash + 1;
    if (slash == path)
        return cce_strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

static char *join_path(const char *dir, const char *name)
{
    size_t l = strlen(dir);
    return str_concat3(dir, (l && dir[l - 1] == '/') ? "" : "/", name);
}

static int open_retry(const char *path, int flags, mode_t mode)
{
    int fd;
    do
        fd = open(path, flags, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * The file `path` really names: symlinks (also dangling ones and relative
 * ones, which are relative to the link's directory) are followed to their end,
 * and the directory is made canonical with realpath().  The final component
 * need not exist.  On success *dir_out is the canonical directory and the
 * return value the full path "<dir>/<name>"; both heap.  On failure NULL with
 * err set (`what` says what for).
 */
static char *resolve_target(const char *path, char **dir_out, cce_error *err)
{
    if (!path || !*path) {
        cce_set_error(err, CCE_E_IO, 0, "empty file name");
        return NULL;
    }
    char *cur = cce_strdup(path);
    char *result = NULL, *rdir = NULL;
    if (!cur)
        goto oom;
    for (int hops = 0;; hops++) {
        const char *name;
        char *dir = split_dir(cur, &name);
        if (!dir)
            goto oom;
        if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            cce_set_error(err, CCE_E_IO, 0, "%s: not a file name", path);
            free(dir);
            goto fail;
        }
        free(rdir);
        rdir = realpath(dir, NULL);
        if (!rdir) {
            int e = errno;
            cce_set_error(err, CCE_E_IO, 0, "cannot resolve directory %s of %s: %s", dir, path, strerror(e));
            free(dir);
            goto fail;
        }
        free(dir);
        char *full = join_path(rdir, name);
        if (!full)
            goto oom;
        struct stat st;
        if (lstat(full, &st) < 0) {
            int e = errno;
            if (e == ENOENT) { /* does not exist (yet): this is where it will be */
                result = full;
                break;
            }
            cce_set_error(err, CCE_E_IO, 0, "cannot stat %s: %s", full, strerror(e));
            free(full);
            goto fail;
        }
        if (!S_ISLNK(st.st_mode)) {
            result = full;
            break;
        }
        if (hops >= CCE_MAX_SYMLINKS) {
            cce_set_error(err, CCE_E_IO, 0, "cannot resolve %s: %s", path, strerror(ELOOP));
            free(full);
            goto fail;
        }
        /* a symlink: read where it points */
        size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 256;
        char *target = NULL;
        for (;;) {
            char *t = realloc(target, cap);
            if (!t) {
                free(target);
                free(full);
                goto oom;
            }
            target = t;
            ssize_t n = readlink(full, target, cap);
            if (n < 0) {
                int e = errno;
                cce_set_error(err, CCE_E_IO, 0, "cannot read symlink %s: %s", full, strerror(e));
                free(target);
                free(full);
                goto fail;
            }
            if ((size_t)n < cap) {
                target[n] = '\0';
                break;
            }
            cap *= 2;
        }
        free(full);
        free(cur);
        cur = target[0] == '/' ? cce_strdup(target) : join_path(rdir, target);
        free(target);
        if (!cur)
            goto oom;
    }
    free(cur);
    *dir_out = rdir;
    return result;
oom:
    cce_set_error(err, CCE_E_IO, 0, "out of memory resolving %s", path);
fail:
    free(cur);
    free(rdir);
    return NULL;
}

/* ---------------------------------------------------------------- clean-up */

void cce_file_clean_stale(const char *path)
{
    char *dir = NULL;
    char *full = resolve_target(path, &dir, NULL);
    if (!full) {
        free(dir);
        return;
    }
    const char *name = strrchr(full, '/') + 1;
    size_t nl = strlen(name);
    DIR *d = opendir(dir);
    struct dirent *de;
    time_t now = time(NULL);
    while (d && (de = readdir(d)) != NULL) {
        const char *e = de->d_name;
        if (e[0] != '.' || strncmp(e + 1, name, nl) != 0)
            continue;
        const char *rest = e + 1 + nl;
        int tmp = strncmp(rest, ".tmp-", 5) == 0 && strlen(rest) == 11;
        int lck = strncmp(rest, ".lock-", 6) == 0 && strlen(rest) == 12;
        if (!tmp && !lck)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        /* A lock being made right now is young: leave those to their makers. */
        if (lck && now - st.st_mtime <= CCE_LOCK_STALE_S)
            continue;
        unlinkat(dirfd(d), e, 0);
    }
    if (d)
        closedir(d);
    free(dir);
    free(full);
}

/* ------------------------------------------------------------------- read */

static int file_read(const char *path, cce_buf *out, int *missing, cce_error *err);

int cce_file_read(const char *path, cce_buf *out, int *missing, cce_error *err)
{
    int rc = file_read(path, out, missing, err);
    if (rc < 0)
        cce_buf_free(out); /* every error path: the caller has nothing to free */
    return rc;
}

static int file_read(const char *path, cce_buf *out, int *missing, cce_error *err)
{
    if (missing)
        *missing = 0;
    out->len = 0;
    if (out->data)
        out->data[0] = '\0';
    int fd = open_retry(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && missing) {
            *missing = 1;
            return cce_buf_reserve(out, 0) < 0 ? cce_set_error(err, CCE_E_IO, 0, "out of memory reading %s", path) : 0;
        }
        return cce_set_error(err, CCE_E_IO, 0, "cannot open %s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return cce_set_error(err, CCE_E_IO, 0, "cannot stat %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return cce_set_error(err, CCE_E_IO, 0, "cannot read %s: %s", path, strerror(EISDIR));
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((uintmax_t)st.st_size > CCE_FILE_MAX) {
            close(fd);
            return cce_set_error(err, CCE_E_IO, 0, "cannot read %s: file too large (%jd bytes, the limit is %zu MiB)",
                                 path, (intmax_t)st.st_size, CCE_FILE_MAX >> 20);
        }
        if (cce_buf_reserve(out, (size_t)st.st_size + 1) < 0) { /* +1: EOF seen without a regrow */
            close(fd);
            return cce_set_error(err, CCE_E_IO, 0, "out of memory reading %s", path);
        }
    }
    for (;;) {
        if ((!out->data || out->cap - out->len - 1 == 0) && cce_buf_reserve(out, 4096) < 0) {
            close(fd);
            out->len = 0;
            if (out->data)
                out->data[0] = '\0';
            return cce_set_error(err, CCE_E_IO, 0, "out of memory reading %s", path);
        }
        size_t room = out->cap - out->len - 1;
        ssize_t n = read(fd, out->data + out->len, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            out->len = 0;
            out->data[0] = '\0';
            return cce_set_error(err, CCE_E_IO, 0, "cannot read %s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        if (out->len > CCE_FILE_MAX) {
            close(fd);
            out->len = 0;
            out->data[0] = '\0';
            return cce_set_error(err, CCE_E_IO, 0, "cannot read %s: file too large (over %zu MiB)", path,
                                 CCE_FILE_MAX >> 20);
        }
    }
    close(fd);
    out->data[out->len] = '\0';
    return 0;
}

/* ----------------------------------------------------------- atomic write */

/*
 * write(2) with SIGXFSZ blocked in this thread: past RLIMIT_FSIZE the kernel
 * sends SIGXFSZ (default: kill the process) and write fails with EFBIG.  A
 * SIGXFSZ raised by our own write is taken off the pending set before the
 * mask is restored; one that was pending before is left alone.
 */
static int write_all_nosigxfsz(int fd, const void *data, size_t len)
{
    sigset_t xfsz, old, pend;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    int was_pending = 0;
    int masked = pthread_sigmask(SIG_BLOCK, &xfsz, &old) == 0;
    if (masked && sigpending(&pend) == 0)
        was_pending = sigismember(&pend, SIGXFSZ) == 1;
    int rc = write_all(fd, data, len);
    int e = errno;
    if (masked) {
        if (!was_pending) {
            struct timespec zero = {0, 0};
            while (sigpending(&pend) == 0 && sigismember(&pend, SIGXFSZ) == 1) {
                if (sigtimedwait(&xfsz, NULL, &zero) < 0 && errno != EINTR)
                    break;
            }
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    errno = e;
    return rc;
}

int cce_file_write_atomic(const char *path, const void *data, size_t len, unsigned new_mode, cce_error *err)
{
    return cce_file_write_atomic_mode(path, data, len, new_mode, 0, NULL, err);
}

int cce_file_write_atomic_mode(const char *path, const void *data, size_t len, unsigned new_mode, unsigned clear_mode,
                               unsigned *old_mode, cce_error *err)
{
    if (old_mode)
        *old_mode = 0;
    char *dir = NULL;
    char *target = resolve_target(path, &dir, err);
    if (!target)
        return -1;
    const char *name = strrchr(target, '/') + 1;
    char *tmp = NULL;
    int fd = -1, rc = -1, e = 0;
    const char *step = NULL, *fail_path = NULL;

    struct stat st;
    int exists = stat(target, &st) == 0;
    if (!exists && errno != ENOENT) {
        e = errno;
        cce_set_error(err, CCE_E_IO, 0, "cannot stat %s: %s", target, strerror(e));
        goto out;
    }
    if (exists && S_ISDIR(st.st_mode)) {
        cce_set_error(err, CCE_E_IO, 0, "cannot replace %s: %s", target, strerror(EISDIR));
        goto out;
    }
    if (exists && !S_ISREG(st.st_mode)) { /* /dev/null, a FIFO: renaming over it would replace the device */
        cce_set_error(err, CCE_E_IO, 0, "cannot replace %s: not a regular file", target);
        goto out;
    }
    mode_t mode = exists ? (st.st_mode & 07777 & ~(mode_t)clear_mode) : ((mode_t)new_mode & 07777);
    if (exists && old_mode)
        *old_mode = (unsigned)(st.st_mode & 07777);

    tmp = malloc(strlen(dir) + strlen(name) + 16);
    if (!tmp) {
        cce_set_error(err, CCE_E_IO, 0, "out of memory saving %s", target);
        goto out;
    }
    sprintf(tmp, "%s%s.%s.tmp-XXXXXX", dir, strcmp(dir, "/") == 0 ? "" : "/", name);
    fd = mkstemp(tmp);
    if (fd < 0) {
        e = errno;
        cce_set_error(err, CCE_E_IO, 0, "cannot create a temporary file in %s to save %s: %s", dir, target,
                      strerror(e));
        free(tmp);
        tmp = NULL; /* nothing to clean up */
        goto out;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    fail_path = tmp;

    /* ownership first: chown may clear set-id bits that fchmod then restores */
    if (exists && geteuid() == 0 && (st.st_uid != geteuid() || st.st_gid != getegid()))
        (void)fchown(fd, st.st_uid, st.st_gid);
    if (fchmod(fd, mode) < 0) {
        step = "set the mode of";
        goto syserr;
    }
    if (write_all_nosigxfsz(fd, data, len) < 0) {
        step = "write";
        goto syserr;
    }
    int r;
    do
        r = fsync(fd);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        step = "fsync";
        goto syserr;
    }
    int c = close(fd);
    fd = -1;
    if (c < 0 && errno != EINTR) { /* Linux: after EINTR the descriptor is closed anyway */
        step = "close";
        goto syserr;
    }
    if (rename(tmp, target) < 0) {
        step = "rename";
        goto syserr;
    }
    /* the new name is in place: from here on the temporary file is gone */
    free(tmp);
    tmp = NULL;
    int dfd = open_retry(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd >= 0) {
        do
            r = fsync(dfd);
        while (r < 0 && errno == EINTR);
        e = errno;
        close(dfd);
        /* EINVAL/EROFS/ENOTSUP: this file system does not sync directories */
        if (r < 0 && e != EINVAL && e != EROFS && e != ENOTSUP && e != EOPNOTSUPP) {
            cce_set_error(err, CCE_E_IO, 0, "saved %s but cannot fsync directory %s: %s (the change may not be durable)",
                          target, dir, strerror(e));
            goto out;
        }
    }
    /* a directory we may write but not read (mode -wx) cannot be opened: the rename stands */
    rc = 0;
    goto out;

syserr:
    e = errno;
    if (strcmp(step, "rename") == 0)
        cce_set_error(err, CCE_E_IO, 0, "cannot rename %s to %s: %s (%s is unchanged)", tmp, target, strerror(e), target);
    else if (e == EFBIG)
        cce_set_error(err, CCE_E_IO, 0, "cannot %s %s: %s (file size limit or quota exceeded; %s is unchanged)", step,
                      fail_path, strerror(e), target);
    else
        cce_set_error(err, CCE_E_IO, 0, "cannot %s %s: %s (%s is unchanged)", step, fail_path, strerror(e), target);
out:
    if (fd >= 0)
        close(fd);
    if (tmp && rc < 0)
        unlink(tmp);
    free(tmp);
    free(target);
    free(dir);
    return rc;
}

/* -------------------------------------------------------------- directories */

int cce_dir_create(const char *path, unsigned mode, cce_error *err)
{
    if (!path || !*path)
        return cce_set_error(err, CCE_E_IO, 0, "cannot create a directory with an empty name");
    char *p = cce_strdup(path);
    if (!p)
        return cce_set_error(err, CCE_E_IO, 0, "out of memory creating directory %s", path);
    /* Each prefix in turn, as mkdir -p; only the ones made here get `mode`. */
    size_t n = strlen(p);
    int rc = 0;
    for (size_t i = 1; i <= n && rc == 0; i++) {
        if (i < n && p[i] != '/')
            continue;
        if (i < n && p[i - 1] == '/')
            continue; /* "a//b" */
        char saved = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, (mode_t)mode & 07777) < 0) {
            int e = errno;
            if (e != EEXIST || stat(p, &st) < 0)
                rc = cce_set_error(err, CCE_E_IO, 0, "cannot create directory %s: %s", p, strerror(e));
            else if (!S_ISDIR(st.st_mode))
                rc = cce_set_error(err, CCE_E_IO, 0, "cannot create directory %s: %s exists and is not a directory", path,
                                   p);
        }
        p[i] = saved;
    }
    free(p);
    return rc;
}

/* ------------------------------------------------------------------- lock */

struct cce_lock {
    int fd;        /* the lock file, flock()ed by us */
    dev_t dev;     /* its identity, to remove only our own file */
    ino_t ino;
    char *path;    /* "<realpath>.lock" */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void local_hostname(char *buf, size_t n)
{
    if (gethostname(buf, n) < 0)
        snprintf(buf, n, "unknown");
    buf[n - 1] = '\0';
}

/* What a lock file says about its holder. */
typedef struct lock_info {
    int parsed;          /* "<pid> <host>" was read */
    long pid;
    char host[256];
    time_t mtime;
    int have_mtime;
} lock_info;

static void read_lock_info(int fd, lock_info *li)
{
    char buf[512];
    size_t len = 0;
    memset(li, 0, sizeof *li);
    struct stat st;
    if (fstat(fd, &st) == 0) {
        li->mtime = st.st_mtime;
        li->have_mtime = 1;
    }
    while (len < sizeof buf - 1) {
        ssize_t n = pread(fd, buf + len, sizeof buf - 1 - len, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    char *end;
    errno = 0;
    long pid = strtol(buf, &end, 10);
    if (end == buf || errno || pid <= 0 || pid > INT_MAX || *end != ' ')
        return;
    const char *h = end + 1;
    size_t hl = strcspn(h, "\n");
    if (hl == 0 || hl >= sizeof li->host || h[hl] != '\n')
        return;
    memcpy(li->host, h, hl);
    li->host[hl] = '\0';
    li->pid = pid;
    li->parsed = 1;
}

/*
 * An unheld lock file (we hold its flock): is its holder gone?  A pid of this
 * host that does not exist is gone; anything else (empty - kubectl's -, garbage,
 * another host's, or a live pid that holds no flock, i.e. a recycled pid)
 * only once the file is older than CCE_LOCK_STALE_S.
 */
static int lock_is_stale(const lock_info *li, const char *myhost)
{
    if (li->parsed && strcmp(li->host, myhost) == 0 && kill((pid_t)li->pid, 0) < 0 && errno == ESRCH)
        return 1;
    if (!li->have_mtime)
        return 0;
    time_t now = time(NULL);
    return now - li->mtime > CCE_LOCK_STALE_S;
}

static int locked_error(cce_error *err, const char *target, const char *lockpath, const lock_info *li,
                        int seen, long long waited_ms)
{
    char since[64] = "";
    if (seen && li->have_mtime) {
        struct tm tm;
        time_t t = li->mtime;
        if (localtime_r(&t, &tm))
            strftime(since, sizeof since, " since %H:%M:%S", &tm);
    }
    double w = (double)waited_ms / 1000.0;
    if (seen && li->parsed)
        return cce_set_error(err, CCE_E_LOCKED, 0, "%s is locked by pid %ld on %s%s (%s); waited %.1f s", target,
                             li->pid, li->host, since, lockpath, w);
    return cce_set_error(err, CCE_E_LOCKED, 0, "%s is locked by another program (probably kubectl)%s (%s); waited %.1f s",
                         target, since, lockpath, w);
}

/*
 * Removes `path` if it still is the file open as `fd` (whose flock we hold, so
 * no other breaker can be between its own check and unlink).  1: removed,
 * 0: it is another file now (or gone), -1: unlink failed (errno).
 */
static int unlink_if_same(const char *path, int fd)
{
    struct stat a, b;
    if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
        return 0;
    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return 0;
    if (unlink(path) == 0)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

/*
 * Creates the lock file `lockpath` holding an flock on it and containing
 * `line`.  Returns its descriptor (and *st), -2 when a lock file exists, -3
 * when ours was removed before we got it (try again), -1 on an error (err set).
 *
 * The file is made complete - content written, flock held - under a temporary
 * name and then link()ed to lockpath, which like O_EXCL fails when the name
 * exists.  So a lock file of ours is never seen empty or unheld, even when its
 * maker is killed at the worst moment (an empty one would look like kubectl's
 * and be respected for 30 s).  On a file system without hard links
 * (*use_link is cleared) it is created with O_EXCL, then locked and filled.
 */
static int create_lock(const char *lockpath, const char *line, int *use_link, struct stat *st, cce_error *err)
{
    size_t len = strlen(line);
    int fd, e;
    if (*use_link) {
        struct stat ex;
        if (lstat(lockpath, &ex) == 0)
            return -2; /* no temporary file just to find that out */
        const char *base;
        char *dir = split_dir(lockpath, &base);
        char *tmp = dir ? malloc(strlen(dir) + strlen(base) + 16) : NULL;
        if (!tmp) {
            free(dir);
            return cce_set_error(err, CCE_E_IO, 0, "out of memory creating %s", lockpath);
        }
        sprintf(tmp, "%s%s.%s-XXXXXX", dir, strcmp(dir, "/") == 0 ? "" : "/", base);
        free(dir);
        fd = mkstemp(tmp);
        if (fd < 0) {
            e = errno;
            free(tmp);
            return cce_set_error(err, CCE_E_IO, 0, "cannot create lock file %s: %s", lockpath, strerror(e));
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        int r;
        do
            r = flock(fd, LOCK_EX | LOCK_NB);
        while (r < 0 && errno == EINTR);
        if (r < 0 || write_all(fd, line, len) < 0 || fstat(fd, st) < 0) {
            e = errno;
            unlink(tmp);
            close(fd);
            free(tmp);
            return cce_set_error(err, CCE_E_IO, 0, "cannot create lock file %s: %s", lockpath, strerror(e));
        }
        r = link(tmp, lockpath);
        e = errno;
        struct stat after;
        /* NFS: a retransmitted link() may report failure although the first one worked */
        if (r < 0 && fstat(fd, &after) == 0 && after.st_nlink == st->st_nlink + 1)
            r = 0;
        unlink(tmp);
        free(tmp);
        if (r == 0)
            return fd; /* *st: the same file (dev, ino) */
        close(fd);
        if (e == EEXIST)
            return -2;
        if (e != EPERM && e != ENOTSUP && e != EOPNOTSUPP && e != EMLINK && e != ENOSYS && e != EXDEV)
            return cce_set_error(err, CCE_E_IO, 0, "cannot create lock file %s: %s", lockpath, strerror(e));
        *use_link = 0; /* no hard links here: fall back to O_EXCL */
    }

    fd = open_retry(lockpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        e = errno;
        if (e == EEXIST)
            return -2;
        return cce_set_error(err, CCE_E_IO, 0, "cannot create lock file %s: %s", lockpath, strerror(e));
    }
    /*
     * Someone checking it may hold its flock for a moment (they find it fresh
     * and leave it): wait for them, within reason.
     */
    long long give_up = now_ms() + 2000;
    int r;
    while ((r = flock(fd, LOCK_EX | LOCK_NB)) < 0 && (errno == EWOULDBLOCK || errno == EINTR) && now_ms() < give_up)
        sleep_ms(1);
    if (r < 0 || write_all(fd, line, len) < 0 || fstat(fd, st) < 0) {
        e = errno;
        unlink_if_same(lockpath, fd);
        close(fd);
        return cce_set_error(err, CCE_E_IO, 0, "cannot set up lock file %s: %s", lockpath, strerror(e));
    }
    /* had we been stopped for 30 s before the flock, a breaker might have removed it */
    struct stat now_st;
    if (stat(lockpath, &now_st) < 0 || now_st.st_dev != st->st_dev || now_st.st_ino != st->st_ino) {
        close(fd);
        return -3;
    }
    return fd;
}

cce_lock *cce_lock_acquire(const char *path, long timeout_ms, cce_error *err)
{
    char *dir = NULL;
    char *target = resolve_target(path, &dir, err);
    if (!target)
        return NULL;
    free(dir);
    char *lockpath = str_concat3(target, ".lock", "");
    cce_lock *l = calloc(1, sizeof *l);
    if (!lockpath || !l) {
        cce_set_error(err, CCE_E_IO, 0, "out of memory locking %s", target);
        goto fail;
    }
    l->fd = -1;
    char myhost[256];
    local_hostname(myhost, sizeof myhost);
    if (timeout_ms < 0)
        timeout_ms = 0;
    long long start = now_ms(), deadline = start + timeout_ms;
    unsigned seed = (unsigned)getpid() ^ (unsigned)start ^ (unsigned)(uintptr_t)l;
    lock_info li;
    int seen = 0, chmods = 0;

    char line[320];
    snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), myhost);
    int use_link = 1;

    for (;;) {
        struct stat st = {0};
        int fd = create_lock(lockpath, line, &use_link, &st, err);
        if (fd == -1)
            goto fail;
        if (fd >= 0) {
            l->fd = fd;
            l->dev = st.st_dev;
            l->ino = st.st_ino;
            l->path = lockpath;
            free(target);
            return l;
        }
        if (fd == -3)
            continue; /* our new file was taken for a dead one's: try again */
        int e;

        /* it exists: who has it?  (O_NONBLOCK: a FIFO put there must not hang us in open) */
        fd = open_retry(lockpath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
        if (fd < 0) {
            e = errno;
            if (e == ENOENT)
                continue; /* just released: try again at once */
            struct stat lst;
            if (e != EACCES || stat(lockpath, &lst) < 0) {
                cce_set_error(err, CCE_E_IO, 0, "cannot open lock file %s: %s", lockpath, strerror(e));
                goto fail;
            }
            /*
             * kubectl makes its lock files with mode 0000: unreadable unless
             * we are root.  A fresh one is waited for; an old one of ours is
             * made readable and then judged like any other, under its flock.
             */
            memset(&li, 0, sizeof li);
            li.mtime = lst.st_mtime;
            li.have_mtime = 1;
            seen = 1;
            if (lst.st_uid == geteuid() && time(NULL) - lst.st_mtime > CCE_LOCK_STALE_S && chmods < 3 &&
                chmod(lockpath, 0600) == 0) {
                chmods++;
                continue;
            }
            goto retry_later;
        }
        struct stat fst;
        if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
            /* No writer can ever make or remove its lock there: waiting would be forever. */
            int isfifo = S_ISFIFO(fst.st_mode);
            close(fd);
            cce_set_error(err, CCE_E_LOCKED, 0, "cannot lock %s: its lock file %s is %s, not a regular file (remove it)",
                          target, lockpath, isfifo ? "a FIFO" : "something else");
            goto fail;
        }
        int r;
        do
            r = flock(fd, LOCK_EX | LOCK_NB);
        while (r < 0 && errno == EINTR);
        if (r < 0 && errno != EWOULDBLOCK) {
            e = errno;
            close(fd);
            cce_set_error(err, CCE_E_IO, 0, "cannot lock %s: %s", lockpath, strerror(e));
            goto fail;
        }
        read_lock_info(fd, &li);
        seen = 1;
        if (r == 0 && lock_is_stale(&li, myhost)) {
            /* nobody holds it and its holder is gone: break it, if it still is this file */
            if (unlink_if_same(lockpath, fd) < 0) {
                e = errno;
                close(fd);
                cce_set_error(err, CCE_E_IO, 0, "cannot remove stale lock file %s: %s", lockpath, strerror(e));
                goto fail;
            }
            close(fd);
            continue;
        }
        close(fd);

    retry_later:;
        long long now = now_ms();
        if (now >= deadline) {
            locked_error(err, target, lockpath, &li, seen, now - start);
            goto fail;
        }
        long wait = CCE_LOCK_POLL_MS + (long)(rand_r(&seed) % 11) - 5;
        if (wait > deadline - now)
            wait = (long)(deadline - now);
        sleep_ms(wait);
    }

fail:
    free(lockpath);
    free(l);
    free(target);
    return NULL;
}

void cce_lock_release(cce_lock *l)
{
    if (!l)
        return;
    struct stat st;
    if (stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
        unlink(l->path);
    if (l->fd >= 0)
        close(l->fd); /* drops the flock */
    free(l->path);
    free(l);
}
