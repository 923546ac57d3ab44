/* curl_api.h - libcurl, loaded when graced first needs it (the first http
 * probe attempt): the functions graced calls, as a table of pointers with
 * the types of <curl/curl.h>'s prototypes, so a mismatch is a compile
 * error. Until then graced maps neither libcurl nor its dependencies.
 * Logs nothing. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>

/* Test knob: a library name loaded instead of CURL_SONAME ("libnosuch.so"
 * makes libcurl missing). */
#define CURL_SONAME_ENV "GRACED_TEST_CURL_SONAME"

struct curl_api {
        __typeof__(curl_global_init) *global_init;
        __typeof__(curl_global_cleanup) *global_cleanup;
        __typeof__(curl_easy_init) *easy_init;
        __typeof__(curl_easy_setopt) *easy_setopt;
        __typeof__(curl_easy_getinfo) *easy_getinfo;
        __typeof__(curl_easy_cleanup) *easy_cleanup;
        __typeof__(curl_easy_strerror) *easy_strerror;
        __typeof__(curl_multi_init) *multi_init;
        __typeof__(curl_multi_setopt) *multi_setopt;
        __typeof__(curl_multi_assign) *multi_assign;
        __typeof__(curl_multi_add_handle) *multi_add_handle;
        __typeof__(curl_multi_remove_handle) *multi_remove_handle;
        __typeof__(curl_multi_socket_action) *multi_socket_action;
        __typeof__(curl_multi_info_read) *multi_info_read;
        __typeof__(curl_multi_cleanup) *multi_cleanup;
};

/* The table, libcurl loaded (CURL_SONAME, once: dynlib_load()) and
 * curl_global_init() done (once until curl_api_done()); NULL with *ret_why
 * ("cannot load libcurl: DLERROR", or "cannot initialise libcurl: TEXT")
 * when it cannot be had. ret_why may be NULL. */
const struct curl_api *curl_api_load(const char **ret_why);

/* curl_global_cleanup() when curl_api_load() did curl_global_init(); the
 * library stays mapped. At exit. */
void curl_api_done(void);

/* Whether libcurl is mapped. */
bool curl_api_loaded(void);
