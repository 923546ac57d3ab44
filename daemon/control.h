/* control.h - the control socket: a SOCK_STREAM unix socket serving one
 * JSON request per line and answering one JSON response per line (json-c
 * both ways). Requests: status, start/stop/restart NAME, reload, shutdown
 * [force]. Slow operations answer once they are done (checked from
 * control_tick(), called after every loop iteration). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct loop;
struct sup;
struct control;

struct control_hooks {
        /* Reload the configuration. Returns 0, or -EINVAL with *errors set
         * to a newly allocated, newline-separated list of FILE:LINE messages. */
        int (*reload)(void *ctx, char **errors);
        /* Start a shutdown (force: SIGQUIT's meaning). */
        void (*shutdown)(void *ctx, bool force);
        /* The supervisor currently in charge (it may change on reload). */
        struct sup *(*sup)(void *ctx);
};

/* The socket path from the configured value (NULL: the default chain,
 * "" : off -> returns NULL). Caller frees. */
char *control_default_path(const char *configured);

/* Binds path (creating its directory 0755, the socket 0600); a stale
 * socket is replaced, a live one (another graced answers) gives -EADDRINUSE.
 * Returns NULL and *ret_err (positive errno) on failure. */
struct control *control_open(struct loop *l, const char *path, const struct control_hooks *hooks, void *ctx,
                             int *ret_err);
/* Answers pending operations that are done; enforces client timeouts. */
void control_tick(struct control *c);
/* Closes every client and removes the socket file. NULL-safe. */
struct control *control_close(struct control *c);
const char *control_path(const struct control *c);
