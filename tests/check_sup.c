/* check_sup.c - unit tests of the supervisor's policy (sup.c), driven with
 * fake ops and a fake clock: no fork, no real process, no sleep.
 *
 * The fake ops record every action as a line in F.recs:
 *   "spawn NAME"                       a worker's process was started
 *   "hook LABEL"                       a hook/cleanup step was started ("web/pre_stop", "cleanup/flush")
 *   "signal LABEL SIGNAME group|process"
 *   "notify MSG"                       a message for systemd ("READY=1", "STATUS=...")
 *   "finished CODE"
 *   "probe NAME ready|health"          an attempt of a worker's probe began
 *   "cancel NAME"                      the attempt under way was ended
 * and the tests feed events (exec status, exits, end of output, signals,
 * time) and assert on that sequence and on the report's facts.
 *
 * Configurations are written with single quotes for readability; they are
 * turned into double quotes, written to a temporary file and loaded with
 * conf_load() like the real thing. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "parse.h"
#include "plan.h"
#include "sup.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC
#define T0 (1000 * SEC)

/* waitpid statuses */
#define EXITED(code) ((code) << 8)
#define KILLED(sig) (sig)

/* A worker running /bin/true with extra settings. */
#define WK(name, extra) "{ name = '" name "'; command = ['/bin/true']; " extra " }"

/* ---- the fake world ------------------------------------------------------ */

struct pid_label {
        pid_t pid;
        char *label;
};

static struct {
        usec_t now;
        pid_t next_pid;
        char **recs;
        size_t n_recs, cap_recs;
        struct pid_label *pids;
        size_t n_pids;
        unsigned streams;          /* open_streams given to every spawned worker */
        const char *spawn_fail;    /* this worker's spawn fails ... */
        int spawn_err;             /* ... with this -errno */
        const char *hook_fail;     /* this hook's spawn fails */
        bool group_alive;
        int n_finished;
        int exit_code;
        unsigned released;
        pid_t *released_pids;      /* whose pidfd was released, in order */
        const struct worker *probing[8]; /* attempts under way (at most one per worker) */
        int probe_err;             /* probe_start's answer */
        struct sup *s;
} F;

#define S (F.s)

_printf_(1, 2) static void rec(const char *fmt, ...)
{
        va_list ap;
        char *r;

        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&r, fmt, ap), 0);
        va_end(ap);
        if (F.n_recs == F.cap_recs) {
                F.cap_recs = F.cap_recs ? 2 * F.cap_recs : 64;
                F.recs = xrealloc(F.recs, F.cap_recs * sizeof *F.recs);
        }
        F.recs[F.n_recs++] = r;
}

static void clear_recs(void)
{
        for (size_t i = 0; i < F.n_recs; i++)
                free(F.recs[i]);
        F.n_recs = 0;
}

static void add_pid(pid_t pid, const char *label)
{
        F.pids = xrealloc(F.pids, (F.n_pids + 1) * sizeof *F.pids);
        F.pids[F.n_pids++] = (struct pid_label){ pid, xstrdup(label) };
}

static const char *pid_label(pid_t pid)
{
        for (size_t i = F.n_pids; i-- > 0;)
                if (F.pids[i].pid == pid)
                        return F.pids[i].label;
        return "?";
}

static usec_t op_now(void *ctx)
{
        ck_assert_ptr_eq(ctx, &F);
        return F.now;
}

static int op_spawn_worker(void *ctx, struct worker *w, struct spawned *out)
{
        ck_assert_ptr_eq(ctx, &F);
        ck_assert(!worker_alive(w));
        if (F.spawn_fail && strcmp(F.spawn_fail, worker_name(w)) == 0) {
                rec("spawn-failed %s", worker_name(w));
                return F.spawn_err;
        }
        out->pid = F.next_pid++;
        out->pidfd = 1000 + (int)out->pid;
        out->streams = F.streams;
        add_pid(out->pid, worker_name(w));
        rec("spawn %s", worker_name(w));
        return 0;
}

static int op_spawn_hook(void *ctx, struct hook_run *h, struct spawned *out)
{
        ck_assert_ptr_eq(ctx, &F);
        ck_assert_int_eq(h->pid, 0);
        if (F.hook_fail && strcmp(F.hook_fail, h->label) == 0) {
                rec("hook-failed %s", h->label);
                return -ENOENT;
        }
        out->pid = F.next_pid++;
        out->pidfd = 1000 + (int)out->pid;
        add_pid(out->pid, h->label);
        rec("hook %s", h->label);
        return 0;
}

static int op_signal(void *ctx, pid_t pid, int pidfd, int sig, bool group)
{
        ck_assert_ptr_eq(ctx, &F);
        (void)pidfd;
        rec("signal %s %s %s", pid_label(pid), signal_name(sig), group ? "group" : "process");
        return 0;
}

static void op_notify(void *ctx, const char *msg)
{
        ck_assert_ptr_eq(ctx, &F);
        rec("notify %s", msg);
}

static void op_finished(void *ctx, int code)
{
        ck_assert_ptr_eq(ctx, &F);
        F.n_finished++;
        F.exit_code = code;
        rec("finished %d", code);
}

static bool op_group_alive(void *ctx, pid_t pgid)
{
        ck_assert_ptr_eq(ctx, &F);
        (void)pgid;
        return F.group_alive;
}

static void op_release(void *ctx, pid_t pid, int pidfd)
{
        ck_assert_ptr_eq(ctx, &F);
        ck_assert_int_eq(pidfd, 1000 + (int)pid);
        /* once per process: a second release would close someone else's fd */
        for (unsigned i = 0; i < F.released; i++)
                ck_assert_msg(F.released_pids[i] != pid, "pidfd of pid %d released twice", (int)pid);
        F.released_pids = xrealloc(F.released_pids, (F.released + 1) * sizeof *F.released_pids);
        F.released_pids[F.released++] = pid;
}

/* How many times pid's pidfd was released (0 or 1). */
static unsigned released(pid_t pid)
{
        unsigned n = 0;

        for (unsigned i = 0; i < F.released; i++)
                n += F.released_pids[i] == pid;
        return n;
}

static size_t probing_at(const struct worker *w)
{
        for (size_t i = 0; i < ELEMENTSOF(F.probing); i++)
                if (F.probing[i] == w)
                        return i;
        return SIZE_MAX;
}

static int op_probe_start(void *ctx, struct worker *w, enum probe_use use)
{
        ck_assert_ptr_eq(ctx, &F);
        /* never two attempts at once for one worker */
        ck_assert_msg(probing_at(w) == SIZE_MAX, "%s: a probe attempt began while one is under way", worker_name(w));
        rec("probe %s %s", worker_name(w), use == PROBE_READY ? "ready" : "health");
        if (F.probe_err == 0)
                F.probing[probing_at(NULL)] = w;
        return F.probe_err;
}

static void op_probe_cancel(void *ctx, struct worker *w)
{
        size_t i = probing_at(w);

        ck_assert_ptr_eq(ctx, &F);
        /* only an attempt under way, once */
        ck_assert_msg(i != SIZE_MAX, "%s: cancel without an attempt under way", worker_name(w));
        F.probing[i] = NULL;
        rec("cancel %s", worker_name(w));
}

static const struct sup_ops fake_ops = {
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

static void setup(void)
{
        const char *v = getenv("CHECK_SUP_VERBOSE");

        log_setup(LOG_FORMAT_TEXT, LOG_COLOR_NEVER, v && *v ? LOG_DEBUG : LOG_ERR);
        memset(&F, 0, sizeof F);
        F.now = T0;
        F.next_pid = 100;
}

static void capture_abort(void);

static void teardown(void)
{
        capture_abort();
        ck_assert_msg(!F.s || sup_counts_ok(F.s), "the counts of workers by state drifted");
        F.s = sup_free(F.s);
        clear_recs();
        free(F.recs);
        for (size_t i = 0; i < F.n_pids; i++)
                free(F.pids[i].label);
        free(F.pids);
        free(F.released_pids);
        memset(&F, 0, sizeof F);
}

/* ---- building a supervisor ------------------------------------------------ */

/* Loads text (single quotes standing for double quotes) and creates the
 * supervisor (not started). */
static struct conf *load(const char *text)
{
        char path[] = "/tmp/check_sup.XXXXXX";
        int fd = mkstemp(path);
        char *t = xstrdup(text);
        struct conf *c = NULL;
        struct conf_diags d = { 0 };
        struct conf_load_opts o = { .as_root = false };
        int r;

        ck_assert_int_ge(fd, 0);
        for (char *q = t; *q; q++)
                if (*q == '\'')
                        *q = '"';
        ck_assert_int_eq(write_all(fd, t, strlen(t)), 0);
        close(fd);
        free(t);
        r = conf_load(path, &o, &c, &d);
        unlink(path);
        for (size_t i = 0; i < d.n; i++) {
                char *m = conf_diag_format(&d.v[i]);
                fprintf(stderr, "config: %s\n", m);
                free(m);
        }
        conf_diags_clear(&d);
        ck_assert_int_eq(r, 0);
        return c;
}

/* Probe settings and part_of for one worker of a configuration, set on
 * the loaded struct (their syntax is conf.c's, tested there): static data,
 * taken off the struct again before it is freed. */
struct pset {
        const char *name;
        enum ready_mode ready;
        struct conf_probe ready_probe, health;
        char **part_of; /* its names are in `after` too (the text's) */
};

static void apply_psets(struct conf *c, const struct pset *ps, size_t n, bool on)
{
        for (size_t i = 0; i < n; i++) {
                struct conf_worker *w = (struct conf_worker *)conf_find_worker(c, ps[i].name);

                ck_assert_msg(w != NULL, "no worker %s", ps[i].name);
                if (on && ps[i].ready != READY_EXEC)
                        w->ready = ps[i].ready;
                w->ready_probe = on ? ps[i].ready_probe : (struct conf_probe){ 0 };
                w->health = on ? ps[i].health : (struct conf_probe){ 0 };
                w->part_of = on ? ps[i].part_of : NULL;
        }
}

static struct sup *mkp(const char *text, const struct pset *ps, size_t n)
{
        struct conf *c = load(text);
        struct plan *p = NULL;
        struct conf_diags d = { 0 };

        ck_assert_int_eq(plan_build(c, &p, &d), 0);
        conf_diags_clear(&d);
        ck_assert_ptr_null(F.s);
        apply_psets(c, ps, n, true);
        F.s = sup_new(c, p, &fake_ops, &F); /* takes p */
        apply_psets(c, ps, n, false);
        conf_free(c);
        ck_assert_ptr_nonnull(F.s);
        return F.s;
}

static struct sup *mk(const char *text) { return mkp(text, NULL, 0); }

/* Applies text (and ps) as a reload; its result (0, -EBUSY); counts as the log says them. */
static int reloadp(const char *text, const struct pset *ps, size_t n, unsigned counts[4])
{
        struct conf *c = load(text);
        unsigned dummy[4];
        int r;

        apply_psets(c, ps, n, true);
        r = sup_reload(S, c, counts ? counts : dummy);
        apply_psets(c, ps, n, false);
        conf_free(c);
        return r;
}

static int reload(const char *text, unsigned counts[4]) { return reloadp(text, NULL, 0, counts); }

static struct worker *W(const char *name)
{
        struct worker *w = sup_find(S, name);

        ck_assert_msg(w != NULL, "no worker %s", name);
        return w;
}

/* The waitpid status of w's last exit, -1 none. */
static int exit_status(const struct worker *w)
{
        int st = -1;

        (void)worker_has_exit(w, &st);
        return st;
}

static struct hook_run *H(const char *label)
{
        for (size_t i = 0; i < sup_n_workers(S); i++) {
                struct worker *w = sup_worker(S, i);
                if (worker_pre_stop(w)->label && strcmp(worker_pre_stop(w)->label, label) == 0)
                        return (struct hook_run *)worker_pre_stop(w);
                if (worker_post_stop(w)->label && strcmp(worker_post_stop(w)->label, label) == 0)
                        return (struct hook_run *)worker_post_stop(w);
        }
        for (size_t i = 0; i < sup_n_cleanup(S); i++)
                if (strcmp(sup_cleanup(S, i)->label, label) == 0)
                        return (struct hook_run *)sup_cleanup(S, i);
        ck_abort_msg("no hook %s", label);
        return NULL;
}

/* exec succeeded */
static void ready(const char *name)
{
        struct worker *w = W(name);

        ck_assert_msg(worker_alive(w), "%s is not alive", name);
        sup_on_exec_status(S, w, 0, "exec");
}

/* the worker's process ended with a waitpid status */
static void die(const char *name, int status)
{
        struct worker *w = W(name);
        pid_t pid = worker_pid(w);

        ck_assert_msg(worker_alive(w), "%s is not alive", name);
        ck_assert_ptr_eq(sup_find_pid(S, pid), w);
        ck_assert(sup_on_exit(S, pid, status));
        ck_assert_msg(sup_counts_ok(S), "the counts of workers by state drifted");
        /* gone, or already started again (a new pid) */
        ck_assert(!worker_alive(w) || worker_pid(w) != pid);
        ck_assert_ptr_null(sup_find_pid(S, pid));
}

static void eof(const char *name)
{
        struct worker *w = W(name);

        ck_assert_uint_gt(worker_open_streams(w), 0);
        sup_on_stream_eof(S, w, worker_stream_epoch(w));
}

static void eofs(const char *name)
{
        struct worker *w = W(name);

        while (worker_open_streams(w) > 0)
                sup_on_stream_eof(S, w, worker_stream_epoch(w));
}

/* ended and output drained */
static void down(const char *name, int status)
{
        die(name, status);
        eofs(name);
}

static void hook_exit(const char *label, int status)
{
        struct hook_run *h = H(label);

        ck_assert_msg(h->pid != 0, "hook %s is not running", label);
        ck_assert(sup_on_exit(S, h->pid, status));
        ck_assert_int_eq(h->pid, 0);
}

static void at(usec_t t)
{
        ck_assert_uint_ge(t, F.now);
        F.now = t;
        sup_on_time(S);
        ck_assert_msg(sup_counts_ok(S), "the counts of workers by state drifted");
}

static void advance(usec_t d) { at(F.now + d); }

/* Moves the clock to the next deadline and delivers it. */
static void to_next(void)
{
        usec_t d = sup_next_deadline(S);

        ck_assert_msg(d != USEC_INFINITY, "no deadline pending");
        at(d > F.now ? d : F.now);
}

static void sig(int signo) { sup_on_signal(S, signo); }

/* Starts, then reports exec success for every simple worker spawned (and
 * the ones that this lets start) until nothing more is starting. */
static void ready_all(void)
{
        bool again = true;

        while (again) {
                again = false;
                for (size_t i = 0; i < sup_n_workers(S); i++) {
                        struct worker *w = sup_worker(S, i);
                        if (worker_state(w) == WORKER_STARTING && worker_alive(w) && !worker_exec_known(w) &&
                            worker_conf(w)->type == WORKER_TYPE_SIMPLE) {
                                sup_on_exec_status(S, w, 0, "exec");
                                again = true;
                        }
                }
        }
}

static void start_all(void)
{
        sup_start(S);
        ready_all();
}

/* ---- reading the record ---------------------------------------------------- */

static int idx_from(int from, const char *r)
{
        for (size_t i = (size_t)from; i < F.n_recs; i++)
                if (strcmp(F.recs[i], r) == 0)
                        return (int)i;
        return -1;
}

static int idx(const char *r) { return idx_from(0, r); }

static int idx_prefix(const char *p)
{
        for (size_t i = 0; i < F.n_recs; i++)
                if (strncmp(F.recs[i], p, strlen(p)) == 0)
                        return (int)i;
        return -1;
}

static int cnt(const char *r)
{
        int n = 0;

        for (size_t i = 0; i < F.n_recs; i++)
                n += strcmp(F.recs[i], r) == 0;
        return n;
}

static int cnt_prefix(const char *p)
{
        int n = 0;

        for (size_t i = 0; i < F.n_recs; i++)
                n += strncmp(F.recs[i], p, strlen(p)) == 0;
        return n;
}

static void dump(void)
{
        fprintf(stderr, "---- %zu records\n", F.n_recs);
        for (size_t i = 0; i < F.n_recs; i++)
                fprintf(stderr, "  %2zu %s\n", i, F.recs[i]);
}

/* Captures graced's log (stderr) from capture_begin() to capture_end(). */
static int saved_stderr = -1;
static char cap_path[] = "/tmp/check_sup_log.XXXXXX";

static void capture_begin(int level)
{
        int fd = mkstemp(cap_path);

        ck_assert_int_ge(fd, 0);
        log_flush_all();
        saved_stderr = dup(STDERR_FILENO);
        ck_assert_int_ge(saved_stderr, 0);
        ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
        close(fd);
        log_setup(LOG_FORMAT_TEXT, LOG_COLOR_NEVER, level);
}

static char *capture_end(void)
{
        char *text = xcalloc(1, 65536);
        int fd;

        log_flush_all();
        ck_assert_int_ge(dup2(saved_stderr, STDERR_FILENO), 0);
        close(saved_stderr);
        saved_stderr = -1;
        fd = open(cap_path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_ge(read(fd, text, 65535), 0);
        close(fd);
        unlink(cap_path);
        strcpy(cap_path, "/tmp/check_sup_log.XXXXXX");
        log_setup(LOG_FORMAT_TEXT, LOG_COLOR_NEVER, LOG_ERR);
        return text;
}

#define HAS(r) ck_assert_msg(idx(r) >= 0, "missing record \"%s\"", r)
#define HASNT(r) ck_assert_msg(idx(r) < 0, "unexpected record \"%s\"", r)
#define BEFORE(a, b)                                                                                             \
        do {                                                                                                     \
                int ia_ = idx(a), ib_ = idx(b);                                                                  \
                if (ia_ < 0 || ib_ < 0 || ia_ >= ib_)                                                            \
                        dump();                                                                                  \
                ck_assert_msg(ia_ >= 0 && ib_ >= 0 && ia_ < ib_, "\"%s\" (%d) not before \"%s\" (%d)", a, ia_, b, \
                              ib_);                                                                              \
        } while (0)
#define OUTCOME(name, o) ck_assert_str_eq(outcome_name(worker_outcome(W(name))), o)
#define STATE(name, st) ck_assert_str_eq(worker_state_name(worker_state(W(name))), st)
#define STATE_OF(w, st) ck_assert_str_eq(worker_state_name(worker_state(w)), st)
#define NOT_FINISHED() ck_assert_msg(F.n_finished == 0, "finished too early")
#define FINISHED(code)                                                                                           \
        do {                                                                                                     \
                ck_assert_int_eq(F.n_finished, 1);                                                               \
                ck_assert_int_eq(F.exit_code, (code));                                                           \
        } while (0)

static unsigned count_state(enum worker_state st)
{
        unsigned n = 0;

        for (size_t i = 0; i < sup_n_workers(S); i++)
                n += worker_state(sup_worker(S, i)) == st;
        return n;
}

/* Position of worker name in the report's stop order. */
static int stop_pos(const char *name)
{
        size_t n = sup_n_workers(S), got;
        struct worker **order = xcalloc(n ? n : 1, sizeof *order);
        int pos = -1;

        got = sup_stop_order(S, order);
        ck_assert_uint_eq(got, n);
        for (size_t i = 0; i < got; i++) {
                ck_assert_ptr_nonnull(order[i]);
                for (size_t k = 0; k < i; k++)
                        ck_assert_ptr_ne(order[k], order[i]); /* each worker once */
                if (strcmp(worker_name(order[i]), name) == 0)
                        pos = (int)i;
        }
        free(order);
        ck_assert_int_ge(pos, 0);
        return pos;
}

static const char *last_status_before(int before)
{
        for (int i = before - 1; i >= 0; i--)
                if (strncmp(F.recs[i], "notify STATUS=", 14) == 0)
                        return F.recs[i] + strlen("notify STATUS=");
        return NULL;
}

static void capture_abort(void)
{
        if (saved_stderr >= 0)
                free(capture_end());
}

/* ---- starting ----------------------------------------------------------------- */

START_TEST(test_start_respects_after)
{
        mk("workers = (" WK("db", "") "," WK("web", "after = ['db'];") "," WK("cache", "") ");");
        sup_start(S);
        HAS("spawn db");
        HAS("spawn cache");
        HASNT("spawn web");
        STATE("web", "waiting");
        ready("cache");
        HASNT("spawn web");
        ready("db");
        HAS("spawn web");
        BEFORE("spawn db", "spawn web");
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        ready("web");
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        STATE("web", "running");
        STATE("db", "running");
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_START), 1);
}
END_TEST

START_TEST(test_start_two_dependencies)
{
        mk("workers = (" WK("app", "after = ['db', 'queue'];") "," WK("db", "") "," WK("queue", "") ");");
        sup_start(S);
        ck_assert_int_eq(cnt_prefix("spawn "), 2);
        ready("db");
        HASNT("spawn app");
        ready("queue");
        HAS("spawn app");
}
END_TEST

START_TEST(test_start_max_parallel)
{
        mk("supervisor = { max_parallel = 2; };\n"
           "workers = (" WK("a", "") "," WK("b", "") "," WK("c", "") "," WK("d", "") "," WK("e", "") ");");
        sup_start(S);
        ck_assert_int_eq(cnt_prefix("spawn "), 2);
        HAS("spawn a");
        HAS("spawn b");
        ck_assert_uint_eq(count_state(WORKER_STARTING), 2);
        ready("a");
        ck_assert_int_eq(cnt_prefix("spawn "), 3);
        HAS("spawn c");
        ready("b");
        ready("c");
        ck_assert_int_eq(cnt_prefix("spawn "), 5);
        ck_assert_uint_le(count_state(WORKER_STARTING), 2);
        ready("d");
        ready("e");
        ck_assert_int_eq(cnt("notify READY=1"), 1);
}
END_TEST

START_TEST(test_start_max_parallel_counts_notify_wait)
{
        /* a notify worker occupies its slot until READY=1 */
        mk("supervisor = { max_parallel = 1; };\n"
           "workers = (" WK("a", "ready = 'notify';") "," WK("b", "") ");");
        sup_start(S);
        ready("a");
        HASNT("spawn b");
        sup_on_notify(S, W("a"), "READY=1");
        HAS("spawn b");
}
END_TEST

START_TEST(test_oneshot_gates_dependents)
{
        mk("workers = (" WK("migrate", "type = 'oneshot';") "," WK("web", "after = ['migrate'];") ");");
        sup_start(S);
        HAS("spawn migrate");
        ready("migrate"); /* exec is not enough for a oneshot */
        HASNT("spawn web");
        STATE("migrate", "starting");
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        die("migrate", EXITED(0));
        HAS("spawn web");
        STATE("migrate", "exited");
        OUTCOME("migrate", "exited");
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        ready("web");
        ck_assert_int_eq(cnt("notify READY=1"), 1);

        /* shutdown: the oneshot is already done, web is stopped */
        clear_recs();
        sig(SIGTERM);
        HAS("signal web SIGTERM group");
        HASNT("signal migrate SIGTERM group");
        down("web", KILLED(SIGTERM));
        FINISHED(0);
        OUTCOME("web", "stopped");
        OUTCOME("migrate", "exited");
        ck_assert(sup_is_clean(S));
}
END_TEST

