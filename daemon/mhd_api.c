/* mhd_api.c - libmicrohttpd's functions, looked up at the first
 * mhd_api_load() (dynlib.c). Must not log. */
#include "mhd_api.h"
#include "dynlib.h"
#include "util.h"

#define SYM(f) { "MHD_" #f, offsetof(struct mhd_api, f) }
static const struct dynlib_sym syms[] = {
        SYM(start_daemon),
        SYM(stop_daemon),
        SYM(get_daemon_info),
        SYM(get_timeout),
        SYM(run),
        SYM(add_connection),
        SYM(get_connection_values_n),
        SYM(lookup_connection_value),
        SYM(create_response_from_buffer),
        SYM(add_response_header),
        SYM(queue_response),
        SYM(destroy_response),
};
#undef SYM

static struct mhd_api api;
static struct dynlib lib = { .name = "libmicrohttpd", .soname = MHD_SONAME, .env = MHD_SONAME_ENV,
                             .syms = syms, .n_syms = ELEMENTSOF(syms), .table = &api };

const struct mhd_api *mhd_api_load(const char **ret_why)
{
        if (dynlib_load(&lib) < 0) {
                if (ret_why)
                        *ret_why = lib.why;
                return NULL;
        }
        return &api;
}

bool mhd_api_loaded(void) { return dynlib_loaded(&lib); }
