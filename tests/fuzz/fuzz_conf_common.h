/* fuzz_conf_common.h - what fuzz_conf.c and fuzz_conf_include.c do with a
 * configuration file once it is written: load it as `graced --check` does
 * (plan_load() with the env files read; graced runs it in a forked child,
 * plan_load_isolated(), which a fuzzer need not), format every
 * diagnostic, and for a valid one print its plan both ways and carry it
 * through the reexec state's form (conf_to_json(), conf_from_json()):
 * what comes back must be the same configuration. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "conf.h"
#include "plan.h"
#include "state.h"

static void fuzz_state_roundtrip(const struct conf *c)
{
        struct json_object *o = conf_to_json(c), *o2;
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        struct json_object *back = json_tokener_parse(text);
        struct state_rd rd = { 0 };
        struct conf *c2;

        if (!back) {
                fprintf(stderr, "fuzz: conf_to_json() wrote what json-c cannot read: %s\n", text);
                abort();
        }
        c2 = conf_from_json(back, &rd);
        if (!c2) {
                fprintf(stderr, "fuzz: a valid configuration does not come back from the state: %s\n", rd.why);
                abort();
        }
        o2 = conf_to_json(c2);
        if (strcmp(text, json_object_to_json_string_ext(o2, JSON_C_TO_STRING_PLAIN)) != 0) {
                fprintf(stderr, "fuzz: the configuration changed on its way through the state:\n%s\n%s\n", text,
                        json_object_to_json_string_ext(o2, JSON_C_TO_STRING_PLAIN));
                abort();
        }
        json_object_put(o2);
        conf_free(c2);
        json_object_put(back);
        json_object_put(o);
}

static void fuzz_check_conf(const char *path)
{
        static FILE *devnull;
        struct conf_load_opts lo = { .as_root = geteuid() == 0, .env_files = true };
        struct conf_diags diags = { 0 };
        struct conf *c = NULL;
        struct plan *p = NULL;

        if (!devnull)
                devnull = fopen("/dev/null", "we");
        if (plan_load(path, &lo, &c, &p, &diags) == 0) {
                plan_print(devnull, c, p);
                plan_print_json(devnull, c, p);
                fuzz_state_roundtrip(c);
                plan_free(p);
                conf_free(c);
        }
        for (size_t i = 0; i < diags.n; i++) {
                char *s = conf_diag_format(&diags.v[i]);

                fputs(s, devnull);
                free(s);
        }
        conf_diags_clear(&diags);
}
