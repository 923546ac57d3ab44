/* state.h - graced's state across `gracectl reexec`: the format, the
 * sealed memfd that carries it over execve(), and the checked reading of
 * its members. Each subsystem writes and reads its own section with the
 * helpers here (conf.c the configuration, worker.c and sup_state.c the
 * policy, run_state.c, control.c, notify.c, output.c the descriptors).
 *
 * The format (STATE_VERSION 1) is two JSON texts, one after the other:
 *
 *   {"graced_state": 1, "size": N, "reply": FD, "procs": [[PID, PIDFD, SIGNAL, TIMEOUT_US, GROUP], ...]}\n
 *   BODY (N bytes): {"conf": {...}, "sup": {...}, "workers": [...], "run": {...},
 *                    "control": {...}, "notify": {...}, "proc": {...}}
 *
 * The head line is read on its own, before the version is looked at: its
 * "procs" (every worker, hook and probe process, with its stop signal and
 * stop_timeout; GROUP 1: its process group too) are what a graced that
 * cannot use the body stops before it exits 1, and "reply" (-1: none) the
 * connection of the gracectl that asked for the reexec, told why. The body's sections belong
 * to one subsystem each; a member a reader does not know is ignored, one
 * it knows but does not find takes its default unless it is required (a
 * worker's name, state, pid...), so that a newer graced reads an older
 * one's state; writers leave members that hold their default out.
 * STATE_VERSION changes only when the meaning of a member changes. Strings are JSON strings when they are valid UTF-8, else
 * {"base64": "..."}; byte buffers (a partial output line, a STATUS= text,
 * a control client's unread request) are base64 strings; deadlines and
 * times are CLOCK_MONOTONIC microseconds (the clock goes on across exec),
 * null for none. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "util.h"

#define STATE_VERSION 1
/* Bounds of what graced reads: the whole state, and the head line. */
#define STATE_MAX_SIZE ((size_t)1 << 30)
#define STATE_MAX_HEAD ((size_t)64 << 20)
/* The option that names the state's descriptor (internal: graced passes
 * it to itself). */
#define STATE_FD_OPTION "--state-fd"
/* Test knob, read by the graced that writes the state: "version" (an
 * unknown version), "json" (a body that is not JSON), "missing" (a body
 * without its "workers"), "head" (a head that is not JSON either). */
#define STATE_CORRUPT_ENV "GRACED_TEST_CORRUPT_STATE"
/* Test knob, read by the graced that starts from a state: before it reads
 * it, it creates PATH.waiting and waits (at most 30 s) until PATH exists,
 * so that a test can make a worker exit while no graced can reap it. */
#define STATE_GATE_ENV "GRACED_TEST_REEXEC_GATE"

/* A process the state names (the head's "procs"). */
struct state_proc {
        pid_t pid;
        int pidfd; /* -1: none */
        int stop_signal;
        usec_t stop_timeout;
        bool group; /* its process group too */
};

/* Writes the head (procs, reply_fd) and body into a new memfd
 * (close-on-exec, sealed against any change), positioned at 0. corrupt: a
 * STATE_CORRUPT_ENV value, or NULL. Returns the fd, or -errno. */
int state_write(const struct state_proc *procs, size_t n, int reply_fd, struct json_object *body, const char *corrupt);

/* Bulk bytes handed over beside the state (the log records): a new
 * sealed memfd (close-on-exec) holding p[0..n), positioned at 0; or
 * -errno. */
int state_blob_write(const char *name, const void *p, size_t n);
/* The whole of a sealed memfd (at most STATE_MAX_SIZE bytes, not empty) in
 * a new buffer (NUL-terminated); or -errno (EBADMSG: not such a memfd)
 * with why. fd is not closed. */
int state_blob_read(int fd, char **ret, size_t *ret_len, char *why, size_t whylen);

/* Reads the state from fd (a sealed memfd; not closed here). *ret_procs,
 * *ret_n, *ret_reply: the head's processes and reply fd, set whenever the
 * head could be read (even when the version is unknown or the body is
 * bad). Returns 0 with *ret_body, or -errno (EBADMSG: the state is not one
 * this graced can read) with why (at least 128 bytes) saying what is wrong. */
int state_read(int fd, struct state_proc **ret_procs, size_t *ret_n, int *ret_reply, struct json_object **ret_body,
               char *why, size_t whylen);

/* ---- writing members ---- */
/* A deadline or a time: null for USEC_INFINITY. */
struct json_object *state_usec_new(usec_t u);
/* A string: null for NULL, a JSON string when it is valid UTF-8, else
 * {"base64": "..."}. */
struct json_object *state_str_new(const char *s);
/* Bytes as one base64 string. */
struct json_object *state_bytes_new(const void *p, size_t n);
struct json_object *state_strv_new(char *const *v);
/* o[key] = v (v may be NULL: JSON null). key must outlive o (a literal,
 * a key table's name): it is not copied. */
void state_add(struct json_object *o, const char *key, struct json_object *v);
void state_add_int(struct json_object *o, const char *key, int64_t v);
void state_add_bool(struct json_object *o, const char *key, bool v);
void state_add_usec(struct json_object *o, const char *key, usec_t v);
/* The same, left out when v is def: a reader keeps its default for a
 * member it does not find, so the writer need not write it (a state with
 * thousands of workers is mostly defaults). */
