/* check_reexec.c - `gracectl reexec`: graced upgraded in place, its state
 * carried across an exec of itself.
 *
 * "format": the state's texts and sealed memfd (state.c), the
 * configuration model as JSON (conf.c) and the policy's sections
 * (sup_state.c, worker.c) driven with a fake clock and no fork.
 * "reexec": end to end with a real graced, the real gracectl and
 * testworkers (tests/harness.h): pids unchanged, every captured line
 * exactly once across reexecs (a partial line pending in graced's buffer
 * included), a worker that exits while no graced can reap it, a backoff
 * and the start-limit history kept, the report after, a stop under way,
 * the binary replaced on disk, refusals and failures, a state that cannot
 * be read, what systemd is told. Every wait is on a file, a log line, a
 * pid or an answer. Needs GRACED_BIN, GRACECTL_BIN, GRACED_TESTWORKER. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "conf.h"
#include "harness.h"
#include "log.h"
#include "plan.h"
#include "state.h"
#include "sup.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 10000 /* ms: a generous bound for things that happen at once */

/* ---- the format ------------------------------------------------------------------ */

START_TEST(test_base64)
{
        static const char *const known[][2] = { { "", "" },         { "f", "Zg==" },     { "fo", "Zm8=" },
                                                { "foo", "Zm9v" },   { "foob", "Zm9vYg==" }, { "foobar", "Zm9vYmFy" } };
        static const char *const bad[] = { "Zg=", "Z===", "Zm9v!A==", "=AAA", "Zg==Zg==", "Zm=v" };
        unsigned char all[256];
        char out[300];

        for (size_t i = 0; i < ELEMENTSOF(known); i++) {
                char *e = base64_encode(known[i][0], strlen(known[i][0]));

                ck_assert_str_eq(e, known[i][1]);
                ck_assert_int_eq(base64_decode(e, strlen(e), out), (ssize_t)strlen(known[i][0]));
                free(e);
        }
        for (int i = 0; i < 256; i++)
                all[i] = (unsigned char)(255 - i);
        for (size_t n = 0; n <= sizeof all; n++) {
                char *e = base64_encode(all, n);

                ck_assert_int_eq(base64_decode(e, strlen(e), out), (ssize_t)n);
                ck_assert(memcmp(out, all, n) == 0);
                free(e);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(base64_decode(bad[i], strlen(bad[i]), out) < 0, "'%s' decoded", bad[i]);
}
END_TEST

static struct json_object *parse(const char *text)
{
        struct json_object *o = json_tokener_parse(text);

        ck_assert_ptr_nonnull(o);
        return o;
}

/* The state written with the knob `corrupt` (NULL: none), read back. */
static int write_read(const char *corrupt, struct state_proc **procs, size_t *n, int *reply, struct json_object **body,
                      char *why)
{
        struct state_proc in[2] = { { .pid = 100, .pidfd = 7, .stop_signal = SIGTERM, .stop_timeout = 3 * USEC_PER_SEC,
                                      .group = true },
                                    { .pid = 101, .pidfd = -1, .stop_signal = SIGKILL } };
        struct json_object *b = parse("{\"workers\": [], \"x\": \"\\u00e9t\\u00e9\"}");
        int fd = state_write(in, 2, 9, b, corrupt), r;

        json_object_put(b);
        ck_assert_int_ge(fd, 0);
        /* sealed: nobody changes it any more */
        ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
                         F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        ck_assert_int_lt(write(fd, "x", 1), 0);
        ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        *procs = NULL;
        *n = 0;
        *reply = -1;
        *body = NULL;
        r = state_read(fd, procs, n, reply, body, why, 256);
        close(fd);
        return r;
}

START_TEST(test_state_texts)
{
        struct state_proc *p;
        struct json_object *body;
        char why[256];
        size_t n;
        int reply;

        ck_assert_int_eq(write_read(NULL, &p, &n, &reply, &body, why), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(reply, 9);
        ck_assert(p[0].pid == 100 && p[0].pidfd == 7 && p[0].stop_signal == SIGTERM && p[0].group &&
                  p[0].stop_timeout == 3 * USEC_PER_SEC);
        ck_assert(p[1].pid == 101 && p[1].pidfd == -1 && p[1].stop_signal == SIGKILL && !p[1].group);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(body, "x")), "\xc3\xa9t\xc3\xa9");
        json_object_put(body);
        free(p);

        /* the processes are read whatever the version or the body */
        ck_assert_int_eq(write_read("version", &p, &n, &reply, &body, why), -EBADMSG);
        ck_assert_msg(strstr(why, "version 9999"), "%s", why);
        ck_assert_uint_eq(n, 2);
        ck_assert_ptr_null(body);
        free(p);
        ck_assert_int_eq(write_read("json", &p, &n, &reply, &body, why), -EBADMSG);
        ck_assert_msg(strstr(why, "not JSON"), "%s", why);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(reply, 9);
        free(p);
        /* a head that is not JSON: nothing is known */
        ck_assert_int_eq(write_read("head", &p, &n, &reply, &body, why), -EBADMSG);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(p);
        /* a section missing: the reader of the body finds out */
        ck_assert_int_eq(write_read("missing", &p, &n, &reply, &body, why), 0);
        ck_assert(!json_object_object_get_ex(body, "workers", NULL));
        json_object_put(body);
        free(p);
}
END_TEST

/* Only a sealed memfd is a state. */
START_TEST(test_state_unsealed)
{
        static const char text[] = "{\"graced_state\":1,\"size\":2,\"procs\":[]}\n{}";
        char why[256], path[] = "/tmp/graced-state-XXXXXX";
        struct state_proc *p = NULL;
        struct json_object *body = NULL;
        size_t n = 0;
        int reply = -1, fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        unlink(path);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        ck_assert_int_eq(state_read(fd, &p, &n, &reply, &body, why, sizeof why), -EBADMSG);
        ck_assert_msg(strstr(why, "not a sealed memfd"), "%s", why);
        close(fd);
        fd = memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        ck_assert_int_eq(state_read(fd, &p, &n, &reply, &body, why, sizeof why), -EBADMSG);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL), 0);
        ck_assert_int_eq(state_read(fd, &p, &n, &reply, &body, why, sizeof why), 0);
        ck_assert_uint_eq(n, 0);
        json_object_put(body);
        free(p);
        close(fd);
}
END_TEST

/* Checked getters: type, range, size; the first problem is kept. */
START_TEST(test_state_getters)
{
        struct json_object *o = parse("{\"i\": 5, \"s\": \"x\", \"n\": null, \"b\": \"Zm9v\", \"a\": [1, 2, 3],"
                                      " \"e\": \"two\", \"u\": {\"base64\": \"/w==\"}}");
        static const char *const names[] = { "one", "two" };
        struct state_rd rd = { 0 };
        int64_t i = 0;
        int e = -1;
        char *s = NULL, *b = NULL;
        size_t len = 0;
        usec_t u = 0;

        ck_assert(state_get_int(&rd, o, "i", STATE_REQUIRED, 0, 10, &i) && i == 5);
        ck_assert(state_get_usec(&rd, o, "n", STATE_REQUIRED, &u) && u == USEC_INFINITY);
        ck_assert(state_get_enum(&rd, o, "e", STATE_REQUIRED, names, 2, &e) && e == 1);
        ck_assert(state_get_bytes(&rd, o, "b", STATE_REQUIRED, 3, &b, &len) && len == 3 && memcmp(b, "foo", 3) == 0);
        free(b);
        ck_assert(state_get_str(&rd, o, "u", STATE_REQUIRED, 10, &s) && strcmp(s, "\xff") == 0);
        ck_assert(state_get_int(&rd, o, "absent", STATE_OPTIONAL, 0, 1, &i) && i == 5);
        ck_assert(!rd.bad);
        ck_assert(!state_get_bytes(&rd, o, "b", STATE_REQUIRED, 2, &b, &len));
        ck_assert_msg(strstr(rd.why, "b: "), "%s", rd.why);
        rd = (struct state_rd){ 0 };
        state_ctx(&rd, "worker w");
        ck_assert(!state_get_int(&rd, o, "i", STATE_REQUIRED, 0, 4, &i));
        ck_assert_str_eq(rd.why, "worker w: i: 5 out of range");
        ck_assert(!state_get_bool(&rd, o, "s", STATE_REQUIRED, &(bool){ false })); /* the first problem stays */
        ck_assert_str_eq(rd.why, "worker w: i: 5 out of range");
        rd = (struct state_rd){ 0 };
        ck_assert(!state_get_int(&rd, o, "absent", STATE_REQUIRED, 0, 1, &i));
        ck_assert_str_eq(rd.why, "absent: missing");
        rd = (struct state_rd){ 0 };
        ck_assert(!state_get_enum(&rd, o, "s", STATE_REQUIRED, names, 2, &e));
        ck_assert_ptr_null(state_get_arr(&(struct state_rd){ 0 }, o, "a", STATE_REQUIRED, 2));
        free(s);
        json_object_put(o);
}
END_TEST

