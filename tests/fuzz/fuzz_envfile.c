/* fuzz_envfile.c - an environment file (a worker's env_file): the input is
 * parsed by envfile_parse() as it is, then written to a file and read by
 * envfile_load() twice (as "/path" and as the optional "-/path"), which
 * must agree with the parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envfile.h"
#include "fuzz.h"

static char *path, *opt_spec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_log_init();
        path = fuzz_path("vars.env");
        opt_spec = xasprintf("-%s", path);
        return 0;
}

static void check_vars(const struct envfile_vars *v)
{
        for (size_t i = 0; i < v->n; i++) {
                const char *eq = strchr(v->v[i], '=');

                if (!eq || eq == v->v[i]) {
                        fprintf(stderr, "fuzz: envfile gave '%s', not KEY=VALUE\n", v->v[i]);
                        abort();
                }
                for (size_t j = 0; j < i; j++)
                        if (strncmp(v->v[i], v->v[j], (size_t)(eq - v->v[i]) + 1) == 0) {
                                fprintf(stderr, "fuzz: envfile gave a key twice: '%s'\n", v->v[i]);
                                abort();
                        }
        }
        if (v->n && v->v[v->n])
                abort(); /* NULL-terminated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct envfile_vars a = { 0 }, b = { 0 };
        struct envfile_error ea = { 0 }, eb = { 0 };
        char *specs[] = { path, opt_spec, NULL };
        char *msg, **v;
        int ra, rb;

        ra = envfile_parse((const char *)data, size, &a, &ea);
        check_vars(&a);
        if (ra < 0) {
                msg = envfile_error_format(&ea);
                free(msg);
        }
        fuzz_write(path, data, size);
        rb = envfile_load(specs, &b, &eb);
        check_vars(&b);
        if (rb < 0) {
                msg = envfile_error_format(&eb);
                free(msg);
        }
        if (size <= ENVFILE_MAX_SIZE && (ra < 0) != (rb < 0)) {
                fprintf(stderr, "fuzz: envfile_parse() says %d, envfile_load() %d\n", ra, rb);
                abort();
        }
        if (ra == 0 && rb == 0 && a.n != b.n) {
                fprintf(stderr, "fuzz: envfile_load() of the file twice gives %zu variables, its text once %zu\n",
                        b.n, a.n);
                abort();
        }
        envfile_vars_done(&a);
        v = envfile_vars_steal(&b);
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
        envfile_vars_done(&b);
        return 0;
}