START_TEST(test_oneshot_failure_blocks_dependents)
{
        mk("workers = (" WK("migrate", "type = 'oneshot'; restart = 'no';") "," WK("web", "after = ['migrate'];") ","
           WK("cache", "") ");");
        sup_start(S);
        ready("cache");
        ready("migrate");
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        die("migrate", EXITED(1));
        STATE("migrate", "failed");
        OUTCOME("migrate", "failed");
        HASNT("spawn web");
        OUTCOME("web", "not-started");
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_START), -1);

        /* settled: READY=1 once, with a degraded status before it */
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        {
                const char *st = last_status_before(idx("notify READY=1"));
                ck_assert_ptr_nonnull(st);
                ck_assert_msg(strncmp(st, "degraded", 8) == 0, "status before READY=1: %s", st);
        }
        /* nothing later starts web, however long we wait */
        advance(3600 * SEC);
        HASNT("spawn web");
        ck_assert_int_eq(cnt("notify READY=1"), 1);

        sig(SIGTERM);
        down("cache", KILLED(SIGTERM));
        FINISHED(1);
        OUTCOME("migrate", "failed");
        OUTCOME("web", "not-started");
        OUTCOME("cache", "stopped");
        ck_assert(!sup_is_clean(S));
        HASNT("spawn web");
}
END_TEST

START_TEST(test_oneshot_retried_until_success)
{
        mk("workers = (" WK("migrate", "type = 'oneshot'; restart_delay = '1s';") ","
           WK("web", "after = ['migrate'];") ");");
        sup_start(S);
        ready("migrate");
        die("migrate", EXITED(1));
        STATE("migrate", "backoff");
        HASNT("spawn web");
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 1 * SEC);
        to_next();
        ck_assert_int_eq(cnt("spawn migrate"), 2);
        HASNT("spawn web");
        ready("migrate");
        die("migrate", EXITED(0));
        HAS("spawn web");
}
END_TEST

/* ---- failed starts -------------------------------------------------------------- */

START_TEST(test_ready_timeout_counts_as_failed_start)
{
        mk("workers = (" WK("w", "ready = 'notify'; ready_timeout = '2s'; restart_delay = '1s';") ");");
        sup_start(S);
        ready("w");
        STATE("w", "starting");
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 2 * SEC);
        advance(1900 * MSEC);
        HASNT("signal w SIGTERM group");
        at(T0 + 2 * SEC);
        HAS("signal w SIGTERM group");
        STATE("w", "stopping");
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        die("w", KILLED(SIGTERM));
        /* counted as a failed start: restarted after its delay */
        STATE("w", "backoff");
        OUTCOME("w", "failed");
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 3 * SEC);
        to_next();
        ck_assert_int_eq(cnt("spawn w"), 2);
        ck_assert_uint_eq(worker_starts(W("w")), 2);
}
END_TEST

START_TEST(test_ready_timeout_no_restart_fails)
{
        mk("workers = (" WK("w", "ready = 'notify'; ready_timeout = '2s'; restart = 'no';") ","
           WK("dep", "after = ['w'];") ");");
        sup_start(S);
        ready("w");
        at(T0 + 2 * SEC);
        die("w", KILLED(SIGTERM));
        STATE("w", "failed");
        OUTCOME("w", "failed");
        HASNT("spawn dep");
        ck_assert_int_eq(cnt("notify READY=1"), 1); /* settled, degraded */
        ck_assert_int_eq(sup_op_state(S, "w", SUP_OP_START), -1);
}
END_TEST

START_TEST(test_ready_timeout_critical_shuts_down)
{
        mk("workers = (" WK("w", "ready = 'notify'; ready_timeout = '2s'; restart = 'no'; critical = true;") ","
           WK("x", "") ");");
        sup_start(S);
        ready("x");
        ready("w");
        at(T0 + 2 * SEC);
        HAS("signal w SIGTERM group");
        HASNT("signal x SIGTERM group");
        die("w", KILLED(SIGTERM));
        ck_assert(sup_shutting_down(S));
        ck_assert_str_eq(sup_reason(S), "critical worker w failed");
        HAS("notify STOPPING=1");
        HAS("signal x SIGTERM group");
        down("x", KILLED(SIGTERM));
        FINISHED(1);
        /* a critical worker that never got ready: no READY=1 at all */
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        OUTCOME("w", "failed");
        ck_assert(!sup_is_clean(S));
}
END_TEST

/* A critical worker blocked behind a dependency that failed for good can
 * never get ready: graced shuts down and exits 1, without READY=1 (SPEC
 * "systemd": "if a critical worker cannot get ready, graced shuts down and
 * exits 1"; "When a critical worker never gets ready, no READY=1"). */
START_TEST(test_critical_blocked_by_failed_dependency)
{
        mk("workers = (" WK("dep", "restart = 'no';") "," WK("crit", "after = ['dep']; critical = true;") ","
           WK("x", "") ");");
        sup_start(S);
        ready("x");
        sup_on_exec_status(S, W("dep"), ENOENT, "exec");
        die("dep", EXITED(127));
        HASNT("spawn crit");
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        ck_assert(sup_shutting_down(S));
        ck_assert_ptr_nonnull(strstr(sup_reason(S), "critical worker"));
        down("x", KILLED(SIGTERM));
        FINISHED(1);
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        OUTCOME("crit", "not-started");
}
END_TEST

/* A worker behind a blocked worker is blocked too: never started,
 * not-started, and the supervisor still settles and says READY=1. */
START_TEST(test_oneshot_failure_blocks_transitively)
{
        mk("workers = (" WK("init", "type = 'oneshot'; restart = 'no';") "," WK("app", "after = ['init'];") ","
           WK("app2", "after = ['app'];") ");");
        sup_start(S);
        ready("init");
        die("init", EXITED(4));
        STATE("init", "failed");
        HASNT("spawn app");
        HASNT("spawn app2");
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        ck_assert_int_eq(sup_op_state(S, "app2", SUP_OP_START), -1);
        sig(SIGTERM);
        FINISHED(1);
        OUTCOME("app", "not-started");
        OUTCOME("app2", "not-started");
}
END_TEST

/* SPEC "Logging": every state change of a worker is logged; a dependent
 * that will never start because its dependency failed says so. */
START_TEST(test_blocked_dependent_logged)
{
        char *log;

        mk("workers = (" WK("init", "type = 'oneshot'; restart = 'no';") "," WK("app", "after = ['init'];") ");");
        capture_begin(LOG_INFO);
        sup_start(S);
        ready("init");
        die("init", EXITED(4));
        log = capture_end();
        if (!strstr(log, "app: warning: not starting: dependency init failed"))
                fprintf(stderr, "captured log:\n%s", log);
        ck_assert_msg(strstr(log, "app: warning: not starting: dependency init failed") != NULL,
                      "the blocked dependent is not reported in the log");
        free(log);
}
END_TEST

/* Not ready in time is a failed start whatever the exit status the stop
 * produces: a worker that exits 0 on SIGTERM is still restarted (SPEC
 * "Precise points": "Not ready within ready_timeout: the process is
 * stopped (the usual sequence) and counts as a failed start"). */
START_TEST(test_ready_timeout_exit_0_is_failed_start)
{
        mk("workers = (" WK("w", "ready = 'notify'; ready_timeout = '2s'; restart_delay = '1s';") ","
           WK("dep", "after = ['w'];") ");");
        sup_start(S);
        ready("w");
        at(T0 + 2 * SEC);
        HAS("signal w SIGTERM group");
        die("w", EXITED(0));
        STATE("w", "backoff");
        OUTCOME("w", "failed");
        HASNT("spawn dep");
        to_next();
        ck_assert_int_eq(cnt("spawn w"), 2);
}
END_TEST

START_TEST(test_ready_timeout_critical_exit_0)
{
        mk("workers = (" WK("core", "ready = 'notify'; ready_timeout = '300ms'; restart = 'no'; critical = true;") ");");
        sup_start(S);
        ready("core");
        at(T0 + 300 * MSEC);
        HAS("signal core SIGTERM group");
        die("core", EXITED(0));
        STATE("core", "failed");
        ck_assert(sup_shutting_down(S));
        ck_assert_str_eq(sup_reason(S), "critical worker core failed");
        FINISHED(1);
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        HAS("notify STOPPING=1");
}
END_TEST

/* SPEC: "A missed worker watchdog counts as a failure (on-failure and
 * always restart it)", even when the worker exits 0 on its stop signal. */
START_TEST(test_worker_watchdog_exit_0_restarts)
{
        mk("workers = (" WK("dog", "ready = 'notify'; watchdog = '500ms'; restart = 'on-failure'; restart_delay = '100ms';")
           ");");
        sup_start(S);
        ready("dog");
        sup_on_notify(S, W("dog"), "READY=1");
        advance(500 * MSEC);
        HAS("signal dog SIGTERM group");
        die("dog", EXITED(0));
        STATE("dog", "backoff");
        OUTCOME("dog", "failed");
        to_next();
        ck_assert_int_eq(cnt("spawn dog"), 2);
}
END_TEST

START_TEST(test_exec_failure_is_failed_start)
{
        mk("workers = (" WK("w", "restart = 'no';") "," WK("dep", "after = ['w'];") ");");
        sup_start(S);
        sup_on_exec_status(S, W("w"), ENOENT, "exec");
        /* never mistaken for a running worker */
        ck_assert_int_ne(worker_state(W("w")), WORKER_RUNNING);
        HASNT("spawn dep");
        die("w", EXITED(127));
        STATE("w", "failed");
        OUTCOME("w", "failed");
        HASNT("spawn dep");
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        sig(SIGTERM);
        FINISHED(1);
        OUTCOME("w", "failed");
        OUTCOME("dep", "not-started");
        HASNT("spawn dep");
        ck_assert_int_eq(cnt_prefix("signal "), 0);
}
END_TEST

START_TEST(test_exec_failure_restarts_up_to_limit)
{
        mk("workers = (" WK("w", "restart_delay = '1s'; start_limit_burst = 2; start_limit_interval = '1min';") ");");
        sup_start(S);
        sup_on_exec_status(S, W("w"), ENOENT, "exec");
        die("w", EXITED(127));
        STATE("w", "backoff");
        to_next();
        ck_assert_int_eq(cnt("spawn w"), 2);
        sup_on_exec_status(S, W("w"), EACCES, "exec");
        die("w", EXITED(127));
        STATE("w", "failed");
        advance(3600 * SEC);
        ck_assert_int_eq(cnt("spawn w"), 2);
}
END_TEST

START_TEST(test_spawn_failure_is_failed_start)
{
        F.spawn_fail = "w";
        F.spawn_err = -EMFILE;
        mk("workers = (" WK("w", "restart_delay = '1s'; start_limit_burst = 2;") "," WK("x", "") ");");
        sup_start(S);
        HAS("spawn-failed w");
        ck_assert(!worker_alive(W("w")));
        STATE("w", "backoff");
        HAS("spawn x"); /* the failed one does not hold a slot */
        to_next();
        ck_assert_int_eq(cnt("spawn-failed w"), 2);
        STATE("w", "failed");
        OUTCOME("w", "failed");
}
END_TEST

/* ---- restarts ------------------------------------------------------------------- */

START_TEST(test_restart_backoff_doubles)
{
        static const usec_t delays[] = { 1 * SEC, 2 * SEC, 4 * SEC, 4 * SEC, 4 * SEC };

        mk("workers = (" WK("w", "restart_delay = '1s'; restart_delay_max = '4s'; start_limit_burst = 100;"
                                 " start_limit_interval = '1h';") ");");
        start_all();
        advance(500 * MSEC);
        for (size_t i = 0; i < ELEMENTSOF(delays); i++) {
                die("w", EXITED(1));
                STATE("w", "backoff");
                OUTCOME("w", "failed");
                ck_assert_msg(sup_next_deadline(S) == F.now + delays[i], "restart %zu: delay %llu, want %llu", i,
                              (unsigned long long)(sup_next_deadline(S) - F.now), (unsigned long long)delays[i]);
                /* not before the deadline */
                advance(delays[i] - 1);
                ck_assert_int_eq(cnt("spawn w"), (int)i + 1);
                advance(1);
                ck_assert_int_eq(cnt("spawn w"), (int)i + 2);
                ready("w");
                advance(100 * MSEC);
        }
}
END_TEST

START_TEST(test_restart_backoff_resets_after_10s)
{
        mk("workers = (" WK("w", "restart_delay = '1s'; restart_delay_max = '30s'; start_limit_burst = 100;"
                                 " start_limit_interval = '1h';") ");");
        start_all();
        die("w", EXITED(1));
        ck_assert_uint_eq(sup_next_deadline(S) - F.now, 1 * SEC);
        to_next();
        ready("w");
        die("w", EXITED(1));
        ck_assert_uint_eq(sup_next_deadline(S) - F.now, 2 * SEC);
        to_next();
        ready("w");
        die("w", EXITED(1));
        ck_assert_uint_eq(sup_next_deadline(S) - F.now, 4 * SEC);
        to_next();
        ready("w");
        /* ran 9.9s: still counts as a quick failure */
        advance(9900 * MSEC);
        die("w", EXITED(1));
        ck_assert_uint_eq(sup_next_deadline(S) - F.now, 8 * SEC);
        to_next();
        ready("w");
        /* ran 10s: the backoff starts over */
        advance(10 * SEC);
        die("w", EXITED(1));
        ck_assert_uint_eq(sup_next_deadline(S) - F.now, 1 * SEC);
        to_next();
        ready("w");
        die("w", EXITED(1));
        ck_assert_uint_eq(sup_next_deadline(S) - F.now, 2 * SEC);
}
END_TEST

START_TEST(test_start_limit_burst_fails_for_good)
{
        mk("workers = (" WK("w", "restart_delay = '100ms'; start_limit_burst = 3; start_limit_interval = '60s';") ","
           WK("dep", "after = ['w'];") ");");
        sup_start(S);
        for (int i = 1; i <= 3; i++) {
                ck_assert_int_eq(cnt("spawn w"), i);
                ready("w");
                if (i == 1)
                        ready("dep");
                die("w", EXITED(2));
                if (i < 3) {
                        STATE("w", "backoff");
                        to_next();
                }
        }
        /* at most 3 starts within the interval */
        STATE("w", "failed");
        OUTCOME("w", "failed");
        ck_assert_uint_eq(worker_starts(W("w")), 3);
        ck_assert_uint_eq(sup_next_deadline(S), USEC_INFINITY);
        advance(3600 * SEC);
        ck_assert_int_eq(cnt("spawn w"), 3);
        ck_assert_int_eq(sup_op_state(S, "w", SUP_OP_START), -1);
}
END_TEST

START_TEST(test_start_limit_only_within_interval)
{
        mk("workers = (" WK("w", "restart_delay = '2s'; restart_delay_max = '2s'; start_limit_burst = 2;"
                                 " start_limit_interval = '1s';") ");");
        sup_start(S);
        for (int i = 1; i <= 6; i++) {
                ck_assert_int_eq(cnt("spawn w"), i);
                ready("w");
                die("w", EXITED(1));
                STATE("w", "backoff");
                to_next();
        }
        ck_assert_int_eq(cnt("spawn w"), 7);
}
END_TEST

/* start_limit_burst = 1: the start before is the last one (its time is
 * kept from the first start on, also before there is a ring of starts). */
START_TEST(test_start_limit_burst_one)
{
        mk("workers = (" WK("w", "restart_delay = '1s'; start_limit_burst = 1; start_limit_interval = '5s';") ","
           WK("q", "restart_delay = '1s'; start_limit_burst = 1; start_limit_interval = '5s';") ");");
        start_all();
        /* q fails at once after its first start: it would start again within 5s */
        die("q", EXITED(1));
        STATE("q", "failed");
        ck_assert_int_eq(cnt("spawn q"), 1);
        /* w ran long enough: restarted (in 1s); then it fails 1s after that
         * start and would start again 2s later, within 5s of it */
        advance(6 * SEC);
        die("w", EXITED(1));
        STATE("w", "backoff");
        to_next();
        ck_assert_int_eq(cnt("spawn w"), 2);
        ready("w");
        advance(1 * SEC);
        die("w", EXITED(1));
        STATE("w", "failed");
        ck_assert_int_eq(cnt("spawn w"), 2);
}
END_TEST

START_TEST(test_restart_always_after_exit_0)
{
        mk("workers = (" WK("always", "restart = 'always'; restart_delay = '1s';") ","
           WK("onfail", "restart = 'on-failure';") "," WK("never", "restart = 'no';") ");");
        start_all();
        die("always", EXITED(0));
        die("onfail", EXITED(0));
        die("never", EXITED(3));
        STATE("always", "backoff");
        STATE("onfail", "exited");
        OUTCOME("onfail", "exited");
        STATE("never", "failed");
        OUTCOME("never", "failed");
        advance(1 * SEC);
        ck_assert_int_eq(cnt("spawn always"), 2);
        advance(3600 * SEC);
        ck_assert_int_eq(cnt("spawn onfail"), 1);
        ck_assert_int_eq(cnt("spawn never"), 1);
}
END_TEST

START_TEST(test_critical_failed_shuts_down)
{
        mk("workers = (" WK("c", "critical = true; restart = 'on-failure'; restart_delay = '1s';"
                                 " start_limit_burst = 2;") "," WK("x", "") ");");
        start_all();
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        /* a failure that will be restarted is not the end */
        die("c", EXITED(1));
        ck_assert(!sup_shutting_down(S));
        to_next();
        ready("c");
        die("c", EXITED(1));
        /* failed for good */
        ck_assert(sup_shutting_down(S));
        ck_assert_str_eq(sup_reason(S), "critical worker c failed");
        HAS("notify STOPPING=1");
        HAS("signal x SIGTERM group");
        NOT_FINISHED();
        down("x", KILLED(SIGTERM));
        FINISHED(1);
        ck_assert(!sup_is_clean(S));
        OUTCOME("c", "failed");
        OUTCOME("x", "stopped");
        ck_assert_int_eq(cnt("spawn c"), 2);
}
END_TEST

/* ---- stopping in order ---------------------------------------------------------------- */