/* The body's "fds" (state_fdset_adopt()): open descriptor numbers, each
 * once. A number beyond any descriptor is refused as one that is not
 * (INT64_MAX once overflowed in the sizing of the table), and a number
 * that is not open is refused before anything is allocated for it
 * (2147483647 once sized a 2 GiB table: the address space is bounded here,
 * where no sanitizer needs it). Found by tests/fuzz/fuzz_state. */
static struct state_fdset *adopt_fds(const char *text, struct state_rd *rd)
{
        struct json_object *o = parse(text);
        struct state_fdset *set;

        *rd = (struct state_rd){ 0 };
        set = state_fdset_adopt(o, rd);
        json_object_put(o);
        return set;
}

START_TEST(test_state_fds)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct rlimit old, rl;
        struct state_rd rd;
        struct state_fdset *set;
        char text[64];
        bool sanitized = false;

#if defined(__SANITIZE_ADDRESS__)
        sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
        sanitized = true;
#endif
#endif
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
        rl = (struct rlimit){ .rlim_cur = (rlim_t)1 << 30, .rlim_max = old.rlim_max };
        if (!sanitized && old.rlim_cur > rl.rlim_cur)
                ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);

        ck_assert_ptr_null(adopt_fds("{\"fds\": [9223372036854775807]}", &rd));
        ck_assert_str_eq(rd.why, "fds: not a list of distinct descriptors");
        ck_assert_ptr_null(adopt_fds("{\"fds\": [2147483648]}", &rd));
        ck_assert_str_eq(rd.why, "fds: not a list of distinct descriptors");
        ck_assert_ptr_null(adopt_fds("{\"fds\": [2147483647]}", &rd));
        ck_assert_str_eq(rd.why, "fds: descriptor 2147483647: Bad file descriptor");
        ck_assert_ptr_null(adopt_fds("{\"fds\": [-1]}", &rd));
        ck_assert_str_eq(rd.why, "fds: not a list of distinct descriptors");
        ck_assert_ptr_null(adopt_fds("{\"fds\": [\"3\"]}", &rd));
        ck_assert_str_eq(rd.why, "fds: not a list of distinct descriptors");
        snprintf(text, sizeof text, "{\"fds\": [%d, %d]}", fd, fd);
        ck_assert_ptr_null(adopt_fds(text, &rd));
        ck_assert_str_eq(rd.why, "fds: not a list of distinct descriptors");

        snprintf(text, sizeof text, "{\"fds\": [%d]}", fd);
        set = adopt_fds(text, &rd);
        ck_assert_msg(set, "%s", rd.why);
        ck_assert(state_take_fd(&rd, set, fd));
        ck_assert(!state_take_fd(&rd, set, fd));
        ck_assert_msg(strstr(rd.why, "taken twice"), "%s", rd.why);
        state_fdset_free(set, false);
        ck_assert_int_eq(setrlimit(RLIMIT_AS, &old), 0);
        close(fd);
}
END_TEST

/* A configuration that sets every setting (tmp: a directory for paths). */
static struct conf *full_conf(const char *tmp)
{
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        char *path = h_write_file(
                tmp, "full.conf",
                "supervisor = { name = \"full\"; shutdown_timeout = \"77s\"; signal_debounce = \"250ms\";\n"
                "  force_after = 3; max_parallel = 4; ready_timeout = \"33s\"; report_file = \"%s/r.json\";\n"
                "  control_socket = \"%s/c.sock\";\n"
                "  cleanup = ({ name = \"c1\"; command = [\"/bin/true\", \"x y\"]; timeout = \"3s\"; shielded = true; }); };\n"
                "workers = (\n"
                " { name = \"db\"; command = [\"/bin/db\", \"-x\", \"caf\\xc3\\xa9\"]; env = { A = \"1\"; B = \"two words\"; };\n"
                "   env_clear = true; cwd = \"/tmp\"; umask = 0027;\n"
                "   ready = { tcp = \"127.0.0.1:5432\"; interval = \"300ms\"; timeout = \"2s\"; };\n"
                "   health = { exec = [\"/bin/check\", \"db\"]; interval = \"5s\"; timeout = \"1s\"; failures = 4; };\n"
                "   stop_signal = \"SIGINT\"; stop_timeout = \"7s\"; kill_mode = \"process\";\n"
                "   pre_stop = [\"/bin/pre\"]; pre_stop_timeout = \"2s\"; post_stop = [\"/bin/post\"]; post_stop_timeout = \"3s\";\n"
                "   restart = \"always\"; restart_delay = \"1s\"; restart_delay_max = \"9s\"; start_limit_burst = 7;\n"
                "   start_limit_interval = \"2min\"; critical = true; stdout = \"%s/out.log\"; stderr = \"null\"; },\n"
                " { name = \"web\"; command = [\"web\"]; after = [\"db\"]; part_of = [\"db\"]; ready = \"notify\";\n"
                "   watchdog = \"10s\"; stdout = \"inherit\"; health = { http = \"http://127.0.0.1:8080/h\"; }; },\n"
                " { name = \"logp\"; command = [\"/bin/x\"]; ready = { log = \"ready.*now\"; }; },\n"
                " { name = \"sock\"; command = [\"/bin/x\"]; ready = { unix = \"/run/x.sock\"; }; },\n"
                " { name = \"job\"; command = [\"/bin/job\"]; type = \"oneshot\"; ready_timeout = \"5s\"; restart = \"no\"; }\n"
                ");\n",
                tmp, tmp, tmp);

        ck_assert_ptr_nonnull(path);
        if (conf_load(path, &(struct conf_load_opts){ 0 }, &c, &d) < 0)
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "%s\n", conf_diag_format(&d.v[i]));
        ck_assert_ptr_nonnull(c);
        free(path);
        return c;
}

START_TEST(test_conf_json)
{
        char *tmp = h_tmpdir();
        struct conf *c = full_conf(tmp), *c2;
        struct state_rd rd = { 0 };
        struct json_object *j1, *j2;

        ck_assert_msg(conf_json_missing_key() == NULL, "setting %s is not carried", conf_json_missing_key());
        /* what only root may set: ids resolved at load */
        c->workers[0].user = strdup("u");
        c->workers[0].group = strdup("g\xff");
        c->workers[0].set_ids = true;
        c->workers[0].uid = 1234;
        c->workers[0].gid = 4321;
        j1 = conf_to_json(c);
        c2 = conf_from_json(j1, &rd);
        ck_assert_msg(c2, "%s", rd.why);
        j2 = conf_to_json(c2);
        ck_assert_msg(json_object_equal(j1, j2), "%s\n%s", json_object_to_json_string(j1),
                      json_object_to_json_string(j2));
        ck_assert_uint_eq(c2->n_workers, 5);
        for (size_t i = 0; i < c->n_workers; i++)
                ck_assert(conf_worker_same_process(&c->workers[i], &c2->workers[i]));
        ck_assert_str_eq(c2->name, "full");
        ck_assert(c2->shutdown_timeout == 77 * USEC_PER_SEC && c2->force_after == 3 && c2->max_parallel == 4);
        ck_assert(c2->n_cleanup == 1 && c2->cleanup[0].shielded && c2->cleanup[0].timeout == 3 * USEC_PER_SEC);
        ck_assert_str_eq(c2->cleanup[0].argv[1], "x y");
        ck_assert(c2->workers[0].umask == 027 && c2->workers[0].stop_signal == SIGINT && c2->workers[0].critical);
        ck_assert(c2->workers[0].uid == 1234 && c2->workers[0].gid == 4321);
        ck_assert_str_eq(c2->workers[0].group, "g\xff");
        ck_assert(c2->workers[0].ready_probe.kind == PROBE_TCP && c2->workers[0].health.kind == PROBE_EXEC);
        ck_assert(c2->workers[0].health.failures == 4 && c2->workers[0].out[STREAM_STDOUT] == OUT_FILE);
        ck_assert_str_eq(c2->workers[0].argv[2], "caf\xc3\xa9");
        ck_assert_str_eq(c2->workers[1].part_of[0], "db");
        ck_assert(c2->workers[1].watchdog == 10 * USEC_PER_SEC && c2->workers[1].health.kind == PROBE_HTTP);
        ck_assert(c2->workers[2].ready_probe.kind == PROBE_LOG && c2->workers[4].type == WORKER_TYPE_ONESHOT);
        json_object_put(j1);
        json_object_put(j2);
        conf_free(c);
        conf_free(c2);
        h_rmrf(tmp);
        free(tmp);
}
END_TEST

