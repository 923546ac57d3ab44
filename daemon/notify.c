/* notify.c - sd_notify to systemd. Only this file includes sd-daemon.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

static bool enabled;
static usec_t watchdog_half;

bool notify_init(void)
{
        uint64_t usec = 0;

        enabled = getenv("NOTIFY_SOCKET") != NULL;
        if (enabled && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
                watchdog_half = usec / 2;
        return enabled;
}

bool notify_enabled(void) { return enabled; }
usec_t notify_watchdog_interval(void) { return watchdog_half; }

void notify_send(const char *msg)
{
        int r;

        if (!enabled)
                return;
        r = sd_notify(0, msg);
        if (r < 0)
                log_debug(NULL, "notify", "sd_notify(%s): %s", msg, strerror(-r));
}