void state_add_int_if(struct json_object *o, const char *key, int64_t v, int64_t def);
void state_add_bool_if(struct json_object *o, const char *key, bool v); /* default false */
void state_add_usec_if(struct json_object *o, const char *key, usec_t v, usec_t def);

/* ---- reading members ---- */
/* A reader keeps the first problem it met (what, where); every getter
 * returns false once there is one. ctx (a worker's name...) is copied
 * into the messages. A getter whose member is absent returns false and
 * leaves *ret untouched when required, else true (the caller's default
 * stays). */
struct state_rd {
        bool bad;
        char why[256];
        char ctx[96];
};
_printf_(2, 3) bool state_fail(struct state_rd *rd, const char *fmt, ...);
void state_ctx(struct state_rd *rd, const char *fmt, ...) _printf_(2, 3);
enum { STATE_OPTIONAL = 0, STATE_REQUIRED = 1 };

bool state_get_int(struct state_rd *rd, struct json_object *o, const char *key, int req, int64_t min, int64_t max,
                   int64_t *ret);
bool state_get_i32(struct state_rd *rd, struct json_object *o, const char *key, int req, int min, int max, int *ret);
bool state_get_uint(struct state_rd *rd, struct json_object *o, const char *key, int req, unsigned max,
                    unsigned *ret);
bool state_get_bool(struct state_rd *rd, struct json_object *o, const char *key, int req, bool *ret);
/* null: USEC_INFINITY */
bool state_get_usec(struct state_rd *rd, struct json_object *o, const char *key, int req, usec_t *ret);
/* A descriptor: -1 or a number >= 0 (whether it is open is the caller's). */
bool state_get_fd(struct state_rd *rd, struct json_object *o, const char *key, int req, int *ret);
/* One of names[0..n) (NULL entries never match); *ret its index. */
bool state_get_enum(struct state_rd *rd, struct json_object *o, const char *key, int req, const char *const *names,
                    size_t n, int *ret);
/* A string (state_str_new()'s forms) of at most max bytes, no NUL; null
 * gives NULL when the member is optional (a required one must be a
 * string). *ret is malloc'd (freed first when it was set). */
bool state_get_str(struct state_rd *rd, struct json_object *o, const char *key, int req, size_t max, char **ret);
/* A NULL-terminated vector of such strings (null: NULL), at most max. */
bool state_get_strv(struct state_rd *rd, struct json_object *o, const char *key, int req, size_t max, char ***ret);
/* Base64 bytes, at most max once decoded; *ret malloc'd (NULL when empty
 * or null), *ret_len their number. */
bool state_get_bytes(struct state_rd *rd, struct json_object *o, const char *key, int req, size_t max, char **ret,
                     size_t *ret_len);
/* The same for a value v (NULL: JSON null) that is not an object's member
 * (an element of an array); what names it in messages. */
bool state_str_value(struct state_rd *rd, struct json_object *v, const char *what, size_t max, char **ret);
bool state_bytes_value(struct state_rd *rd, struct json_object *v, const char *what, size_t max, char **ret,
                       size_t *ret_len);
/* The member as an object / an array of at most max elements; NULL when
 * absent or null (a problem when required), or on a problem. */
struct json_object *state_get_obj(struct state_rd *rd, struct json_object *o, const char *key, int req);
struct json_object *state_get_arr(struct state_rd *rd, struct json_object *o, const char *key, int req, size_t max);

/* ---- the descriptors handed over ----
 * The writer lists every descriptor its sections name (state_fds_add(),
 * -1 ignored) and clears their close-on-exec flag for the exec (restored
 * when the exec fails); the list is the body's "fds". The reader checks
 * them all before it adopts anything (each must be open; it gets its
 * close-on-exec flag back at once), then each section takes its own
 * (state_take_fd(): one that was not listed, or taken twice, is a
 * problem); those nobody took are closed (a section this graced does not
 * know). */
struct state_fds {
        int *v;
        size_t n, cap;
};
void state_fds_add(struct state_fds *f, int fd);
/* Sets (on) or clears close-on-exec on each; 0, or the first -errno (all are tried). */
int state_fds_cloexec(const struct state_fds *f, bool on);
struct json_object *state_fds_save(const struct state_fds *f);
void state_fds_done(struct state_fds *f);

struct state_fdset; /* the reader's */
/* The body's "fds", checked: NULL with rd's problem. */
struct state_fdset *state_fdset_adopt(struct json_object *body, struct state_rd *rd);
/* fd (-1: nothing to take) is one of the set, not taken yet; false with
 * rd's problem otherwise. */
bool state_take_fd(struct state_rd *rd, struct state_fdset *set, int fd);
/* Frees the set; close_rest: closes the descriptors not taken first (a
 * state that could not be adopted keeps them: its processes are stopped
 * through them). NULL-safe; returns NULL. */
struct state_fdset *state_fdset_free(struct state_fdset *set, bool close_rest);

/* Base64 (RFC 4648, with padding). Decoding returns the length, or -1. */
char *base64_encode(const void *p, size_t n);
ssize_t base64_decode(const char *s, size_t len, char *out);