START_TEST(test_shutdown_chain_order)
{
        F.streams = 2;
        mk("workers = (" WK("a", "") "," WK("b", "after = ['a'];") "," WK("c", "after = ['b']; post_stop = ['/bin/true'];")
           ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        HAS("signal c SIGTERM group");
        HASNT("signal b SIGTERM group");
        HASNT("signal a SIGTERM group");

        /* c must be fully down: exit, output drained, post_stop done */
        die("c", KILLED(SIGTERM));
        HASNT("signal b SIGTERM group");
        eof("c");
        HASNT("hook c/post_stop");
        HASNT("signal b SIGTERM group");
        eof("c");
        HAS("hook c/post_stop");
        HASNT("signal b SIGTERM group");
        hook_exit("c/post_stop", EXITED(0));
        HAS("signal b SIGTERM group");
        HASNT("signal a SIGTERM group");

        die("b", KILLED(SIGTERM));
        HASNT("signal a SIGTERM group");
        eofs("b");
        HAS("signal a SIGTERM group");
        NOT_FINISHED();
        die("a", KILLED(SIGTERM));
        NOT_FINISHED();
        eofs("a");
        FINISHED(0);

        BEFORE("signal c SIGTERM group", "signal b SIGTERM group");
        BEFORE("signal b SIGTERM group", "signal a SIGTERM group");
        ck_assert_int_eq(stop_pos("c"), 0);
        ck_assert_int_eq(stop_pos("b"), 1);
        ck_assert_int_eq(stop_pos("a"), 2);
        OUTCOME("a", "stopped");
        OUTCOME("b", "stopped");
        OUTCOME("c", "stopped");
        ck_assert_str_eq(outcome_name(worker_post_stop(W("c"))->outcome), "ok");
        ck_assert_int_eq(worker_stop_signal_sent(W("a")), SIGTERM);
        ck_assert(sup_is_clean(S));
        ck_assert_str_eq(sup_reason(S), "SIGTERM");
        ck_assert(!sup_forced(S));
        STATE("a", "down");
}
END_TEST

START_TEST(test_shutdown_diamond)
{
        mk("workers = (" WK("a", "") "," WK("b", "after = ['a'];") "," WK("c", "after = ['a'];") ","
           WK("d", "after = ['b', 'c'];") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        ck_assert_int_eq(cnt_prefix("signal "), 2); /* SIGTERM + SIGCONT */
        HAS("signal d SIGTERM group");
        down("d", KILLED(SIGTERM));
        /* b and c in parallel */
        HAS("signal b SIGTERM group");
        HAS("signal c SIGTERM group");
        HASNT("signal a SIGTERM group");
        down("b", KILLED(SIGTERM));
        HASNT("signal a SIGTERM group");
        down("c", KILLED(SIGTERM));
        HAS("signal a SIGTERM group");
        down("a", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert_int_eq(stop_pos("d"), 0);
        ck_assert_int_eq(stop_pos("a"), 3);
}
END_TEST

static unsigned stopping_now(void) { return count_state(WORKER_STOPPING); }

static void independent_stop(unsigned max_parallel)
{
        char *text = xasprintf("supervisor = { max_parallel = %u; };\nworkers = (" WK("w1", "") "," WK("w2", "") ","
                               WK("w3", "") "," WK("w4", "") ");", max_parallel);
        unsigned most = 0, n_down = 0;

        mk(text);
        free(text);
        start_all();
        ck_assert_uint_eq(count_state(WORKER_RUNNING), 4);
        clear_recs();
        sig(SIGTERM);
        ck_assert_int_eq(cnt_prefix("signal "), 2 * (int)(max_parallel < 4 ? max_parallel : 4));
        while (n_down < 4) {
                unsigned st = stopping_now();
                most = st > most ? st : most;
                ck_assert_uint_gt(st, 0);
                for (size_t i = 0; i < 4; i++) {
                        struct worker *w = sup_worker(S, i);
                        if (worker_state(w) == WORKER_STOPPING && worker_alive(w)) {
                                down(worker_name(w), KILLED(SIGTERM));
                                n_down++;
                                break;
                        }
                }
        }
        ck_assert_uint_eq(most, max_parallel < 4 ? max_parallel : 4);
        ck_assert_int_eq(cnt_prefix("signal "), 8);
        FINISHED(0);
}

START_TEST(test_shutdown_max_parallel_1)
{
        independent_stop(1);
}
END_TEST

START_TEST(test_shutdown_max_parallel_4)
{
        independent_stop(4);
}
END_TEST

START_TEST(test_shutdown_max_parallel_2)
{
        independent_stop(2);
}
END_TEST

START_TEST(test_pre_stop_before_signal)
{
        mk("workers = (" WK("w", "pre_stop = ['/bin/true']; pre_stop_timeout = '5s';") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        HAS("hook w/pre_stop");
        HASNT("signal w SIGTERM group");
        advance(4 * SEC);
        HASNT("signal w SIGTERM group");
        hook_exit("w/pre_stop", EXITED(0));
        HAS("signal w SIGTERM group");
        BEFORE("hook w/pre_stop", "signal w SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "ok");
        ck_assert_int_eq(worker_pre_stop(W("w"))->exit_code, 0);
        ck_assert_uint_eq(worker_pre_stop(W("w"))->ended - worker_pre_stop(W("w"))->started, 4 * SEC);
        down("w", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert(sup_is_clean(S));
}
END_TEST

START_TEST(test_pre_stop_failure_recorded_stop_goes_on)
{
        mk("workers = (" WK("w", "pre_stop = ['/bin/false'];") ");");
        start_all();
        sig(SIGTERM);
        hook_exit("w/pre_stop", EXITED(3));
        HAS("signal w SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "failed");
        ck_assert_int_eq(worker_pre_stop(W("w"))->exit_code, 3);
        down("w", KILLED(SIGTERM));
        FINISHED(1);
        OUTCOME("w", "stopped");
        ck_assert(!sup_is_clean(S));
}
END_TEST

START_TEST(test_pre_stop_spawn_failure)
{
        F.hook_fail = "w/pre_stop";
        mk("workers = (" WK("w", "pre_stop = ['/nonexistent'];") ");");
        start_all();
        sig(SIGTERM);
        HAS("hook-failed w/pre_stop");
        HAS("signal w SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "failed");
        down("w", KILLED(SIGTERM));
        FINISHED(1);
}
END_TEST

START_TEST(test_pre_stop_timeout)
{
        mk("workers = (" WK("w", "pre_stop = ['/bin/sleep', '100']; pre_stop_timeout = '2s'; stop_timeout = '10s';") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        advance(1999 * MSEC);
        HASNT("signal w/pre_stop SIGKILL group");
        HASNT("signal w SIGTERM group");
        advance(1 * MSEC);
        HAS("signal w/pre_stop SIGKILL group");
        HAS("signal w SIGTERM group");
        BEFORE("signal w/pre_stop SIGKILL group", "signal w SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "timeout");
        down("w", KILLED(SIGTERM));
        /* the killed hook is still to be reaped */
        NOT_FINISHED();
        hook_exit("w/pre_stop", KILLED(SIGKILL));
        FINISHED(1);
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "timeout");
        OUTCOME("w", "stopped");
        ck_assert(!sup_is_clean(S));
}
END_TEST

/* A pre_stop killed at its timeout but never reaped (a process stuck in
 * uninterruptible sleep: SIGKILL sent, the exit never comes). The worker
 * is started again and stopped again: the hook is not started beside its
 * first run (never two runs of one hook, never an overwritten pid/pidfd).
 * The new stop waits for the old run up to pre_stop_timeout, then skips
 * the hook (not clean) and goes on; the old run's exit, when it comes at
 * last, is matched to its hook (not an orphan) and its pidfd released
 * once; the next stop runs the hook again. */
START_TEST(test_pre_stop_unreaped_not_run_twice)
{
        pid_t first;
        char *log;

        mk("workers = (" WK("w", "pre_stop = ['/bin/sleep', '100']; pre_stop_timeout = '2s'; stop_timeout = '10s';") ");");
        start_all();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        HAS("hook w/pre_stop");
        first = H("w/pre_stop")->pid;
        advance(2 * SEC);
        HAS("signal w/pre_stop SIGKILL group");
        down("w", KILLED(SIGTERM));
        STATE("w", "down");
        ck_assert_int_eq(H("w/pre_stop")->pid, first); /* not reaped */
        ck_assert_uint_eq(released(first), 0);

        /* started again, stopped again */
        ck_assert_int_eq(sup_start_worker(S, "w"), 0);
        ready("w");
        STATE("w", "running");
        clear_recs();
        capture_begin(LOG_INFO);
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        STATE("w", "stopping");
        ck_assert_int_eq(cnt("hook w/pre_stop"), 0);
        ck_assert_int_eq(H("w/pre_stop")->pid, first);
        HASNT("signal w SIGTERM group"); /* waiting for the old run */
        advance(1999 * MSEC);
        HASNT("signal w SIGTERM group");
        advance(1 * MSEC);
        HAS("signal w SIGTERM group");
        ck_assert_int_eq(cnt("hook w/pre_stop"), 0);
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "skipped");
        down("w", KILLED(SIGTERM));
        STATE("w", "down");
        ck_assert_int_eq(H("w/pre_stop")->pid, first);

        /* the old run ends at last: its hook's, not an orphan; released once */
        ck_assert_ptr_null(sup_find_pid(S, first));
        ck_assert(sup_on_exit(S, first, KILLED(SIGKILL)));
        ck_assert_int_eq(H("w/pre_stop")->pid, 0);
        ck_assert_int_eq(H("w/pre_stop")->pidfd, -1);
        ck_assert_uint_eq(released(first), 1);
        ck_assert(!sup_on_exit(S, first, KILLED(SIGKILL))); /* once only */
        ck_assert_uint_eq(released(first), 1);
        /* this stop's record stays its own */
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "skipped");
        log = capture_end();
        if (!strstr(log, "w: warning: pre_stop: previous run (pid ") || !strstr(log, "still running; skipped") ||
            !strstr(log, "previous run (pid ") || !strstr(log, "ended at last (killed by SIGKILL)"))
                fprintf(stderr, "captured log:\n%s", log);
        ck_assert_ptr_nonnull(strstr(log, "w: warning: pre_stop: previous run (pid "));
        ck_assert_ptr_nonnull(strstr(log, "still running; skipped"));
        ck_assert_ptr_nonnull(strstr(log, "ended at last (killed by SIGKILL)"));
        free(log);

        /* the next stop runs the hook as usual */
        ck_assert_int_eq(sup_start_worker(S, "w"), 0);
        ready("w");
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        HAS("hook w/pre_stop");
        HASNT("signal w SIGTERM group");
        hook_exit("w/pre_stop", EXITED(0));
        HAS("signal w SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "ok");
        down("w", KILLED(SIGTERM));

        /* a shutdown: every pidfd released once, clean again */
        sig(SIGTERM);
        FINISHED(0);
        for (size_t i = 0; i < F.n_pids; i++)
                ck_assert_msg(released(F.pids[i].pid) == 1, "pid %d (%s) released %u times", (int)F.pids[i].pid,
                              F.pids[i].label, released(F.pids[i].pid));
}
END_TEST

/* The same, the old run ending while the new stop waits for it: the hook
 * then runs, in what is left of pre_stop_timeout (the stop stays within
 * its bound), and is killed at the end of it. */
START_TEST(test_pre_stop_previous_run_ends_during_wait)
{
        pid_t first, second;

        mk("workers = (" WK("w", "pre_stop = ['/bin/sleep', '100']; pre_stop_timeout = '2s';") ");");
        start_all();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        first = H("w/pre_stop")->pid;
        advance(2 * SEC);
        down("w", KILLED(SIGTERM));
        ck_assert_int_eq(sup_start_worker(S, "w"), 0);
        ready("w");
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        HASNT("hook w/pre_stop");
        advance(500 * MSEC);
        ck_assert(sup_on_exit(S, first, KILLED(SIGKILL)));
        ck_assert_uint_eq(released(first), 1);
        HAS("hook w/pre_stop");
        second = H("w/pre_stop")->pid;
        ck_assert_int_ne(second, first);
        HASNT("signal w SIGTERM group");
        advance(1499 * MSEC);
        HASNT("signal w/pre_stop SIGKILL group");
        advance(1 * MSEC);
        HAS("signal w/pre_stop SIGKILL group");
        HAS("signal w SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "timeout");
        down("w", KILLED(SIGTERM));
        hook_exit("w/pre_stop", KILLED(SIGKILL));
        ck_assert_uint_eq(released(second), 1);
        ck_assert_uint_eq(worker_pre_stop(W("w"))->ended - worker_pre_stop(W("w"))->started, 1500 * MSEC);
}
END_TEST

/* The path without gracectl: a notify worker never ready is stopped (its
 * pre_stop times out and is never reaped), restarted, and stopped again at
 * its next ready_timeout: no second run of the hook. Then a shutdown that
 * is forced while the stop waits: the hook is skipped, the old run killed
 * again, and graced finishes once it is reaped (pidfd released once). */
START_TEST(test_pre_stop_unreaped_failed_start_and_force)
{
        pid_t first;

        mk("workers = (" WK("w", "ready = 'notify'; ready_timeout = '1s'; restart_delay = '100ms';"
                                 "pre_stop = ['/bin/sleep', '100']; pre_stop_timeout = '2s';") ");");
        sup_start(S);
        ready("w");
        at(T0 + 1 * SEC);
        HAS("hook w/pre_stop");
        first = H("w/pre_stop")->pid;
        advance(2 * SEC);
        HAS("signal w/pre_stop SIGKILL group");
        die("w", KILLED(SIGTERM));
        STATE("w", "backoff");
        to_next();
        ck_assert_int_eq(cnt("spawn w"), 2);
        ready("w");
        clear_recs();
        to_next(); /* not ready again: stopped again */
        STATE("w", "stopping");
        HASNT("hook w/pre_stop");
        HASNT("signal w SIGTERM group");
        ck_assert_int_eq(H("w/pre_stop")->pid, first);

        sig(SIGQUIT);
        HAS("signal w/pre_stop SIGKILL group");
        HAS("signal w SIGKILL group");
        HASNT("hook w/pre_stop");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "skipped");
        die("w", KILLED(SIGKILL));
        NOT_FINISHED(); /* the old run is still to be reaped */
        ck_assert(sup_on_exit(S, first, KILLED(SIGKILL)));
        ck_assert_uint_eq(released(first), 1);
        FINISHED(1);
        ck_assert_int_eq(cnt("hook w/pre_stop"), 0);
}
END_TEST

START_TEST(test_post_stop_after_exit_and_drain)
{
        F.streams = 2;
        mk("workers = (" WK("w", "post_stop = ['/bin/true']; post_stop_timeout = '3s';") ");");
        start_all();
        sig(SIGTERM);
        HASNT("hook w/post_stop");
        eof("w"); /* output may end before the process */
        HASNT("hook w/post_stop");
        die("w", KILLED(SIGTERM));
        HASNT("hook w/post_stop");
        eof("w");
        HAS("hook w/post_stop");
        BEFORE("signal w SIGTERM group", "hook w/post_stop");
        NOT_FINISHED();
        hook_exit("w/post_stop", EXITED(0));
        FINISHED(0);
        ck_assert_str_eq(outcome_name(worker_post_stop(W("w"))->outcome), "ok");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "none");
}
END_TEST

START_TEST(test_post_stop_timeout)
{
        mk("workers = (" WK("w", "post_stop = ['/bin/sleep', '9']; post_stop_timeout = '3s';") ");");
        start_all();
        sig(SIGTERM);
        down("w", KILLED(SIGTERM));
        HAS("hook w/post_stop");
        advance(3 * SEC);
        HAS("signal w/post_stop SIGKILL group");
        ck_assert_str_eq(outcome_name(worker_post_stop(W("w"))->outcome), "timeout");
        NOT_FINISHED();
        hook_exit("w/post_stop", KILLED(SIGKILL));
        FINISHED(1);
        ck_assert_str_eq(outcome_name(worker_post_stop(W("w"))->outcome), "timeout");
}
END_TEST

START_TEST(test_stop_timeout_kills)
{
        mk("workers = (" WK("w", "stop_timeout = '3s';") "," WK("p", "stop_timeout = '3s'; kill_mode = 'process';"
                                                               " stop_signal = 'INT';") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        HAS("signal w SIGTERM group");
        HAS("signal p SIGINT process");
        advance(2999 * MSEC);
        HASNT("signal w SIGKILL group");
        advance(1 * MSEC);
        HAS("signal w SIGKILL group");
        HAS("signal p SIGKILL process");
        STATE("w", "stopping");
        down("w", KILLED(SIGKILL));
        down("p", KILLED(SIGKILL));
        FINISHED(1);
        OUTCOME("w", "killed");
        OUTCOME("p", "killed");
        ck_assert_int_eq(worker_stop_signal_sent(W("p")), SIGINT);
        ck_assert(!sup_is_clean(S));
}
END_TEST

START_TEST(test_stop_exit_code_after_signal_is_stopped)
{
        /* ended within stop_timeout after the stop signal: stopped, whatever its exit code */
        mk("workers = (" WK("w", "") ");");
        start_all();
        sig(SIGTERM);
        down("w", EXITED(0));
        FINISHED(0);
        OUTCOME("w", "stopped");
}
END_TEST

START_TEST(test_group_outlives_leader)
{
        mk("workers = (" WK("w", "stop_timeout = '3s';") ");");
        start_all();
        sig(SIGTERM);
        F.group_alive = true;
        advance(100 * MSEC);
        down("w", KILLED(SIGTERM));
        /* looks again (backoff) until the group is gone or the timeout */
        while (F.now < T0 + 3 * SEC) {
                HASNT("signal w SIGKILL group");
                NOT_FINISHED();
                to_next();
        }
        ck_assert_uint_eq(F.now, T0 + 3 * SEC);
        /* what is left of the group gets SIGKILL at stop_timeout */
        HAS("signal w SIGKILL group");
        F.group_alive = false;
        if (!F.n_finished)
                to_next();
        FINISHED(0);
}
END_TEST

START_TEST(test_group_gone_early)
{
        mk("workers = (" WK("w", "stop_timeout = '3s';") ");");
        start_all();
        sig(SIGTERM);
        F.group_alive = true;
        down("w", KILLED(SIGTERM));
        NOT_FINISHED();
        to_next();
        NOT_FINISHED();
        F.group_alive = false;
        to_next();
        FINISHED(0);
        HASNT("signal w SIGKILL group");
        ck_assert_uint_lt(F.now, T0 + 1 * SEC);
}
END_TEST

START_TEST(test_drain_bounded)
{
        F.streams = 2;
        mk("workers = (" WK("w", "stop_timeout = '3s';") ");");
        start_all();
        sig(SIGTERM);
        die("w", KILLED(SIGTERM));
        eof("w");
        NOT_FINISHED();
        /* a grandchild holds the pipe: graced stops waiting after a bound */
        to_next();
        FINISHED(0);
        ck_assert_uint_le(F.now, T0 + 3 * SEC);
}
END_TEST

START_TEST(test_cleanup_in_order)
{
        mk("supervisor = { cleanup = ( { name = 'one'; command = ['/bin/true']; timeout = '2s'; },"
           " { name = 'two'; command = ['/bin/true']; }, { name = 'three'; command = ['/bin/true']; } ); };\n"
           "workers = (" WK("w", "") ");");
        start_all();
        sig(SIGTERM);
        HASNT("hook cleanup/one");
        down("w", KILLED(SIGTERM));
        HAS("hook cleanup/one");
        HASNT("hook cleanup/two");
        /* a step that times out is killed, the next one runs */
        advance(2 * SEC);
        HAS("signal cleanup/one SIGKILL group");
        HASNT("hook cleanup/two");
        hook_exit("cleanup/one", KILLED(SIGKILL));
        HAS("hook cleanup/two");
        HASNT("hook cleanup/three");
        hook_exit("cleanup/two", EXITED(1));
        HAS("hook cleanup/three");
        NOT_FINISHED();
        hook_exit("cleanup/three", EXITED(0));
        FINISHED(1);
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 0)->outcome), "timeout");
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 1)->outcome), "failed");
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 2)->outcome), "ok");
        ck_assert(!sup_is_clean(S));
}
END_TEST

START_TEST(test_cleanup_ok_is_clean)
{
        mk("supervisor = { cleanup = ( { name = 'one'; command = ['/bin/true']; } ); };\n"
           "workers = (" WK("w", "") ");");
        start_all();
        sig(SIGINT);
        down("w", KILLED(SIGTERM));
        hook_exit("cleanup/one", EXITED(0));
        FINISHED(0);
        ck_assert(sup_is_clean(S));
        ck_assert_str_eq(sup_reason(S), "SIGINT");
}
END_TEST

/* ---- signals ------------------------------------------------------------------------------ */

START_TEST(test_signal_debounce)
{
        mk("supervisor = { signal_debounce = '500ms'; force_after = 2; };\n"
           "workers = (" WK("w", "stop_timeout = '30s';") ");");
        start_all();
        sig(SIGTERM);
        ck_assert(sup_shutting_down(S));
        F.now += 200 * MSEC;
        sig(SIGINT); /* within the window: ignored */
        ck_assert(!sup_forced(S));
        HASNT("signal w SIGKILL group");
        F.now += 200 * MSEC;
        sig(SIGTERM); /* still within 500ms of the accepted one */
        ck_assert(!sup_forced(S));
        F.now += 200 * MSEC; /* 600ms after the first (accepted) one */
        sig(SIGTERM);
        ck_assert(sup_forced(S));
        HAS("signal w SIGKILL group");
        down("w", KILLED(SIGKILL));
        FINISHED(1);
        OUTCOME("w", "killed");
}
END_TEST

START_TEST(test_signal_debounce_zero)
{
        mk("supervisor = { signal_debounce = 0; };\n"
           "workers = (" WK("w", "stop_timeout = '30s';") ");");
        start_all();
        sig(SIGTERM);
        sig(SIGTERM);
        ck_assert(sup_forced(S));
}
END_TEST

START_TEST(test_force_after_3)
{
        mk("supervisor = { force_after = 3; };\n"
           "workers = (" WK("w", "stop_timeout = '30s';") ");");
        start_all();
        sig(SIGTERM);
        F.now += 1 * SEC;
        sig(SIGTERM);
        ck_assert(!sup_forced(S));
        F.now += 1 * SEC;
        sig(SIGINT);
        ck_assert(sup_forced(S));
}
END_TEST

START_TEST(test_force_after_1)
{
        mk("supervisor = { force_after = 1; };\n"
           "workers = (" WK("w", "stop_timeout = '30s'; pre_stop = ['/bin/true'];") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        ck_assert(sup_shutting_down(S));
        ck_assert(sup_forced(S));
        HAS("signal w SIGKILL group");
        HASNT("signal w SIGTERM group");
        HASNT("hook w/pre_stop");
}
END_TEST

START_TEST(test_force_after_0_never)
{
        mk("supervisor = { force_after = 0; };\n"
           "workers = (" WK("w", "stop_timeout = '30s';") ");");
        start_all();
        for (int i = 0; i < 10; i++) {
                sig(i % 2 ? SIGINT : SIGTERM);
                F.now += 1 * SEC;
        }
        ck_assert(sup_shutting_down(S));
        ck_assert(!sup_forced(S));
        HASNT("signal w SIGKILL group");
        /* SIGQUIT still forces */
        sig(SIGQUIT);
        ck_assert(sup_forced(S));
        HAS("signal w SIGKILL group");
}
END_TEST

START_TEST(test_sigquit_forces_at_once)
{
        mk("workers = (" WK("a", "pre_stop = ['/bin/true'];") "," WK("b", "after = ['a'];") ");");
        start_all();
        clear_recs();
        sig(SIGQUIT);
        ck_assert(sup_shutting_down(S));
        ck_assert(sup_forced(S));
        ck_assert_str_eq(sup_reason(S), "SIGQUIT");
        /* every worker at once, no ordering, no graceful signal, no hook */
        HAS("signal a SIGKILL group");
        HAS("signal b SIGKILL group");
        HASNT("signal a SIGTERM group");
        HASNT("signal b SIGTERM group");
        HASNT("hook a/pre_stop");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("a"))->outcome), "skipped");
        HAS("notify STOPPING=1");
        down("a", KILLED(SIGKILL));
        down("b", KILLED(SIGKILL));
        FINISHED(1);
        OUTCOME("a", "killed");
        OUTCOME("b", "killed");
}
END_TEST

START_TEST(test_sigusr1_and_unknown)
{
        mk("workers = (" WK("w", "") ");");
        start_all();
        clear_recs();
        sig(SIGUSR1);
        sig(SIGHUP);
        ck_assert(!sup_shutting_down(S));
        ck_assert_int_eq((int)F.n_recs, 0);
        ck_assert(!sup_on_exit(S, 99999, 0)); /* not ours: an orphan */
}
END_TEST

/* ---- how a process ended -------------------------------------------------------------------- */

/* One description of an exit status for the log, `gracectl status` and
 * its errors: dying of the stop signal graced sent to that very process is
 * the normal end of a stop ("exited on SIGTERM"); "killed" is for SIGKILL
 * and for a signal graced did not send. */
START_TEST(test_exit_wording)
{
        char b[EXIT_DESC_MAX];

        ck_assert_str_eq(format_exit(EXITED(0), 0, b, sizeof b), "exited 0");
        ck_assert_str_eq(format_exit(EXITED(3), SIGTERM, b, sizeof b), "exited 3");
        ck_assert_str_eq(format_exit(KILLED(SIGTERM), SIGTERM, b, sizeof b), "exited on SIGTERM");
        ck_assert_str_eq(format_exit(KILLED(SIGINT), SIGINT, b, sizeof b), "exited on SIGINT");
        ck_assert_str_eq(format_exit(KILLED(SIGTERM), 0, b, sizeof b), "killed by SIGTERM");
        ck_assert_str_eq(format_exit(KILLED(SIGTERM), SIGINT, b, sizeof b), "killed by SIGTERM");
        ck_assert_str_eq(format_exit(KILLED(SIGKILL), SIGTERM, b, sizeof b), "killed by SIGKILL");
        ck_assert_str_eq(format_exit(KILLED(SIGKILL), SIGKILL, b, sizeof b), "killed by SIGKILL");
        ck_assert_str_eq(format_exit(KILLED(SIGSEGV) | 0x80, SIGTERM, b, sizeof b), "killed by SIGSEGV (core dumped)");
        ck_assert_str_eq(format_exit(KILLED(SIGQUIT) | 0x80, SIGQUIT, b, sizeof b), "exited on SIGQUIT (core dumped)");
}
END_TEST

/* The same words in the log: a normal stop, a custom stop signal, a
 * stubborn worker SIGKILLed at its stop_timeout, a worker killed by a
 * SIGTERM graced did not send, a hook that exits 3. */
START_TEST(test_exit_wording_logged)
{
        char *log;
        static const char *const want[] = {
                "polite: exited on SIGTERM\n",
                "intr: exited on SIGINT\n",
                "stubborn: killed by SIGKILL\n",
                "crash: warning: killed by SIGTERM\n",
                "crash: error: failed for good: killed by SIGTERM\n",
                "intr: warning: post_stop ended: failed in 0 (exited 3)\n",
        };

        mk("workers = (" WK("polite", "") "," WK("stubborn", "stop_timeout = '1s';") "," WK("crash", "restart = 'no';") ","
           WK("intr", "stop_signal = 'SIGINT'; post_stop = ['/bin/false'];") ");");
        start_all();
        capture_begin(LOG_INFO);
        die("crash", KILLED(SIGTERM));
        sig(SIGTERM);
        die("polite", KILLED(SIGTERM));
        die("intr", KILLED(SIGINT));
        hook_exit("intr/post_stop", EXITED(3));
        advance(1 * SEC);
        HAS("signal stubborn SIGKILL group");
        die("stubborn", KILLED(SIGKILL));
        FINISHED(1);
        log = capture_end();
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(log, want[i])) {
                        fprintf(stderr, "captured log:\n%s", log);
                        ck_abort_msg("no \"%.*s\" in the log", (int)strlen(want[i]) - 1, want[i]);
                }
        ck_assert_ptr_null(strstr(log, "exited with code"));
        ck_assert_ptr_null(strstr(log, "polite: killed"));
        free(log);
}
END_TEST

/* The last exit is kept across starts (gracectl status: LAST EXIT, the
 * SIGUSR1 line), with the stop signal it answered: a worker that exited 3
 * and runs again shows "exited 3"; one stopped and started again shows
 * "exited on SIGTERM". The outcome of a later stop is its own. */
