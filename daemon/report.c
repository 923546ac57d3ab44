/* report.c - builds the shutdown report from the supervisor's facts and
 * writes it atomically. Strings from the configuration go through
 * json_text_new (valid UTF-8); json-c escapes them. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parse.h"
#include "report.h"

static struct json_object *secs(usec_t u)
{
        char buf[32];

        /* milliseconds precision, printed as such (not 4.0069999999999997) */
        snprintf(buf, sizeof buf, "%llu.%03llu", (unsigned long long)(u / USEC_PER_SEC),
                 (unsigned long long)(u % USEC_PER_SEC / USEC_PER_MSEC));
        return json_object_new_double_s((double)(u / USEC_PER_MSEC) / 1000.0, buf);
}

static struct json_object *hook_json(const struct hook_run *h)
{
        struct json_object *o;

        if (!h->argv)
                return NULL;
        o = json_object_new_object();
        if (h->outcome == OUTCOME_NONE || h->outcome == OUTCOME_SKIPPED) {
                json_object_object_add(o, "outcome", json_object_new_string("skipped"));
                return o;
        }
        json_object_object_add(o, "outcome", json_object_new_string(outcome_name(h->outcome)));
        json_object_object_add(o, "duration_s", secs(h->ended > h->started ? h->ended - h->started : 0));
        json_object_object_add(o, "exit_code", h->exit_code >= 0 ? json_object_new_int(h->exit_code) : NULL);
        if (h->exit_signal)
                json_object_object_add(o, "exit_signal", json_object_new_string(signal_name(h->exit_signal)));
        return o;
}

struct json_object *report_build(struct sup *s, usec_t started_real, usec_t ended_mono)
{
        struct json_object *r = json_object_new_object(), *ws = json_object_new_array(),
                           *cs = json_object_new_array();
        size_t n = sup_n_workers(s);
        struct worker **order = xcalloc(n ? n : 1, sizeof *order);
        char ts[40];
        usec_t began = sup_shutdown_began(s);

        json_object_object_add(r, "supervisor", json_text_new(sup_name(s)));
        json_object_object_add(r, "reason", json_text_new(sup_reason(s)));
        json_object_object_add(r, "forced", json_object_new_boolean(sup_forced(s)));
        json_object_object_add(r, "clean", json_object_new_boolean(sup_is_clean(s)));
        json_object_object_add(r, "started", json_object_new_string(format_iso8601(started_real, ts, sizeof ts)));
        json_object_object_add(r, "duration_s", secs(began && ended_mono > began ? ended_mono - began : 0));
        n = sup_stop_order(s, order);
        for (size_t k = 0; k < n; k++) {
                struct worker *w = order[k];
                struct json_object *o = json_object_new_object();
                int st = 0, sig = worker_stop_signal_sent(w);
                bool ended = worker_has_exit(w, &st);
                usec_t took = worker_stop_duration(w);

                json_object_object_add(o, "name", json_text_new(worker_name(w)));
                json_object_object_add(o, "pid", worker_pid(w) > 0 ? json_object_new_int(worker_pid(w)) : NULL);
                json_object_object_add(o, "outcome", json_object_new_string(outcome_name(worker_outcome(w))));
                json_object_object_add(o, "signal", sig ? json_object_new_string(signal_name(sig)) : NULL);
                json_object_object_add(o, "exit_code", ended && WIFEXITED(st) ? json_object_new_int(WEXITSTATUS(st)) : NULL);
                json_object_object_add(o, "exit_signal",
                                       ended && WIFSIGNALED(st) ? json_object_new_string(signal_name(WTERMSIG(st))) : NULL);
                json_object_object_add(o, "stop_s", took ? secs(took) : NULL);
                json_object_object_add(o, "restarts", json_object_new_int((int)worker_restarts(w)));
                json_object_object_add(o, "pre_stop", hook_json(worker_pre_stop(w)));
                json_object_object_add(o, "post_stop", hook_json(worker_post_stop(w)));
                json_object_array_add(ws, o);
        }
        free(order);
        json_object_object_add(r, "workers", ws);
        for (size_t i = 0; i < sup_n_cleanup(s); i++) {
                const struct hook_run *h = sup_cleanup(s, i);
                struct json_object *o = hook_json(h);

                json_object_object_add(o, "name", json_text_new(h->what));
                json_object_object_add(o, "shielded", json_object_new_boolean(h->shielded));
                json_object_array_add(cs, o);
        }
        json_object_object_add(r, "cleanup", cs);
        return r;
}

int report_write(const char *path, struct json_object *report)
{
        char *tmp = xasprintf("%s.XXXXXX", path);
        const char *text = json_object_to_json_string_ext(report, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        char *dir;
        int fd, r, dfd;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                free(tmp);
                return r;
        }
        r = write_all(fd, text, strlen(text));
        if (r == 0)
                r = write_all(fd, "\n", 1);
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                free(tmp);
                return r;
        }
        /* make the rename itself durable */
        dir = dirname(tmp);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
        }
        free(tmp);
        return 0;
}
