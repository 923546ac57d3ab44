/* conffork.c - a check of a configuration file in a short-lived child:
 * libconfig 1.5 (the version of Debian 12) leaks memory on every syntax
 * error and can exit() or hang on input it cannot read, so a file is parsed
 * in a forked child first (plan_load_isolated()), and graced parses it only
 * once the child found nothing wrong.
 * Owns the child from fork to reaping; never logs (see conf.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "parse.h"

/* The child's answer: one record per diagnostic, each followed by the bytes
 * of its file and message, then one ANSWER_DONE. Read by the parent only
 * after the child closed its end, and checked in every length. */
#define ANSWER_DIAG 0x44494147u /* "DIAG" */
#define ANSWER_DONE 0x444f4e45u /* "DONE" */
#define ANSWER_NO_FILE UINT32_MAX
#define ANSWER_MAX (64u << 20) /* bytes in all */

struct answer_rec {
        uint32_t kind;
        int32_t line;      /* DIAG: its line (0: none) */
        uint32_t file_len; /* DIAG: bytes of its file that follow, or ANSWER_NO_FILE */
        uint32_t msg_len;  /* DIAG: bytes of its message that follow */
        uint32_t count;    /* DONE: number of DIAG records before it */
        int32_t result;    /* DONE: what the check returned */
};

static int send_answer(int fd, int result, const struct conf_diags *d)
{
        struct answer_rec done = { .kind = ANSWER_DONE, .count = (uint32_t)d->n, .result = result };
        int r;

        for (size_t i = 0; i < d->n; i++) {
                const struct conf_diag *x = &d->v[i];
                struct answer_rec rec = {
                        .kind = ANSWER_DIAG,
                        .line = x->line,
                        .file_len = x->file ? (uint32_t)strlen(x->file) : ANSWER_NO_FILE,
                        .msg_len = (uint32_t)strlen(x->msg),
                };

                if ((r = write_all(fd, &rec, sizeof(rec))) < 0)
                        return r;
                if (x->file && (r = write_all(fd, x->file, rec.file_len)) < 0)
                        return r;
                if ((r = write_all(fd, x->msg, rec.msg_len)) < 0)
                        return r;
        }
        return write_all(fd, &done, sizeof(done));
}

/* In the child: runs the check, writes the answer, never returns. */
_noreturn_ static void child_main(int fd, const char *path, const struct conf_load_opts *opts, conf_check_fn *check)
{
        struct conf_diags d = { 0 };
        int r;

        /* nothing of graced may outlive it */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        r = check(path, opts, &d);
        /* _exit: no atexit handlers, no stdio buffers of graced's flushed twice */
        _exit(send_answer(fd, r, &d) < 0 ? 3 : 0);
}

/* Parses a complete answer into diags: 1 valid, 0 invalid (diags appended),
 * -EBADMSG when it is incomplete or inconsistent (diags untouched). */
static int parse_answer(const char *buf, size_t len, struct conf_diags *diags)
{
        struct conf_diags got = { 0 };
        struct answer_rec rec;
        size_t at = 0;

        for (;;) {
                if (len - at < sizeof(rec))
                        goto bad;
                memcpy(&rec, buf + at, sizeof(rec));
                at += sizeof(rec);
                if (rec.kind == ANSWER_DONE)
                        break;
                if (rec.kind != ANSWER_DIAG || rec.msg_len > len - at)
                        goto bad;
                if (rec.file_len != ANSWER_NO_FILE && rec.file_len > len - at - rec.msg_len)
                        goto bad;
                got.v = xrealloc(got.v, (got.n + 1) * sizeof(*got.v));
                got.v[got.n] = (struct conf_diag){ .line = rec.line };
                if (rec.file_len != ANSWER_NO_FILE) {
                        got.v[got.n].file = xmalloc(rec.file_len + 1);
                        memcpy(got.v[got.n].file, buf + at, rec.file_len);
                        got.v[got.n].file[rec.file_len] = 0;
                        at += rec.file_len;
                }
                got.v[got.n].msg = xmalloc(rec.msg_len + 1);
                memcpy(got.v[got.n].msg, buf + at, rec.msg_len);
                got.v[got.n].msg[rec.msg_len] = 0;
                at += rec.msg_len;
                got.n++;
        }
        /* nothing after DONE; a valid file has no diagnostics, an invalid one some */
        if (at != len || rec.count != got.n || (rec.result == 0) != (got.n == 0))
                goto bad;
        if (got.n == 0)
                return 1;
        conf_diags_move(diags, &got);
        return 0;

bad:
        conf_diags_clear(&got);
        return -EBADMSG;
}

/* The child's answer, read while it writes it (it may not fit in the
 * pipe) until EOF or timeout. Sets why (WHY_MAX bytes) when it cannot be
 * read whole; the caller frees *buf either way. */
#define WHY_MAX 96
static void read_answer(int fd, usec_t timeout, char **buf, size_t *len, char *why)
{
        usec_t deadline = now_mono() + timeout;
        size_t cap = 0;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                usec_t now = now_mono();
                ssize_t n;
                int r;

                if (now >= deadline) {
                        char d[32];
                        snprintf(why, WHY_MAX, "no answer within %s", format_duration(timeout, d, sizeof(d)));
                        return;
                }
                r = poll(&p, 1, (int)((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (r < 0 && errno != EINTR) {
                        snprintf(why, WHY_MAX, "poll: %s", strerror(errno));
                        return;
                }
                if (r <= 0)
                        continue;
                if (*len == cap) {
                        if (cap >= ANSWER_MAX) {
                                snprintf(why, WHY_MAX, "answer larger than %u bytes", ANSWER_MAX);
                                return;
                        }
                        cap = cap ? 2 * cap : 4096;
                        *buf = xrealloc(*buf, cap);
                }
                n = read(fd, *buf + *len, cap - *len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        snprintf(why, WHY_MAX, "read: %s", strerror(errno));
                        return;
                }
                if (n == 0)
                        return;
                *len += (size_t)n;
        }
}

/* Reaps the child, here, by its pid: graced's SIGCHLD handler (waitpid(-1))
 * never gets to see it. Returns its wait status. */
static int reap(pid_t pid)
{
        int status = 0, r;

        while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
                ;
        if (r < 0) /* SIGCHLD ignored (inherited SIG_IGN): the kernel reaped it */
                status = 0;
        return status;
}

int conf_check_in_child(const char *path, const struct conf_load_opts *opts, conf_check_fn *check, usec_t timeout,
                        struct conf_diags *diags)
{
        char *buf = NULL, why[WHY_MAX] = "";
        size_t len = 0;
        int fds[2], status, r;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(fds[0]);
                safe_close(fds[1]);
                return r;
        }
        if (pid == 0) {
                safe_close(fds[0]);
                child_main(fds[1], path, opts, check);
        }
        /* EOF on fds[0] once the child is gone */
        safe_close(fds[1]);
        read_answer(fds[0], timeout, &buf, &len, why);
        safe_close(fds[0]);
        if (why[0])
                (void)kill(pid, SIGKILL);
        status = reap(pid);

        if (!why[0]) {
                if (WIFSIGNALED(status))
                        snprintf(why, sizeof(why), "killed by %s", signal_name(WTERMSIG(status)));
                else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                        snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
                else if ((r = parse_answer(buf, len, diags)) >= 0) {
                        free(buf);
                        return r > 0 ? 0 : -EINVAL;
                } else
                        snprintf(why, sizeof(why), "incomplete or invalid answer");
        }
        free(buf);
        conf_diags_add(diags, path, 0, "the configuration parser failed: %s", why);
        return -EINVAL;
}
