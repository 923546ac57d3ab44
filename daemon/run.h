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
};

/* Runs until the shutdown is done; returns graced's exit code. Takes
 * ownership of c and p. */
int run_main(struct conf *c, struct plan *p, const struct run_opts *o);