START_TEST(test_last_exit_kept_across_starts)
{
        char *log;

        mk("workers = (" WK("web", "restart_delay = '100ms';") ");");
        start_all();
        die("web", EXITED(3));
        STATE("web", "backoff");
        to_next();
        ready("web");
        STATE("web", "running");
        ck_assert(worker_alive(W("web")));
        ck_assert(worker_has_exit(W("web"), NULL));
        ck_assert_int_eq(exit_status(W("web")), EXITED(3));
        capture_begin(LOG_NOTICE);
        sig(SIGUSR1);
        log = capture_end();
        if (!strstr(log, "web: running, pid 101, up 0, 1 restarts, last exited 3\n"))
                fprintf(stderr, "captured log:\n%s", log);
        ck_assert_ptr_nonnull(strstr(log, "web: running, pid 101, up 0, 1 restarts, last exited 3\n"));
        free(log);

        ck_assert_int_eq(sup_stop_worker(S, "web"), 0);
        die("web", KILLED(SIGTERM));
        ck_assert_int_eq(sup_start_worker(S, "web"), 0);
        ready("web");
        ck_assert_int_eq(exit_status(W("web")), KILLED(SIGTERM));
        ck_assert_int_eq(worker_exit_stop_signal(W("web")), SIGTERM);
        capture_begin(LOG_NOTICE);
        sig(SIGUSR1);
        log = capture_end();
        if (!strstr(log, "web: running, pid 102, up 0, 2 restarts, last exited on SIGTERM\n"))
                fprintf(stderr, "captured log:\n%s", log);
        ck_assert_ptr_nonnull(strstr(log, "web: running, pid 102, up 0, 2 restarts, last exited on SIGTERM\n"));
        free(log);

        /* the shutdown's record is this run's, not the earlier ones' */
        sig(SIGTERM);
        die("web", EXITED(0));
        FINISHED(0);
        OUTCOME("web", "stopped");
        ck_assert_int_eq(exit_status(W("web")), EXITED(0));
        ck_assert(sup_is_clean(S));
}
END_TEST

/* ---- the forced phase ------------------------------------------------------------------------- */

START_TEST(test_forced_phase)
{
        mk("supervisor = { cleanup = ("
           " { name = 'tmp'; command = ['/bin/true']; },"
           " { name = 'flush'; command = ['/bin/true']; shielded = true; timeout = '5s'; },"
           " { name = 'late'; command = ['/bin/true']; } ); };\n"
           "workers = (" WK("a", "post_stop = ['/bin/true'];") "," WK("b", "after = ['a'];") ","
           WK("c", "after = ['b']; pre_stop = ['/bin/sleep', '5'];") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        HAS("hook c/pre_stop");
        HASNT("signal c SIGTERM group");
        F.now += 1 * SEC;
        sig(SIGQUIT);
        ck_assert(sup_forced(S));
        /* all at once: the running hook and every alive worker */
        HAS("signal c/pre_stop SIGKILL group");
        HAS("signal c SIGKILL group");
        HAS("signal b SIGKILL group");
        HAS("signal a SIGKILL group");
        HASNT("signal c SIGTERM group");
        HASNT("signal b SIGTERM group");
        HASNT("signal a SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("c"))->outcome), "failed"); /* killed by forcing: never ok */
        /* the unshielded cleanup steps are skipped */
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 0)->outcome), "skipped");
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 2)->outcome), "skipped");

        down("a", KILLED(SIGKILL));
        down("b", KILLED(SIGKILL));
        down("c", KILLED(SIGKILL));
        HASNT("hook a/post_stop"); /* pending hook skipped */
        ck_assert_str_eq(outcome_name(worker_post_stop(W("a"))->outcome), "skipped");
        HASNT("hook cleanup/flush"); /* the killed pre_stop is not reaped yet */
        hook_exit("c/pre_stop", KILLED(SIGKILL));
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("c"))->outcome), "failed");

        /* the shielded step still runs, the others never */
        HAS("hook cleanup/flush");
        HASNT("hook cleanup/tmp");
        HASNT("hook cleanup/late");
        NOT_FINISHED();
        /* a further forcing signal does not interrupt it */
        F.now += 1 * SEC;
        sig(SIGTERM);
        F.now += 1 * SEC;
        sig(SIGQUIT);
        HASNT("signal cleanup/flush SIGKILL group");
        NOT_FINISHED();
        hook_exit("cleanup/flush", EXITED(0));
        FINISHED(1);
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 1)->outcome), "ok");
        OUTCOME("a", "killed");
        OUTCOME("b", "killed");
        OUTCOME("c", "killed");
        ck_assert(!sup_is_clean(S));
        HASNT("hook cleanup/tmp");
        HASNT("hook cleanup/late");
}
END_TEST

START_TEST(test_forced_kills_running_post_stop)
{
        mk("workers = (" WK("a", "") "," WK("b", "after = ['a']; post_stop = ['/bin/sleep', '5'];") ");");
        start_all();
        sig(SIGTERM);
        down("b", KILLED(SIGTERM));
        HAS("hook b/post_stop");
        HASNT("signal a SIGTERM group");
        F.now += 1 * SEC;
        sig(SIGTERM);
        ck_assert(sup_forced(S));
        HAS("signal b/post_stop SIGKILL group");
        HAS("signal a SIGKILL group");
        ck_assert_str_eq(outcome_name(worker_post_stop(W("b"))->outcome), "failed");
        down("a", KILLED(SIGKILL));
        NOT_FINISHED();
        hook_exit("b/post_stop", KILLED(SIGKILL));
        FINISHED(1);
        ck_assert_str_eq(outcome_name(worker_post_stop(W("b"))->outcome), "failed");
        OUTCOME("b", "stopped");
        OUTCOME("a", "killed");
}
END_TEST

START_TEST(test_forced_while_draining_skips_post_stop)
{
        F.streams = 1;
        mk("workers = (" WK("w", "post_stop = ['/bin/true'];") ");");
        start_all();
        sig(SIGTERM);
        die("w", KILLED(SIGTERM));
        F.now += 1 * SEC;
        sig(SIGQUIT);
        ck_assert_str_eq(outcome_name(worker_post_stop(W("w"))->outcome), "skipped");
        eofs("w");
        HASNT("hook w/post_stop");
        FINISHED(1);
        OUTCOME("w", "stopped");
}
END_TEST

START_TEST(test_forced_group_remnant_killed)
{
        mk("workers = (" WK("w", "stop_timeout = '30s';") ");");
        start_all();
        sig(SIGTERM);
        F.group_alive = true;
        down("w", KILLED(SIGTERM));
        clear_recs();
        F.now += 1 * SEC;
        sig(SIGQUIT);
        HAS("signal w SIGKILL group");
        F.group_alive = false;
        if (!F.n_finished)
                to_next();
        FINISHED(1);
}
END_TEST

START_TEST(test_shielded_step_survives_later_forcing)
{
        /* graceful all the way to the cleanup, then forced during a shielded step */
        mk("supervisor = { cleanup = ("
           " { name = 'flush'; command = ['/bin/true']; shielded = true; },"
           " { name = 'tmp'; command = ['/bin/true']; } ); };\n"
           "workers = (" WK("w", "") ");");
        start_all();
        sig(SIGTERM);
        down("w", KILLED(SIGTERM));
        HAS("hook cleanup/flush");
        F.now += 1 * SEC;
        sig(SIGTERM);
        ck_assert(sup_forced(S));
        HASNT("signal cleanup/flush SIGKILL group");
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 1)->outcome), "skipped");
        hook_exit("cleanup/flush", EXITED(0));
        FINISHED(1);
        HASNT("hook cleanup/tmp");
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 0)->outcome), "ok");
        OUTCOME("w", "stopped");
}
END_TEST

START_TEST(test_unshielded_running_step_killed_by_forcing)
{
        mk("supervisor = { cleanup = ( { name = 'tmp'; command = ['/bin/true']; } ); };\n"
           "workers = (" WK("w", "") ");");
        start_all();
        sig(SIGTERM);
        down("w", KILLED(SIGTERM));
        HAS("hook cleanup/tmp");
        F.now += 1 * SEC;
        sig(SIGQUIT);
        HAS("signal cleanup/tmp SIGKILL group");
        hook_exit("cleanup/tmp", KILLED(SIGKILL));
        FINISHED(1);
        ck_assert_int_ne(sup_cleanup(S, 0)->outcome, OUTCOME_OK);
}
END_TEST

START_TEST(test_shutdown_timeout_forces)
{
        mk("supervisor = { shutdown_timeout = '5s'; cleanup = ("
           " { name = 'flush'; command = ['/bin/true']; shielded = true; timeout = '2s'; },"
           " { name = 'tmp'; command = ['/bin/true']; } ); };\n"
           "workers = (" WK("w", "stop_timeout = '30s';") ");");
        start_all();
        sig(SIGTERM);
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 5 * SEC);
        advance(4999 * MSEC);
        ck_assert(!sup_forced(S));
        HASNT("signal w SIGKILL group");
        advance(1 * MSEC);
        ck_assert(sup_forced(S));
        HAS("signal w SIGKILL group");
        ck_assert_str_eq(sup_reason(S), "SIGTERM");
        down("w", KILLED(SIGKILL));
        /* the shielded step runs within its own timeout */
        HAS("hook cleanup/flush");
        HASNT("hook cleanup/tmp");
        advance(1999 * MSEC);
        HASNT("signal cleanup/flush SIGKILL group");
        advance(1 * MSEC);
        HAS("signal cleanup/flush SIGKILL group");
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 0)->outcome), "timeout");
        hook_exit("cleanup/flush", KILLED(SIGKILL));
        FINISHED(1);
        OUTCOME("w", "killed");
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 1)->outcome), "skipped");
}
END_TEST

/* A reload applies the supervisor's settings: the budget and force_after
 * of the next shutdown are the new ones. */
START_TEST(test_reload_supervisor_settings)
{
        unsigned c[4];

        mk("supervisor = { shutdown_timeout = '5s'; force_after = 2; };\n"
           "workers = (" WK("w", "stop_timeout = '30s';") ");");
        start_all();
        ck_assert_int_eq(reload("supervisor = { shutdown_timeout = '9s'; force_after = 3; };\n"
                                "workers = (" WK("w", "stop_timeout = '30s';") ");", c), 0);
        sig(SIGTERM);
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 9 * SEC);
        advance(600 * MSEC);
        sig(SIGTERM);
        ck_assert(!sup_forced(S));
        advance(600 * MSEC);
        sig(SIGTERM);
        ck_assert(sup_forced(S));
}
END_TEST

/* ---- the report's facts ------------------------------------------------------------------------ */

START_TEST(test_report_outcomes)
{
        mk("workers = (" WK("dep", "restart = 'no';") "," WK("n", "after = ['dep'];") "," WK("e", "") "," WK("f", "") ","
           WK("top", "after = ['e', 'f'];") "," WK("k", "stop_timeout = '1s';") ");");
        sup_start(S);
        sup_on_exec_status(S, W("dep"), ENOENT, "exec");
        die("dep", EXITED(127));
        ready_all();
        HASNT("spawn n");
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        clear_recs();
        sig(SIGTERM);
        HAS("signal top SIGTERM group");
        HAS("signal k SIGTERM group");
        HASNT("signal e SIGTERM group");
        HASNT("signal f SIGTERM group");
        /* e and f end by themselves while waiting for top */
        die("e", EXITED(0));
        die("f", EXITED(4));
        advance(1 * SEC);
        HAS("signal k SIGKILL group");
        down("k", KILLED(SIGKILL));
        NOT_FINISHED();
        down("top", KILLED(SIGTERM));
        FINISHED(1);
        HASNT("signal e SIGTERM group");
        HASNT("signal f SIGTERM group");
        HASNT("spawn n");
        OUTCOME("top", "stopped");
        OUTCOME("k", "killed");
        OUTCOME("e", "exited");
        OUTCOME("f", "failed");
        OUTCOME("dep", "failed");
        OUTCOME("n", "not-started");
        ck_assert(!sup_is_clean(S));
        ck_assert_int_lt(stop_pos("top"), stop_pos("e"));
        ck_assert_int_lt(stop_pos("top"), stop_pos("f"));
        ck_assert_int_lt(stop_pos("n"), stop_pos("dep"));
        /* restarts counted */
        ck_assert_uint_eq(worker_starts(W("k")), 1);
}
END_TEST

START_TEST(test_report_clean_with_exited)
{
        mk("workers = (" WK("once", "type = 'oneshot';") "," WK("w", "after = ['once'];") ","
           WK("quits", "restart = 'on-failure';") ");");
        start_all();
        die("once", EXITED(0));
        ready("w");
        die("quits", EXITED(0));
        OUTCOME("quits", "exited");
        sig(SIGTERM);
        down("w", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert(sup_is_clean(S));
        OUTCOME("once", "exited");
        OUTCOME("quits", "exited");
        OUTCOME("w", "stopped");
}
END_TEST

START_TEST(test_exit_during_pre_stop)
{
        mk("workers = (" WK("w", "pre_stop = ['/bin/true'];") "," WK("x", "pre_stop = ['/bin/true'];") ");");
        start_all();
        sig(SIGTERM);
        die("w", EXITED(0));
        die("x", EXITED(9));
        hook_exit("w/pre_stop", EXITED(0));
        hook_exit("x/pre_stop", EXITED(0));
        HASNT("signal w SIGTERM group");
        HASNT("signal x SIGTERM group");
        FINISHED(1);
        OUTCOME("w", "exited");
        OUTCOME("x", "failed");
}
END_TEST

START_TEST(test_shutdown_during_startup)
{
        mk("workers = (" WK("a", "ready = 'notify';") "," WK("b", "after = ['a']; pre_stop = ['/bin/true'];") ");");
        sup_start(S);
        ready("a");
        sig(SIGTERM);
        HAS("signal a SIGTERM group");
        down("a", KILLED(SIGTERM));
        FINISHED(0);
        HASNT("spawn b");
        HASNT("hook b/pre_stop");
        OUTCOME("a", "stopped");
        OUTCOME("b", "not-started");
        ck_assert_int_eq(cnt("notify READY=1"), 0);
        ck_assert(sup_is_clean(S));
}
END_TEST

START_TEST(test_backoff_cancelled_by_shutdown)
{
        mk("workers = (" WK("w", "restart_delay = '5s';") "," WK("x", "") ");");
        start_all();
        die("w", EXITED(1));
        STATE("w", "backoff");
        sig(SIGTERM);
        down("x", KILLED(SIGTERM));
        FINISHED(1);
        OUTCOME("w", "failed");
        advance(60 * SEC);
        ck_assert_int_eq(cnt("spawn w"), 1);
}
END_TEST

/* A restart = "always" worker between two runs, after a run that ended
 * with 0: it ended by itself with 0, so its outcome is `exited` and the
 * shutdown is clean (SPEC "Report": exited = ended by itself with 0). */
START_TEST(test_backoff_after_exit_0_is_exited)
{
        mk("workers = (" WK("w", "restart = 'always'; restart_delay = '5s';") ");");
        start_all();
        die("w", EXITED(0));
        STATE("w", "backoff");
        sig(SIGTERM);
        FINISHED(0);
        OUTCOME("w", "exited");
        ck_assert(sup_is_clean(S));
}
END_TEST

/* A worker that ends by itself during the shutdown is fully down only once
 * its output is drained (SPEC "Workers": pipes drained to EOF before it
 * counts as stopped): its dependencies wait, and so does the end. */
START_TEST(test_self_exit_during_shutdown_drained)
{
        F.streams = 2;
        mk("workers = (" WK("a", "") "," WK("b", "after = ['a'];") "," WK("c", "after = ['b'];") ");");
        start_all();
        sig(SIGTERM);
        HAS("signal c SIGTERM group");
        die("b", EXITED(1)); /* crashes while c is stopping; output still open */
        down("c", KILLED(SIGTERM));
        HASNT("signal a SIGTERM group");
        eofs("b");
        HAS("signal a SIGTERM group");
        die("a", EXITED(1)); /* and a too, after its stop signal */
        NOT_FINISHED();
        eofs("a");
        FINISHED(1);
        OUTCOME("b", "failed");
}
END_TEST

START_TEST(test_no_workers)
{
        mk("workers = ();");
        sup_start(S);
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        BEFORE("notify STATUS=running: 0/0 workers", "notify READY=1");
        NOT_FINISHED();
        sig(SIGTERM);
        HAS("notify STOPPING=1");
        FINISHED(0);
        ck_assert(sup_is_clean(S));
        ck_assert_uint_eq(sup_n_workers(S), 0);
        {
                char *sum = sup_summary(S);
                ck_assert_ptr_nonnull(strstr(sum, "clean"));
                free(sum);
        }
}
END_TEST

START_TEST(test_no_workers_sigquit)
{
        mk("workers = ();");
        sup_start(S);
        sig(SIGQUIT);
        FINISHED(1); /* forced: not clean */
        ck_assert(sup_forced(S));
}
END_TEST

/* ---- operations ------------------------------------------------------------------------------------ */

static void manual_stop_start(const char *text)
{
        mk(text);
        start_all();
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        clear_recs();

        ck_assert_int_eq(sup_stop_worker(S, "nope"), -ENOENT);
        ck_assert_int_eq(sup_stop_worker(S, "a"), 0);
        HAS("signal c SIGTERM group");
        HASNT("signal b SIGTERM group");
        HASNT("signal a SIGTERM group");
        ck_assert_int_eq(sup_op_state(S, "a", SUP_OP_STOP), 0);
        down("c", KILLED(SIGTERM));
        HAS("signal b SIGTERM group");
        HASNT("signal a SIGTERM group");
        down("b", EXITED(0));
        HAS("signal a SIGTERM group");
        ck_assert_int_eq(sup_op_state(S, "a", SUP_OP_STOP), 0);
        down("a", KILLED(SIGTERM));
        ck_assert_int_eq(sup_op_state(S, "a", SUP_OP_STOP), 1);
        STATE("a", "down");
        STATE("b", "down");
        STATE("c", "down");
        /* they stay down: no restart, no shutdown */
        advance(3600 * SEC);
        ck_assert_int_eq(cnt_prefix("spawn "), 0);
        ck_assert(!sup_shutting_down(S));
        NOT_FINISHED();

        /* start brings them back, in order */
        ck_assert_int_eq(sup_start_worker(S, "nope"), -ENOENT);
        ck_assert_int_eq(sup_start_worker(S, "a"), 0);
        HAS("spawn a");
        HASNT("spawn b");
        ck_assert_int_eq(sup_op_state(S, "a", SUP_OP_START), 0);
        ready("a");
        ck_assert_int_eq(sup_op_state(S, "a", SUP_OP_START), 1);
        HAS("spawn b");
        HASNT("spawn c");
        ready("b");
        HAS("spawn c");
        ready("c");
        STATE("a", "running");
        STATE("b", "running");
        STATE("c", "running");
        ck_assert_int_eq(sup_op_state(S, "c", SUP_OP_START), 1);
        ck_assert_int_eq(cnt("notify READY=1"), 0); /* READY=1 only once, at boot */

        /* busy during a shutdown */
        sig(SIGTERM);
        ck_assert_int_eq(sup_stop_worker(S, "a"), -EBUSY);
        ck_assert_int_eq(sup_start_worker(S, "a"), -EBUSY);
}

START_TEST(test_manual_stop_and_start)
{
        manual_stop_start("workers = (" WK("a", "") "," WK("b", "after = ['a'];") "," WK("c", "after = ['b'];") ");");
}
END_TEST

/* The same with the dependents defined before their dependencies. */
START_TEST(test_manual_stop_and_start_reverse_definition)
{
        manual_stop_start("workers = (" WK("c", "after = ['b'];") "," WK("b", "after = ['a'];") "," WK("a", "") ");");
}
END_TEST

START_TEST(test_manual_stop_dependent_only)
{
        mk("workers = (" WK("a", "") "," WK("b", "after = ['a'];") ");");
        start_all();
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "b"), 0);
        HAS("signal b SIGTERM group");
        down("b", KILLED(SIGTERM));
        ck_assert_int_eq(sup_op_state(S, "b", SUP_OP_STOP), 1);
        HASNT("signal a SIGTERM group");
        STATE("a", "running");
        /* start b: a is left alone */
        ck_assert_int_eq(sup_start_worker(S, "b"), 0);
        HAS("spawn b");
        HASNT("spawn a");
        /* starting a dependent brings its stopped dependency up first */
        ready("b");
        ck_assert_int_eq(sup_stop_worker(S, "a"), 0);
        down("b", KILLED(SIGTERM));
        down("a", KILLED(SIGTERM));
        clear_recs();
        ck_assert_int_eq(sup_start_worker(S, "b"), 0);
        HAS("spawn a");
        HASNT("spawn b");
        ready("a");
        HAS("spawn b");
}
END_TEST

START_TEST(test_manual_restart)
{
        mk("workers = (" WK("a", "") "," WK("b", "after = ['a'];") ");");
        start_all();
        clear_recs();
        ck_assert_int_eq(sup_restart_worker(S, "a"), 0);
        HAS("signal b SIGTERM group");
        ck_assert_int_eq(sup_op_state(S, "a", SUP_OP_RESTART), 0);
        down("b", KILLED(SIGTERM));
        HAS("signal a SIGTERM group");
        down("a", KILLED(SIGTERM));
        HAS("spawn a");
        ck_assert_int_eq(sup_op_state(S, "a", SUP_OP_RESTART), 0);
        ready("a");
        HAS("spawn b");
        ck_assert_int_eq(sup_op_state(S, "a", SUP_OP_RESTART), 1);
        ready("b");
        STATE("b", "running");
}
END_TEST

/* ---- notify ------------------------------------------------------------------------------------------ */