/* A model that is not one: refused with the reason. */
START_TEST(test_conf_json_bad)
{
        static const char *const bad[][2] = {
                { "{\"cleanup\": []}", "workers: missing" },
                { "{\"workers\": [{\"name\": \"a\"}]}", "worker a: no command" },
                { "{\"workers\": [{\"command\": [\"x\"]}]}", "a worker without a valid name" },
                { "{\"workers\": [{\"name\": \"a\", \"command\": [\"x\"]}, {\"name\": \"a\", \"command\": [\"y\"]}]}",
                  "worker a: twice" },
                { "{\"workers\": [{\"name\": \"a\", \"command\": [\"x\"], \"stop_signal\": 0}]}", "stop_signal: 0 out of range" },
                { "{\"workers\": [{\"name\": \"a\", \"command\": [\"x\"], \"type\": \"daemon\"}]}",
                  "type: unknown value \"daemon\"" },
                { "{\"workers\": [{\"name\": \"a\", \"command\": \"x\"}]}", "command: not a list" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct json_object *o = parse(bad[i][0]);
                struct state_rd rd = { 0 };

                ck_assert_ptr_null(conf_from_json(o, &rd));
                ck_assert_msg(strstr(rd.why, bad[i][1]), "%s: '%s', not '%s'", bad[i][0], rd.why, bad[i][1]);
                json_object_put(o);
        }
}
END_TEST

/* ---- the policy's sections, with a fake clock ------------------------------------------- */

static struct {
        usec_t now;
        pid_t next_pid;
        unsigned spawns;
} F;

static usec_t f_now(void *ctx) { return F.now; }
static int f_spawn_worker(void *ctx, struct worker *w, struct spawned *out)
{
        out->pid = F.next_pid++;
        out->pidfd = 1000 + out->pid;
        F.spawns++;
        return 0;
}
static int f_spawn_hook(void *ctx, struct hook_run *h, struct spawned *out)
{
        out->pid = F.next_pid++;
        out->pidfd = 1000 + out->pid;
        return 0;
}
static int f_signal(void *ctx, pid_t pid, int pidfd, int sig, bool group) { return 0; }
static void f_finished(void *ctx, int code) {}
static void f_release(void *ctx, pid_t pid, int pidfd) {}

static const struct sup_ops fake_ops = { .now = f_now, .spawn_worker = f_spawn_worker, .spawn_hook = f_spawn_hook,
                                         .signal = f_signal, .finished = f_finished, .release = f_release };

static struct sup *fake_sup(const char *tmp, struct conf **ret)
{
        struct conf_diags d = { 0 };
        struct plan *p = NULL;
        char *path = h_write_file(
                tmp, "p.conf",
                "workers = (\n"
                " { name = \"a\"; command = [\"/bin/a\"]; },\n"
                " { name = \"b\"; command = [\"/bin/b\"]; restart_delay = \"2s\"; restart_delay_max = \"8s\"; },\n"
                " { name = \"c\"; command = [\"/bin/c\"]; after = [\"a\"]; pre_stop = [\"/bin/pre\"]; pre_stop_timeout = \"5s\"; }\n"
                ");\n");

        ck_assert_int_eq(plan_load(path, NULL, ret, &p, &d), 0);
        free(path);
        return sup_new(*ret, p, &fake_ops, &F);
}

static struct json_object *saved(struct sup *s)
{
        struct json_object *body = json_object_new_object();

        sup_save(s, body);
        return body;
}

/* a running, b in its backoff after a failure, c stopping in its
 * pre_stop: saved, adopted, saved again - the same state, and it goes on
 * from where it was. */
START_TEST(test_policy_roundtrip)
{
        char *tmp = h_tmpdir();
        struct conf *c = NULL, *c2 = NULL;
        struct state_rd rd = { 0 };
        struct json_object *b1, *b2;
        struct sup *s, *s2;
        unsigned spawns;

        log_setup(LOG_FORMAT_TEXT, LOG_COLOR_NEVER, LOG_ERR);
        F = (typeof(F)){ .now = 1000 * USEC_PER_SEC, .next_pid = 100 };
        s = fake_sup(tmp, &c);
        sup_start(s);
        for (size_t i = 0; i < sup_n_workers(s); i++)
                sup_on_exec_status(s, sup_worker(s, i), 0, "exec");
        F.now += USEC_PER_SEC;
        ck_assert(sup_on_exit(s, worker_pid(sup_find(s, "b")), 1 << 8));
        ck_assert_int_eq(sup_stop_worker(s, "c"), 0);
        ck_assert_int_eq(worker_state(sup_find(s, "b")), WORKER_BACKOFF);
        ck_assert_int_eq(worker_state(sup_find(s, "c")), WORKER_STOPPING);
        ck_assert(worker_pre_stop(sup_find(s, "c"))->pid > 0);

        sup_prepare_reexec(s);
        b1 = saved(s);
        s2 = sup_adopt(b1, &fake_ops, &F, &c2, &rd);
        ck_assert_msg(s2, "%s", rd.why);
        ck_assert(sup_counts_ok(s2));
        b2 = saved(s2);
        ck_assert_msg(json_object_equal(b1, b2), "%s\n%s", json_object_to_json_string(b1),
                      json_object_to_json_string(b2));
        ck_assert(sup_next_deadline(s2) == sup_next_deadline(s));
        ck_assert(sup_find_pid(s2, worker_pid(sup_find(s, "a"))) == sup_find(s2, "a"));
        ck_assert_uint_eq(worker_restarts(sup_find(s2, "b")), 0);
        ck_assert_uint_eq(worker_starts(sup_find(s2, "b")), 1);

        /* b's backoff ends when it would have: two seconds after its exit */
        s = sup_free(s);
        spawns = F.spawns;
        F.now += 2 * USEC_PER_SEC - 1;
        sup_on_time(s2);
        ck_assert_uint_eq(F.spawns, spawns);
        F.now += 1;
        sup_on_time(s2);
        ck_assert_uint_eq(F.spawns, spawns + 1);
        ck_assert_int_eq(worker_state(sup_find(s2, "b")), WORKER_STARTING);
        ck_assert_uint_eq(worker_restarts(sup_find(s2, "b")), 1);
        /* c's pre_stop ends: its stop goes on */
        ck_assert(sup_on_exit(s2, worker_pre_stop(sup_find(s2, "c"))->pid, 0));
        ck_assert_int_eq(worker_pre_stop(sup_find(s2, "c"))->outcome, OUTCOME_OK);
        ck_assert(sup_counts_ok(s2));

        json_object_put(b1);
        json_object_put(b2);
        h_rmrf(tmp);
        free(tmp);
        sup_free(s2);
        conf_free(c);
        conf_free(c2);
}
END_TEST

/* A state the policy cannot use is refused before anything holds a process. */
START_TEST(test_policy_bad)
{
        static const char *const breakage[][2] = {
                { "state", "\"state\": \"sleeping\"" },
                { "pid", NULL },
                { "starts", NULL },
        };
        char *tmp = h_tmpdir();
        struct conf *c = NULL;
        struct sup *s;

        F = (typeof(F)){ .now = 1000 * USEC_PER_SEC, .next_pid = 100 };
        s = fake_sup(tmp, &c);
        sup_start(s);
        for (size_t k = 0; k < ELEMENTSOF(breakage); k++) {
                struct json_object *b = saved(s);
                struct json_object *w = json_object_array_get_idx(json_object_object_get(b, "workers"), 1);
                struct state_rd rd = { 0 };
                struct conf *c2 = NULL;

                json_object_object_del(w, breakage[k][0]);
                if (breakage[k][1])
                        json_object_object_add(w, breakage[k][0], json_object_new_string("sleeping"));
                ck_assert_ptr_null(sup_adopt(b, &fake_ops, &F, &c2, &rd));
                ck_assert_msg(strstr(rd.why, "worker b: ") && strstr(rd.why, breakage[k][0]), "%s", rd.why);
                json_object_put(b);
        }
        sup_free(s);
        conf_free(c);
        h_rmrf(tmp);
        free(tmp);
}
END_TEST

/* A required string that is null is refused: its readers use it as it is
 * (a worker's "name": null once reached strcmp() as NULL in
 * worker_adopt(), a crash of the graced reading its state; found by
 * tests/fuzz/fuzz_state). An optional one still gives NULL. */
START_TEST(test_policy_null_string)
{
        struct json_object *o = parse("{\"s\": null}");
        char *tmp = h_tmpdir(), *str = NULL;
        struct state_rd rd = { 0 };
        struct conf *c = NULL, *c2 = NULL;
        struct json_object *b, *w;
        struct sup *s;

        ck_assert(state_get_str(&rd, o, "s", STATE_OPTIONAL, 10, &str) && !str && !rd.bad);
        ck_assert(!state_get_str(&rd, o, "s", STATE_REQUIRED, 10, &str));
        ck_assert_str_eq(rd.why, "s: not a string");
        json_object_put(o);

        F = (typeof(F)){ .now = 1000 * USEC_PER_SEC, .next_pid = 100 };
        s = fake_sup(tmp, &c);
        sup_start(s);
        b = saved(s);
        w = json_object_array_get_idx(json_object_object_get(b, "workers"), 1);
        json_object_object_add(w, "name", NULL);
        rd = (struct state_rd){ 0 };
        ck_assert_ptr_null(sup_adopt(b, &fake_ops, &F, &c2, &rd));
        ck_assert_str_eq(rd.why, "worker b: name: not a string");
        json_object_put(b);
        sup_free(s);
        conf_free(c);
        h_rmrf(tmp);
        free(tmp);
}
END_TEST

/* ---- end to end: helpers ------------------------------------------------------------- */

static const char *stamp(struct gh *g, const char *name) { return gh_path(g, gh_printf(g, "%s.stamp", name)); }

/* (Re)writes DIR/graced.conf: supervisor settings, then workers. */
static const char *conf(struct gh *g, const char *sup, const char *workers_fmt, ...) H_PRINTF(3, 4);
static const char *conf(struct gh *g, const char *sup, const char *workers_fmt, ...)
{
        va_list ap;
        const char *workers, *path;

        va_start(ap, workers_fmt);
        workers = gh_vprintf(g, workers_fmt, ap);
        va_end(ap);
        path = gh_write_file(g, "graced.conf", "supervisor = { name = \"rx\"; %s };\nworkers = (\n%s\n);\n",
                             sup ? sup : "", workers);
        ck_assert_ptr_nonnull(path);
        return path;
}

/* A worker that stamps DIR/NAME.stamp and blocks; args: more testworker
 * arguments before, each quoted and followed by ", "; extra: settings. */
static const char *worker(struct gh *g, const char *name, const char *args, const char *extra)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "  { name = \"%s\"; command = [\"%s\", %s\"--stamp\", \"%s\", \"--block\"]; %s }",
                                  name, h_testworker(), args ? args : "", stamp(g, name), extra ? extra : ""),
                         0);
        return gh_keep(g, s);
}

