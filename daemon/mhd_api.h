/* mhd_api.h - libmicrohttpd, loaded when graced first needs it (an
 * http_listen endpoint opened or adopted): the functions graced calls, as
 * a table of pointers with the types of <microhttpd.h>'s prototypes, so a
 * mismatch is a compile error. Until then graced maps neither
 * libmicrohttpd nor its dependencies. Logs nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <microhttpd.h>

/* Test knob: a library name loaded instead of MHD_SONAME ("libnosuch.so"
 * makes libmicrohttpd missing). */
#define MHD_SONAME_ENV "GRACED_TEST_MHD_SONAME"

struct mhd_api {
        __typeof__(MHD_start_daemon) *start_daemon;
        __typeof__(MHD_stop_daemon) *stop_daemon;
        __typeof__(MHD_get_daemon_info) *get_daemon_info;
        __typeof__(MHD_get_timeout) *get_timeout;
        __typeof__(MHD_run) *run;
        __typeof__(MHD_add_connection) *add_connection;
        __typeof__(MHD_get_connection_values_n) *get_connection_values_n;
        __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
        __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
        __typeof__(MHD_add_response_header) *add_response_header;
        __typeof__(MHD_queue_response) *queue_response;
        __typeof__(MHD_destroy_response) *destroy_response;
};

/* The table, libmicrohttpd loaded (MHD_SONAME, once: dynlib_load()); NULL
 * with *ret_why ("cannot load libmicrohttpd: DLERROR") when it cannot be.
 * ret_why may be NULL. */
const struct mhd_api *mhd_api_load(const char **ret_why);

/* Whether libmicrohttpd is mapped. */
bool mhd_api_loaded(void);