START_TEST(test_notify_status_ready_stopping_extend)
{
        mk("supervisor = { shutdown_timeout = '60s'; };\n"
           "workers = (" WK("a", "") "," WK("b", "after = ['a']; stop_timeout = '7s';") ");");
        start_all();
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        {
                int r = idx("notify READY=1");
                const char *st = last_status_before(r);
                ck_assert_ptr_nonnull(st);
                ck_assert_str_eq(st, "running: 2/2 workers");
        }
        ck_assert_int_eq(idx_prefix("notify EXTEND_TIMEOUT_USEC="), -1);
        sig(SIGTERM);
        BEFORE("notify READY=1", "notify STOPPING=1");
        {
                int st = idx("notify STOPPING=1"), ex = idx_prefix("notify EXTEND_TIMEOUT_USEC=");
                unsigned long long v;

                ck_assert_int_ge(ex, 0);
                ck_assert_int_lt(st, ex);
                ck_assert_int_eq(sscanf(F.recs[ex], "notify EXTEND_TIMEOUT_USEC=%llu", &v), 1);
                ck_assert_uint_ge(v, 60 * SEC); /* covers the whole budget */
        }
        /* each stop stage extends again */
        ck_assert_int_ge(cnt_prefix("notify EXTEND_TIMEOUT_USEC="), 2);
        {
                int i = idx_prefix("notify STATUS=stopping");
                ck_assert_int_ge(i, 0);
                ck_assert_ptr_nonnull(strstr(F.recs[i], "b"));
        }
        down("b", KILLED(SIGTERM));
        down("a", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert_int_eq(cnt("notify STOPPING=1"), 1);
        ck_assert_int_eq(cnt("notify READY=1"), 1);
}
END_TEST

START_TEST(test_notify_ready)
{
        mk("workers = (" WK("n", "ready = 'notify';") "," WK("d", "after = ['n'];") ");");
        sup_start(S);
        ready("n");
        STATE("n", "starting");
        HASNT("spawn d");
        sup_on_notify(S, W("n"), "STATUS=warming up");
        STATE("n", "starting");
        ck_assert_str_eq(worker_status_text(W("n")), "warming up");
        sup_on_notify(S, W("n"), "STATUS=serving\nREADY=1");
        STATE("n", "running");
        ck_assert_str_eq(worker_status_text(W("n")), "serving");
        HAS("spawn d");
        ready("d");
        ck_assert_int_eq(cnt("notify READY=1"), 1);
        /* READY=1 from an exec worker means nothing more */
        sup_on_notify(S, W("d"), "READY=1");
        STATE("d", "running");
}
END_TEST

/* READY=1 can only come from the worker after its exec; when the datagram
 * is read before the exec status it must not be lost. */
START_TEST(test_notify_ready_before_exec_status)
{
        mk("workers = (" WK("n", "ready = 'notify'; ready_timeout = '5s';") ");");
        sup_start(S);
        sup_on_notify(S, W("n"), "READY=1");
        ready("n");
        STATE("n", "running");
        advance(5 * SEC);
        HASNT("signal n SIGTERM group");
}
END_TEST

START_TEST(test_worker_watchdog_restarts)
{
        mk("workers = (" WK("w", "ready = 'notify'; watchdog = '2s'; restart_delay = '1s';") ");");
        sup_start(S);
        ready("w");
        sup_on_notify(S, W("w"), "READY=1");
        STATE("w", "running");
        advance(1500 * MSEC);
        sup_on_notify(S, W("w"), "WATCHDOG=1");
        advance(1500 * MSEC); /* 3s after READY, 1.5s after WATCHDOG=1 */
        HASNT("signal w SIGTERM group");
        advance(499 * MSEC);
        HASNT("signal w SIGTERM group");
        advance(1 * MSEC);
        HAS("signal w SIGTERM group");
        die("w", KILLED(SIGTERM));
        STATE("w", "backoff");
        OUTCOME("w", "failed");
        to_next();
        ck_assert_int_eq(cnt("spawn w"), 2);
}
END_TEST

START_TEST(test_worker_watchdog_restart_no)
{
        mk("workers = (" WK("w", "ready = 'notify'; watchdog = '2s'; restart = 'no';") ");");
        sup_start(S);
        ready("w");
        sup_on_notify(S, W("w"), "READY=1");
        advance(2 * SEC);
        HAS("signal w SIGTERM group");
        down("w", KILLED(SIGTERM));
        STATE("w", "failed");
}
END_TEST

/* A missed watchdog during the shutdown does not stop a worker before its
 * dependents are down (SPEC "Shutdown" 2: "a worker is stopped only once
 * every worker that depends on it has fully stopped"). */
START_TEST(test_watchdog_during_shutdown_keeps_order)
{
        mk("workers = (" WK("db", "ready = 'notify'; watchdog = '2s';") "," WK("web", "after = ['db']; stop_timeout = '30s';")
           ");");
        sup_start(S);
        ready("db");
        sup_on_notify(S, W("db"), "READY=1");
        ready("web");
        clear_recs();
        sig(SIGTERM);
        HAS("signal web SIGTERM group");
        advance(1 * SEC);
        advance(2 * SEC);
        advance(2 * SEC);
        HASNT("signal db SIGTERM group");
        down("web", KILLED(SIGTERM));
        HAS("signal db SIGTERM group");
        down("db", KILLED(SIGTERM));
        FINISHED(0);
        OUTCOME("db", "stopped");
}
END_TEST

/* The same for a ready timeout: a dependency restarting when the shutdown
 * begins is not stopped (as a failed start) before its dependents. */
START_TEST(test_ready_timeout_during_shutdown_keeps_order)
{
        mk("workers = (" WK("db", "ready = 'notify'; ready_timeout = '2s'; restart_delay = '100ms';") ","
           WK("web", "after = ['db']; stop_timeout = '30s';") ");");
        sup_start(S);
        ready("db");
        sup_on_notify(S, W("db"), "READY=1");
        ready("web");
        die("db", EXITED(1));
        to_next();
        ck_assert_int_eq(cnt("spawn db"), 2);
        ready("db"); /* exec'd, not ready yet */
        clear_recs();
        sig(SIGTERM);
        HAS("signal web SIGTERM group");
        HASNT("signal db SIGTERM group");
        advance(3 * SEC);
        HASNT("signal db SIGTERM group");
        down("web", KILLED(SIGTERM));
        HAS("signal db SIGTERM group");
        down("db", KILLED(SIGTERM));
        FINISHED(0);
}
END_TEST

/* A notify worker with a watchdog, stopped by hand (sup_stop_worker) while
 * a dependent with a long stop keeps it waiting: once its watchdog deadline
 * has passed, no deadline in the past is left armed (the loop would spin on
 * it: 21ee2c0), and it gets no signal before its dependent is down. */
START_TEST(test_watchdog_of_worker_being_stopped)
{
        mk("workers = (" WK("db", "ready = 'notify'; watchdog = '2s';") "," WK("web", "after = ['db']; stop_timeout = '30s';")
           ");");
        sup_start(S);
        ready("db");
        sup_on_notify(S, W("db"), "READY=1");
        STATE("db", "running");
        ready("web");
        STATE("web", "running");
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "db"), 0);
        HAS("signal web SIGTERM group");
        HASNT("signal db SIGTERM group");
        for (int i = 0; i < 4; i++) {
                advance(1 * SEC); /* past db's watchdog deadline (2s after READY=1) */
                ck_assert_msg(sup_next_deadline(S) > F.now,
                              "a deadline in the past is left armed: next %llu, now %llu (+%llu ms)",
                              (unsigned long long)sup_next_deadline(S), (unsigned long long)F.now,
                              (unsigned long long)((F.now - T0) / MSEC));
                ck_assert_int_eq(cnt_prefix("signal db "), 0);
        }
        HASNT("signal web SIGKILL group");
        down("web", KILLED(SIGTERM));
        HAS("signal db SIGTERM group");
        down("db", KILLED(SIGTERM));
        STATE("db", "down");
        STATE("web", "down");
        ck_assert_int_eq(sup_op_state(S, "db", SUP_OP_STOP), 1);
        /* nothing left to wait for: no deadline at all */
        ck_assert_uint_eq(sup_next_deadline(S), USEC_INFINITY);
        ck_assert_int_eq(cnt("signal db SIGTERM group"), 1);
        ck_assert_int_eq(cnt("signal db SIGKILL group"), 0);
        NOT_FINISHED();
}
END_TEST


/* ---- the worker object and reload in place ------------------------------------ */

#define COUNTS(c, a, r, ch, u)                                                                             \
        do {                                                                                               \
                ck_assert_uint_eq((c)[0], a);                                                              \
                ck_assert_uint_eq((c)[1], r);                                                              \
                ck_assert_uint_eq((c)[2], ch);                                                             \
                ck_assert_uint_eq((c)[3], u);                                                              \
        } while (0)

/* A worker kept across three reloads keeps its object (and its process
 * when only in-place settings change); one whose process changes keeps its
 * object too and restarts into a new pid. */
START_TEST(test_reload_keeps_object)
{
        struct worker *a, *b;
        pid_t pa, pb;
        unsigned c[4];

        mk("workers = (" WK("a", "") ", " WK("b", "after = ['a'];") ");");
        start_all();
        a = W("a");
        b = W("b");
        pa = worker_pid(a);
        pb = worker_pid(b);

        ck_assert_int_eq(reload("workers = (" WK("a", "") ", " WK("b", "after = ['a'];") ");", c), 0);
        COUNTS(c, 0, 0, 0, 2);
        ck_assert_int_eq(reload("workers = (" WK("a", "stop_timeout = '3s';") ", " WK("b", "after = ['a'];") ");", c), 0);
        COUNTS(c, 0, 0, 0, 2);
        ck_assert_uint_eq(worker_conf(a)->stop_timeout, 3 * SEC); /* in place */
        clear_recs();
        ck_assert_int_eq(reload("workers = (" WK("a", "stop_timeout = '3s';") ", "
                                WK("b", "after = ['a']; env = { K = 'v'; };") ");", c), 0);
        COUNTS(c, 0, 0, 1, 1);
        /* b restarts: stopped, then started with its new settings */
        HAS("signal b SIGTERM group");
        down("b", KILLED(SIGTERM));
        HAS("spawn b");
        ready("b");
        ck_assert_ptr_eq(W("a"), a);
        ck_assert_ptr_eq(W("b"), b);
        ck_assert_int_eq(worker_pid(a), pa);
        ck_assert_int_ne(worker_pid(b), pb);
        ck_assert_str_eq(worker_conf(b)->env[0], "K=v");
        STATE("b", "running");
        ck_assert_uint_eq(worker_goal(b), GOAL_RUN);
        /* a pid look-up finds the same objects */
        ck_assert_ptr_eq(sup_find_pid(S, pa), a);
        ck_assert_ptr_eq(sup_find_pid(S, worker_pid(b)), b);
        ck_assert_ptr_null(sup_find_pid(S, pb));
}
END_TEST

/* A removed worker stops (its goal: remove) and is forgotten once down; its
 * name cannot come back while it is still stopping; once it is down, the
 * name comes back as a new object. */
START_TEST(test_reload_removed_and_readded)
{
        struct worker *b;
        unsigned c[4];

        mk("workers = (" WK("a", "") ", " WK("b", "") ");");
        start_all();
        b = W("b");
        clear_recs();
        ck_assert_int_eq(reload("workers = (" WK("a", "") ");", c), 0);
        COUNTS(c, 0, 1, 0, 1);
        ck_assert_ptr_null(sup_find(S, "b"));
        ck_assert(worker_removed(b));
        HAS("signal b SIGTERM group");
        /* still stopping: the name cannot come back yet, and nothing changed */
        ck_assert_int_eq(reload("workers = (" WK("a", "") ", " WK("b", "") ");", c), -EBUSY);
        ck_assert_ptr_null(sup_find(S, "b"));
        ck_assert_uint_eq(sup_n_workers(S), 2);
        ck_assert(sup_on_exit(S, worker_pid(b), KILLED(SIGTERM)));
        STATE_OF(b, "down");
        ck_assert_int_eq(reload("workers = (" WK("a", "") ", " WK("b", "") ");", c), 0);
        COUNTS(c, 1, 0, 0, 1);
        ck_assert_uint_eq(sup_n_workers(S), 2);
        ck_assert_ptr_nonnull(sup_find(S, "b"));
        HAS("spawn b");
        ready("b");
        STATE("b", "running");
        /* the report knows nothing of the removed run */
        sig(SIGTERM);
        down("a", KILLED(SIGTERM));
        down("b", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert_int_eq(stop_pos("a") >= 0 && stop_pos("b") >= 0, 1);
}
END_TEST

/* A reload while a worker is being stopped by hand: the stop goes on with
 * the same object and its record; the worker stays down; the new settings
 * are used when it is started again. */
START_TEST(test_reload_during_stop)
{
        struct worker *w;
        unsigned c[4];

        mk("workers = (" WK("w", "pre_stop = ['/bin/true'];") ");");
        start_all();
        w = W("w");
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        HAS("hook w/pre_stop");
        ck_assert_int_eq(reload("workers = (" WK("w", "pre_stop = ['/bin/true']; stop_timeout = '2s';") ");", c), 0);
        COUNTS(c, 0, 0, 0, 1);
        ck_assert_ptr_eq(W("w"), w);
        STATE("w", "stopping");
        hook_exit("w/pre_stop", EXITED(0));
        HAS("signal w SIGTERM group");
        down("w", KILLED(SIGTERM));
        STATE("w", "down");
        ck_assert_uint_eq(worker_goal(w), GOAL_DOWN);
        ck_assert_str_eq(outcome_name(worker_pre_stop(w)->outcome), "ok");
        /* a changed process while it is down: it stays down, and starts anew when asked */
        ck_assert_int_eq(reload("workers = (" WK("w", "pre_stop = ['/bin/true']; env = { X = '1'; };") ");", c), 0);
        COUNTS(c, 0, 0, 1, 0);
        STATE("w", "down");
        clear_recs();
        ck_assert_int_eq(sup_start_worker(S, "w"), 0);
        HAS("spawn w");
        ck_assert_str_eq(worker_conf(w)->env[0], "X=1");
}
END_TEST

/* A reload that removes a hook whose run is still under way (here a
 * pre_stop killed at its timeout and never reaped, the worker down): the
 * run keeps its record, so that its exit, when it comes at last, is its
 * hook's (not an orphan: pidfd released once), and the record of that stop
 * still counts; the next stop runs no hook and counts afresh. The same
 * while the stop waits for the hook: its exit ends the hook's step. */
START_TEST(test_reload_removes_busy_hook)
{
        const char *with = "workers = (" WK("w", "pre_stop = ['/bin/sleep', '100']; pre_stop_timeout = '2s';") ");";
        const char *without = "workers = (" WK("w", "") ");";
        unsigned c[4];
        pid_t first, second;

        mk(with);
        start_all();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        first = H("w/pre_stop")->pid;
        advance(2 * SEC);
        HAS("signal w/pre_stop SIGKILL group");
        down("w", KILLED(SIGTERM));
        STATE("w", "down");
        ck_assert_int_eq(reload(without, c), 0);
        COUNTS(c, 0, 0, 0, 1);
        ck_assert_int_eq(worker_pre_stop(W("w"))->pid, first);
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "timeout");
        ck_assert(!sup_is_clean(S));
        ck_assert(sup_on_exit(S, first, KILLED(SIGKILL)));
        ck_assert_uint_eq(released(first), 1);
        ck_assert_int_eq(worker_pre_stop(W("w"))->pid, 0);

        /* started and stopped again: no hook */
        ck_assert_int_eq(sup_start_worker(S, "w"), 0);
        ready("w");
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        HASNT("hook w/pre_stop");
        HAS("signal w SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "none");
        down("w", KILLED(SIGTERM));
        ck_assert(sup_is_clean(S));

        /* back, and removed while the stop waits for it */
        ck_assert_int_eq(reload(with, c), 0);
        ck_assert_int_eq(sup_start_worker(S, "w"), 0);
        ready("w");
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        HAS("hook w/pre_stop");
        second = H("w/pre_stop")->pid;
        ck_assert_int_eq(reload(without, c), 0);
        HASNT("signal w SIGTERM group");
        hook_exit("w/pre_stop", EXITED(0));
        ck_assert_uint_eq(released(second), 1);
        HAS("signal w SIGTERM group");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "ok");
        down("w", KILLED(SIGTERM));
        STATE("w", "down");
        sig(SIGTERM);
        FINISHED(0);
        for (size_t i = 0; i < F.n_pids; i++)
                ck_assert_msg(released(F.pids[i].pid) == 1, "pid %d (%s) released %u times", (int)F.pids[i].pid,
                              F.pids[i].label, released(F.pids[i].pid));
}
END_TEST

/* Hooks added by a reload run at the next stop, in their places; removed
 * again, they no longer run. */
START_TEST(test_reload_adds_hooks)
{
        unsigned c[4];

        F.streams = 1;
        mk("workers = (" WK("w", "") ");");
        start_all();
        ck_assert_str_eq(outcome_name(worker_post_stop(W("w"))->outcome), "none");
        ck_assert_int_eq(reload("workers = (" WK("w", "pre_stop = ['/bin/true']; post_stop = ['/bin/true'];"
                                                      "post_stop_timeout = '3s';") ");", c), 0);
        COUNTS(c, 0, 0, 0, 1);
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        HAS("hook w/pre_stop");
        HASNT("signal w SIGTERM group");
        hook_exit("w/pre_stop", EXITED(0));
        HAS("signal w SIGTERM group");
        die("w", KILLED(SIGTERM));
        HASNT("hook w/post_stop");
        eofs("w");
        HAS("hook w/post_stop");
        BEFORE("signal w SIGTERM group", "hook w/post_stop");
        STATE("w", "stopping");
        advance(3 * SEC); /* its own timeout */
        HAS("signal w/post_stop SIGKILL group");
        hook_exit("w/post_stop", KILLED(SIGKILL));
        STATE("w", "down");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "ok");
        ck_assert_str_eq(outcome_name(worker_post_stop(W("w"))->outcome), "timeout");

        /* removed: the next stop runs neither */
        ck_assert_int_eq(reload("workers = (" WK("w", "") ");", c), 0);
        ck_assert_int_eq(sup_start_worker(S, "w"), 0);
        ready("w");
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        HAS("signal w SIGTERM group");
        down("w", KILLED(SIGTERM));
        STATE("w", "down");
        HASNT("hook w/pre_stop");
        HASNT("hook w/post_stop");
        ck_assert_str_eq(outcome_name(worker_pre_stop(W("w"))->outcome), "none");
        ck_assert_str_eq(outcome_name(worker_post_stop(W("w"))->outcome), "none");
        ck_assert(sup_is_clean(S));
}
END_TEST

/* The goal field drives a restart: `restart` stops the dependents first
 * (goal down-with), then the worker (goal restart), then it runs again
 * (goal run) and the dependents come back in start order. */
START_TEST(test_goal_restart_sequence)
{
        struct worker *db, *web;

        mk("workers = (" WK("db", "") ", " WK("web", "after = ['db'];") ");");
        start_all();
        db = W("db");
        web = W("web");
        clear_recs();
        ck_assert_int_eq(sup_restart_worker(S, "db"), 0);
        ck_assert_uint_eq(worker_goal(db), GOAL_RESTART);
        ck_assert_uint_eq(worker_goal(web), GOAL_DOWN_WITH);
        ck_assert(!worker_is_ready(db));
        HAS("signal web SIGTERM group");
        HASNT("signal db SIGTERM group");
        ck_assert_int_eq(sup_op_state(S, "db", SUP_OP_RESTART), 0);
        down("web", KILLED(SIGTERM));
        HAS("signal db SIGTERM group");
        down("db", KILLED(SIGTERM));
        ck_assert_uint_eq(worker_goal(db), GOAL_RUN);
        ck_assert_uint_eq(worker_goal(web), GOAL_RUN);
        HAS("spawn db");
        HASNT("spawn web");
        ready("db");
        BEFORE("spawn db", "spawn web");
        ready("web");
        ck_assert_int_eq(sup_op_state(S, "db", SUP_OP_RESTART), 1);
        STATE("db", "running");
        STATE("web", "running");
}
END_TEST

/* Each state change of a worker, from outside: waiting -> starting ->
 * running -> backoff -> starting -> stopping -> down, with the deadlines
 * of the heap (ready timeout, backoff) the only clock it needs. */
START_TEST(test_worker_transitions)
{
        struct worker *w;

        mk("workers = (" WK("w", "ready = 'notify'; ready_timeout = '5s'; restart = 'always'; "
                                  "restart_delay = '1s';") ");");
        w = W("w");
        STATE("w", "waiting");
        ck_assert_uint_eq(sup_next_deadline(S), USEC_INFINITY);
        sup_start(S);
        STATE("w", "starting");
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 5 * SEC); /* ready_timeout */
        ready("w");
        STATE("w", "starting"); /* exec'd, waiting for READY=1 */
        sup_on_notify(S, w, "READY=1");
        STATE("w", "running");
        ck_assert_uint_eq(sup_next_deadline(S), USEC_INFINITY);
        advance(SEC);
        die("w", EXITED(0));
        STATE("w", "backoff");
        ck_assert_uint_eq(sup_next_deadline(S), F.now + SEC);
        to_next();
        STATE("w", "starting");
        ck_assert_uint_eq(worker_starts(w), 2);
        ck_assert_uint_eq(worker_restarts(w), 1);
        ck_assert_int_eq(sup_stop_worker(S, "w"), 0);
        STATE("w", "stopping");
        ck_assert_uint_eq(worker_goal(w), GOAL_DOWN);
        down("w", KILLED(SIGTERM));
        STATE("w", "down");
        ck_assert_uint_eq(sup_next_deadline(S), USEC_INFINITY);
}
END_TEST

/* ---- probes, health and part_of ------------------------------------------------------------------------ */

#define TCP(iv, to)                                                                                          \
        ((struct conf_probe){ .kind = PROBE_TCP, .target = (char *)"127.0.0.1:5432", .interval = (iv),      \
                              .timeout = (to), .line = 1 })
#define HTTP(iv, to, n)                                                                                      \
        ((struct conf_probe){ .kind = PROBE_HTTP, .target = (char *)"http://127.0.0.1:8080/healthz",        \
                              .interval = (iv), .timeout = (to), .failures = (n), .line = 1 })
#define LOGP(re) ((struct conf_probe){ .kind = PROBE_LOG, .target = (char *)(re), .line = 1 })

static char *of_db[] = { (char *)"db", NULL };

/* An attempt of name's probe for use ended (or a log probe matched). */
static void presult(const char *name, enum probe_use use, bool ok, const char *reason)
{
        struct worker *w = W(name);
        size_t i = probing_at(w);

        if (i != SIZE_MAX)
                F.probing[i] = NULL;
        sup_on_probe(S, w, use, ok, reason);
        ck_assert_msg(sup_counts_ok(S), "the counts of workers by state drifted");
}

/* The index of the n-th (from 1) record r, -1 when there are fewer. */
static int nth(const char *r, int n)
{
        for (int i = idx(r); i >= 0; i = idx_from(i + 1, r))
                if (--n == 0)
                        return i;
        return -1;
}

#define HEALTH(name, want)                                                                                   \
        do {                                                                                                 \
                char hb_[32];                                                                                \
                ck_assert_str_eq(worker_health(W(name), hb_, sizeof hb_), want);                             \
        } while (0)

#define STATUS_LINE(want)                                                                                    \
        do {                                                                                                 \
                char *sl_ = sup_status_line(S);                                                              \
                ck_assert_str_eq(sl_, want);                                                                 \
                free(sl_);                                                                                   \
        } while (0)

static void log_has(const char *log, const char *want)
{
        if (!strstr(log, want)) {
                fprintf(stderr, "captured log:\n%s", log);
                ck_abort_msg("no \"%s\" in the log", want);
        }
}

/* Readiness by probe: attempts until the first success; each failure at
 * debug; the dependent starts only once it is ready, as for READY=1. */
START_TEST(test_probe_ready_after_failures)
{
        const struct pset ps[] = { { .name = "db", .ready = READY_PROBE, .ready_probe = TCP(250 * MSEC, SEC) } };
        char *log;

        mkp("workers = (" WK("db", "ready_timeout = '30s';") "," WK("web", "after = ['db'];") ");", ps, 1);
        capture_begin(LOG_DEBUG);
        sup_start(S);
        ready("db");
        STATE("db", "starting");
        /* the first attempt at once, from the loop */
        ck_assert_uint_eq(sup_next_deadline(S), F.now);
        advance(0);
        ck_assert_int_eq(cnt("probe db ready"), 1);
        presult("db", PROBE_READY, false, "Connection refused");
        advance(250 * MSEC);
        ck_assert_int_eq(cnt("probe db ready"), 2);
        presult("db", PROBE_READY, false, "Connection refused");
        STATE("db", "starting");
        HASNT("spawn web");
        advance(250 * MSEC);
        ck_assert_int_eq(cnt("probe db ready"), 3);
        HASNT("spawn web");
        presult("db", PROBE_READY, true, NULL);
        STATE("db", "running");
        ck_assert_int_gt(idx("spawn web"), nth("probe db ready", 3));
        HEALTH("db", "-");
        ready("web");
        HAS("notify READY=1");
        /* ready: no more attempts */
        advance(10 * SEC);
        ck_assert_int_eq(cnt("probe db ready"), 3);
        log = capture_end();
        log_has(log, "db: not ready yet: Connection refused\n");
        log_has(log, "db: ready\n");
        free(log);
}
END_TEST