/* Waits for DIR/NAME.stamp: the pid in it, alive and graced's child. */
static pid_t wait_pid(struct gh *g, const char *name)
{
        pid_t pid;

        ck_assert_msg(h_wait_file(stamp(g, name), T), "%s: no stamp", name);
        pid = h_read_stamp_pid(stamp(g, name));
        ck_assert_msg(pid > 0 && h_pid_alive(pid), "%s: pid %d is not alive", name, (int)pid);
        ck_assert_msg(h_pid_ppid(pid) == g->pid, "%s: pid %d is not graced's child", name, (int)pid);
        return pid;
}

static void same_pid(struct gh *g, const char *name, pid_t pid)
{
        ck_assert_int_eq(h_read_stamp_pid(stamp(g, name)), pid);
        ck_assert_msg(h_pid_alive(pid) && h_pid_ppid(pid) == g->pid, "%s: pid %d gone or not graced's", name, (int)pid);
}

/* gracectl -s SOCKET ARGS... must exit with want; its output (owned by g). */
static const char *ctl_argv(struct gh *g, int want, const char *const *args)
{
        const char *argv[16] = { h_gracectl(), "-s", g->ctl_path };
        char *out = NULL;
        int code, n = 3;

        for (; args[n - 3]; n++)
                argv[n] = args[n - 3];
        argv[n] = NULL;
        code = h_exit_code(h_run(argv, NULL, 30000, &out));
        if (code != want)
                gh_dump_log(g, 40);
        ck_assert_msg(code == want, "gracectl %s: exit %d, not %d: %s", args[0], code, want, out ? out : "");
        return gh_keep(g, out ? out : strdup(""));
}
#define CTL(g, want, ...) ctl_argv(g, want, ARGV(__VA_ARGS__))

/* gracectl reexec: answered once the new graced serves (its log says so
 * by then), by the same process. */
static void reexec(struct gh *g)
{
        int before = h_count_log(g, "re-executed "), unread = h_count_log(g, "s (output unread for ");

        CTL(g, 0, "reexec");
        ck_assert_int_eq(h_count_log(g, "re-executed "), before + 1);
        /* both windows in the log: since the request, since the last read */
        ck_assert_int_eq(h_count_log(g, "s (output unread for "), unread + 1);
        ck_assert(h_pid_alive(g->pid));
}

