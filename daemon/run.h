/* run.h - the running daemon: wires the supervisor (policy) to the loop,
 * process mechanics, output capture, signals and systemd. */
#pragma once

#include <stdbool.h>
#include "conf.h"
#include "plan.h"

struct run_opts {
        const char *config_path;
        const char *report_path; /* --report; NULL: the config's */
        bool subreaper;
        char *const *argv; /* graced's own, to exec again with (gracectl reexec) */
};

/* Runs until the shutdown is done; returns graced's exit code. Takes
 * ownership of c and p. */
int run_main(struct conf *c, struct plan *p, const struct run_opts *o);

/* The graced that `gracectl reexec` exec'd (STATE_FD_OPTION): reads the
 * state from state_fd, adopts it before anything else is done, and runs
 * on as run_main() does; returns graced's exit code. When the state cannot
 * be adopted, every process it names is stopped (its stop signal, SIGKILL
 * after its stop_timeout) and 1 is returned. */
int run_reexec_main(int state_fd, const struct run_opts *o);
