/* notify.h - talking to systemd (sd_notify, watchdog) and the
 * NOTIFY_SOCKET server that workers with ready = "notify" talk to.
 * The only file that includes <systemd/sd-daemon.h>. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "util.h"

/* True when $NOTIFY_SOCKET was set at start. Captures the watchdog
 * interval and removes the variables from graced's environment (children
 * must not see them). */
bool notify_init(void);
bool notify_enabled(void);
/* Sends msg (one or more "KEY=VALUE" lines) to systemd; no-op when not
 * under systemd. Never fails loudly: a lost status is logged at debug. */
void notify_send(const char *msg);
/* Half of $WATCHDOG_USEC, or 0 when the watchdog is off. */
usec_t notify_watchdog_interval(void);

/* The NOTIFY_SOCKET server for workers: an abstract datagram socket with
 * SO_PASSCRED. fn gets the sender's pid (from SCM_CREDENTIALS) and the
 * datagram (NUL-terminated; oversize, credential-less or empty datagrams
 * are dropped with a debug record). */
struct loop;
struct notify_server;
typedef void (*notify_msg_fn)(pid_t sender, const char *msg, void *data);
struct notify_server *notify_server_open(struct loop *l, notify_msg_fn fn, void *data, int *ret_err);
/* The value of NOTIFY_SOCKET for workers ("@graced/notify/PID/N"). */
const char *notify_server_address(const struct notify_server *srv);
/* Handles every datagram already queued (before reaping, so a message
 * still maps to a live worker). */
void notify_server_drain(struct notify_server *srv);
struct notify_server *notify_server_close(struct notify_server *srv);

/* ---- across a reexec (the state's "notify" section, state.h) ----
 * notify_save(): the watchdog interval (systemd's variables were taken
 * out of the environment at start) and the workers' socket (its fd listed
 * in fds), when there is one. notify_adopt(): both back, the socket on its
 * old address, watched by l; false with rd's problem. */
struct json_object;
struct state_rd;
struct state_fds;
struct state_fdset;
struct json_object *notify_save(const struct notify_server *srv, struct state_fds *fds);
bool notify_adopt(struct json_object *o, struct loop *l, notify_msg_fn fn, void *data, struct state_rd *rd,
                  struct state_fdset *set, struct notify_server **ret_srv);