static int fd_count(pid_t pid)
{
        char path[64];
        DIR *d;
        int n = 0;

        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

/* graced holds n descriptors (a client that just hung up may take an
 * iteration to be closed). */
static void wait_fd_count(pid_t pid, int n)
{
        long long start = h_now_ns();

        while (fd_count(pid) != n && h_ms_since(start) < T)
                (void)poll(NULL, 0, 10);
        ck_assert_int_eq(fd_count(pid), n);
}

/* Every descriptor of pid above 2 is close-on-exec (fdinfo's flags). */
static void assert_all_cloexec(pid_t pid)
{
        char path[64];
        DIR *d;

        snprintf(path, sizeof path, "/proc/%d/fdinfo", (int)pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        for (struct dirent *e; (e = readdir(d));) {
                char file[384], *text, *flags;

                if (e->d_name[0] == '.' || atoi(e->d_name) <= 2)
                        continue;
                snprintf(file, sizeof file, "%s/%s", path, e->d_name);
                text = h_read_file(file);
                if (!text)
                        continue; /* closed meanwhile */
                flags = strstr(text, "flags:");
                ck_assert_ptr_nonnull(flags);
                ck_assert_msg(strtoul(flags + 6, NULL, 8) & O_CLOEXEC, "fd %s of graced is not close-on-exec",
                              e->d_name);
                free(text);
        }
        closedir(d);
}

/* /proc/PID/cmdline holds arg. */
static bool cmdline_has(pid_t pid, const char *arg)
{
        char path[64], *text;
        size_t len;
        bool found = false;

        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        text = h_read_file_len(path, &len);
        for (size_t i = 0; text && i < len; i += strlen(text + i) + 1)
                found |= strncmp(text + i, arg, strlen(arg)) == 0;
        free(text);
        return found;
}

static long long iso_ms(const char *iso)
{
        struct tm tm = { 0 };
        int ms = 0;
        const char *rest = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);

        ck_assert_msg(rest && sscanf(rest, ".%3dZ", &ms) == 1, "not ISO 8601: %s", iso);
        return (long long)timegm(&tm) * 1000 + ms;
}

static long long real_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The JSON of `gracectl --json status`' worker name. */
static struct json_object *status_of(struct gh *g, struct json_object **root, const char *name)
{
        struct json_object *ws;

        *root = json_tokener_parse(CTL(g, 0, "--json", "status"));
        ck_assert_ptr_nonnull(*root);
        ws = h_json_get(*root, "workers");
        for (size_t i = 0; ws && i < json_object_array_length(ws); i++)
                if (strcmp(h_json_str(json_object_array_get_idx(ws, i), "name"), name) == 0)
                        return json_object_array_get_idx(ws, i);
        ck_abort_msg("no worker %s in status", name);
        return NULL;
}

/* ---- end to end --------------------------------------------------------------------- */

/* graced's pid, every worker's pid and their notify socket stay; graced
 * holds as many fds as before; whatever it starts afterwards gets fds 0, 1
 * and 2 only (what was handed over is close-on-exec again). */
START_TEST(test_pids_unchanged)
{
        struct gh g;
        const char *c;
        char *fds;
        pid_t a, b, n;
        int nfd;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, NULL, "%s,\n%s,\n%s",
                 worker(&g, "a", gh_printf(&g, "\"--report-fds\", \"%s\", ", gh_path(&g, "a.fds")), NULL),
                 worker(&g, "b", NULL, "after = [\"a\"]; stdout = \"null\";"),
                 worker(&g, "n", "\"--notify\", \"READY=1\", ", "ready = \"notify\"; after = [\"b\"];"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "running: 3/3 workers", T));
        a = wait_pid(&g, "a");
        b = wait_pid(&g, "b");
        n = wait_pid(&g, "n");
        nfd = fd_count(g.pid);

        for (int i = 0; i < 3; i++)
                reexec(&g);
        ck_assert(cmdline_has(g.pid, "--state-fd="));
        same_pid(&g, "a", a);
        same_pid(&g, "b", b);
        same_pid(&g, "n", n);
        wait_fd_count(g.pid, nfd);
        assert_all_cloexec(g.pid);
        ck_assert_int_eq(h_count_log(&g, "starting:"), 3);
        CTL(&g, 0, "status");

        /* a new process of a: only 0, 1, 2; of n: ready through the adopted notify socket */
        ck_assert_int_eq(unlink(gh_path(&g, "a.fds")), 0);
        CTL(&g, 0, "restart", "a");
        ck_assert(h_wait_file(gh_path(&g, "a.fds"), T));
        fds = h_read_file(gh_path(&g, "a.fds"));
        ck_assert_msg(h_field_count(fds, "fd") == 3, "the worker has other fds than 0, 1, 2:\n%s", fds);
        free(fds);
        CTL(&g, 0, "restart", "n");
        ck_assert_int_ne(h_read_stamp_pid(stamp(&g, "n")), n);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* The numbers of w's captured lines, in the order of graced's log: each
 * must be the next one; returns how many there were. */
static long check_sequence(struct gh *g)
{
        static const char tag[] = " w[stdout]: ";
        char *log = h_log_contents(g), *end;
        long next = 1;

        /* line by line: strstr over the rest of 12 MB each time is quadratic under ASan */
        for (char *p = log; p && *p; p = *end ? end + 1 : end) {
                char *nl = strchrnul(p, '\n'), *t = memmem(p, (size_t)(nl - p), tag, sizeof tag - 1);
                long k;

                end = nl;
                if (!t)
                        continue;
                k = strtol(t + sizeof tag - 1, &end, 10);
                ck_assert_msg(end == nl && k == next, "line %ld where %ld was due", k, next);
                next++;
        }
        free(log);
        return next - 1;
}


/* 200,000 numbered lines: three times, a reexec while graced holds a
 * partial line (the writer waits until graced has read everything it
 * wrote, the first bytes of the next line included), then one while the
 * writer writes the next 50,000: every line once, in order. */
START_TEST(test_lines_exactly_once)
{
        static const char *const cut[3][2] = { { "500", "01" }, { "1000", "01" }, { "15", "0001" } };
        struct gh g;
        const char *c, *args = "";

        ck_assert_int_eq(gh_init(&g), 0);
        for (int k = 0; k < 3; k++)
                args = gh_printf(&g, "%s\"--seq\", \"%d\", \"%d\", \"--write\", \"%s\", \"--wait-drained\", \"%s\", "
                                   "\"--wait-file\", \"%s\", \"--write\", \"%s\\n\", ",
                               args, k * 50000 + (k ? 2 : 1), (k + 1) * 50000, cut[k][0],
                               gh_path(&g, gh_printf(&g, "drained%d", k)), gh_path(&g, gh_printf(&g, "gate%d", k)),
                               cut[k][1]);
        args = gh_printf(&g, "%s\"--seq\", \"150002\", \"200000\", \"--wait-drained\", \"%s\", ", args,
                   gh_path(&g, "drained3"));
        c = conf(&g, NULL, "%s", worker(&g, "w", args, NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        /* (the log is not scanned meanwhile: 12 MB, again and again) */
        for (int k = 0; k < 3; k++) {
                ck_assert(h_wait_file(gh_path(&g, gh_printf(&g, "drained%d", k)), T));
                CTL(&g, 0, "reexec"); /* "500" of line 50001 is in graced's buffer */
                ck_assert_ptr_nonnull(h_write_file(NULL, gh_path(&g, gh_printf(&g, "gate%d", k)), "open\n"));
                CTL(&g, 0, "reexec"); /* while 50,000 lines flow */
        }
        ck_assert(h_wait_file(gh_path(&g, "drained3"), 30000));
        CTL(&g, 0, "status"); /* the iteration that read the last line has written its records */
        ck_assert_int_eq(check_sequence(&g), 200000);
        ck_assert_int_eq(h_count_log(&g, "re-executed "), 6);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* w exits (3) after the old graced wrote its state and before the new one
 * read it (the test holds that window open: STATE_GATE_ENV): the kernel
 * keeps the zombie, the new graced reaps it at adoption and restarts w
 * (on-failure); o is untouched. */
START_TEST(test_exit_during_reexec)
{
        struct gh g;
        const char *c, *gate, *out;
        const char *env[2];
        pid_t w1, w2, o, ctl;
        int status;

        ck_assert_int_eq(gh_init(&g), 0);
        gate = gh_path(&g, "gate");
        env[0] = gh_printf(&g, "%s=%s", STATE_GATE_ENV, gate);
        env[1] = NULL;
        c = conf(&g, NULL, "  { name = \"w\"; command = [\"%s\", \"--stamp\", \"%s\", \"--wait-file\", \"%s\", \"--exit\", "
                           "\"3\"]; restart_delay = \"100ms\"; },\n%s",
                 h_testworker(), stamp(&g, "w"), gh_path(&g, "exit-now"), worker(&g, "o", NULL, NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, env), 0);
        w1 = wait_pid(&g, "w");
        o = wait_pid(&g, "o");
        ck_assert(unlink(stamp(&g, "w")) == 0);

        out = gh_path(&g, "reexec.out");
        ctl = h_spawn(ARGV(h_gracectl(), "-s", g.ctl_path, "reexec"), NULL, out);
        ck_assert_int_gt(ctl, 0);
        ck_assert(h_wait_file(gh_printf(&g, "%s.waiting", gate), T));
        /* the new graced waits before it reads the state: nobody reaps w now */
        ck_assert_ptr_nonnull(h_write_file(NULL, gh_path(&g, "exit-now"), "now\n"));
        ck_assert(h_wait_pid_gone(w1, T));
        ck_assert_msg(h_pid_exists(w1), "w was reaped while no graced could");
        ck_assert_int_eq(unlink(gh_path(&g, "exit-now")), 0); /* its next run waits again */
        ck_assert_ptr_nonnull(h_write_file(NULL, gate, "open\n"));
        status = h_wait_child(ctl, T);
        ck_assert_int_eq(h_exit_code(status), 0);

        ck_assert(h_wait_log(&g, "w: warning: exited 3", T));
        ck_assert_int_lt(h_log_line(&g, "re-executing"), h_log_line(&g, "w: warning: exited 3"));
        ck_assert(h_wait_log(&g, "w: restarting in 100ms", T));
        w2 = wait_pid(&g, "w");
        ck_assert_int_ne(w2, w1);
        ck_assert(h_wait_pid_reaped(w1, T));
        same_pid(&g, "o", o);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A backoff under way ends when it would have (the clock goes on across
 * the exec), and the start-limit history counts the starts before it: w
 * fails for good at its second start, as it would have without a reexec. */
START_TEST(test_backoff_kept)
{
        struct gh g;
        struct json_object *root, *r;
        const char *c;
        long long t1, t2;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, NULL,
                 "  { name = \"w\"; command = [\"%s\", \"--stamp\", \"%s\", \"--exit\", \"1\"]; restart_delay = \"2s\";\n"
                 "    restart_delay_max = \"2s\"; start_limit_burst = 2; start_limit_interval = \"1min\"; }",
                 h_testworker(), stamp(&g, "w"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "w: restarting in 2s", T));
        t1 = h_read_stamp_mono_ns(stamp(&g, "w"));
        ck_assert_int_eq(unlink(stamp(&g, "w")), 0);
        h_sleep_ms(1000); /* half of the backoff passes, on purpose */
        reexec(&g);
        ck_assert_int_eq(h_json_int(status_of(&g, &root, "w"), "restarts"), 0);
        ck_assert_str_eq(h_json_str(status_of(&g, &root, "w"), "state"), "backoff");
        json_object_put(root);

        ck_assert(h_wait_file(stamp(&g, "w"), T));
        t2 = h_read_stamp_mono_ns(stamp(&g, "w"));
        /* a backoff started afresh at the reexec would end a second later */
        ck_assert_msg(t2 - t1 >= 2000000000LL && t2 - t1 < 2800000000LL, "restarted after %lld ms",
                      (t2 - t1) / 1000000);
        ck_assert(h_wait_log(&g, "failed for good: 2 starts within 1min", T));
        ck_assert_int_eq(h_count_log(&g, "w: started (pid"), 2);
        ck_assert_int_eq(h_json_int(status_of(&g, &root, "w"), "restarts"), 1);
        json_object_put(root);
        ck_assert_int_eq(gh_shutdown(&g, T), 1); /* w failed: not clean */
        r = gh_report(&g);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "w"), "outcome"), "failed");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "w"), "restarts"), 1);
        gh_cleanup(&g);
}
END_TEST

