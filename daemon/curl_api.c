/* curl_api.c - libcurl's functions, looked up at the first curl_api_load()
 * (dynlib.c), and libcurl's global state. Must not log. */
#include <stddef.h>
#include <stdio.h>

#include "curl_api.h"
#include "dynlib.h"
#include "util.h"

#define SYM(f) { "curl_" #f, offsetof(struct curl_api, f) }
static const struct dynlib_sym syms[] = {
        SYM(global_init),
        SYM(global_cleanup),
        SYM(easy_init),
        SYM(easy_setopt),
        SYM(easy_getinfo),
        SYM(easy_cleanup),
        SYM(easy_strerror),
        SYM(multi_init),
        SYM(multi_setopt),
        SYM(multi_assign),
        SYM(multi_add_handle),
        SYM(multi_remove_handle),
        SYM(multi_socket_action),
        SYM(multi_info_read),
        SYM(multi_cleanup),
};
#undef SYM

static struct curl_api api;
static struct dynlib lib = { .name = "libcurl", .soname = CURL_SONAME, .env = CURL_SONAME_ENV,
                             .syms = syms, .n_syms = ELEMENTSOF(syms), .table = &api };
static bool global_init;
static char init_why[DYNLIB_WHY_MAX];

const struct curl_api *curl_api_load(const char **ret_why)
{
        CURLcode c;

        if (dynlib_load(&lib) < 0) {
                if (ret_why)
                        *ret_why = lib.why;
                return NULL;
        }
        if (global_init)
                return &api;
        c = api.global_init(CURL_GLOBAL_DEFAULT);
        if (c != CURLE_OK) {
                snprintf(init_why, sizeof init_why, "cannot initialise libcurl: %s", api.easy_strerror(c));
                if (ret_why)
                        *ret_why = init_why;
                return NULL;
        }
        global_init = true;
        return &api;
}

void curl_api_done(void)
{
        if (!global_init)
                return;
        api.global_cleanup();
        global_init = false;
}

bool curl_api_loaded(void) { return dynlib_loaded(&lib); }
