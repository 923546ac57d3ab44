/* fuzz_common.c - see fuzz.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"

static char *dir;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        (void)remove(path);
        return 0;
}

static void rm_dir(void)
{
        if (dir)
                (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_dir(void)
{
        const char *t = getenv("TMPDIR");

        if (dir)
                return dir;
        dir = xasprintf("%s/graced-fuzz.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
                perror("fuzz: mkdtemp");
                abort();
        }
        atexit(rm_dir);
        return dir;
}

char *fuzz_path(const char *name) { return xasprintf("%s/%s", fuzz_dir(), name); }

void fuzz_write(const char *path, const void *p, size_t n)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0 || write_all(fd, p, n) < 0) {
                fprintf(stderr, "fuzz: writing %s: %s\n", path, strerror(errno));
                abort();
        }
        close(fd);
}

void fuzz_mkdir(const char *path)
{
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                fprintf(stderr, "fuzz: mkdir %s: %s\n", path, strerror(errno));
                abort();
        }
}

void fuzz_log_init(void) { log_setup(LOG_FORMAT_TEXT, LOG_COLOR_NEVER, LOG_DEBUG); }

size_t fuzz_split(const uint8_t *p, size_t n, const char *sep)
{
        const uint8_t *q = memmem(p, n, sep, strlen(sep));

        return q ? (size_t)(q - p) : n;
}

/* ---- fake operations ---- */

usec_t fuzz_now = 1000 * USEC_PER_SEC;
static pid_t next_pid = 1000;

void fuzz_ops_reset(void)
{
        fuzz_now = 1000 * USEC_PER_SEC;
        next_pid = 1000;
}

static usec_t op_now(void *ctx) { return fuzz_now; }

static int op_spawn_worker(void *ctx, struct worker *w, struct spawned *out)
{
        out->pid = next_pid++;
        out->pidfd = -1;
        out->streams = 0;
        return 0;
}

static int op_spawn_hook(void *ctx, struct hook_run *h, struct spawned *out)
{
        out->pid = next_pid++;
        out->pidfd = -1;
        out->streams = 0;
        return 0;
}

static int op_signal(void *ctx, pid_t pid, int pidfd, int sig, bool group) { return 0; }
static void op_notify(void *ctx, const char *msg) {}
static void op_finished(void *ctx, int code) {}
static bool op_group_alive(void *ctx, pid_t pgid) { return false; }
static void op_release(void *ctx, pid_t pid, int pidfd) {}
static int op_probe_start(void *ctx, struct worker *w, enum probe_use use) { return 0; }
static void op_probe_cancel(void *ctx, struct worker *w) {}

const struct sup_ops fuzz_ops = {
        .now = op_now,
        .spawn_worker = op_spawn_worker,
        .spawn_hook = op_spawn_hook,
        .signal = op_signal,
        .notify = op_notify,
        .finished = op_finished,
        .group_alive = op_group_alive,
        .release = op_release,
        .probe_start = op_probe_start,
        .probe_cancel = op_probe_cancel,
};
