/* notify.h - talking to systemd (sd_notify, watchdog) and the
 * NOTIFY_SOCKET server that workers with ready = "notify" talk to.
 * The only file that includes <systemd/sd-daemon.h>. */
#pragma once

#include <stdbool.h>
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
