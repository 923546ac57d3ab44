/* control.h - the control socket: a SOCK_STREAM unix socket serving one
 * JSON request per line and answering one JSON response per line (json-c
 * both ways). Requests: status, start/stop/restart NAME, reload, shutdown
 * [force], logs, reopen. Slow operations answer once they are done
 * (checked from control_tick(), called after every loop iteration). A
 * `logs` request takes its connection: after the answer come the records,
 * one JSON object a line, as the client reads them (a follower never slows
 * graced: what it cannot take is skipped for it). The protocol is
 * documented in gracectl(1). */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include "util.h"

#ifdef RUNSTATEDIR
#define CONTROL_RUNSTATEDIR RUNSTATEDIR
#else
#define CONTROL_RUNSTATEDIR "/run"
#endif

struct loop;
struct sup;
struct control;
struct logbuf;
struct json_object;

/* Limits on what a client controls. */
#define CONTROL_MAX_REQUEST 4096     /* bytes of one request line, newline not counted */
#define CONTROL_MAX_CLIENTS 256      /* connections served at once */
#define CONTROL_IDLE_TIMEOUT_MS 10000 /* a silent client (or half a line) is dropped after this */
/* A worker's STATUS= text in answers: cut to this many bytes (on a
 * character boundary, as every string graced sends is valid UTF-8). */
#define CONTROL_MAX_STATUS 256
/* A `logs` client: records are formatted for it while less than this
 * much of its output is unsent (the socket's own buffer comes on top). */
#define CONTROL_LOGS_QUEUE (64 * 1024)
/* Test knob: the idle timeout in ms, read once by control_open(). */
#define CONTROL_IDLE_ENV "GRACED_CONTROL_IDLE_MS"

struct control_hooks {
        /* Reload the configuration. Returns 0, or -EINVAL with *errors set
         * to a newly allocated, newline-separated list of FILE:LINE messages. */
        int (*reload)(void *ctx, char **errors);
        /* Start a shutdown (force: SIGQUIT's meaning). */
        void (*shutdown)(void *ctx, bool force);
        /* The supervisor currently in charge (it may change on reload). */
        struct sup *(*sup)(void *ctx);
        /* The records `logs` reads (NULL: the request is refused). */
        struct logbuf *(*logbuf)(void *ctx);
        /* Reopen the files graced writes (SIGUSR2's meaning): 0 and the
         * number of files in *n_files, or -errno with *errors set to a newly
         * allocated, newline-separated list of what failed. */
        int (*reopen)(void *ctx, unsigned *n_files, char **errors);
        /* gracectl reexec: 0 when it will be done (the client's answer is
         * due at control_reexec_done()), -EBUSY with *why when refused. */
        int (*reexec)(void *ctx, const char **why);
};

/* The socket path from the configured value (NULL: the default chain,
 * "" : off -> returns NULL). Caller frees. The default chain:
 * $RUNTIME_DIRECTORY/control.sock (its first entry: systemd separates
 * several with ':'), else RUNSTATEDIR/graced/control.sock when the
 * effective uid is 0, else $XDG_RUNTIME_DIR/graced.sock, else NULL.
 * Inline so that gracectl shares it without linking the daemon's code. */
static inline char *control_default_path(const char *configured)
{
        const char *d;

        if (configured)
                return configured[0] ? xstrdup(configured) : NULL;
        d = getenv("RUNTIME_DIRECTORY");
        if (d && d[0] && d[0] != ':')
                return xasprintf("%.*s/control.sock", (int)strcspn(d, ":"), d);
        if (geteuid() == 0)
                return xstrdup(CONTROL_RUNSTATEDIR "/graced/control.sock");
        d = getenv("XDG_RUNTIME_DIR");
        if (d && d[0])
                return xasprintf("%s/graced.sock", d);
        return NULL;
}

/* ---- requests ----
 * One request line, parsed and checked as far as it can be without the
 * supervisor (whether a name is a worker is asked when it is served). Pure:
 * no I/O, no logging (the fuzz target tests/fuzz/fuzz_control.c feeds it
 * lines). */
enum control_cmd {
        CONTROL_CMD_START,
        CONTROL_CMD_STOP,
        CONTROL_CMD_RESTART,
        CONTROL_CMD_STATUS,
        CONTROL_CMD_RELOAD,
        CONTROL_CMD_SHUTDOWN,
        CONTROL_CMD_SCALE,
        CONTROL_CMD_LOGS,
        CONTROL_CMD_REOPEN,
        CONTROL_CMD_REEXEC,
};
#define CONTROL_LOGS_LINES 100 /* a `logs` request's default "lines" */
struct control_request {
        enum control_cmd cmd;
        const char *name;   /* start, stop, restart, scale: a valid name */
        unsigned count;     /* scale: 1 to CONF_MAX_INSTANCES */
        bool force;         /* shutdown */
        const char **names; /* logs: n_names valid names (empty: every worker) */
        size_t n_names;
        size_t lines;       /* logs */
        bool follow;        /* logs */
        struct json_object *json; /* the request, which holds the strings */
};
/* line[0..len): a request line without its newline (blanks around it are
 * ignored). Returns 1 with *req (control_request_done() it), 0 for a
 * blank line (no request, nothing to answer), or -EINVAL with *error: the
 * answer's message (malloc'd), such as "bad JSON: ...", "missing
 * \"cmd\"", "unknown command: ...", "invalid worker name". */
int control_request_parse(const char *line, size_t len, struct control_request *req, char **error);
void control_request_done(struct control_request *req);

/* Binds path (creating its directory 0755, the socket 0600); a stale
 * socket is replaced, a live one (another graced answers) gives -EADDRINUSE.
 * Returns NULL and *ret_err (positive errno) on failure: EADDRINUSE (a live
 * graced), ENAMETOOLONG (path too long for sun_path), EEXIST (path exists
 * and is not a socket), or the errno of the failing call. Logs nothing. */
struct control *control_open(struct loop *l, const char *path, const struct control_hooks *hooks, void *ctx,
                             int *ret_err);
/* Answers pending operations that are done; enforces client timeouts. */
void control_tick(struct control *c);
/* Closes every client and removes the socket file. NULL-safe. */
struct control *control_close(struct control *c);
const char *control_path(const struct control *c);

/* The reexec is done (in the graced that serves now: error NULL) or could
 * not be (error says why): every client waiting for it gets its answer. */
void control_reexec_done(struct control *c, const char *error);
/* The connection of the client waiting for the reexec, -1 when none. */
int control_reexec_fd(const struct control *c);

/* ---- across a reexec (the state's "control" section, state.h) ----
 * control_save(): the listening socket (its path, fd and identity) and
 * every client with what it has not read or been sent yet and the answer
 * it waits for (their fds listed in fds). control_adopt(): all of it
 * again in l, the fds taken from set; NULL with rd's problem. */
struct state_rd;
struct state_fds;
struct state_fdset;
/* Before a reexec: every `logs` reader gets what its socket takes now,
 * then a last line {"reexec": true}, and is closed (readers are not handed
 * over). NULL-safe. */
void control_logs_reexec(struct control *c);
struct json_object *control_save(const struct control *c, struct state_fds *fds);
struct control *control_adopt(struct loop *l, struct json_object *o, const struct control_hooks *hooks, void *ctx,
                              struct state_rd *rd, struct state_fdset *set);