/* The interval runs from the start of one attempt to the start of the
 * next; an attempt slower than the interval is followed at once. */
START_TEST(test_probe_interval_from_attempt_start)
{
        const struct pset ps[] = { { .name = "db", .ready = READY_PROBE, .ready_probe = TCP(SEC, 5 * SEC) } };
        usec_t t1, t2;

        mkp("workers = (" WK("db", "ready_timeout = '60s';") ");", ps, 1);
        sup_start(S);
        ready("db");
        advance(0);
        t1 = F.now;
        advance(700 * MSEC);
        presult("db", PROBE_READY, false, "Connection refused");
        ck_assert_uint_eq(sup_next_deadline(S), t1 + SEC);
        at(t1 + SEC);
        ck_assert_int_eq(cnt("probe db ready"), 2);
        t2 = F.now;
        advance(1500 * MSEC); /* longer than the interval, within the timeout */
        ck_assert_int_eq(cnt("probe db ready"), 2);
        ck_assert_int_eq(cnt_prefix("cancel "), 0);
        presult("db", PROBE_READY, false, "HTTP 503");
        ck_assert_uint_eq(sup_next_deadline(S), t2 + 1500 * MSEC);
        advance(0);
        ck_assert_int_eq(cnt("probe db ready"), 3);
}
END_TEST

/* A late attempt is cancelled and counts as failed before the next one
 * begins. */
START_TEST(test_probe_late_attempt_cancelled)
{
        const struct pset ps[] = { { .name = "db", .ready = READY_PROBE, .ready_probe = TCP(250 * MSEC, SEC) } };
        char *log;

        mkp("workers = (" WK("db", "ready_timeout = '60s';") ");", ps, 1);
        capture_begin(LOG_INFO);
        sup_start(S);
        ready("db");
        advance(0);
        advance(999 * MSEC);
        ck_assert_int_eq(cnt("probe db ready"), 1);
        HASNT("cancel db");
        advance(1 * MSEC);
        HAS("cancel db");
        ck_assert_int_eq(cnt("probe db ready"), 2);
        ck_assert_int_lt(idx("cancel db"), nth("probe db ready", 2));
        presult("db", PROBE_READY, true, NULL);
        STATE("db", "running");
        log = capture_end();
        log_has(log, "db: ready\n");
        ck_assert_ptr_null(strstr(log, "not ready yet")); /* at debug */
        free(log);
}
END_TEST

/* ready_timeout bounds the whole wait: a failed start; the attempt under
 * way is cancelled and its result, if it comes, is ignored. A probe that
 * cannot even start counts as a failed attempt. */
START_TEST(test_probe_ready_timeout)
{
        const struct pset ps[] = { { .name = "db", .ready = READY_PROBE, .ready_probe = TCP(500 * MSEC, SEC) } };

        mkp("workers = (" WK("db", "ready_timeout = '2s'; restart = 'no';") "," WK("web", "after = ['db'];") ");", ps,
            1);
        sup_start(S);
        ready("db");
        F.probe_err = -EMFILE; /* failed at once */
        advance(0);
        F.probe_err = 0;
        at(T0 + 500 * MSEC);
        presult("db", PROBE_READY, false, "Connection refused");
        at(T0 + 1000 * MSEC);
        presult("db", PROBE_READY, false, "Connection refused");
        at(T0 + 1500 * MSEC);
        ck_assert_int_eq(cnt("probe db ready"), 4);
        HASNT("cancel db");
        at(T0 + 2 * SEC);
        HAS("signal db SIGTERM group");
        BEFORE("cancel db", "signal db SIGTERM group");
        presult("db", PROBE_READY, true, NULL); /* too late */
        STATE("db", "stopping");
        down("db", KILLED(SIGTERM));
        STATE("db", "failed");
        OUTCOME("db", "failed");
        advance(10 * SEC);
        ck_assert_int_eq(cnt("probe db ready"), 4);
        HASNT("spawn web");
}
END_TEST

/* A log probe: no attempts and no timer; a matching line makes it ready
 * (even one read before the exec status); other reports are ignored. */
START_TEST(test_probe_log_ready)
{
        const struct pset ps[] = {
                { .name = "db", .ready = READY_PROBE, .ready_probe = LOGP("ready to accept connections") },
                { .name = "web", .ready = READY_PROBE, .ready_probe = LOGP("listening") },
        };

        mkp("workers = (" WK("db", "ready_timeout = '30s';") "," WK("web", "after = ['db']; ready_timeout = '30s';") ");",
            ps, 2);
        sup_start(S);
        ready("db");
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 30 * SEC); /* the ready timeout alone */
        advance(SEC);
        ck_assert_int_eq(cnt_prefix("probe "), 0);
        presult("db", PROBE_READY, false, "no match"); /* not a thing a log probe says */
        presult("db", PROBE_HEALTH, true, NULL);
        STATE("db", "starting");
        presult("db", PROBE_READY, true, NULL);
        STATE("db", "running");
        HAS("spawn web");
        /* the line overtakes the exec status */
        presult("web", PROBE_READY, true, NULL);
        STATE("web", "starting");
        ready("web");
        STATE("web", "running");
        presult("web", PROBE_READY, true, NULL);
        STATE("web", "running");
        ck_assert_int_eq(cnt_prefix("probe "), 0);
        ck_assert_int_eq(cnt_prefix("cancel "), 0);
}
END_TEST

/* Health: the first check one interval after ready; `failures`
 * consecutive failures stop it with the usual sequence and it restarts
 * under its policy, counted as a failure; state changes at notice, every
 * failure at debug; none while it stops or backs off. */
START_TEST(test_health_failures_restart)
{
        const struct pset ps[] = { { .name = "web", .health = HTTP(10 * SEC, SEC, 3) } };
        char *log;

        mkp("workers = (" WK("web", "restart = 'on-failure'; restart_delay = '1s';") ");", ps, 1);
        capture_begin(LOG_DEBUG);
        HEALTH("web", "starting");
        start_all();
        HEALTH("web", "ok");
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 10 * SEC);
        HASNT("probe web health");
        at(T0 + 10 * SEC);
        HAS("probe web health");
        presult("web", PROBE_HEALTH, false, "HTTP 503");
        HEALTH("web", "failing 1/3");
        STATUS_LINE("degraded: web health failing (1/3)");
        HAS("notify STATUS=degraded: web health failing (1/3)");
        advance(10 * SEC);
        presult("web", PROBE_HEALTH, false, "HTTP 503");
        HEALTH("web", "failing 2/3");
        HASNT("signal web SIGTERM group");
        advance(10 * SEC);
        ck_assert_int_eq(cnt("probe web health"), 3);
        presult("web", PROBE_HEALTH, false, "HTTP 500");
        HAS("signal web SIGTERM group");
        STATE("web", "stopping");
        HEALTH("web", "failing 3/3");
        down("web", KILLED(SIGTERM));
        STATE("web", "backoff");
        OUTCOME("web", "failed");
        HEALTH("web", "starting");
        ck_assert_uint_eq(worker_health_failures(W("web")), 3);
        to_next();
        ck_assert_int_eq(cnt("spawn web"), 2);
        ck_assert_int_eq(cnt("probe web health"), 3); /* none while stopping or backing off */
        ready("web");
        HEALTH("web", "ok");
        ck_assert_uint_eq(worker_restarts(W("web")), 1);
        ck_assert_uint_eq(sup_next_deadline(S), F.now + 10 * SEC);
        log = capture_end();
        log_has(log, "web: health failing (1/3): HTTP 503\n");
        log_has(log, "web: health check failed: HTTP 503\n");
        log_has(log, "web: health check failed: HTTP 500\n");
        log_has(log, "web: health failed (3/3): HTTP 500\n");
        ck_assert_ptr_null(strstr(log, "health failing (2/3)"));
        free(log);
}
END_TEST

/* One success resets the count ("health ok again" at notice). */
START_TEST(test_health_success_resets)
{
        const struct pset ps[] = { { .name = "web", .health = HTTP(10 * SEC, SEC, 3) } };
        char *log;

        mkp("workers = (" WK("web", "") ");", ps, 1);
        capture_begin(LOG_NOTICE);
        start_all();
        for (int round = 0; round < 2; round++) {
                advance(10 * SEC);
                presult("web", PROBE_HEALTH, false, "Connection refused");
                advance(10 * SEC);
                presult("web", PROBE_HEALTH, false, "Connection refused");
                HEALTH("web", "failing 2/3");
                advance(10 * SEC);
                presult("web", PROBE_HEALTH, true, NULL);
                HEALTH("web", "ok");
                STATUS_LINE("running: 1/1 workers");
        }
        HASNT("signal web SIGTERM group");
        STATE("web", "running");
        log = capture_end();
        /* changes of state at notice, each failure at debug */
        log_has(log, "web: health failing (1/3): Connection refused\n");
        log_has(log, "web: health ok again\n");
        ck_assert_ptr_null(strstr(log, "health check failed"));
        ck_assert_ptr_null(strstr(log, "web: ready")); /* (info) */
        free(log);
}
END_TEST

/* restart = "no": a failed health check leaves it failed for good. */
START_TEST(test_health_failed_restart_no)
{
        const struct pset ps[] = { { .name = "web", .health = HTTP(SEC, SEC, 1) } };
        char *log;

        mkp("workers = (" WK("web", "restart = 'no';") ");", ps, 1);
        capture_begin(LOG_NOTICE);
        start_all();
        advance(SEC);
        presult("web", PROBE_HEALTH, false, "Connection refused");
        HAS("signal web SIGTERM group");
        down("web", EXITED(0));
        STATE("web", "failed");
        OUTCOME("web", "failed");
        HEALTH("web", "-");
        log = capture_end();
        log_has(log, "web: health failed (1/1): Connection refused\n");
        log_has(log, "web: error: failed for good: health check failed\n");
        ck_assert_ptr_null(strstr(log, "health failing"));
        free(log);
}
END_TEST

/* A stop cancels the attempt under way (before the stop signal); no
 * attempts while stopping or down; stale results and results for the
 * other use are ignored; a start brings the schedule back. */
START_TEST(test_health_none_while_stopping)
{
        const struct pset ps[] = { { .name = "web", .health = HTTP(10 * SEC, 2 * SEC, 3) } };

        mkp("workers = (" WK("web", "stop_timeout = '30s';") ");", ps, 1);
        start_all();
        at(T0 + 10 * SEC);
        sup_on_probe(S, W("web"), PROBE_READY, false, "wrong use"); /* ignored: the attempt is still awaited */
        HEALTH("web", "ok");
        ck_assert_int_eq(sup_stop_worker(S, "web"), 0);
        BEFORE("cancel web", "signal web SIGTERM group");
        presult("web", PROBE_HEALTH, false, "stale");
        HEALTH("web", "ok");
        advance(20 * SEC);
        ck_assert_int_eq(cnt("probe web health"), 1);
        down("web", KILLED(SIGTERM));
        HEALTH("web", "-");
        advance(60 * SEC);
        ck_assert_int_eq(cnt("probe web health"), 1);
        ck_assert_int_eq(cnt("cancel web"), 1);
        ck_assert_int_eq(sup_start_worker(S, "web"), 0);
        ready("web");
        advance(10 * SEC);
        ck_assert_int_eq(cnt("probe web health"), 2);
}
END_TEST

/* The process ends during an attempt: it is cancelled, its result ignored. */
START_TEST(test_health_cancelled_on_exit)
{
        const struct pset ps[] = { { .name = "web", .health = HTTP(10 * SEC, 2 * SEC, 3) } };

        mkp("workers = (" WK("web", "restart = 'on-failure'; restart_delay = '1s';") ");", ps, 1);
        start_all();
        at(T0 + 10 * SEC);
        HAS("probe web health");
        die("web", EXITED(1));
        HAS("cancel web");
        STATE("web", "backoff");
        presult("web", PROBE_HEALTH, false, "Connection refused");
        HEALTH("web", "starting");
        ck_assert_uint_eq(worker_health_failures(W("web")), 0);
        to_next();
        ready("web");
        HEALTH("web", "ok");
        advance(10 * SEC);
        ck_assert_int_eq(cnt("probe web health"), 2);
}
END_TEST

/* STATUS= while health checks fail: the first one, and how many more. */
START_TEST(test_health_status_degraded)
{
        const struct pset ps[] = { { .name = "a", .health = HTTP(10 * SEC, SEC, 3) },
                                   { .name = "b", .health = HTTP(10 * SEC, SEC, 3) } };

        mkp("workers = (" WK("a", "") "," WK("b", "") "," WK("c", "") ");", ps, 2);
        start_all();
        HEALTH("c", "-");
        advance(10 * SEC);
        presult("b", PROBE_HEALTH, false, "HTTP 503");
        presult("a", PROBE_HEALTH, false, "HTTP 503");
        HAS("notify STATUS=degraded: a health failing (1/3), +1 more");
        advance(10 * SEC);
        presult("a", PROBE_HEALTH, true, NULL);
        presult("b", PROBE_HEALTH, false, "HTTP 503");
        HAS("notify STATUS=degraded: b health failing (2/3)");
        advance(10 * SEC);
        presult("a", PROBE_HEALTH, true, NULL);
        presult("b", PROBE_HEALTH, true, NULL);
        STATUS_LINE("running: 3/3 workers");
        ck_assert_str_eq(F.recs[F.n_recs - 1], "notify STATUS=running: 3/3 workers");
}
END_TEST

/* A reload with new probe settings applies them in place: no restart;
 * the attempt under way is cancelled once, the schedule and the count
 * start again with the new interval and failures. Unchanged settings
 * leave the attempt alone. */
START_TEST(test_reload_probe_in_place)
{
        const struct pset ps1[] = { { .name = "web", .health = HTTP(10 * SEC, 2 * SEC, 3) } };
        const struct pset ps2[] = { { .name = "web", .health = HTTP(5 * SEC, SEC, 2) } };
        const char *text = "workers = (" WK("web", "") ");";
        unsigned c[4];
        pid_t pid;

        mkp(text, ps1, 1);
        start_all();
        pid = worker_pid(W("web"));
        at(T0 + 10 * SEC);
        ck_assert_int_eq(reloadp(text, ps1, 1, c), 0);
        COUNTS(c, 0, 0, 0, 1);
        HASNT("cancel web");
        presult("web", PROBE_HEALTH, false, "HTTP 503");
        HEALTH("web", "failing 1/3");
        at(T0 + 20 * SEC);
        ck_assert_int_eq(cnt("probe web health"), 2);
        ck_assert_int_eq(reloadp(text, ps2, 1, c), 0);
        COUNTS(c, 0, 0, 0, 1);
        ck_assert_int_eq(cnt("cancel web"), 1);
        HEALTH("web", "ok");
        ck_assert_uint_eq(sup_next_deadline(S), F.now + 5 * SEC);
        presult("web", PROBE_HEALTH, true, NULL); /* the cancelled attempt: ignored */
        advance(5 * SEC);
        presult("web", PROBE_HEALTH, false, "HTTP 503");
        HEALTH("web", "failing 1/2");
        advance(5 * SEC);
        presult("web", PROBE_HEALTH, false, "HTTP 503");
        HAS("signal web SIGTERM group");
        ck_assert_int_eq(cnt("cancel web"), 1);
        ck_assert_int_eq(worker_pid(W("web")), pid);
        /* removed by a reload: no more checks */
        down("web", KILLED(SIGTERM));
        to_next();
        ready("web");
        ck_assert_int_eq(reloadp(text, NULL, 0, c), 0);
        HEALTH("web", "-");
        advance(60 * SEC);
        ck_assert_int_eq(cnt("probe web health"), 4);
}
END_TEST

/* A reload that removes a failing health probe: nothing is failing any
 * more (status "-", STATUS= not degraded). */
START_TEST(test_reload_removes_failing_probe)
{
        const struct pset ps1[] = { { .name = "web", .health = HTTP(10 * SEC, 2 * SEC, 3) } };
        const char *text = "workers = (" WK("web", "") ");";
        unsigned c[4];

        mkp(text, ps1, 1);
        start_all();
        at(T0 + 10 * SEC);
        presult("web", PROBE_HEALTH, false, "HTTP 503");
        HEALTH("web", "failing 1/3");
        STATUS_LINE("degraded: web health failing (1/3)");
        ck_assert_int_eq(reloadp(text, NULL, 0, c), 0);
        HEALTH("web", "-");
        STATUS_LINE("running: 1/1 workers");
        ck_assert_msg(sup_counts_ok(S), "the counts of workers by state drifted");
}
END_TEST

/* db restarts: its part web has fully stopped before db gets its stop
 * signal, and starts again once db is ready. */
static void part_stops_first(void)
{
        HAS("signal web SIGTERM group");
        HASNT("signal db SIGTERM group");
        down("web", KILLED(SIGTERM));
        HAS("signal db SIGTERM group");
        down("db", KILLED(SIGTERM));
        HAS("spawn db");
        HASNT("spawn web");
        ready("db");
        HAS("spawn web");
        ready("web");
}

/* part_of: `gracectl restart db` (as for every dependent in part one). */
START_TEST(test_part_of_restart)
{
        const struct pset ps[] = { { .name = "web", .part_of = of_db } };

        mkp("workers = (" WK("db", "") "," WK("web", "after = ['db'];") ");", ps, 1);
        start_all();
        clear_recs();
        ck_assert_int_eq(sup_restart_worker(S, "db"), 0);
        part_stops_first();
        STATE("web", "running");
}
END_TEST

/* db ends by itself: the part is stopped at once (what stands on the part
 * first), db's new process starts only once the part is down, and the
 * part (then its dependents) start again once db is ready. */
START_TEST(test_part_of_crash)
{
        const struct pset ps[] = { { .name = "web", .part_of = of_db } };

        mkp("workers = (" WK("db", "restart = 'always'; restart_delay = '1s';") ","
            WK("web", "after = ['db']; stop_timeout = '5s';") "," WK("api", "after = ['web'];") ","
            WK("cache", "after = ['db'];") ");", ps, 1);
        start_all();
        clear_recs();
        die("db", EXITED(1));
        STATE("db", "backoff");
        HAS("signal api SIGTERM group");
        HASNT("signal web SIGTERM group");
        HASNT("signal cache SIGTERM group"); /* not a part: left alone, as in part one */
        down("api", KILLED(SIGTERM));
        HAS("signal web SIGTERM group");
        to_next(); /* db's restart delay */
        ck_assert_uint_eq(F.now, T0 + SEC);
        HASNT("spawn db");
        STATE("db", "waiting");
        down("web", KILLED(SIGTERM));
        HAS("spawn db");
        HASNT("spawn web");
        ready("db");
        HAS("spawn web");
        HASNT("spawn api");
        ready("web");
        HAS("spawn api");
        ready("api");
        BEFORE("signal web SIGTERM group", "spawn db");
        BEFORE("spawn db", "spawn web");
        STATE("api", "running");
        ck_assert_int_eq(cnt_prefix("spawn cache"), 0);
}
END_TEST

/* db's failed health check: the part has fully stopped before db gets its
 * stop signal; db restarts, then the part. */
START_TEST(test_part_of_health_failure)
{
        const struct pset ps[] = { { .name = "db", .health = HTTP(10 * SEC, SEC, 1) },
                                   { .name = "web", .part_of = of_db } };

        mkp("workers = (" WK("db", "restart = 'on-failure'; restart_delay = '1s';") ","
            WK("web", "after = ['db']; stop_timeout = '30s';") ");", ps, 2);
        start_all();
        clear_recs();
        at(T0 + 10 * SEC);
        presult("db", PROBE_HEALTH, false, "HTTP 503");
        HAS("signal web SIGTERM group");
        HASNT("signal db SIGTERM group");
        STATE("db", "running");
        ck_assert(!worker_is_ready(W("db")));
        HEALTH("db", "failing 1/1");
        STATUS_LINE("degraded: db health failing (1/1)");
        advance(10 * SEC);
        ck_assert_int_eq(cnt("probe db health"), 1); /* none while it waits for its stop */
        down("web", KILLED(SIGTERM));
        HAS("signal db SIGTERM group");
        STATE("web", "waiting");
        down("db", KILLED(SIGTERM));
        STATE("db", "backoff");
        OUTCOME("db", "failed");
        HASNT("spawn web");
        to_next();
        HAS("spawn db");
        ready("db");
        HAS("spawn web");
        BEFORE("spawn db", "spawn web");
        ck_assert_uint_eq(worker_restarts(W("db")), 1);
        HEALTH("db", "ok");
}
END_TEST

/* A missed watchdog of db is a failure like a failed health check: the
 * part has fully stopped before db gets its stop signal. */
START_TEST(test_part_of_watchdog)
{
        const struct pset ps[] = { { .name = "web", .part_of = of_db } };

        mkp("workers = (" WK("db", "ready = 'notify'; watchdog = '2s'; restart_delay = '1s';") ","
            WK("web", "after = ['db']; stop_timeout = '30s';") ");", ps, 1);
        sup_start(S);
        ready("db");
        sup_on_notify(S, W("db"), "READY=1");
        ready("web");
        clear_recs();
        advance(2 * SEC);
        HAS("signal web SIGTERM group");
        HASNT("signal db SIGTERM group");
        advance(5 * SEC);
        HASNT("signal db SIGTERM group");
        down("web", KILLED(SIGTERM));
        HAS("signal db SIGTERM group");
        down("db", KILLED(SIGTERM));
        OUTCOME("db", "failed");
        to_next();
        HAS("spawn db");
        HASNT("spawn web");
}
END_TEST

/* `gracectl stop db` takes the part down with it, and it stays down;
 * `gracectl start db` brings it back. */
START_TEST(test_part_of_stop_start)
{
        const struct pset ps[] = { { .name = "web", .part_of = of_db } };

        mkp("workers = (" WK("db", "") "," WK("web", "after = ['db'];") ");", ps, 1);
        start_all();
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "db"), 0);
        HAS("signal web SIGTERM group");
        HASNT("signal db SIGTERM group");
        down("web", KILLED(SIGTERM));
        down("db", KILLED(SIGTERM));
        STATE("db", "down");
        STATE("web", "down");
        advance(3600 * SEC);
        ck_assert_int_eq(cnt_prefix("spawn "), 0);
        ck_assert_int_eq(sup_start_worker(S, "db"), 0);
        HAS("spawn db");
        HASNT("spawn web");
        ready("db");
        HAS("spawn web");
}
END_TEST

/* db fails for good: the part is stopped and stays down, blocked; a start
 * of db brings both back. */
