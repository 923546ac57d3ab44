/* dynlib.h - a shared library loaded with dlopen() when it is first needed,
 * its functions looked up into a table of pointers once. graced's optional
 * libraries (curl_api.h, mhd_api.h) are loaded this way, so that a graced
 * that does not use them never maps them (nor their dependencies). Logs
 * nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The longest text of a failure, NUL included. */
#define DYNLIB_WHY_MAX 320

/* One function: its symbol, and where its address goes in the table. */
struct dynlib_sym {
        const char *name;
        size_t offset;
};

/* A library: what to load (set by its module), and what came of it. */
struct dynlib {
        const char *name;   /* for messages: "libcurl" */
        const char *soname; /* what is loaded: "libcurl.so.4" (configure's CURL_SONAME) */
        const char *env;    /* a test knob: the name of an environment variable whose value,
                             * when set and not empty, is loaded instead of soname */
        const struct dynlib_sym *syms;
        size_t n_syms;
        void *table; /* the struct of function pointers filled at syms' offsets:
                      * valid once dynlib_load() returned 0, never before */

        /* dynlib_load()'s, read-only for the rest */
        bool tried;
        void *handle; /* NULL: not loaded */
        int err;      /* 0, or why not: -ELIBACC */
        char why[DYNLIB_WHY_MAX];
};

/* Loads lib and fills its table: at its first call only (dlopen with
 * RTLD_NOW | RTLD_LOCAL, then dlsym of every symbol); later calls return
 * what the first one found: a library that could not be loaded is not
 * looked for again (the next graced, after a restart or a reexec, will).
 * Returns 0, or -ELIBACC with lib->why "cannot load libcurl:
 * DLERROR" (dlerror() names the file and says what is wrong). */
int dynlib_load(struct dynlib *lib);

/* Whether dynlib_load() succeeded: the library is mapped. */
bool dynlib_loaded(const struct dynlib *lib);
