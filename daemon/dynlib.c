/* dynlib.c - dlopen() of an optional library on first use, and dlsym() of
 * the functions graced calls into a table. Owns the library's handle, kept
 * until exit (its code may be on any stack until then). Must not log: the
 * caller says what a missing library means. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynlib.h"

static void fail(struct dynlib *lib, const char *what)
{
        snprintf(lib->why, sizeof lib->why, "cannot load %s: %s", lib->name, what ? what : "unknown error");
        lib->err = -ELIBACC;
}

int dynlib_load(struct dynlib *lib)
{
        const char *file = lib->soname, *env = lib->env ? getenv(lib->env) : NULL;

        if (lib->tried)
                return lib->err;
        lib->tried = true;
        if (env && env[0])
                file = env;
        /* RTLD_NOW: a missing symbol of its own dependencies fails here,
         * not at the first call in the middle of a probe; RTLD_LOCAL: its
         * symbols serve nobody else */
        lib->handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (!lib->handle) {
                fail(lib, dlerror());
                return lib->err;
        }
        for (size_t i = 0; i < lib->n_syms; i++) {
                void *f;

                (void)dlerror();
                f = dlsym(lib->handle, lib->syms[i].name);
                if (!f) {
                        const char *e = dlerror();
                        char what[DYNLIB_WHY_MAX / 2];

                        snprintf(what, sizeof what, "%s: no %s", file, lib->syms[i].name);
                        fail(lib, e ? e : what);
                        (void)dlclose(lib->handle);
                        lib->handle = NULL;
                        return lib->err;
                }
                /* POSIX: a function's address fits in a void * */
                memcpy((char *)lib->table + lib->syms[i].offset, &f, sizeof f);
        }
        return 0;
}

bool dynlib_loaded(const struct dynlib *lib) { return lib->handle != NULL; }