START_TEST(test_part_of_failed_for_good)
{
        const struct pset ps[] = { { .name = "web", .part_of = of_db } };

        mkp("workers = (" WK("db", "restart = 'no';") "," WK("web", "after = ['db'];") ");", ps, 1);
        start_all();
        clear_recs();
        die("db", EXITED(1));
        STATE("db", "failed");
        HAS("signal web SIGTERM group");
        down("web", KILLED(SIGTERM));
        STATE("web", "waiting");
        OUTCOME("web", "not-started");
        advance(3600 * SEC);
        ck_assert_int_eq(cnt_prefix("spawn "), 0);
        ck_assert_int_eq(sup_start_worker(S, "db"), 0);
        HAS("spawn db");
        ready("db");
        HAS("spawn web");
}
END_TEST

/* A shutdown of graced: the usual reverse order, nothing comes back. */
START_TEST(test_part_of_shutdown)
{
        const struct pset ps[] = { { .name = "web", .part_of = of_db } };

        mkp("workers = (" WK("db", "restart = 'always';") "," WK("web", "after = ['db'];") ");", ps, 1);
        start_all();
        clear_recs();
        sig(SIGTERM);
        HAS("signal web SIGTERM group");
        HASNT("signal db SIGTERM group");
        down("web", KILLED(SIGTERM));
        down("db", KILLED(SIGTERM));
        FINISHED(0);
        OUTCOME("web", "stopped");
        OUTCOME("db", "stopped");
        ck_assert_int_eq(cnt_prefix("spawn "), 0);
        ck_assert_int_lt(stop_pos("web"), stop_pos("db"));
}
END_TEST

/* A reload that restarts db: its part stops first and comes back once db
 * is ready; a dependent that is not a part keeps running. */
START_TEST(test_part_of_reload_restart)
{
        const struct pset ps[] = { { .name = "web", .part_of = of_db } };
        const char *two = WK("web", "after = ['db'];") "," WK("api", "after = ['db'];") ");";
        char *text = xasprintf("workers = (" WK("db", "") ",%s", two);
        char *changed = xasprintf("workers = (" WK("db", "env = { K = 'v'; };") ",%s", two);
        unsigned c[4];
        pid_t api;

        mkp(text, ps, 1);
        start_all();
        api = worker_pid(W("api"));
        clear_recs();
        ck_assert_int_eq(reloadp(changed, ps, 1, c), 0);
        COUNTS(c, 0, 0, 1, 2);
        part_stops_first();
        ck_assert_int_eq(worker_pid(W("api")), api);
        ck_assert_int_eq(cnt_prefix("signal api"), 0);
        free(text);
        free(changed);
}
END_TEST

/* Readiness and health probes, part_of. */
static void add_probe_cases(Suite *s)
{
        TCase *probes = tcase_create("probes");
        TCase *parts = tcase_create("part_of");

        tcase_add_checked_fixture(probes, setup, teardown);
        tcase_add_checked_fixture(parts, setup, teardown);
        suite_add_tcase(s, probes);
        suite_add_tcase(s, parts);
        tcase_add_test(probes, test_probe_ready_after_failures);
        tcase_add_test(probes, test_probe_interval_from_attempt_start);
        tcase_add_test(probes, test_probe_late_attempt_cancelled);
        tcase_add_test(probes, test_probe_ready_timeout);
        tcase_add_test(probes, test_probe_log_ready);
        tcase_add_test(probes, test_health_failures_restart);
        tcase_add_test(probes, test_health_success_resets);
        tcase_add_test(probes, test_health_failed_restart_no);
        tcase_add_test(probes, test_health_none_while_stopping);
        tcase_add_test(probes, test_health_cancelled_on_exit);
        tcase_add_test(probes, test_health_status_degraded);
        tcase_add_test(probes, test_reload_probe_in_place);
        tcase_add_test(probes, test_reload_removes_failing_probe);

        tcase_add_test(parts, test_part_of_restart);
        tcase_add_test(parts, test_part_of_crash);
        tcase_add_test(parts, test_part_of_health_failure);
        tcase_add_test(parts, test_part_of_watchdog);
        tcase_add_test(parts, test_part_of_stop_start);
        tcase_add_test(parts, test_part_of_failed_for_good);
        tcase_add_test(parts, test_part_of_shutdown);
        tcase_add_test(parts, test_part_of_reload_restart);
}

/* ---- stop_on_exit, exit_code_from ------------------------------------------------ */

/* db, and tests after it that ends by itself: the shape of a CI run. */
#define CI(sup, extra)                                                                                           \
        "supervisor = { " sup " };\n"                                                                            \
        "workers = (" WK("db", "stop_timeout = '2s';") "," WK("tests", "after = ['db']; stop_on_exit = true; " extra) ");"

/* tests ends with status; graced shuts down in order and exits with code. */
static void ci_run(int status, int code)
{
        mk(CI("exit_code_from = 'tests';", "restart = 'no';"));
        start_all();
        clear_recs();
        die("tests", status);
        ck_assert(sup_shutting_down(S));
        ck_assert(!sup_draining(S)); /* no drain: nothing outside asked for this shutdown */
        ck_assert_str_eq(sup_reason(S), "worker tests exited");
        HAS("notify STOPPING=1");
        HAS("signal db SIGTERM group");
        /* STATUS= says why */
        ck_assert_int_eq(cnt_prefix("notify STATUS=stopping (worker tests exited): db, "), 1);
        NOT_FINISHED();
        down("db", KILLED(SIGTERM));
        FINISHED(code);
}

START_TEST(test_exit_code_from_status)
{
        static const struct {
                int status, code;
        } cases[] = {
                { EXITED(0), 0 },
                { EXITED(3), 3 },
                { EXITED(255), 255 },
                { KILLED(SIGKILL), 137 },
                { KILLED(SIGSEGV), 128 + SIGSEGV },
        };

        ci_run(cases[_i].status, cases[_i].code);
        /* its own status does not make the shutdown unclean */
        ck_assert(sup_is_clean(S));
        OUTCOME("db", "stopped");
        OUTCOME("tests", cases[_i].status == EXITED(0) ? "exited" : "failed");
        ck_assert_int_eq(exit_status(W("tests")), cases[_i].status);
}
END_TEST

/* Another worker's stop is not clean: 1, whatever the tests said. */
START_TEST(test_exit_code_from_unclean)
{
        mk(CI("exit_code_from = 'tests';", "restart = 'no';"));
        start_all();
        die("tests", EXITED(0));
        HAS("signal db SIGTERM group");
        advance(2 * SEC);
        HAS("signal db SIGKILL group");
        down("db", KILLED(SIGKILL));
        FINISHED(1);
        ck_assert(!sup_is_clean(S));
        OUTCOME("db", "killed");
}
END_TEST

/* The summary says where the code came from. */
START_TEST(test_exit_code_from_summary)
{
        char *sum;

        ci_run(EXITED(3), 3);
        sum = sup_summary(S);
        ck_assert_msg(strstr(sum, "shutdown clean in ") && strstr(sum, "; exit status 3 from tests"), "%s", sum);
        free(sum);
}
END_TEST

/* stop_on_exit without exit_code_from: the usual 0/1 (a failed worker is
 * not clean). */
START_TEST(test_stop_on_exit_without_code)
{
        mk(CI("", "restart = 'no';"));
        start_all();
        die("tests", EXITED(3));
        ck_assert_str_eq(sup_reason(S), "worker tests exited");
        down("db", KILLED(SIGTERM));
        FINISHED(1);
        OUTCOME("tests", "failed");
        teardown();
        setup();
        mk(CI("", "restart = 'no';"));
        start_all();
        die("tests", EXITED(0));
        down("db", KILLED(SIGTERM));
        FINISHED(0);
}
END_TEST

/* Only once no restart is due: a failure that restarts is not the end;
 * failing for good is, with the last exit's code. */
START_TEST(test_stop_on_exit_after_restarts)
{
        mk(CI("exit_code_from = 'tests';", "restart = 'on-failure'; start_limit_burst = 2; restart_delay = '1s';"));
        start_all();
        die("tests", EXITED(4));
        ck_assert(!sup_shutting_down(S));
        STATE("tests", "backoff");
        to_next();
        ready("tests");
        die("tests", EXITED(5));
        ck_assert(sup_shutting_down(S));
        ck_assert_str_eq(sup_reason(S), "worker tests exited");
        down("db", KILLED(SIGTERM));
        FINISHED(5);
        /* restart = "always" after exit 0: a restart is due, nothing happens */
        teardown();
        setup();
        mk(CI("exit_code_from = 'tests';", "restart = 'always'; restart_delay = '1s';"));
        start_all();
        die("tests", EXITED(0));
        ck_assert(!sup_shutting_down(S));
        STATE("tests", "backoff");
}
END_TEST

/* A oneshot with stop_on_exit: done is its end. A failed exec too (127). */
START_TEST(test_stop_on_exit_oneshot_and_exec_failure)
{
        mk("supervisor = { exit_code_from = 'job'; };\n"
           "workers = (" WK("svc", "") "," WK("job", "type = 'oneshot'; restart = 'no'; stop_on_exit = true;") ");");
        sup_start(S);
        ready("svc");
        die("job", EXITED(0));
        ck_assert(sup_shutting_down(S));
        down("svc", KILLED(SIGTERM));
        FINISHED(0);
        teardown();
        setup();
        mk(CI("exit_code_from = 'tests';", "restart = 'no';"));
        sup_start(S);
        ready("db");
        sup_on_exec_status(S, W("tests"), ENOENT, "exec");
        die("tests", EXITED(127));
        ck_assert_str_eq(sup_reason(S), "worker tests exited");
        down("db", KILLED(SIGTERM));
        FINISHED(127);
}
END_TEST

/* A shutdown that began otherwise (a signal): the worker is stopped like
 * any other and the usual 0/1 applies, its exit status included. */
START_TEST(test_stop_on_exit_signal_first)
{
        mk(CI("exit_code_from = 'tests';", "restart = 'no';"));
        start_all();
        sig(SIGTERM);
        ck_assert_str_eq(sup_reason(S), "SIGTERM");
        HAS("signal tests SIGTERM group");
        ck_assert_int_eq(cnt_prefix("notify STATUS=stopping: tests, "), 1);
        down("tests", KILLED(SIGTERM));
        down("db", KILLED(SIGTERM));
        FINISHED(0);
        OUTCOME("tests", "stopped");
        teardown();
        setup();
        /* it ends with 3 by itself in the middle of that shutdown (before its
         * stop signal, during its pre_stop): failed, so not clean */
        mk(CI("exit_code_from = 'tests';", "restart = 'no'; pre_stop = ['/bin/true'];"));
        start_all();
        sig(SIGTERM);
        HAS("hook tests/pre_stop");
        down("tests", EXITED(3));
        hook_exit("tests/pre_stop", EXITED(0));
        down("db", KILLED(SIGTERM));
        FINISHED(1);
        OUTCOME("tests", "failed");
        ck_assert_str_eq(sup_reason(S), "SIGTERM");
}
END_TEST

/* Stopped by gracectl stop is no end by itself. */
START_TEST(test_stop_on_exit_manual_stop)
{
        mk(CI("exit_code_from = 'tests';", "restart = 'no';"));
        start_all();
        ck_assert_int_eq(sup_stop_worker(S, "tests"), 0);
        down("tests", KILLED(SIGTERM));
        ck_assert(!sup_shutting_down(S));
        STATE("tests", "down");
        ck_assert_int_eq(sup_start_worker(S, "tests"), 0);
        ready("tests");
        die("tests", EXITED(6));
        ck_assert(sup_shutting_down(S));
        down("db", KILLED(SIGTERM));
        FINISHED(6);
}
END_TEST

/* exit_code_from names another stop_on_exit worker: the usual 0/1. A
 * critical worker's failure is the critical failure (exit 1). */
START_TEST(test_stop_on_exit_other_worker_and_critical)
{
        mk("supervisor = { exit_code_from = 'b'; };\n"
           "workers = (" WK("a", "stop_on_exit = true; restart = 'no';") ","
           WK("b", "stop_on_exit = true; restart = 'no';") ");");
        start_all();
        die("a", EXITED(0));
        ck_assert_str_eq(sup_reason(S), "worker a exited");
        down("b", KILLED(SIGTERM));
        FINISHED(0);
        teardown();
        setup();
        mk("supervisor = { exit_code_from = 'c'; };\n"
           "workers = (" WK("x", "") "," WK("c", "stop_on_exit = true; restart = 'no'; critical = true;") ");");
        start_all();
        die("c", EXITED(3));
        ck_assert_str_eq(sup_reason(S), "critical worker c failed");
        down("x", KILLED(SIGTERM));
        FINISHED(1);
}
END_TEST

/* ---- shutdown_delay: the drain ----------------------------------------------------- */

#define DRAIN(sup) "supervisor = { shutdown_delay = '5s'; " sup " };\n"

/* Every worker is left alone for the delay: no signal, no hook. */
START_TEST(test_drain_leaves_workers)
{
        mk(DRAIN("") "workers = (" WK("db", "") "," WK("web", "after = ['db']; pre_stop = ['/bin/true'];") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        ck_assert(sup_shutting_down(S));
        ck_assert(sup_draining(S));
        HAS("notify STOPPING=1");
        HAS("notify STATUS=draining (5s)");
        ck_assert_int_eq(cnt_prefix("signal "), 0);
        ck_assert_int_eq(cnt_prefix("hook "), 0);
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 5 * SEC);
        advance(4999 * MSEC);
        ck_assert(sup_draining(S));
        ck_assert_int_eq(cnt_prefix("signal "), 0);
        ck_assert_int_eq(cnt_prefix("hook "), 0);
        STATE("web", "running");
        STATE("db", "running");
        advance(1 * MSEC);
        ck_assert(!sup_draining(S));
        ck_assert(sup_shutting_down(S));
        HAS("hook web/pre_stop");
        HASNT("signal db SIGTERM group");
        hook_exit("web/pre_stop", EXITED(0));
        HAS("signal web SIGTERM group");
        down("web", KILLED(SIGTERM));
        HAS("signal db SIGTERM group");
        down("db", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert_str_eq(sup_reason(S), "SIGTERM");
        ck_assert(sup_is_clean(S));
}
END_TEST

/* gracectl shutdown drains as SIGTERM does; a repeated request, or one
 * during the drain, changes nothing. */
START_TEST(test_drain_request)
{
        mk(DRAIN("") "workers = (" WK("w", "") ");");
        start_all();
        clear_recs();
        sup_request_shutdown(S, "gracectl shutdown");
        ck_assert(sup_draining(S));
        advance(1 * SEC);
        sup_request_shutdown(S, "gracectl shutdown");
        ck_assert(sup_draining(S));
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 5 * SEC);
        ck_assert_int_eq(cnt("notify STOPPING=1"), 1);
        HASNT("signal w SIGTERM group");
        to_next();
        HAS("signal w SIGTERM group");
        down("w", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert_str_eq(sup_reason(S), "gracectl shutdown");
}
END_TEST

/* A forcing signal during the drain forces the whole shutdown at once. */
START_TEST(test_drain_forced)
{
        mk(DRAIN("cleanup = ( { name = 'tmp'; command = ['/bin/true']; } );")
           "workers = (" WK("w", "stop_timeout = '30s'; post_stop = ['/bin/true'];") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        advance(1 * SEC);
        ck_assert(sup_draining(S));
        sig(SIGINT); /* the second accepted one: force_after = 2 */
        ck_assert(sup_forced(S));
        ck_assert(!sup_draining(S));
        HAS("signal w SIGKILL group");
        HASNT("signal w SIGTERM group");
        down("w", KILLED(SIGKILL));
        FINISHED(1);
        OUTCOME("w", "killed");
        ck_assert_str_eq(outcome_name(worker_post_stop(W("w"))->outcome), "skipped");
        ck_assert_str_eq(outcome_name(sup_cleanup(S, 0)->outcome), "skipped");
        HASNT("hook cleanup/tmp");
        /* no drain timer left behind */
        ck_assert_uint_eq(sup_next_deadline(S), USEC_INFINITY);
}
END_TEST

/* SIGQUIT during the drain, too; SIGQUIT first and force_after = 1 never drain. */
START_TEST(test_drain_sigquit_and_force_after_1)
{
        mk(DRAIN("") "workers = (" WK("w", "") ");");
        start_all();
        sig(SIGTERM);
        ck_assert(sup_draining(S));
        sig(SIGQUIT);
        ck_assert(!sup_draining(S));
        HAS("signal w SIGKILL group");
        teardown();
        setup();
        mk(DRAIN("") "workers = (" WK("w", "") ");");
        start_all();
        sig(SIGQUIT);
        ck_assert(!sup_draining(S));
        HAS("signal w SIGKILL group");
        teardown();
        setup();
        mk(DRAIN("force_after = 1;") "workers = (" WK("w", "") ");");
        start_all();
        sig(SIGTERM);
        ck_assert(!sup_draining(S));
        ck_assert(sup_forced(S));
}
END_TEST

/* The budget runs from the signal, the drain included. */
START_TEST(test_drain_counts_in_budget)
{
        mk(DRAIN("shutdown_timeout = '8s';") "workers = (" WK("w", "stop_timeout = '30s';") ");");
        start_all();
        sig(SIGTERM);
        at(T0 + 5 * SEC);
        HAS("signal w SIGTERM group");
        ck_assert_uint_eq(sup_next_deadline(S), T0 + 8 * SEC);
        at(T0 + 8 * SEC - 1);
        ck_assert(!sup_forced(S));
        at(T0 + 8 * SEC);
        ck_assert(sup_forced(S));
        HAS("signal w SIGKILL group");
        down("w", KILLED(SIGKILL));
        FINISHED(1);
}
END_TEST

/* Nothing to stop: the drain is still waited for, then the cleanup. */
START_TEST(test_drain_no_workers)
{
        mk(DRAIN("cleanup = ( { name = 'flush'; command = ['/bin/true']; } );"));
        sup_start(S);
        sig(SIGTERM);
        NOT_FINISHED();
        HASNT("hook cleanup/flush");
        advance(5 * SEC);
        HAS("hook cleanup/flush");
        hook_exit("cleanup/flush", EXITED(0));
        FINISHED(0);
}
END_TEST

/* During the drain no worker is restarted or started, and one that ends
 * by itself is recorded as such; stop_on_exit does not begin another
 * shutdown. After the drain, the stop goes on as usual. */
START_TEST(test_drain_worker_exits)
{
        mk(DRAIN("") "workers = (" WK("a", "restart = 'always'; stop_on_exit = true;") "," WK("b", "") ");");
        start_all();
        clear_recs();
        sig(SIGTERM);
        die("a", EXITED(0));
        advance(2 * SEC);
        ck_assert_int_eq(cnt("spawn a"), 0);
        STATE("a", "exited");
        ck_assert_str_eq(sup_reason(S), "SIGTERM");
        ck_assert(sup_draining(S));
        advance(3 * SEC);
        HAS("signal b SIGTERM group");
        HASNT("signal a SIGTERM group");
        down("b", KILLED(SIGTERM));
        FINISHED(0);
        OUTCOME("a", "exited");
}
END_TEST

/* A shutdown by stop_on_exit does not drain. */
START_TEST(test_drain_not_for_stop_on_exit)
{
        mk(DRAIN("exit_code_from = 'tests';")
           "workers = (" WK("db", "") "," WK("tests", "after = ['db']; stop_on_exit = true; restart = 'no';") ");");
        start_all();
        die("tests", EXITED(2));
        ck_assert(!sup_draining(S));
        HAS("signal db SIGTERM group");
        down("db", KILLED(SIGTERM));
        FINISHED(2);
}
END_TEST

static void add_ops_cases(Suite *s)
{
        TCase *exits = tcase_create("stop_on_exit");
        TCase *drain = tcase_create("drain");

        tcase_add_checked_fixture(exits, setup, teardown);
        tcase_add_checked_fixture(drain, setup, teardown);
        suite_add_tcase(s, exits);
        suite_add_tcase(s, drain);
        tcase_add_loop_test(exits, test_exit_code_from_status, 0, 5);
        tcase_add_test(exits, test_exit_code_from_unclean);
        tcase_add_test(exits, test_exit_code_from_summary);
        tcase_add_test(exits, test_stop_on_exit_without_code);
        tcase_add_test(exits, test_stop_on_exit_after_restarts);
        tcase_add_test(exits, test_stop_on_exit_oneshot_and_exec_failure);
        tcase_add_test(exits, test_stop_on_exit_signal_first);
        tcase_add_test(exits, test_stop_on_exit_manual_stop);
        tcase_add_test(exits, test_stop_on_exit_other_worker_and_critical);
        tcase_add_test(drain, test_drain_leaves_workers);
        tcase_add_test(drain, test_drain_request);
        tcase_add_test(drain, test_drain_forced);
        tcase_add_test(drain, test_drain_sigquit_and_force_after_1);
        tcase_add_test(drain, test_drain_counts_in_budget);
        tcase_add_test(drain, test_drain_no_workers);
        tcase_add_test(drain, test_drain_worker_exits);
        tcase_add_test(drain, test_drain_not_for_stop_on_exit);
}

/* ---- instances ------------------------------------------------------------------- */

/* A worker by name, removed ones too (W() finds the configuration's only). */
static struct worker *ANY(const char *name)
{
        for (size_t i = 0; i < sup_n_workers(S); i++)
                if (strcmp(worker_name(sup_worker(S, i)), name) == 0)
                        return sup_worker(S, i);
        ck_abort_msg("no worker %s", name);
        return NULL;
}

static void die_any(const char *name, int status)
{
        struct worker *w = ANY(name);

        ck_assert_msg(worker_alive(w), "%s is not alive", name);
        ck_assert(sup_on_exit(S, worker_pid(w), status));
        ck_assert_msg(sup_counts_ok(S), "the counts of workers by state drifted");
}

/* The names of the workers in the supervisor's order, removed ones in ( ). */
static char *set_names(void)
{
        char *out = NULL;

        for (size_t i = 0; i < sup_n_workers(S); i++) {
                const struct worker *w = sup_worker(S, i);

                ck_assert(str_appendf(&out, "%s%s%s%s", i ? " " : "", worker_removed(w) ? "(" : "", worker_name(w),
                                      worker_removed(w) ? ")" : ""));
        }
        return out;
}

#define SET(want)                                              \
        do {                                                   \
                char *got_ = set_names();                      \
                ck_assert_str_eq(got_, want);                  \
                free(got_);                                    \
        } while (0)

static int scale(const char *name, unsigned n, unsigned *from, char **err)
{
        unsigned f = 0;
        char *e = NULL;
        int r = sup_scale(S, name, n, &f, &e);

        ck_assert_msg(sup_counts_ok(S), "the counts of workers by state drifted");
        if (from)
                *from = f;
        if (err)
                *err = e;
        else
                free(e);
        return r;
}

/* Each instance is a worker of its own; a dependent of the group waits for
 * every instance, and stops before any. */
START_TEST(test_instances_start_stop)
{
        mk("workers = (" WK("db", "") ", " WK("web", "instances = 3; after = ['db'];") ", "
           WK("lb", "after = ['web'];") ");");
        SET("db web.1 web.2 web.3 lb");
        ck_assert_ptr_null(sup_find(S, "web"));
        ck_assert_uint_eq(sup_group(S, "web")->instances, 3);
        ck_assert_ptr_null(sup_group(S, "db"));
        sup_start(S);
        HAS("spawn db");
        HASNT("spawn web.1");
        ready("db");
        BEFORE("spawn web.1", "spawn web.2");
        BEFORE("spawn web.2", "spawn web.3");
        ready("web.1");
        ready("web.3");
        HASNT("spawn lb");
        ready("web.2");
        HAS("spawn lb");
        ready("lb");
        clear_recs();
        sig(SIGTERM);
        HAS("signal lb SIGTERM group");
        HASNT("signal web.1 SIGTERM group");
        down("lb", KILLED(SIGTERM));
        HAS("signal web.1 SIGTERM group");
        HAS("signal web.2 SIGTERM group");
        HAS("signal web.3 SIGTERM group");
        down("web.1", KILLED(SIGTERM));
        down("web.2", KILLED(SIGTERM));
        HASNT("signal db SIGTERM group");
        down("web.3", KILLED(SIGTERM));
        down("db", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert_int_eq(stop_pos("lb"), 0);
        ck_assert_int_eq(stop_pos("db"), 4);
}
END_TEST

/* gracectl stop|start|restart NAME: every instance; NAME.2: that one. */
START_TEST(test_instances_group_operations)
{
        mk("workers = (" WK("web", "instances = 3;") ", " WK("lb", "after = ['web'];") ");");
        start_all();
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "nope"), -ENOENT);
        ck_assert_int_eq(sup_op_state(S, "nope", SUP_OP_STOP), -ENOENT);
        /* one instance: its dependent first, the other instances untouched */
        ck_assert_int_eq(sup_stop_worker(S, "web.2"), 0);
        HAS("signal lb SIGTERM group");
        HASNT("signal web.2 SIGTERM group");
        down("lb", KILLED(SIGTERM));
        HAS("signal web.2 SIGTERM group");
        down("web.2", KILLED(SIGTERM));
        ck_assert_int_eq(sup_op_state(S, "web.2", SUP_OP_STOP), 1);
        HASNT("signal web.1 SIGTERM group");
        HASNT("signal web.3 SIGTERM group");
        STATE("web.1", "running");
        /* the group: every instance */
        clear_recs();
        ck_assert_int_eq(sup_stop_worker(S, "web"), 0);
        HAS("signal web.1 SIGTERM group");
        HAS("signal web.3 SIGTERM group");
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_STOP), 0);
        down("web.1", KILLED(SIGTERM));
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_STOP), 0);
        down("web.3", KILLED(SIGTERM));
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_STOP), 1);
        clear_recs();
        ck_assert_int_eq(sup_start_worker(S, "web"), 0);
        HAS("spawn web.1");
        HAS("spawn web.2");
        HAS("spawn web.3");
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_START), 0);
        ready("web.1");
        ready("web.2");
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_START), 0);
        ready("web.3");
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_START), 1);
        HAS("spawn lb"); /* stopped with web.2, back with it */
        ready("lb");
        /* restart: lb first, then each instance stops and starts again */
        clear_recs();
        ck_assert_int_eq(sup_restart_worker(S, "web"), 0);
        HAS("signal lb SIGTERM group");
        down("lb", KILLED(SIGTERM));
        down("web.1", KILLED(SIGTERM));
        down("web.2", KILLED(SIGTERM));
        down("web.3", KILLED(SIGTERM));
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_RESTART), 0);
        ready("web.1");
        ready("web.2");
        ready("web.3");
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_RESTART), 1);
        ready("lb");
        STATE("lb", "running");
        /* a failed instance fails the group's operation */
        F.spawn_fail = "web.2";
        F.spawn_err = -ENOENT;
        ck_assert_int_eq(sup_stop_worker(S, "web"), 0);
        down("lb", KILLED(SIGTERM));
        down("web.1", KILLED(SIGTERM));
        down("web.2", KILLED(SIGTERM));
        down("web.3", KILLED(SIGTERM));
        ck_assert_int_eq(sup_start_worker(S, "web"), 0);
        ready("web.1");
        ready("web.3");
        for (int i = 0; i < 10 && worker_state(W("web.2")) != WORKER_FAILED; i++)
                to_next();
        STATE("web.2", "failed");
        ck_assert_int_eq(sup_op_state(S, "web", SUP_OP_START), -1);
        sig(SIGTERM);
        ck_assert_int_eq(sup_stop_worker(S, "web"), -EBUSY);
}
END_TEST