/* An ordered shutdown after reexecs: the whole report, its "started" the
 * original boot time. */
START_TEST(test_report_after_reexec)
{
        struct gh g;
        struct json_object *r, *a;
        const char *c, *events;
        long long before, after;
        pid_t pa;
        char *ev;

        ck_assert_int_eq(gh_init(&g), 0);
        events = gh_path(&g, "events");
        c = conf(&g,
                 gh_printf(&g, "cleanup = ({ name = \"flush\"; command = [\"%s\", \"--append\", \"%s\", \"cleanup\"]; });",
                         h_testworker(), events),
                 "%s,\n%s",
                 worker(&g, "a", NULL,
                        gh_printf(&g, "pre_stop = [\"%s\", \"--append\", \"%s\", \"a pre\"]; post_stop = [\"%s\", "
                                    "\"--append\", \"%s\", \"a post\"];",
                                h_testworker(), events, h_testworker(), events)),
                 worker(&g, "b", NULL, "after = [\"a\"];"));
        before = real_ms();
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "running: 2/2 workers", T));
        pa = wait_pid(&g, "a");
        (void)wait_pid(&g, "b");
        h_sleep_ms(20); /* so that the reexec's time differs from the start's */
        after = real_ms();
        reexec(&g);
        reexec(&g);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);

        r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(iso_ms(h_json_str(r, "started")) >= before - 1 && iso_ms(h_json_str(r, "started")) < after,
                      "started %s: not graced's start", h_json_str(r, "started"));
        ck_assert_str_eq(h_json_str(r, "supervisor"), "rx");
        ck_assert_str_eq(h_json_str(r, "reason"), "SIGTERM");
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_int_eq(h_json_bool(r, "forced"), 0);
        ck_assert_int_lt(h_report_worker_pos(r, "b"), h_report_worker_pos(r, "a"));
        a = h_report_worker(r, "a");
        ck_assert_int_eq(h_json_int(a, "pid"), pa);
        ck_assert_str_eq(h_json_str(a, "outcome"), "stopped");
        ck_assert_int_eq(h_json_int(a, "restarts"), 0);
        ck_assert_str_eq(h_json_str(h_json_get(a, "pre_stop"), "outcome"), "ok");
        ck_assert_str_eq(h_json_str(h_json_get(a, "post_stop"), "outcome"), "ok");
        ck_assert_str_eq(h_json_str(h_report_cleanup(r, "flush"), "outcome"), "ok");
        ev = h_read_file(events);
        ck_assert_str_eq(ev, "a pre\na post\ncleanup\n");
        free(ev);
        gh_cleanup(&g);
}
END_TEST

/* A stop under way (its pre_stop running, `gracectl stop` waiting for
 * its answer) goes on in the new graced, which answers gracectl. */
START_TEST(test_stop_under_way)
{
        struct gh g;
        struct json_object *r;
        const char *c, *events, *gate;
        pid_t a, stopper;

        ck_assert_int_eq(gh_init(&g), 0);
        events = gh_path(&g, "events");
        gate = gh_path(&g, "gate");
        c = conf(&g, NULL, "%s",
                 worker(&g, "a", NULL,
                        gh_printf(&g, "pre_stop = [\"%s\", \"--append\", \"%s\", \"pre begins\", \"--wait-file\", \"%s\", "
                                    "\"--append\", \"%s\", \"pre ends\"]; pre_stop_timeout = \"20s\";",
                                h_testworker(), events, gate, events)));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        a = wait_pid(&g, "a");
        stopper = h_spawn(ARGV(h_gracectl(), "-s", g.ctl_path, "stop", "a"), NULL, gh_path(&g, "stop.out"));
        ck_assert_int_gt(stopper, 0);
        ck_assert(h_wait_lines(events, "pre begins", 1, T));
        reexec(&g);
        ck_assert(h_pid_alive(a));
        ck_assert_ptr_nonnull(h_write_file(NULL, gate, "open\n"));
        ck_assert_int_eq(h_exit_code(h_wait_child(stopper, T)), 0);
        ck_assert(h_wait_pid_reaped(a, T));
        ck_assert_int_eq(h_count_lines(events, "pre ends"), 1);
        ck_assert_int_eq(h_count_log(&g, "a: pre_stop started"), 1);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        r = gh_report(&g);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "a"), "outcome"), "stopped");
        ck_assert_str_eq(h_json_str(h_json_get(h_report_worker(r, "a"), "pre_stop"), "outcome"), "ok");
        gh_cleanup(&g);
}
END_TEST

/* graced started from DIR/bin/graced, a copy of GRACED_BIN (mode 0755). */
static const char *copy_graced(struct gh *g)
{
        const char *dir = gh_path(g, "bin"), *path = gh_path(g, "bin/graced");
        size_t len;
        char *bin = h_read_file_len(h_graced(), &len);

        ck_assert_ptr_nonnull(bin);
        ck_assert(mkdir(dir, 0755) == 0 || errno == EEXIST);
        int fd = open(gh_path(g, "bin/graced.new"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, bin, len), (ssize_t)len);
        ck_assert_int_eq(close(fd), 0);
        free(bin);
        /* a new file, a new inode: what a package upgrade does */
        ck_assert_int_eq(rename(gh_path(g, "bin/graced.new"), path), 0);
        return path;
}