/* gracectl scale up: the new instances start in order after the others,
 * nothing else is touched; a dependent of the group stops before them too. */
START_TEST(test_scale_up)
{
        unsigned from = 0;
        char *err = NULL;
        pid_t lb;

        mk("workers = (" WK("db", "") ", " WK("web", "instances = 2; after = ['db'];") ", "
           WK("lb", "after = ['web'];") ");");
        start_all();
        lb = worker_pid(W("lb"));
        clear_recs();
        ck_assert_int_eq(scale("web", 4, &from, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_uint_eq(from, 2);
        ck_assert_uint_eq(sup_group(S, "web")->instances, 4);
        SET("db web.1 web.2 web.3 web.4 lb");
        BEFORE("spawn web.3", "spawn web.4");
        ck_assert_int_eq(cnt_prefix("spawn "), 2);
        ck_assert_int_eq(cnt_prefix("signal "), 0);
        ck_assert_int_eq(sup_scale_state(S, "web", 2, 4), 0);
        ready("web.4");
        ck_assert_int_eq(sup_scale_state(S, "web", 2, 4), 0);
        ready("web.3");
        ck_assert_int_eq(sup_scale_state(S, "web", 2, 4), 1);
        ck_assert_int_eq(worker_pid(W("lb")), lb);
        ck_assert_uint_eq(worker_restarts(W("web.1")), 0);
        /* the same count again: nothing to do */
        clear_recs();
        ck_assert_int_eq(scale("web", 4, &from, NULL), 0);
        ck_assert_uint_eq(from, 4);
        ck_assert_uint_eq(F.n_recs, 0);
        /* lb stops before every instance, the new ones included */
        sig(SIGTERM);
        HAS("signal lb SIGTERM group");
        HASNT("signal web.4 SIGTERM group");
        down("lb", KILLED(SIGTERM));
        for (int k = 1; k <= 4; k++) {
                char name[16];

                snprintf(name, sizeof name, "web.%d", k);
                down(name, KILLED(SIGTERM));
        }
        down("db", KILLED(SIGTERM));
        FINISHED(0);
        ck_assert_int_gt(stop_pos("web.4"), stop_pos("lb"));
        ck_assert_int_lt(stop_pos("web.4"), stop_pos("db"));
}
END_TEST

/* gracectl scale down: the highest-numbered first, one after another: the
 * next one gets its pre_stop only once the one above is fully down (its
 * post_stop ended); they show until they are down, and are in no report. */
START_TEST(test_scale_down_order)
{
        unsigned from = 0;

        mk("workers = (" WK("web", "instances = 4; pre_stop = ['/bin/true']; post_stop = ['/bin/true'];") ", "
           WK("lb", "after = ['web'];") ");");
        start_all();
        clear_recs();
        ck_assert_int_eq(scale("web", 2, &from, NULL), 0);
        ck_assert_uint_eq(from, 4);
        ck_assert_uint_eq(sup_group(S, "web")->instances, 2);
        SET("web.1 web.2 lb (web.3) (web.4)");
        ck_assert_ptr_null(sup_find(S, "web.4"));
        ck_assert(sup_listed(S, ANY("web.4")) && sup_listed(S, ANY("web.3")));
        HAS("hook web.4/pre_stop");
        HASNT("hook web.3/pre_stop");
        hook_exit("web.4/pre_stop", EXITED(0));
        HAS("signal web.4 SIGTERM group");
        HASNT("hook web.3/pre_stop");
        die_any("web.4", KILLED(SIGTERM));
        HAS("hook web.4/post_stop");
        HASNT("hook web.3/pre_stop");
        ck_assert_int_eq(sup_scale_state(S, "web", 4, 2), 0);
        hook_exit("web.4/post_stop", EXITED(0));
        HAS("hook web.3/pre_stop");
        ck_assert(!sup_listed(S, ANY("web.4")));
        ck_assert(sup_listed(S, ANY("web.3")));
        ck_assert_int_eq(sup_scale_state(S, "web", 4, 2), 0);
        hook_exit("web.3/pre_stop", EXITED(0));
        die_any("web.3", KILLED(SIGTERM));
        hook_exit("web.3/post_stop", EXITED(0));
        ck_assert_int_eq(sup_scale_state(S, "web", 4, 2), 1);
        ck_assert(!sup_listed(S, ANY("web.3")));
        ck_assert_str_eq(outcome_name(worker_outcome(ANY("web.3"))), "stopped");
        /* nothing else was touched */
        ck_assert_int_eq(cnt_prefix("spawn "), 0);
        HASNT("signal lb SIGTERM group");
        HASNT("signal web.2 SIGTERM group");
        HASNT("hook web.2/pre_stop");
        STATE("lb", "running");
        /* the next change of the set forgets them; the report never knew them */
        ck_assert_int_eq(scale("web", 2, NULL, NULL), 0);
        SET("web.1 web.2 lb");
        sig(SIGTERM);
        down("lb", KILLED(SIGTERM));
        hook_exit("web.1/pre_stop", EXITED(0));
        hook_exit("web.2/pre_stop", EXITED(0));
        down("web.1", KILLED(SIGTERM));
        down("web.2", KILLED(SIGTERM));
        hook_exit("web.1/post_stop", EXITED(0));
        hook_exit("web.2/post_stop", EXITED(0));
        FINISHED(0);
        ck_assert_int_eq(stop_pos("web.2") > 0, 1);
}
END_TEST

/* What gracectl scale refuses: each with its message, nothing changed. */
START_TEST(test_scale_refused)
{
        char *err = NULL;

        mk("workers = (" WK("db", "") ", " WK("api", "instances = 2; ready = { tcp = '127.0.0.1:6553%i'; };") ", "
           WK("web", "instances = 2;") ", " WK("web.3", "") ");");
        start_all();
        clear_recs();
#define REFUSED(name, n, code, msg)                                    \
        do {                                                           \
                ck_assert_int_eq(scale(name, n, NULL, &err), code);    \
                ck_assert_str_eq(err, msg);                            \
                free(err);                                             \
                err = NULL;                                            \
        } while (0)
        REFUSED("nope", 2, -ENOENT, "no such worker: nope");
        REFUSED("db", 2, -EINVAL, "db is not instanced (set instances in its configuration to scale it)");
        REFUSED("web", 0, -EINVAL, "the count must be 1 to 1000");
        REFUSED("web", 1001, -EINVAL, "the count must be 1 to 1000");
        REFUSED("web", 3, -EEXIST, "cannot add web.3: another worker has that name");
        REFUSED("api", 9, -EINVAL, "api.6: ready: invalid tcp address \"127.0.0.1:65536\": bad port (1-65535)");
        ck_assert_uint_eq(F.n_recs, 0);
        SET("db api.1 api.2 web.1 web.2 web.3");
        ck_assert_uint_eq(sup_group(S, "api")->instances, 2);
        sig(SIGTERM);
        REFUSED("web", 1, -EBUSY, "shutting down");
#undef REFUSED
}
END_TEST

/* An instance removed by a scale cannot come back while it still stops;
 * once it is down, it comes back as a new worker. */
START_TEST(test_scale_back_while_stopping)
{
        struct worker *old;
        char *err = NULL;

        mk("workers = (" WK("web", "instances = 2;") ");");
        start_all();
        ck_assert_int_eq(scale("web", 1, NULL, NULL), 0);
        old = ANY("web.2");
        HAS("signal web.2 SIGTERM group");
        clear_recs();
        ck_assert_int_eq(scale("web", 2, NULL, &err), -EBUSY);
        ck_assert_str_eq(err, "web.2 is still stopping (removed earlier): try again once it is down");
        free(err);
        ck_assert_uint_eq(sup_group(S, "web")->instances, 1);
        die_any("web.2", KILLED(SIGTERM));
        ck_assert_int_eq(scale("web", 2, NULL, NULL), 0);
        HAS("spawn web.2");
        ck_assert_ptr_ne(W("web.2"), old);
        SET("web.1 web.2");
        ready("web.2");
        STATE("web.2", "running");
}
END_TEST

/* A reload sets the count from the file again: only the instances above it
 * stop (highest first), and those below it that are new start; the others
 * keep their process. */
START_TEST(test_scale_reload_resets_count)
{
        static const char text2[] = "workers = (" WK("web", "instances = 2;") ", " WK("lb", "after = ['web'];") ");";
        static const char text3[] = "workers = (" WK("web", "instances = 3;") ", " WK("lb", "after = ['web'];") ");";
        pid_t p1, p2, plb;
        unsigned c[4];

        mk(text2);
        start_all();
        p1 = worker_pid(W("web.1"));
        p2 = worker_pid(W("web.2"));
        plb = worker_pid(W("lb"));
        ck_assert_int_eq(scale("web", 4, NULL, NULL), 0);
        ready_all();
        clear_recs();
        ck_assert_int_eq(reload(text2, c), 0);
        COUNTS(c, 0, 2, 0, 3);
        ck_assert_uint_eq(sup_group(S, "web")->instances, 2);
        HAS("signal web.4 SIGTERM group");
        HASNT("signal web.3 SIGTERM group");
        die_any("web.4", KILLED(SIGTERM));
        HAS("signal web.3 SIGTERM group");
        die_any("web.3", KILLED(SIGTERM));
        HASNT("signal web.1 SIGTERM group");
        HASNT("signal web.2 SIGTERM group");
        HASNT("signal lb SIGTERM group");
        ck_assert_int_eq(worker_pid(W("web.1")), p1);
        ck_assert_int_eq(worker_pid(W("web.2")), p2);
        ck_assert_int_eq(worker_pid(W("lb")), plb);
        /* the file raises the count: the new one starts, nothing else */
        clear_recs();
        ck_assert_int_eq(reload(text3, c), 0);
        COUNTS(c, 1, 0, 0, 3);
        SET("web.1 web.2 web.3 lb");
        ck_assert_int_eq(cnt_prefix("spawn "), 1);
        HAS("spawn web.3");
        ck_assert_int_eq(cnt_prefix("signal "), 0);
        ready("web.3");
        ck_assert_int_eq(worker_pid(W("lb")), plb);
}
END_TEST

/* part_of the group: a part of every instance. It stops before an instance
 * that restarts, and comes back once that one is ready; an instance a
 * scale adds (never ready yet) or removes leaves it alone. */
START_TEST(test_scale_part_of)
{
        pid_t lb;

        mk("workers = (" WK("web", "instances = 2;") ", " WK("lb", "part_of = ['web'];") ");");
        start_all();
        lb = worker_pid(W("lb"));
        clear_recs();
        ck_assert_int_eq(scale("web", 3, NULL, NULL), 0);
        HAS("spawn web.3");
        ready("web.3");
        ck_assert_int_eq(scale("web", 1, NULL, NULL), 0);
        die_any("web.3", KILLED(SIGTERM));
        die_any("web.2", KILLED(SIGTERM));
        HASNT("signal lb SIGTERM group");
        ck_assert_int_eq(worker_pid(W("lb")), lb);
        ck_assert_int_eq(scale("web", 2, NULL, NULL), 0);
        ready("web.2");
        HASNT("signal lb SIGTERM group");
        /* web.2 restarts: lb first, back once web.2 is ready */
        clear_recs();
        ck_assert_int_eq(sup_restart_worker(S, "web.2"), 0);
        HAS("signal lb SIGTERM group");
        HASNT("signal web.2 SIGTERM group");
        down("lb", KILLED(SIGTERM));
        HAS("signal web.2 SIGTERM group");
        down("web.2", KILLED(SIGTERM));
        ck_assert_int_eq(cnt("spawn lb"), 0);
        ready("web.2");
        HAS("spawn lb");
}
END_TEST

static void add_instance_cases(Suite *s)
{
        TCase *tc = tcase_create("instances");

        tcase_add_checked_fixture(tc, setup, teardown);
        suite_add_tcase(s, tc);
        tcase_add_test(tc, test_instances_start_stop);
        tcase_add_test(tc, test_instances_group_operations);
        tcase_add_test(tc, test_scale_up);
        tcase_add_test(tc, test_scale_down_order);
        tcase_add_test(tc, test_scale_refused);
        tcase_add_test(tc, test_scale_back_while_stopping);
        tcase_add_test(tc, test_scale_reload_resets_count);
        tcase_add_test(tc, test_scale_part_of);
}

static Suite *sup_suite(void)
{
        Suite *s = suite_create("sup");
        TCase *start = tcase_create("start");
        TCase *restart = tcase_create("restart");
        TCase *stop = tcase_create("stop");
        TCase *sigs = tcase_create("signals");
        TCase *report = tcase_create("report");
        TCase *ops = tcase_create("operations");
        TCase *notify = tcase_create("notify");
        TCase *obj = tcase_create("object");
        TCase *all[] = { start, restart, stop, sigs, report, ops, notify, obj };

        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                tcase_add_checked_fixture(all[i], setup, teardown);
                suite_add_tcase(s, all[i]);
        }

        tcase_add_test(obj, test_reload_keeps_object);
        tcase_add_test(obj, test_reload_removed_and_readded);
        tcase_add_test(obj, test_reload_during_stop);
        tcase_add_test(obj, test_reload_removes_busy_hook);
        tcase_add_test(obj, test_reload_adds_hooks);
        tcase_add_test(obj, test_goal_restart_sequence);
        tcase_add_test(obj, test_worker_transitions);

        tcase_add_test(start, test_start_respects_after);
        tcase_add_test(start, test_start_two_dependencies);
        tcase_add_test(start, test_start_max_parallel);
        tcase_add_test(start, test_start_max_parallel_counts_notify_wait);
        tcase_add_test(start, test_oneshot_gates_dependents);
        tcase_add_test(start, test_oneshot_failure_blocks_dependents);
        tcase_add_test(start, test_oneshot_retried_until_success);
        tcase_add_test(start, test_oneshot_failure_blocks_transitively);
        tcase_add_test(start, test_blocked_dependent_logged);
        tcase_add_test(start, test_ready_timeout_exit_0_is_failed_start);
        tcase_add_test(start, test_ready_timeout_critical_exit_0);
        tcase_add_test(start, test_ready_timeout_counts_as_failed_start);
        tcase_add_test(start, test_ready_timeout_no_restart_fails);
        tcase_add_test(start, test_ready_timeout_critical_shuts_down);
        tcase_add_test(start, test_critical_blocked_by_failed_dependency);
        tcase_add_test(start, test_exec_failure_is_failed_start);
        tcase_add_test(start, test_exec_failure_restarts_up_to_limit);
        tcase_add_test(start, test_spawn_failure_is_failed_start);

        tcase_add_test(restart, test_restart_backoff_doubles);
        tcase_add_test(restart, test_restart_backoff_resets_after_10s);
        tcase_add_test(restart, test_start_limit_burst_fails_for_good);
        tcase_add_test(restart, test_start_limit_only_within_interval);
        tcase_add_test(restart, test_start_limit_burst_one);
        tcase_add_test(restart, test_restart_always_after_exit_0);
        tcase_add_test(restart, test_critical_failed_shuts_down);

        tcase_add_test(stop, test_shutdown_chain_order);
        tcase_add_test(stop, test_shutdown_diamond);
        tcase_add_test(stop, test_shutdown_max_parallel_1);
        tcase_add_test(stop, test_shutdown_max_parallel_2);
        tcase_add_test(stop, test_shutdown_max_parallel_4);
        tcase_add_test(stop, test_pre_stop_before_signal);
        tcase_add_test(stop, test_pre_stop_failure_recorded_stop_goes_on);
        tcase_add_test(stop, test_pre_stop_spawn_failure);
        tcase_add_test(stop, test_pre_stop_timeout);
        tcase_add_test(stop, test_pre_stop_unreaped_not_run_twice);
        tcase_add_test(stop, test_pre_stop_previous_run_ends_during_wait);
        tcase_add_test(stop, test_pre_stop_unreaped_failed_start_and_force);
        tcase_add_test(stop, test_post_stop_after_exit_and_drain);
        tcase_add_test(stop, test_post_stop_timeout);
        tcase_add_test(stop, test_stop_timeout_kills);
        tcase_add_test(stop, test_stop_exit_code_after_signal_is_stopped);
        tcase_add_test(stop, test_group_outlives_leader);
        tcase_add_test(stop, test_group_gone_early);
        tcase_add_test(stop, test_drain_bounded);
        tcase_add_test(stop, test_cleanup_in_order);
        tcase_add_test(stop, test_cleanup_ok_is_clean);
        tcase_add_test(stop, test_shutdown_during_startup);
        tcase_add_test(stop, test_backoff_cancelled_by_shutdown);

        tcase_add_test(sigs, test_signal_debounce);
        tcase_add_test(sigs, test_signal_debounce_zero);
        tcase_add_test(sigs, test_force_after_3);
        tcase_add_test(sigs, test_force_after_1);
        tcase_add_test(sigs, test_force_after_0_never);
        tcase_add_test(sigs, test_sigquit_forces_at_once);
        tcase_add_test(sigs, test_sigusr1_and_unknown);
        tcase_add_test(sigs, test_forced_phase);
        tcase_add_test(sigs, test_forced_kills_running_post_stop);
        tcase_add_test(sigs, test_forced_while_draining_skips_post_stop);
        tcase_add_test(sigs, test_forced_group_remnant_killed);
        tcase_add_test(sigs, test_shielded_step_survives_later_forcing);
        tcase_add_test(sigs, test_unshielded_running_step_killed_by_forcing);
        tcase_add_test(sigs, test_shutdown_timeout_forces);
        tcase_add_test(sigs, test_reload_supervisor_settings);

        tcase_add_test(report, test_report_outcomes);
        tcase_add_test(report, test_exit_wording);
        tcase_add_test(report, test_exit_wording_logged);
        tcase_add_test(report, test_last_exit_kept_across_starts);
        tcase_add_test(report, test_report_clean_with_exited);
        tcase_add_test(report, test_exit_during_pre_stop);
        tcase_add_test(report, test_backoff_after_exit_0_is_exited);
        tcase_add_test(report, test_self_exit_during_shutdown_drained);
        tcase_add_test(report, test_no_workers);
        tcase_add_test(report, test_no_workers_sigquit);

        tcase_add_test(ops, test_manual_stop_and_start);
        tcase_add_test(ops, test_manual_stop_and_start_reverse_definition);
        tcase_add_test(ops, test_manual_stop_dependent_only);
        tcase_add_test(ops, test_manual_restart);

        tcase_add_test(notify, test_notify_status_ready_stopping_extend);
        tcase_add_test(notify, test_notify_ready);
        tcase_add_test(notify, test_notify_ready_before_exec_status);
        tcase_add_test(notify, test_worker_watchdog_restarts);
        tcase_add_test(notify, test_worker_watchdog_restart_no);
        tcase_add_test(notify, test_worker_watchdog_exit_0_restarts);
        tcase_add_test(notify, test_watchdog_during_shutdown_keeps_order);
        tcase_add_test(notify, test_ready_timeout_during_shutdown_keeps_order);
        tcase_add_test(notify, test_watchdog_of_worker_being_stopped);
        add_probe_cases(s);
        add_ops_cases(s);
        add_instance_cases(s);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(sup_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