/* The package replaced the binary: the reexec runs the new one. */
START_TEST(test_binary_replaced)
{
        struct gh g;
        struct stat old, new, exe;
        const char *c, *bin;
        pid_t w;

        if (getenv("GRACED_WRAPPER") && *getenv("GRACED_WRAPPER"))
                return; /* graced runs under the wrapper: /proc/PID/exe is the wrapper's */
        ck_assert_int_eq(gh_init(&g), 0);
        bin = copy_graced(&g);
        ck_assert_int_eq(setenv("GRACED_BIN", bin, 1), 0);
        c = conf(&g, NULL, "%s", worker(&g, "w", NULL, NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        w = wait_pid(&g, "w");
        ck_assert_int_eq(stat(bin, &old), 0);
        ck_assert_int_eq(stat(gh_printf(&g, "/proc/%d/exe", (int)g.pid), &exe), 0);
        ck_assert(exe.st_ino == old.st_ino);

        (void)copy_graced(&g);
        ck_assert_int_eq(stat(bin, &new), 0);
        ck_assert(new.st_ino != old.st_ino);
        reexec(&g);
        ck_assert_int_eq(stat(gh_printf(&g, "/proc/%d/exe", (int)g.pid), &exe), 0);
        ck_assert_msg(exe.st_ino == new.st_ino, "graced runs inode %lu, the new binary is %lu",
                      (unsigned long)exe.st_ino, (unsigned long)new.st_ino);
        same_pid(&g, "w", w);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* The binary is gone: the exec fails, graced says why and carries on,
 * changed in nothing (its descriptors close-on-exec again). */
START_TEST(test_missing_binary)
{
        struct gh g;
        const char *c, *bin, *out;
        char *fds;
        pid_t w;
        int nfd;

        if (getenv("GRACED_WRAPPER") && *getenv("GRACED_WRAPPER"))
                return;
        ck_assert_int_eq(gh_init(&g), 0);
        bin = copy_graced(&g);
        ck_assert_int_eq(setenv("GRACED_BIN", bin, 1), 0);
        c = conf(&g, NULL, "%s",
                 worker(&g, "w", gh_printf(&g, "\"--report-fds\", \"%s\", ", gh_path(&g, "w.fds")), NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        w = wait_pid(&g, "w");
        ck_assert(h_wait_log(&g, "w: ready", T)); /* its exec-status pipe is closed by then */
        nfd = fd_count(g.pid);
        ck_assert_int_eq(unlink(bin), 0);

        out = CTL(&g, 1, "reexec");
        ck_assert_msg(strstr(out, "cannot re-execute") && strstr(out, "No such file or directory"), "%s", out);
        ck_assert(h_wait_log(&g, "carrying on", T));
        ck_assert_int_eq(h_count_log(&g, "re-executed "), 0);
        ck_assert(!cmdline_has(g.pid, "--state-fd"));
        same_pid(&g, "w", w);
        wait_fd_count(g.pid, nfd);
        assert_all_cloexec(g.pid);
        ck_assert_int_eq(unlink(gh_path(&g, "w.fds")), 0);
        CTL(&g, 0, "restart", "w");
        ck_assert(h_wait_file(gh_path(&g, "w.fds"), T));
        fds = h_read_file(gh_path(&g, "w.fds"));
        ck_assert_msg(h_field_count(fds, "fd") == 3, "the worker has other fds than 0, 1, 2:\n%s", fds);
        free(fds);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* Refused while a shutdown is under way: nothing changes. */
START_TEST(test_refused_during_shutdown)
{
        struct gh g;
        const char *c, *out;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, NULL, "%s", worker(&g, "w", "\"--on-signal-delay\", \"TERM\", \"1000\", \"0\", ", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        (void)wait_pid(&g, "w");
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "w: stopping", T));
        out = CTL(&g, 1, "reexec");
        ck_assert_msg(strstr(out, "shutting down"), "%s", out);
        ck_assert_int_eq(h_count_log(&g, "re-executing"), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A state the new graced cannot read (the test knob corrupts it): every
 * process it names is stopped (stubborn: SIGKILL after its stop_timeout;
 * the grandchild in its group too), graced exits 1 with none left. */
START_TEST(test_corrupt_state)
{
        static const char *const modes[] = { "json", "version", "missing", "head" };
        const char *mode = modes[_i];
        struct gh g;
        const char *c, *env[2];
        pid_t plain, stubborn, gc;
        long long t0;
        int code;

        ck_assert_int_eq(gh_init(&g), 0);
        env[0] = gh_printf(&g, "%s=%s", STATE_CORRUPT_ENV, mode);
        env[1] = NULL;
        c = conf(&g, NULL, "%s,\n%s", worker(&g, "plain", NULL, NULL),
                 worker(&g, "stubborn",
                        gh_printf(&g, "\"--ignore\", \"TERM\", \"--fork-grandchild\", \"%s\", ", gh_path(&g, "gc.pid")),
                        "stop_timeout = \"1s\";"));
        ck_assert_int_eq(gh_start(&g, c, NULL, env), 0);
        plain = wait_pid(&g, "plain");
        stubborn = wait_pid(&g, "stubborn");
        gc = h_read_stamp_pid(gh_path(&g, "gc.pid"));
        ck_assert_int_gt(gc, 0);

        t0 = h_now_ns();
        code = h_exit_code(h_run(ARGV(h_gracectl(), "-s", g.ctl_path, "reexec"), NULL, T, NULL));
        /* told why, unless even the head was unreadable */
        ck_assert_int_eq(code, strcmp(mode, "head") == 0 ? 69 : 1);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        ck_assert(h_count_log(&g, "cannot adopt the state") == 1);
        ck_assert(h_count_log(&g, "every process stopped; exiting 1") == 1);
        ck_assert(!h_pid_alive(plain) && !h_pid_alive(stubborn) && !h_pid_alive(gc));
        if (strcmp(mode, "head") != 0) {
                ck_assert(h_count_log(&g, "killed after its stop_timeout") == 1);
                ck_assert_int_ge(h_ms_since(t0), 1000);
        }
        gh_cleanup(&g);
}
END_TEST

/* A reload removed slow and changed quick (each takes a second to stop):
 * a reexec while both still stop carries them on: slow is forgotten once
 * down, quick starts again with its new command, keep never moved. */
START_TEST(test_reload_aftermath)
{
        struct gh g;
        struct json_object *root, *r;
        const char *c, *slow, *keep, *delay = "\"--on-signal-delay\", \"TERM\", \"1000\", \"0\", ";
        pid_t s, k, q;

        ck_assert_int_eq(gh_init(&g), 0);
        slow = worker(&g, "slow", delay, "stop_timeout = \"10s\";");
        keep = worker(&g, "keep", NULL, "after = [\"quick\"];");
        c = conf(&g, NULL, "%s,\n%s,\n%s", slow, worker(&g, "quick", delay, NULL), keep);
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        s = wait_pid(&g, "slow");
        k = wait_pid(&g, "keep");
        q = wait_pid(&g, "quick");
        ck_assert_int_eq(unlink(stamp(&g, "quick")), 0);
        (void)conf(&g, NULL, "%s,\n%s", worker(&g, "quick", "\"--verbose\", ", NULL), keep);
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert(h_wait_log(&g, "slow: stopping", T));
        ck_assert(h_wait_log(&g, "quick: stopping", T));
        reexec(&g);
        ck_assert(h_pid_alive(s) && h_pid_alive(q)); /* still in their second of stopping */
        ck_assert(h_wait_pid_reaped(s, T));
        ck_assert(h_wait_pid_reaped(q, T));
        ck_assert_int_ne(wait_pid(&g, "quick"), q);
        ck_assert(h_wait_log(&g, "quick: ready", T));
        same_pid(&g, "keep", k);
        (void)status_of(&g, &root, "keep");
        ck_assert_int_eq(h_json_len(root, "workers"), 2); /* slow is gone from status */
        json_object_put(root);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        r = gh_report(&g);
        ck_assert_ptr_null(h_report_worker(r, "slow"));
        gh_cleanup(&g);
}
END_TEST

/* An exec health probe under way is ended by the reexec (its process
 * group killed, its zombie reaped by the new graced) and counts neither
 * way: the next attempt begins at once; the worker stays healthy. */
START_TEST(test_probe_under_way)
{
        struct gh g;
        struct json_object *root;
        const char *c, *events;
        pid_t w, probe;
        char *pids;

        ck_assert_int_eq(gh_init(&g), 0);
        events = gh_path(&g, "events");
        c = conf(&g, NULL, "%s",
                 worker(&g, "w", NULL,
                        gh_printf(&g, "health = { exec = [\"/bin/sh\", \"-c\", \"echo $$ >> %s; exec sleep 30\"]; "
                                      "interval = \"100ms\"; timeout = \"20s\"; failures = 1; };",
                                  events)));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        w = wait_pid(&g, "w");
        ck_assert(h_wait_lines(events, "", 1, T));
        pids = h_read_file(events);
        probe = (pid_t)atoi(pids);
        free(pids);
        ck_assert(h_pid_alive(probe));
        reexec(&g);
        ck_assert(h_wait_pid_reaped(probe, T)); /* killed, and reaped: no zombie left */
        ck_assert(h_wait_lines(events, "", 2, T)); /* the next attempt */
        same_pid(&g, "w", w);
        ck_assert_str_eq(h_json_str(status_of(&g, &root, "w"), "state"), "running");
        json_object_put(root);
        ck_assert_int_eq(h_count_log(&g, "health failing"), 0);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* As a subreaper, orphans are reaped by the new graced too. */
START_TEST(test_subreaper_orphans)
{
        struct gh g;
        const char *c;
        pid_t orphan;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, NULL, "  { name = \"w\"; command = [\"%s\", \"--stamp\", \"%s\", \"--wait-file\", \"%s\", "
                           "\"--orphan\", \"%s\", \"--block\"]; }",
                 h_testworker(), stamp(&g, "w"), gh_path(&g, "gate"), gh_path(&g, "orphan.pid"));
        ck_assert_int_eq(gh_start(&g, c, ARGV("--subreaper", "-v"), NULL), 0);
        (void)wait_pid(&g, "w");
        reexec(&g);
        ck_assert(cmdline_has(g.pid, "--subreaper"));
        ck_assert_ptr_nonnull(h_write_file(NULL, gh_path(&g, "gate"), "open\n"));
        ck_assert(h_wait_file(gh_path(&g, "orphan.pid"), T));
        orphan = h_read_stamp_pid(gh_path(&g, "orphan.pid"));
        ck_assert_int_gt(orphan, 0);
        ck_assert(h_wait_pid_reaped(orphan, T));
        ck_assert(h_wait_log(&g, gh_printf(&g, "reaped orphan %d (", (int)orphan), T));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* Occurrences of needle in hay. */
static int count_in(const char *hay, const char *needle)
{
        int n = 0;

        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* What a reexec carries besides the workers: the records `gracectl logs`
 * shows (each once, in order), a file
 * stream's partial line (written to its file once the line ends, after
 * the reexec), and the HTTP endpoint's listening socket. */
START_TEST(test_records_files_http)
{
        struct gh g;
        const char *c, *out, *fout;
        char *text;
        int port = h_free_port();

        ck_assert_int_eq(gh_init(&g), 0);
        fout = gh_path(&g, "f.out");
        c = conf(&g, gh_printf(&g, "http_listen = \"127.0.0.1:%d\";", port), "%s,\n%s",
                 worker(&g, "w", "\"--say\", \"alpha one\", \"--say\", \"beta two\", ", NULL),
                 worker(&g, "f",
                        gh_printf(&g, "\"--write\", \"whole line\\\\npart\", \"--wait-drained\", \"%s\", "
                                      "\"--wait-file\", \"%s\", \"--write\", \"ial line\\\\n\", ",
                                  gh_path(&g, "fdrained"), gh_path(&g, "fgate")),
                        gh_printf(&g, "stdout = \"%s\";", fout)));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        (void)wait_pid(&g, "w");
        ck_assert(h_wait_file(gh_path(&g, "fdrained"), T)); /* "part" is graced's, not the pipe's */
        ck_assert(h_wait_log(&g, "beta two", T));
        ck_assert_int_eq(h_http_status(port, "/readyz"), 200);
        reexec(&g);
        ck_assert_int_eq(h_http_status(port, "/readyz"), 200);
        ck_assert_ptr_nonnull(h_write_file(NULL, gh_path(&g, "fgate"), "open\n"));
        ck_assert(h_wait_lines(fout, "partial line", 1, T));
        text = gh_keep(&g, h_read_file(fout));
        ck_assert_str_eq(text, "whole line\npartial line\n");
        out = CTL(&g, 0, "logs", "-n", "100", "w");
        ck_assert_msg(count_in(out, ": alpha one\n") == 1 && count_in(out, ": beta two\n") == 1, "%s", out);
        ck_assert_msg(strstr(out, ": alpha one\n") < strstr(out, ": beta two\n"), "%s", out);
        out = CTL(&g, 0, "logs", "-n", "1000");
        ck_assert_msg(count_in(out, ": alpha one\n") == 1 && count_in(out, "w: ready\n") == 1, "%s", out);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* The new graced loads what it needs, as a start does: neither libcurl
 * nor libmicrohttpd without http_listen and http probes; libmicrohttpd
 * once it adopts the endpoint's socket (libcurl still not). */
START_TEST(test_libraries_across_reexec)
{
        struct gh g;
        const char *w;
        int port = h_free_port();

        ck_assert_int_eq(gh_init(&g), 0);
        w = worker(&g, "w", NULL, NULL);
        ck_assert_int_eq(gh_start(&g, conf(&g, NULL, "%s", w), NULL, NULL), 0);
        (void)wait_pid(&g, "w");
        reexec(&g);
        ck_assert(!h_pid_maps(g.pid, "libmicrohttpd"));
        ck_assert(!h_pid_maps(g.pid, "libcurl"));

        ck_assert_ptr_nonnull(conf(&g, gh_printf(&g, "http_listen = \"127.0.0.1:%d\";", port), "%s", w));
        CTL(&g, 0, "reload");
        ck_assert_int_eq(h_http_status(port, "/readyz"), 200);
        reexec(&g);
        ck_assert_int_eq(h_http_status(port, "/readyz"), 200);
        ck_assert(h_pid_maps(g.pid, "libmicrohttpd"));
        ck_assert(!h_pid_maps(g.pid, "libcurl"));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* Datagrams received so far that contain substr, waiting for count of them. */
static bool notify_count(struct h_notify *n, const char *substr, int count, int timeout_ms)
{
        long long start = h_now_ns();

        while (h_notify_count(n, substr) < count) {
                struct pollfd p = { .fd = n->fd, .events = POLLIN };

                if (h_ms_since(start) > timeout_ms)
                        return false;
                (void)poll(&p, 1, 50);
        }
        return true;
}

/* systemd hears RELOADING=1 with MONOTONIC_USEC before and READY=1 after,
 * from the same main pid; the watchdog goes on. */
START_TEST(test_notify)
{
        struct gh g;
        struct h_notify n;
        const char *c, *env[3];
        int reloading, ready;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(h_notify_open(&n, g.dir), 0);
        env[0] = n.env;
        env[1] = "WATCHDOG_USEC=400000";
        env[2] = NULL;
        c = conf(&g, NULL, "%s", worker(&g, "w", NULL, NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, env), 0);
        ck_assert(notify_count(&n, "READY=1", 1, T));
        reexec(&g);
        ck_assert(notify_count(&n, "READY=1", 2, T));
        reloading = h_notify_find(&n, "RELOADING=1");
        ck_assert_int_ge(reloading, 0);
        ck_assert_msg(strstr(n.msgs[reloading], "MONOTONIC_USEC="), "%s", n.msgs[reloading]);
        for (ready = reloading; ready < (int)n.n && !strstr(n.msgs[ready], "READY=1"); ready++)
                ;
        ck_assert_int_lt(ready, (int)n.n);
        for (size_t i = 0; i < n.n; i++)
                ck_assert_int_eq(n.pids[i], g.pid);
        /* WATCHDOG=1 every 200 ms, from the new graced too */
        int wd = h_notify_count(&n, "WATCHDOG=1");
        ck_assert(notify_count(&n, "WATCHDOG=1", wd + 2, T));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        h_notify_close(&n);
        gh_cleanup(&g);
}
END_TEST

/* Instances and logs across a reexec: a group scaled to 3 stays at 3
 * across two reexecs (a reload then goes back to the file's 2); a
 * `gracectl logs -f` reader gets its last line and ends (0); the log
 * buffer's limit and the configuration in force are carried. */
START_TEST(test_instances_and_logs)
{
        struct gh g;
        const char *c, *st, *fout;
        char *out;
        pid_t f, w3;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "log_buffer = 7;", "%s",
                 gh_printf(&g, "  { name = \"web\"; instances = 2; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; }",
                           h_testworker(), gh_path(&g, "web.%i.stamp")));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "running: 2/2 workers", T));
        CTL(&g, 0, "scale", "web", "3");
        ck_assert(h_wait_file(gh_path(&g, "web.3.stamp"), T));
        w3 = wait_pid(&g, "web.3");
        fout = gh_path(&g, "f.out");
        f = h_spawn(ARGV(h_gracectl(), "-s", g.ctl_path, "logs", "-f", "-n", "1", "web.1"), NULL, fout);
        ck_assert_int_gt(f, 0);
        ck_assert(h_wait_lines(fout, "web.1", 1, T));
        reexec(&g);
        ck_assert_int_eq(h_exit_code(h_wait_child(f, T)), 0);
        out = gh_keep(&g, h_read_file(fout));
        ck_assert_msg(strstr(out, "-- graced re-executed --\n") != NULL, "follower's output: %s", out);
        st = CTL(&g, 0, "--json", "status");
        ck_assert_msg(strstr(st, "\"web.3\"") != NULL, "status after reexec: %s", st);
        same_pid(&g, "web.3", w3);
        reexec(&g);
        st = CTL(&g, 0, "--json", "status");
        ck_assert_msg(strstr(st, "\"web.3\"") != NULL && strstr(st, "\"web.4\"") == NULL, "status: %s", st);
        same_pid(&g, "web.3", w3);
        /* a reload goes back to the file's count, as without a reexec */
        CTL(&g, 0, "reload");
        ck_assert(h_wait_pid_gone(w3, T));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("reexec");
        TCase *tc = h_tcase(s, "format", 30);

        tcase_add_test(tc, test_base64);
        tcase_add_test(tc, test_state_texts);
        tcase_add_test(tc, test_state_unsealed);
        tcase_add_test(tc, test_state_getters);
        tcase_add_test(tc, test_state_fds);
        tcase_add_test(tc, test_conf_json);
        tcase_add_test(tc, test_conf_json_bad);
        tcase_add_test(tc, test_policy_roundtrip);
        tcase_add_test(tc, test_policy_bad);
        tcase_add_test(tc, test_policy_null_string);
        tc = h_tcase(s, "reexec", 60);
        tcase_add_test(tc, test_pids_unchanged);
        tcase_add_test(tc, test_lines_exactly_once);
        tcase_add_test(tc, test_exit_during_reexec);
        tcase_add_test(tc, test_backoff_kept);
        tcase_add_test(tc, test_report_after_reexec);
        tcase_add_test(tc, test_stop_under_way);
        tcase_add_test(tc, test_binary_replaced);
        tcase_add_test(tc, test_missing_binary);
        tcase_add_test(tc, test_refused_during_shutdown);
        tcase_add_loop_test(tc, test_corrupt_state, 0, 4);
        tcase_add_test(tc, test_notify);
        tcase_add_test(tc, test_reload_aftermath);
        tcase_add_test(tc, test_probe_under_way);
        tcase_add_test(tc, test_subreaper_orphans);
        tcase_add_test(tc, test_instances_and_logs);
        tcase_add_test(tc, test_records_files_http);
        tcase_add_test(tc, test_libraries_across_reexec);
        return s;
}

int main(void)
{
        (void)h_graced();
        (void)h_gracectl();
        (void)h_testworker();
        return h_run_suite(suite());
}
